//! Who is calling: OSS V1 (`Authorization: OSS ak:sig`, presigned `OSSAccessKeyId` /
//! `Expires` / `Signature`) and V4 (`OSS4-HMAC-SHA256`, header or presigned `x-oss-*` query)
//! signatures, verified against an STS credential (opened with the cluster master key, no
//! database round trip) or a long-term access key (cached briefly). Revocation of
//! media-scoped credentials is asked of `UploadEvents::upload_allowed` (cached briefly).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use vod_auth::sts::{self, StsScope};
use vod_auth::{oss_v1, oss_v4};
use vod_core::model::{AccessKey, KeyStatus};
use vod_core::ports::MetaStore;
use vod_core::uploads::UploadEvents;

use crate::error::OssError;

/// The parts of a request that signatures cover. Header names are lowercase.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    pub method: &'a str,
    /// `None` for service-level requests (`GET /`).
    pub bucket: Option<&'a str>,
    /// Fully decoded key (empty for bucket-level requests).
    pub key: &'a str,
    /// Decoded query parameters in request order.
    pub query: &'a [(String, String)],
    pub headers: &'a [(String, String)],
}

impl SignedRequest<'_> {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub account_id: String,
    pub access_key_id: String,
    /// `root` or a user id.
    pub principal: String,
    /// The STS scope; `None` for long-term keys (the whole bucket) and unscoped STS tokens.
    pub scope: Option<StsScope>,
    pub generation: Option<i64>,
    pub is_sts: bool,
}

impl Caller {
    /// Whether this caller may touch `key` in `bucket` (exact key, or under the prefix).
    pub fn covers(&self, bucket: &str, key: &str) -> bool {
        match &self.scope {
            None => true,
            Some(s) => {
                s.bucket == bucket
                    && match (&s.key, &s.prefix) {
                        (Some(k), _) if k == key => true,
                        (_, Some(p)) if key.starts_with(p.as_str()) => true,
                        (None, None) => true,
                        _ => false,
                    }
            }
        }
    }

    /// Whether this caller may list within `bucket` at all.
    pub fn covers_bucket(&self, bucket: &str) -> bool {
        self.scope.as_ref().is_none_or(|s| s.bucket == bucket)
    }
}

/// How a request was signed.
enum Scheme {
    V1 {
        ak: String,
        signature: String,
        date: String,
        presigned: bool,
    },
    V4 {
        auth: oss_v4::V4Authorization,
        x_oss_date: String,
        presigned: bool,
    },
}

/// Verifies signatures and resolves callers.
pub struct Verifier {
    master_key: Vec<u8>,
    store: Arc<dyn MetaStore>,
    events: Arc<dyn UploadEvents>,
    max_skew_secs: i64,
    cache_ttl: Duration,
    keys: Mutex<HashMap<String, (Instant, Option<AccessKey>)>>,
    allowed: Mutex<HashMap<AllowedKey, (Instant, bool)>>,
}

const CACHE_LIMIT: usize = 10_000;

/// `(account, media, generation)` of an `upload_allowed` answer.
type AllowedKey = (String, String, Option<i64>);

impl Verifier {
    pub fn new(
        master_key: Vec<u8>,
        store: Arc<dyn MetaStore>,
        events: Arc<dyn UploadEvents>,
        max_skew_secs: i64,
        cache_ttl: Duration,
    ) -> Self {
        Self {
            master_key,
            store,
            events,
            max_skew_secs,
            cache_ttl,
            keys: Mutex::new(HashMap::new()),
            allowed: Mutex::new(HashMap::new()),
        }
    }

