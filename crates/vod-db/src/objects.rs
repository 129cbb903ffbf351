//! `ObjectRepo` for `SqlStore`: tables `oss_objects`, `oss_object_parts` (manifests of
//! multipart objects), `oss_uploads` and `oss_upload_parts` (migration 0005).
//!
//! Concurrency: SQLite serialises writers (`BEGIN IMMEDIATE`). On PostgreSQL the upload row
//! is locked `FOR UPDATE` by completion and abort, and a part insert's foreign-key check
//! takes a share lock on the same row, so a part either lands before completion reads the
//! parts or fails because the upload is gone. Two writers replacing one key at once: the
//! loser hits the primary key and the whole transaction is retried.

use std::collections::HashMap;

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};
use vod_core::model::{ManifestPart, MultipartUpload, ObjectType, StoredObject, UploadPart};
use vod_core::ports::{BackendKind, ObjectRepo, UploadListQuery};
use vod_core::{CoreError, CoreResult};

use crate::error::{is_unique_violation, map};
use crate::store::{SqlStore, get, get_enum};

const OBJECT_COLS: &str = "bucket, object_key, object_id, account_id, size, etag, md5_hex, crc64, content_type, \
                           object_type, blob, part_count, media_id, created_at, notified";
const UPLOAD_COLS: &str = "upload_id, bucket, object_key, account_id, content_type, media_id, initiated_at";
const PART_COLS: &str = "upload_id, part_number, blob, size, md5_hex, crc64, last_modified";
/// Manifest rows per multi-row INSERT (5 parameters each).
const MANIFEST_BATCH: usize = 200;
/// Attempts of a transaction that lost a primary-key race (PostgreSQL only).
const RACE_RETRIES: usize = 5;

fn object_from(row: &AnyRow) -> CoreResult<StoredObject> {
    Ok(StoredObject {
        bucket: get(row, "bucket")?,
        key: get(row, "object_key")?,
        object_id: get(row, "object_id")?,
        account_id: get(row, "account_id")?,
        size: get::<i64>(row, "size")?.max(0) as u64,
        etag: get(row, "etag")?,
        md5_hex: get(row, "md5_hex")?,
        crc64: get::<i64>(row, "crc64")? as u64,
        content_type: get(row, "content_type")?,
        object_type: get_enum(row, "object_type", ObjectType::parse)?,
        blob: get(row, "blob")?,
        part_count: get::<i64>(row, "part_count")?.max(0) as u32,
        media_id: get(row, "media_id")?,
        created_at: get(row, "created_at")?,
        notified: get::<i64>(row, "notified")? != 0,
    })
}

fn upload_from(row: &AnyRow) -> CoreResult<MultipartUpload> {
    Ok(MultipartUpload {
        upload_id: get(row, "upload_id")?,
        bucket: get(row, "bucket")?,
        key: get(row, "object_key")?,
        account_id: get(row, "account_id")?,
        content_type: get(row, "content_type")?,
        media_id: get(row, "media_id")?,
        initiated_at: get(row, "initiated_at")?,
    })
}

fn part_from(row: &AnyRow) -> CoreResult<UploadPart> {
    Ok(UploadPart {
        upload_id: get(row, "upload_id")?,
        part_number: get::<i64>(row, "part_number")?.max(0) as u32,
        blob: get(row, "blob")?,
        size: get::<i64>(row, "size")?.max(0) as u64,
        md5_hex: get(row, "md5_hex")?,
        crc64: get::<i64>(row, "crc64")? as u64,
        last_modified: get(row, "last_modified")?,
    })
}

fn upload_gone(upload_id: &str) -> CoreError {
    CoreError::not_found("Upload", upload_id)
}

/// A foreign-key violation on a part insert means the upload is gone.
fn part_error(e: sqlx::Error, upload_id: &str) -> CoreError {
    match &e {
        sqlx::Error::Database(db) if db.kind() == sqlx::error::ErrorKind::ForeignKeyViolation => upload_gone(upload_id),
        _ => map(e),
    }
}

