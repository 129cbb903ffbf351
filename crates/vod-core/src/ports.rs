//! Storage ports: the repository traits every metadata backend (SQLite, PostgreSQL)
//! implements, and `MetaStore`, the supertrait the rest of the system holds as
//! `Arc<dyn MetaStore>`. Behaviour contracts are written on each method; the shared
//! contract suite in `vod-db` checks them on every backend.

use async_trait::async_trait;

use crate::CoreResult;
use crate::model::MessageCallbackConfig;
use crate::model::media::{Media, MediaKey, MediaPatch, MediaQuery, MediaScope, MediaStatus, SourceInfo, SourceUpdate};
use crate::model::refresh::{
    EdgeNode, MediaRefreshJob, MediaRefreshOutcome, RefreshTask, RefreshTaskQuery, TaskResult,
};
use crate::model::url_upload::{UrlUpload, UrlUploadStatus, UrlUploadUpdate};
use crate::model::{
    AccessKey, Account, AppInfo, AppPolicyAttachment, AppStatus, Category, IdentityType, KeyStatus, NewCategory, User,
};
use crate::model::{GroupChange, GroupRefusal, TemplateGroup};
use crate::model::{Job, JobStatus, NewJob};
use crate::model::{ManifestPart, MultipartUpload, StoredObject, UploadPart};
use crate::model::{MediaStream, Publication, SnapshotSet};
use crate::policy::PolicyDocument;

/// Accounts, users and long-term access keys.
#[async_trait]
pub trait IdentityRepo: Send + Sync {
    /// Creates an account. `AlreadyExists` when the id is taken.
    async fn create_account(&self, account: &Account) -> CoreResult<()>;
    async fn get_account(&self, id: &str) -> CoreResult<Option<Account>>;
    /// The oldest account (the one `vodstack serve` creates on first start).
    async fn first_account(&self) -> CoreResult<Option<Account>>;

    /// Stores a new key. `AlreadyExists` when the id is taken.
    async fn create_access_key(&self, key: &AccessKey) -> CoreResult<()>;
    async fn get_access_key(&self, id: &str) -> CoreResult<Option<AccessKey>>;
    /// Keys of an account, oldest first; `user_id = Some(..)` narrows to one user.
    async fn list_access_keys(&self, account_id: &str, user_id: Option<&str>) -> CoreResult<Vec<AccessKey>>;
    /// Returns false when the key does not exist.
    async fn set_access_key_status(&self, id: &str, status: KeyStatus) -> CoreResult<bool>;
    /// Returns false when the key does not exist.
    async fn delete_access_key(&self, id: &str) -> CoreResult<bool>;

    /// Creates a user. `AlreadyExists` when (account, name) is taken.
    async fn create_user(&self, user: &User) -> CoreResult<()>;
    async fn get_user(&self, id: &str) -> CoreResult<Option<User>>;
    async fn get_user_by_name(&self, account_id: &str, name: &str) -> CoreResult<Option<User>>;
    /// Users of an account ordered by name.
    async fn list_users(&self, account_id: &str) -> CoreResult<Vec<User>>;
    /// Returns false when the user does not exist.
    async fn set_user_policy(&self, id: &str, policy: &PolicyDocument) -> CoreResult<bool>;
    /// Deletes the user and its access keys and app-policy attachments. False when absent.
    async fn delete_user(&self, id: &str) -> CoreResult<bool>;
}

/// Filter and page of `list_apps`.
#[derive(Debug, Clone, Default)]
pub struct AppQuery {
    pub status: Option<AppStatus>,
    pub resource_group_id: Option<String>,
    /// 1-based page number.
    pub page_no: u32,
    pub page_size: u32,
}

/// VOD apps and app-policy attachments.
#[async_trait]
pub trait AppRepo: Send + Sync {
    /// Creates an app. `AlreadyExists` when the id is taken or the account already has an
    /// app with that name (kind "AppName").
    async fn create_app(&self, app: &AppInfo) -> CoreResult<()>;
    async fn get_app(&self, account_id: &str, app_id: &str) -> CoreResult<Option<AppInfo>>;
    /// One page of apps ordered by creation time (oldest first) and the total count.
    async fn list_apps(&self, account_id: &str, query: &AppQuery) -> CoreResult<(Vec<AppInfo>, u64)>;
    /// Replaces name, description, status and modified_at. False when absent;
    /// `AlreadyExists` (kind "AppName") on a name clash.
    async fn update_app(&self, app: &AppInfo) -> CoreResult<bool>;
    /// Deletes the app and its attachments. False when absent.
    async fn delete_app(&self, account_id: &str, app_id: &str) -> CoreResult<bool>;

