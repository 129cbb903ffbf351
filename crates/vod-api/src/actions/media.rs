//! VOD media actions: GetVideoInfo, GetVideoInfos, UpdateVideoInfo, DeleteVideo,
//! GetMezzanineInfo; plus the checks and renderings the upload, search and ICE media
//! handlers share (titles, tags, categories, apps, ReferenceId, the `Video` object).

use std::collections::HashMap;

use serde_json::{Map, Value, json};
use vod_core::CoreError;
use vod_core::model::app::DEFAULT_APP_ID;
use vod_core::model::media::{Media, MediaKey, MediaPatch, MediaScope};
use vod_core::now_ms;
use vod_wire::timefmt::iso8601;
use vod_wire::{ApiError, Params, codes};

use super::{ActionResult, Ctx, body};
use crate::authz::can_access_app;
use crate::catalog::Product;
use crate::error::core_to_api;

/// Most ids one batch call (GetVideoInfos, DeleteVideo) takes.
const MAX_BATCH: usize = 20;

// ---- errors ---------------------------------------------------------------------------

/// `InvalidVideo.NotFound` (404) with the message of the action's reference page.
pub(super) fn video_not_found(message: &str) -> ApiError {
    ApiError::custom("InvalidVideo.NotFound", 404, message.to_string())
}

/// `InvalidVideo.Damaged` (400): the media's creation failed or its source is damaged.
pub(super) fn video_damaged() -> ApiError {
    ApiError::custom("InvalidVideo.Damaged", 400, "The video has been Damaged.")
}

/// The error of a clashing caller-facing key when storing a media.
pub(super) fn media_error(e: CoreError) -> ApiError {
    match e {
        CoreError::AlreadyExists {
            kind: "ReferenceId",
            id,
        } => ApiError::invalid_because(
            "ReferenceId",
            &format!("The ReferenceId {id} is already used by another media of this account."),
        ),
        e => core_to_api(e),
    }
}

// ---- shared parameter checks ----------------------------------------------------------

/// The media library of the calling product.
pub(super) fn scope_of(ctx: &Ctx<'_>) -> MediaScope {
    match ctx.product {
        Product::Vod => MediaScope::Vod,
        Product::Ice => MediaScope::Ice,
    }
}

/// Characters outside the Basic Multilingual Plane (emoji and the like) are refused, as
/// Alibaba's title fields refuse them.
fn has_illegal_chars(s: &str) -> bool {
    s.chars().any(|c| u32::from(c) > 0xFFFF)
}

/// A title: at most `max` characters (bytes when `bytes`), no emoji.
pub(super) fn check_title(name: &str, value: &str, max: usize, bytes: bool) -> Result<String, ApiError> {
    let len = if bytes { value.len() } else { value.chars().count() };
    if len > max {
        let unit = if bytes { "bytes" } else { "characters" };
        return Err(ApiError::invalid_because(
            name,
            &format!("It must be at most {max} {unit}."),
        ));
    }
    if has_illegal_chars(value) {
        return Err(ApiError::custom(
            "IllegalCharacters",
            400,
            format!("The {name} contains illegal characters."),
        ));
    }
    Ok(value.to_string())
}

/// A description: at most `max` characters (bytes when `bytes`).
pub(super) fn check_description(name: &str, value: &str, max: usize, bytes: bool) -> Result<String, ApiError> {
    let len = if bytes { value.len() } else { value.chars().count() };
    if len > max {
        let unit = if bytes { "bytes" } else { "characters" };
        return Err(ApiError::invalid_because(
            name,
            &format!("It must be at most {max} {unit}."),
        ));
    }
    Ok(value.to_string())
}

/// Tags: comma-separated, at most 16, each at most 32 characters (bytes when `bytes`);
/// returned trimmed and joined with `,`.
pub(super) fn normalize_tags(name: &str, raw: &str, bytes: bool) -> Result<String, ApiError> {
    let tags: Vec<&str> = raw.split(',').map(str::trim).filter(|t| !t.is_empty()).collect();
    if tags.len() > 16 {
        return Err(ApiError::custom(
            "TagsExceededMax",
            400,
            format!("The {name} exceed the maximum of 16 tags."),
        ));
    }
    for t in &tags {
        let len = if bytes { t.len() } else { t.chars().count() };
        if len > 32 {
            return Err(ApiError::custom(
                "LengthExceededMax",
                400,
                format!("The tag {t:?} of {name} exceeds the maximum length of 32."),
            ));
        }
    }
    Ok(tags.join(","))
}

