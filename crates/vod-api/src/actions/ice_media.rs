//! ICE media actions: GetMediaInfo and RegisterMediaInfo (CreateUploadMedia and
//! RefreshUploadMedia live with the other upload actions).
//!
//! RegisterMediaInfo accepts `oss://bucket/key`, `http(s)://…` and `vod://<VideoId>`:
//! * an object of our upload bucket (`oss://<bucket>/<key>` or the FileURL form
//!   `<endpoint>/<bucket>/<key>`) becomes the media's source; when the object exists it is
//!   taken at once (UploadSucc, `media.probe` queued), otherwise it is taken when its upload
//!   completes;
//! * `vod://<VideoId>` shares the VOD media's source (that media must exist in the
//!   caller's VOD library) and its descriptive fields fill the ones not given;
//! * any other URL is recorded as the source URL and queued for the probe.
//!
//! A duplicate InputURL returns the media already registered for it (`Overwrite=true`
//! deletes that one and registers anew); a repeated `ClientToken` returns its media.

use serde_json::{Map, Value, json};
use vod_core::model::media::{Media, MediaKey, MediaScope, MediaType, any_media_type_of, new_media_id};
use vod_core::now_ms;
use vod_wire::timefmt::iso8601;
use vod_wire::{ApiError, Params, codes};

use super::media::{
    cate_name, check_app, check_cate, check_description, check_reference_id, check_title, check_user_data, media_error,
    normalize_tags, video_not_found,
};
use super::upload::{BUSINESS_TYPES, json_param};
use super::{ActionResult, Ctx, body};
use crate::authz::can_access_app;
use crate::error::core_to_api;

const NOT_FOUND: &str = "The media does not exist.";

/// Where an InputURL points.
enum Input {
    /// An object of our upload bucket.
    Ours { bucket: String, key: String },
    /// A VOD media of the caller.
    Vod(String),
    /// Anything else (another bucket, an external URL).
    External,
}

fn parse_input(ctx: &Ctx<'_>, url: &str) -> Result<Input, ApiError> {
    let config = ctx.state.media().config();
    if let Some(id) = url.strip_prefix("vod://") {
        if id.is_empty() || id.contains('/') {
            return Err(ApiError::invalid_because(
                "InputURL",
                "A VOD InputURL is vod://<VideoId>.",
            ));
        }
        return Ok(Input::Vod(id.to_string()));
    }
    if let Some(rest) = url.strip_prefix("oss://") {
        let (bucket, key) = rest
            .split_once('/')
            .filter(|(b, k)| !b.is_empty() && !k.is_empty())
            .ok_or_else(|| ApiError::invalid_because("InputURL", "An OSS InputURL is oss://<bucket>/<key>."))?;
        return Ok(if bucket == config.bucket {
            Input::Ours {
                bucket: bucket.into(),
                key: key.into(),
            }
        } else {
            Input::External
        });
    }
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(ApiError::invalid_because(
            "InputURL",
            "It must be an oss://, http(s):// or vod:// URL.",
        ));
    }
    let ours = format!("{}/{}/", config.endpoint(), config.bucket);
    match url.strip_prefix(&ours) {
        Some(key) if !key.is_empty() => Ok(Input::Ours {
            bucket: config.bucket.clone(),
            key: key.split(['?', '#']).next().unwrap_or(key).to_string(),
        }),
        _ => Ok(Input::External),
    }
}

