//! vod-cdn: CDN refresh and preload on vodstack's own edges.
//!
//! RefreshMediaPlayUrls, RefreshVodObjectCaches and PreloadVodObjectCaches (vod-api) store
//! their URL tasks and one `cdn.refresh` job per batch (`vod_core::model::refresh`). The job
//! ([`refresh::RefreshHandler`]) sends the batch to the control API of every live edge node
//! (`RefreshRepo::live_edge_nodes`: nodes whose [`heartbeat`] is recent) through
//! `vod_edge::EdgeClient` — purge for Refresh, fetch-into-cache for Preload — and, for
//! refreshes, to the configured external caches ([`hooks`], HTTP PURGE or BAN). A URL
//! succeeds when every edge (and every hook) succeeded. The job writes every task's outcome,
//! the media record's final state and the SubmitMediaRefreshComplete delivery in one
//! transaction; re-runs after that are no-ops. Unreachable edges are retried (a batch has
//! `REFRESH_JOB_ATTEMPTS` attempts); after the last attempt their URLs count as failed.
//!
//! Metrics: `vod_cdn_batches_total{kind,outcome}`, `vod_cdn_urls_total{kind,outcome}`,
//! `vod_cdn_hook_requests_total{outcome}`.

pub mod config;
pub mod heartbeat;
pub mod hooks;
pub mod refresh;

use std::sync::Arc;
use std::time::Duration;

pub use config::{CdnConfig, HookMethod, PurgeHooks};
use vod_callbacks::CallbacksConfig;
use vod_core::ports::MetaStore;
use vod_core::service::media::MediaConfig;
use vod_edge::EdgeClient;
use vod_jobs::JobHandler;

/// What the refresh handler shares: the store, the settings and the clients.
pub struct Cdn {
    pub store: Arc<dyn MetaStore>,
    /// The media settings (play URL base of the edges).
    pub media: MediaConfig,
    pub callbacks: CallbacksConfig,
    pub config: CdnConfig,
    pub(crate) purge_client: EdgeClient,
    pub(crate) preload_client: EdgeClient,
    pub(crate) hooks: hooks::Hooks,
}

impl std::fmt::Debug for Cdn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cdn")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Cdn {
    /// The refresh context; `control_secret` is the edges' shared control secret
    /// (`EdgeConfig::control_secret`; `vodstack serve` derives it from the master key).
    pub fn new(
        store: Arc<dyn MetaStore>,
        media: MediaConfig,
        callbacks: CallbacksConfig,
        config: CdnConfig,
        control_secret: &str,
    ) -> Arc<Self> {
        let purge_client = EdgeClient::new(control_secret, Duration::from_secs(config.purge_timeout_secs.max(1)));
        let preload_client = EdgeClient::new(control_secret, Duration::from_secs(config.preload_timeout_secs.max(1)));
        let hooks = hooks::Hooks::new(&config.purge_hooks);
        Arc::new(Self {
            store,
            media,
            callbacks,
            config,
            purge_client,
            preload_client,
            hooks,
        })
    }
}

/// The handlers of this crate (`cdn.refresh`); empty when `[cdn] enabled = false`.
pub fn handlers(cdn: Arc<Cdn>) -> Vec<Arc<dyn JobHandler>> {
    if !cdn.config.enabled {
        return Vec::new();
    }
    vec![Arc::new(refresh::RefreshHandler(cdn))]
}

/// A stable 32-hex id derived from parts (event ids of a batch).
pub(crate) fn derived_id(parts: &[&str]) -> String {
    use md5::{Digest, Md5};
    let mut h = Md5::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_stable() {
        assert_eq!(derived_id(&["a", "b"]), derived_id(&["a", "b"]));
        assert_ne!(derived_id(&["a", "b"]), derived_id(&["ab"]));
    }
}