    /// Authenticates `req` at `now` (unix seconds). Anonymous requests are refused.
    pub async fn authenticate(&self, req: &SignedRequest<'_>, now: i64) -> Result<Caller, OssError> {
        let scheme = self.scheme(req, now)?;
        let (ak, token) = match &scheme {
            Scheme::V1 { ak, presigned, .. } => {
                let token = if *presigned {
                    req.param("security-token")
                } else {
                    req.header("x-oss-security-token")
                };
                (ak.clone(), token)
            }
            Scheme::V4 { auth, presigned, .. } => {
                let token = if *presigned {
                    req.param("x-oss-security-token")
                } else {
                    req.header("x-oss-security-token")
                };
                (auth.access_key_id.clone(), token)
            }
        };
        let token = token.filter(|t| !t.is_empty());
        let (caller, secret) = match token {
            Some(token) => {
                let (token_ak, claims) = sts::open(&self.master_key, token).map_err(|_| {
                    if ak.starts_with(sts::AK_PREFIX) {
                        OssError::invalid_security_token(token)
                    } else {
                        OssError::token_key_mismatch(&ak)
                    }
                })?;
                if token_ak != ak {
                    return Err(OssError::token_key_mismatch(&ak));
                }
                if claims.is_expired(now) {
                    return Err(OssError::security_token_expired(token));
                }
                let caller = Caller {
                    account_id: claims.account_id,
                    access_key_id: ak.clone(),
                    principal: claims.principal,
                    scope: claims.scope,
                    generation: claims.generation,
                    is_sts: true,
                };
                (caller, sts::secret_for(&self.master_key, &ak))
            }
            None if ak.starts_with(sts::AK_PREFIX) => {
                return Err(OssError::security_token_lost(&ak));
            }
            None => {
                let key = self
                    .access_key(&ak)
                    .await?
                    .ok_or_else(|| OssError::invalid_access_key_id(&ak))?;
                if key.status != KeyStatus::Active {
                    return Err(OssError::new(
                        axum::http::StatusCode::FORBIDDEN,
                        "InvalidAccessKeyId",
                        "The OSS Access Key Id you provided is disabled.",
                    )
                    .with("OSSAccessKeyId", &ak));
                }
                let caller = Caller {
                    account_id: key.account_id.clone(),
                    access_key_id: ak.clone(),
                    principal: key.user_id.clone().unwrap_or_else(|| "root".into()),
                    scope: None,
                    generation: None,
                    is_sts: false,
                };
                (caller, key.secret)
            }
        };
        self.verify_signature(req, &scheme, &secret)?;
        if let Some(media_id) = caller.scope.as_ref().and_then(|s| s.media_id.as_deref())
            && !self
                .upload_allowed(&caller.account_id, media_id, caller.generation)
                .await?
        {
            return Err(OssError::access_denied(
                "The upload credential is no longer valid: the media was deleted or its upload was re-issued.",
            ));
        }
        Ok(caller)
    }

    /// Checks the request's date window and signature against `secret` (no key lookup, no
    /// token): the signature half of [`authenticate`](Self::authenticate).
    pub fn verify_with_secret(&self, req: &SignedRequest<'_>, now: i64, secret: &str) -> Result<(), OssError> {
        let scheme = self.scheme(req, now)?;
        self.verify_signature(req, &scheme, secret)
    }

