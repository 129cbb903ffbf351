//! Contract cases of `JobRepo` (the durable job queue): claim order and kind filter,
//! `not_before`, leases (expiry, heartbeat, take-over), retries and their budget,
//! `give_up_at`, unique keys, operator actions (retry, cancel), listing and counting, and
//! claims racing from two stores on one database.
//!
//! Cases pass explicit times (`now`) to `claim`, so leases expire without sleeping.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::json;
use vod_core::CoreError;
use vod_core::model::{JobStatus, NewJob};
use vod_core::now_ms;
use vod_core::ports::{JobCount, MetaStore};

use super::unique;

const MIN: i64 = 60_000;

/// A job of `kind`, runnable from `not_before`, with 3 attempts.
pub fn new_job(kind: &str, not_before: i64) -> NewJob {
    let mut job = NewJob::new(kind, json!({"v": 1, "n": unique("payload")}), 3);
    job.not_before = not_before;
    job
}

async fn enqueue(store: &Arc<dyn MetaStore>, job: &NewJob) -> String {
    let (id, inserted) = store.enqueue(job).await.unwrap();
    assert!(inserted, "{} not inserted", job.id);
    assert_eq!(id, job.id);
    id
}

async fn status(store: &Arc<dyn MetaStore>, id: &str) -> JobStatus {
    store.get_job(id).await.unwrap().expect("job exists").status
}

pub async fn jobs_enqueue_claim_order_and_kinds(store: Arc<dyn MetaStore>) {
    let (a, b) = (unique("kind-a"), unique("kind-b"));
    let t = now_ms() - MIN;
    // Same not_before: enqueue order decides; an earlier not_before goes first.
    let a1 = enqueue(&store, &new_job(&a, t)).await;
    let b1 = enqueue(&store, &new_job(&b, t)).await;
    let a2 = enqueue(&store, &new_job(&a, t)).await;
    let a0 = enqueue(&store, &new_job(&a, t - 1)).await;

    let stored = store.get_job(&a1).await.unwrap().unwrap();
    assert_eq!(stored.status, JobStatus::Queued);
    assert_eq!(stored.attempts, 0);
    assert_eq!(stored.max_attempts, 3);
    assert_eq!(stored.kind, a);
    assert_eq!(stored.payload["v"], 1);
    assert_eq!(stored.lease_owner, None);
    assert_eq!(stored.finished_at, None);

    let now = now_ms();
    assert!(
        store.claim("w1", &[], now, MIN).await.unwrap().is_none(),
        "no kinds, no job"
    );
    assert!(store.claim("w1", &["other.kind"], now, MIN).await.unwrap().is_none());
    let mut order = Vec::new();
    while let Some(job) = store.claim("w1", &[&a], now, MIN).await.unwrap() {
        assert_eq!(job.status, JobStatus::Running);
        assert_eq!(job.attempts, 1);
        assert_eq!(job.lease_owner.as_deref(), Some("w1"));
        assert_eq!(job.lease_expires_at, Some(now + MIN));
        order.push(job.id);
    }
    assert_eq!(order, vec![a0, a1, a2]);
    assert_eq!(status(&store, &b1).await, JobStatus::Queued);
    let b = store.claim("w2", &["other.kind", &b], now, MIN).await.unwrap().unwrap();
    assert_eq!(b.id, b1);
    assert_eq!(b.lease_owner.as_deref(), Some("w2"));
}

pub async fn jobs_not_before_respected(store: Arc<dyn MetaStore>) {
    let kind = unique("kind");
    let t = now_ms();
    let later = enqueue(&store, &new_job(&kind, t + 10_000)).await;
    assert!(store.claim("w", &[&kind], t, MIN).await.unwrap().is_none());
    assert!(store.claim("w", &[&kind], t + 9_999, MIN).await.unwrap().is_none());
    let job = store.claim("w", &[&kind], t + 10_000, MIN).await.unwrap().unwrap();
    assert_eq!(job.id, later);
}

