//! Self-verifying STS temporary credentials: issue, open and secret derivation
//! from the cluster master key (no database lookup needed to verify).
//!
//! Token layout: `"CAIS" + b64url(json{k: ak_id, ..claims}) + "." + b64url(mac)`
//! where `mac = HMAC-SHA256(master, <the b64url payload text>)`. The secret is
//! `b64url(HMAC-SHA256(master, "secret:" + ak_id))[..30]`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng as _;
use rand::distr::Alphanumeric;
use serde::{Deserialize, Serialize};

use crate::error::StsError;
use crate::{ct_eq, mac};

/// Prefix of every security token.
pub const TOKEN_PREFIX: &str = "CAIS";
/// Prefix of every temporary access key id.
pub const AK_PREFIX: &str = "STS.";
/// Current claims format version.
pub const CLAIMS_VERSION: u8 = 1;
const AK_RANDOM_LEN: usize = 24;
const SECRET_LEN: usize = 30;

/// What a temporary credential grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StsClaims {
    /// Claims format version ([`CLAIMS_VERSION`]).
    pub v: u8,
    #[serde(rename = "a")]
    pub account_id: String,
    /// `"root"` or a user id.
    #[serde(rename = "p")]
    pub principal: String,
    /// Unix seconds at which the credential stops being valid.
    #[serde(rename = "e")]
    pub expires_at: i64,
    /// Unix seconds.
    #[serde(rename = "i")]
    pub issued_at: i64,
    #[serde(rename = "s", default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<StsScope>,
    /// Revocation generation (compare with the account's current one).
    #[serde(rename = "g", default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
}

impl StsClaims {
    /// True once `now_unix >= expires_at`.
    pub fn is_expired(&self, now_unix: i64) -> bool {
        now_unix >= self.expires_at
    }
}

/// Restricts a credential to one bucket and optionally one key / key prefix / media.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StsScope {
    #[serde(rename = "b")]
    pub bucket: String,
    #[serde(rename = "k", default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(rename = "x", default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(rename = "m", default, skip_serializing_if = "Option::is_none")]
    pub media_id: Option<String>,
    /// Reads only (GET/HEAD): the credential behind presigned play URLs.
    #[serde(rename = "r", default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
}

/// A temporary credential as handed to clients (`UploadAuth`, AssumeRole-like).
#[derive(Clone, PartialEq, Eq)]
pub struct TempCredential {
    /// `"STS."` + 24 alphanumerics.
    pub access_key_id: String,
    pub access_key_secret: String,
    pub security_token: String,
}

impl std::fmt::Debug for TempCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TempCredential")
            .field("access_key_id", &self.access_key_id)
            .field("access_key_secret", &"<redacted>")
            .field("security_token", &"<redacted>")
            .finish()
    }
}

#[derive(Serialize, Deserialize)]
struct Payload {
    k: String,
    #[serde(flatten)]
    claims: StsClaims,
}

/// Derives the secret of a temporary access key id.
pub fn secret_for(master_key: &[u8], access_key_id: &str) -> String {
    let mac = mac::hmac_sha256(master_key, format!("secret:{access_key_id}").as_bytes());
    let mut s = URL_SAFE_NO_PAD.encode(mac);
    s.truncate(SECRET_LEN);
    s
}

fn new_access_key_id() -> String {
    let random: String = rand::rng()
        .sample_iter(Alphanumeric)
        .take(AK_RANDOM_LEN)
        .map(char::from)
        .collect();
    format!("{AK_PREFIX}{random}")
}

/// Issues a fresh credential (random access key id) carrying `claims`.
pub fn issue(master_key: &[u8], claims: &StsClaims) -> TempCredential {
    issue_with_id(master_key, new_access_key_id(), claims)
}

fn issue_with_id(master_key: &[u8], access_key_id: String, claims: &StsClaims) -> TempCredential {
    let payload = Payload {
        k: access_key_id,
        claims: claims.clone(),
    };
    let json = serde_json::to_vec(&payload).expect("claims always serialize");
    let body = URL_SAFE_NO_PAD.encode(json);
    let tag = URL_SAFE_NO_PAD.encode(mac::hmac_sha256(master_key, body.as_bytes()));
    TempCredential {
        access_key_secret: secret_for(master_key, &payload.k),
        security_token: format!("{TOKEN_PREFIX}{body}.{tag}"),
        access_key_id: payload.k,
    }
}

