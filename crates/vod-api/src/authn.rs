//! Authentication: resolves the access key (long-term or STS), checks the clock window,
//! verifies the V1 or V3 signature and refuses replayed nonces. Produces the [`Caller`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use http::HeaderName;
use vod_auth::{rpc_v1, rpc_v3, sts};
use vod_core::model::{KeyStatus, User};
use vod_core::now_ms;
use vod_wire::{ApiError, codes, timefmt};

use crate::error::core_to_api;
use crate::inbound::{Inbound, Scheme, acs};
use crate::state::AppState;

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Principal {
    /// The account itself (root key, or an STS token issued for the account).
    Root,
    /// A RAM user, limited by its policy.
    User(Arc<User>),
}

/// The authenticated caller of one request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub account_id: String,
    pub principal: Principal,
    pub access_key_id: String,
    pub via_sts: bool,
}

struct ResolvedKey {
    secret: String,
    caller: Arc<Caller>,
}

/// A short-lived cache of long-term keys and their users, so a request costs no key lookup.
pub struct KeyCache {
    ttl: Duration,
    entries: DashMap<String, (Instant, Arc<ResolvedKey>)>,
}

impl KeyCache {
    pub fn new(ttl_ms: u64) -> Self {
        Self {
            ttl: Duration::from_millis(ttl_ms),
            entries: DashMap::new(),
        }
    }

    /// Forgets every cached key (after CLI changes in this process, or in tests).
    pub fn clear(&self) {
        self.entries.clear();
    }
}

/// Authenticates `req`; on success the nonce has been recorded.
pub async fn authenticate(state: &AppState, req: &Inbound) -> Result<Arc<Caller>, ApiError> {
    match &req.scheme {
        Scheme::V1 => authenticate_v1(state, req).await,
        Scheme::V3 => authenticate_v3(state, req, req.authorization().unwrap_or_default()).await,
    }
}

async fn authenticate_v1(state: &AppState, req: &Inbound) -> Result<Arc<Caller>, ApiError> {
    let ak = req.required_common("AccessKeyId")?;
    let provided = req.required_common("Signature")?;
    let method = req.required_common("SignatureMethod")?;
    if !method.eq_ignore_ascii_case("HMAC-SHA1") {
        return Err(codes::INVALID_SIGNATURE_METHOD.into());
    }
    let version = req.required_common("SignatureVersion")?;
    if version != "1.0" {
        return Err(codes::UNSUPPORTED_SIGNATURE_VERSION.into());
    }
    let nonce = req.required_common("SignatureNonce")?;
    let timestamp = req.required_common("Timestamp")?;
    check_clock(state, timestamp)?;
    let key = resolve_key(state, ak, req.param("SecurityToken").filter(|t| !t.is_empty())).await?;
    let sts = rpc_v1::string_to_sign(&req.method, &req.all_params());
    if !rpc_v1::verify(&key.secret, &sts, provided) {
        return Err(ApiError::signature_mismatch(&sts));
    }
    check_nonce(state, ak, nonce).await?;
    Ok(key.caller.clone())
}

/// Headers a V3 request must sign (`x-acs-security-token` too when present).
const V3_REQUIRED_SIGNED: [HeaderName; 6] = [
    http::header::HOST,
    acs::ACTION,
    acs::VERSION,
    acs::DATE,
    acs::SIGNATURE_NONCE,
    acs::CONTENT_SHA256,
];

async fn authenticate_v3(state: &AppState, req: &Inbound, authorization: &str) -> Result<Arc<Caller>, ApiError> {
    let auth = rpc_v3::parse_authorization(authorization).map_err(|_| ApiError::new(codes::INCOMPLETE_SIGNATURE))?;
    if auth.algorithm != rpc_v3::ALGORITHM {
        return Err(codes::INVALID_SIGNATURE_METHOD.into());
    }
    let token = req.header(&acs::SECURITY_TOKEN).filter(|t| !t.is_empty());
    let token_header = acs::SECURITY_TOKEN;
    for h in V3_REQUIRED_SIGNED.iter().chain(token.map(|_| &token_header)) {
        if req.header(h).is_some() && !auth.signed_headers.iter().any(|s| *s == h.as_str()) {
            let h = h.as_str();
            return Err(ApiError::with_message(
                codes::INCOMPLETE_SIGNATURE,
                format!("The request signature does not conform to Aliyun standards. Header {h} must be signed."),
            ));
        }
    }
    let nonce = req
        .header(&acs::SIGNATURE_NONCE)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::missing_common("SignatureNonce"))?;
    let date = req
        .header(&acs::DATE)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::missing_common("Timestamp"))?;
    check_clock(state, date)?;
    let key = resolve_key(state, auth.access_key_id, token).await?;
    let hashed_payload = req.header(&acs::CONTENT_SHA256).unwrap_or(&req.body_sha256);
    let canonical = rpc_v3::canonical_request(
        &req.method,
        "/",
        &req.query,
        &req.headers_named(&auth.signed_headers),
        &auth.signed_headers,
        hashed_payload,
    );
    let sts = rpc_v3::string_to_sign(&canonical);
    if !rpc_v3::verify(&key.secret, &sts, auth.signature) {
        return Err(ApiError::signature_mismatch(&sts));
    }
    if !hashed_payload.eq_ignore_ascii_case(&req.body_sha256) {
        return Err(ApiError::with_message(
            codes::SIGNATURE_DOES_NOT_MATCH,
            "Specified signature is not matched with our calculation. x-acs-content-sha256 does not match the body.",
        ));
    }
    check_nonce(state, auth.access_key_id, nonce).await?;
    Ok(key.caller.clone())
}