    /// Attaches a policy; attaching an already attached policy is a no-op (returns false).
    async fn attach_app_policy(&self, attachment: &AppPolicyAttachment) -> CoreResult<bool>;
    /// Detaches a policy. False when it was not attached.
    async fn detach_app_policy(
        &self,
        account_id: &str,
        identity_type: IdentityType,
        identity_name: &str,
        app_id: &str,
        policy_name: &str,
    ) -> CoreResult<bool>;
    /// Attachments of one identity, optionally narrowed to one app, oldest first.
    async fn list_app_policies(
        &self,
        account_id: &str,
        identity_type: IdentityType,
        identity_name: &str,
        app_id: Option<&str>,
    ) -> CoreResult<Vec<AppPolicyAttachment>>;
}

/// Replay protection: remembers request nonces until they expire.
#[async_trait]
pub trait NonceRepo: Send + Sync {
    /// Records each `(nonce, expires_at_ms)` and returns, per item, `true` when it was new and
    /// `false` when it had been recorded before and not yet purged. Must be atomic per nonce
    /// across processes sharing the database (two concurrent inserts of one nonce: one true).
    async fn record_nonces(&self, items: &[(String, i64)]) -> CoreResult<Vec<bool>>;
    /// Deletes nonces that expired before `now_ms`; returns how many.
    async fn purge_nonces(&self, now_ms: i64) -> CoreResult<u64>;
}

/// Small durable settings (cluster secret, schema facts).
#[async_trait]
pub trait SettingsRepo: Send + Sync {
    async fn get_setting(&self, key: &str) -> CoreResult<Option<String>>;
    /// Stores `value` unless the key exists; returns the value now stored (first writer wins,
    /// also across processes).
    async fn put_setting_if_absent(&self, key: &str, value: &str) -> CoreResult<String>;
    /// Counts a named daily counter up by one and returns the new value (`day` is `YYYYMMDD`).
    async fn bump_daily_counter(&self, name: &str, day: &str) -> CoreResult<i64>;
}

/// One page of child categories.
#[derive(Debug, Clone)]
pub struct CategoryQuery {
    pub parent_id: i64,
    pub cate_type: String,
    /// 1-based page number.
    pub page_no: u32,
    pub page_size: u32,
    /// Oldest first when true (`CreationTime:Asc`), newest first otherwise.
    pub ascending: bool,
}

/// Media categories (see `model::category`).
#[async_trait]
pub trait CategoryRepo: Send + Sync {
    /// Stores a category and returns it with its new id (ids are unique across accounts).
    async fn create_category(&self, category: &NewCategory) -> CoreResult<Category>;
    async fn get_category(&self, account_id: &str, scope: &str, id: i64) -> CoreResult<Option<Category>>;
    /// One page of the children of `query.parent_id` (-1 = top level) of one type, and
    /// how many children there are in all.
    async fn list_categories(
        &self,
        account_id: &str,
        scope: &str,
        query: &CategoryQuery,
    ) -> CoreResult<(Vec<Category>, u64)>;
    /// How many direct children `id` has.
    async fn count_child_categories(&self, account_id: &str, scope: &str, id: i64) -> CoreResult<u64>;
    /// Renames a category. False when absent.
    async fn rename_category(&self, account_id: &str, scope: &str, id: i64, name: &str) -> CoreResult<bool>;
    /// Deletes a category and all its descendants in one transaction. False when absent.
    async fn delete_category_tree(&self, account_id: &str, scope: &str, id: i64) -> CoreResult<bool>;
}

/// Per-app event-notification settings (SetMessageCallback / GetMessageCallback /
/// DeleteMessageCallback). Deleting an app deletes its settings.
#[async_trait]
pub trait CallbackConfigRepo: Send + Sync {
    async fn get_message_callback(&self, account_id: &str, app_id: &str) -> CoreResult<Option<MessageCallbackConfig>>;
    /// Creates or replaces the settings of `(config.account_id, config.app_id)`; on replace
    /// `created_at` keeps its first value.
    async fn put_message_callback(&self, config: &MessageCallbackConfig) -> CoreResult<()>;
    /// Deletes the settings of an app. False when there were none.
    async fn delete_message_callback(&self, account_id: &str, app_id: &str) -> CoreResult<bool>;
}

