//! `JobRepo` for `SqlStore`: table `jobs` (the durable job queue), and [`insert_jobs`], the
//! helper other repositories call to enqueue jobs inside the transaction of the state change
//! that causes them (the outbox pattern).
//!
//! Claiming: a cheap read first checks that something is claimable (so idle pollers never
//! take SQLite's write lock); then one write transaction picks the oldest claimable row and
//! updates it. On PostgreSQL the pick is `SELECT … FOR UPDATE SKIP LOCKED`, so concurrent
//! claimers skip each other's rows instead of waiting; on SQLite the transaction is
//! `BEGIN IMMEDIATE`, which serialises writers.

use async_trait::async_trait;
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};
use vod_core::model::{Job, JobStatus, NewJob};
use vod_core::ports::{BackendKind, JobCount, JobRepo};
use vod_core::{CoreError, CoreResult, now_ms};

use crate::error::{exists_or, map};
use crate::store::{SqlStore, get, get_enum};

const COLS: &str = "id, kind, payload, status, unique_key, attempts, max_attempts, not_before, give_up_at, \
                    lease_owner, lease_expires_at, last_error, result, created_at, updated_at, finished_at";

/// The active statuses, as the partial indexes spell them (SQLite only uses a partial index
/// when the query repeats its condition).
const ACTIVE: &str = "status IN ('queued', 'running')";

/// The table as claims read it. Without statistics (nothing runs ANALYZE) SQLite's planner
/// prefers `jobs_kind_idx` for the claimability probe and walks every finished job of the
/// kind before the first active one, and with several kinds it scans the whole table for the
/// claim: a claim then costs O(jobs ever run) and throughput sinks as history grows (250
/// callbacks/s after 10,000, 111/s after 20,000 in the `callbacks` bench). The partial
/// index holds active jobs only.
fn claim_source(kind: BackendKind) -> &'static str {
    match kind {
        BackendKind::Sqlite => "jobs INDEXED BY jobs_active_idx",
        BackendKind::Postgres => "jobs",
    }
}

/// How many dead jobs (attempts used up, deadline passed) one claim may fail on its way to a
/// runnable one before it commits and reports "nothing claimed this time".
const MAX_DEAD_PER_CLAIM: usize = 32;

fn json_from(row: &AnyRow, col: &str) -> CoreResult<Value> {
    let s: String = get(row, col)?;
    serde_json::from_str(&s).map_err(|e| CoreError::Internal(format!("bad JSON in jobs.{col}: {e}")))
}

fn job_from(row: &AnyRow) -> CoreResult<Job> {
    let result: Option<String> = get(row, "result")?;
    Ok(Job {
        id: get(row, "id")?,
        kind: get(row, "kind")?,
        payload: json_from(row, "payload")?,
        status: get_enum(row, "status", JobStatus::parse)?,
        unique_key: get(row, "unique_key")?,
        attempts: get(row, "attempts")?,
        max_attempts: get(row, "max_attempts")?,
        not_before: get(row, "not_before")?,
        give_up_at: get(row, "give_up_at")?,
        lease_owner: get(row, "lease_owner")?,
        lease_expires_at: get(row, "lease_expires_at")?,
        last_error: get(row, "last_error")?,
        result: result
            .map(|s| serde_json::from_str(&s))
            .transpose()
            .map_err(|e| CoreError::Internal(format!("bad JSON in jobs.result: {e}")))?,
        created_at: get(row, "created_at")?,
        updated_at: get(row, "updated_at")?,
        finished_at: get(row, "finished_at")?,
    })
}

