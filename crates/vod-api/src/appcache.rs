//! A short-lived cache of app records. Apps are read on nearly every call (permission
//! checks, GetAppInfos) and change rarely; this node forgets an entry as soon as it writes
//! the app, other nodes see a change within the TTL (`gateway.app_cache_ttl_ms`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use vod_core::CoreResult;
use vod_core::model::AppInfo;
use vod_core::ports::MetaStore;

/// (account id, app id) → when it was read, and the app if it exists.
type Entries = DashMap<(String, String), (Instant, Option<Arc<AppInfo>>)>;

pub struct AppCache {
    ttl: Duration,
    entries: Entries,
}

impl AppCache {
    pub fn new(ttl_ms: u64) -> Self {
        Self {
            ttl: Duration::from_millis(ttl_ms),
            entries: DashMap::new(),
        }
    }

    /// The app, from the cache when fresh, else from the store (absent apps are cached too).
    pub async fn get(&self, store: &dyn MetaStore, account_id: &str, app_id: &str) -> CoreResult<Option<Arc<AppInfo>>> {
        let key = (account_id.to_string(), app_id.to_string());
        if let Some(hit) = self.entries.get(&key)
            && hit.0.elapsed() < self.ttl
        {
            return Ok(hit.1.clone());
        }
        let app = store.get_app(account_id, app_id).await?.map(Arc::new);
        if self.ttl > Duration::ZERO {
            if self.entries.len() > 100_000 {
                self.entries.clear();
            }
            self.entries.insert(key, (Instant::now(), app.clone()));
        }
        Ok(app)
    }

    /// Drops the entry after this node changed or deleted the app.
    pub fn forget(&self, account_id: &str, app_id: &str) {
        self.entries.remove(&(account_id.to_string(), app_id.to_string()));
    }
}
