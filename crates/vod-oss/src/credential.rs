//! What the media library needs to hand out uploads: the public endpoint, bucket and region
//! of the OSS listener, and scoped temporary credentials (`UploadAuth`) sealed with the
//! cluster master key — verified by any node without a database round trip.

use serde_json::{Value, json};
use vod_auth::sts::{self, StsClaims, StsScope};

/// The OSS listener as clients see it, plus the key that seals its credentials.
#[derive(Clone)]
pub struct UploadTarget {
    /// With scheme, e.g. `http://127.0.0.1:9000` (`UploadAddress.Endpoint`).
    pub public_endpoint: String,
    pub bucket: String,
    /// `UploadAuth.Region` and the region of OSS V4 scopes, e.g. `cn-shanghai`.
    pub region: String,
    master_key: Vec<u8>,
}

impl std::fmt::Debug for UploadTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadTarget")
            .field("public_endpoint", &self.public_endpoint)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

/// What a credential may touch: one key, or every key under a prefix (or both), optionally
/// tied to a media (revoked when it is deleted) and its upload generation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CredentialScope {
    pub key: Option<String>,
    pub prefix: Option<String>,
    pub media_id: Option<String>,
    pub generation: Option<i64>,
}

/// A minted credential (the `UploadAuth` fields).
#[derive(Clone, PartialEq, Eq)]
pub struct ScopedCredential {
    pub access_key_id: String,
    pub access_key_secret: String,
    pub security_token: String,
    /// Lifetime in seconds (`Expiration`).
    pub expiration_secs: i64,
    /// Unix seconds at which it stops working.
    pub expires_at: i64,
}

impl std::fmt::Debug for ScopedCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScopedCredential")
            .field("access_key_id", &self.access_key_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl UploadTarget {
    pub fn new(public_endpoint: &str, bucket: &str, region: &str, master_key: Vec<u8>) -> Self {
        Self {
            public_endpoint: public_endpoint.trim_end_matches('/').to_string(),
            bucket: bucket.to_string(),
            region: region.to_string(),
            master_key,
        }
    }

    /// Issues a credential for `account_id` / `principal` (`root` or a user id) limited to
    /// `scope` in this bucket, valid `ttl_secs` from `now_unix`.
    pub fn issue(
        &self,
        account_id: &str,
        principal: &str,
        scope: &CredentialScope,
        ttl_secs: i64,
        now_unix: i64,
    ) -> ScopedCredential {
        let ttl = ttl_secs.max(1);
        let claims = StsClaims {
            v: sts::CLAIMS_VERSION,
            account_id: account_id.to_string(),
            principal: principal.to_string(),
            expires_at: now_unix + ttl,
            issued_at: now_unix,
            scope: Some(StsScope {
                bucket: self.bucket.clone(),
                key: scope.key.clone(),
                prefix: scope.prefix.clone(),
                media_id: scope.media_id.clone(),
                read_only: false,
            }),
            generation: scope.generation,
        };
        let cred = sts::issue(&self.master_key, &claims);
        ScopedCredential {
            access_key_id: cred.access_key_id,
            access_key_secret: cred.access_key_secret,
            security_token: cred.security_token,
            expiration_secs: ttl,
            expires_at: now_unix + ttl,
        }
    }

    /// `UploadAuth` as JSON (before the base64 the VOD API applies).
    pub fn upload_auth(&self, cred: &ScopedCredential) -> Value {
        json!({
            "AccessKeyId": cred.access_key_id,
            "AccessKeySecret": cred.access_key_secret,
            "SecurityToken": cred.security_token,
            "Expiration": cred.expiration_secs.to_string(),
            "ExpireUTCTime": crate::auth::iso8601(cred.expires_at),
            "Region": self.region,
        })
    }

    /// `UploadAddress` as JSON: endpoint, bucket, object key (and the slice prefix of an
    /// m3u8 upload).
    pub fn upload_address(&self, file_name: &str, object_prefix: Option<&str>) -> Value {
        let mut v = json!({
            "Endpoint": self.public_endpoint,
            "Bucket": self.bucket,
            "FileName": file_name,
        });
        if let Some(p) = object_prefix {
            v["ObjectPrefix"] = json!(p);
        }
        v
    }

    /// The unsigned path-style URL of an object.
    pub fn object_url(&self, key: &str) -> String {
        format!(
            "{}/{}/{}",
            self.public_endpoint,
            self.bucket,
            vod_auth::percent::pop_encode_path(key)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issues_scoped_credentials() {
        let t = UploadTarget::new("http://127.0.0.1:9000/", "outin-x", "cn-shanghai", b"master".to_vec());
        let scope = CredentialScope {
            key: Some("sv/a/a.mp4".into()),
            media_id: Some("m".into()),
            generation: Some(2),
            ..Default::default()
        };
        let c = t.issue("acct", "root", &scope, 3000, 1_700_000_000);
        assert!(c.access_key_id.starts_with("STS."));
        let (ak, claims) = sts::open(b"master", &c.security_token).unwrap();
        assert_eq!(ak, c.access_key_id);
        assert_eq!(claims.expires_at, 1_700_003_000);
        let s = claims.scope.unwrap();
        assert_eq!(
            (s.bucket.as_str(), s.key.as_deref(), s.media_id.as_deref()),
            ("outin-x", Some("sv/a/a.mp4"), Some("m"))
        );
        assert_eq!(claims.generation, Some(2));
        assert_eq!(sts::secret_for(b"master", &ak), c.access_key_secret);
        let auth = t.upload_auth(&c);
        assert_eq!(auth["Expiration"], "3000");
        assert_eq!(auth["ExpireUTCTime"], "2023-11-14T23:03:20Z");
        assert_eq!(auth["Region"], "cn-shanghai");
        let addr = t.upload_address("sv/a/a.m3u8", Some("sv/a/"));
        assert_eq!(addr["Endpoint"], "http://127.0.0.1:9000");
        assert_eq!(addr["ObjectPrefix"], "sv/a/");
        assert_eq!(t.object_url("a b/c.mp4"), "http://127.0.0.1:9000/outin-x/a%20b/c.mp4");
    }
}
