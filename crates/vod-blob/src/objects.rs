//! [`ObjectStore`]: the object layer on top of blobs and the metadata database.
//!
//! * PutObject writes one new blob, then swaps the object row; the replaced version's blobs
//!   are deleted after the swap.
//! * Multipart parts are separate blobs. CompleteMultipartUpload validates the part list
//!   (OSS rules: ascending, known parts with matching ETags, every part but the last at least
//!   100 KB) and records the object as a manifest of those blobs: O(parts) metadata, no byte
//!   is copied, so parts below S3's 5 MiB minimum work on an S3 backend too. Reads stream
//!   across the parts.
//! * The multipart ETag is `UPPERHEX(md5(concat(binary part md5s)))-N`; the object's CRC-64
//!   is combined from the part CRCs. The whole-object MD5 (for the media library) is chained
//!   across parts while they arrive in order (part 1, 2, … one after another, as the VOD
//!   upload SDK sends them), best effort ([`RunningMd5`]: it never slows a part); when parts
//!   come out of order or the chain gave up, it is left `None` and
//!   [`ObjectStore::ensure_md5`] reads it back.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use vod_auth::md5sum::Md5;
use vod_core::model::{ManifestPart, MultipartUpload, ObjectType, StoredObject, UploadPart};
use vod_core::ports::{MetaStore, UploadListQuery};
use vod_core::{CoreError, ids, now_ms};

use crate::running_md5::RunningMd5;
use crate::store::{BlobError, BlobStore, ByteStream};
use crate::writer::Durability;

/// Every part but the last must be at least this big (OSS: 100 KB).
pub const MIN_PART_SIZE: u64 = 100 * 1024;
/// Part numbers are 1..=MAX_PARTS.
pub const MAX_PARTS: u32 = 10_000;
/// Largest part and largest PutObject body (OSS: 5 GB).
pub const MAX_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;
pub const MAX_PUT_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// In-order MD5 chains kept at once (one per active upload; the oldest are dropped).
const MAX_CHAINS: usize = 4096;

/// Failures of object operations, named after the OSS error codes they become.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error("no such key")]
    NoSuchKey,
    #[error("no such upload")]
    NoSuchUpload,
    #[error("invalid part: {0}")]
    InvalidPart(String),
    #[error("the list of parts was not in ascending order")]
    InvalidPartOrder,
    #[error("part {part_number} is {size} bytes; every part but the last must be at least {min}")]
    EntityTooSmall { part_number: u32, size: u64, min: u64 },
    #[error("more than {0} bytes")]
    EntityTooLarge(u64),
    #[error("the Content-MD5 you specified did not match what was received")]
    BadDigest,
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The request body could not be read (client went away).
    #[error("reading the request body: {0}")]
    Body(String),
    #[error("blob store: {0}")]
    Blob(BlobError),
    #[error("metadata: {0}")]
    Meta(CoreError),
}

impl From<BlobError> for ObjectError {
    fn from(e: BlobError) -> Self {
        match e {
            BlobError::TooLarge(n) => Self::EntityTooLarge(n),
            BlobError::Source(m) => Self::Body(m),
            e => Self::Blob(e),
        }
    }
}

impl From<CoreError> for ObjectError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::NotFound { kind: "Upload", .. } => Self::NoSuchUpload,
            e => Self::Meta(e),
        }
    }
}

pub type ObjectResult<T> = Result<T, ObjectError>;

/// Who writes what (PutObject, InitiateMultipartUpload).
#[derive(Debug, Clone)]
pub struct ObjectWrite {
    pub bucket: String,
    pub key: String,
    pub account_id: String,
    pub content_type: String,
    /// The media named by the writing credential.
    pub media_id: Option<String>,
}

/// The running MD5 of parts 1..=k of an upload, uploaded in order (possibly still being
/// hashed while part k+1 arrives).
struct Chain {
    parts: Vec<(u32, String)>,
    md5: RunningMd5,
    touched: i64,
}

