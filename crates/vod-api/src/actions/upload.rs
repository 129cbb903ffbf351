//! Upload actions: VOD CreateUploadVideo and RefreshUploadVideo, ICE CreateUploadMedia and
//! RefreshUploadMedia, and the `UploadAddress` / `UploadAuth` they return.
//!
//! * `UploadAddress` = Base64(JSON `{"Endpoint","Bucket","FileName"[,"ObjectPrefix"]}`):
//!   the OSS listener's public URL (with scheme, so both OSS SDKs go path-style on an IP),
//!   the upload bucket and the media's source key (`sv/<id>/<id>.<ext>`).
//! * `UploadAuth` = Base64(JSON `{"AccessKeyId","AccessKeySecret","SecurityToken",
//!   "Expiration","ExpireUTCTime","Region"}`): an STS-style credential sealed with the
//!   cluster master key, scoped to that one object (an m3u8 upload: to its prefix), naming
//!   the media and the upload generation, valid `Expiration` seconds (default 3000). Any
//!   node verifies it without the database; the OSS endpoint also asks
//!   `UploadEvents::upload_allowed`, which refuses credentials of deleted or damaged media.
//!
//! A refresh issues a new credential for the same address; overwriting the source through
//! it replaces the source and queues the same jobs again (`UploadEvents::object_completed`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use vod_auth::sts::{self, StsClaims, StsScope};
use vod_core::model::media::{Media, MediaKey, MediaScope, MediaType, new_media_id, vod_media_type_of};
use vod_wire::timefmt::iso8601;
use vod_wire::{ApiError, Params};

use super::media::{
    check_app, check_cate, check_description, check_reference_id, check_title, check_user_data, load_media,
    media_error, normalize_tags, video_damaged, video_not_found,
};
use super::{ActionResult, Ctx, body};
use crate::authn::Principal;
use crate::error::core_to_api;

/// Base64 of a JSON value (standard alphabet, padded), as Alibaba encodes both fields.
fn b64_json(v: &Value) -> String {
    STANDARD.encode(serde_json::to_vec(v).unwrap_or_default())
}

/// `(UploadAddress, UploadAuth)` for `media` at its current upload generation.
pub(super) fn upload_credential(ctx: &Ctx<'_>, media: &Media) -> (String, String) {
    let config = ctx.state.media().config();
    let now_s = vod_core::now_ms() / 1000;
    let ttl = i64::try_from(config.credential_ttl_secs.max(1)).unwrap_or(3000);
    let principal = match &ctx.caller.principal {
        Principal::Root => "root".to_string(),
        Principal::User(u) => u.id.clone(),
    };
    let (key, prefix) = match &media.object_prefix {
        Some(p) => (None, Some(p.clone())),
        None => (Some(media.object_key.clone()), None),
    };
    let claims = StsClaims {
        v: sts::CLAIMS_VERSION,
        account_id: media.account_id.clone(),
        principal,
        expires_at: now_s + ttl,
        issued_at: now_s,
        scope: Some(StsScope {
            bucket: media.storage_location.clone(),
            key,
            prefix,
            media_id: Some(media.media_id.clone()),
            read_only: false,
        }),
        generation: Some(media.upload_generation),
    };
    let cred = sts::issue(&ctx.state.0.master_key, &claims);
    let mut address = json!({
        "Endpoint": config.endpoint(),
        "Bucket": media.storage_location,
        "FileName": media.object_key,
    });
    if let Some(p) = &media.object_prefix {
        address["ObjectPrefix"] = json!(p);
    }
    let auth = json!({
        "AccessKeyId": cred.access_key_id,
        "AccessKeySecret": cred.access_key_secret,
        "SecurityToken": cred.security_token,
        "Expiration": ttl.to_string(),
        "ExpireUTCTime": iso8601((now_s + ttl) * 1000),
        "Region": ctx.state.config().region_id,
    });
    (b64_json(&address), b64_json(&auth))
}