/// A ReferenceId: 6–64 characters of `A-Z a-z 0-9 - _`.
pub(super) fn check_reference_id(value: &str) -> Result<String, ApiError> {
    let ok = (6..=64).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !ok {
        return Err(ApiError::invalid_because(
            "ReferenceId",
            "It must be 6 to 64 characters of letters, digits, hyphens and underscores.",
        ));
    }
    Ok(value.to_string())
}

/// The category must exist in the product's tree (`InvalidCateId.NotFound`).
pub(super) async fn check_cate(ctx: &Ctx<'_>, cate_id: i64) -> Result<(), ApiError> {
    let found = ctx
        .state
        .store()
        .get_category(&ctx.caller.account_id, ctx.product.ram_prefix(), cate_id)
        .await
        .map_err(core_to_api)?;
    match found {
        Some(_) => Ok(()),
        None => Err(ApiError::custom(
            "InvalidCateId.NotFound",
            404,
            format!("The specified CateId {cate_id} does not exist."),
        )),
    }
}

/// The category name of a media (`CateName`), if it has a category that still exists.
pub(super) async fn cate_name(ctx: &Ctx<'_>, media: &Media) -> Result<Option<String>, ApiError> {
    let Some(id) = media.cate_id else {
        return Ok(None);
    };
    let found = ctx
        .state
        .store()
        .get_category(&media.account_id, media.scope.as_str(), id)
        .await
        .map_err(core_to_api)?;
    Ok(found.map(|c| c.name))
}

/// `AppId` (default `app-1000000`): it must exist (`AppNotExist`) and the caller must be
/// allowed to write to it (`Forbidden`).
pub(super) async fn check_app(ctx: &Ctx<'_>, p: &Params) -> Result<String, ApiError> {
    let app_id = p.get("AppId").unwrap_or(DEFAULT_APP_ID).to_string();
    let found = ctx
        .state
        .app(&ctx.caller.account_id, &app_id)
        .await
        .map_err(core_to_api)?;
    if found.is_none() {
        return Err(ApiError::with_message(
            codes::APP_NOT_FOUND,
            format!("The specified app {app_id} does not exist."),
        ));
    }
    if !can_access_app(ctx.state, ctx.caller, ctx.product, ctx.action, &app_id).await? {
        return Err(codes::FORBIDDEN.into());
    }
    Ok(app_id)
}

/// Per-request memo of `can_access_app` answers (batch actions touch few apps).
#[derive(Default)]
pub(super) struct AppAccess(HashMap<String, bool>);

impl AppAccess {
    pub(super) async fn allows(&mut self, ctx: &Ctx<'_>, app_id: &str) -> Result<bool, ApiError> {
        if let Some(v) = self.0.get(app_id) {
            return Ok(*v);
        }
        let v = can_access_app(ctx.state, ctx.caller, ctx.product, ctx.action, app_id).await?;
        self.0.insert(app_id.to_string(), v);
        Ok(v)
    }
}

/// Checks the UserData parameter with the callbacks' rules.
pub(super) fn check_user_data(ctx: &Ctx<'_>, raw: &str) -> Result<String, ApiError> {
    ctx.state.media().events().check_user_data(raw).map_err(core_to_api)?;
    Ok(raw.trim().to_string())
}

/// Finds a media of the caller's library by `VideoId`, else `ReferenceId`; MissingParameter
/// `VideoId` when neither is given, `not_found` when there is none, `Forbidden` when the
/// caller may not act on its app.
pub(super) async fn load_media(ctx: &Ctx<'_>, p: &Params, id_param: &str, not_found: &str) -> Result<Media, ApiError> {
    let key = match (p.get(id_param), p.get("ReferenceId")) {
        (Some(id), _) => MediaKey::Id(id.trim().to_string()),
        (None, Some(r)) => MediaKey::ReferenceId(r.trim().to_string()),
        (None, None) => return Err(ApiError::missing(id_param)),
    };
    let media = ctx
        .state
        .store()
        .find_media(&ctx.caller.account_id, scope_of(ctx), &key)
        .await
        .map_err(core_to_api)?
        .ok_or_else(|| video_not_found(not_found))?;
    if !can_access_app(ctx.state, ctx.caller, ctx.product, ctx.action, &media.app_id).await? {
        return Err(codes::FORBIDDEN.into());
    }
    Ok(media)
}

