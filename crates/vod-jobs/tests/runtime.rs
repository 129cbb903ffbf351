//! The job runtime against a real store: every case runs on a fresh SQLite file and, when
//! `VODSTACK_TEST_DATABASE_URL` is set, on a fresh PostgreSQL schema (skipped loudly
//! otherwise, panicking under `CI=true`).

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::{Value, json};
use tokio::sync::watch;
use vod_core::model::{Job, JobStatus, NewJob};
use vod_core::now_ms;
use vod_core::ports::MetaStore;
use vod_jobs::payload::{JobPayload, decode};
use vod_jobs::probe::{ProbeAppend, ProbeHandler};
use vod_jobs::{JobContext, JobError, JobHandler, JobsConfig, Runtime};

type RunFn = dyn Fn(Job, JobContext) -> Pin<Box<dyn Future<Output = Result<Value, JobError>> + Send>> + Send + Sync;

/// A handler whose behaviour is a closure.
struct FnHandler {
    kind: &'static str,
    concurrency: usize,
    run: Box<RunFn>,
}

#[async_trait]
impl JobHandler for FnHandler {
    fn kind(&self) -> &'static str {
        self.kind
    }
    fn concurrency(&self) -> usize {
        self.concurrency
    }
    async fn run(&self, job: &Job, ctx: &JobContext) -> Result<Value, JobError> {
        (self.run)(job.clone(), ctx.clone()).await
    }
}

