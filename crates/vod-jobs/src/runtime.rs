//! The node's job runtime: one claim loop that takes jobs from the metadata database for
//! the kinds this node has handlers (and free slots) for, and one spawned task per job.
//!
//! * **Slots.** A semaphore per kind (`JobHandler::concurrency`, overridden by
//!   `jobs.concurrency`); the loop only claims kinds with a free slot.
//! * **Wake-ups.** An in-process [`Notify`] (see [`JobSink`]) wakes the loop at once when
//!   this process enqueues or a job finishes; otherwise it polls every `jobs.poll_ms`.
//! * **Leases.** A claim leases the job for `jobs.lease_secs`; a heartbeat every lease/3
//!   renews it. When a heartbeat reports the lease lost (another node took the job over) the
//!   job's [`CancelFlag`](crate::handler::tokio_util_like::CancelFlag) is set and its outcome
//!   is not recorded (the store refuses it anyway).
//! * **Panic boundary.** The handler runs in its own task; a panic is a failed attempt
//!   carrying the panic message, retried like any other failure.
//! * **Retries.** `JobError::Retry` queues the job again after `after` or an exponential
//!   back-off with jitter, while attempts and the deadline allow; `JobError::Abort` fails it.
//! * **Shutdown.** When the shutdown signal flips the loop stops claiming, waits up to
//!   `jobs.shutdown_grace_secs` for running jobs, then sets their cancel flags, and after a
//!   few more seconds aborts the stragglers and puts their jobs back in the queue.
//! * **Metrics.** `vod_jobs_started_total{kind}`, `vod_jobs_finished_total{kind,outcome}`
//!   (outcome: succeeded, retry, failed, lease_lost, released), `vod_jobs_duration_seconds{kind}`
//!   and the gauge `vod_jobs_by_status{kind,status}` (whole cluster, refreshed every 15 s).

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::{JoinHandle, JoinSet};
use tracing::Instrument as _;
use vod_core::model::{Job, NewJob};
use vod_core::ports::MetaStore;
use vod_core::{CoreError, CoreResult, now_ms};

use crate::config::JobsConfig;
use crate::handler::tokio_util_like::CancelFlag;
use crate::{JobContext, JobError, JobHandler};

/// After the grace period, how long cancelled jobs get to stop on their own before they are
/// aborted and released.
const CANCEL_GRACE: Duration = Duration::from_secs(5);
/// How often the cluster-wide status gauges are refreshed.
const GAUGE_EVERY: Duration = Duration::from_secs(15);
/// How often finished jobs past their retention are purged.
const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// Enqueues jobs and wakes this process's claim loop (jobs enqueued elsewhere are seen on the
/// next poll). Cheap to clone.
#[derive(Clone)]
pub struct JobSink {
    store: Arc<dyn MetaStore>,
    notify: Arc<Notify>,
}

impl std::fmt::Debug for JobSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobSink").finish_non_exhaustive()
    }
}

impl JobSink {
    pub fn new(store: Arc<dyn MetaStore>, notify: Arc<Notify>) -> Self {
        Self { store, notify }
    }

    /// `JobRepo::enqueue`, then a wake-up of the local workers.
    pub async fn enqueue(&self, job: &NewJob) -> CoreResult<(String, bool)> {
        let out = self.store.enqueue(job).await?;
        self.notify();
        Ok(out)
    }

    /// `JobRepo::enqueue_many`, then a wake-up of the local workers.
    pub async fn enqueue_many(&self, jobs: &[NewJob]) -> CoreResult<Vec<(String, bool)>> {
        let out = self.store.enqueue_many(jobs).await?;
        self.notify();
        Ok(out)
    }

    /// Wakes the local workers, e.g. after jobs were enqueued inside a repository's own
    /// transaction.
    pub fn notify(&self) {
        self.notify.notify_one();
    }
}

/// One attempt running on this node.
struct Running {
    attempt: i64,
    cancel: CancelFlag,
}

struct Inner {
    store: Arc<dyn MetaStore>,
    config: JobsConfig,
    worker_id: String,
    handlers: HashMap<&'static str, Arc<dyn JobHandler>>,
    slots: HashMap<&'static str, Arc<Semaphore>>,
    /// Kinds this node claims (a handler and at least one slot), sorted.
    kinds: Vec<&'static str>,
    notify: Arc<Notify>,
    running: Mutex<HashMap<String, Running>>,
}

