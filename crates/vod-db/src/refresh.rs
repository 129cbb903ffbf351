//! `RefreshRepo` for `SqlStore`: tables `media_refresh_jobs`, `refresh_tasks` and
//! `edge_nodes` (migration 0011), plus the quota reads and conditional increments of
//! `daily_counters`. Submission and completion each run in one transaction with their jobs.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use vod_core::model::NewJob;
use vod_core::model::refresh::{
    EdgeNode, MediaRefreshJob, MediaRefreshOutcome, MediaRefreshStatus, RefreshObjectType, RefreshTask,
    RefreshTaskQuery, RefreshTaskStatus, RefreshTaskType, TaskResult,
};
use vod_core::ports::RefreshRepo;
use vod_core::{CoreError, CoreResult};

use crate::error::{exists_or, map};
use crate::jobs::insert_jobs;
use crate::store::{SqlStore, get, get_enum};

const MEDIA_COLS: &str = "job_id, media_id, batch_id, account_id, app_id, seq, task_type, filter_policy, status, \
    success_play_urls, task_ids, error_code, error_message, user_data, created_at, modified_at";
const TASK_COLS: &str = "task_id, account_id, batch_id, seq, object_path, domain, object_type, status, process, \
    description, created_at, modified_at";

fn list_from(row: &AnyRow, col: &str) -> CoreResult<Vec<String>> {
    let raw: String = get(row, col)?;
    serde_json::from_str(&raw).map_err(|e| CoreError::Internal(format!("bad JSON in {col}: {e}")))
}

fn list_json(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".into())
}

fn task_type_of(s: &str) -> Option<RefreshTaskType> {
    RefreshTaskType::parse(s)
}

fn media_from(row: &AnyRow) -> CoreResult<MediaRefreshJob> {
    Ok(MediaRefreshJob {
        job_id: get(row, "job_id")?,
        media_id: get(row, "media_id")?,
        batch_id: get(row, "batch_id")?,
        account_id: get(row, "account_id")?,
        app_id: get(row, "app_id")?,
        seq: get(row, "seq")?,
        task_type: get_enum(row, "task_type", task_type_of)?,
        filter_policy: get(row, "filter_policy")?,
        status: get_enum(row, "status", MediaRefreshStatus::parse)?,
        success_play_urls: list_from(row, "success_play_urls")?,
        task_ids: list_from(row, "task_ids")?,
        error_code: get(row, "error_code")?,
        error_message: get(row, "error_message")?,
        user_data: get(row, "user_data")?,
        created_at: get(row, "created_at")?,
        modified_at: get(row, "modified_at")?,
    })
}

fn task_from(row: &AnyRow) -> CoreResult<RefreshTask> {
    Ok(RefreshTask {
        task_id: get(row, "task_id")?,
        account_id: get(row, "account_id")?,
        batch_id: get(row, "batch_id")?,
        seq: get(row, "seq")?,
        object_path: get(row, "object_path")?,
        domain: get(row, "domain")?,
        object_type: get_enum(row, "object_type", RefreshObjectType::parse)?,
        status: get_enum(row, "status", RefreshTaskStatus::parse)?,
        process: get(row, "process")?,
        description: get(row, "description")?,
        created_at: get(row, "created_at")?,
        modified_at: get(row, "modified_at")?,
    })
}

/// `$first, …` for `n` values.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One bound value of a dynamically built query.
enum Arg {
    Text(String),
    Int(i64),
}

