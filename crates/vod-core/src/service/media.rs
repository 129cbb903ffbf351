//! Media library use cases shared by the RPC gateway and the OSS endpoint: where a media's
//! source goes, revocation of upload credentials, and what happens when the source object
//! is complete ([`UploadEvents`]).
//!
//! Event payloads are built outside `vod-core` (the callbacks crate); the service reaches
//! them through [`MediaEventPlanner`], which turns an event into the delivery jobs to store
//! in the same transaction as the state change.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::model::NewJob;
use crate::model::media::{
    JOB_MEDIA_PROBE, JOB_MEDIA_PURGE, JOB_MEDIA_TRANSCODE, Media, MediaStatus, SourceUpdate, object_key_of,
    object_prefix_of,
};
use crate::ports::MetaStore;
use crate::uploads::{CompletedObject, UploadEvents};
use crate::{CoreError, CoreResult, now_ms};

/// Where uploads go and how long their credentials live (`[gateway.upload]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MediaConfig {
    /// The OSS listener's public URL, with scheme, as clients reach it (`Endpoint` of
    /// UploadAddress, base of FileURL). `VODSTACK_OSS_PUBLIC_ENDPOINT` sets it.
    pub endpoint: String,
    /// The bucket every media source is uploaded to (reported as `StorageLocation`).
    pub bucket: String,
    /// Lifetime of an upload credential (`Expiration` of UploadAuth), seconds.
    pub credential_ttl_secs: u64,
    /// How long `upload_allowed` answers are cached per media (revocation delay on other
    /// nodes), milliseconds.
    pub revocation_cache_ms: u64,
    /// The playback edge's public base URL (`OutputType=cdn` play URLs, covers, snapshots).
    /// `VODSTACK_EDGE_PUBLIC_URL` sets it.
    pub play_base_url: String,
    /// Type-A URL authentication of play URLs: the edge's private key (empty = off) and how
    /// long a signed URL lives after its timestamp. `VODSTACK_EDGE_AUTH_KEY`.
    pub play_auth_key: String,
    pub play_auth_ttl_secs: i64,
}

impl Default for MediaConfig {
    fn default() -> Self {
        Self {
            endpoint: "http://127.0.0.1:9000".into(),
            bucket: "outin-vodstack".into(),
            credential_ttl_secs: 3000,
            revocation_cache_ms: 5000,
            play_base_url: "http://127.0.0.1:8090".into(),
            play_auth_key: String::new(),
            play_auth_ttl_secs: 1800,
        }
    }
}

impl MediaConfig {
    /// `Endpoint` without a trailing slash.
    pub fn endpoint(&self) -> &str {
        self.endpoint.trim_end_matches('/')
    }

    /// The (unsigned, path-style) URL of an object of the upload bucket; the key is
    /// percent-encoded except for `/` (RFC 3986 unreserved characters stay as they are).
    pub fn object_url(&self, key: &str) -> String {
        format!("{}/{}/{}", self.endpoint(), self.bucket, encode_key(key))
    }

    /// The playback (CDN) URL of an object: `<play_base_url>/<bucket>/<key>`, key encoded as
    /// in [`Self::object_url`].
    pub fn play_url(&self, bucket: &str, key: &str) -> String {
        format!(
            "{}/{bucket}/{}",
            self.play_base_url.trim_end_matches('/'),
            encode_key(key)
        )
    }

    /// The (unsigned, path-style) OSS URL of an object of any bucket.
    pub fn oss_url(&self, bucket: &str, key: &str) -> String {
        format!("{}/{bucket}/{}", self.endpoint(), encode_key(key))
    }

    /// Whether a `StorageLocation` parameter names our storage: the bucket itself, or the
    /// bucket followed by a host (`outin-x.oss-cn-shanghai.aliyuncs.com` style).
    pub fn is_storage_location(&self, location: &str) -> bool {
        location == self.bucket
            || location
                .strip_prefix(self.bucket.as_str())
                .is_some_and(|rest| rest.starts_with('.'))
    }
}