fn check_clock(state: &AppState, value: &str) -> Result<(), ApiError> {
    let ts = timefmt::parse_iso8601(value).ok_or_else(|| ApiError::new(codes::INVALID_TIMESTAMP_FORMAT))?;
    let skew_ms = state.config().max_clock_skew_secs * 1000;
    if (now_ms() - ts).abs() > skew_ms {
        return Err(codes::INVALID_TIMESTAMP_EXPIRED.into());
    }
    Ok(())
}

async fn check_nonce(state: &AppState, ak: &str, nonce: &str) -> Result<(), ApiError> {
    let expires = now_ms() + state.config().nonce_ttl_secs * 1000;
    let mut key = String::with_capacity(ak.len() + 1 + nonce.len());
    key.push_str(ak);
    key.push(':');
    key.push_str(nonce);
    match state.0.nonces.check(key, expires).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(codes::SIGNATURE_NONCE_USED.into()),
        Err(e) => Err(core_to_api(e)),
    }
}

async fn resolve_key(state: &AppState, ak: &str, token: Option<&str>) -> Result<Arc<ResolvedKey>, ApiError> {
    if let Some(token) = token {
        return resolve_sts(state, ak, token).await.map(Arc::new);
    }
    if ak.starts_with(sts::AK_PREFIX) {
        return Err(codes::MISSING_SECURITY_TOKEN.into());
    }
    let cache = &state.0.keys;
    if let Some(hit) = cache.entries.get(ak)
        && hit.0.elapsed() < cache.ttl
    {
        return Ok(hit.1.clone());
    }
    let store = state.store();
    let key = store
        .get_access_key(ak)
        .await
        .map_err(core_to_api)?
        .ok_or_else(|| ApiError::new(codes::INVALID_ACCESS_KEY_ID_NOT_FOUND))?;
    if key.status == KeyStatus::Inactive {
        return Err(codes::INVALID_ACCESS_KEY_ID_INACTIVE.into());
    }
    let principal = match &key.user_id {
        None => Principal::Root,
        Some(uid) => {
            let user = store
                .get_user(uid)
                .await
                .map_err(core_to_api)?
                .ok_or_else(|| ApiError::new(codes::INVALID_ACCESS_KEY_ID_NOT_FOUND))?;
            Principal::User(Arc::new(user))
        }
    };
    let resolved = Arc::new(ResolvedKey {
        secret: key.secret.clone(),
        caller: Arc::new(Caller {
            account_id: key.account_id.clone(),
            principal,
            access_key_id: key.id.clone(),
            via_sts: false,
        }),
    });
    cache.entries.insert(ak.to_string(), (Instant::now(), resolved.clone()));
    Ok(resolved)
}

async fn resolve_sts(state: &AppState, ak: &str, token: &str) -> Result<ResolvedKey, ApiError> {
    let (token_ak, claims) =
        sts::open(&state.0.master_key, token).map_err(|_| ApiError::new(codes::INVALID_SECURITY_TOKEN_MALFORMED))?;
    if token_ak != ak {
        return Err(codes::INVALID_SECURITY_TOKEN_MISMATCH.into());
    }
    if claims.is_expired(now_ms() / 1000) {
        return Err(codes::INVALID_SECURITY_TOKEN_EXPIRED.into());
    }
    if claims.scope.is_some() {
        // Upload credentials are scoped to one OSS object; they do not sign API calls.
        return Err(ApiError::with_message(
            codes::FORBIDDEN_RAM,
            "This security token is limited to an upload and cannot call the API.",
        ));
    }
    let principal = if claims.principal == "root" {
        Principal::Root
    } else {
        let user = state
            .store()
            .get_user(&claims.principal)
            .await
            .map_err(core_to_api)?
            .ok_or_else(|| ApiError::new(codes::INVALID_SECURITY_TOKEN_MALFORMED))?;
        Principal::User(Arc::new(user))
    };
    Ok(ResolvedKey {
        secret: sts::secret_for(&state.0.master_key, ak),
        caller: Arc::new(Caller {
            account_id: claims.account_id,
            principal,
            access_key_id: ak.to_string(),
            via_sts: true,
        }),
    })
}
