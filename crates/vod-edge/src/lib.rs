//! vod-edge: the playback edge of vodstack. Play URLs (`<public_url>/<bucket>/<key>`) are
//! served from a size-bounded disk cache in front of the object storage; refresh purges,
//! preload warms.
//!
//! * [`Origin`] is where misses are read ([`ObjectStoreOrigin`]: vod-blob's objects).
//! * The cache ([`cache`], [`disk`]): one file per object, filled from the origin while
//!   the first player streams it, written under `tmp/` and renamed into place when
//!   complete, indexed in memory with an S3-FIFO-like policy bounded in bytes, rebuilt
//!   from the directory on start. Concurrent misses of one object share one fill.
//! * HTTP ([`http`]): Range/206/416, HEAD, ETag/Last-Modified with 304s, content types by
//!   extension, CORS, `X-Cache`/`Age`, optional Alibaba Type-A URL authentication.
//! * Control API ([`control`]) for refresh and preload, HMAC-signed with a shared secret,
//!   and [`EdgeClient`] to call it on every edge node.
//!
//! Metrics (through the `metrics` facade): `vod_edge_requests_total{status}`,
//! `vod_edge_hits_total`, `vod_edge_misses_total`, `vod_edge_bytes_sent_total{cache}`,
//! `vod_edge_origin_bytes_total`, `vod_edge_fills_total{outcome}`,
//! `vod_edge_evictions_total`, `vod_edge_evicted_bytes_total`, `vod_edge_purged_total`,
//! `vod_edge_preloads_total{outcome}`, `vod_edge_auth_denied_total`,
//! `vod_edge_control_denied_total`, `vod_edge_purge_seconds`, gauges
//! `vod_edge_cache_bytes` and `vod_edge_cache_entries`.

pub mod cache;
pub mod client;
pub mod conditional;
pub mod config;
pub mod control;
pub mod disk;
pub mod fill;
pub mod hot;
pub mod http;
pub mod mime;
pub mod origin;
pub mod playlist;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::routing::{get, post};

pub use cache::CacheStats;
pub use client::{EdgeClient, EdgeClientError};
pub use config::{DEFAULT_EDGE_ADDR, DEFAULT_MAX_BYTES, EdgeConfig};
pub use control::{ControlResponse, PathResult, PreloadRequest, PurgeRequest};
pub use origin::{ObjectStoreOrigin, Origin, OriginError, OriginMeta};

use crate::cache::{Claim, Entry, Store};
use crate::disk::EntryMeta;

/// A failed preload.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PreloadError {
    #[error("no such object at the origin")]
    NotFound,
    #[error("the object is larger than the cache accepts ({0} bytes at most) or the cache is full of fills")]
    NotCacheable(u64),
    #[error("{0}")]
    Failed(String),
}

/// A successful preload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preloaded {
    pub bytes: u64,
    pub already_cached: bool,
}

/// One edge: its configuration, its cache and its origin.
pub struct Edge {
    pub(crate) config: EdgeConfig,
    pub(crate) store: Arc<Store>,
    pub(crate) origin: Arc<dyn Origin>,
    /// `config.cache_control` as a header value (none when empty).
    pub(crate) cache_control: Option<axum::http::HeaderValue>,
}

