//! vod-oss: the OSS-compatible endpoint that `UploadAddress` / `UploadAuth` point at, so
//! oss2 (V1) and alibabacloud-oss-v2 (V4) upload to vodstack unchanged.
//!
//! Request path: [`router`] sends every request to one handler, which makes a request id,
//! finds bucket and key (path-style `/<bucket>/<key>` or virtual-host `<bucket>.<host>`;
//! keys fully percent-decoded, `%2F` included), answers CORS preflights, authenticates
//! ([`auth`]: V1/V4 header or presigned signatures, STS tokens opened with the cluster
//! master key, long-term keys from the metadata store), checks the credential's scope, and
//! dispatches to the operation ([`handlers`]). Bodies stream into the [`vod_blob`] object
//! store. Errors are the OSS XML `<Error>` documents ([`error`]); `x-oss-request-id` and the
//! CORS exposure headers are on every response.
//!
//! After PutObject and CompleteMultipartUpload the media library hears of the object
//! (`UploadEvents::object_completed`); objects not yet reported (crash, media library error)
//! are reported again by the background sweeper ([`OssService::spawn_sweeper`]).

pub mod auth;
pub mod credential;
pub mod error;
pub mod handlers;
pub mod xml;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use serde::{Deserialize, Serialize};
use vod_blob::ObjectStore;
use vod_core::CoreResult;
use vod_core::model::StoredObject;
use vod_core::uploads::{CompletedObject, UploadEvents};

pub use auth::{Caller, SignedRequest, Verifier};
pub use credential::{CredentialScope, ScopedCredential, UploadTarget};
pub use error::OssError;

/// Settings of the OSS listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OssConfig {
    /// The one bucket uploads go to (`UploadAddress.Bucket`).
    pub bucket: String,
    /// Region reported in `UploadAuth` (any region is accepted in V4 scopes).
    pub region: String,
    /// How clients reach the listener, with scheme (`UploadAddress.Endpoint`); its host also
    /// enables virtual-host addressing (`<bucket>.<host>`).
    pub public_endpoint: String,
    /// Largest accepted distance between a request's date and our clock.
    pub max_clock_skew_secs: i64,
    /// How long access keys and `upload_allowed` answers are cached, milliseconds.
    pub cache_ttl_ms: u64,
    /// Multipart objects up to this size whose MD5 is unknown (parts uploaded out of order)
    /// are hashed before CompleteMultipartUpload answers; larger ones in the background.
    pub inline_md5_limit: u64,
}

impl Default for OssConfig {
    fn default() -> Self {
        Self {
            bucket: "outin-vodstack".into(),
            region: "cn-shanghai".into(),
            public_endpoint: "http://127.0.0.1:9000".into(),
            max_clock_skew_secs: 900,
            cache_ttl_ms: 5000,
            inline_md5_limit: 64 * 1024 * 1024,
        }
    }
}

/// Accepts every upload and ignores completions (tests, or no media library wired).
#[derive(Debug, Default)]
pub struct NoUploadEvents;

#[async_trait]
impl UploadEvents for NoUploadEvents {
    async fn upload_allowed(&self, _: &str, _: &str, _: Option<i64>) -> CoreResult<bool> {
        Ok(true)
    }

    async fn object_completed(&self, _: &CompletedObject) -> CoreResult<()> {
        Ok(())
    }
}

/// Everything the OSS endpoint needs.
pub struct OssService {
    pub(crate) config: OssConfig,
    pub(crate) objects: Arc<ObjectStore>,
    pub(crate) verifier: Verifier,
    pub(crate) events: Arc<dyn UploadEvents>,
    /// `.<host of the public endpoint>` when it is a name (not an IP): virtual-host suffix.
    pub(crate) vhost_suffix: Option<String>,
}

impl std::fmt::Debug for OssService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OssService")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// How often the sweeper looks for objects the media library has not heard of, and how old
/// such an object must be (so it does not race the request that is reporting it).
const SWEEP_EVERY: Duration = Duration::from_secs(30);
const SWEEP_MIN_AGE_MS: i64 = 60_000;