/// `$first, $first+1, …` for `n` values (the Any driver binds no arrays).
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Enqueues `jobs` inside the caller's transaction `tx`, so they become visible exactly when
/// (and only if) the caller's own state change commits — the way to "enqueue in the same
/// transaction as the state change that causes it". Returns `(id, inserted)` per job with
/// [`JobRepo::enqueue`] semantics: a job whose `unique_key` is held by a queued or running
/// job (committed, or inserted earlier in this transaction) is not stored and the holder's
/// id comes back with `inserted = false`. `AlreadyExists` (kind "Job") when an id is taken.
///
/// On SQLite, start `tx` with `SqlStore::begin_write` (`BEGIN IMMEDIATE`). Nothing here
/// wakes the local workers; they see the jobs on their next poll (≤ `jobs.poll_ms`) unless
/// the caller also notifies them (see `vod_jobs::JobSink`).
pub(crate) async fn insert_jobs(tx: &mut Transaction<'_, Any>, jobs: &[NewJob]) -> CoreResult<Vec<(String, bool)>> {
    let now = now_ms();
    let mut out = Vec::with_capacity(jobs.len());
    for job in jobs {
        if job.kind.is_empty() {
            return Err(CoreError::invalid("kind", "a job needs a kind"));
        }
        let payload = serde_json::to_string(&job.payload)
            .map_err(|e| CoreError::Internal(format!("cannot encode a job payload: {e}")))?;
        out.push(insert_one(tx, job, &payload, now).await?);
    }
    Ok(out)
}

/// One job of [`insert_jobs`]. On PostgreSQL the job holding the unique key may finish
/// between our conflicting insert and the look-up of its id; then the insert is tried again.
async fn insert_one(
    tx: &mut Transaction<'_, Any>,
    job: &NewJob,
    payload: &str,
    now: i64,
) -> CoreResult<(String, bool)> {
    for _ in 0..5 {
        let done = sqlx::query(
            "INSERT INTO jobs (id, kind, payload, status, unique_key, attempts, max_attempts, not_before, \
             give_up_at, created_at, updated_at) \
             VALUES ($1, $2, $3, 'queued', $4, 0, $5, $6, $7, $8, $8) ON CONFLICT DO NOTHING",
        )
        .bind(&job.id)
        .bind(&job.kind)
        .bind(payload)
        .bind(job.unique_key.as_deref())
        .bind(job.max_attempts.max(1))
        .bind(job.not_before)
        .bind(job.give_up_at)
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(|e| exists_or(e, "Job", &job.id))?;
        if done.rows_affected() == 1 {
            return Ok((job.id.clone(), true));
        }
        // Either an active job holds the unique key or the id is taken.
        if let Some(key) = &job.unique_key {
            let holder = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT id FROM jobs WHERE unique_key = $1 AND {ACTIVE} AND unique_key IS NOT NULL"
            )))
            .bind(key)
            .fetch_optional(&mut **tx)
            .await
            .map_err(map)?;
            if let Some(row) = holder {
                return Ok((get(&row, "id")?, false));
            }
        }
        let taken = sqlx::query("SELECT id FROM jobs WHERE id = $1")
            .bind(&job.id)
            .fetch_optional(&mut **tx)
            .await
            .map_err(map)?;
        if taken.is_some() {
            return Err(CoreError::AlreadyExists {
                kind: "Job",
                id: job.id.clone(),
            });
        }
    }
    Err(CoreError::Unavailable(format!(
        "job {}: its unique key kept changing hands while enqueuing; try again",
        job.id
    )))
}