pub async fn jobs_lease_expiry_reclaims(store: Arc<dyn MetaStore>) {
    let kind = unique("kind");
    let t = now_ms() - MIN;
    let id = enqueue(&store, &new_job(&kind, t)).await;
    let first = store.claim("dead", &[&kind], t, 1_000).await.unwrap().unwrap();
    assert_eq!((first.id.as_str(), first.attempts), (id.as_str(), 1));
    // While the lease holds, nobody else gets the job.
    assert!(store.claim("w2", &[&kind], t + 1_000, 1_000).await.unwrap().is_none());
    // After it expires the job is claimed again, counting a new attempt.
    let second = store.claim("w2", &[&kind], t + 1_001, 1_000).await.unwrap().unwrap();
    assert_eq!(second.id, id);
    assert_eq!(second.attempts, 2);
    assert_eq!(second.lease_owner.as_deref(), Some("w2"));
    assert!(
        second.last_error.as_deref().unwrap_or_default().contains("dead"),
        "{:?}",
        second.last_error
    );
    // The dead worker can no longer touch it.
    assert!(!store.heartbeat(&id, "dead", t + 99_000).await.unwrap());
    assert!(!store.succeed(&id, "dead", &json!({"by": "dead"})).await.unwrap());
    assert!(!store.fail_attempt(&id, "dead", "late", None).await.unwrap());
    assert!(!store.release_job(&id, "dead").await.unwrap());
    let job = store.get_job(&id).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Running);
    assert_eq!(job.lease_owner.as_deref(), Some("w2"));
    assert!(store.succeed(&id, "w2", &json!({"by": "w2"})).await.unwrap());
    let job = store.get_job(&id).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Succeeded);
    assert_eq!(job.result, Some(json!({"by": "w2"})));
    assert!(job.finished_at.is_some());
    assert_eq!(job.lease_expires_at, None);
    // A finished job is never claimed again, whatever the clock says.
    assert!(
        store
            .claim("w3", &[&kind], t + 100 * MIN, 1_000)
            .await
            .unwrap()
            .is_none()
    );
    assert!(!store.succeed(&id, "w2", &json!(null)).await.unwrap(), "succeed twice");

    // A job whose last attempt's worker died fails instead of running a fourth time.
    let mut last = new_job(&kind, t);
    last.max_attempts = 2;
    let id = enqueue(&store, &last).await;
    store.claim("d1", &[&kind], t, 1_000).await.unwrap().unwrap();
    store.claim("d2", &[&kind], t + 2_000, 1_000).await.unwrap().unwrap();
    assert!(store.claim("w", &[&kind], t + 4_000, 1_000).await.unwrap().is_none());
    let job = store.get_job(&id).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Failed);
    assert_eq!(job.attempts, 2);
    assert!(job.finished_at.is_some());
    assert!(job.last_error.unwrap().contains("lost"));
}

pub async fn jobs_heartbeat_extends_and_detects_loss(store: Arc<dyn MetaStore>) {
    let kind = unique("kind");
    let t = now_ms() - MIN;
    let id = enqueue(&store, &new_job(&kind, t)).await;
    store.claim("w1", &[&kind], t, 1_000).await.unwrap().unwrap();
    assert!(store.heartbeat(&id, "w1", t + 5_000).await.unwrap());
    assert_eq!(
        store.get_job(&id).await.unwrap().unwrap().lease_expires_at,
        Some(t + 5_000)
    );
    // The extended lease protects the job past the original expiry.
    assert!(store.claim("w2", &[&kind], t + 4_000, 1_000).await.unwrap().is_none());
    assert!(!store.heartbeat(&id, "w2", t + 9_000).await.unwrap(), "not the owner");
    assert!(!store.heartbeat("no-such-job", "w1", t + 9_000).await.unwrap());
    // Expired and taken over: the first worker's heartbeat reports the loss.
    store.claim("w2", &[&kind], t + 5_001, 1_000).await.unwrap().unwrap();
    assert!(!store.heartbeat(&id, "w1", t + 9_000).await.unwrap());
    assert!(store.heartbeat(&id, "w2", t + 9_000).await.unwrap());
    // An expired lease not yet taken over may still be renewed by its owner.
    assert!(store.heartbeat(&id, "w2", t + 1).await.unwrap());
    // Heartbeats on finished jobs fail.
    assert!(store.succeed(&id, "w2", &json!({})).await.unwrap());
    assert!(!store.heartbeat(&id, "w2", t + 20_000).await.unwrap());
}