impl SqlStore {
    /// `FOR UPDATE` where the backend has row locks (PostgreSQL); SQLite's write transaction
    /// already holds the database lock.
    fn lock_clause(&self) -> &'static str {
        match self.kind {
            BackendKind::Postgres => " FOR UPDATE",
            BackendKind::Sqlite => "",
        }
    }

    /// Deletes the object at `(bucket, key)` inside `tx`; returns its blobs (`None` when absent).
    async fn take_object(
        &self,
        tx: &mut Transaction<'static, Any>,
        bucket: &str,
        key: &str,
    ) -> CoreResult<Option<Vec<String>>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT object_id, blob FROM oss_objects WHERE bucket = $1 AND object_key = $2{}",
            self.lock_clause()
        )))
        .bind(bucket)
        .bind(key)
        .fetch_optional(&mut **tx)
        .await
        .map_err(map)?;
        let Some(row) = row else { return Ok(None) };
        let object_id: String = get(&row, "object_id")?;
        let mut blobs: Vec<String> = get::<Option<String>>(&row, "blob")?.into_iter().collect();
        let parts = sqlx::query("SELECT blob FROM oss_object_parts WHERE object_id = $1 ORDER BY part_number")
            .bind(&object_id)
            .fetch_all(&mut **tx)
            .await
            .map_err(map)?;
        for p in &parts {
            blobs.push(get(p, "blob")?);
        }
        sqlx::query("DELETE FROM oss_object_parts WHERE object_id = $1")
            .bind(&object_id)
            .execute(&mut **tx)
            .await
            .map_err(map)?;
        sqlx::query("DELETE FROM oss_objects WHERE object_id = $1")
            .bind(&object_id)
            .execute(&mut **tx)
            .await
            .map_err(map)?;
        Ok(Some(blobs))
    }

    async fn insert_object(&self, tx: &mut Transaction<'static, Any>, o: &StoredObject) -> Result<(), sqlx::Error> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO oss_objects ({OBJECT_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
        )))
        .bind(&o.bucket)
        .bind(&o.key)
        .bind(&o.object_id)
        .bind(&o.account_id)
        .bind(o.size as i64)
        .bind(&o.etag)
        .bind(o.md5_hex.as_deref())
        .bind(o.crc64 as i64)
        .bind(&o.content_type)
        .bind(o.object_type.as_str())
        .bind(o.blob.as_deref())
        .bind(i64::from(o.part_count))
        .bind(o.media_id.as_deref())
        .bind(o.created_at)
        .bind(i64::from(o.notified))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn insert_manifest(
        &self,
        tx: &mut Transaction<'static, Any>,
        object_id: &str,
        manifest: &[ManifestPart],
    ) -> CoreResult<()> {
        for batch in manifest.chunks(MANIFEST_BATCH) {
            let mut sql =
                String::from("INSERT INTO oss_object_parts (object_id, part_number, blob, size, start_offset) VALUES ");
            for i in 0..batch.len() {
                let b = i * 5;
                if i > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!("(${}, ${}, ${}, ${}, ${})", b + 1, b + 2, b + 3, b + 4, b + 5));
            }
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for p in batch {
                q = q
                    .bind(object_id)
                    .bind(i64::from(p.part_number))
                    .bind(p.blob.as_str())
                    .bind(p.size as i64)
                    .bind(p.offset as i64);
            }
            q.execute(&mut **tx).await.map_err(map)?;
        }
        Ok(())
    }

    async fn try_put_object(&self, object: &StoredObject) -> Result<Vec<String>, (bool, CoreError)> {
        let mut tx = self.begin_write().await.map_err(|e| (false, e))?;
        let old = self
            .take_object(&mut tx, &object.bucket, &object.key)
            .await
            .map_err(|e| (false, e))?;
        if let Err(e) = self.insert_object(&mut tx, object).await {
            return Err((is_unique_violation(&e), map(e)));
        }
        tx.commit().await.map_err(|e| (false, map(e)))?;
        Ok(old.unwrap_or_default())
    }

    async fn try_complete(
        &self,
        upload_id: &str,
        object: &StoredObject,
        manifest: &[ManifestPart],
    ) -> Result<Vec<String>, (bool, CoreError)> {
        let fail = |e| (false, e);
        let mut tx = self.begin_write().await.map_err(fail)?;
        let lock = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT upload_id FROM oss_uploads WHERE upload_id = $1{}",
            self.lock_clause()
        )))
        .bind(upload_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| fail(map(e)))?;
        if lock.is_none() {
            return Err(fail(upload_gone(upload_id)));
        }
        let rows = sqlx::query("SELECT part_number, blob FROM oss_upload_parts WHERE upload_id = $1")
            .bind(upload_id)
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| fail(map(e)))?;
        let mut recorded: HashMap<i64, String> = HashMap::with_capacity(rows.len());
        for r in &rows {
            recorded.insert(get(r, "part_number").map_err(fail)?, get(r, "blob").map_err(fail)?);
        }
        for p in manifest {
            match recorded.remove(&i64::from(p.part_number)) {
                Some(blob) if blob == p.blob => {}
                _ => {
                    return Err(fail(CoreError::InvalidState(format!(
                        "part {} of upload {upload_id} changed while completing",
                        p.part_number
                    ))));
                }
            }
        }
        let mut unreferenced: Vec<String> = recorded.into_values().collect();
        let old = self
            .take_object(&mut tx, &object.bucket, &object.key)
            .await
            .map_err(fail)?;
        unreferenced.extend(old.unwrap_or_default());
        if let Err(e) = self.insert_object(&mut tx, object).await {
            return Err((is_unique_violation(&e), map(e)));
        }
        self.insert_manifest(&mut tx, &object.object_id, manifest)
            .await
            .map_err(fail)?;
        sqlx::query("DELETE FROM oss_upload_parts WHERE upload_id = $1")
            .bind(upload_id)
            .execute(&mut *tx)
            .await
            .map_err(|e| fail(map(e)))?;
        sqlx::query("DELETE FROM oss_uploads WHERE upload_id = $1")
            .bind(upload_id)
            .execute(&mut *tx)
            .await
            .map_err(|e| fail(map(e)))?;
        tx.commit().await.map_err(|e| fail(map(e)))?;
        Ok(unreferenced)
    }
}

