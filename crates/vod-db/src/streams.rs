//! `StreamRepo` for `SqlStore`: tables `media_streams` and `media_snapshot_sets` (migration
//! 0010). A publication is one transaction: the generation-guarded media update first (it
//! decides whether anything is stored), then the rows and the event jobs.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use vod_core::model::{MediaStream, NewJob, Publication, SnapshotSet};
use vod_core::ports::StreamRepo;
use vod_core::{CoreError, CoreResult};

use crate::error::map;
use crate::jobs::insert_jobs;
use crate::store::{SqlStore, get};

const STREAM_COLS: &str = "stream_id, media_id, account_id, job_id, definition, format, stream_type, bucket, \
    object_key, segments, bitrate, duration, fps, width, height, size, specification, codec_name, \
    source_generation, created_at";
const SET_COLS: &str = "job_id, media_id, account_id, snapshot_type, bucket, keys, created_at";

fn keys_from(row: &AnyRow, col: &str) -> CoreResult<Vec<String>> {
    let raw: String = get(row, col)?;
    serde_json::from_str(&raw).map_err(|e| CoreError::Internal(format!("bad JSON in {col}: {e}")))
}

fn keys_json(keys: &[String]) -> String {
    serde_json::to_string(keys).unwrap_or_else(|_| "[]".into())
}

fn stream_from(row: &AnyRow) -> CoreResult<MediaStream> {
    Ok(MediaStream {
        stream_id: get(row, "stream_id")?,
        media_id: get(row, "media_id")?,
        account_id: get(row, "account_id")?,
        job_id: get(row, "job_id")?,
        definition: get(row, "definition")?,
        format: get(row, "format")?,
        stream_type: get(row, "stream_type")?,
        bucket: get(row, "bucket")?,
        object_key: get(row, "object_key")?,
        segments: keys_from(row, "segments")?,
        bitrate: get(row, "bitrate")?,
        duration: get(row, "duration")?,
        fps: get(row, "fps")?,
        width: get(row, "width")?,
        height: get(row, "height")?,
        size: get(row, "size")?,
        specification: get(row, "specification")?,
        codec_name: get(row, "codec_name")?,
        source_generation: get(row, "source_generation")?,
        created_at: get(row, "created_at")?,
    })
}

fn set_from(row: &AnyRow) -> CoreResult<SnapshotSet> {
    Ok(SnapshotSet {
        job_id: get(row, "job_id")?,
        media_id: get(row, "media_id")?,
        account_id: get(row, "account_id")?,
        snapshot_type: get(row, "snapshot_type")?,
        bucket: get(row, "bucket")?,
        keys: keys_from(row, "keys")?,
        created_at: get(row, "created_at")?,
    })
}