// ---- rendering ------------------------------------------------------------------------

/// How the `Snapshots` list is written.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Snapshots {
    /// `{"Snapshot":[..]}` (GetVideoInfo).
    Wrapped,
    /// `[..]` (GetVideoInfos, SearchMedia).
    Direct,
}

fn put(obj: &mut Map<String, Value>, key: &str, v: impl Into<Value>) {
    obj.insert(key.to_string(), v.into());
}

fn put_nonempty(obj: &mut Map<String, Value>, key: &str, v: &str) {
    if !v.is_empty() {
        put(obj, key, v);
    }
}

/// The `Video` object of GetVideoInfo / GetVideoInfos / SearchMedia (JSON types of the
/// SDK models: Duration float, Size and CateId integers, the rest strings). Fields without
/// a value (no category, nothing uploaded yet, not probed yet) are left out, as Alibaba
/// leaves them out. `id_key` is `VideoId` or `AudioId`.
pub(super) fn video_json(
    ctx: &Ctx<'_>,
    m: &Media,
    cate_name: Option<&str>,
    snapshots: Snapshots,
    id_key: &str,
) -> Map<String, Value> {
    let mut v = Map::new();
    put(&mut v, id_key, m.media_id.as_str());
    put(&mut v, "Title", m.title.as_str());
    put_nonempty(&mut v, "Description", &m.description);
    if let Some(d) = m.duration {
        put(&mut v, "Duration", d);
    }
    put_nonempty(&mut v, "CoverURL", &m.cover_url);
    put(&mut v, "Status", m.status.as_str());
    put(&mut v, "CreationTime", iso8601(m.created_at));
    put(&mut v, "ModificationTime", iso8601(m.modified_at));
    if let Some(s) = m.size {
        put(&mut v, "Size", s);
    }
    if let Some(c) = m.cate_id {
        put(&mut v, "CateId", c);
        if let Some(n) = cate_name {
            put(&mut v, "CateName", n);
        }
    }
    put_nonempty(&mut v, "Tags", &m.tags);
    put_nonempty(&mut v, "TemplateGroupId", &m.template_group_id);
    put(&mut v, "StorageLocation", m.storage_location.as_str());
    put(&mut v, "RegionId", ctx.state.config().region_id.as_str());
    put(&mut v, "AppId", m.app_id.as_str());
    put(&mut v, "AuditStatus", "Normal");
    put(&mut v, "DownloadSwitch", "on");
    put(&mut v, "StorageClass", "Standard");
    put_nonempty(&mut v, "UserData", &m.user_data);
    if let Some(r) = &m.reference_id {
        put(&mut v, "ReferenceId", r.as_str());
    }
    let shots: Vec<Value> = m.snapshots.iter().map(|s| Value::from(s.as_str())).collect();
    match snapshots {
        Snapshots::Wrapped => put(&mut v, "Snapshots", json!({"Snapshot": shots})),
        Snapshots::Direct => put(&mut v, "Snapshots", Value::Array(shots)),
    }
    v
}

// ---- actions --------------------------------------------------------------------------

pub async fn get_video_info(ctx: &Ctx<'_>, p: &Params) -> ActionResult {
    let media = load_media(ctx, p, "VideoId", "The video does not exist.").await?;
    let name = cate_name(ctx, &media).await?;
    let video = video_json(ctx, &media, name.as_deref(), Snapshots::Wrapped, "VideoId");
    Ok(body([("Video", Value::Object(video))]))
}

/// Removes the fields GetVideoInfos' `VideoList` items do not have.
fn video_list_item(mut v: Map<String, Value>) -> Value {
    for k in ["RegionId", "AuditStatus"] {
        v.remove(k);
    }
    Value::Object(v)
}