fn handler<F, Fut>(kind: &'static str, concurrency: usize, f: F) -> Arc<dyn JobHandler>
where
    F: Fn(Job, JobContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Value, JobError>> + Send + 'static,
{
    Arc::new(FnHandler {
        kind,
        concurrency,
        run: Box::new(move |job, ctx| Box::pin(f(job, ctx))),
    })
}

/// A kind name unique to this test run (handlers need `&'static str`).
fn kind(name: &str) -> &'static str {
    Box::leak(format!("test.{name}.{}", vod_core::ids::hex_id()).into_boxed_str())
}

fn config() -> JobsConfig {
    JobsConfig {
        lease_secs: 1,
        poll_ms: 50,
        backoff_base_ms: 20,
        backoff_max_ms: 100,
        shutdown_grace_secs: 5,
        ..JobsConfig::default()
    }
}

struct Node {
    runtime: Runtime,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Node {
    fn start(store: &Arc<dyn MetaStore>, config: JobsConfig, handlers: Vec<Arc<dyn JobHandler>>) -> Self {
        let runtime = Runtime::new(store.clone(), config, handlers);
        let (stop, rx) = watch::channel(false);
        let task = runtime.start(rx);
        Self { runtime, stop, task }
    }

    async fn shutdown(self) {
        let _ = self.stop.send(true);
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("runtime stops")
            .unwrap();
    }
}

/// Polls `id` until `done(job)` holds (10 s at most).
async fn wait_for(store: &Arc<dyn MetaStore>, id: &str, done: impl Fn(&Job) -> bool) -> Job {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let job = store.get_job(id).await.unwrap().expect("job exists");
        if done(&job) {
            return job;
        }
        assert!(Instant::now() < deadline, "timed out waiting on job {job:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn finished(job: &Job) -> bool {
    job.status.is_finished()
}

async fn runs_jobs_and_records_results(store: Arc<dyn MetaStore>) {
    let k = kind("echo");
    let node = Node::start(
        &store,
        config(),
        vec![handler(k, 4, |job, ctx| async move {
            Ok(json!({"n": job.payload["n"], "worker": ctx.worker_id, "attempt": ctx.attempt}))
        })],
    );
    assert_eq!(node.runtime.kinds(), &[k]);
    let sink = node.runtime.sink();
    let mut ids = Vec::new();
    for n in 0..20 {
        let (id, inserted) = sink.enqueue(&NewJob::new(k, json!({"v": 1, "n": n}), 3)).await.unwrap();
        assert!(inserted);
        ids.push(id);
    }
    for (n, id) in ids.iter().enumerate() {
        let job = wait_for(&store, id, finished).await;
        assert_eq!(job.status, JobStatus::Succeeded, "{job:?}");
        assert_eq!(job.attempts, 1);
        assert_eq!(job.lease_owner.as_deref(), Some(node.runtime.worker_id()));
        assert_eq!(
            job.result,
            Some(json!({"n": n, "worker": node.runtime.worker_id(), "attempt": 1}))
        );
    }
    node.shutdown().await;
}

async fn retries_with_backoff_then_succeeds(store: Arc<dyn MetaStore>) {
    let k = kind("flaky");
    let node = Node::start(
        &store,
        config(),
        vec![handler(k, 2, |job, ctx| async move {
            match (job.payload["after_ms"].as_u64(), ctx.attempt) {
                (None, 1 | 2) => Err(JobError::retry(format!("flaky {}", ctx.attempt))),
                (Some(ms), 1) => Err(JobError::Retry {
                    message: "later".into(),
                    after: Some(Duration::from_millis(ms)),
                }),
                _ => Ok(json!("third time lucky")),
            }
        })],
    );
    let sink = node.runtime.sink();
    let (id, _) = sink.enqueue(&NewJob::new(k, json!({"v": 1}), 5)).await.unwrap();
    let job = wait_for(&store, &id, finished).await;
    assert_eq!((job.status, job.attempts), (JobStatus::Succeeded, 3));
    assert_eq!(job.last_error.as_deref(), Some("flaky 2"));

    // JobError::Retry { after } is honoured instead of the back-off.
    let (id, _) = sink
        .enqueue(&NewJob::new(k, json!({"v": 1, "after_ms": 1500}), 5))
        .await
        .unwrap();
    let queued = wait_for(&store, &id, |j| j.attempts == 1 && j.status == JobStatus::Queued).await;
    assert!(queued.not_before >= queued.updated_at + 1_400, "{queued:?}");
    let job = wait_for(&store, &id, finished).await;
    assert_eq!((job.status, job.attempts), (JobStatus::Succeeded, 2));

    // The budget runs out: failed after max_attempts.
    let k2 = kind("hopeless");
    node.shutdown().await;
    let node = Node::start(
        &store,
        config(),
        vec![handler(k2, 2, |_, ctx| async move {
            Err(JobError::retry(format!("nope {}", ctx.attempt)))
        })],
    );
    let (id, _) = node
        .runtime
        .sink()
        .enqueue(&NewJob::new(k2, json!({"v": 1}), 3))
        .await
        .unwrap();
    let job = wait_for(&store, &id, finished).await;
    assert_eq!((job.status, job.attempts), (JobStatus::Failed, 3));
    assert_eq!(job.last_error.as_deref(), Some("nope 3"));
    node.shutdown().await;
}

async fn abort_fails_at_once(store: Arc<dyn MetaStore>) {
    let k = kind("abort");
    let node = Node::start(
        &store,
        config(),
        vec![handler(k, 1, |_, _| async { Err(JobError::abort("bad input")) })],
    );
    let (id, _) = node
        .runtime
        .sink()
        .enqueue(&NewJob::new(k, json!({"v": 1}), 5))
        .await
        .unwrap();
    let job = wait_for(&store, &id, finished).await;
    assert_eq!((job.status, job.attempts), (JobStatus::Failed, 1));
    assert_eq!(job.last_error.as_deref(), Some("bad input"));
    assert!(job.finished_at.is_some());
    node.shutdown().await;
}

async fn panic_is_a_failed_attempt(store: Arc<dyn MetaStore>) {
    let k = kind("panicky");
    let node = Node::start(
        &store,
        config(),
        vec![handler(k, 2, |job, ctx| async move {
            if ctx.attempt == 1 || job.max_attempts == 1 {
                panic!("boom on attempt {}", ctx.attempt);
            }
            Ok(json!("recovered"))
        })],
    );
    let sink = node.runtime.sink();
    let (retried, _) = sink.enqueue(&NewJob::new(k, json!({"v": 1}), 3)).await.unwrap();
    let (single, _) = sink.enqueue(&NewJob::new(k, json!({"v": 1}), 1)).await.unwrap();
    let job = wait_for(&store, &retried, finished).await;
    assert_eq!((job.status, job.attempts), (JobStatus::Succeeded, 2));
    assert_eq!(job.last_error.as_deref(), Some("panicked: boom on attempt 1"));
    let job = wait_for(&store, &single, finished).await;
    assert_eq!((job.status, job.attempts), (JobStatus::Failed, 1));
    assert_eq!(job.last_error.as_deref(), Some("panicked: boom on attempt 1"));
    // The runtime survived its handlers' panics.
    let (after, _) = sink.enqueue(&NewJob::new(k, json!({"v": 1}), 3)).await.unwrap();
    assert_eq!(wait_for(&store, &after, finished).await.status, JobStatus::Succeeded);
    node.shutdown().await;
}

/// A handler that records the most jobs it saw running at once.
fn counting(k: &'static str, concurrency: usize, peak: Arc<AtomicUsize>) -> Arc<dyn JobHandler> {
    let now = Arc::new(AtomicUsize::new(0));
    handler(k, concurrency, move |_, _| {
        let (now, peak) = (now.clone(), peak.clone());
        async move {
            let n = now.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(n, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(60)).await;
            now.fetch_sub(1, Ordering::SeqCst);
            Ok(Value::Null)
        }
    })
}

async fn per_kind_concurrency_limits(store: Arc<dyn MetaStore>) {
    let (two, one, off) = (kind("two"), kind("one"), kind("off"));
    let (peak_two, peak_one, peak_off) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let mut cfg = config();
    // Overrides: `one` runs one at a time, `off` never runs on this node.
    cfg.concurrency = BTreeMap::from([(one.to_string(), 1), (off.to_string(), 0)]);
    let node = Node::start(
        &store,
        cfg,
        vec![
            counting(two, 2, peak_two.clone()),
            counting(one, 4, peak_one.clone()),
            counting(off, 4, peak_off.clone()),
        ],
    );
    assert_eq!(node.runtime.kinds().len(), 2);
    let jobs: Vec<NewJob> = (0..8)
        .flat_map(|_| [two, one, off].map(|k| NewJob::new(k, json!({"v": 1}), 1)))
        .collect();
    let ids = node.runtime.sink().enqueue_many(&jobs).await.unwrap();
    for ((id, _), job) in ids.iter().zip(&jobs) {
        if job.kind != off {
            assert_eq!(wait_for(&store, id, finished).await.status, JobStatus::Succeeded);
        }
    }
    assert_eq!(peak_two.load(Ordering::SeqCst), 2);
    assert_eq!(peak_one.load(Ordering::SeqCst), 1);
    assert_eq!(peak_off.load(Ordering::SeqCst), 0);
    assert_eq!(
        store
            .list_jobs(Some(JobStatus::Queued), Some(off), 0)
            .await
            .unwrap()
            .len(),
        8
    );
    node.shutdown().await;
}

/// Another worker takes the job over: the heartbeat notices, the cancel flag is set and the
/// first worker's outcome is not recorded.
async fn lease_loss_sets_the_cancel_flag(store: Arc<dyn MetaStore>) {
    let k = kind("stolen");
    let saw_cancel = Arc::new(AtomicUsize::new(0));
    let node = Node::start(
        &store,
        config(),
        vec![handler(k, 1, {
            let saw_cancel = saw_cancel.clone();
            move |_, ctx| {
                let saw_cancel = saw_cancel.clone();
                async move {
                    let deadline = Instant::now() + Duration::from_secs(10);
                    while !ctx.cancelled.is_cancelled() && Instant::now() < deadline {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    if ctx.cancelled.is_cancelled() {
                        saw_cancel.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(json!("finished by the first worker"))
                }
            }
        })],
    );
    let (id, _) = node
        .runtime
        .sink()
        .enqueue(&NewJob::new(k, json!({"v": 1}), 3))
        .await
        .unwrap();
    wait_for(&store, &id, |j| j.status == JobStatus::Running).await;
    // Simulate the take-over: hand the job back and claim it as another worker.
    assert!(store.release_job(&id, node.runtime.worker_id()).await.unwrap());
    let thief = store.claim("thief", &[k], now_ms(), 60_000).await.unwrap().unwrap();
    assert_eq!(thief.id, id);
    let started = Instant::now();
    while saw_cancel.load(Ordering::SeqCst) == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the cancel flag was never set"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let job = store.get_job(&id).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Running);
    assert_eq!(job.lease_owner.as_deref(), Some("thief"));
    assert_eq!(job.result, None);
    node.shutdown().await;
}

/// A job claimed by a worker that then died is run by a live node once the lease expires.
async fn reclaims_jobs_of_dead_workers(store: Arc<dyn MetaStore>) {
    let k = kind("orphan");
    let (id, _) = store.enqueue(&NewJob::new(k, json!({"v": 1}), 3)).await.unwrap();
    let dead = store.claim("dead-node", &[k], now_ms(), 1_000).await.unwrap().unwrap();
    assert_eq!(dead.id, id);
    let node = Node::start(
        &store,
        config(),
        vec![handler(k, 1, |_, ctx| async move { Ok(json!(ctx.attempt)) })],
    );
    let job = wait_for(&store, &id, finished).await;
    assert_eq!((job.status, job.attempts), (JobStatus::Succeeded, 2));
    assert_eq!(job.lease_owner.as_deref(), Some(node.runtime.worker_id()));
    assert!(job.updated_at >= dead.lease_expires_at.unwrap());
    assert!(job.last_error.unwrap().contains("dead-node"));
    node.shutdown().await;
}

/// Shutdown lets short jobs finish, cancels cooperative ones after the grace period (they
/// record a retry), and aborts and hands back those that ignore cancellation.
async fn graceful_shutdown(store: Arc<dyn MetaStore>) {
    let k = kind("shutdown");
    let mut cfg = config();
    cfg.shutdown_grace_secs = 1;
    let short_go = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let go_in_handler = short_go.clone();
    let node = Node::start(
        &store,
        cfg,
        vec![handler(k, 3, move |job, ctx| {
            let go = go_in_handler.clone();
            async move {
                match job.payload["mode"].as_str() {
                    // Held until the test has seen all three running (no timing race under load).
                    Some("short") => {
                        while !go.load(Ordering::SeqCst) {
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    }
                    Some("cooperative") => {
                        while !ctx.cancelled.is_cancelled() {
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                        return Err(JobError::retry("stopped on cancel"));
                    }
                    _ => tokio::time::sleep(Duration::from_secs(600)).await,
                }
                Ok(json!("done"))
            }
        })],
    );
    let sink = node.runtime.sink();
    let mut ids = Vec::new();
    for mode in ["short", "cooperative", "stubborn"] {
        ids.push(
            sink.enqueue(&NewJob::new(k, json!({"v": 1, "mode": mode}), 3))
                .await
                .unwrap()
                .0,
        );
    }
    for id in &ids {
        wait_for(&store, id, |j| j.status == JobStatus::Running).await;
    }
    assert_eq!(node.runtime.running(), 3);
    short_go.store(true, Ordering::SeqCst);
    let started = Instant::now();
    node.shutdown().await;
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(12),
        "{took:?}"
    );
    let short = store.get_job(&ids[0]).await.unwrap().unwrap();
    assert_eq!(short.status, JobStatus::Succeeded);
    let coop = store.get_job(&ids[1]).await.unwrap().unwrap();
    assert_eq!((coop.status, coop.attempts), (JobStatus::Queued, 1));
    assert_eq!(coop.last_error.as_deref(), Some("stopped on cancel"));
    let stubborn = store.get_job(&ids[2]).await.unwrap().unwrap();
    assert_eq!(
        (stubborn.status, stubborn.attempts),
        (JobStatus::Queued, 0),
        "released, attempt not counted"
    );
    assert_eq!(stubborn.lease_expires_at, None);
}

async fn disabled_runtime_runs_nothing(store: Arc<dyn MetaStore>) {
    let k = kind("disabled");
    let cfg = JobsConfig {
        enabled: false,
        ..config()
    };
    let node = Node::start(&store, cfg, vec![handler(k, 1, |_, _| async { Ok(Value::Null) })]);
    let (id, _) = node
        .runtime
        .sink()
        .enqueue(&NewJob::new(k, json!({"v": 1}), 1))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(store.get_job(&id).await.unwrap().unwrap().status, JobStatus::Queued);
    node.shutdown().await;
}

/// The probe kind and typed payloads: encode adds "v", decode checks it.
async fn probe_appends_start_and_end(store: Arc<dyn MetaStore>) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("probe.log");
    let node = Node::start(&store, config(), vec![Arc::new(ProbeHandler)]);
    let payload = ProbeAppend {
        file: file.display().to_string(),
        ms: 30,
    };
    let job = payload.to_job(3).unwrap();
    assert_eq!(job.kind, "probe.append");
    assert_eq!(job.payload["v"], 1);
    let (id, _) = node.runtime.sink().enqueue(&job).await.unwrap();
    assert_eq!(wait_for(&store, &id, finished).await.status, JobStatus::Succeeded);
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split(' ').collect()).collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0][..3], [id.as_str(), node.runtime.worker_id(), "start"]);
    assert_eq!(lines[1][..3], [id.as_str(), node.runtime.worker_id(), "end"]);
    let (t0, t1): (i64, i64) = (lines[0][3].parse().unwrap(), lines[1][3].parse().unwrap());
    assert!(t1 - t0 >= 30);

    // A payload from a newer release is left for later; a broken one aborts.
    let mut stored = store.get_job(&id).await.unwrap().unwrap();
    stored.payload["v"] = json!(2);
    assert!(matches!(
        decode::<ProbeAppend>(&stored),
        Err(JobError::Retry { after: Some(_), .. })
    ));
    stored.payload = json!({"v": 1, "file": 7});
    assert!(matches!(decode::<ProbeAppend>(&stored), Err(JobError::Abort(_))));
    stored.payload = json!({"file": "x", "ms": 1});
    assert!(matches!(decode::<ProbeAppend>(&stored), Err(JobError::Abort(_))));
    node.shutdown().await;
}

macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    vod_db::testing::run_on_sqlite(concat!("runtime::sqlite::", stringify!($case)), super::$case).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    vod_db::testing::run_on_postgres(concat!("runtime::postgres::", stringify!($case)), super::$case).await;
                }
            )*
        }
    };
}

on_both_backends!(
    runs_jobs_and_records_results,
    retries_with_backoff_then_succeeds,
    abort_fails_at_once,
    panic_is_a_failed_attempt,
    per_kind_concurrency_limits,
    lease_loss_sets_the_cancel_flag,
    reclaims_jobs_of_dead_workers,
    graceful_shutdown,
    disabled_runtime_runs_nothing,
    probe_appends_start_and_end,
);