/// Verifies a security token's MAC (constant time) and returns
/// `(access_key_id, claims)`. Expiry is not checked: use
/// [`StsClaims::is_expired`]; callers must also check that the request's
/// access key id equals the returned one.
pub fn open(master_key: &[u8], security_token: &str) -> Result<(String, StsClaims), StsError> {
    let rest = security_token.strip_prefix(TOKEN_PREFIX).ok_or(StsError::Malformed)?;
    let (body, tag) = rest.split_once('.').ok_or(StsError::Malformed)?;
    let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| StsError::Malformed)?;
    let expected = mac::hmac_sha256(master_key, body.as_bytes());
    if !ct_eq(&expected, &tag) {
        return Err(StsError::BadSignature);
    }
    let json = URL_SAFE_NO_PAD.decode(body).map_err(|_| StsError::Malformed)?;
    let payload: Payload = serde_json::from_slice(&json).map_err(|_| StsError::Malformed)?;
    if payload.k.is_empty() {
        return Err(StsError::Malformed);
    }
    Ok((payload.k, payload.claims))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MASTER: &[u8] = b"cluster-master-key-for-tests-0123456789";

    fn claims() -> StsClaims {
        StsClaims {
            v: CLAIMS_VERSION,
            account_id: "acct-1".into(),
            principal: "root".into(),
            expires_at: 1_700_003_600,
            issued_at: 1_700_000_000,
            scope: Some(StsScope {
                bucket: "outin-bucket".into(),
                key: Some("sv/abc/test.mp4".into()),
                prefix: None,
                media_id: Some("5aed81b74ba84920be578cdfe004af4b".into()),
                read_only: false,
            }),
            generation: Some(3),
        }
    }

    #[test]
    fn round_trip() {
        let c = claims();
        let cred = issue(MASTER, &c);
        assert!(cred.access_key_id.starts_with(AK_PREFIX));
        assert_eq!(cred.access_key_id.len(), AK_PREFIX.len() + 24);
        assert!(cred.access_key_id[4..].bytes().all(|b| b.is_ascii_alphanumeric()));
        assert!(cred.security_token.starts_with("CAIS"));
        assert_eq!(cred.access_key_secret.len(), 30);
        let (ak, opened) = open(MASTER, &cred.security_token).unwrap();
        assert_eq!(ak, cred.access_key_id);
        assert_eq!(opened, c);
        assert_ne!(issue(MASTER, &c).access_key_id, cred.access_key_id);

        let bare = StsClaims {
            scope: None,
            generation: None,
            principal: "user-7".into(),
            ..c
        };
        let cred = issue(MASTER, &bare);
        assert_eq!(open(MASTER, &cred.security_token).unwrap().1, bare);
        assert!(!format!("{cred:?}").contains(&cred.access_key_secret));
    }

    #[test]
    fn secret_derivation_matches() {
        let cred = issue(MASTER, &claims());
        assert_eq!(secret_for(MASTER, &cred.access_key_id), cred.access_key_secret);
        assert_ne!(secret_for(b"other", &cred.access_key_id), cred.access_key_secret);
        let fixed = issue_with_id(MASTER, "STS.abcdefghijklmnopqrstuvwx".into(), &claims());
        assert_eq!(
            fixed.access_key_secret,
            secret_for(MASTER, "STS.abcdefghijklmnopqrstuvwx")
        );
        assert!(
            fixed
                .access_key_secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
    }

    #[test]
    fn tampered_token_rejected() {
        let cred = issue(MASTER, &claims());
        let (body, tag) = cred.security_token["CAIS".len()..].split_once('.').unwrap();
        // Forge a body with a different account, keep the old MAC.
        let mut forged = claims();
        forged.account_id = "acct-2".into();
        let forged_tok = issue_with_id(b"attacker", cred.access_key_id.clone(), &forged).security_token;
        let forged_body = forged_tok["CAIS".len()..].split_once('.').unwrap().0;
        assert_eq!(
            open(MASTER, &format!("CAIS{forged_body}.{tag}")),
            Err(StsError::BadSignature)
        );
        // Flip a payload character.
        let mut bytes = body.as_bytes().to_vec();
        bytes[5] = if bytes[5] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(bytes).unwrap();
        assert_eq!(
            open(MASTER, &format!("CAIS{flipped}.{tag}")),
            Err(StsError::BadSignature)
        );
        // Truncated MAC.
        assert_eq!(
            open(MASTER, &format!("CAIS{body}.{}", &tag[..8])),
            Err(StsError::BadSignature)
        );
    }

    #[test]
    fn wrong_key_and_malformed() {
        let cred = issue(MASTER, &claims());
        assert_eq!(open(b"wrong-key", &cred.security_token), Err(StsError::BadSignature));
        assert_eq!(open(MASTER, ""), Err(StsError::Malformed));
        assert_eq!(open(MASTER, &cred.security_token[4..]), Err(StsError::Malformed));
        assert_eq!(open(MASTER, "CAISnodot"), Err(StsError::Malformed));
        assert_eq!(open(MASTER, "CAISabc.!!!"), Err(StsError::Malformed));
        // Valid MAC over a body that is not JSON claims.
        let body = URL_SAFE_NO_PAD.encode(b"not json");
        let tag = URL_SAFE_NO_PAD.encode(mac::hmac_sha256(MASTER, body.as_bytes()));
        assert_eq!(open(MASTER, &format!("CAIS{body}.{tag}")), Err(StsError::Malformed));
    }

    #[test]
    fn expiry() {
        let c = claims();
        assert!(!c.is_expired(c.expires_at - 1));
        assert!(c.is_expired(c.expires_at));
        assert!(c.is_expired(c.expires_at + 1));
    }
}