pub async fn register_media_info(ctx: &Ctx<'_>, p: &Params) -> ActionResult {
    let input_url = p.required("InputURL")?.trim().to_string();
    let scope = MediaScope::Ice;
    let account = ctx.caller.account_id.clone();
    let store = ctx.state.store();
    let client_token = p.get("ClientToken").map(|t| t.trim().to_string());
    if let Some(t) = &client_token {
        if t.len() > 64 {
            return Err(ApiError::invalid_because(
                "ClientToken",
                "It must be at most 64 characters.",
            ));
        }
        let found = store
            .find_media(&account, scope, &MediaKey::ClientToken(t.clone()))
            .await
            .map_err(core_to_api)?;
        if let Some(m) = found {
            return Ok(body([("MediaId", json!(m.media_id))]));
        }
    }
    let input = parse_input(ctx, &input_url)?;
    let vod_source = match &input {
        Input::Vod(id) => Some(
            store
                .find_media(&account, MediaScope::Vod, &MediaKey::Id(id.clone()))
                .await
                .map_err(core_to_api)?
                .ok_or_else(|| ApiError::invalid_because("InputURL", &format!("The VOD media {id} does not exist.")))?,
        ),
        _ => None,
    };

    let media_type = match p.one_of("MediaType", &["image", "video", "audio", "text"], None)? {
        Some(t) => MediaType::parse(t).unwrap_or(MediaType::Other),
        None => match &vod_source {
            Some(v) => v.media_type,
            None => any_media_type_of(input_url.split(['?', '#']).next().unwrap_or_default()),
        },
    };
    let business_type = p
        .one_of("BusinessType", BUSINESS_TYPES, None)?
        .unwrap_or("general")
        .to_string();
    if media_type == MediaType::Text && !matches!(business_type.as_str(), "subtitles" | "font") {
        return Err(ApiError::invalid_because(
            "BusinessType",
            "Text media must be subtitles or font.",
        ));
    }
    let default_title = vod_source
        .as_ref()
        .map(|v| v.title.clone())
        .unwrap_or_else(|| iso8601(now_ms()));
    let title = check_title(
        "Title",
        p.get("Title").map(str::trim).unwrap_or(&default_title),
        128,
        true,
    )?;
    let description = match p.raw("Description") {
        Some(d) => check_description("Description", d, 1024, true)?,
        None => vod_source.as_ref().map(|v| v.description.clone()).unwrap_or_default(),
    };
    let cover_url = match p.get("CoverURL") {
        Some(c) if c.len() > 128 => {
            return Err(ApiError::invalid_because("CoverURL", "It must be at most 128 bytes."));
        }
        Some(c) => c.trim().to_string(),
        None => vod_source.as_ref().map(|v| v.cover_url.clone()).unwrap_or_default(),
    };
    let tags = match p.raw("MediaTags") {
        Some(t) => normalize_tags("MediaTags", t, true)?,
        None => vod_source.as_ref().map(|v| v.tags.clone()).unwrap_or_default(),
    };
    let cate_id = p.opt_i64("CateId")?;
    if let Some(c) = cate_id {
        check_cate(ctx, c).await?;
    }
    let user_data = match p.raw("UserData") {
        Some(u) if u.len() > 1024 => {
            return Err(ApiError::invalid_because("UserData", "It must be at most 1024 bytes."));
        }
        Some(u) => check_user_data(ctx, u)?,
        None => String::new(),
    };
    let reference_id = p.get("ReferenceId").map(|r| check_reference_id(r.trim())).transpose()?;
    let overwrite = p.opt_bool("Overwrite")?.unwrap_or(false);
    let mut extra = Map::new();
    if let Some(cfg) = json_param(p, "RegisterConfig")? {
        extra.insert("RegisterConfig".into(), Value::Object(cfg));
    }
    if let Some(t) = p.get("SmartTagTemplateId") {
        extra.insert("SmartTagTemplateId".into(), json!(t));
    }
    let app_id = check_app(ctx, p).await?;

    // A URL registers once: the earlier media comes back, or goes with Overwrite=true.
    let existing = store
        .find_media(&account, scope, &MediaKey::InputUrl(input_url.clone()))
        .await
        .map_err(core_to_api)?;
    if let Some(old) = existing {
        if !overwrite {
            return Ok(body([("MediaId", json!(old.media_id))]));
        }
        if !can_access_app(ctx.state, ctx.caller, ctx.product, ctx.action, &old.app_id).await? {
            return Err(codes::FORBIDDEN.into());
        }
        ctx.state.media().delete(&old).await.map_err(core_to_api)?;
    }

    let (id, now) = new_media_id();
    let mut m = Media::new(id, account, app_id, scope, media_type, now);
    m.title = title;
    m.description = description;
    m.tags = tags;
    m.cate_id = cate_id;
    m.cover_url = cover_url;
    m.reference_id = reference_id;
    m.user_data = user_data;
    m.workflow_id = p.get("WorkflowId").unwrap_or_default().trim().to_string();
    m.business_type = business_type;
    m.input_url = input_url.clone();
    m.client_token = client_token;
    m.file_name = input_url
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .split(['?', '#'])
        .next()
        .unwrap_or_default()
        .to_string();
    m.extra = Value::Object(extra);
    match &input {
        Input::Ours { bucket, key } => {
            m.storage_location = bucket.clone();
            m.object_key = key.clone();
        }
        Input::Vod(_) => {
            if let Some(v) = &vod_source {
                m.storage_location = v.storage_location.clone();
                m.object_key = v.object_key.clone();
                m.file_name = v.file_name.clone();
                m.snapshots = v.snapshots.clone();
            }
        }
        Input::External => {}
    }
    store.create_media(&m).await.map_err(media_error)?;

    let service = ctx.state.media();
    match (&input, &vod_source) {
        (Input::Ours { bucket, key }, _) => {
            if let Some(obj) = store.get_object(bucket, key).await.map_err(core_to_api)? {
                let url = service.config().object_url(key);
                let size = i64::try_from(obj.size).ok();
                service
                    .adopt_source(&m, &obj.object_id, size, obj.md5_hex.clone(), &url)
                    .await
                    .map_err(core_to_api)?;
            }
        }
        (Input::Vod(_), Some(v)) if v.source_generation > 0 => {
            let version = v
                .source_object_id
                .clone()
                .unwrap_or_else(|| format!("vod:{}", v.media_id));
            service
                .adopt_source(&m, &version, v.size, v.md5.clone(), &v.file_url)
                .await
                .map_err(core_to_api)?;
        }
        (Input::External, _) => {
            service
                .adopt_source(&m, &format!("url:{input_url}"), None, None, &input_url)
                .await
                .map_err(core_to_api)?;
        }
        _ => {}
    }
    Ok(body([("MediaId", json!(m.media_id))]))
}

