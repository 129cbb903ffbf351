//! [`CdnConfig`]: the `[cdn]` settings — edge liveness and timeouts, job attempts, the daily
//! quotas of the URL-level actions and the external purge hooks.

use serde::{Deserialize, Serialize};
use vod_core::model::refresh::RefreshQuotas;

/// How a purge hook asks an external cache to drop a URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum HookMethod {
    /// `PURGE <path>` (Varnish `return (purge)`, nginx `proxy_cache_purge`).
    #[default]
    Purge,
    /// `BAN <path>` (Varnish `ban()`; directories are sent with `X-Purge-Type: directory`).
    Ban,
}

impl HookMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Purge => "PURGE",
            Self::Ban => "BAN",
        }
    }
}

/// External caches in front of the edges (a real CDN or a Varnish/nginx tier): every
/// refreshed URL's path (and query) is sent to each as `<method> <base_url><path>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PurgeHooks {
    /// Base URLs of the caches, e.g. `http://varnish:6081`. Empty: no hooks.
    pub urls: Vec<String>,
    pub method: HookMethod,
    /// Time limit of one hook request, seconds.
    pub timeout_secs: u64,
}

impl Default for PurgeHooks {
    fn default() -> Self {
        Self {
            urls: Vec::new(),
            method: HookMethod::Purge,
            timeout_secs: 10,
        }
    }
}

/// Settings of the refresh/preload jobs (`[cdn]` of vodstack.toml).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CdnConfig {
    /// Run the `cdn.refresh` jobs on this node.
    pub enabled: bool,
    /// An edge node counts as live when its heartbeat is at most this old, seconds.
    pub edge_live_secs: u64,
    /// How often a node with an edge announces it (`heartbeat::spawn`), seconds.
    pub heartbeat_secs: u64,
    /// Time limit of one purge call to one edge, seconds.
    pub purge_timeout_secs: u64,
    /// Time limit of one preload call to one edge (it returns once every object is
    /// cached), seconds.
    pub preload_timeout_secs: u64,
    /// Delay before another attempt when an edge or hook was unreachable (a batch has
    /// `vod_core::model::refresh::REFRESH_JOB_ATTEMPTS` attempts; after the last one such
    /// URLs are reported as failed), milliseconds.
    pub retry_delay_ms: u64,
    /// Batches one node runs at once.
    pub concurrency: usize,
    /// Daily quotas of RefreshVodObjectCaches / PreloadVodObjectCaches (and the URLs of
    /// RefreshMediaPlayUrls), per account.
    pub quotas: RefreshQuotas,
    pub purge_hooks: PurgeHooks,
}

impl Default for CdnConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            edge_live_secs: 60,
            heartbeat_secs: 15,
            purge_timeout_secs: 30,
            preload_timeout_secs: 600,
            retry_delay_ms: 2000,
            concurrency: 4,
            quotas: RefreshQuotas::default(),
            purge_hooks: PurgeHooks::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_toml_shape() {
        let c: CdnConfig =
            serde_json::from_str(r#"{"purge_hooks":{"urls":["http://v:6081"],"method":"BAN"}}"#).unwrap();
        assert_eq!(c.purge_hooks.method, HookMethod::Ban);
        assert_eq!(c.purge_hooks.timeout_secs, 10);
        assert_eq!(c.edge_live_secs, 60);
        assert_eq!(c.quotas.url_per_day, 2000);
        assert_eq!(HookMethod::default().as_str(), "PURGE");
    }
}