/// How many jobs of one kind are in one status (`JobRepo::counts_by_status`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobCount {
    pub kind: String,
    pub status: JobStatus,
    pub count: i64,
}

/// The durable job queue (see `model::job`). Delivery is at-least-once: a job whose worker
/// stopped heartbeating is claimed again once its lease expires. Every state change of a
/// running job names the worker holding its lease and is refused (returns `false`) when
/// that worker no longer holds it, so a worker that lost its lease never overwrites the
/// state written by the worker that took the job over.
#[async_trait]
pub trait JobRepo: Send + Sync {
    /// Stores a queued job and returns `(id, inserted)`. When a queued or running job holds
    /// `job.unique_key`, nothing is stored and that job's id comes back with
    /// `inserted = false` (also across processes). `AlreadyExists` when `job.id` is taken.
    async fn enqueue(&self, job: &NewJob) -> CoreResult<(String, bool)>;
    /// Like [`enqueue`](Self::enqueue) for several jobs in one transaction (all or none);
    /// a unique key repeated inside the batch dedupes onto its first job.
    async fn enqueue_many(&self, jobs: &[NewJob]) -> CoreResult<Vec<(String, bool)>>;
    /// Claims the oldest claimable job of one of `kinds` (ordered by `not_before`, then
    /// enqueue order) for `worker_id` until `now_ms + lease_ms`: a queued job with
    /// `not_before <= now_ms`, or a running job whose lease expired before `now_ms` (its
    /// worker died). The claim counts an attempt. A claimable job that may not start
    /// another attempt (attempts used up, or `give_up_at` passed) is marked failed instead
    /// and the next one is tried. Concurrent claimers (tasks, processes) never get the same
    /// job. `None` when nothing is claimable or `kinds` is empty.
    async fn claim(&self, worker_id: &str, kinds: &[&str], now_ms: i64, lease_ms: i64) -> CoreResult<Option<Job>>;
    /// Extends the lease of a running job to `lease_until`. False when `worker_id` does not
    /// hold the job's lease any more (another worker took it over, or it finished).
    async fn heartbeat(&self, id: &str, worker_id: &str, lease_until: i64) -> CoreResult<bool>;
    /// Marks a running job held by `worker_id` succeeded with `result`. False (and no
    /// change) when `worker_id` does not hold the lease.
    async fn succeed(&self, id: &str, worker_id: &str, result: &serde_json::Value) -> CoreResult<bool>;
    /// Records a failed attempt of a running job held by `worker_id` with `error`.
    /// `retry_at = Some(t)` queues it again with `not_before = t` — unless its attempts are
    /// used up or `t` is past `give_up_at`, when it fails; `None` fails it now. False (and
    /// no change) when `worker_id` does not hold the lease.
    async fn fail_attempt(&self, id: &str, worker_id: &str, error: &str, retry_at: Option<i64>) -> CoreResult<bool>;
    /// Puts a running job held by `worker_id` back in the queue, runnable now, without
    /// counting the interrupted attempt (graceful shutdown). False when not held.
    async fn release_job(&self, id: &str, worker_id: &str) -> CoreResult<bool>;
    async fn get_job(&self, id: &str) -> CoreResult<Option<Job>>;
    /// Jobs newest first, optionally of one status and/or kind; `limit` 0 means 100.
    async fn list_jobs(&self, status: Option<JobStatus>, kind: Option<&str>, limit: u32) -> CoreResult<Vec<Job>>;
    /// Queues a failed or cancelled job again, runnable now, with its attempts reset to 0
    /// and its deadline (`give_up_at`, if any) moved as far past now as it was past its
    /// creation. False when absent or in another status; `AlreadyExists` when an active
    /// job holds its unique key.
    async fn retry_job(&self, id: &str) -> CoreResult<bool>;
    /// Cancels a queued job. False when absent or not queued (running jobs finish).
    async fn cancel_job(&self, id: &str) -> CoreResult<bool>;
    /// Number of jobs per (kind, status), for metrics.
    async fn counts_by_status(&self) -> CoreResult<Vec<JobCount>>;
    /// Deletes finished jobs that finished before `before_ms`; returns how many.
    async fn purge_finished_jobs(&self, before_ms: i64) -> CoreResult<u64>;
}