/// `StorageLocation`: empty or ours, else `InvalidStorage.NotFound`.
fn check_storage(ctx: &Ctx<'_>, location: Option<&str>) -> Result<(), ApiError> {
    match location.map(str::trim).filter(|l| !l.is_empty()) {
        Some(l) if !ctx.state.media().config().is_storage_location(l) => Err(ApiError::custom(
            "InvalidStorage.NotFound",
            404,
            format!("The specified StorageLocation {l} does not exist."),
        )),
        _ => Ok(()),
    }
}

fn bad_extension() -> ApiError {
    ApiError::custom(
        "InvalidFileName.Extension",
        400,
        "The file name extension of the specified FileName is not supported.",
    )
}

/// Issues a new credential for `media` unless it is damaged.
async fn reissue(ctx: &Ctx<'_>, media: &Media, not_found: &str) -> Result<(Media, String, String), ApiError> {
    if media.is_damaged() {
        return Err(video_damaged());
    }
    if media.object_key.is_empty() {
        return Err(ApiError::invalid_because(
            "MediaId",
            "The media was registered from an existing file and has no upload address.",
        ));
    }
    let media = match ctx.state.media().reissue_upload(media).await {
        Ok(m) => m,
        Err(vod_core::CoreError::NotFound { .. }) => return Err(video_not_found(not_found)),
        Err(e) => return Err(core_to_api(e)),
    };
    let (address, auth) = upload_credential(ctx, &media);
    Ok((media, address, auth))
}

// ---- VOD ------------------------------------------------------------------------------

pub async fn create_upload_video(ctx: &Ctx<'_>, p: &Params) -> ActionResult {
    let title = check_title("Title", p.required("Title")?, 128, false)?;
    let file_name = p.required("FileName")?.trim().to_string();
    let (media_type, ext) = vod_media_type_of(&file_name).ok_or_else(bad_extension)?;
    let declared_size = match p.opt_i64("FileSize")? {
        Some(s) if s < 0 => return Err(ApiError::invalid("FileSize")),
        s => s,
    };
    let description = check_description("Description", p.raw("Description").unwrap_or_default(), 1024, false)?;
    let tags = normalize_tags("Tags", p.raw("Tags").unwrap_or_default(), false)?;
    let cate_id = p.opt_i64("CateId")?;
    if let Some(c) = cate_id {
        check_cate(ctx, c).await?;
    }
    check_storage(ctx, p.get("StorageLocation"))?;
    let user_data = check_user_data(ctx, p.raw("UserData").unwrap_or_default())?;
    let reference_id = p.get("ReferenceId").map(|r| check_reference_id(r.trim())).transpose()?;
    let app_id = check_app(ctx, p).await?;
    super::templates::check_template_group(ctx, &app_id, p.get("TemplateGroupId").unwrap_or_default()).await?;
    let mut extra = serde_json::Map::new();
    for flag in ["EnableFirstFrameCover", "GenerateThumbnail"] {
        if let Some(v) = p.opt_bool(flag)? {
            extra.insert(flag.into(), Value::Bool(v));
        }
    }

    let (id, now) = new_media_id();
    let mut m = Media::new(
        id,
        ctx.caller.account_id.clone(),
        app_id,
        MediaScope::Vod,
        media_type,
        now,
    );
    m.title = title;
    m.description = description;
    m.tags = tags;
    m.cate_id = cate_id;
    m.cover_url = p.get("CoverURL").unwrap_or_default().trim().to_string();
    m.reference_id = reference_id;
    m.user_data = user_data;
    m.template_group_id = p.get("TemplateGroupId").unwrap_or_default().trim().to_string();
    m.workflow_id = p.get("WorkflowId").unwrap_or_default().trim().to_string();
    m.file_name = file_name;
    m.declared_size = declared_size;
    m.extra = Value::Object(extra);
    ctx.state.media().assign_storage(&mut m, &ext);
    ctx.state.store().create_media(&m).await.map_err(media_error)?;
    let (address, auth) = upload_credential(ctx, &m);
    Ok(body([
        ("VideoId", json!(m.media_id)),
        ("UploadAddress", json!(address)),
        ("UploadAuth", json!(auth)),
    ]))
}

