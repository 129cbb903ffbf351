//! Gateway configuration and the shared state every request sees.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use vod_core::ports::MetaStore;
use vod_core::service::media::{MediaConfig, MediaService};

use crate::appcache::AppCache;
use crate::authn::KeyCache;
use crate::nonce::NonceGuard;
use crate::request_metrics::RequestMetrics;
use crate::throttle::{Throttle, ThrottleConfig};

/// Settings of the RPC gateway (the `[gateway]` section of vodstack.toml).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct GatewayConfig {
    /// Largest accepted distance between a request's Timestamp / x-acs-date and our clock.
    pub max_clock_skew_secs: i64,
    /// How long a SignatureNonce is remembered (Alibaba keeps ~15 min; we keep 31 min).
    pub nonce_ttl_secs: i64,
    /// How long a looked-up access key stays cached (disabling a key takes effect after this).
    pub key_cache_ttl_ms: u64,
    /// How long an app record stays cached (other nodes see app changes after this).
    pub app_cache_ttl_ms: u64,
    /// RegionId reported in responses (ListAppInfo, UploadAuth, ...).
    pub region_id: String,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    pub throttle: ThrottleConfig,
    /// Where CreateUploadVideo / CreateUploadMedia send uploads (`[gateway.upload]`).
    pub upload: MediaConfig,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            max_clock_skew_secs: 900,
            nonce_ttl_secs: 1860,
            key_cache_ttl_ms: 5000,
            app_cache_ttl_ms: 2000,
            region_id: "cn-shanghai".into(),
            max_body_bytes: 1 << 20,
            throttle: ThrottleConfig::default(),
            upload: MediaConfig::default(),
        }
    }
}

/// Everything a request handler may use. Cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

pub struct Inner {
    pub store: Arc<dyn MetaStore>,
    pub config: GatewayConfig,
    /// The cluster secret that seals STS tokens; shared by all nodes through the database.
    pub master_key: Vec<u8>,
    pub keys: KeyCache,
    pub apps: AppCache,
    pub nonces: NonceGuard,
    pub throttle: Throttle,
    pub metrics: RequestMetrics,
    /// The media library (also the OSS endpoint's `UploadEvents`).
    pub media: Arc<MediaService>,
    /// `[url_upload]` settings (UploadMediaByURL's daily quota); set by the composition root.
    pub url_upload: std::sync::RwLock<vod_core::model::url_upload::UrlUploadConfig>,
    /// Daily quotas of the CDN refresh actions (`[cdn].quotas`); set by the composition root.
    pub refresh_quotas: std::sync::RwLock<vod_core::model::refresh::RefreshQuotas>,
    /// Wakes this node's job workers after an action stored jobs (set once the runtime runs).
    pub job_wake: std::sync::OnceLock<Arc<tokio::sync::Notify>>,
}

impl AppState {
    /// Builds the state; spawns the nonce writer and purger on the current runtime.
    pub async fn new(store: Arc<dyn MetaStore>, config: GatewayConfig, master_key: Vec<u8>) -> anyhow::Result<Self> {
        let nonces = NonceGuard::start(store.clone());
        let throttle = Throttle::new(config.throttle.clone()).await?;
        let keys = KeyCache::new(config.key_cache_ttl_ms);
        let apps = AppCache::new(config.app_cache_ttl_ms);
        let media = Arc::new(MediaService::new(store.clone(), config.upload.clone()));
        Ok(Self(Arc::new(Inner {
            store,
            config,
            master_key,
            keys,
            apps,
            nonces,
            throttle,
            metrics: RequestMetrics::default(),
            media,
            url_upload: Default::default(),
            refresh_quotas: Default::default(),
            job_wake: Default::default(),
        })))
    }

    pub fn store(&self) -> &dyn MetaStore {
        self.0.store.as_ref()
    }

    pub fn config(&self) -> &GatewayConfig {
        &self.0.config
    }

    /// The media library service; hand it to the OSS endpoint as its `UploadEvents`.
    pub fn media(&self) -> &Arc<MediaService> {
        &self.0.media
    }

    /// Installs the `[url_upload]` settings (once, at start).
    pub fn set_url_upload_config(&self, config: vod_core::model::url_upload::UrlUploadConfig) {
        *self.0.url_upload.write().unwrap_or_else(|p| p.into_inner()) = config;
    }

    pub fn url_upload_config(&self) -> vod_core::model::url_upload::UrlUploadConfig {
        self.0.url_upload.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Installs the daily quotas of the refresh actions (`[cdn].quotas`, once, at start).
    pub fn set_refresh_quotas(&self, quotas: vod_core::model::refresh::RefreshQuotas) {
        *self.0.refresh_quotas.write().unwrap_or_else(|p| p.into_inner()) = quotas;
    }

    pub fn refresh_quotas(&self) -> vod_core::model::refresh::RefreshQuotas {
        self.0.refresh_quotas.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Installs the job runtime's wake-up (`vod_jobs::Runtime::notifier`).
    pub fn set_job_wake(&self, notify: Arc<tokio::sync::Notify>) {
        let _ = self.0.job_wake.set(notify);
    }

    /// Wakes this node's job workers (jobs stored by other nodes are seen on their poll).
    pub fn wake_jobs(&self) {
        if let Some(n) = self.0.job_wake.get() {
            n.notify_one();
        }
    }

    /// An app of an account, through the short-lived app cache.
    pub async fn app(
        &self,
        account_id: &str,
        app_id: &str,
    ) -> vod_core::CoreResult<Option<Arc<vod_core::model::AppInfo>>> {
        self.0.apps.get(self.store(), account_id, app_id).await
    }
}
