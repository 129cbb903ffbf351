//! Per-account, per-action QPS limits. In-process GCRA (governor) on one node; with a Redis
//! URL, one GCRA per (account, action) in Redis shared by every node. Over the limit the
//! gateway answers `Throttling.User` (400).

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::sync::Arc;

use dashmap::DashMap;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::{Deserialize, Serialize};

use crate::catalog::{self, Product};

/// The `[gateway.throttle]` settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ThrottleConfig {
    pub enabled: bool,
    /// Per-action QPS overrides, keyed by action name (matched case-insensitively).
    pub actions: BTreeMap<String, u32>,
    /// Redis URL for cluster-wide limits (`VODSTACK_REDIS_URL`); in-process when unset.
    pub redis_url: Option<String>,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            actions: BTreeMap::new(),
            redis_url: None,
        }
    }
}

/// GCRA in Redis, time from the Redis server so nodes' clocks do not matter.
/// KEYS[1] = bucket key, ARGV[1] = emission interval (µs), ARGV[2] = burst window (µs).
const GCRA_LUA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + interval
if new_tat - now > window then return 0 end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1000)
return 1
"#;

/// The limiter the gateway calls once per authenticated request.
pub struct Throttle {
    config: ThrottleConfig,
    overrides: BTreeMap<String, u32>,
    local: DashMap<(Product, String), Arc<DefaultKeyedRateLimiter<String>>>,
    redis: Option<redis::aio::ConnectionManager>,
    script: redis::Script,
}

impl Throttle {
    pub async fn new(config: ThrottleConfig) -> anyhow::Result<Self> {
        let redis = match config.redis_url.as_deref().filter(|u| !u.is_empty()) {
            Some(url) => {
                let client = redis::Client::open(url)?;
                Some(redis::aio::ConnectionManager::new(client).await?)
            }
            None => None,
        };
        let overrides = config
            .actions
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), *v))
            .collect();
        Ok(Self {
            config,
            overrides,
            local: DashMap::new(),
            redis,
            script: redis::Script::new(GCRA_LUA),
        })
    }

    pub fn is_cluster_wide(&self) -> bool {
        self.redis.is_some()
    }

    /// The QPS limit of an action (override, else the documented default).
    pub fn limit_for(&self, product: Product, action: &str) -> u32 {
        self.overrides
            .get(&action.to_ascii_lowercase())
            .copied()
            .unwrap_or_else(|| catalog::default_qps(product, action))
    }

    /// `true` when the call may proceed.
    pub async fn allow(&self, product: Product, action: &str, account_id: &str) -> bool {
        if !self.config.enabled {
            return true;
        }
        let qps = self.limit_for(product, action).max(1);
        if let Some(conn) = &self.redis {
            let key = format!("vodstack:qps:{}:{}:{}", product.ram_prefix(), action, account_id);
            let interval = 1_000_000u64 / u64::from(qps);
            let window = 1_000_000u64;
            let mut conn = conn.clone();
            let res: redis::RedisResult<i64> = self
                .script
                .key(key)
                .arg(interval)
                .arg(window)
                .invoke_async(&mut conn)
                .await;
            match res {
                Ok(v) => return v == 1,
                Err(e) => tracing::warn!(error = %e, "redis throttle unavailable; using the in-process limit"),
            }
        }
        let limiter = self
            .local
            .entry((product, action.to_string()))
            .or_insert_with(|| {
                let q = NonZeroU32::new(qps).unwrap_or(NonZeroU32::MIN);
                Arc::new(RateLimiter::keyed(Quota::per_second(q).allow_burst(q)))
            })
            .clone();
        limiter.check_key(&account_id.to_string()).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_limit_and_overrides() {
        let mut cfg = ThrottleConfig::default();
        cfg.actions.insert("listappinfo".into(), 3);
        let t = Throttle::new(cfg).await.unwrap();
        assert_eq!(t.limit_for(Product::Vod, "ListAppInfo"), 3);
        assert_eq!(t.limit_for(Product::Vod, "RefreshMediaPlayUrls"), 50);
        let ok = futures_count(&t, "ListAppInfo", "acct", 10).await;
        assert_eq!(ok, 3, "burst of 10 against a limit of 3");
        // Other accounts and other actions have their own buckets.
        assert_eq!(futures_count(&t, "ListAppInfo", "other", 2).await, 2);
        assert_eq!(futures_count(&t, "GetAppInfos", "acct", 5).await, 5);
    }

    #[tokio::test]
    async fn disabled_never_throttles() {
        let cfg = ThrottleConfig {
            enabled: false,
            ..Default::default()
        };
        let t = Throttle::new(cfg).await.unwrap();
        assert_eq!(futures_count(&t, "RefreshMediaPlayUrls", "a", 500).await, 500);
    }

    async fn futures_count(t: &Throttle, action: &str, acct: &str, n: usize) -> usize {
        let mut ok = 0;
        for _ in 0..n {
            if t.allow(Product::Vod, action, acct).await {
                ok += 1;
            }
        }
        ok
    }
}