pub async fn refresh_upload_video(ctx: &Ctx<'_>, p: &Params) -> ActionResult {
    const NOT_FOUND: &str = "The video not exist.";
    let media = load_media(ctx, p, "VideoId", NOT_FOUND).await?;
    let (media, address, auth) = reissue(ctx, &media, NOT_FOUND).await?;
    Ok(body([
        ("UploadAddress", json!(address)),
        ("VideoId", json!(media.media_id)),
        ("UploadAuth", json!(auth)),
    ]))
}

// ---- ICE ------------------------------------------------------------------------------

/// A JSON-object parameter (`FileInfo`, `MediaMetaData`, ...): absent → `None`.
pub(super) fn json_param(p: &Params, name: &str) -> Result<Option<serde_json::Map<String, Value>>, ApiError> {
    match p.get(name) {
        None => Ok(None),
        Some(raw) => match serde_json::from_str::<Value>(raw) {
            Ok(Value::Object(o)) => Ok(Some(o)),
            _ => Err(ApiError::invalid_because(name, "It must be a JSON object.")),
        },
    }
}

/// A string field of a JSON parameter (numbers are accepted as their text).
pub(super) fn json_str(o: &serde_json::Map<String, Value>, key: &str) -> Option<String> {
    match o.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// ICE `BusinessType` values.
pub(super) const BUSINESS_TYPES: &[&str] = &[
    "opening",
    "ending",
    "default",
    "cover",
    "subtitles",
    "font",
    "watermark",
    "general",
];

pub async fn create_upload_media(ctx: &Ctx<'_>, p: &Params) -> ActionResult {
    let info = json_param(p, "FileInfo")?.ok_or_else(|| ApiError::missing("FileInfo"))?;
    let media_type = match json_str(&info, "Type").as_deref().map(str::to_ascii_lowercase) {
        None => {
            return Err(ApiError::invalid_because("FileInfo", "FileInfo.Type is required."));
        }
        Some(t) => MediaType::parse(&t).ok_or_else(|| {
            ApiError::invalid_because("FileInfo", "FileInfo.Type must be video, image, audio, text or other.")
        })?,
    };
    let name =
        json_str(&info, "Name").ok_or_else(|| ApiError::invalid_because("FileInfo", "FileInfo.Name is required."))?;
    let ext = json_str(&info, "Ext")
        .map(|e| e.trim_start_matches('.').to_ascii_lowercase())
        .filter(|e| !e.is_empty() && e.len() <= 16 && e.bytes().all(|b| b.is_ascii_alphanumeric()))
        .ok_or_else(|| ApiError::invalid_because("FileInfo", "FileInfo.Ext must be a file name extension."))?;
    let declared_size = match info.get("Size") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                .filter(|s| *s >= 0)
                .ok_or_else(|| ApiError::invalid_because("FileInfo", "FileInfo.Size must be a number of bytes."))?,
        ),
    };

    let meta = json_param(p, "MediaMetaData")?.unwrap_or_default();
    let title = check_title(
        "MediaMetaData.Title",
        &json_str(&meta, "Title").unwrap_or_else(|| name.clone()),
        128,
        false,
    )?;
    let description = check_description(
        "MediaMetaData.Description",
        &json_str(&meta, "Description").unwrap_or_default(),
        1024,
        false,
    )?;
    let tags = normalize_tags(
        "MediaMetaData.Tags",
        &json_str(&meta, "Tags").unwrap_or_default(),
        false,
    )?;
    let cate_id = match meta.get("CateId") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                .ok_or_else(|| {
                    ApiError::invalid_because("MediaMetaData", "MediaMetaData.CateId must be an integer.")
                })?,
        ),
    };
    if let Some(c) = cate_id {
        check_cate(ctx, c).await?;
    }
    let business_type = json_str(&meta, "BusinessType").unwrap_or_else(|| "general".into());
    if !BUSINESS_TYPES.contains(&business_type.as_str()) {
        return Err(ApiError::invalid_because(
            "MediaMetaData",
            "MediaMetaData.BusinessType is not valid.",
        ));
    }

    let mut extra = serde_json::Map::new();
    if let Some(target) = json_param(p, "UploadTargetConfig")? {
        if let Some(t) = json_str(&target, "StorageType")
            && !t.eq_ignore_ascii_case("oss")
        {
            return Err(ApiError::invalid_because(
                "UploadTargetConfig",
                "StorageType must be oss.",
            ));
        }
        check_storage(ctx, json_str(&target, "StorageLocation").as_deref())?;
        extra.insert("UploadTargetConfig".into(), Value::Object(target));
    }
    let mut workflow_id = String::new();
    if let Some(post) = json_param(p, "PostProcessConfig")? {
        if let Some(t) = json_str(&post, "ProcessType")
            && !t.eq_ignore_ascii_case("workflow")
        {
            return Err(ApiError::invalid_because(
                "PostProcessConfig",
                "ProcessType must be Workflow.",
            ));
        }
        workflow_id = json_str(&post, "ProcessID")
            .or_else(|| json_str(&post, "WorkflowId"))
            .unwrap_or_default();
        extra.insert("PostProcessConfig".into(), Value::Object(post));
    }
    if let Some(d) = meta.get("DynamicMetaData").filter(|v| !v.is_null()) {
        extra.insert("DynamicMetaData".into(), d.clone());
    }
    if let Some(e) = p.get("EntityId") {
        extra.insert("EntityId".into(), json!(e));
    }
    let user_data = check_user_data(ctx, p.raw("UserData").unwrap_or_default())?;
    let app_id = check_app(ctx, p).await?;

    let (id, now) = new_media_id();
    let mut m = Media::new(
        id,
        ctx.caller.account_id.clone(),
        app_id,
        MediaScope::Ice,
        media_type,
        now,
    );
    m.title = title;
    m.description = description;
    m.tags = tags;
    m.cate_id = cate_id;
    m.cover_url = json_str(&meta, "CoverURL").unwrap_or_default();
    m.user_data = user_data;
    m.workflow_id = workflow_id;
    m.business_type = business_type;
    m.file_name = format!("{name}.{ext}");
    m.declared_size = declared_size;
    m.extra = Value::Object(extra);
    ctx.state.media().assign_storage(&mut m, &ext);
    ctx.state.store().create_media(&m).await.map_err(media_error)?;
    let (address, auth) = upload_credential(ctx, &m);
    let file_url = ctx.state.media().config().object_url(&m.object_key);
    Ok(body([
        ("MediaId", json!(m.media_id)),
        ("MediaURL", json!(file_url)),
        ("FileURL", json!(file_url)),
        ("UploadAddress", json!(address)),
        ("UploadAuth", json!(auth)),
    ]))
}

pub async fn refresh_upload_media(ctx: &Ctx<'_>, p: &Params) -> ActionResult {
    const NOT_FOUND: &str = "The media does not exist.";
    let id = p.required("MediaId")?.trim().to_string();
    let found = ctx
        .state
        .store()
        .find_media(&ctx.caller.account_id, MediaScope::Ice, &MediaKey::Id(id))
        .await
        .map_err(core_to_api)?
        .ok_or_else(|| video_not_found(NOT_FOUND))?;
    if !crate::authz::can_access_app(ctx.state, ctx.caller, ctx.product, ctx.action, &found.app_id).await? {
        return Err(vod_wire::codes::FORBIDDEN.into());
    }
    let (media, address, auth) = reissue(ctx, &found, NOT_FOUND).await?;
    Ok(body([
        ("MediaId", json!(media.media_id)),
        ("UploadAddress", json!(address)),
        ("UploadAuth", json!(auth)),
    ]))
}
