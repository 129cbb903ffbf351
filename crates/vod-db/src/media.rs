//! `MediaRepo` for `SqlStore`: table `media` (migration 0006). Source completion and
//! deletion store their jobs with `jobs::insert_jobs` inside their own transaction, so a
//! state change and the jobs it causes commit together. SearchMedia filters are compiled
//! to SQL in [`crate::media_search`].

use async_trait::async_trait;
use serde_json::Value;
use sqlx::any::AnyRow;
use vod_core::model::NewJob;
use vod_core::model::media::{
    Media, MediaKey, MediaPatch, MediaQuery, MediaScope, MediaStatus, MediaType, SourceInfo, SourceUpdate,
};
use vod_core::ports::MediaRepo;
use vod_core::{CoreError, CoreResult};

use crate::error::{is_unique_violation, map, violation_text};
use crate::jobs::insert_jobs;
use crate::media_search::{Bind, bind_all, compile_query};
use crate::store::{SqlStore, get, get_enum};

pub(crate) const COLS: &str = "media_id, account_id, app_id, scope, media_type, status, title, description, tags, \
    cate_id, cover_url, reference_id, user_data, template_group_id, workflow_id, business_type, storage_location, \
    file_name, object_key, object_prefix, input_url, client_token, declared_size, upload_generation, \
    source_generation, source_object_id, size, md5, file_url, duration, width, height, bitrate, fps, streams, \
    snapshots, damaged, extra, created_at, modified_at, uploaded_at";

fn json_col(row: &AnyRow, col: &str) -> CoreResult<Option<Value>> {
    let s: Option<String> = get(row, col)?;
    s.map(|s| serde_json::from_str(&s).map_err(|e| CoreError::Internal(format!("bad JSON in media.{col}: {e}"))))
        .transpose()
}