#[async_trait]
impl StreamRepo for SqlStore {
    async fn publish(&self, p: &Publication, jobs: &[NewJob]) -> CoreResult<bool> {
        let mut tx = self.begin_write().await?;
        // The guard: the media exists and still has this source. `modified_at` is touched so
        // the row is locked (Postgres) for the rest of the transaction.
        let touched = sqlx::query("UPDATE media SET modified_at = $1 WHERE media_id = $2 AND source_generation = $3")
            .bind(p.now_ms)
            .bind(&p.media_id)
            .bind(p.source_generation)
            .execute(&mut *tx)
            .await
            .map_err(map)?;
        if touched.rows_affected() == 0 {
            tx.rollback().await.map_err(map)?;
            return Ok(false);
        }
        if let Some((from, to)) = &p.status {
            let mut sql = String::from("UPDATE media SET status = $1 WHERE media_id = $2");
            for i in 0..from.len() {
                sql.push_str(if i == 0 { " AND status IN (" } else { ", " });
                sql.push_str(&format!("${}", i + 3));
            }
            if !from.is_empty() {
                sql.push(')');
            }
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(to.as_str())
                .bind(&p.media_id);
            for s in from {
                q = q.bind(s.as_str());
            }
            q.execute(&mut *tx).await.map_err(map)?;
        }
        if let Some(cover) = &p.cover_url {
            sqlx::query("UPDATE media SET cover_url = $1 WHERE media_id = $2 AND cover_url = ''")
                .bind(cover)
                .bind(&p.media_id)
                .execute(&mut *tx)
                .await
                .map_err(map)?;
        }
        if let Some(snapshots) = &p.snapshots {
            sqlx::query("UPDATE media SET snapshots = $1 WHERE media_id = $2")
                .bind(keys_json(snapshots))
                .bind(&p.media_id)
                .execute(&mut *tx)
                .await
                .map_err(map)?;
        }
        for s in &p.streams {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO media_streams ({STREAM_COLS}) VALUES \
                 ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)"
            )))
            .bind(&s.stream_id)
            .bind(&s.media_id)
            .bind(&s.account_id)
            .bind(&s.job_id)
            .bind(&s.definition)
            .bind(&s.format)
            .bind(&s.stream_type)
            .bind(&s.bucket)
            .bind(&s.object_key)
            .bind(keys_json(&s.segments))
            .bind(&s.bitrate)
            .bind(&s.duration)
            .bind(&s.fps)
            .bind(s.width)
            .bind(s.height)
            .bind(s.size)
            .bind(&s.specification)
            .bind(&s.codec_name)
            .bind(s.source_generation)
            .bind(s.created_at)
            .execute(&mut *tx)
            .await
            .map_err(map)?;
        }
        for set in &p.snapshot_sets {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO media_snapshot_sets ({SET_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
            )))
            .bind(&set.job_id)
            .bind(&set.media_id)
            .bind(&set.account_id)
            .bind(&set.snapshot_type)
            .bind(&set.bucket)
            .bind(keys_json(&set.keys))
            .bind(set.created_at)
            .execute(&mut *tx)
            .await
            .map_err(map)?;
        }
        insert_jobs(&mut tx, jobs).await?;
        tx.commit().await.map_err(map)?;
        Ok(true)
    }

    async fn list_streams(&self, media_id: &str) -> CoreResult<Vec<MediaStream>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {STREAM_COLS} FROM media_streams WHERE media_id = $1 ORDER BY created_at DESC, stream_id DESC"
        )))
        .bind(media_id)
        .fetch_all(&self.pool)
        .await
        .map_err(map)?;
        rows.iter().map(stream_from).collect()
    }

    async fn delete_streams(
        &self,
        media_id: &str,
        job_ids: &[String],
        jobs: &[NewJob],
    ) -> CoreResult<Vec<MediaStream>> {
        if job_ids.is_empty() {
            return Ok(Vec::new());
        }
        let list = (0..job_ids.len())
            .map(|i| format!("${}", i + 2))
            .collect::<Vec<_>>()
            .join(", ");
        let mut tx = self.begin_write().await?;
        let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM media_streams WHERE media_id = $1 AND job_id IN ({list}) RETURNING {STREAM_COLS}"
        )))
        .bind(media_id);
        for id in job_ids {
            q = q.bind(id);
        }
        let rows = q.fetch_all(&mut *tx).await.map_err(map)?;
        let deleted = rows.iter().map(stream_from).collect::<CoreResult<Vec<_>>>()?;
        if deleted.is_empty() {
            tx.rollback().await.map_err(map)?;
            return Ok(deleted);
        }
        insert_jobs(&mut tx, jobs).await?;
        tx.commit().await.map_err(map)?;
        Ok(deleted)
    }

    async fn list_snapshot_sets(&self, media_id: &str) -> CoreResult<Vec<SnapshotSet>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SET_COLS} FROM media_snapshot_sets WHERE media_id = $1 ORDER BY created_at DESC, job_id DESC"
        )))
        .bind(media_id)
        .fetch_all(&self.pool)
        .await
        .map_err(map)?;
        rows.iter().map(set_from).collect()
    }
}