#[async_trait]
impl RefreshRepo for SqlStore {
    async fn submit_refresh(
        &self,
        media: &[MediaRefreshJob],
        tasks: &[RefreshTask],
        jobs: &[NewJob],
    ) -> CoreResult<()> {
        let mut tx = self.begin_write().await?;
        for m in media {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO media_refresh_jobs ({MEDIA_COLS}) VALUES ({})",
                placeholders(1, 16)
            )))
            .bind(&m.job_id)
            .bind(&m.media_id)
            .bind(&m.batch_id)
            .bind(&m.account_id)
            .bind(&m.app_id)
            .bind(m.seq)
            .bind(m.task_type.as_str())
            .bind(&m.filter_policy)
            .bind(m.status.as_str())
            .bind(list_json(&m.success_play_urls))
            .bind(list_json(&m.task_ids))
            .bind(&m.error_code)
            .bind(&m.error_message)
            .bind(&m.user_data)
            .bind(m.created_at)
            .bind(m.modified_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| exists_or(e, "MediaRefreshJob", &m.job_id))?;
        }
        for t in tasks {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO refresh_tasks ({TASK_COLS}) VALUES ({})",
                placeholders(1, 12)
            )))
            .bind(&t.task_id)
            .bind(&t.account_id)
            .bind(&t.batch_id)
            .bind(t.seq)
            .bind(&t.object_path)
            .bind(&t.domain)
            .bind(t.object_type.as_str())
            .bind(t.status.as_str())
            .bind(t.process)
            .bind(&t.description)
            .bind(t.created_at)
            .bind(t.modified_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| exists_or(e, "RefreshTask", &t.task_id))?;
        }
        insert_jobs(&mut tx, jobs).await?;
        tx.commit().await.map_err(map)?;
        Ok(())
    }

    async fn media_refresh_jobs(
        &self,
        account_id: &str,
        job_id: &str,
        media_id: Option<&str>,
    ) -> CoreResult<Vec<MediaRefreshJob>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {MEDIA_COLS} FROM media_refresh_jobs WHERE account_id = $1 AND job_id = $2 \
             AND ($3 = '' OR media_id = $3) ORDER BY seq, media_id"
        )))
        .bind(account_id)
        .bind(job_id)
        .bind(media_id.unwrap_or_default())
        .fetch_all(&self.pool)
        .await
        .map_err(map)?;
        rows.iter().map(media_from).collect()
    }

    async fn media_refresh_of_batch(&self, batch_id: &str) -> CoreResult<Option<MediaRefreshJob>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {MEDIA_COLS} FROM media_refresh_jobs WHERE batch_id = $1"
        )))
        .bind(batch_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(map)?;
        row.as_ref().map(media_from).transpose()
    }

    async fn refresh_tasks_of_batch(&self, batch_id: &str) -> CoreResult<Vec<RefreshTask>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TASK_COLS} FROM refresh_tasks WHERE batch_id = $1 ORDER BY seq, task_id"
        )))
        .bind(batch_id)
        .fetch_all(&self.pool)
        .await
        .map_err(map)?;
        rows.iter().map(task_from).collect()
    }

    async fn complete_refresh_batch(
        &self,
        batch_id: &str,
        results: &[TaskResult],
        media: Option<&MediaRefreshOutcome>,
        now_ms: i64,
        jobs: &[NewJob],
    ) -> CoreResult<bool> {
        let mut tx = self.begin_write().await?;
        if let Some(m) = media {
            let status = if m.success {
                MediaRefreshStatus::Success
            } else {
                MediaRefreshStatus::Fail
            };
            let done = sqlx::query(
                "UPDATE media_refresh_jobs SET status = $1, success_play_urls = $2, task_ids = $3, \
                 error_code = $4, error_message = $5, modified_at = $6 WHERE batch_id = $7 AND status = $8",
            )
            .bind(status.as_str())
            .bind(list_json(&m.success_play_urls))
            .bind(list_json(&m.task_ids))
            .bind(&m.error_code)
            .bind(&m.error_message)
            .bind(now_ms)
            .bind(batch_id)
            .bind(MediaRefreshStatus::Processing.as_str())
            .execute(&mut *tx)
            .await
            .map_err(map)?;
            if done.rows_affected() == 0 {
                tx.rollback().await.map_err(map)?;
                return Ok(false);
            }
        }
        let mut changed = 0;
        for r in results {
            let done = sqlx::query(
                "UPDATE refresh_tasks SET status = $1, process = 100, description = $2, modified_at = $3 \
                 WHERE task_id = $4 AND batch_id = $5 AND status = $6",
            )
            .bind(r.status.as_str())
            .bind(&r.description)
            .bind(now_ms)
            .bind(&r.task_id)
            .bind(batch_id)
            .bind(RefreshTaskStatus::Refreshing.as_str())
            .execute(&mut *tx)
            .await
            .map_err(map)?;
            changed += done.rows_affected();
        }
        if media.is_none() && changed == 0 {
            tx.rollback().await.map_err(map)?;
            return Ok(false);
        }
        insert_jobs(&mut tx, jobs).await?;
        tx.commit().await.map_err(map)?;
        Ok(true)
    }

    async fn list_refresh_tasks(&self, account_id: &str, q: &RefreshTaskQuery) -> CoreResult<(Vec<RefreshTask>, u64)> {
        let mut args = vec![Arg::Text(account_id.to_string())];
        let mut clauses = vec!["account_id = $1".to_string()];
        if !q.task_ids.is_empty() {
            let first = args.len() + 1;
            args.extend(q.task_ids.iter().map(|id| Arg::Text(id.clone())));
            clauses.push(format!("task_id IN ({})", placeholders(first, q.task_ids.len())));
        }
        let mut add = |sql: &str, arg: Arg| {
            args.push(arg);
            clauses.push(sql.replace('?', &format!("${}", args.len())));
        };
        if let Some(p) = &q.object_path {
            add("object_path = ?", Arg::Text(p.clone()));
        }
        if let Some(t) = q.object_type {
            add("object_type = ?", Arg::Text(t.as_str().into()));
        }
        if let Some(s) = q.status {
            add("status = ?", Arg::Text(s.as_str().into()));
        }
        if let Some(d) = &q.domain {
            add("domain = ?", Arg::Text(d.clone()));
        }
        if let Some(t) = q.start_ms {
            add("created_at >= ?", Arg::Int(t));
        }
        if let Some(t) = q.end_ms {
            add("created_at <= ?", Arg::Int(t));
        }
        let filter = clauses.join(" AND ");
        let bind_all = |sql: String, args: &[Arg]| {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for a in args {
                query = match a {
                    Arg::Text(s) => query.bind(s.clone()),
                    Arg::Int(i) => query.bind(*i),
                };
            }
            query
        };
        let total_row = bind_all(format!("SELECT COUNT(*) AS n FROM refresh_tasks WHERE {filter}"), &args)
            .fetch_one(&self.pool)
            .await
            .map_err(map)?;
        let total: i64 = get(&total_row, "n")?;
        let size = i64::from(q.page_size.max(1));
        let offset = i64::from(q.page_no.max(1) - 1) * size;
        let n = args.len();
        let rows = bind_all(
            format!(
                "SELECT {TASK_COLS} FROM refresh_tasks WHERE {filter} \
                 ORDER BY created_at DESC, batch_id DESC, seq LIMIT ${} OFFSET ${}",
                n + 1,
                n + 2
            ),
            &args,
        )
        .bind(size)
        .bind(offset)
        .fetch_all(&self.pool)
        .await
        .map_err(map)?;
        let tasks = rows.iter().map(task_from).collect::<CoreResult<Vec<_>>>()?;
        Ok((tasks, u64::try_from(total).unwrap_or(0)))
    }

    async fn take_daily_quota(&self, name: &str, day: &str, n: i64, limit: i64) -> CoreResult<Option<i64>> {
        // One statement: the insert (first use of the day) or the increment only happens
        // when the new value stays within the limit, so concurrent callers cannot overshoot.
        let row = sqlx::query(
            "INSERT INTO daily_counters (name, day, value) SELECT $1, $2, $3 WHERE $3 <= $4 \
             ON CONFLICT (name, day) DO UPDATE SET value = daily_counters.value + excluded.value \
             WHERE daily_counters.value + excluded.value <= $4 \
             RETURNING value",
        )
        .bind(name)
        .bind(day)
        .bind(n)
        .bind(limit)
        .fetch_optional(&self.pool)
        .await
        .map_err(map)?;
        row.as_ref().map(|r| get(r, "value")).transpose()
    }

    async fn daily_counter(&self, name: &str, day: &str) -> CoreResult<i64> {
        let row = sqlx::query("SELECT value FROM daily_counters WHERE name = $1 AND day = $2")
            .bind(name)
            .bind(day)
            .fetch_optional(&self.pool)
            .await
            .map_err(map)?;
        Ok(row.as_ref().map(|r| get(r, "value")).transpose()?.unwrap_or(0))
    }

    async fn upsert_edge_node(&self, node_id: &str, control_url: &str, now_ms: i64) -> CoreResult<()> {
        sqlx::query(
            "INSERT INTO edge_nodes (node_id, control_url, last_seen_at) VALUES ($1, $2, $3) \
             ON CONFLICT (node_id) DO UPDATE SET control_url = excluded.control_url, \
             last_seen_at = excluded.last_seen_at",
        )
        .bind(node_id)
        .bind(control_url)
        .bind(now_ms)
        .execute(&self.pool)
        .await
        .map_err(map)?;
        Ok(())
    }

    async fn live_edge_nodes(&self, since_ms: i64) -> CoreResult<Vec<EdgeNode>> {
        let rows = sqlx::query(
            "SELECT node_id, control_url, last_seen_at FROM edge_nodes WHERE last_seen_at >= $1 ORDER BY node_id",
        )
        .bind(since_ms)
        .fetch_all(&self.pool)
        .await
        .map_err(map)?;
        rows.iter()
            .map(|r| {
                Ok(EdgeNode {
                    node_id: get(r, "node_id")?,
                    control_url: get(r, "control_url")?,
                    last_seen_at: get(r, "last_seen_at")?,
                })
            })
            .collect()
    }

    async fn remove_edge_node(&self, node_id: &str) -> CoreResult<bool> {
        let done = sqlx::query("DELETE FROM edge_nodes WHERE node_id = $1")
            .bind(node_id)
            .execute(&self.pool)
            .await
            .map_err(map)?;
        Ok(done.rows_affected() > 0)
    }
}