pub(crate) fn media_from(row: &AnyRow) -> CoreResult<Media> {
    let snapshots = match json_col(row, "snapshots")? {
        Some(Value::Array(items)) => items
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    let input_url: Option<String> = get(row, "input_url")?;
    Ok(Media {
        media_id: get(row, "media_id")?,
        account_id: get(row, "account_id")?,
        app_id: get(row, "app_id")?,
        scope: get_enum(row, "scope", MediaScope::parse)?,
        media_type: get_enum(row, "media_type", MediaType::parse)?,
        status: get_enum(row, "status", MediaStatus::parse)?,
        title: get(row, "title")?,
        description: get(row, "description")?,
        tags: get(row, "tags")?,
        cate_id: get(row, "cate_id")?,
        cover_url: get(row, "cover_url")?,
        reference_id: get(row, "reference_id")?,
        user_data: get(row, "user_data")?,
        template_group_id: get(row, "template_group_id")?,
        workflow_id: get(row, "workflow_id")?,
        business_type: get(row, "business_type")?,
        storage_location: get(row, "storage_location")?,
        file_name: get(row, "file_name")?,
        object_key: get(row, "object_key")?,
        object_prefix: get(row, "object_prefix")?,
        input_url: input_url.unwrap_or_default(),
        client_token: get(row, "client_token")?,
        declared_size: get(row, "declared_size")?,
        upload_generation: get(row, "upload_generation")?,
        source_generation: get(row, "source_generation")?,
        source_object_id: get(row, "source_object_id")?,
        size: get(row, "size")?,
        md5: get(row, "md5")?,
        file_url: get(row, "file_url")?,
        duration: get(row, "duration")?,
        width: get(row, "width")?,
        height: get(row, "height")?,
        bitrate: get(row, "bitrate")?,
        fps: get(row, "fps")?,
        streams: json_col(row, "streams")?,
        snapshots,
        damaged: get(row, "damaged")?,
        extra: json_col(row, "extra")?.unwrap_or(Value::Object(Default::default())),
        created_at: get(row, "created_at")?,
        modified_at: get(row, "modified_at")?,
        uploaded_at: get(row, "uploaded_at")?,
    })
}

/// Sorts a unique violation of `media` into the caller-facing key that clashed.
fn clash(e: sqlx::Error, media: &Media) -> CoreError {
    if !is_unique_violation(&e) {
        return map(e);
    }
    let text = violation_text(&e);
    if text.contains("reference") {
        CoreError::AlreadyExists {
            kind: "ReferenceId",
            id: media.reference_id.clone().unwrap_or_default(),
        }
    } else if text.contains("input_url") {
        CoreError::AlreadyExists {
            kind: "InputURL",
            id: media.input_url.clone(),
        }
    } else if text.contains("client_token") {
        CoreError::AlreadyExists {
            kind: "ClientToken",
            id: media.client_token.clone().unwrap_or_default(),
        }
    } else {
        CoreError::AlreadyExists {
            kind: "Media",
            id: media.media_id.clone(),
        }
    }
}

fn to_json_text(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

/// `$first, …` for `n` values.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[async_trait]
impl MediaRepo for SqlStore {
    async fn create_media(&self, m: &Media) -> CoreResult<()> {
        let snapshots = to_json_text(&Value::from(m.snapshots.clone()));
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO media ({COLS}) VALUES ({})",
            placeholders(1, 41)
        )))
        .bind(&m.media_id)
        .bind(&m.account_id)
        .bind(&m.app_id)
        .bind(m.scope.as_str())
        .bind(m.media_type.as_str())
        .bind(m.status.as_str())
        .bind(&m.title)
        .bind(&m.description)
        .bind(&m.tags)
        .bind(m.cate_id)
        .bind(&m.cover_url)
        .bind(m.reference_id.as_deref())
        .bind(&m.user_data)
        .bind(&m.template_group_id)
        .bind(&m.workflow_id)
        .bind(&m.business_type)
        .bind(&m.storage_location)
        .bind(&m.file_name)
        .bind(&m.object_key)
        .bind(m.object_prefix.as_deref())
        .bind(Some(m.input_url.as_str()).filter(|u| !u.is_empty()))
        .bind(m.client_token.as_deref())
        .bind(m.declared_size)
        .bind(m.upload_generation)
        .bind(m.source_generation)
        .bind(m.source_object_id.as_deref())
        .bind(m.size)
        .bind(m.md5.as_deref())
        .bind(&m.file_url)
        .bind(m.duration)
        .bind(m.width)
        .bind(m.height)
        .bind(m.bitrate.as_deref())
        .bind(m.fps.as_deref())
        .bind(m.streams.as_ref().map(to_json_text))
        .bind(snapshots)
        .bind(m.damaged.as_deref())
        .bind(to_json_text(&m.extra))
        .bind(m.created_at)
        .bind(m.modified_at)
        .bind(m.uploaded_at)
        .execute(&self.pool)
        .await
        .map_err(|e| clash(e, m))?;
        Ok(())
    }

    async fn find_media(&self, account_id: &str, scope: MediaScope, key: &MediaKey) -> CoreResult<Option<Media>> {
        let (col, value) = match key {
            MediaKey::Id(v) => ("media_id", v),
            MediaKey::ReferenceId(v) => ("reference_id", v),
            MediaKey::InputUrl(v) => ("input_url", v),
            MediaKey::ClientToken(v) => ("client_token", v),
        };
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLS} FROM media WHERE account_id = $1 AND scope = $2 AND {col} = $3"
        )))
        .bind(account_id)
        .bind(scope.as_str())
        .bind(value)
        .fetch_optional(&self.pool)
        .await
        .map_err(map)?;
        row.as_ref().map(media_from).transpose()
    }

    async fn get_media_by_id(&self, media_id: &str) -> CoreResult<Option<Media>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLS} FROM media WHERE media_id = $1"
        )))
        .bind(media_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(map)?;
        row.as_ref().map(media_from).transpose()
    }

    async fn find_media_by_object(&self, bucket: &str, key: &str) -> CoreResult<Option<Media>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLS} FROM media WHERE storage_location = $1 AND object_key = $2 ORDER BY created_at LIMIT 1"
        )))
        .bind(bucket)
        .bind(key)
        .fetch_optional(&self.pool)
        .await
        .map_err(map)?;
        if let Some(row) = row {
            return media_from(&row).map(Some);
        }
        // Every proper prefix of the key that ends in '/' may be an m3u8 ObjectPrefix.
        let prefixes: Vec<&str> = key.match_indices('/').map(|(i, _)| &key[..=i]).collect();
        if prefixes.is_empty() {
            return Ok(None);
        }
        let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLS} FROM media WHERE storage_location = $1 AND object_prefix IN ({}) \
             ORDER BY LENGTH(object_prefix) DESC, created_at LIMIT 1",
            placeholders(2, prefixes.len())
        )))
        .bind(bucket);
        for p in &prefixes {
            q = q.bind(*p);
        }
        let row = q.fetch_optional(&self.pool).await.map_err(map)?;
        row.as_ref().map(media_from).transpose()
    }

    async fn reissue_upload(&self, account_id: &str, scope: MediaScope, media_id: &str) -> CoreResult<Option<Media>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE media SET upload_generation = upload_generation + 1 \
             WHERE account_id = $1 AND scope = $2 AND media_id = $3 RETURNING {COLS}"
        )))
        .bind(account_id)
        .bind(scope.as_str())
        .bind(media_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(map)?;
        row.as_ref().map(media_from).transpose()
    }

    async fn update_media_info(
        &self,
        account_id: &str,
        scope: MediaScope,
        media_id: &str,
        patch: &MediaPatch,
        now_ms: i64,
    ) -> CoreResult<bool> {
        let mut sets = vec!["modified_at = $1".to_string()];
        let mut binds = vec![Bind::Int(now_ms)];
        let text = |col: &str, v: &Option<String>, sets: &mut Vec<String>, binds: &mut Vec<Bind>| {
            if let Some(v) = v {
                binds.push(Bind::Text(v.clone()));
                sets.push(format!("{col} = ${}", binds.len()));
            }
        };
        text("title", &patch.title, &mut sets, &mut binds);
        text("description", &patch.description, &mut sets, &mut binds);
        text("tags", &patch.tags, &mut sets, &mut binds);
        text("cover_url", &patch.cover_url, &mut sets, &mut binds);
        text("reference_id", &patch.reference_id, &mut sets, &mut binds);
        text("user_data", &patch.user_data, &mut sets, &mut binds);
        if let Some(cate) = patch.cate_id {
            binds.push(cate.map_or(Bind::NullInt, Bind::Int));
            sets.push(format!("cate_id = ${}", binds.len()));
        }
        let n = binds.len();
        let sql = format!(
            "UPDATE media SET {} WHERE account_id = ${} AND scope = ${} AND media_id = ${}",
            sets.join(", "),
            n + 1,
            n + 2,
            n + 3
        );
        binds.extend([
            Bind::Text(account_id.into()),
            Bind::Text(scope.as_str().into()),
            Bind::Text(media_id.into()),
        ]);
        let done = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), &binds)
            .execute(&self.pool)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    CoreError::AlreadyExists {
                        kind: "ReferenceId",
                        id: patch.reference_id.clone().unwrap_or_default(),
                    }
                } else {
                    map(e)
                }
            })?;
        Ok(done.rows_affected() > 0)
    }

    async fn complete_media_upload(&self, u: &SourceUpdate, jobs: &[NewJob]) -> CoreResult<Option<i64>> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "UPDATE media SET source_generation = source_generation + 1, source_object_id = $1, status = $2, \
             size = $3, md5 = $4, file_url = $5, damaged = $6, uploaded_at = $7, modified_at = $7, \
             duration = NULL, width = NULL, height = NULL, bitrate = NULL, fps = NULL, streams = NULL \
             WHERE media_id = $8 AND account_id = $9 AND source_generation = $10 RETURNING source_generation",
        )
        .bind(&u.object_id)
        .bind(u.status.as_str())
        .bind(u.size)
        .bind(u.md5.as_deref())
        .bind(&u.file_url)
        .bind(u.damaged.as_deref())
        .bind(u.uploaded_at)
        .bind(&u.media_id)
        .bind(&u.account_id)
        .bind(u.expected_generation)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map)?;
        let Some(row) = row else {
            tx.rollback().await.map_err(map)?;
            return Ok(None);
        };
        let generation: i64 = get(&row, "source_generation")?;
        insert_jobs(&mut tx, jobs).await?;
        tx.commit().await.map_err(map)?;
        Ok(Some(generation))
    }

    async fn set_media_damaged(
        &self,
        media_id: &str,
        source_generation: i64,
        reason: &str,
        now_ms: i64,
    ) -> CoreResult<bool> {
        let done = sqlx::query(
            "UPDATE media SET damaged = $1, status = $2, modified_at = $3 WHERE media_id = $4 AND source_generation = $5",
        )
        .bind(reason)
        .bind(MediaStatus::UploadFail.as_str())
        .bind(now_ms)
        .bind(media_id)
        .bind(source_generation)
        .execute(&self.pool)
        .await
        .map_err(map)?;
        Ok(done.rows_affected() > 0)
    }

    async fn record_source_info(
        &self,
        media_id: &str,
        source_generation: i64,
        info: &SourceInfo,
        now_ms: i64,
    ) -> CoreResult<bool> {
        let done = sqlx::query(
            "UPDATE media SET duration = $1, width = $2, height = $3, bitrate = $4, fps = $5, streams = $6, \
             modified_at = $7 WHERE media_id = $8 AND source_generation = $9",
        )
        .bind(info.duration)
        .bind(info.width)
        .bind(info.height)
        .bind(info.bitrate.as_deref())
        .bind(info.fps.as_deref())
        .bind(info.streams.as_ref().map(to_json_text))
        .bind(now_ms)
        .bind(media_id)
        .bind(source_generation)
        .execute(&self.pool)
        .await
        .map_err(map)?;
        Ok(done.rows_affected() > 0)
    }

    async fn set_media_status(
        &self,
        media_id: &str,
        source_generation: i64,
        from: &[MediaStatus],
        to: MediaStatus,
        now_ms: i64,
    ) -> CoreResult<bool> {
        let guard = if from.is_empty() {
            String::new()
        } else {
            format!(" AND status IN ({})", placeholders(5, from.len()))
        };
        let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE media SET status = $1, modified_at = $2 WHERE media_id = $3 AND source_generation = $4{guard}"
        )))
        .bind(to.as_str())
        .bind(now_ms)
        .bind(media_id)
        .bind(source_generation);
        for s in from {
            q = q.bind(s.as_str());
        }
        let done = q.execute(&self.pool).await.map_err(map)?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_media(
        &self,
        account_id: &str,
        scope: MediaScope,
        media_id: &str,
        jobs: &[NewJob],
    ) -> CoreResult<Option<Media>> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM media WHERE account_id = $1 AND scope = $2 AND media_id = $3 RETURNING {COLS}"
        )))
        .bind(account_id)
        .bind(scope.as_str())
        .bind(media_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map)?;
        let Some(row) = row else {
            tx.rollback().await.map_err(map)?;
            return Ok(None);
        };
        let media = media_from(&row)?;
        for table in ["media_streams", "media_snapshot_sets"] {
            sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE media_id = $1")))
                .bind(media_id)
                .execute(&mut *tx)
                .await
                .map_err(map)?;
        }
        insert_jobs(&mut tx, jobs).await?;
        tx.commit().await.map_err(map)?;
        Ok(Some(media))
    }

    async fn search_media(&self, account_id: &str, query: &MediaQuery) -> CoreResult<(Vec<Media>, u64)> {
        if query.media_types.is_empty() || query.limit == 0 {
            return Ok((Vec::new(), 0));
        }
        let compiled = compile_query(account_id, query)?;
        let rows = bind_all(
            sqlx::query(sqlx::AssertSqlSafe(compiled.page_sql)),
            &compiled.page_binds,
        )
        .fetch_all(&self.pool)
        .await
        .map_err(map)?;
        let total_row = bind_all(
            sqlx::query(sqlx::AssertSqlSafe(compiled.count_sql)),
            &compiled.count_binds,
        )
        .fetch_one(&self.pool)
        .await
        .map_err(map)?;
        let total: i64 = get(&total_row, "total")?;
        let list = rows.iter().map(media_from).collect::<CoreResult<Vec<_>>>()?;
        Ok((list, total.max(0) as u64))
    }

    async fn count_media_in_app(&self, account_id: &str, app_id: &str) -> CoreResult<u64> {
        let row = sqlx::query("SELECT COUNT(*) AS total FROM media WHERE account_id = $1 AND app_id = $2")
            .bind(account_id)
            .bind(app_id)
            .fetch_one(&self.pool)
            .await
            .map_err(map)?;
        let total: i64 = get(&row, "total")?;
        Ok(total.max(0) as u64)
    }
}