/// Filter and page of `ObjectRepo::list_multipart_uploads` (ListMultipartUploads order:
/// by key, then by upload id).
#[derive(Debug, Clone, Default)]
pub struct UploadListQuery {
    /// Only uploads whose key starts with this.
    pub prefix: String,
    /// Start after this key (with `upload_id_marker`: after that upload of this key).
    pub key_marker: String,
    pub upload_id_marker: String,
    pub limit: u32,
}

/// Objects of the OSS-compatible endpoint, multipart uploads and their parts (see
/// `model::object`). Methods that make blobs unreferenced return their names; the caller
/// deletes them from the blob store after the call.
#[async_trait]
pub trait ObjectRepo: Send + Sync {
    async fn get_object(&self, bucket: &str, key: &str) -> CoreResult<Option<StoredObject>>;
    /// The manifest of a multipart object, in object order (empty for other objects).
    async fn object_manifest(&self, object_id: &str) -> CoreResult<Vec<ManifestPart>>;
    /// Stores a `Normal` object, replacing whatever was at its key, in one transaction;
    /// returns the blobs of the replaced version.
    async fn put_object(&self, object: &StoredObject) -> CoreResult<Vec<String>>;
    /// Deletes the object at a key; returns its blobs, `None` when there was none.
    async fn delete_object(&self, bucket: &str, key: &str) -> CoreResult<Option<Vec<String>>>;
    /// Objects of a bucket whose key starts with `prefix` and sorts after `after`, by key.
    async fn list_objects(&self, bucket: &str, prefix: &str, after: &str, limit: u32) -> CoreResult<Vec<StoredObject>>;
    /// Records the whole-object MD5 of an object version. False when it is gone.
    async fn set_object_md5(&self, object_id: &str, md5_hex: &str) -> CoreResult<bool>;
    /// Marks an object version as reported to the media library. False when it is gone.
    async fn mark_object_notified(&self, object_id: &str) -> CoreResult<bool>;
    /// Objects not yet reported (`notified = false`) created before `before_ms`, oldest first.
    async fn unnotified_objects(&self, before_ms: i64, limit: u32) -> CoreResult<Vec<StoredObject>>;

    /// Starts a multipart upload. `AlreadyExists` when the id is taken.
    async fn create_multipart_upload(&self, upload: &MultipartUpload) -> CoreResult<()>;
    async fn get_multipart_upload(&self, upload_id: &str) -> CoreResult<Option<MultipartUpload>>;
    async fn list_multipart_uploads(&self, bucket: &str, query: &UploadListQuery) -> CoreResult<Vec<MultipartUpload>>;
    /// Records a part, replacing one with the same number; returns the replaced part's blob.
    /// `NotFound` (kind "Upload") when the upload does not exist (aborted or completed), also
    /// when that happens concurrently: a part never lands in a finished upload.
    async fn put_upload_part(&self, part: &UploadPart) -> CoreResult<Option<String>>;
    /// Parts with a number above `after_part`, ascending, at most `limit` (0 = all).
    async fn list_upload_parts(&self, upload_id: &str, after_part: u32, limit: u32) -> CoreResult<Vec<UploadPart>>;
    /// Completes an upload in one transaction: checks that every manifest entry still names
    /// the part blob recorded for its number (`InvalidState` when a part was replaced since,
    /// `NotFound` "Upload" when the upload is gone), stores `object` (type `Multipart`) with
    /// `manifest`, replacing the previous version at its key, and deletes the upload and its
    /// parts. Returns the blobs no longer referenced: parts left out of the manifest and the
    /// replaced version's blobs.
    async fn complete_multipart_upload(
        &self,
        upload_id: &str,
        object: &StoredObject,
        manifest: &[ManifestPart],
    ) -> CoreResult<Vec<String>>;
    /// Deletes an upload and its parts; returns the part blobs, `None` when absent.
    async fn abort_multipart_upload(&self, upload_id: &str) -> CoreResult<Option<Vec<String>>>;
}