pub async fn get_video_infos(ctx: &Ctx<'_>, p: &Params) -> ActionResult {
    let ids = p.list("VideoIds");
    let refs = p.list("ReferenceIds");
    if ids.is_empty() && refs.is_empty() {
        return Err(ApiError::missing("VideoIds"));
    }
    if ids.len() > MAX_BATCH || refs.len() > MAX_BATCH {
        return Err(ApiError::custom(
            "VideoIdsExceededMax",
            400,
            "At most 20 ids can be given.",
        ));
    }
    let store = ctx.state.store();
    let scope = scope_of(ctx);
    let mut access = AppAccess::default();
    let (mut list, mut missing, mut missing_refs, mut forbidden) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let keys = ids
        .iter()
        .map(|i| (MediaKey::Id(i.clone()), i, false))
        .chain(refs.iter().map(|r| (MediaKey::ReferenceId(r.clone()), r, true)));
    let mut seen = std::collections::HashSet::new();
    for (key, given, is_ref) in keys {
        let found = store
            .find_media(&ctx.caller.account_id, scope, &key)
            .await
            .map_err(core_to_api)?;
        match found {
            None if is_ref => missing_refs.push(json!(given)),
            None => missing.push(json!(given)),
            Some(m) if !access.allows(ctx, &m.app_id).await? => forbidden.push(json!(m.media_id)),
            Some(m) => {
                if seen.insert(m.media_id.clone()) {
                    let name = cate_name(ctx, &m).await?;
                    list.push(video_list_item(video_json(
                        ctx,
                        &m,
                        name.as_deref(),
                        Snapshots::Direct,
                        "VideoId",
                    )));
                }
            }
        }
    }
    let mut b = body([
        ("VideoList", Value::Array(list)),
        ("NonExistVideoIds", Value::Array(missing)),
    ]);
    if !refs.is_empty() {
        b.insert("NonExistReferenceIds".into(), Value::Array(missing_refs));
    }
    if !forbidden.is_empty() {
        b.insert("ForbiddenVideoIds".into(), Value::Array(forbidden));
    }
    Ok(b)
}

pub async fn update_video_info(ctx: &Ctx<'_>, p: &Params) -> ActionResult {
    let media = {
        let id = p.required("VideoId")?;
        let found = ctx
            .state
            .store()
            .find_media(
                &ctx.caller.account_id,
                scope_of(ctx),
                &MediaKey::Id(id.trim().to_string()),
            )
            .await
            .map_err(core_to_api)?
            .ok_or_else(|| video_not_found("The video does not exist."))?;
        if !can_access_app(ctx.state, ctx.caller, ctx.product, ctx.action, &found.app_id).await? {
            return Err(codes::FORBIDDEN.into());
        }
        found
    };
    let mut patch = MediaPatch::default();
    if let Some(t) = p.get("Title") {
        patch.title = Some(check_title("Title", t, 128, false)?);
    }
    if let Some(d) = p.raw("Description") {
        patch.description = Some(check_description("Description", d, 1024, true)?);
    }
    if let Some(t) = p.raw("Tags") {
        patch.tags = Some(normalize_tags("Tags", t, true)?);
    }
    if let Some(c) = p.opt_i64("CateId")? {
        check_cate(ctx, c).await?;
        patch.cate_id = Some(Some(c));
    }
    if let Some(c) = p.raw("CoverURL") {
        patch.cover_url = Some(c.trim().to_string());
    }
    if let Some(r) = p.get("ReferenceId") {
        patch.reference_id = Some(check_reference_id(r.trim())?);
    }
    if let Some(u) = p.raw("UserData") {
        patch.user_data = Some(check_user_data(ctx, u)?);
    }
    if patch.is_empty() {
        return Ok(body([]));
    }
    let updated = ctx
        .state
        .store()
        .update_media_info(&media.account_id, media.scope, &media.media_id, &patch, now_ms())
        .await
        .map_err(media_error)?;
    if !updated {
        return Err(video_not_found("The video does not exist."));
    }
    Ok(body([]))
}