pub async fn jobs_retry_backoff_then_success(store: Arc<dyn MetaStore>) {
    let kind = unique("kind");
    let t = now_ms() - 10 * MIN;
    let id = enqueue(&store, &new_job(&kind, t)).await;
    store.claim("w", &[&kind], t, MIN).await.unwrap().unwrap();
    assert!(store.fail_attempt(&id, "w", "boom 1", Some(t + 2_000)).await.unwrap());
    let job = store.get_job(&id).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Queued);
    assert_eq!(job.not_before, t + 2_000);
    assert_eq!(job.last_error.as_deref(), Some("boom 1"));
    assert_eq!(job.lease_expires_at, None);
    assert_eq!(job.finished_at, None);
    // Backing off: not claimable before retry_at.
    assert!(store.claim("w", &[&kind], t + 1_999, MIN).await.unwrap().is_none());
    let again = store.claim("w", &[&kind], t + 2_000, MIN).await.unwrap().unwrap();
    assert_eq!(again.attempts, 2);
    assert_eq!(again.last_error.as_deref(), Some("boom 1"));
    assert!(store.succeed(&id, "w", &json!({"ok": true})).await.unwrap());
    let job = store.get_job(&id).await.unwrap().unwrap();
    assert_eq!((job.status, job.attempts), (JobStatus::Succeeded, 2));
    assert_eq!(job.result, Some(json!({"ok": true})));
}

pub async fn jobs_retry_budget_exhausted(store: Arc<dyn MetaStore>) {
    let kind = unique("kind");
    let t = now_ms() - 10 * MIN;
    let id = enqueue(&store, &new_job(&kind, t)).await; // 3 attempts
    for attempt in 1..=3 {
        let job = store.claim("w", &[&kind], t + attempt, MIN).await.unwrap().unwrap();
        assert_eq!(job.attempts, attempt);
        // The worker asks for a retry every time; the third time the budget says no.
        assert!(
            store
                .fail_attempt(&id, "w", &format!("boom {attempt}"), Some(t + attempt))
                .await
                .unwrap()
        );
    }
    let job = store.get_job(&id).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Failed);
    assert_eq!(job.attempts, 3);
    assert_eq!(job.last_error.as_deref(), Some("boom 3"));
    assert!(job.finished_at.is_some());
    assert!(store.claim("w", &[&kind], t + MIN, MIN).await.unwrap().is_none());

    // retry_at = None fails at once, whatever attempts remain.
    let id = enqueue(&store, &new_job(&kind, t)).await;
    store.claim("w", &[&kind], t, MIN).await.unwrap().unwrap();
    assert!(store.fail_attempt(&id, "w", "fatal", None).await.unwrap());
    let job = store.get_job(&id).await.unwrap().unwrap();
    assert_eq!((job.status, job.attempts), (JobStatus::Failed, 1));
    assert!(
        !store.fail_attempt(&id, "w", "again", None).await.unwrap(),
        "not running any more"
    );
}

pub async fn jobs_give_up_at_honoured(store: Arc<dyn MetaStore>) {
    let kind = unique("kind");
    let t = now_ms() - 10 * MIN;
    // A queued job past its deadline fails when a claim reaches it, and the claim goes on
    // to the next job.
    let mut late = new_job(&kind, t);
    late.give_up_at = Some(t + 1_000);
    let late = enqueue(&store, &late).await;
    let next = enqueue(&store, &new_job(&kind, t + 1)).await;
    let job = store.claim("w", &[&kind], t + 1_000, MIN).await.unwrap().unwrap();
    assert_eq!(job.id, next);
    let failed = store.get_job(&late).await.unwrap().unwrap();
    assert_eq!(failed.status, JobStatus::Failed);
    assert_eq!(failed.attempts, 0);
    assert!(failed.last_error.unwrap().contains("give_up_at"));

    // A retry that would start after the deadline fails now instead.
    let mut job = new_job(&kind, t);
    job.give_up_at = Some(t + 5_000);
    let id = enqueue(&store, &job).await;
    store.claim("w", &[&kind], t, MIN).await.unwrap().unwrap();
    assert!(store.fail_attempt(&id, "w", "slow", Some(t + 4_000)).await.unwrap());
    assert_eq!(status(&store, &id).await, JobStatus::Queued);
    store.claim("w", &[&kind], t + 4_000, MIN).await.unwrap().unwrap();
    assert!(store.fail_attempt(&id, "w", "slower", Some(t + 5_001)).await.unwrap());
    let job = store.get_job(&id).await.unwrap().unwrap();
    assert_eq!((job.status, job.attempts), (JobStatus::Failed, 2));
    assert_eq!(job.last_error.as_deref(), Some("slower"));
}