/// The media library (see `model::media`). Media ids are unique across accounts; lookups
/// by caller-facing keys are scoped to one account and one library (VOD or ICE).
#[async_trait]
pub trait MediaRepo: Send + Sync {
    /// Stores a new media. `AlreadyExists` of kind "Media" when the id is taken,
    /// "ReferenceId" when the account's library already has that ReferenceId, "InputURL" /
    /// "ClientToken" likewise for registered ICE media.
    async fn create_media(&self, media: &Media) -> CoreResult<()>;
    /// One media of an account's library by id, ReferenceId, InputURL or ClientToken.
    async fn find_media(&self, account_id: &str, scope: MediaScope, key: &MediaKey) -> CoreResult<Option<Media>>;
    /// A media by id alone (any account or library): for the OSS endpoint's checks.
    async fn get_media_by_id(&self, media_id: &str) -> CoreResult<Option<Media>>;
    /// The media whose source object is `(bucket, key)`, else the media whose `ObjectPrefix`
    /// contains `key` (longest prefix first); `None` when the object belongs to no media.
    async fn find_media_by_object(&self, bucket: &str, key: &str) -> CoreResult<Option<Media>>;
    /// Counts one more upload credential (`upload_generation + 1`) for the same address and
    /// returns the updated media; `None` when absent.
    async fn reissue_upload(&self, account_id: &str, scope: MediaScope, media_id: &str) -> CoreResult<Option<Media>>;
    /// Applies `patch` and sets `modified_at`. False when absent; `AlreadyExists`
    /// ("ReferenceId") when the new ReferenceId is taken.
    async fn update_media_info(
        &self,
        account_id: &str,
        scope: MediaScope,
        media_id: &str,
        patch: &MediaPatch,
        now_ms: i64,
    ) -> CoreResult<bool>;
    /// Accepts a new source in one transaction: when the media still has
    /// `update.expected_generation` as its `source_generation`, records the source (object
    /// id, status, size, MD5, file URL, damaged reason, times), counts the generation up and
    /// stores `jobs` (the outbox: they become visible exactly when the update commits).
    /// Returns the new generation, or `None` (and changes nothing) when the media is gone
    /// or its generation moved on (the caller re-reads and decides again).
    async fn complete_media_upload(&self, update: &SourceUpdate, jobs: &[NewJob]) -> CoreResult<Option<i64>>;
    /// Marks the media damaged (status `UploadFail`, `damaged = reason`) when its current
    /// source is still `source_generation`. False otherwise (gone, or the source was replaced).
    async fn set_media_damaged(
        &self,
        media_id: &str,
        source_generation: i64,
        reason: &str,
        now_ms: i64,
    ) -> CoreResult<bool>;
    /// Records what the probe learned about source `source_generation`. False when the
    /// media is gone or its source was replaced since.
    async fn record_source_info(
        &self,
        media_id: &str,
        source_generation: i64,
        info: &SourceInfo,
        now_ms: i64,
    ) -> CoreResult<bool>;
    /// Moves the media to `to` when its source is still `source_generation` and its status
    /// is one of `from` (any status when `from` is empty). False otherwise.
    async fn set_media_status(
        &self,
        media_id: &str,
        source_generation: i64,
        from: &[MediaStatus],
        to: MediaStatus,
        now_ms: i64,
    ) -> CoreResult<bool>;
    /// Deletes a media and stores `jobs` in the same transaction; returns the deleted record,
    /// `None` (and no jobs stored) when it was absent.
    async fn delete_media(
        &self,
        account_id: &str,
        scope: MediaScope,
        media_id: &str,
        jobs: &[NewJob],
    ) -> CoreResult<Option<Media>>;
    /// One page of an account's media matching `query`, and how many match in all.
    async fn search_media(&self, account_id: &str, query: &MediaQuery) -> CoreResult<(Vec<Media>, u64)>;
    /// How many media (both libraries) belong to an app.
    async fn count_media_in_app(&self, account_id: &str, app_id: &str) -> CoreResult<u64>;
}