impl SqlStore {
    /// Picks and claims one job inside `tx`; see [`JobRepo::claim`].
    async fn claim_in(
        &self,
        tx: &mut Transaction<'static, Any>,
        worker_id: &str,
        kinds: &[&str],
        now: i64,
        lease_ms: i64,
    ) -> CoreResult<Option<Job>> {
        let lock = match self.kind {
            BackendKind::Postgres => " FOR UPDATE SKIP LOCKED",
            BackendKind::Sqlite => "",
        };
        let pick = format!(
            "SELECT {COLS} FROM {} WHERE {ACTIVE} AND kind IN ({}) \
             AND ((status = 'queued' AND not_before <= $1) OR (status = 'running' AND lease_expires_at < $1)) \
             ORDER BY not_before, seq LIMIT 1{lock}",
            claim_source(self.kind),
            placeholders(2, kinds.len())
        );
        for _ in 0..MAX_DEAD_PER_CLAIM {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(pick.clone())).bind(now);
            for k in kinds {
                q = q.bind(*k);
            }
            let Some(row) = q.fetch_optional(&mut **tx).await.map_err(map)? else {
                return Ok(None);
            };
            let job = job_from(&row)?;
            let expired_lease = job.status == JobStatus::Running;
            let dead = if job.give_up_at.is_some_and(|g| g <= now) {
                Some("gave up: the job's deadline (give_up_at) passed before it could run".to_string())
            } else if job.attempts >= job.max_attempts {
                // Only a running job whose worker died can get here: its last attempt's lease expired.
                Some(format!(
                    "attempt {} of {} was lost (its worker stopped renewing the lease){}",
                    job.attempts,
                    job.max_attempts,
                    job.last_error
                        .as_deref()
                        .map(|e| format!("; previous error: {e}"))
                        .unwrap_or_default()
                ))
            } else {
                None
            };
            if let Some(error) = dead {
                sqlx::query(
                    "UPDATE jobs SET status = 'failed', last_error = $2, lease_expires_at = NULL, \
                     updated_at = $3, finished_at = $3 WHERE id = $1",
                )
                .bind(&job.id)
                .bind(error)
                .bind(now)
                .execute(&mut **tx)
                .await
                .map_err(map)?;
                continue;
            }
            let lost = expired_lease.then(|| {
                format!(
                    "attempt {} lost: worker {} stopped renewing its lease",
                    job.attempts,
                    job.lease_owner.as_deref().unwrap_or("?")
                )
            });
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_owner = $2, \
                 lease_expires_at = $3, updated_at = $4, last_error = COALESCE($5, last_error) \
                 WHERE id = $1 RETURNING {COLS}"
            )))
            .bind(&job.id)
            .bind(worker_id)
            .bind(now.saturating_add(lease_ms))
            .bind(now)
            .bind(lost)
            .fetch_one(&mut **tx)
            .await
            .map_err(map)?;
            return job_from(&row).map(Some);
        }
        Ok(None)
    }

    /// Whether anything of `kinds` is claimable at `now` (a read, no locks).
    async fn anything_claimable(&self, kinds: &[&str], now: i64) -> CoreResult<bool> {
        let sql = format!(
            "SELECT id FROM {} WHERE {ACTIVE} AND kind IN ({}) \
             AND ((status = 'queued' AND not_before <= $1) OR (status = 'running' AND lease_expires_at < $1)) LIMIT 1",
            claim_source(self.kind),
            placeholders(2, kinds.len())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now);
        for k in kinds {
            q = q.bind(*k);
        }
        Ok(q.fetch_optional(&self.pool).await.map_err(map)?.is_some())
    }
}

#[async_trait]
impl JobRepo for SqlStore {
    async fn enqueue(&self, job: &NewJob) -> CoreResult<(String, bool)> {
        let mut all = self.enqueue_many(std::slice::from_ref(job)).await?;
        all.pop()
            .ok_or_else(|| CoreError::Internal("enqueue returned nothing".into()))
    }

