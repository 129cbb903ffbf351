//! `UrlUploadRepo` for `SqlStore`: tables `url_uploads` and `url_upload_sessions`
//! (migration 0007). Submission and every status change store their jobs with
//! `jobs::insert_jobs` in the same transaction.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use vod_core::model::NewJob;
use vod_core::model::url_upload::{UrlMediaMeta, UrlUpload, UrlUploadStatus, UrlUploadUpdate};
use vod_core::ports::UrlUploadRepo;
use vod_core::{CoreError, CoreResult};

use crate::error::map;
use crate::jobs::insert_jobs;
use crate::store::{SqlStore, get, get_enum};

const COLS: &str = "job_id, account_id, app_id, upload_url, status, media_id, media_created, file_size, \
    error_code, error_message, user_data, meta, created_at, completed_at";

fn from_row(row: &AnyRow) -> CoreResult<UrlUpload> {
    let meta: String = get(row, "meta")?;
    let meta: UrlMediaMeta =
        serde_json::from_str(&meta).map_err(|e| CoreError::Internal(format!("bad JSON in url_uploads.meta: {e}")))?;
    Ok(UrlUpload {
        job_id: get(row, "job_id")?,
        account_id: get(row, "account_id")?,
        app_id: get(row, "app_id")?,
        upload_url: get(row, "upload_url")?,
        status: get_enum(row, "status", UrlUploadStatus::parse)?,
        media_id: get(row, "media_id")?,
        media_created: get::<i64>(row, "media_created")? != 0,
        file_size: get(row, "file_size")?,
        error_code: get(row, "error_code")?,
        error_message: get(row, "error_message")?,
        user_data: get(row, "user_data")?,
        meta,
        created_at: get(row, "created_at")?,
        completed_at: get(row, "completed_at")?,
    })
}

/// `$first, …` for `n` values.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[async_trait]
impl UrlUploadRepo for SqlStore {
    async fn create_url_uploads(
        &self,
        account_id: &str,
        session: Option<(&str, i64)>,
        now_ms: i64,
        uploads: &[UrlUpload],
        jobs: &[NewJob],
    ) -> CoreResult<bool> {
        let mut tx = self.begin_write().await?;
        if let Some((session_id, window_ms)) = session {
            // Takes the session unless it was used within the window (one statement, so
            // two concurrent repeats cannot both pass).
            let taken = sqlx::query(
                "INSERT INTO url_upload_sessions (account_id, session_id, used_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (account_id, session_id) DO UPDATE SET used_at = excluded.used_at \
                 WHERE url_upload_sessions.used_at <= $4",
            )
            .bind(account_id)
            .bind(session_id)
            .bind(now_ms)
            .bind(now_ms - window_ms)
            .execute(&mut *tx)
            .await
            .map_err(map)?;
            if taken.rows_affected() == 0 {
                tx.rollback().await.map_err(map)?;
                return Ok(false);
            }
        }
        for u in uploads {
            let meta = serde_json::to_string(&u.meta)
                .map_err(|e| CoreError::Internal(format!("cannot encode url upload meta: {e}")))?;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO url_uploads ({COLS}) VALUES ({})",
                placeholders(1, 14)
            )))
            .bind(&u.job_id)
            .bind(&u.account_id)
            .bind(&u.app_id)
            .bind(&u.upload_url)
            .bind(u.status.as_str())
            .bind(&u.media_id)
            .bind(i64::from(u.media_created))
            .bind(u.file_size)
            .bind(&u.error_code)
            .bind(&u.error_message)
            .bind(&u.user_data)
            .bind(meta)
            .bind(u.created_at)
            .bind(u.completed_at)
            .execute(&mut *tx)
            .await
            .map_err(map)?;
        }
        insert_jobs(&mut tx, jobs).await?;
        tx.commit().await.map_err(map)?;
        Ok(true)
    }

    async fn get_url_upload(&self, job_id: &str) -> CoreResult<Option<UrlUpload>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLS} FROM url_uploads WHERE job_id = $1"
        )))
        .bind(job_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(map)?;
        row.as_ref().map(from_row).transpose()
    }

    async fn url_uploads_by_ids(&self, account_id: &str, job_ids: &[String]) -> CoreResult<Vec<UrlUpload>> {
        if job_ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {COLS} FROM url_uploads WHERE account_id = $1 AND job_id IN ({})",
            placeholders(2, job_ids.len())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(account_id);
        for id in job_ids {
            q = q.bind(id);
        }
        let rows = q.fetch_all(&self.pool).await.map_err(map)?;
        rows.iter().map(from_row).collect()
    }

    async fn url_uploads_by_urls(&self, account_id: &str, urls: &[String], limit: u32) -> CoreResult<Vec<UrlUpload>> {
        if urls.is_empty() {
            return Ok(Vec::new());
        }
        let n = urls.len();
        let sql = format!(
            "SELECT {COLS} FROM url_uploads WHERE account_id = $1 AND upload_url IN ({}) \
             ORDER BY created_at DESC, job_id DESC LIMIT ${}",
            placeholders(2, n),
            n + 2
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(account_id);
        for u in urls {
            q = q.bind(u);
        }
        let rows = q
            .bind(i64::from(limit.max(1)))
            .fetch_all(&self.pool)
            .await
            .map_err(map)?;
        rows.iter().map(from_row).collect()
    }

    async fn update_url_upload(
        &self,
        job_id: &str,
        from: &[UrlUploadStatus],
        to: UrlUploadStatus,
        update: &UrlUploadUpdate,
        jobs: &[NewJob],
    ) -> CoreResult<bool> {
        let from: Vec<UrlUploadStatus> = if from.is_empty() {
            UrlUploadStatus::UNFINISHED.to_vec()
        } else {
            from.to_vec()
        };
        let sql = format!(
            "UPDATE url_uploads SET status = $1, \
             media_created = COALESCE($2, media_created), file_size = COALESCE($3, file_size), \
             error_code = COALESCE($4, error_code), error_message = COALESCE($5, error_message), \
             completed_at = COALESCE($6, completed_at) \
             WHERE job_id = $7 AND status IN ({})",
            placeholders(8, from.len())
        );
        let mut tx = self.begin_write().await?;
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(to.as_str())
            .bind(update.media_created.map(i64::from))
            .bind(update.file_size)
            .bind(update.error_code.as_deref())
            .bind(update.error_message.as_deref())
            .bind(update.completed_at)
            .bind(job_id);
        for s in &from {
            q = q.bind(s.as_str());
        }
        let done = q.execute(&mut *tx).await.map_err(map)?;
        if done.rows_affected() == 0 {
            tx.rollback().await.map_err(map)?;
            return Ok(false);
        }
        insert_jobs(&mut tx, jobs).await?;
        tx.commit().await.map_err(map)?;
        Ok(true)
    }
}