/// URL upload jobs (UploadMediaByURL, see `model::url_upload`).
#[async_trait]
pub trait UrlUploadRepo: Send + Sync {
    /// Stores new URL uploads and their pull `jobs` in one transaction. With `session =
    /// Some((id, window_ms))` the call is refused (returns false, nothing stored) when the
    /// account used that SessionId within `window_ms` before `now_ms`; otherwise the
    /// session's time becomes `now_ms`.
    async fn create_url_uploads(
        &self,
        account_id: &str,
        session: Option<(&str, i64)>,
        now_ms: i64,
        uploads: &[UrlUpload],
        jobs: &[NewJob],
    ) -> CoreResult<bool>;
    async fn get_url_upload(&self, job_id: &str) -> CoreResult<Option<UrlUpload>>;
    /// The account's uploads with these job ids (any order).
    async fn url_uploads_by_ids(&self, account_id: &str, job_ids: &[String]) -> CoreResult<Vec<UrlUpload>>;
    /// The account's uploads of these URLs, newest first, at most `limit`.
    async fn url_uploads_by_urls(&self, account_id: &str, urls: &[String], limit: u32) -> CoreResult<Vec<UrlUpload>>;
    /// Moves an upload to `to` when its status is one of `from` (any unfinished status when
    /// empty), applying `update`, and stores `jobs` in the same transaction. False (nothing
    /// changed, no jobs stored) otherwise.
    async fn update_url_upload(
        &self,
        job_id: &str,
        from: &[UrlUploadStatus],
        to: UrlUploadStatus,
        update: &UrlUploadUpdate,
        jobs: &[NewJob],
    ) -> CoreResult<bool>;
}

/// Play streams and snapshot sets of media (see `model::stream`).
#[async_trait]
pub trait StreamRepo: Send + Sync {
    /// Stores one processing run in one transaction when the media's source is still
    /// `p.source_generation`: its streams and snapshot sets, the status change (when the
    /// status is one of the allowed ones; otherwise the status stays), the cover URL (only
    /// when the media has none) and snapshot URLs, and `jobs` (the events). False, with
    /// nothing stored, when the media is gone or its source was replaced.
    async fn publish(&self, p: &Publication, jobs: &[NewJob]) -> CoreResult<bool>;
    /// The streams of a media, newest first (ties by id).
    async fn list_streams(&self, media_id: &str) -> CoreResult<Vec<MediaStream>>;
    /// The snapshot sets of a media, newest first.
    async fn list_snapshot_sets(&self, media_id: &str) -> CoreResult<Vec<SnapshotSet>>;
    /// Deletes the streams the transcode runs `job_ids` made for a media and, when any
    /// were deleted, stores `jobs` in the same transaction. Returns the deleted streams.
    async fn delete_streams(&self, media_id: &str, job_ids: &[String], jobs: &[NewJob])
    -> CoreResult<Vec<MediaStream>>;
}

/// Transcode template groups (see `model::template`). Only groups an account created are
/// stored, plus, per app, which group is its default (a stored id or a built-in id: at most
/// one per app by construction). Deleting an app deletes its groups and its default.
#[async_trait]
pub trait TemplateRepo: Send + Sync {
    /// Stores a new group (its `is_default` is ignored) unless its app already holds
    /// `max_groups` groups: then `Ok(Err(TooManyGroups))` and nothing is stored (count and
    /// insert are atomic). `AlreadyExists` ("TemplateGroup") when the id is taken,
    /// `InvalidArgument` when the app does not exist.
    async fn create_template_group(
        &self,
        group: &TemplateGroup,
        max_groups: u64,
    ) -> CoreResult<Result<(), GroupRefusal>>;
    /// A stored group of the account (any app), with its templates and `is_default`.
    async fn get_template_group(&self, account_id: &str, group_id: &str) -> CoreResult<Option<TemplateGroup>>;
    /// The stored groups of an app, oldest first, with their templates and `is_default`.
    async fn list_template_groups(&self, account_id: &str, app_id: &str) -> CoreResult<Vec<TemplateGroup>>;
    /// The group recorded as the app's default (stored or built-in id); `None` when none was set.
    async fn default_template_group_id(&self, account_id: &str, app_id: &str) -> CoreResult<Option<String>>;
    /// Records `group_id` as the app's default, replacing the previous one in the same
    /// statement. A built-in id is recorded as is; a stored group must belong to the app:
    /// false (nothing changed) when it does not, also when it is deleted concurrently.
    async fn set_default_template_group(
        &self,
        account_id: &str,
        app_id: &str,
        group_id: &str,
        now_ms: i64,
    ) -> CoreResult<bool>;
    /// Applies `change` to a stored group in one transaction ([`TemplateGroup::apply`] under
    /// the group's row lock) and returns the group as stored and the ids of `change.remove`
    /// it did not hold; `Ok(Err(refusal))`, nothing changed, when the group does not exist
    /// (`NotFound`) or `apply` refuses.
    async fn update_template_group(
        &self,
        account_id: &str,
        group_id: &str,
        change: &GroupChange,
        now_ms: i64,
    ) -> CoreResult<Result<(TemplateGroup, Vec<String>), GroupRefusal>>;
    /// Deletes a stored group and returns it; refused, nothing deleted, when it does not
    /// exist (`NotFound`), is locked (`Locked`) or is its app's default (`Default`), checked
    /// atomically with the delete (a concurrent `set_default_template_group` waits or fails).
    async fn delete_template_group(
        &self,
        account_id: &str,
        group_id: &str,
    ) -> CoreResult<Result<TemplateGroup, GroupRefusal>>;
}