/// Percent-encodes an object key for a URL path, keeping `/` and the unreserved set.
fn encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Turns media events into delivery jobs and checks `UserData` (implemented over the
/// callbacks crate by the composition root; [`NoEvents`] otherwise).
#[async_trait]
pub trait MediaEventPlanner: Send + Sync {
    /// Checks a UserData parameter; `InvalidArgument` on `UserData` when it is refused.
    fn check_user_data(&self, raw: &str) -> CoreResult<()>;
    /// The delivery jobs of FileUploadComplete for `media` (its stored UserData gives the
    /// callback override and `Extend`).
    async fn file_upload_complete(&self, media: &Media, size: i64, file_url: &str) -> CoreResult<Vec<NewJob>>;
    /// The delivery jobs of DeleteMediaComplete for `media`.
    async fn delete_media_complete(&self, media: &Media) -> CoreResult<Vec<NewJob>>;
    /// The delivery jobs of DeleteMediaComplete (`DeleteType` stream) for the streams of
    /// the transcode runs `job_ids` (DeleteStream).
    async fn delete_streams_complete(&self, _media: &Media, _job_ids: &[String]) -> CoreResult<Vec<NewJob>> {
        Ok(Vec::new())
    }
}

/// No callbacks: UserData only has to be a JSON object; events go nowhere.
#[derive(Debug, Default)]
pub struct NoEvents;

#[async_trait]
impl MediaEventPlanner for NoEvents {
    fn check_user_data(&self, raw: &str) -> CoreResult<()> {
        check_user_data_json(raw)
    }

    async fn file_upload_complete(&self, _: &Media, _: i64, _: &str) -> CoreResult<Vec<NewJob>> {
        Ok(Vec::new())
    }

    async fn delete_media_complete(&self, _: &Media) -> CoreResult<Vec<NewJob>> {
        Ok(Vec::new())
    }
}

/// The minimal UserData rule: empty, or a JSON object.
pub fn check_user_data_json(raw: &str) -> CoreResult<()> {
    if raw.trim().is_empty() {
        return Ok(());
    }
    match serde_json::from_str::<Value>(raw) {
        Ok(Value::Object(_)) => Ok(()),
        _ => Err(CoreError::invalid("UserData", "It must be a JSON object.")),
    }
}

/// Payload of `media.probe` / `media.transcode` (version 1): the media and the source
/// generation the job is for. A job whose generation is below the media's current
/// `source_generation` is stale (the source was replaced) and should finish without work.
pub fn processing_job(kind: &str, media_id: &str, generation: i64) -> NewJob {
    let mut job = NewJob::new(kind, json!({"v": 1, "media_id": media_id, "generation": generation}), 5);
    job.unique_key = Some(format!("{kind}:{media_id}:{generation}"));
    job
}

/// The one processing job a new source of `media` (at `generation`) causes: `media.transcode`
/// (which probes first) when the media wants transcoding, else `media.probe` for audio and
/// video; none for other files. One job per source, so the source is read once.
pub fn processing_job_for(media: &Media, generation: i64) -> Option<NewJob> {
    if !media.media_type.is_av() {
        return None;
    }
    let kind = if media.wants_transcode() {
        JOB_MEDIA_TRANSCODE
    } else {
        JOB_MEDIA_PROBE
    };
    Some(processing_job(kind, &media.media_id, generation))
}

/// A `media.purge` job for the objects of one transcode run of a media that stays
/// (DeleteStream): `<prefix>streams/<job_id>/`.
pub fn purge_run_job(media: &Media, job_id: &str) -> NewJob {
    let prefix = format!("{}streams/{job_id}/", object_prefix_of(media.scope, &media.media_id));
    let mut job = NewJob::new(
        JOB_MEDIA_PURGE,
        json!({"v": 1, "media_id": media.media_id, "bucket": media.storage_location, "prefix": prefix}),
        10,
    );
    job.unique_key = Some(format!("{JOB_MEDIA_PURGE}:{}:{job_id}", media.media_id));
    job
}

/// Payload of `media.purge` (version 1): delete every object under `prefix` of `bucket`
/// (the sources and outputs of a deleted media).
pub fn purge_job(media: &Media) -> NewJob {
    let prefix = object_prefix_of(media.scope, &media.media_id);
    let mut job = NewJob::new(
        JOB_MEDIA_PURGE,
        json!({"v": 1, "media_id": media.media_id, "bucket": media.storage_location, "prefix": prefix}),
        10,
    );
    job.unique_key = Some(format!("{JOB_MEDIA_PURGE}:{}", media.media_id));
    job
}

/// The reason recorded when the completed source object is empty.
pub const EMPTY_SOURCE_REASON: &str = "the uploaded source file is empty (0 bytes)";

#[derive(Clone)]
struct Cached {
    at: Instant,
    /// `(account_id, upload_generation)` of a live, undamaged media; `None` otherwise.
    live: Option<(String, i64)>,
}

/// The media library service. One per process; cheap to share (`Arc`).
pub struct MediaService {
    store: Arc<dyn MetaStore>,
    config: MediaConfig,
    events: RwLock<Arc<dyn MediaEventPlanner>>,
    allowed: Mutex<HashMap<String, Cached>>,
}

impl std::fmt::Debug for MediaService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaService")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Entries kept in the revocation cache before it is cleared.
const MAX_CACHED: usize = 10_000;
/// How often `object_completed` re-reads after a concurrent source change.
const MAX_COMPLETE_TRIES: usize = 5;

impl MediaService {
    pub fn new(store: Arc<dyn MetaStore>, config: MediaConfig) -> Self {
        Self {
            store,
            config,
            events: RwLock::new(Arc::new(NoEvents)),
            allowed: Mutex::new(HashMap::new()),
        }
    }

    pub fn config(&self) -> &MediaConfig {
        &self.config
    }

    pub fn store(&self) -> &dyn MetaStore {
        self.store.as_ref()
    }

    /// Installs the event planner (the composition root does this once at start).
    pub fn set_event_planner(&self, planner: Arc<dyn MediaEventPlanner>) {
        *self.events.write().unwrap_or_else(|p| p.into_inner()) = planner;
    }

    pub fn events(&self) -> Arc<dyn MediaEventPlanner> {
        self.events.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Gives a new media its storage: bucket, source key (`sv/<id>/<id>.<ext>`) and, for
    /// m3u8 uploads, the segment prefix.
    pub fn assign_storage(&self, media: &mut Media, ext: &str) {
        media.storage_location = self.config.bucket.clone();
        media.object_key = object_key_of(media.scope, &media.media_id, ext);
        media.object_prefix = ext
            .eq_ignore_ascii_case("m3u8")
            .then(|| object_prefix_of(media.scope, &media.media_id));
    }

    /// Counts a new upload credential for `media` (RefreshUploadVideo / RefreshUploadMedia).
    /// `NotFound` when it vanished meanwhile.
    pub async fn reissue_upload(&self, media: &Media) -> CoreResult<Media> {
        let updated = self
            .store
            .reissue_upload(&media.account_id, media.scope, &media.media_id)
            .await?;
        let updated = updated.ok_or_else(|| CoreError::not_found("Media", media.media_id.clone()))?;
        self.forget(&updated.media_id);
        Ok(updated)
    }

    /// Deletes a media: its record goes (revoking its upload credentials at once on this
    /// node, within `revocation_cache_ms` on others), and in the same transaction
    /// DeleteMediaComplete and a `media.purge` job for its objects are stored. False when
    /// it was already gone.
    pub async fn delete(&self, media: &Media) -> CoreResult<bool> {
        let mut jobs = self.events().delete_media_complete(media).await?;
        if !media.object_key.is_empty() {
            jobs.push(purge_job(media));
        }
        let gone = self
            .store
            .delete_media(&media.account_id, media.scope, &media.media_id, &jobs)
            .await?;
        self.forget(&media.media_id);
        Ok(gone.is_some())
    }

    /// Takes an already stored source for a media created without an upload (ICE
    /// RegisterMediaInfo): records it as the media's first source and queues its probe in
    /// the same transaction. No FileUploadComplete: nothing was uploaded. `size`/`md5` are
    /// `None` for external URLs the probe has yet to read. False when the media changed.
    pub async fn adopt_source(
        &self,
        media: &Media,
        object_id: &str,
        size: Option<i64>,
        md5: Option<String>,
        file_url: &str,
    ) -> CoreResult<bool> {
        let generation = media.source_generation + 1;
        let (status, damaged) = match size {
            Some(0) => (MediaStatus::UploadFail, Some(EMPTY_SOURCE_REASON.to_string())),
            _ if media.media_type.is_av() => (MediaStatus::UploadSucc, None),
            _ => (MediaStatus::Normal, None),
        };
        let mut jobs = Vec::new();
        if damaged.is_none() {
            jobs.extend(processing_job_for(media, generation));
        }
        let update = SourceUpdate {
            account_id: media.account_id.clone(),
            media_id: media.media_id.clone(),
            expected_generation: media.source_generation,
            object_id: object_id.to_string(),
            status,
            size,
            md5,
            file_url: file_url.to_string(),
            damaged,
            uploaded_at: now_ms(),
        };
        Ok(self.store.complete_media_upload(&update, &jobs).await?.is_some())
    }

    fn forget(&self, media_id: &str) {
        self.allowed.lock().unwrap_or_else(|p| p.into_inner()).remove(media_id);
    }

    /// `(account, upload generation)` of a live, undamaged media, cached briefly. A cached
    /// answer older than `generation` (a credential refreshed on another node) is re-read.
    async fn liveness(&self, media_id: &str, generation: Option<i64>) -> CoreResult<Option<(String, i64)>> {
        let ttl = Duration::from_millis(self.config.revocation_cache_ms);
        if let Some(hit) = self.allowed.lock().unwrap_or_else(|p| p.into_inner()).get(media_id)
            && hit.at.elapsed() < ttl
            && !matches!((&hit.live, generation), (Some((_, current)), Some(g)) if g > *current)
        {
            return Ok(hit.live.clone());
        }
        let live = self
            .store
            .get_media_by_id(media_id)
            .await?
            .filter(|m| !m.is_damaged())
            .map(|m| (m.account_id, m.upload_generation));
        let mut cache = self.allowed.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(
            media_id.to_string(),
            Cached {
                at: Instant::now(),
                live: live.clone(),
            },
        );
        Ok(live)
    }

    /// The object version a completion report describes: the stored object's id when the
    /// stored version is the reported one; `None` when a newer version replaced it (its own
    /// report follows); a synthetic id when the object row is unknown to this store.
    async fn object_version(&self, object: &CompletedObject) -> CoreResult<Option<String>> {
        let norm = |e: &str| e.trim().trim_matches('"').to_ascii_uppercase();
        match self.store.get_object(&object.bucket, &object.key).await? {
            Some(stored) if norm(&stored.etag) == norm(&object.etag) && stored.size == object.size => {
                Ok(Some(stored.object_id))
            }
            Some(_) => Ok(None),
            None => Ok(Some(format!(
                "{}:{}:{}",
                norm(&object.etag),
                object.size,
                object.md5_hex
            ))),
        }
    }

    async fn media_of(&self, object: &CompletedObject) -> CoreResult<Option<Media>> {
        let by_credential = match &object.media_id {
            Some(id) => self.store.get_media_by_id(id).await?,
            None => None,
        };
        let media = match by_credential {
            Some(m)
                if m.storage_location == object.bucket
                    && (m.is_source_key(&object.key) || m.is_under_prefix(&object.key)) =>
            {
                Some(m)
            }
            _ => self.store.find_media_by_object(&object.bucket, &object.key).await?,
        };
        Ok(media.filter(|m| m.account_id == object.account_id))
    }

    /// The jobs a new source of `media` (at `generation`) causes.
    async fn jobs_for_source(
        &self,
        media: &Media,
        generation: i64,
        size: i64,
        file_url: &str,
    ) -> CoreResult<Vec<NewJob>> {
        let mut jobs = self.events().file_upload_complete(media, size, file_url).await?;
        jobs.extend(processing_job_for(media, generation));
        Ok(jobs)
    }
}

#[async_trait]
impl UploadEvents for MediaService {
    async fn upload_allowed(&self, account_id: &str, media_id: &str, generation: Option<i64>) -> CoreResult<bool> {
        Ok(match self.liveness(media_id, generation).await? {
            Some((account, current)) => account == account_id && generation.is_none_or(|g| g <= current),
            None => false,
        })
    }

    async fn object_completed(&self, object: &CompletedObject) -> CoreResult<()> {
        for _ in 0..MAX_COMPLETE_TRIES {
            let Some(media) = self.media_of(object).await? else {
                return Ok(()); // an object of no media (plain OSS use)
            };
            if !media.is_source_key(&object.key) {
                // A segment under an m3u8 media's ObjectPrefix: only the playlist completes.
                return Ok(());
            }
            if media.is_damaged() {
                return Ok(());
            }
            let Some(version) = self.object_version(object).await? else {
                return Ok(());
            };
            if media.source_object_id.as_deref() == Some(version.as_str()) {
                return Ok(()); // reported before: idempotent
            }
            let size = i64::try_from(object.size).unwrap_or(i64::MAX);
            let file_url = self.config.object_url(&object.key);
            let generation = media.source_generation + 1;
            let (status, damaged) = if object.size == 0 {
                (MediaStatus::UploadFail, Some(EMPTY_SOURCE_REASON.to_string()))
            } else if media.media_type.is_av() {
                (MediaStatus::UploadSucc, None)
            } else {
                (MediaStatus::Normal, None)
            };
            let jobs = if damaged.is_some() {
                Vec::new()
            } else {
                self.jobs_for_source(&media, generation, size, &file_url).await?
            };
            let update = SourceUpdate {
                account_id: media.account_id.clone(),
                media_id: media.media_id.clone(),
                expected_generation: media.source_generation,
                object_id: version,
                status,
                size: Some(size),
                md5: Some(object.md5_hex.to_ascii_lowercase()),
                file_url,
                damaged,
                uploaded_at: now_ms(),
            };
            if self.store.complete_media_upload(&update, &jobs).await?.is_some() {
                self.forget(&media.media_id);
                return Ok(());
            }
            // The source changed concurrently (or the media went): read again.
        }
        Err(CoreError::Unavailable(format!(
            "object {}/{}: its media kept changing while the upload was recorded; try again",
            object.bucket, object.key
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_urls_and_locations() {
        let c = MediaConfig {
            endpoint: "http://oss.local:9000/".into(),
            ..Default::default()
        };
        assert_eq!(
            c.object_url("sv/a b/中.mp4"),
            "http://oss.local:9000/outin-vodstack/sv/a%20b/%E4%B8%AD.mp4"
        );
        assert!(c.is_storage_location("outin-vodstack"));
        assert!(c.is_storage_location("outin-vodstack.oss-cn-shanghai.aliyuncs.com"));
        assert!(!c.is_storage_location("outin-vodstack2"));
        assert!(!c.is_storage_location("other"));
        assert_eq!(
            c.play_url("b", "sv/x y/LD.m3u8"),
            "http://127.0.0.1:8090/b/sv/x%20y/LD.m3u8"
        );
        assert_eq!(c.oss_url("b", "k/1.mp4"), "http://oss.local:9000/b/k/1.mp4");
        assert!(check_user_data_json("").is_ok());
        assert!(check_user_data_json(r#"{"Extend":"x"}"#).is_ok());
        assert!(check_user_data_json("[1]").is_err());
    }

    #[test]
    fn job_payloads() {
        let j = processing_job(JOB_MEDIA_PROBE, "m1", 3);
        assert_eq!(j.kind, "media.probe");
        assert_eq!(j.payload, json!({"v": 1, "media_id": "m1", "generation": 3}));
        assert_eq!(j.unique_key.as_deref(), Some("media.probe:m1:3"));
    }
}