impl OssService {
    pub fn new(
        config: OssConfig,
        objects: Arc<ObjectStore>,
        events: Arc<dyn UploadEvents>,
        master_key: Vec<u8>,
    ) -> Self {
        let verifier = Verifier::new(
            master_key,
            objects.meta().clone(),
            events.clone(),
            config.max_clock_skew_secs,
            Duration::from_millis(config.cache_ttl_ms),
        );
        let vhost_suffix = host_of(&config.public_endpoint)
            .filter(|h| h.parse::<std::net::IpAddr>().is_err() && !h.starts_with('['))
            .map(|h| format!(".{}", h.to_ascii_lowercase()));
        Self {
            config,
            objects,
            verifier,
            events,
            vhost_suffix,
        }
    }

    pub fn config(&self) -> &OssConfig {
        &self.config
    }

    pub fn objects(&self) -> &Arc<ObjectStore> {
        &self.objects
    }

    /// Reports a completed object to the media library (computing its MD5 first when
    /// unknown) and records that it was reported.
    pub async fn notify(&self, mut object: StoredObject) -> Result<(), String> {
        let md5 = self.objects.ensure_md5(&mut object).await.map_err(|e| e.to_string())?;
        let completed = CompletedObject {
            account_id: object.account_id.clone(),
            bucket: object.bucket.clone(),
            key: object.key.clone(),
            size: object.size,
            md5_hex: md5,
            etag: object.etag.clone(),
            crc64: object.crc64,
            content_type: Some(object.content_type.clone()),
            media_id: object.media_id.clone(),
        };
        self.events
            .object_completed(&completed)
            .await
            .map_err(|e| e.to_string())?;
        self.objects
            .meta()
            .mark_object_notified(&object.object_id)
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    /// After a write: reports inline when that is cheap, else in the background; failures
    /// are left to the sweeper.
    pub(crate) async fn completed(self: &Arc<Self>, object: StoredObject) {
        if object.md5_hex.is_none() && object.size > self.config.inline_md5_limit {
            let me = self.clone();
            tokio::spawn(async move {
                if let Err(e) = me.notify(object).await {
                    tracing::warn!(error = %e, "reporting a completed object failed; the sweeper retries");
                }
            });
        } else if let Err(e) = self.notify(object).await {
            tracing::warn!(error = %e, "reporting a completed object failed; the sweeper retries");
        }
    }

    /// Reports objects older than a minute that were never reported; returns how many were.
    pub async fn sweep_once(&self) -> usize {
        let before = vod_core::now_ms() - SWEEP_MIN_AGE_MS;
        let pending = match self.objects.meta().unnotified_objects(before, 100).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "listing unreported objects failed");
                return 0;
            }
        };
        let mut done = 0;
        for object in pending {
            match self.notify(object).await {
                Ok(()) => done += 1,
                Err(e) => {
                    tracing::warn!(error = %e, "reporting a completed object failed; retrying later")
                }
            }
        }
        done
    }

    /// Runs [`sweep_once`](Self::sweep_once) now and every 30 s until the task is aborted.
    pub fn spawn_sweeper(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(SWEEP_EVERY);
            loop {
                tick.tick().await;
                me.sweep_once().await;
            }
        })
    }
}

/// The host (without port) of a URL like `http://host:port/path`.
fn host_of(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if authority.starts_with('[') {
        return authority.split_once(']').map(|(h, _)| format!("{h}]"));
    }
    let host = authority.split(':').next()?;
    (!host.is_empty()).then(|| host.to_string())
}

/// The OSS endpoint as an axum router (one fallback handler takes every path).
pub fn router(service: Arc<OssService>) -> Router {
    Router::new().fallback(handlers::handle).with_state(service)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert_eq!(host_of("http://127.0.0.1:9000"), Some("127.0.0.1".into()));
        assert_eq!(host_of("https://oss.example.com/x"), Some("oss.example.com".into()));
        assert_eq!(host_of("http://[::1]:9000"), Some("[::1]".into()));
        assert_eq!(host_of("oss.local"), Some("oss.local".into()));
        assert_eq!(host_of("http://"), None);
    }
}