pub async fn delete_video(ctx: &Ctx<'_>, p: &Params) -> ActionResult {
    let ids = p.list("VideoIds");
    let refs = p.list("ReferenceIds");
    if ids.is_empty() && refs.is_empty() {
        return Err(ApiError::missing("VideoIds"));
    }
    if ids.len() > MAX_BATCH || refs.len() > MAX_BATCH {
        return Err(ApiError::custom(
            "VideoIdsExceededMax",
            400,
            "At most 20 video ids can be deleted at once.",
        ));
    }
    let store = ctx.state.store();
    let service = ctx.state.media();
    let scope = scope_of(ctx);
    let mut access = AppAccess::default();
    let (mut missing, mut missing_refs, mut forbidden) = (Vec::new(), Vec::new(), Vec::new());
    let keys = ids
        .iter()
        .map(|i| (MediaKey::Id(i.clone()), i, false))
        .chain(refs.iter().map(|r| (MediaKey::ReferenceId(r.clone()), r, true)));
    for (key, given, is_ref) in keys {
        let found = store
            .find_media(&ctx.caller.account_id, scope, &key)
            .await
            .map_err(core_to_api)?;
        let gone = match found {
            Some(m) if !access.allows(ctx, &m.app_id).await? => {
                forbidden.push(json!(m.media_id));
                continue;
            }
            Some(m) => !service.delete(&m).await.map_err(core_to_api)?,
            None => true,
        };
        if gone {
            if is_ref {
                missing_refs.push(json!(given));
            } else {
                missing.push(json!(given));
            }
        }
    }
    let mut b = body([
        ("NonExistVideoIds", Value::Array(missing)),
        ("ForbiddenVideoIds", Value::Array(forbidden)),
    ]);
    if !refs.is_empty() {
        b.insert("NonExistReferenceIds".into(), Value::Array(missing_refs));
    }
    Ok(b)
}

/// Probe stream entries as the SDK models name their fields (all strings).
fn stream_list(m: &Media, key: &str) -> Value {
    let items = m
        .streams
        .as_ref()
        .and_then(|s| s.get(key))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    Value::Array(items)
}

pub async fn get_mezzanine_info(ctx: &Ctx<'_>, p: &Params) -> ActionResult {
    let m = load_media(ctx, p, "VideoId", "The video does not exist.").await?;
    p.one_of("OutputType", &["cdn", "oss"], Some("cdn"))?;
    p.i64_in("AuthTimeout", 1, 2_592_000, 3600)?;
    let additions: Vec<String> = p
        .list("AdditionType")
        .into_iter()
        .map(|s| s.to_ascii_lowercase())
        .collect();
    if additions.iter().any(|a| a != "video" && a != "audio") {
        return Err(ApiError::invalid("AdditionType"));
    }
    let url = if m.file_url.is_empty() && !m.object_key.is_empty() {
        ctx.state.media().config().object_url(&m.object_key)
    } else {
        m.file_url.clone()
    };
    let mut z = Map::new();
    put(&mut z, "VideoId", m.media_id.as_str());
    put(&mut z, "FileName", m.file_name.as_str());
    put(&mut z, "FileURL", url);
    if let Some(s) = m.size {
        put(&mut z, "Size", s);
    }
    if let Some(d) = m.duration {
        put(&mut z, "Duration", format!("{d}"));
    }
    if let Some(b) = &m.bitrate {
        put(&mut z, "Bitrate", b.as_str());
    }
    if let Some(f) = &m.fps {
        put(&mut z, "Fps", f.as_str());
    }
    if let Some(w) = m.width {
        put(&mut z, "Width", w);
    }
    if let Some(h) = m.height {
        put(&mut z, "Height", h);
    }
    put(&mut z, "Status", m.status.mezzanine_str());
    put(&mut z, "CreationTime", iso8601(m.uploaded_at.unwrap_or(m.created_at)));
    put(&mut z, "OutputType", "oss");
    put(&mut z, "PreprocessStatus", "UnPreprocess");
    put(&mut z, "StorageClass", "Standard");
    if let Some(md5) = &m.md5 {
        put(&mut z, "FileMD5", md5.as_str());
    }
    if additions.iter().any(|a| a == "video") {
        put(&mut z, "VideoStreamList", stream_list(&m, "VideoStreamList"));
    }
    if additions.iter().any(|a| a == "audio") {
        put(&mut z, "AudioStreamList", stream_list(&m, "AudioStreamList"));
    }
    Ok(body([("Mezzanine", Value::Object(z))]))
}
