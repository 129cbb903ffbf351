//! `[jobs]` configuration of a node's job runtime (env `VODSTACK_JOBS__<FIELD>`).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How this node runs jobs. Every field has a default, so an empty `[jobs]` section (or none)
/// means: workers on, 30 s leases, 500 ms idle polling, back-off from 1 s up to 5 min.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobsConfig {
    /// Run workers on this node (`VODSTACK_JOBS__ENABLED`). With `false` the node still
    /// enqueues jobs; other nodes run them.
    pub enabled: bool,
    /// Lease length in seconds: a job whose worker stops heartbeating (every lease/3) is
    /// claimed again by any node this long after the last heartbeat.
    pub lease_secs: u64,
    /// Idle poll interval in milliseconds (jobs enqueued by this process wake the workers at
    /// once; jobs from other nodes are seen within this interval).
    pub poll_ms: u64,
    /// First retry delay in milliseconds; doubles per attempt, with jitter.
    pub backoff_base_ms: u64,
    /// Longest retry delay in milliseconds.
    pub backoff_max_ms: u64,
    /// This node's worker id (the lease owner in `vodstack jobs list`); empty =
    /// `<hostname>-<pid>-<random>`. Must differ between nodes.
    pub worker_id: String,
    /// Per-kind concurrency on this node, overriding the handler's default
    /// (e.g. `concurrency = { "media.transcode" = 2 }`); 0 = never run that kind here.
    /// A kind may also be written with `_` for `.` (`callback_http`), which is the only
    /// form the environment can carry: `VODSTACK_JOBS__CONCURRENCY__CALLBACK_HTTP=64`
    /// (a dot in an env key would nest). The exact kind wins when both are given.
    pub concurrency: BTreeMap<String, usize>,
    /// On shutdown, how long running jobs may take to finish before they are cancelled and
    /// handed back to the queue.
    pub shutdown_grace_secs: u64,
    /// Finished jobs are deleted this many hours after they finished (0 = keep forever).
    pub retention_hours: u64,
    /// Diagnostics: register the `probe.append` job kind (`VODSTACK_JOBS__ENABLE_PROBE=true`),
    /// used by `vodstack jobs enqueue-probe` and the multi-node tests. Off in production.
    pub enable_probe: bool,
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            lease_secs: 30,
            poll_ms: 500,
            backoff_base_ms: 1_000,
            backoff_max_ms: 300_000,
            worker_id: String::new(),
            concurrency: BTreeMap::new(),
            shutdown_grace_secs: 20,
            retention_hours: 168,
            enable_probe: false,
        }
    }
}

impl JobsConfig {
    /// The lease as a duration (at least 1 s).
    pub fn lease(&self) -> Duration {
        Duration::from_secs(self.lease_secs.max(1))
    }

    /// The idle poll interval (between 10 ms and 60 s).
    pub fn poll(&self) -> Duration {
        Duration::from_millis(self.poll_ms.clamp(10, 60_000))
    }

    /// The configured concurrency of `kind` (see [`concurrency`](Self::concurrency)): the
    /// exact kind, else its `_` alias (`callback.http` → `callback_http`), case-insensitively.
    pub fn concurrency_for(&self, kind: &str) -> Option<usize> {
        if let Some(n) = self.concurrency.get(kind) {
            return Some(*n);
        }
        let alias = kind.replace('.', "_");
        self.concurrency
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(kind) || k.eq_ignore_ascii_case(&alias))
            .map(|(_, n)| *n)
    }

    /// `worker_id`, or a generated `<hostname>-<pid>-<random>` when it is empty.
    pub fn resolved_worker_id(&self) -> String {
        if !self.worker_id.trim().is_empty() {
            return self.worker_id.trim().to_string();
        }
        let suffix: u32 = rand::random::<u32>() & 0xff_ffff;
        format!("{}-{}-{suffix:06x}", hostname(), std::process::id())
    }
}

fn hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .chain(std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .find(|h| !h.is_empty())
        .unwrap_or_else(|| "node".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_worker_ids() {
        let c = JobsConfig::default();
        assert!(c.enabled && !c.enable_probe);
        assert_eq!(c.lease(), Duration::from_secs(30));
        let (a, b) = (c.resolved_worker_id(), c.resolved_worker_id());
        assert_ne!(a, b, "generated ids differ per runtime");
        assert!(a.contains(&format!("-{}-", std::process::id())), "{a}");
        let named = JobsConfig {
            worker_id: " node-a ".into(),
            ..c
        };
        assert_eq!(named.resolved_worker_id(), "node-a");
    }

    #[test]
    fn partial_sections_deserialize() {
        let c: JobsConfig = serde_json::from_str(r#"{"lease_secs": 2, "concurrency": {"a.b": 0}}"#).unwrap();
        assert_eq!(c.lease_secs, 2);
        assert_eq!(c.poll_ms, 500);
        assert_eq!(c.concurrency.get("a.b"), Some(&0));
    }

    #[test]
    fn concurrency_aliases() {
        let c: JobsConfig = serde_json::from_str(
            r#"{"concurrency": {"callback_http": 64, "probe.append": 2, "PROBE_APPEND": 9, "Media_Transcode": 1}}"#,
        )
        .unwrap();
        assert_eq!(c.concurrency_for("callback.http"), Some(64));
        assert_eq!(c.concurrency_for("probe.append"), Some(2), "the exact kind wins");
        assert_eq!(
            c.concurrency_for("media.transcode"),
            Some(1),
            "env keys may arrive in any case"
        );
        assert_eq!(c.concurrency_for("upload.url_pull"), None);
    }
}