    fn scheme(&self, req: &SignedRequest<'_>, now: i64) -> Result<Scheme, OssError> {
        if let Some(h) = req.header("authorization") {
            let h = h.trim();
            if h.starts_with(oss_v4::ALGORITHM) {
                let auth = oss_v4::parse_authorization(h)
                    .map_err(|e| OssError::invalid_argument(format!("Authorization header is invalid: {e}")))?;
                let x_oss_date = req
                    .header("x-oss-date")
                    .ok_or_else(|| OssError::access_denied("The x-oss-date header is required by OSS4-HMAC-SHA256."))?
                    .to_string();
                let t = parse_v4_date(&x_oss_date)
                    .ok_or_else(|| OssError::invalid_argument(format!("x-oss-date `{x_oss_date}` is invalid.")))?;
                self.check_skew(t, now, &x_oss_date)?;
                if !x_oss_date.starts_with(&auth.date) {
                    return Err(OssError::invalid_argument(
                        "The credential date does not match x-oss-date.",
                    ));
                }
                return Ok(Scheme::V4 {
                    auth,
                    x_oss_date,
                    presigned: false,
                });
            }
            if let Some((ak, signature)) = oss_v1::parse_authorization(h) {
                let date = req
                    .header("x-oss-date")
                    .or_else(|| req.header("date"))
                    .ok_or_else(|| OssError::access_denied("The Date header is required."))?
                    .to_string();
                let t = httpdate::parse_http_date(&date)
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map(|d| d.as_secs() as i64)
                    .ok_or_else(|| OssError::access_denied(format!("The Date header `{date}` is invalid.")))?;
                self.check_skew(t, now, &date)?;
                // As oss2: x-oss-date, when sent, takes the place of Date in the string to sign.
                return Ok(Scheme::V1 {
                    ak,
                    signature,
                    date,
                    presigned: false,
                });
            }
            return Err(OssError::invalid_argument("Authorization header is invalid."));
        }
        if let (Some(ak), Some(sig), Some(expires)) = (
            req.param("OSSAccessKeyId"),
            req.param("Signature"),
            req.param("Expires"),
        ) {
            let e: i64 = expires
                .trim()
                .parse()
                .map_err(|_| OssError::invalid_argument("Expires is invalid."))?;
            if now > e {
                return Err(OssError::access_denied("Request has expired.")
                    .with("Expires", iso8601(e))
                    .with("ServerTime", iso8601(now)));
            }
            return Ok(Scheme::V1 {
                ak: ak.to_string(),
                signature: sig.to_string(),
                date: expires.to_string(),
                presigned: true,
            });
        }
        if let Some(sig) = req.param("x-oss-signature") {
            if req.param("x-oss-signature-version") != Some(oss_v4::ALGORITHM) {
                return Err(OssError::invalid_argument(
                    "x-oss-signature-version must be OSS4-HMAC-SHA256.",
                ));
            }
            let credential = req.param("x-oss-credential").unwrap_or_default();
            let header = format!(
                "{} Credential={credential},AdditionalHeaders={},Signature={sig}",
                oss_v4::ALGORITHM,
                req.param("x-oss-additional-headers").unwrap_or_default()
            );
            let auth = oss_v4::parse_authorization(&header)
                .map_err(|e| OssError::invalid_argument(format!("x-oss-credential is invalid: {e}")))?;
            let x_oss_date = req.param("x-oss-date").unwrap_or_default().to_string();
            let t = parse_v4_date(&x_oss_date)
                .ok_or_else(|| OssError::invalid_argument(format!("x-oss-date `{x_oss_date}` is invalid.")))?;
            let expires: i64 = req
                .param("x-oss-expires")
                .and_then(|v| v.trim().parse().ok())
                .ok_or_else(|| OssError::invalid_argument("x-oss-expires is invalid."))?;
            if now > t + expires {
                return Err(OssError::access_denied("Request has expired.")
                    .with("Expires", iso8601(t + expires))
                    .with("ServerTime", iso8601(now)));
            }
            if t > now + self.max_skew_secs {
                return Err(OssError::time_skewed(&x_oss_date, &iso8601(now)));
            }
            return Ok(Scheme::V4 {
                auth,
                x_oss_date,
                presigned: true,
            });
        }
        Err(OssError::access_denied(
            "You have no right to access this object because of bucket acl.",
        ))
    }

    fn check_skew(&self, t: i64, now: i64, shown: &str) -> Result<(), OssError> {
        if (t - now).abs() > self.max_skew_secs {
            return Err(OssError::time_skewed(shown, &iso8601(now)));
        }
        Ok(())
    }

    fn verify_signature(&self, req: &SignedRequest<'_>, scheme: &Scheme, secret: &str) -> Result<(), OssError> {
        match scheme {
            Scheme::V1 {
                ak, signature, date, ..
            } => {
                let resource = oss_v1::canonicalized_resource(req.bucket, req.key, req.query);
                let sts = oss_v1::string_to_sign(
                    req.method,
                    req.header("content-md5").unwrap_or_default(),
                    req.header("content-type").unwrap_or_default(),
                    date,
                    req.headers,
                    &resource,
                );
                if oss_v1::verify(secret, &sts, signature) {
                    Ok(())
                } else {
                    Err(OssError::signature_mismatch(ak, signature, &sts))
                }
            }
            Scheme::V4 {
                auth,
                x_oss_date,
                presigned,
            } => {
                let uri = oss_v4::canonical_uri(req.bucket, req.key);
                let query: Vec<(String, String)> = if *presigned {
                    req.query
                        .iter()
                        .filter(|(k, _)| k != "x-oss-signature")
                        .cloned()
                        .collect()
                } else {
                    req.query.to_vec()
                };
                let payload = if *presigned {
                    oss_v4::UNSIGNED_PAYLOAD
                } else {
                    req.header("x-oss-content-sha256").unwrap_or(oss_v4::UNSIGNED_PAYLOAD)
                };
                let cr =
                    oss_v4::canonical_request(req.method, &uri, &query, req.headers, &auth.additional_headers, payload);
                let sts = oss_v4::string_to_sign(x_oss_date, &auth.date, &auth.region, &cr);
                if oss_v4::verify(secret, &auth.date, &auth.region, &sts, &auth.signature) {
                    Ok(())
                } else {
                    Err(OssError::signature_mismatch(&auth.access_key_id, &auth.signature, &sts)
                        .with("CanonicalRequest", cr))
                }
            }
        }
    }