pub async fn jobs_unique_key_dedupe(store: Arc<dyn MetaStore>) {
    let kind = unique("kind");
    let key = unique("key");
    let t = now_ms() - MIN;
    let mut first = new_job(&kind, t);
    first.unique_key = Some(key.clone());
    let first_id = enqueue(&store, &first).await;
    // Queued: a second job with the key is not stored; the holder's id comes back.
    let mut dup = new_job(&kind, t);
    dup.unique_key = Some(key.clone());
    assert_eq!(store.enqueue(&dup).await.unwrap(), (first_id.clone(), false));
    assert_eq!(store.get_job(&dup.id).await.unwrap(), None);
    // Running: still held.
    store.claim("w", &[&kind], t, MIN).await.unwrap().unwrap();
    assert_eq!(store.enqueue(&dup).await.unwrap(), (first_id.clone(), false));
    // Other keys and keyless jobs are unaffected.
    let mut other = new_job(&kind, t);
    other.unique_key = Some(unique("key"));
    enqueue(&store, &other).await;
    enqueue(&store, &new_job(&kind, t)).await;
    // Finished: the key is free again.
    assert!(store.succeed(&first_id, "w", &json!({})).await.unwrap());
    assert_eq!(store.enqueue(&dup).await.unwrap(), (dup.id.clone(), true));
    // A failed holder frees it too, and enqueuing a taken id is an error.
    let mut third = new_job(&kind, t);
    third.unique_key = Some(key.clone());
    assert_eq!(store.enqueue(&third).await.unwrap(), (dup.id.clone(), false));
    let mut same_id = new_job(&kind, t);
    same_id.id = other.id.clone();
    assert!(matches!(
        store.enqueue(&same_id).await,
        Err(CoreError::AlreadyExists { kind: "Job", .. })
    ));

    // Concurrent enqueues of one key: exactly one is stored, all report its id.
    let key = unique("race");
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (store, kind, key) = (store.clone(), kind.clone(), key.clone());
            tokio::spawn(async move {
                let mut job = new_job(&kind, t);
                job.unique_key = Some(key);
                store.enqueue(&job).await.unwrap()
            })
        })
        .collect();
    let mut ids = HashSet::new();
    let mut inserted = 0;
    for task in tasks {
        let (id, new) = task.await.unwrap();
        ids.insert(id);
        inserted += usize::from(new);
    }
    assert_eq!((ids.len(), inserted), (1, 1), "{ids:?}");
}

pub async fn jobs_enqueue_many_one_transaction(store: Arc<dyn MetaStore>) {
    let kind = unique("kind");
    let t = now_ms() - MIN;
    let key = unique("key");
    let mut a = new_job(&kind, t);
    a.unique_key = Some(key.clone());
    let mut b = new_job(&kind, t);
    b.unique_key = Some(key.clone());
    let c = new_job(&kind, t);
    let got = store.enqueue_many(&[a.clone(), b.clone(), c.clone()]).await.unwrap();
    assert_eq!(
        got,
        vec![(a.id.clone(), true), (a.id.clone(), false), (c.id.clone(), true)]
    );
    assert!(store.enqueue_many(&[]).await.unwrap().is_empty());
    // All or none: a batch with a taken id stores nothing.
    let d = new_job(&kind, t);
    let mut dup = new_job(&kind, t);
    dup.id = c.id.clone();
    assert!(store.enqueue_many(&[d.clone(), dup]).await.is_err());
    assert_eq!(store.get_job(&d.id).await.unwrap(), None);
    assert_eq!(store.list_jobs(None, Some(&kind), 0).await.unwrap().len(), 2);
}

