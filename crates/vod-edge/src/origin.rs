//! The origin seam: where the edge reads objects it does not have ([`Origin`]), and its
//! implementation over the object store of vod-blob ([`ObjectStoreOrigin`]).

use std::any::Any;
use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use vod_blob::{ByteStream, ObjectStore};
use vod_core::model::StoredObject;

/// What the origin says about an object.
#[derive(Clone)]
pub struct OriginMeta {
    pub size: u64,
    /// The entity tag without quotes (for vod-blob: uppercase hex MD5, or `<HEX>-<parts>`).
    pub etag: String,
    /// Last modification, milliseconds since the Unix epoch.
    pub last_modified_ms: i64,
    /// The content type the object was stored with, if any; the edge prefers the type its
    /// extension names and falls back to this one.
    pub content_type: Option<String>,
    /// Implementation data handed back to [`Origin::read`] (vod-blob: the object row), so
    /// a read streams exactly the version that was looked at.
    pub handle: Option<Arc<dyn Any + Send + Sync>>,
}

impl std::fmt::Debug for OriginMeta {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OriginMeta")
            .field("size", &self.size)
            .field("etag", &self.etag)
            .field("last_modified_ms", &self.last_modified_ms)
            .field("content_type", &self.content_type)
            .finish_non_exhaustive()
    }
}

/// A failed origin call.
#[derive(Debug, Clone, thiserror::Error)]
pub enum OriginError {
    /// The object was replaced or deleted between the stat and the read.
    #[error("the object changed at the origin")]
    Changed,
    #[error("origin: {0}")]
    Backend(String),
}

/// Where cache misses are read from.
#[async_trait]
pub trait Origin: Send + Sync + 'static {
    /// The object at `bucket/key`, or `None` when there is none.
    async fn stat(&self, bucket: &str, key: &str) -> Result<Option<OriginMeta>, OriginError>;

    /// Streams bytes `range` (within `0..meta.size`) of the object `meta` describes.
    async fn read(
        &self,
        bucket: &str,
        key: &str,
        meta: &OriginMeta,
        range: Range<u64>,
    ) -> Result<ByteStream, OriginError>;
}

/// The origin over vod-blob's [`ObjectStore`] (the objects uploads and transcodes wrote).
#[derive(Debug, Clone)]
pub struct ObjectStoreOrigin {
    objects: Arc<ObjectStore>,
}

impl ObjectStoreOrigin {
    pub fn new(objects: Arc<ObjectStore>) -> Self {
        Self { objects }
    }
}

fn meta_of(object: StoredObject) -> OriginMeta {
    let content_type = Some(object.content_type.clone()).filter(|t| !t.is_empty());
    OriginMeta {
        size: object.size,
        etag: object.etag.clone(),
        last_modified_ms: object.created_at,
        content_type,
        handle: Some(Arc::new(object)),
    }
}

#[async_trait]
impl Origin for ObjectStoreOrigin {
    async fn stat(&self, bucket: &str, key: &str) -> Result<Option<OriginMeta>, OriginError> {
        let object = self
            .objects
            .get(bucket, key)
            .await
            .map_err(|e| OriginError::Backend(e.to_string()))?;
        Ok(object.map(meta_of))
    }

    async fn read(
        &self,
        bucket: &str,
        key: &str,
        meta: &OriginMeta,
        range: Range<u64>,
    ) -> Result<ByteStream, OriginError> {
        let held = meta.handle.as_ref().and_then(|h| h.downcast_ref::<StoredObject>());
        let object = match held {
            Some(o) => o.clone(),
            None => {
                let current = self
                    .objects
                    .get(bucket, key)
                    .await
                    .map_err(|e| OriginError::Backend(e.to_string()))?
                    .ok_or(OriginError::Changed)?;
                if current.etag != meta.etag || current.size != meta.size {
                    return Err(OriginError::Changed);
                }
                current
            }
        };
        self.objects
            .read(&object, range)
            .await
            .map_err(|e| OriginError::Backend(e.to_string()))
    }
}