    async fn access_key(&self, id: &str) -> Result<Option<AccessKey>, OssError> {
        if let Some((at, key)) = self.keys.lock().unwrap_or_else(|p| p.into_inner()).get(id)
            && at.elapsed() < self.cache_ttl
        {
            return Ok(key.clone());
        }
        let key = self.store.get_access_key(id).await.map_err(|e| {
            if e.is_retryable() {
                OssError::unavailable(e)
            } else {
                OssError::internal(e)
            }
        })?;
        let mut cache = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(id.to_string(), (Instant::now(), key.clone()));
        Ok(key)
    }

    async fn upload_allowed(&self, account: &str, media_id: &str, generation: Option<i64>) -> Result<bool, OssError> {
        let k = (account.to_string(), media_id.to_string(), generation);
        if let Some((at, ok)) = self.allowed.lock().unwrap_or_else(|p| p.into_inner()).get(&k)
            && at.elapsed() < self.cache_ttl
        {
            return Ok(*ok);
        }
        let ok = self
            .events
            .upload_allowed(account, media_id, generation)
            .await
            .map_err(|e| {
                if e.is_retryable() {
                    OssError::unavailable(e)
                } else {
                    OssError::internal(e)
                }
            })?;
        let mut cache = self.allowed.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(k, (Instant::now(), ok));
        Ok(ok)
    }
}

/// `yyyyMMddTHHmmssZ` → unix seconds.
pub fn parse_v4_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let month = time::Month::try_from(num(4..6)? as u8).ok()?;
    let date = time::Date::from_calendar_date(num(0..4)? as i32, month, num(6..8)? as u8).ok()?;
    let t = date
        .with_hms(num(9..11)? as u8, num(11..13)? as u8, num(13..15)? as u8)
        .ok()?;
    Some(t.assume_utc().unix_timestamp())
}