impl std::fmt::Debug for Edge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Edge")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl Edge {
    /// Opens the cache in `config.cache_dir` (which must be set: see
    /// [`EdgeConfig::cache_dir_in`]), rebuilding its index from the files there.
    pub async fn open(config: EdgeConfig, origin: Arc<dyn Origin>) -> std::io::Result<Arc<Self>> {
        if config.cache_dir.as_os_str().is_empty() {
            return Err(std::io::Error::other(
                "edge cache_dir is not set (use EdgeConfig::cache_dir_in(data_dir))",
            ));
        }
        let (dir, max, limit) = (config.cache_dir.clone(), config.max_bytes, config.object_limit());
        let hot = hot::HotTier::new(config.memory_bytes, config.memory_object_bytes);
        let store = tokio::task::spawn_blocking(move || Store::open(&dir, max, limit, hot))
            .await
            .map_err(std::io::Error::other)??;
        let cache_control = Some(config.cache_control.trim())
            .filter(|c| !c.is_empty())
            .and_then(|c| axum::http::HeaderValue::from_str(c).ok());
        Ok(Arc::new(Self {
            config,
            store: Arc::new(store),
            origin,
            cache_control,
        }))
    }

    pub fn config(&self) -> &EdgeConfig {
        &self.config
    }

    pub fn stats(&self) -> CacheStats {
        self.store.stats()
    }

    /// The edge as an axum router: the control API under `/_edge/` and every other path
    /// an object (`/_edge` cannot be a bucket name).
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route(control::PURGE_PATH, post(control::purge))
            .route(control::PRELOAD_PATH, post(control::preload))
            .route("/_edge/health", get(|| async { "ok\n" }))
            .fallback(http::handle)
            .with_state(self.clone())
    }

    /// Registers a miss for `meta` and starts its fill when it is new.
    pub(crate) async fn claim(self: &Arc<Self>, meta: EntryMeta, origin: &OriginMeta) -> std::io::Result<Claim> {
        let claim = self.store.claim(meta, origin)?;
        if let Claim::Started(fill) = &claim {
            fill::spawn(self.store.clone(), self.origin.clone(), fill.clone());
        }
        Ok(claim)
    }

    /// With `revalidate_secs` set: whether a copy older than that is still the origin's
    /// current version (a stale or vanished one is dropped). Always true otherwise.
    pub(crate) async fn still_valid(&self, e: &Arc<Entry>) -> bool {
        let every = self.config.revalidate_secs;
        let now = vod_core::now_ms();
        if every == 0 || now - e.validated_at_ms.load(Ordering::Relaxed) < (every as i64) * 1000 {
            return true;
        }
        match self.origin.stat(&e.meta.bucket, &e.meta.key).await {
            Ok(Some(m)) if m.etag == e.meta.etag && m.size == e.meta.size => {
                e.validated_at_ms.store(now, Ordering::Relaxed);
                true
            }
            Ok(_) => {
                self.store.drop_entry(e);
                false
            }
            // The origin is down: serve what we have.
            Err(_) => true,
        }
    }

    /// Drops the cached copy of one object (and cancels the commit of a running fill).
    pub fn purge_object(&self, bucket: &str, key: &str) -> bool {
        let found = self.store.purge_key(&disk::cache_key(bucket, key));
        metrics::counter!("vod_edge_purged_total").increment(u64::from(found));
        found
    }

    /// Drops every cached object whose key starts with `dir` (a `/` is appended when
    /// missing; an empty `dir` is the whole bucket). Returns how many.
    pub fn purge_directory(&self, bucket: &str, dir: &str) -> usize {
        let dir = dir.trim_start_matches('/');
        let prefix = if dir.is_empty() || dir.ends_with('/') {
            disk::cache_key(bucket, dir)
        } else {
            disk::cache_key(bucket, &format!("{dir}/"))
        };
        let n = self.store.purge_prefix(&prefix);
        metrics::counter!("vod_edge_purged_total").increment(n as u64);
        n
    }

    /// Makes the origin's current version of an object cached; returns once it is.
    pub async fn preload_object(self: &Arc<Self>, bucket: &str, key: &str) -> Result<Preloaded, PreloadError> {
        let result = self.preload_inner(bucket, key).await;
        let outcome = match &result {
            Ok(p) if p.already_cached => "cached",
            Ok(_) => "filled",
            Err(_) => "failed",
        };
        metrics::counter!("vod_edge_preloads_total", "outcome" => outcome).increment(1);
        result
    }

    async fn preload_inner(self: &Arc<Self>, bucket: &str, key: &str) -> Result<Preloaded, PreloadError> {
        let origin = self
            .origin
            .stat(bucket, key)
            .await
            .map_err(|e| PreloadError::Failed(e.to_string()))?
            .ok_or(PreloadError::NotFound)?;
        let meta = EntryMeta {
            bucket: bucket.to_string(),
            key: key.to_string(),
            size: origin.size,
            etag: origin.etag.clone(),
            last_modified_ms: origin.last_modified_ms,
            content_type: origin.content_type.clone(),
            stored_at_ms: vod_core::now_ms(),
        };
        let bytes = meta.size;
        let claim = self
            .claim(meta, &origin)
            .await
            .map_err(|e| PreloadError::Failed(e.to_string()))?;
        match claim {
            Claim::Ready(_) => Ok(Preloaded {
                bytes,
                already_cached: true,
            }),
            Claim::Join(f) | Claim::Started(f) => {
                fill::wait(&f).await.map_err(PreloadError::Failed)?;
                Ok(Preloaded {
                    bytes,
                    already_cached: false,
                })
            }
            Claim::Pass => Err(PreloadError::NotCacheable(self.config.object_limit())),
        }
    }
}

/// Serves `edge` on `listener` until `shutdown` resolves, then lets in-flight requests
/// finish.
pub async fn serve_edge(
    listener: tokio::net::TcpListener,
    edge: Arc<Edge>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, edge.router())
        .with_graceful_shutdown(shutdown)
        .await
}

/// Opens the edge described by `config` over `origin` and serves it on `listener` until
/// `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: EdgeConfig,
    origin: Arc<dyn Origin>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let edge = Edge::open(config, origin).await?;
    serve_edge(listener, edge, shutdown).await
}