/// CDN refresh and preload (see `model::refresh`): media refresh records, URL tasks, the
/// daily quota counters and the registry of edge nodes.
#[async_trait]
pub trait RefreshRepo: Send + Sync {
    /// Stores media refresh records, URL tasks and their `cdn.refresh` jobs in one
    /// transaction (all or nothing). `AlreadyExists` when a record or task id is taken.
    async fn submit_refresh(&self, media: &[MediaRefreshJob], tasks: &[RefreshTask], jobs: &[NewJob])
    -> CoreResult<()>;
    /// The records of one MediaRefreshJobId of an account (optionally one media), in the
    /// call's MediaIds order.
    async fn media_refresh_jobs(
        &self,
        account_id: &str,
        job_id: &str,
        media_id: Option<&str>,
    ) -> CoreResult<Vec<MediaRefreshJob>>;
    /// The media refresh record run by a batch, if the batch is one.
    async fn media_refresh_of_batch(&self, batch_id: &str) -> CoreResult<Option<MediaRefreshJob>>;
    /// The tasks of a batch, in batch order.
    async fn refresh_tasks_of_batch(&self, batch_id: &str) -> CoreResult<Vec<RefreshTask>>;
    /// Finishes a batch in one transaction: writes every `results` entry (status, process
    /// 100%, description) onto the batch's tasks that are still `Refreshing`, the media
    /// record's final state when `media` is given, and stores `jobs` (its event). Only the
    /// first call wins: false, with nothing written and no jobs stored, when the media
    /// record is no longer `processing` (or, without `media`, when no task was `Refreshing`).
    async fn complete_refresh_batch(
        &self,
        batch_id: &str,
        results: &[TaskResult],
        media: Option<&MediaRefreshOutcome>,
        now_ms: i64,
        jobs: &[NewJob],
    ) -> CoreResult<bool>;
    /// One page of an account's tasks matching `query`, newest first, and how many match.
    async fn list_refresh_tasks(
        &self,
        account_id: &str,
        query: &RefreshTaskQuery,
    ) -> CoreResult<(Vec<RefreshTask>, u64)>;

    /// Adds `n` to the daily counter `(name, day)` (the `SettingsRepo::bump_daily_counter`
    /// table) unless the sum would exceed `limit`; returns the new value, or `None` (and no
    /// change) when refused. Atomic across processes.
    async fn take_daily_quota(&self, name: &str, day: &str, n: i64, limit: i64) -> CoreResult<Option<i64>>;
    /// The value of a daily counter (0 when never counted).
    async fn daily_counter(&self, name: &str, day: &str) -> CoreResult<i64>;

    /// Records that edge `node_id` is alive with its control API at `control_url`.
    async fn upsert_edge_node(&self, node_id: &str, control_url: &str, now_ms: i64) -> CoreResult<()>;
    /// Edge nodes seen at or after `since_ms`, by node id.
    async fn live_edge_nodes(&self, since_ms: i64) -> CoreResult<Vec<EdgeNode>>;
    /// Forgets an edge node (clean shutdown). False when unknown.
    async fn remove_edge_node(&self, node_id: &str) -> CoreResult<bool>;
}

/// Which backend a store is, for logs and `config dump`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Sqlite,
    Postgres,
}

/// Everything the service needs from its metadata database.
#[async_trait]
pub trait MetaStore:
    IdentityRepo
    + AppRepo
    + CategoryRepo
    + NonceRepo
    + SettingsRepo
    + CallbackConfigRepo
    + JobRepo
    + ObjectRepo
    + MediaRepo
    + UrlUploadRepo
    + TemplateRepo
    + StreamRepo
    + RefreshRepo
{
    fn kind(&self) -> BackendKind;
    /// A cheap round trip, for readiness checks.
    async fn ping(&self) -> CoreResult<()>;
}