/// Unix seconds → `2024-01-01T00:00:00Z`.
pub fn iso8601(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .map(|t| {
            format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            )
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_dates() {
        assert_eq!(parse_v4_date("20240101T000000Z"), Some(1_704_067_200));
        assert_eq!(parse_v4_date("20240101T00000Z"), None);
        assert_eq!(parse_v4_date("20241301T000000Z"), None);
        assert_eq!(parse_v4_date("2024010xT000000Z"), None);
        assert_eq!(iso8601(1_704_067_200), "2024-01-01T00:00:00Z");
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    async fn verifier() -> (Verifier, vod_db::testing::SqliteTestDb) {
        let db = vod_db::testing::SqliteTestDb::new().unwrap();
        let store = db.open().await.unwrap();
        let v = Verifier::new(
            b"master".to_vec(),
            store,
            Arc::new(crate::NoUploadEvents),
            900,
            Duration::from_secs(5),
        );
        (v, db)
    }

    const JAN_2024: i64 = 1_704_067_200;

    /// protocol.md §5.2 vectors (PutObject and UploadPart, V1) through the verifier.
    #[tokio::test]
    async fn v1_vectors() {
        let (v, _db) = verifier().await;
        let headers = pairs(&[
            ("host", "127.0.0.1:28472"),
            ("content-type", "video/mp4"),
            ("x-oss-security-token", "SECTOKEN"),
            ("date", "Mon, 01 Jan 2024 00:00:00 GMT"),
            ("authorization", "OSS STS.tmpAK:k362OYvzgqUsGhluvce11O8x1Bs="),
        ]);
        let req = SignedRequest {
            method: "PUT",
            bucket: Some("outin-bucket"),
            key: "sv/abc/test.mp4",
            query: &[],
            headers: &headers,
        };
        v.verify_with_secret(&req, JAN_2024 + 60, "tmpSecret").unwrap();
        let err = v.verify_with_secret(&req, JAN_2024, "wrong").unwrap_err();
        assert_eq!(err.code, "SignatureDoesNotMatch");
        let sts = err.extra.iter().find(|(k, _)| *k == "StringToSign").unwrap();
        assert_eq!(
            sts.1,
            "PUT\n\nvideo/mp4\nMon, 01 Jan 2024 00:00:00 GMT\nx-oss-security-token:SECTOKEN\n/outin-bucket/sv/abc/test.mp4"
        );
        let err = v.verify_with_secret(&req, JAN_2024 + 901, "tmpSecret").unwrap_err();
        assert_eq!(err.code, "RequestTimeTooSkewed");

        let mut headers = headers.clone();
        headers.retain(|(k, _)| k != "content-type");
        headers.last_mut().unwrap().1 = "OSS STS.tmpAK:peIoKObLfwctk/PfmiN3ii+at0o=".into();
        let query = vod_auth::percent::form_decode_pairs("uploadId=UPID123&partNumber=1");
        let req = SignedRequest {
            query: &query,
            headers: &headers,
            ..req
        };
        v.verify_with_secret(&req, JAN_2024, "tmpSecret").unwrap();
    }

    /// protocol.md §5.3 vector (PutObject, V4, oss-v2 signer) with both separators.
    #[tokio::test]
    async fn v4_vector() {
        let (v, _db) = verifier().await;
        let sig = "de6e40559dd170c172deaf6cc63825346465c688db5a093115df0f7e8efb0fd4";
        for sep in [",", ", "] {
            let auth = format!(
                "OSS4-HMAC-SHA256 Credential=STS.tmpAK/20240101/cn-shanghai/oss/aliyun_v4_request{sep}Signature={sig}"
            );
            let headers = pairs(&[
                ("host", "127.0.0.1:9000"),
                ("content-type", "video/mp4"),
                ("date", "Mon, 01 Jan 2024 00:00:00 GMT"),
                ("x-oss-content-sha256", "UNSIGNED-PAYLOAD"),
                ("x-oss-date", "20240101T000000Z"),
                ("x-oss-security-token", "SECTOKEN"),
                ("authorization", &auth),
            ]);
            let req = SignedRequest {
                method: "PUT",
                bucket: Some("outin-bucket"),
                key: "sv/abc/test.mp4",
                query: &[],
                headers: &headers,
            };
            v.verify_with_secret(&req, JAN_2024 + 5, "tmpSecret").unwrap();
            let err = v.verify_with_secret(&req, JAN_2024, "nope").unwrap_err();
            assert_eq!(err.code, "SignatureDoesNotMatch");
            let err = v.verify_with_secret(&req, JAN_2024 - 901, "tmpSecret").unwrap_err();
            assert_eq!(err.code, "RequestTimeTooSkewed");
        }
    }

    /// A presigned V1 URL (`Expires` in place of the date, `security-token` signed).
    #[tokio::test]
    async fn v1_presigned() {
        let (v, _db) = verifier().await;
        let expires = (JAN_2024 + 600).to_string();
        let resource = "/outin-bucket/a b.mp4?security-token=TOK";
        let sts = format!("GET\n\n\n{expires}\n{resource}");
        let sig = vod_auth::oss_v1::sign("sec", &sts);
        let query = pairs(&[
            ("OSSAccessKeyId", "AK"),
            ("Expires", &expires),
            ("Signature", &sig),
            ("security-token", "TOK"),
        ]);
        let req = SignedRequest {
            method: "GET",
            bucket: Some("outin-bucket"),
            key: "a b.mp4",
            query: &query,
            headers: &[],
        };
        v.verify_with_secret(&req, JAN_2024, "sec").unwrap();
        let err = v.verify_with_secret(&req, JAN_2024 + 601, "sec").unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            ("AccessDenied", "Request has expired.")
        );
    }

    fn caller(scope: Option<StsScope>) -> Caller {
        Caller {
            account_id: "a".into(),
            access_key_id: "STS.x".into(),
            principal: "root".into(),
            scope,
            generation: None,
            is_sts: true,
        }
    }

    #[test]
    fn scopes() {
        let scope = |key: Option<&str>, prefix: Option<&str>| {
            Some(StsScope {
                bucket: "b".into(),
                key: key.map(Into::into),
                prefix: prefix.map(Into::into),
                media_id: None,
                read_only: false,
            })
        };
        let c = caller(scope(Some("sv/a.mp4"), None));
        assert!(c.covers("b", "sv/a.mp4"));
        assert!(!c.covers("b", "sv/a.mp4x"));
        assert!(!c.covers("other", "sv/a.mp4"));
        let c = caller(scope(None, Some("sv/x/")));
        assert!(c.covers("b", "sv/x/1.ts"));
        assert!(!c.covers("b", "sv/y/1.ts"));
        let c = caller(scope(Some("sv/x.m3u8"), Some("sv/x/")));
        assert!(c.covers("b", "sv/x.m3u8") && c.covers("b", "sv/x/1.ts"));
        assert!(caller(scope(None, None)).covers("b", "anything"));
        assert!(caller(None).covers("any", "thing"));
        assert!(!caller(scope(None, None)).covers_bucket("c"));
    }
}