    async fn enqueue_many(&self, jobs: &[NewJob]) -> CoreResult<Vec<(String, bool)>> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.begin_write().await?;
        let out = insert_jobs(&mut tx, jobs).await?;
        tx.commit().await.map_err(map)?;
        Ok(out)
    }

    async fn claim(&self, worker_id: &str, kinds: &[&str], now_ms: i64, lease_ms: i64) -> CoreResult<Option<Job>> {
        if kinds.is_empty() || !self.anything_claimable(kinds, now_ms).await? {
            return Ok(None);
        }
        let mut tx = self.begin_write().await?;
        let claimed = self.claim_in(&mut tx, worker_id, kinds, now_ms, lease_ms).await?;
        tx.commit().await.map_err(map)?;
        Ok(claimed)
    }

    async fn heartbeat(&self, id: &str, worker_id: &str, lease_until: i64) -> CoreResult<bool> {
        let done = sqlx::query(
            "UPDATE jobs SET lease_expires_at = $3, updated_at = $4 \
             WHERE id = $1 AND status = 'running' AND lease_owner = $2",
        )
        .bind(id)
        .bind(worker_id)
        .bind(lease_until)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(map)?;
        Ok(done.rows_affected() > 0)
    }

    async fn succeed(&self, id: &str, worker_id: &str, result: &Value) -> CoreResult<bool> {
        let result = serde_json::to_string(result)
            .map_err(|e| CoreError::Internal(format!("cannot encode a job result: {e}")))?;
        let done = sqlx::query(
            "UPDATE jobs SET status = 'succeeded', result = $3, lease_expires_at = NULL, updated_at = $4, \
             finished_at = $4 WHERE id = $1 AND status = 'running' AND lease_owner = $2",
        )
        .bind(id)
        .bind(worker_id)
        .bind(result)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(map)?;
        Ok(done.rows_affected() > 0)
    }

    async fn fail_attempt(&self, id: &str, worker_id: &str, error: &str, retry_at: Option<i64>) -> CoreResult<bool> {
        // $4 = retry_at (NULL = fail now). The CASE decides per row whether the budget allows
        // another attempt; both branches clear the lease.
        let done = sqlx::query(
            "UPDATE jobs SET \
               status = CASE WHEN $4 IS NOT NULL AND attempts < max_attempts \
                             AND (give_up_at IS NULL OR $4 < give_up_at) THEN 'queued' ELSE 'failed' END, \
               not_before = CASE WHEN $4 IS NOT NULL AND attempts < max_attempts \
                             AND (give_up_at IS NULL OR $4 < give_up_at) THEN $4 ELSE not_before END, \
               finished_at = CASE WHEN $4 IS NOT NULL AND attempts < max_attempts \
                             AND (give_up_at IS NULL OR $4 < give_up_at) THEN NULL ELSE $5 END, \
               last_error = $3, lease_expires_at = NULL, updated_at = $5 \
             WHERE id = $1 AND status = 'running' AND lease_owner = $2",
        )
        .bind(id)
        .bind(worker_id)
        .bind(error)
        .bind(retry_at)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(map)?;
        Ok(done.rows_affected() > 0)
    }

    async fn release_job(&self, id: &str, worker_id: &str) -> CoreResult<bool> {
        let now = now_ms();
        let done = sqlx::query(
            "UPDATE jobs SET status = 'queued', attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, \
             not_before = $3, lease_expires_at = NULL, updated_at = $3 \
             WHERE id = $1 AND status = 'running' AND lease_owner = $2",
        )
        .bind(id)
        .bind(worker_id)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(map)?;
        Ok(done.rows_affected() > 0)
    }

    async fn get_job(&self, id: &str) -> CoreResult<Option<Job>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLS} FROM jobs WHERE id = $1")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(map)?;
        row.as_ref().map(job_from).transpose()
    }

    async fn list_jobs(&self, status: Option<JobStatus>, kind: Option<&str>, limit: u32) -> CoreResult<Vec<Job>> {
        // The WHERE clause is assembled from constant fragments only; values are bound.
        let mut filter = Vec::new();
        let mut n = 0;
        if status.is_some() {
            n += 1;
            filter.push(format!("status = ${n}"));
        }
        if kind.is_some() {
            n += 1;
            filter.push(format!("kind = ${n}"));
        }
        let filter = if filter.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", filter.join(" AND "))
        };
        let sql = format!("SELECT {COLS} FROM jobs {filter} ORDER BY seq DESC LIMIT ${}", n + 1);
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        if let Some(s) = status {
            q = q.bind(s.as_str());
        }
        if let Some(k) = kind {
            q = q.bind(k);
        }
        let limit = if limit == 0 { 100 } else { i64::from(limit) };
        let rows = q.bind(limit).fetch_all(&self.pool).await.map_err(map)?;
        rows.iter().map(job_from).collect()
    }

    async fn retry_job(&self, id: &str) -> CoreResult<bool> {
        let now = now_ms();
        let done = sqlx::query(
            "UPDATE jobs SET status = 'queued', attempts = 0, not_before = $2, lease_expires_at = NULL, \
             finished_at = NULL, updated_at = $2, \
             give_up_at = CASE WHEN give_up_at IS NULL THEN NULL ELSE $2 + (give_up_at - created_at) END \
             WHERE id = $1 AND status IN ('failed', 'cancelled')",
        )
        .bind(id)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(|e| exists_or(e, "JobUniqueKey", id))?;
        Ok(done.rows_affected() > 0)
    }

    async fn cancel_job(&self, id: &str) -> CoreResult<bool> {
        let now = now_ms();
        let done = sqlx::query(
            "UPDATE jobs SET status = 'cancelled', last_error = COALESCE(last_error, 'cancelled'), \
             updated_at = $2, finished_at = $2 WHERE id = $1 AND status = 'queued'",
        )
        .bind(id)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(map)?;
        Ok(done.rows_affected() > 0)
    }

    async fn counts_by_status(&self) -> CoreResult<Vec<JobCount>> {
        let rows =
            sqlx::query("SELECT kind, status, COUNT(*) AS n FROM jobs GROUP BY kind, status ORDER BY kind, status")
                .fetch_all(&self.pool)
                .await
                .map_err(map)?;
        rows.iter()
            .map(|r| {
                Ok(JobCount {
                    kind: get(r, "kind")?,
                    status: get_enum(r, "status", JobStatus::parse)?,
                    count: get(r, "n")?,
                })
            })
            .collect()
    }

    async fn purge_finished_jobs(&self, before_ms: i64) -> CoreResult<u64> {
        let done = sqlx::query(
            "DELETE FROM jobs WHERE status IN ('succeeded', 'failed', 'cancelled') \
             AND finished_at IS NOT NULL AND finished_at < $1",
        )
        .bind(before_ms)
        .execute(&self.pool)
        .await
        .map_err(map)?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use vod_core::ports::{JobRepo, SettingsRepo};

    use super::*;
    use crate::testing::SqliteTestDb;

    /// Jobs inserted with [`insert_jobs`] commit and roll back together with the caller's
    /// own writes.
    #[tokio::test]
    async fn insert_jobs_shares_the_callers_transaction() {
        let db = SqliteTestDb::new().unwrap();
        let store = db.open_store().await.unwrap();
        let job = NewJob::new("test.outbox", serde_json::json!({"v": 1}), 3);

        let mut tx = store.begin_write().await.unwrap();
        sqlx::query("INSERT INTO settings (key, value) VALUES ('outbox', 'rolled back')")
            .execute(&mut *tx)
            .await
            .unwrap();
        assert_eq!(
            insert_jobs(&mut tx, std::slice::from_ref(&job)).await.unwrap(),
            vec![(job.id.clone(), true)]
        );
        tx.rollback().await.unwrap();
        assert_eq!(store.get_job(&job.id).await.unwrap(), None);
        assert_eq!(store.get_setting("outbox").await.unwrap(), None);

        let mut tx = store.begin_write().await.unwrap();
        sqlx::query("INSERT INTO settings (key, value) VALUES ('outbox', 'committed')")
            .execute(&mut *tx)
            .await
            .unwrap();
        insert_jobs(&mut tx, std::slice::from_ref(&job)).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(store.get_job(&job.id).await.unwrap().unwrap().status, JobStatus::Queued);
        assert_eq!(store.get_setting("outbox").await.unwrap().as_deref(), Some("committed"));
        store.close().await;
    }

    #[test]
    fn placeholder_lists() {
        assert_eq!(placeholders(2, 3), "$2, $3, $4");
        assert_eq!(placeholders(1, 0), "");
    }
}