pub async fn jobs_retry_and_cancel(store: Arc<dyn MetaStore>) {
    let kind = unique("kind");
    let t = now_ms() - 10 * MIN;
    let mut job = new_job(&kind, t);
    job.max_attempts = 1;
    job.give_up_at = Some(now_ms() + MIN);
    let id = enqueue(&store, &job).await;
    let created_at = store.get_job(&id).await.unwrap().unwrap().created_at;
    // Only failed or cancelled jobs can be retried, only queued ones cancelled.
    assert!(!store.retry_job(&id).await.unwrap());
    store.claim("w", &[&kind], t, MIN).await.unwrap().unwrap();
    assert!(!store.cancel_job(&id).await.unwrap(), "running jobs are not cancelled");
    assert!(!store.retry_job(&id).await.unwrap());
    assert!(store.fail_attempt(&id, "w", "broken", Some(t)).await.unwrap());
    assert_eq!(status(&store, &id).await, JobStatus::Failed, "one attempt only");

    let before = now_ms();
    assert!(store.retry_job(&id).await.unwrap());
    let job = store.get_job(&id).await.unwrap().unwrap();
    assert_eq!((job.status, job.attempts), (JobStatus::Queued, 0));
    assert!(job.not_before >= before);
    assert_eq!(job.finished_at, None);
    assert_eq!(
        job.last_error.as_deref(),
        Some("broken"),
        "the last error stays visible"
    );
    let window = (now_ms() + MIN) - created_at;
    let give_up_at = job.give_up_at.unwrap();
    assert!(give_up_at >= before + window - 5_000, "deadline renewed: {give_up_at}");
    let again = store.claim("w", &[&kind], now_ms(), MIN).await.unwrap().unwrap();
    assert_eq!((again.id.as_str(), again.attempts), (id.as_str(), 1));
    assert!(store.succeed(&id, "w", &json!({})).await.unwrap());
    assert!(!store.retry_job(&id).await.unwrap(), "succeeded jobs stay done");

    let queued = enqueue(&store, &new_job(&kind, t)).await;
    assert!(store.cancel_job(&queued).await.unwrap());
    assert!(!store.cancel_job(&queued).await.unwrap());
    let job = store.get_job(&queued).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Cancelled);
    assert!(job.finished_at.is_some());
    assert!(store.claim("w", &[&kind], now_ms(), MIN).await.unwrap().is_none());
    assert!(store.retry_job(&queued).await.unwrap());
    assert_eq!(status(&store, &queued).await, JobStatus::Queued);
    assert!(!store.retry_job("no-such-job").await.unwrap());
    assert!(!store.cancel_job("no-such-job").await.unwrap());

    // Retrying a job whose unique key an active job now holds is refused.
    let key = unique("key");
    let mut keyed = new_job(&kind, t);
    keyed.unique_key = Some(key.clone());
    let keyed = enqueue(&store, &keyed).await;
    assert!(store.cancel_job(&keyed).await.unwrap());
    let mut holder = new_job(&kind, t);
    holder.unique_key = Some(key);
    enqueue(&store, &holder).await;
    assert!(matches!(
        store.retry_job(&keyed).await,
        Err(CoreError::AlreadyExists { .. })
    ));
    assert_eq!(status(&store, &keyed).await, JobStatus::Cancelled);
}

pub async fn jobs_release_returns_attempt(store: Arc<dyn MetaStore>) {
    let kind = unique("kind");
    let t = now_ms() - MIN;
    let id = enqueue(&store, &new_job(&kind, t)).await;
    store.claim("w", &[&kind], t, MIN).await.unwrap().unwrap();
    assert!(!store.release_job(&id, "other").await.unwrap());
    assert!(store.release_job(&id, "w").await.unwrap());
    let job = store.get_job(&id).await.unwrap().unwrap();
    assert_eq!(
        (job.status, job.attempts, job.lease_expires_at),
        (JobStatus::Queued, 0, None)
    );
    let again = store.claim("w2", &[&kind], now_ms(), MIN).await.unwrap().unwrap();
    assert_eq!((again.id.as_str(), again.attempts), (id.as_str(), 1));
}

