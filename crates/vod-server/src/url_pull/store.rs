//! Step 3 of a URL pull: the media record (created once, with the id chosen at submission)
//! and the downloaded file as its source blob (renamed into a local blob root, or copied
//! into the object store).

use std::path::Path;

use bytes::Bytes;
use serde_json::Value;
use tokio::io::AsyncReadExt;
use vod_blob::BlobStore;
use vod_core::model::media::{Media, MediaScope, MediaType, created_at_of_id, vod_media_type_of};
use vod_core::model::url_upload::{UrlUpload, UrlUploadStatus, UrlUploadUpdate};
use vod_core::model::{ObjectType, StoredObject};
use vod_core::uploads::{CompletedObject, UploadEvents};
use vod_core::{CoreError, now_ms};

use super::sink::Downloaded;
use super::{COPY_CHUNK, Failure, UrlPullHandler, core, hex_lower, store_failure};

impl UrlPullHandler {
    /// The media of this job, created on first use with the id chosen at submission.
    pub(super) async fn ensure_media(&self, u: &UrlUpload) -> Result<Media, Failure> {
        if let Some(m) = self.store.get_media_by_id(&u.media_id).await.map_err(core)? {
            return Ok(m);
        }
        let ext = u.meta.file_extension.clone();
        let media_type = vod_media_type_of(&format!("x.{ext}")).map_or(MediaType::Video, |(t, _)| t);
        let created = created_at_of_id(&u.media_id).unwrap_or_else(now_ms);
        let mut m = Media::new(
            u.media_id.clone(),
            u.account_id.clone(),
            u.app_id.clone(),
            MediaScope::Vod,
            media_type,
            created,
        );
        m.title = u.meta.title.clone();
        m.description = u.meta.description.clone();
        m.tags = u.meta.tags.clone();
        m.cate_id = u.meta.cate_id;
        m.cover_url = u.meta.cover_url.clone();
        m.user_data = u.user_data.clone();
        m.template_group_id = u.meta.template_group_id.clone();
        m.workflow_id = u.meta.workflow_id.clone();
        m.declared_size = u.meta.declared_size;
        let name = u.upload_url.split(['?', '#']).next().unwrap_or_default();
        m.file_name = name.rsplit('/').next().unwrap_or_default().to_string();
        let mut extra = u.meta.extra.clone();
        if let Some(o) = extra.as_object_mut() {
            o.insert("SourceURL".into(), Value::from(u.upload_url.clone()));
            o.insert("UrlUploadJobId".into(), Value::from(u.job_id.clone()));
        }
        m.extra = extra;
        self.media.assign_storage(&mut m, &ext);
        match self.store.create_media(&m).await {
            Ok(()) => {}
            Err(CoreError::AlreadyExists { kind: "Media", .. }) => {}
            Err(e) => return Err(core(e)),
        }
        self.set_status(
            u,
            UrlUploadStatus::Uploading,
            UrlUploadUpdate {
                media_created: Some(true),
                ..Default::default()
            },
        )
        .await?;
        self.store
            .get_media_by_id(&u.media_id)
            .await
            .map_err(core)?
            .ok_or(Failure::Stopped)
    }

    /// Streams the part file into the object store as the media's source and reports it.
    async fn copy_into_blob(&self, part: &Path, blob: &str) -> Result<Downloaded, Failure> {
        let mut writer = self
            .blobs
            .writer(blob)
            .await
            .map_err(|e| store_failure(e.to_string()))?;
        let copied = async {
            let mut file = tokio::fs::File::open(part)
                .await
                .map_err(|e| store_failure(format!("cannot read the download file: {e}")))?;
            loop {
                let mut buf = vec![0u8; COPY_CHUNK];
                let mut filled = 0;
                while filled < COPY_CHUNK {
                    let n = file
                        .read(&mut buf[filled..])
                        .await
                        .map_err(|e| store_failure(format!("cannot read the download file: {e}")))?;
                    if n == 0 {
                        break;
                    }
                    filled += n;
                }
                if filled == 0 {
                    return Ok(());
                }
                buf.truncate(filled);
                writer
                    .write(Bytes::from(buf))
                    .await
                    .map_err(|e| store_failure(e.to_string()))?;
            }
        }
        .await;
        if let Err(e) = copied {
            writer.abort().await;
            return Err(e);
        }
        let out = writer.finish().await.map_err(|e| store_failure(e.to_string()))?;
        Ok(Downloaded {
            size: out.size,
            md5: out.md5,
            crc64: out.crc64,
        })
    }

    /// Moves the part file into the local blob root as `blob` (one rename, no copy). `None`
    /// when objects are not on the local filesystem or the rename is impossible (another
    /// filesystem): the caller copies instead.
    async fn adopt(&self, part: &Path, blob: &str, dl: &Downloaded) -> Option<Downloaded> {
        let root = self.local_root.as_ref()?;
        let target = root.join(blob);
        let parent = target.parent()?.to_path_buf();
        tokio::fs::create_dir_all(&parent).await.ok()?;
        if let Err(e) = tokio::fs::rename(part, &target).await {
            tracing::debug!(error = %e, "cannot rename the download into the blob root; copying");
            return None;
        }
        // The rename is durable once the directory is.
        let _ = tokio::task::spawn_blocking(move || std::fs::File::open(parent)?.sync_all()).await;
        Some(Downloaded {
            size: dl.size,
            md5: dl.md5,
            crc64: dl.crc64,
        })
    }

    pub(super) async fn store_source(&self, media: &Media, part: &Path, dl: &Downloaded) -> Result<(), Failure> {
        let blob = BlobStore::new_blob_name();
        let out = match self.adopt(part, &blob, dl).await {
            Some(out) => out,
            None => self.copy_into_blob(part, &blob).await?,
        };
        let md5_hex = hex_lower(&out.md5);
        let object = StoredObject {
            bucket: media.storage_location.clone(),
            key: media.object_key.clone(),
            object_id: vod_core::ids::hex_id(),
            account_id: media.account_id.clone(),
            size: out.size,
            etag: md5_hex.to_ascii_uppercase(),
            md5_hex: Some(md5_hex.clone()),
            crc64: out.crc64,
            content_type: "application/octet-stream".into(),
            object_type: ObjectType::Normal,
            blob: Some(blob.clone()),
            part_count: 0,
            media_id: Some(media.media_id.clone()),
            created_at: now_ms(),
            notified: false,
        };
        match self.store.put_object(&object).await {
            Ok(old) => {
                self.blobs.delete_all(&old).await;
            }
            Err(e) => {
                self.blobs.delete_all(&[blob]).await;
                return Err(core(e));
            }
        }
        let completed = CompletedObject {
            account_id: object.account_id.clone(),
            bucket: object.bucket.clone(),
            key: object.key.clone(),
            size: object.size,
            md5_hex,
            etag: object.etag.clone(),
            crc64: object.crc64,
            content_type: Some(object.content_type.clone()),
            media_id: object.media_id.clone(),
        };
        self.media.object_completed(&completed).await.map_err(core)?;
        let _ = self.store.mark_object_notified(&object.object_id).await;
        Ok(())
    }
}