fn put(o: &mut Map<String, Value>, k: &str, v: impl Into<Value>) {
    o.insert(k.into(), v.into());
}

fn put_nonempty(o: &mut Map<String, Value>, k: &str, v: &str) {
    if !v.is_empty() {
        put(o, k, v);
    }
}

/// The source file entry of `FileInfoList`.
fn file_info(ctx: &Ctx<'_>, m: &Media) -> Value {
    let mut b = Map::new();
    let url = if !m.file_url.is_empty() {
        m.file_url.clone()
    } else if !m.object_key.is_empty() {
        ctx.state.media().config().object_url(&m.object_key)
    } else {
        m.input_url.clone()
    };
    put(&mut b, "FileName", m.file_name.as_str());
    put(
        &mut b,
        "FileStatus",
        if m.source_generation > 0 { "Normal" } else { "Init" },
    );
    put(&mut b, "FileType", "source_file");
    if let Some(s) = m.size {
        put(&mut b, "FileSize", s.to_string());
    }
    put(&mut b, "FileUrl", url);
    put(&mut b, "Region", ctx.state.config().region_id.as_str());
    if let Some(ext) = vod_core::model::media::extension_of(&m.file_name) {
        put(&mut b, "FormatName", ext);
    }
    if let Some(d) = m.duration {
        put(&mut b, "Duration", d.to_string());
    }
    if let Some(v) = &m.bitrate {
        put(&mut b, "Bitrate", v.as_str());
    }
    if let Some(w) = m.width {
        put(&mut b, "Width", w.to_string());
    }
    if let Some(h) = m.height {
        put(&mut b, "Height", h.to_string());
    }
    put(&mut b, "CreateTime", iso8601(m.uploaded_at.unwrap_or(m.created_at)));
    put(&mut b, "ModifiedTime", iso8601(m.modified_at));
    let streams = |k: &str| {
        m.streams
            .as_ref()
            .and_then(|s| s.get(k))
            .cloned()
            .unwrap_or_else(|| json!([]))
    };
    json!({
        "FileBasicInfo": Value::Object(b),
        "VideoStreamInfoList": streams("VideoStreamList"),
        "AudioStreamInfoList": streams("AudioStreamList"),
        "SubtitleStreamInfoList": streams("SubtitleStreamList"),
    })
}