pub async fn jobs_list_counts_and_purge(store: Arc<dyn MetaStore>) {
    let (a, b) = (unique("kind-a"), unique("kind-b"));
    let t = now_ms() - MIN;
    let mut ids = Vec::new();
    for kind in [&a, &b, &a, &a, &b] {
        ids.push(enqueue(&store, &new_job(kind, t)).await);
    }
    let listed: Vec<String> = store
        .list_jobs(None, None, 0)
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.id)
        .collect();
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();
    assert_eq!(listed, newest_first);
    assert_eq!(store.list_jobs(None, None, 2).await.unwrap().len(), 2);
    let only_a = store.list_jobs(None, Some(&a), 0).await.unwrap();
    assert_eq!(
        only_a.iter().map(|j| j.id.clone()).collect::<Vec<_>>(),
        vec![ids[3].clone(), ids[2].clone(), ids[0].clone()]
    );

    // a: one running, one failed; b: one succeeded.
    let ra = store.claim("w", &[&a], t, MIN).await.unwrap().unwrap();
    assert_eq!(ra.id, ids[0]);
    let fa = store.claim("w", &[&a], t, MIN).await.unwrap().unwrap();
    assert!(store.fail_attempt(&fa.id, "w", "no", None).await.unwrap());
    let sb = store.claim("w", &[&b], t, MIN).await.unwrap().unwrap();
    assert!(store.succeed(&sb.id, "w", &json!(1)).await.unwrap());

    let running = store.list_jobs(Some(JobStatus::Running), None, 0).await.unwrap();
    assert_eq!(
        running.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(),
        vec![ra.id.as_str()]
    );
    let failed = store.list_jobs(Some(JobStatus::Failed), Some(&a), 10).await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].last_error.as_deref(), Some("no"));
    assert!(
        store
            .list_jobs(Some(JobStatus::Failed), Some(&b), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.list_jobs(Some(JobStatus::Queued), None, 0).await.unwrap().len(),
        2
    );

    let counts: HashMap<(String, JobStatus), i64> = store
        .counts_by_status()
        .await
        .unwrap()
        .into_iter()
        .map(|JobCount { kind, status, count }| ((kind, status), count))
        .collect();
    let expect: HashMap<(String, JobStatus), i64> = [
        ((a.clone(), JobStatus::Queued), 1),
        ((a.clone(), JobStatus::Running), 1),
        ((a.clone(), JobStatus::Failed), 1),
        ((b.clone(), JobStatus::Queued), 1),
        ((b.clone(), JobStatus::Succeeded), 1),
    ]
    .into_iter()
    .collect();
    assert_eq!(counts, expect);

    // Purging removes finished jobs only, by finish time.
    assert_eq!(store.purge_finished_jobs(0).await.unwrap(), 0);
    assert_eq!(store.purge_finished_jobs(now_ms() + 1).await.unwrap(), 2);
    assert_eq!(store.list_jobs(None, None, 0).await.unwrap().len(), 3);
    assert_eq!(store.get_job(&sb.id).await.unwrap(), None);
}

/// Claimers on both stores race for 200 jobs of two kinds; every job must be claimed exactly once.
async fn concurrent_claims(a: Arc<dyn MetaStore>, b: Arc<dyn MetaStore>) {
    let (k1, k2) = (unique("race-1"), unique("race-2"));
    let t = now_ms() - MIN;
    let jobs: Vec<NewJob> = (0..200)
        .map(|i| new_job(if i % 2 == 0 { &k1 } else { &k2 }, t + i))
        .collect();
    for chunk in jobs.chunks(50) {
        a.enqueue_many(chunk).await.unwrap();
    }
    let claimed = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let store = if i % 2 == 0 { a.clone() } else { b.clone() };
            let (k1, k2, claimed) = (k1.clone(), k2.clone(), claimed.clone());
            tokio::spawn(async move {
                let worker = format!("worker-{i}");
                let mut mine = Vec::new();
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
                while claimed.load(Ordering::SeqCst) < 200 {
                    assert!(std::time::Instant::now() < deadline, "claims stalled");
                    match store.claim(&worker, &[&k1, &k2], now_ms(), 10 * MIN).await.unwrap() {
                        Some(job) => {
                            assert_eq!(job.lease_owner.as_deref(), Some(worker.as_str()));
                            assert_eq!(job.attempts, 1, "{} claimed twice", job.id);
                            claimed.fetch_add(1, Ordering::SeqCst);
                            mine.push(job.id);
                        }
                        // Everything left may be locked by the others for a moment.
                        None => tokio::time::sleep(std::time::Duration::from_millis(2)).await,
                    }
                }
                mine
            })
        })
        .collect();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for task in tasks {
        for id in task.await.unwrap() {
            *seen.entry(id).or_default() += 1;
        }
    }
    assert_eq!(seen.len(), 200);
    for job in &jobs {
        assert_eq!(
            seen.get(&job.id),
            Some(&1),
            "job {} claimed {:?} times",
            job.id,
            seen.get(&job.id)
        );
    }
    assert!(a.claim("late", &[&k1, &k2], now_ms(), MIN).await.unwrap().is_none());
    assert_eq!(
        b.list_jobs(Some(JobStatus::Running), None, 500).await.unwrap().len(),
        200
    );
}

pub async fn jobs_concurrent_claims(store: Arc<dyn MetaStore>) {
    concurrent_claims(store.clone(), store).await;
}

/// The same race between two stores (two pools) on one database, as two nodes run it.
pub async fn jobs_concurrent_claims_two_stores(a: Arc<dyn MetaStore>, b: Arc<dyn MetaStore>) {
    concurrent_claims(a, b).await;
}
