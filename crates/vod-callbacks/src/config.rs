//! `[callbacks]` settings of vodstack.toml (env: `VODSTACK_CALLBACKS__<FIELD>`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::outbound::{OutboundError, OutboundPolicy, Timeouts};

/// How event callbacks are delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CallbacksConfig {
    /// Allow callback URLs on loopback addresses (127.0.0.0/8, ::1). Off: tests and
    /// single-host setups turn it on explicitly.
    pub allow_loopback: bool,
    /// Allow private addresses: 10/8, 172.16/12, 192.168/16, 100.64/10 (CGNAT), fc00::/7.
    pub allow_private: bool,
    /// Ranges always allowed, e.g. `["10.20.0.0/16"]` (the only way to reach link-local).
    pub allow_cidrs: Vec<String>,
    /// How long a delivery keeps being retried before it is recorded as failed
    /// (Alibaba stops after 3 tries; we keep trying for a day by default).
    pub retry_for_secs: u64,
    /// Limit for one attempt, redirects included; only an HTTP 200 within it counts.
    pub timeout_secs: u64,
    /// TCP connect limit (at most `timeout_secs`).
    pub connect_timeout_secs: u64,
    /// Back-off between attempts doubles from 1 s up to this.
    pub max_backoff_secs: u64,
    /// Redirects followed per attempt (each target is checked like the first URL).
    pub max_redirects: usize,
    /// Deliveries one node runs at once.
    pub concurrency: usize,
}

impl Default for CallbacksConfig {
    fn default() -> Self {
        Self {
            allow_loopback: false,
            allow_private: false,
            allow_cidrs: Vec::new(),
            retry_for_secs: 86_400,
            timeout_secs: 5,
            connect_timeout_secs: 5,
            max_backoff_secs: 600,
            max_redirects: 3,
            concurrency: 8,
        }
    }
}

impl CallbacksConfig {
    /// The address policy these settings describe.
    pub fn policy(&self) -> Result<OutboundPolicy, OutboundError> {
        OutboundPolicy::from_settings(self.allow_loopback, self.allow_private, &self.allow_cidrs)
    }

    pub fn timeouts(&self) -> Timeouts {
        let total = Duration::from_secs(self.timeout_secs.max(1));
        Timeouts {
            connect: Duration::from_secs(self.connect_timeout_secs.max(1)).min(total),
            total,
            max_redirects: self.max_redirects,
        }
    }

    /// The wait before the attempt after attempt `attempt` (1-based): 1 s, 2 s, 4 s, …
    /// capped at `max_backoff_secs`.
    pub fn backoff(&self, attempt: i64) -> Duration {
        let exp = attempt.clamp(1, 40) - 1;
        Duration::from_secs((1u64 << exp).min(self.max_backoff_secs.max(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_backoff() {
        let c = CallbacksConfig::default();
        assert!(!c.allow_loopback && !c.allow_private);
        assert_eq!(c.retry_for_secs, 86_400);
        assert_eq!(c.timeouts().total, Duration::from_secs(5));
        let waits: Vec<u64> = (1..=12).map(|a| c.backoff(a).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600]);
        assert_eq!(c.backoff(1_000_000).as_secs(), 600);
        assert_eq!(c.backoff(0).as_secs(), 1);
    }

    #[test]
    fn partial_toml_keeps_defaults() {
        let c: CallbacksConfig =
            serde_json::from_str(r#"{"allow_loopback":true,"allow_cidrs":["10.0.0.0/8"]}"#).unwrap();
        assert!(c.allow_loopback);
        assert_eq!(c.timeout_secs, 5);
        assert!(c.policy().unwrap().check_ip("10.9.9.9".parse().unwrap()).is_ok());
    }
}