/// Objects: blobs plus their rows in the metadata database.
pub struct ObjectStore {
    blobs: BlobStore,
    meta: Arc<dyn MetaStore>,
    chains: Mutex<HashMap<String, Chain>>,
}

impl std::fmt::Debug for ObjectStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectStore")
            .field("blobs", &self.blobs)
            .finish_non_exhaustive()
    }
}

/// Uppercase hex ETag (without quotes) of a whole-body MD5.
pub fn etag_of(md5: &[u8; 16]) -> String {
    hex::encode_upper(md5)
}

/// Normalises a client-sent ETag: quotes dropped, uppercase.
pub fn normalize_etag(etag: &str) -> String {
    etag.trim().trim_matches('"').to_ascii_uppercase()
}

impl ObjectStore {
    pub fn new(blobs: BlobStore, meta: Arc<dyn MetaStore>) -> Self {
        Self {
            blobs,
            meta,
            chains: Mutex::new(HashMap::new()),
        }
    }

    pub fn blobs(&self) -> &BlobStore {
        &self.blobs
    }

    pub fn meta(&self) -> &Arc<dyn MetaStore> {
        &self.meta
    }

    /// Stores `body` as the object `w.bucket/w.key`, replacing any previous version.
    /// `content_md5` (from `Content-MD5`) is checked against the received bytes.
    pub async fn put_object<S, E>(
        &self,
        w: &ObjectWrite,
        content_md5: Option<[u8; 16]>,
        body: S,
    ) -> ObjectResult<StoredObject>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let blob = BlobStore::new_blob_name();
        let out = self.blobs.put_stream(&blob, body, MAX_PUT_SIZE, None).await?;
        if content_md5.is_some_and(|m| m != out.md5) {
            self.blobs.delete_all(std::slice::from_ref(&blob)).await;
            return Err(ObjectError::BadDigest);
        }
        let object = StoredObject {
            bucket: w.bucket.clone(),
            key: w.key.clone(),
            object_id: ids::hex_id(),
            account_id: w.account_id.clone(),
            size: out.size,
            etag: etag_of(&out.md5),
            md5_hex: Some(hex::encode(out.md5)),
            crc64: out.crc64,
            content_type: w.content_type.clone(),
            object_type: ObjectType::Normal,
            blob: Some(blob.clone()),
            part_count: 0,
            media_id: w.media_id.clone(),
            created_at: now_ms(),
            notified: false,
        };
        match self.meta.put_object(&object).await {
            Ok(old) => {
                self.blobs.delete_all(&old).await;
                Ok(object)
            }
            Err(e) => {
                self.blobs.delete_all(&[blob]).await;
                Err(e.into())
            }
        }
    }

    pub async fn get(&self, bucket: &str, key: &str) -> ObjectResult<Option<StoredObject>> {
        Ok(self.meta.get_object(bucket, key).await?)
    }

    /// Streams bytes `range` (clamped to the object) of `object`, across its parts.
    pub async fn read(&self, object: &StoredObject, range: Range<u64>) -> ObjectResult<ByteStream> {
        let range = range.start.min(object.size)..range.end.min(object.size);
        match object.object_type {
            ObjectType::Normal => {
                let blob = object.blob.as_deref().ok_or_else(|| {
                    ObjectError::Meta(CoreError::Internal(format!("object {} has no blob", object.object_id)))
                })?;
                Ok(self.blobs.read(blob, range).await?)
            }
            ObjectType::Multipart => {
                let manifest = self.meta.object_manifest(&object.object_id).await?;
                let total: u64 = manifest.iter().map(|p| p.size).sum();
                if total != object.size {
                    return Err(ObjectError::Meta(CoreError::Internal(format!(
                        "manifest of {} holds {total} bytes, the object {}",
                        object.object_id, object.size
                    ))));
                }
                let segments: Vec<(String, Range<u64>)> = manifest
                    .into_iter()
                    .filter(|p| p.offset < range.end && p.offset + p.size > range.start)
                    .map(|p| {
                        let start = range.start.saturating_sub(p.offset);
                        let end = (range.end - p.offset).min(p.size);
                        (p.blob, start..end)
                    })
                    .collect();
                let blobs = self.blobs.clone();
                // Each part is opened only when the previous one is exhausted.
                let stream = futures::stream::iter(segments)
                    .then(move |(blob, r)| {
                        let blobs = blobs.clone();
                        async move { blobs.read(&blob, r).await.map_err(std::io::Error::other) }
                    })
                    .try_flatten();
                Ok(Box::pin(stream))
            }
        }
    }

    /// The whole-object MD5 (lowercase hex), reading the object back when it is not known
    /// yet (multipart uploaded out of order) and recording it.
    pub async fn ensure_md5(&self, object: &mut StoredObject) -> ObjectResult<String> {
        if let Some(m) = &object.md5_hex {
            return Ok(m.clone());
        }
        let mut stream = self.read(object, 0..object.size).await?;
        let mut md5 = Md5::new();
        while let Some(chunk) = stream.next().await {
            md5.update(&chunk.map_err(|e| ObjectError::Blob(BlobError::Backend(e.to_string())))?);
        }
        let hex = hex::encode(md5.finalize());
        self.meta.set_object_md5(&object.object_id, &hex).await?;
        object.md5_hex = Some(hex.clone());
        Ok(hex)
    }

    /// Deletes the object at a key and its blobs. False when there was none.
    pub async fn delete_object(&self, bucket: &str, key: &str) -> ObjectResult<bool> {
        match self.meta.delete_object(bucket, key).await? {
            Some(blobs) => {
                self.blobs.delete_all(&blobs).await;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// InitiateMultipartUpload: a new upload id (32 uppercase hex).
    pub async fn initiate_multipart(&self, w: &ObjectWrite) -> ObjectResult<MultipartUpload> {
        let upload = MultipartUpload {
            upload_id: ids::hex_id().to_ascii_uppercase(),
            bucket: w.bucket.clone(),
            key: w.key.clone(),
            account_id: w.account_id.clone(),
            content_type: w.content_type.clone(),
            media_id: w.media_id.clone(),
            initiated_at: now_ms(),
        };
        self.meta.create_multipart_upload(&upload).await?;
        Ok(upload)
    }

    /// The upload, or `NoSuchUpload`.
    pub async fn upload(&self, upload_id: &str) -> ObjectResult<MultipartUpload> {
        self.meta
            .get_multipart_upload(upload_id)
            .await?
            .ok_or(ObjectError::NoSuchUpload)
    }

    /// UploadPart: stores `body` as part `part_number` (1..=10000) of `upload`, replacing a
    /// part with the same number.
    pub async fn upload_part<S, E>(
        &self,
        upload: &MultipartUpload,
        part_number: u32,
        content_md5: Option<[u8; 16]>,
        body: S,
    ) -> ObjectResult<UploadPart>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        if !(1..=MAX_PARTS).contains(&part_number) {
            return Err(ObjectError::InvalidArgument(
                "Part number must be an integer between 1 and 10000, inclusive.".into(),
            ));
        }
        let blob = BlobStore::new_blob_name();
        // The whole-object MD5 goes on with this part's bytes on a thread of its own; the
        // part is answered without waiting for it.
        let (tee, chain) = match self.take_chain(&upload.upload_id, part_number) {
            Some(c) => {
                let (feed, next) = c.md5.feed();
                (Some(feed), Some((c.parts, next)))
            }
            None => (None, None),
        };
        // Made durable together at completion (an fsync per part would stall every part on
        // the disk); a part is written (it survives the process) when its response goes out.
        let out = self
            .blobs
            .put_stream_with(&blob, body, MAX_PART_SIZE, tee, Durability::Later)
            .await?;
        if content_md5.is_some_and(|m| m != out.md5) {
            self.blobs.delete_all(std::slice::from_ref(&blob)).await;
            return Err(ObjectError::BadDigest);
        }
        let part = UploadPart {
            upload_id: upload.upload_id.clone(),
            part_number,
            blob: blob.clone(),
            size: out.size,
            md5_hex: hex::encode(out.md5),
            crc64: out.crc64,
            last_modified: now_ms(),
        };
        match self.meta.put_upload_part(&part).await {
            Ok(replaced) => {
                if let Some(old) = replaced {
                    self.blobs.delete_all(&[old]).await;
                }
                if let Some((mut parts, md5)) = chain {
                    parts.push((part_number, blob));
                    let chain = Chain {
                        parts,
                        md5,
                        touched: now_ms(),
                    };
                    self.put_chain(&upload.upload_id, chain);
                }
                Ok(part)
            }
            Err(e) => {
                self.blobs.delete_all(&[blob]).await;
                Err(e.into())
            }
        }
    }

    /// The chain to extend with part `n`: the upload's chain when it ends at `n - 1`, a new
    /// one for part 1, otherwise none (out of order: the MD5 is read back at completion).
    fn take_chain(&self, upload_id: &str, n: u32) -> Option<Chain> {
        let mut chains = self.chains.lock().unwrap_or_else(|p| p.into_inner());
        if n == 1 {
            chains.remove(upload_id);
            return Some(Chain {
                parts: Vec::new(),
                md5: RunningMd5::new(),
                touched: now_ms(),
            });
        }
        match chains.get(upload_id) {
            Some(c) if c.parts.last().is_some_and(|(last, _)| last + 1 == n) => chains.remove(upload_id),
            _ => None,
        }
    }

    fn put_chain(&self, upload_id: &str, mut chain: Chain) {
        let mut chains = self.chains.lock().unwrap_or_else(|p| p.into_inner());
        if chains.len() >= MAX_CHAINS
            && let Some(oldest) = chains.iter().min_by_key(|(_, c)| c.touched).map(|(k, _)| k.clone())
        {
            chains.remove(&oldest);
        }
        chain.touched = now_ms();
        chains.insert(upload_id.to_string(), chain);
    }

    fn drop_chain(&self, upload_id: &str) -> Option<Chain> {
        self.chains.lock().unwrap_or_else(|p| p.into_inner()).remove(upload_id)
    }

    /// ListParts: parts after `marker`, at most `max`; true when more follow.
    pub async fn list_parts(&self, upload_id: &str, marker: u32, max: u32) -> ObjectResult<(Vec<UploadPart>, bool)> {
        let max = max.clamp(1, 1000);
        let mut parts = self.meta.list_upload_parts(upload_id, marker, max + 1).await?;
        let truncated = parts.len() > max as usize;
        parts.truncate(max as usize);
        Ok((parts, truncated))
    }

    /// ListMultipartUploads of a bucket.
    pub async fn list_uploads(&self, bucket: &str, query: &UploadListQuery) -> ObjectResult<Vec<MultipartUpload>> {
        Ok(self.meta.list_multipart_uploads(bucket, query).await?)
    }

    /// CompleteMultipartUpload with the client's `(part number, ETag)` list.
    pub async fn complete_multipart(
        &self,
        upload: &MultipartUpload,
        requested: &[(u32, String)],
    ) -> ObjectResult<StoredObject> {
        if requested.is_empty() {
            return Err(ObjectError::InvalidArgument("the part list is empty".into()));
        }
        if requested.len() > MAX_PARTS as usize {
            return Err(ObjectError::InvalidArgument(format!("more than {MAX_PARTS} parts")));
        }
        if requested.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(ObjectError::InvalidPartOrder);
        }
        // A part replaced between reading the parts and committing makes the commit refuse
        // (InvalidState); the list is then read and checked again.
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (object, manifest) = self.plan_completion(upload, requested).await?;
            let blobs: Vec<(String, u64)> = manifest.iter().map(|m| (m.blob.clone(), m.size)).collect();
            self.blobs.sync(&blobs).await?;
            match self
                .meta
                .complete_multipart_upload(&upload.upload_id, &object, &manifest)
                .await
            {
                Ok(unreferenced) => {
                    self.drop_chain(&upload.upload_id);
                    self.blobs.delete_all(&unreferenced).await;
                    return Ok(object);
                }
                Err(CoreError::InvalidState(_)) if attempt < 3 => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    async fn plan_completion(
        &self,
        upload: &MultipartUpload,
        requested: &[(u32, String)],
    ) -> ObjectResult<(StoredObject, Vec<ManifestPart>)> {
        let stored: HashMap<u32, UploadPart> = self
            .meta
            .list_upload_parts(&upload.upload_id, 0, 0)
            .await?
            .into_iter()
            .map(|p| (p.part_number, p))
            .collect();
        let mut manifest = Vec::with_capacity(requested.len());
        let mut md5s = Md5::new();
        let mut crc = 0u64;
        let mut offset = 0u64;
        // Every part must exist with its ETag before sizes are looked at.
        let mut chosen = Vec::with_capacity(requested.len());
        for (n, etag) in requested {
            let part = stored
                .get(n)
                .filter(|p| normalize_etag(etag) == p.md5_hex.to_ascii_uppercase())
                .ok_or_else(|| {
                    ObjectError::InvalidPart(format!("part {n} with ETag {etag} was not uploaded to this upload"))
                })?;
            chosen.push((*n, part));
        }
        for (i, (n, part)) in chosen.iter().enumerate() {
            if i + 1 < chosen.len() && part.size < MIN_PART_SIZE {
                return Err(ObjectError::EntityTooSmall {
                    part_number: *n,
                    size: part.size,
                    min: MIN_PART_SIZE,
                });
            }
        }
        for (n, part) in chosen {
            let md5 = hex::decode(&part.md5_hex)
                .map_err(|_| ObjectError::Meta(CoreError::Internal(format!("bad md5 of part {n}"))))?;
            md5s.update(&md5);
            crc = vod_auth::crc64::combine(crc, part.crc64, part.size);
            manifest.push(ManifestPart {
                part_number: n,
                blob: part.blob.clone(),
                size: part.size,
                offset,
            });
            offset += part.size;
        }
        let md5_hex = self.chain_md5(&upload.upload_id, &manifest).await;
        let object = StoredObject {
            bucket: upload.bucket.clone(),
            key: upload.key.clone(),
            object_id: ids::hex_id(),
            account_id: upload.account_id.clone(),
            size: offset,
            etag: format!("{}-{}", hex::encode_upper(md5s.finalize()), manifest.len()),
            md5_hex,
            crc64: crc,
            content_type: upload.content_type.clone(),
            object_type: ObjectType::Multipart,
            blob: None,
            part_count: manifest.len() as u32,
            media_id: upload.media_id.clone(),
            created_at: now_ms(),
            notified: false,
        };
        Ok((object, manifest))
    }

    /// The in-order MD5 when the upload's chain covers exactly the manifest's blobs (waiting
    /// for the chain to catch up with the last part).
    async fn chain_md5(&self, upload_id: &str, manifest: &[ManifestPart]) -> Option<String> {
        let chain = {
            let mut chains = self.chains.lock().unwrap_or_else(|p| p.into_inner());
            let same = chains.get(upload_id).is_some_and(|chain| {
                chain.parts.len() == manifest.len()
                    && chain
                        .parts
                        .iter()
                        .zip(manifest)
                        .all(|((n, blob), m)| *n == m.part_number && *blob == m.blob)
            });
            if !same {
                return None;
            }
            chains.remove(upload_id)?
        };
        let md5 = chain.md5.resolve().await?;
        let hex = hex::encode(md5.clone().finalize());
        // Kept (resolved) in case this completion is retried.
        let resolved = Chain {
            parts: chain.parts,
            md5: RunningMd5::Ready(md5),
            touched: chain.touched,
        };
        self.put_chain(upload_id, resolved);
        Some(hex)
    }

    /// AbortMultipartUpload: deletes the upload and its part blobs.
    pub async fn abort_multipart(&self, upload_id: &str) -> ObjectResult<()> {
        self.drop_chain(upload_id);
        match self.meta.abort_multipart_upload(upload_id).await? {
            Some(blobs) => {
                self.blobs.delete_all(&blobs).await;
                Ok(())
            }
            None => Err(ObjectError::NoSuchUpload),
        }
    }
}