/// Runs `attempt` again while it reports a lost primary-key race.
async fn retry_races<T, F, Fut>(mut attempt: F) -> CoreResult<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, (bool, CoreError)>>,
{
    let mut tries = 0;
    loop {
        match attempt().await {
            Ok(v) => return Ok(v),
            Err((true, _)) if tries + 1 < RACE_RETRIES => tries += 1,
            Err((_, e)) => return Err(e),
        }
    }
}

#[async_trait]
impl ObjectRepo for SqlStore {
    async fn get_object(&self, bucket: &str, key: &str) -> CoreResult<Option<StoredObject>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {OBJECT_COLS} FROM oss_objects WHERE bucket = $1 AND object_key = $2"
        )))
        .bind(bucket)
        .bind(key)
        .fetch_optional(&self.pool)
        .await
        .map_err(map)?;
        row.as_ref().map(object_from).transpose()
    }

    async fn object_manifest(&self, object_id: &str) -> CoreResult<Vec<ManifestPart>> {
        let rows = sqlx::query(
            "SELECT part_number, blob, size, start_offset FROM oss_object_parts WHERE object_id = $1 ORDER BY part_number",
        )
        .bind(object_id)
        .fetch_all(&self.pool)
        .await
        .map_err(map)?;
        rows.iter()
            .map(|r| {
                Ok(ManifestPart {
                    part_number: get::<i64>(r, "part_number")?.max(0) as u32,
                    blob: get(r, "blob")?,
                    size: get::<i64>(r, "size")?.max(0) as u64,
                    offset: get::<i64>(r, "start_offset")?.max(0) as u64,
                })
            })
            .collect()
    }

    async fn put_object(&self, object: &StoredObject) -> CoreResult<Vec<String>> {
        retry_races(|| self.try_put_object(object)).await
    }

    async fn delete_object(&self, bucket: &str, key: &str) -> CoreResult<Option<Vec<String>>> {
        let mut tx = self.begin_write().await?;
        let old = self.take_object(&mut tx, bucket, key).await?;
        tx.commit().await.map_err(map)?;
        Ok(old)
    }

    async fn list_objects(&self, bucket: &str, prefix: &str, after: &str, limit: u32) -> CoreResult<Vec<StoredObject>> {
        let limit = if limit == 0 { 1000 } else { i64::from(limit) };
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {OBJECT_COLS} FROM oss_objects WHERE bucket = $1 \
             AND substr(object_key, 1, CAST($2 AS INTEGER)) = $3 AND object_key > $4 \
             ORDER BY object_key LIMIT $5"
        )))
        .bind(bucket)
        .bind(prefix.chars().count() as i64)
        .bind(prefix)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(map)?;
        rows.iter().map(object_from).collect()
    }

    async fn set_object_md5(&self, object_id: &str, md5_hex: &str) -> CoreResult<bool> {
        let done = sqlx::query("UPDATE oss_objects SET md5_hex = $1 WHERE object_id = $2")
            .bind(md5_hex)
            .bind(object_id)
            .execute(&self.pool)
            .await
            .map_err(map)?;
        Ok(done.rows_affected() == 1)
    }

    async fn mark_object_notified(&self, object_id: &str) -> CoreResult<bool> {
        let done = sqlx::query("UPDATE oss_objects SET notified = 1 WHERE object_id = $1")
            .bind(object_id)
            .execute(&self.pool)
            .await
            .map_err(map)?;
        Ok(done.rows_affected() == 1)
    }

    async fn unnotified_objects(&self, before_ms: i64, limit: u32) -> CoreResult<Vec<StoredObject>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {OBJECT_COLS} FROM oss_objects WHERE notified = 0 AND created_at < $1 \
             ORDER BY created_at, object_id LIMIT $2"
        )))
        .bind(before_ms)
        .bind(i64::from(limit.max(1)))
        .fetch_all(&self.pool)
        .await
        .map_err(map)?;
        rows.iter().map(object_from).collect()
    }

    async fn create_multipart_upload(&self, u: &MultipartUpload) -> CoreResult<()> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO oss_uploads ({UPLOAD_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        )))
        .bind(&u.upload_id)
        .bind(&u.bucket)
        .bind(&u.key)
        .bind(&u.account_id)
        .bind(&u.content_type)
        .bind(u.media_id.as_deref())
        .bind(u.initiated_at)
        .execute(&self.pool)
        .await
        .map_err(|e| crate::error::exists_or(e, "Upload", &u.upload_id))?;
        Ok(())
    }

    async fn get_multipart_upload(&self, upload_id: &str) -> CoreResult<Option<MultipartUpload>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {UPLOAD_COLS} FROM oss_uploads WHERE upload_id = $1"
        )))
        .bind(upload_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(map)?;
        row.as_ref().map(upload_from).transpose()
    }

    async fn list_multipart_uploads(&self, bucket: &str, q: &UploadListQuery) -> CoreResult<Vec<MultipartUpload>> {
        let limit = if q.limit == 0 { 1000 } else { i64::from(q.limit) };
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {UPLOAD_COLS} FROM oss_uploads WHERE bucket = $1 \
             AND substr(object_key, 1, CAST($2 AS INTEGER)) = $3 \
             AND (object_key > $4 OR (object_key = $4 AND $5 <> '' AND upload_id > $5)) \
             ORDER BY object_key, upload_id LIMIT $6"
        )))
        .bind(bucket)
        .bind(q.prefix.chars().count() as i64)
        .bind(&q.prefix)
        .bind(&q.key_marker)
        .bind(&q.upload_id_marker)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(map)?;
        rows.iter().map(upload_from).collect()
    }

    async fn put_upload_part(&self, p: &UploadPart) -> CoreResult<Option<String>> {
        let mut tx = self.begin_write().await?;
        let inserted = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO oss_upload_parts ({PART_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (upload_id, part_number) DO NOTHING"
        )))
        .bind(&p.upload_id)
        .bind(i64::from(p.part_number))
        .bind(&p.blob)
        .bind(p.size as i64)
        .bind(&p.md5_hex)
        .bind(p.crc64 as i64)
        .bind(p.last_modified)
        .execute(&mut *tx)
        .await
        .map_err(|e| part_error(e, &p.upload_id))?;
        if inserted.rows_affected() == 1 {
            tx.commit().await.map_err(map)?;
            return Ok(None);
        }
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT blob FROM oss_upload_parts WHERE upload_id = $1 AND part_number = $2{}",
            self.lock_clause()
        )))
        .bind(&p.upload_id)
        .bind(i64::from(p.part_number))
        .fetch_optional(&mut *tx)
        .await
        .map_err(map)?;
        let Some(row) = row else {
            // The upload (and with it the part) went away between the two statements.
            return Err(upload_gone(&p.upload_id));
        };
        let old: String = get(&row, "blob")?;
        sqlx::query(
            "UPDATE oss_upload_parts SET blob = $1, size = $2, md5_hex = $3, crc64 = $4, last_modified = $5 \
             WHERE upload_id = $6 AND part_number = $7",
        )
        .bind(&p.blob)
        .bind(p.size as i64)
        .bind(&p.md5_hex)
        .bind(p.crc64 as i64)
        .bind(p.last_modified)
        .bind(&p.upload_id)
        .bind(i64::from(p.part_number))
        .execute(&mut *tx)
        .await
        .map_err(map)?;
        tx.commit().await.map_err(map)?;
        Ok(Some(old))
    }

    async fn list_upload_parts(&self, upload_id: &str, after_part: u32, limit: u32) -> CoreResult<Vec<UploadPart>> {
        let limit = if limit == 0 { i64::MAX } else { i64::from(limit) };
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PART_COLS} FROM oss_upload_parts WHERE upload_id = $1 AND part_number > $2 \
             ORDER BY part_number LIMIT $3"
        )))
        .bind(upload_id)
        .bind(i64::from(after_part))
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(map)?;
        rows.iter().map(part_from).collect()
    }

    async fn complete_multipart_upload(
        &self,
        upload_id: &str,
        object: &StoredObject,
        manifest: &[ManifestPart],
    ) -> CoreResult<Vec<String>> {
        retry_races(|| self.try_complete(upload_id, object, manifest)).await
    }

    async fn abort_multipart_upload(&self, upload_id: &str) -> CoreResult<Option<Vec<String>>> {
        let mut tx = self.begin_write().await?;
        let lock = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT upload_id FROM oss_uploads WHERE upload_id = $1{}",
            self.lock_clause()
        )))
        .bind(upload_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map)?;
        if lock.is_none() {
            return Ok(None);
        }
        let rows = sqlx::query("SELECT blob FROM oss_upload_parts WHERE upload_id = $1 ORDER BY part_number")
            .bind(upload_id)
            .fetch_all(&mut *tx)
            .await
            .map_err(map)?;
        let blobs = rows
            .iter()
            .map(|r| get(r, "blob"))
            .collect::<CoreResult<Vec<String>>>()?;
        sqlx::query("DELETE FROM oss_upload_parts WHERE upload_id = $1")
            .bind(upload_id)
            .execute(&mut *tx)
            .await
            .map_err(map)?;
        sqlx::query("DELETE FROM oss_uploads WHERE upload_id = $1")
            .bind(upload_id)
            .execute(&mut *tx)
            .await
            .map_err(map)?;
        tx.commit().await.map_err(map)?;
        Ok(Some(blobs))
    }
}