/// A node's job runtime. Build it with [`Runtime::new`], hand out [`Runtime::sink`] to code
/// that enqueues, and [`start`](Runtime::start) it.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("worker_id", &self.inner.worker_id)
            .field("kinds", &self.inner.kinds)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// A runtime for `handlers` (one per kind; a repeated kind keeps the first handler).
    pub fn new(store: Arc<dyn MetaStore>, config: JobsConfig, handlers: Vec<Arc<dyn JobHandler>>) -> Self {
        let worker_id = config.resolved_worker_id();
        let mut by_kind: HashMap<&'static str, Arc<dyn JobHandler>> = HashMap::new();
        let mut slots = HashMap::new();
        let mut kinds = BTreeSet::new();
        for handler in handlers {
            let kind = handler.kind();
            if by_kind.contains_key(kind) {
                tracing::warn!(kind, "two handlers for one job kind; keeping the first");
                continue;
            }
            let limit = config.concurrency_for(kind).unwrap_or_else(|| handler.concurrency());
            slots.insert(kind, Arc::new(Semaphore::new(limit)));
            if limit > 0 {
                kinds.insert(kind);
            }
            by_kind.insert(kind, handler);
        }
        Self {
            inner: Arc::new(Inner {
                store,
                config,
                worker_id,
                handlers: by_kind,
                slots,
                kinds: kinds.into_iter().collect(),
                notify: Arc::new(Notify::new()),
                running: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// This node's worker id (the lease owner of the jobs it runs).
    pub fn worker_id(&self) -> &str {
        &self.inner.worker_id
    }

    /// The kinds this node claims.
    pub fn kinds(&self) -> &[&'static str] {
        &self.inner.kinds
    }

    /// The wake-up of the claim loop: `notify_one()` after enqueuing makes it claim at once.
    pub fn notifier(&self) -> Arc<Notify> {
        self.inner.notify.clone()
    }

    /// An enqueuer that wakes this runtime.
    pub fn sink(&self) -> JobSink {
        JobSink::new(self.inner.store.clone(), self.inner.notify.clone())
    }

    /// How many jobs run on this node right now.
    pub fn running(&self) -> usize {
        self.inner.running.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Starts the claim loop (and the gauge / purge housekeeping). The returned task ends
    /// after `shutdown` turns true (or its sender is dropped) and the running jobs have
    /// finished, been cancelled or been handed back (see the module doc). With
    /// `jobs.enabled = false` or no kinds to run it ends at once.
    pub fn start(&self, shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
        let inner = self.inner.clone();
        if !inner.config.enabled || inner.kinds.is_empty() {
            tracing::info!(enabled = inner.config.enabled, "job workers not started on this node");
            return tokio::spawn(async {});
        }
        tracing::info!(worker_id = %inner.worker_id, kinds = ?inner.kinds, "job workers started");
        tokio::spawn(async move {
            let housekeeping = tokio::spawn(housekeeping(inner.clone()));
            claim_loop(inner, shutdown).await;
            housekeeping.abort();
        })
    }
}

/// The delay before retry number `attempt` (1 = after the first failure): `base · 2^(attempt-1)`
/// capped at `max`, then jittered to between half and all of it.
pub fn backoff_delay(attempt: i64, base: Duration, max: Duration) -> Duration {
    let exp = u32::try_from(attempt.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    let full = base.saturating_mul(2u32.saturating_pow(exp)).min(max);
    let half = full / 2;
    let jitter_ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
    half + Duration::from_millis(if jitter_ms == 0 {
        0
    } else {
        rand::random_range(0..=jitter_ms)
    })
}

fn is_shutdown(rx: &watch::Receiver<bool>) -> bool {
    *rx.borrow() || rx.has_changed().is_err()
}

async fn claim_loop(inner: Arc<Inner>, mut shutdown: watch::Receiver<bool>) {
    let mut tasks = JoinSet::new();
    let (hard_stop, hard_rx) = watch::channel(false);
    let lease_ms = i64::try_from(inner.config.lease().as_millis()).unwrap_or(i64::MAX);
    let mut errors: u32 = 0;
    loop {
        if is_shutdown(&shutdown) {
            break;
        }
        while tasks.try_join_next().is_some() {}
        let ready: Vec<&str> = inner
            .kinds
            .iter()
            .copied()
            .filter(|k| inner.slots[k].available_permits() > 0)
            .collect();
        if !ready.is_empty() {
            match inner.store.claim(&inner.worker_id, &ready, now_ms(), lease_ms).await {
                Ok(Some(job)) => {
                    errors = 0;
                    let slot = inner.slots[job.kind.as_str()].clone();
                    let permit = match slot.clone().try_acquire_owned() {
                        Ok(p) => p,
                        Err(_) => match slot.acquire_owned().await {
                            Ok(p) => p,
                            Err(_) => continue,
                        },
                    };
                    let span = tracing::info_span!("job", id = %job.id, kind = %job.kind, attempt = job.attempts);
                    tasks.spawn(run_job(inner.clone(), job, permit, hard_rx.clone()).instrument(span));
                    continue;
                }
                Ok(None) => errors = 0,
                Err(e) => {
                    errors = errors.saturating_add(1);
                    tracing::warn!(error = %e, "claiming a job failed");
                }
            }
        }
        // Idle (or every slot busy, or the database failing): wait for a wake-up.
        let wait = inner.config.poll() * 2u32.saturating_pow(errors.min(4));
        tokio::select! {
            _ = inner.notify.notified() => {}
            _ = tokio::time::sleep(wait) => {}
            changed = shutdown.changed() => if changed.is_err() { break },
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    drain(&inner, tasks, hard_stop).await;
}

/// Shutdown: wait for running jobs, then cancel, then abort and release.
async fn drain(inner: &Inner, mut tasks: JoinSet<()>, hard_stop: watch::Sender<bool>) {
    if tasks.is_empty() {
        tracing::info!("job workers stopped");
        return;
    }
    let grace = Duration::from_secs(inner.config.shutdown_grace_secs);
    tracing::info!(
        running = tasks.len(),
        grace_secs = grace.as_secs(),
        "job workers stopping; waiting for running jobs"
    );
    if join_all_within(&mut tasks, grace).await {
        tracing::info!("job workers stopped");
        return;
    }
    tracing::warn!(
        running = tasks.len(),
        "jobs still running after the grace period; cancelling them"
    );
    for running in inner.running.lock().unwrap_or_else(PoisonError::into_inner).values() {
        running.cancel.cancel();
    }
    if !join_all_within(&mut tasks, CANCEL_GRACE).await {
        tracing::warn!(
            running = tasks.len(),
            "aborting jobs that ignored cancellation; they go back to the queue"
        );
        let _ = hard_stop.send(true);
        if !join_all_within(&mut tasks, Duration::from_secs(10)).await {
            tasks.abort_all();
        }
    }
    tracing::info!("job workers stopped");
}

/// Waits for every task in `tasks` for up to `limit`; true when all finished.
async fn join_all_within(tasks: &mut JoinSet<()>, limit: Duration) -> bool {
    tokio::time::timeout(limit, async { while tasks.join_next().await.is_some() {} })
        .await
        .is_ok()
}

/// How one attempt ended, as recorded.
enum Outcome {
    Done(Value),
    Failed {
        message: String,
        retry: bool,
        after: Option<Duration>,
    },
    /// Aborted at shutdown: handed back without counting the attempt.
    Interrupted,
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_string())
}

async fn run_job(inner: Arc<Inner>, job: Job, permit: OwnedSemaphorePermit, mut hard_stop: watch::Receiver<bool>) {
    let kind = job.kind.clone();
    let cancel = CancelFlag::default();
    {
        let mut running = inner.running.lock().unwrap_or_else(PoisonError::into_inner);
        // An older attempt of this job still running here lost its lease (we took the job
        // over from ourselves after heartbeats failed): stop it; its outcome is discarded.
        if let Some(old) = running.insert(
            job.id.clone(),
            Running {
                attempt: job.attempts,
                cancel: cancel.clone(),
            },
        ) {
            old.cancel.cancel();
        }
    }
    metrics::counter!("vod_jobs_started_total", "kind" => kind.clone()).increment(1);
    tracing::debug!("job started");
    let started = Instant::now();
    let heartbeat = tokio::spawn(heartbeat_loop(inner.clone(), job.id.clone(), cancel.clone()).in_current_span());

    let handler = inner.handlers[kind.as_str()].clone();
    let ctx = JobContext {
        worker_id: inner.worker_id.clone(),
        attempt: job.attempts,
        cancelled: cancel.clone(),
    };
    let mut work = {
        let job = job.clone();
        tokio::spawn(async move { handler.run(&job, &ctx).await }.in_current_span())
    };
    let outcome = tokio::select! {
        joined = &mut work => match joined {
            Ok(Ok(value)) => Outcome::Done(value),
            Ok(Err(JobError::Retry { message, after })) => Outcome::Failed { message, retry: true, after },
            Ok(Err(JobError::Abort(message))) => Outcome::Failed { message, retry: false, after: None },
            Err(e) if e.is_panic() => Outcome::Failed {
                message: format!("panicked: {}", panic_message(e.into_panic().as_ref())),
                retry: true,
                after: None,
            },
            Err(_) => Outcome::Interrupted,
        },
        _ = hard_stop.wait_for(|stop| *stop) => {
            work.abort();
            Outcome::Interrupted
        }
    };
    heartbeat.abort();

    let current = {
        let mut running = inner.running.lock().unwrap_or_else(PoisonError::into_inner);
        let mine = running.get(&job.id).is_some_and(|r| r.attempt == job.attempts);
        if mine {
            running.remove(&job.id);
        }
        mine
    };
    let label = if current {
        record(&inner, &job, outcome).await
    } else {
        tracing::warn!("a newer attempt of this job took over on this node; this outcome is discarded");
        "lease_lost"
    };
    metrics::counter!("vod_jobs_finished_total", "kind" => kind.clone(), "outcome" => label).increment(1);
    metrics::histogram!("vod_jobs_duration_seconds", "kind" => kind).record(started.elapsed().as_secs_f64());
    drop(permit);
    inner.notify.notify_one();
}

/// Writes the outcome of an attempt; returns the metrics label.
async fn record(inner: &Inner, job: &Job, outcome: Outcome) -> &'static str {
    let store = &inner.store;
    let worker = inner.worker_id.as_str();
    let (written, label) = match outcome {
        Outcome::Done(value) => {
            let ok = persist(|| store.succeed(&job.id, worker, &value)).await;
            if ok == Some(true) {
                tracing::info!(elapsed_ms = now_ms() - job.updated_at, "job succeeded");
            }
            (ok, "succeeded")
        }
        Outcome::Failed { message, retry, after } => {
            let retry_at = retry.then(|| next_attempt_at(&inner.config, job, after)).flatten();
            let label = if retry_at.is_some() { "retry" } else { "failed" };
            let ok = persist(|| store.fail_attempt(&job.id, worker, &message, retry_at)).await;
            if ok == Some(true) {
                match retry_at {
                    Some(at) => {
                        tracing::warn!(error = %message, retry_in_ms = at - now_ms(), "job attempt failed; will retry")
                    }
                    None => tracing::warn!(error = %message, attempts = job.attempts, "job failed"),
                }
            }
            (ok, label)
        }
        Outcome::Interrupted => {
            let ok = persist(|| store.release_job(&job.id, worker)).await;
            if ok == Some(true) {
                tracing::info!("job interrupted by shutdown; handed back to the queue");
            }
            (ok, "released")
        }
    };
    match written {
        Some(true) => label,
        Some(false) => {
            tracing::warn!("job lost its lease to another worker; its outcome is discarded");
            "lease_lost"
        }
        None => {
            tracing::error!("could not record the job's outcome; it runs again after its lease expires");
            "lease_lost"
        }
    }
}

/// When the next attempt may start, or `None` when the job must fail now (attempts used up,
/// or the retry would start after `give_up_at`).
fn next_attempt_at(config: &JobsConfig, job: &Job, after: Option<Duration>) -> Option<i64> {
    if job.attempts >= job.max_attempts {
        return None;
    }
    let delay = after.unwrap_or_else(|| {
        backoff_delay(
            job.attempts,
            Duration::from_millis(config.backoff_base_ms),
            Duration::from_millis(config.backoff_max_ms.max(config.backoff_base_ms)),
        )
    });
    let at = now_ms().saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX));
    match job.give_up_at {
        Some(deadline) if at >= deadline => None,
        _ => Some(at),
    }
}

/// Runs a store write, retrying retryable errors for up to ~10 s; `None` when it never went through.
async fn persist<F, Fut>(mut write: F) -> Option<bool>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = CoreResult<bool>>,
{
    let mut delay = Duration::from_millis(100);
    for _ in 0..7 {
        match write().await {
            Ok(done) => return Some(done),
            Err(e @ CoreError::Unavailable(_)) => {
                tracing::warn!(error = %e, "recording a job outcome failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(3));
            }
            Err(e) => {
                tracing::error!(error = %e, "recording a job outcome failed");
                return None;
            }
        }
    }
    None
}

/// Renews the lease every lease/3 until aborted. Sets `cancel` when the lease is lost, or
/// when renewals keep failing until the lease has run out.
async fn heartbeat_loop(inner: Arc<Inner>, id: String, cancel: CancelFlag) {
    let lease = inner.config.lease();
    let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
    let every = (lease / 3).max(Duration::from_millis(50));
    let mut held_until = now_ms().saturating_add(lease_ms);
    loop {
        tokio::time::sleep(every).await;
        let until = now_ms().saturating_add(lease_ms);
        match inner.store.heartbeat(&id, &inner.worker_id, until).await {
            Ok(true) => held_until = until,
            Ok(false) => {
                tracing::warn!("job lease lost to another worker; cancelling this attempt");
                cancel.cancel();
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "job heartbeat failed");
                if now_ms() >= held_until {
                    tracing::warn!("job lease ran out without a renewal; cancelling this attempt");
                    cancel.cancel();
                    return;
                }
            }
        }
    }
}

/// Refreshes `vod_jobs_by_status` and purges old finished jobs.
async fn housekeeping(inner: Arc<Inner>) {
    let mut seen: BTreeSet<(String, &'static str)> = BTreeSet::new();
    let mut last_purge: Option<Instant> = None;
    loop {
        match inner.store.counts_by_status().await {
            Ok(counts) => {
                let mut now_seen = BTreeSet::new();
                for c in counts {
                    let status = c.status.as_str();
                    metrics::gauge!("vod_jobs_by_status", "kind" => c.kind.clone(), "status" => status)
                        .set(c.count as f64);
                    now_seen.insert((c.kind, status));
                }
                for (kind, status) in seen.difference(&now_seen) {
                    metrics::gauge!("vod_jobs_by_status", "kind" => kind.clone(), "status" => *status).set(0.0);
                }
                seen = now_seen;
            }
            Err(e) => tracing::debug!(error = %e, "counting jobs failed"),
        }
        let hours = inner.config.retention_hours;
        if hours > 0 && last_purge.is_none_or(|t| t.elapsed() >= PURGE_EVERY) {
            last_purge = Some(Instant::now());
            let before = now_ms().saturating_sub(i64::try_from(hours.saturating_mul(3_600_000)).unwrap_or(i64::MAX));
            match inner.store.purge_finished_jobs(before).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(purged = n, "deleted finished jobs past their retention"),
                Err(e) => tracing::warn!(error = %e, "purging finished jobs failed"),
            }
        }
        tokio::time::sleep(GAUGE_EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_jitters_and_caps() {
        let (base, max) = (Duration::from_secs(1), Duration::from_secs(300));
        for _ in 0..50 {
            let d1 = backoff_delay(1, base, max);
            assert!(d1 >= Duration::from_millis(500) && d1 <= base, "{d1:?}");
            let d4 = backoff_delay(4, base, max);
            assert!(d4 >= Duration::from_secs(4) && d4 <= Duration::from_secs(8), "{d4:?}");
            let big = backoff_delay(40, base, max);
            assert!(big >= Duration::from_secs(150) && big <= max, "{big:?}");
        }
        assert_eq!(backoff_delay(1, Duration::ZERO, max), Duration::ZERO);
        assert!(backoff_delay(0, base, max) <= base);
    }

    fn job(attempts: i64, max_attempts: i64, give_up_at: Option<i64>) -> Job {
        Job {
            id: "j".into(),
            kind: "k".into(),
            payload: Value::Null,
            status: vod_core::model::JobStatus::Running,
            unique_key: None,
            attempts,
            max_attempts,
            not_before: 0,
            give_up_at,
            lease_owner: None,
            lease_expires_at: None,
            last_error: None,
            result: None,
            created_at: 0,
            updated_at: 0,
            finished_at: None,
        }
    }

    #[test]
    fn retry_budget() {
        let c = JobsConfig::default();
        assert!(next_attempt_at(&c, &job(3, 3, None), None).is_none());
        let at = next_attempt_at(&c, &job(1, 3, None), None).unwrap();
        assert!(at > now_ms() && at <= now_ms() + 1_000);
        let at = next_attempt_at(&c, &job(1, 3, None), Some(Duration::from_secs(42))).unwrap();
        assert!(at >= now_ms() + 41_000);
        let soon = now_ms() + 10_000;
        assert!(next_attempt_at(&c, &job(1, 3, Some(soon)), Some(Duration::from_secs(20))).is_none());
        assert!(next_attempt_at(&c, &job(1, 3, Some(soon)), Some(Duration::from_secs(1))).is_some());
    }

    #[test]
    fn panic_messages() {
        assert_eq!(panic_message(&"static"), "static");
        assert_eq!(panic_message(&String::from("owned")), "owned");
        assert_eq!(panic_message(&42), "non-string panic payload");
    }
}