pub async fn get_media_info(ctx: &Ctx<'_>, p: &Params) -> ActionResult {
    p.one_of("OutputType", &["oss", "cdn"], None)?;
    if let Some(t) = p.opt_i64("AuthTimeout")?
        && t < 1
    {
        return Err(ApiError::invalid("AuthTimeout"));
    }
    if p.get("ReturnDetailedInfo").is_some() {
        json_param(p, "ReturnDetailedInfo")?;
    }
    let store = ctx.state.store();
    let account = &ctx.caller.account_id;
    let found = match (p.get("MediaId"), p.get("InputURL")) {
        (Some(id), _) => store
            .find_media(account, MediaScope::Ice, &MediaKey::Id(id.trim().into()))
            .await
            .map_err(core_to_api)?,
        (None, Some(url)) => {
            let url = url.trim();
            match store
                .find_media(account, MediaScope::Ice, &MediaKey::InputUrl(url.into()))
                .await
                .map_err(core_to_api)?
            {
                Some(m) => Some(m),
                None => match parse_input(ctx, url)? {
                    Input::Ours { bucket, key } => store
                        .find_media_by_object(&bucket, &key)
                        .await
                        .map_err(core_to_api)?
                        .filter(|m| &m.account_id == account && m.scope == MediaScope::Ice),
                    _ => None,
                },
            }
        }
        (None, None) => return Err(ApiError::missing("MediaId")),
    };
    let m = found.ok_or_else(|| video_not_found(NOT_FOUND))?;
    if !can_access_app(ctx.state, ctx.caller, ctx.product, ctx.action, &m.app_id).await? {
        return Err(codes::FORBIDDEN.into());
    }
    let name = cate_name(ctx, &m).await?;
    let input = if !m.input_url.is_empty() {
        m.input_url.clone()
    } else {
        ctx.state.media().config().object_url(&m.object_key)
    };
    let mut b = Map::new();
    put(&mut b, "MediaId", m.media_id.as_str());
    put(&mut b, "InputURL", input);
    put(&mut b, "MediaType", m.media_type.as_str());
    put(&mut b, "BusinessType", m.business_type.as_str());
    put(
        &mut b,
        "Source",
        if m.input_url.starts_with("vod://") {
            "vod"
        } else {
            "oss"
        },
    );
    put(&mut b, "Title", m.title.as_str());
    put_nonempty(&mut b, "Description", &m.description);
    if let Some(c) = m.cate_id {
        put(&mut b, "CateId", c);
        if let Some(n) = name {
            put(&mut b, "CateName", n);
        }
    }
    put_nonempty(&mut b, "MediaTags", &m.tags);
    put_nonempty(&mut b, "CoverURL", &m.cover_url);
    put_nonempty(&mut b, "UserData", &m.user_data);
    if !m.snapshots.is_empty() {
        put(
            &mut b,
            "Snapshots",
            serde_json::to_string(&m.snapshots).unwrap_or_default(),
        );
    }
    put(&mut b, "Status", m.status.ice_str());
    put(&mut b, "CreateTime", iso8601(m.created_at));
    put(&mut b, "ModifiedTime", iso8601(m.modified_at));
    if let Some(r) = &m.reference_id {
        put(&mut b, "ReferenceId", r.as_str());
    }
    put(&mut b, "Biz", "IMS");
    put(
        &mut b,
        "UploadSource",
        if m.input_url.is_empty() { "general" } else { "register" },
    );
    let files = if m.object_key.is_empty() && m.input_url.is_empty() {
        Vec::new()
    } else {
        vec![file_info(ctx, &m)]
    };
    let info = json!({
        "MediaId": m.media_id,
        "MediaBasicInfo": Value::Object(b),
        "FileInfoList": files,
    });
    Ok(body([("MediaInfo", info)]))
}
