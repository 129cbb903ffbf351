//! GetPlayInfo: the play streams of a `Normal` video, filtered by Formats, Definition and
//! StreamType, the newest per (definition, format) unless ResultType=Multiple, with URLs on
//! the playback edge (`OutputType=cdn`, Type-A signed when the edge has an auth key) or
//! presigned on the OSS listener (`OutputType=oss`, a read-only temporary credential
//! covering the media's key space).

use serde_json::{Map, Value, json};
use vod_auth::sts::{self, StsClaims, StsScope};
use vod_core::model::media::object_prefix_of;
use vod_core::model::stream::{DEFINITION_ORDER, select_streams};
use vod_core::model::{Media, MediaStatus, MediaStream, MediaType};
use vod_core::service::media::MediaConfig;
use vod_wire::timefmt::iso8601;
use vod_wire::{ApiError, Params};

use super::media::load_media;
use super::{ActionResult, Ctx, body};
use crate::error::core_to_api;

/// Formats GetPlayInfo accepts in `Formats`.
const FORMATS: &[&str] = &["mp4", "m3u8", "mp3", "flv", "mpd", "webm", "m4a", "ogg"];

/// `Forbidden.IllegalStatus` (403) for a media that cannot be played yet.
pub(super) fn illegal_status(status: MediaStatus) -> ApiError {
    ApiError::custom(
        "Forbidden.IllegalStatus",
        403,
        format!("Status of the video is illegal. Current Status is {}.", status.as_str()),
    )
}

/// How play URLs of one request are made.
pub(super) enum UrlMode<'a> {
    /// On the edge; Type-A signed to expire `auth_timeout` seconds from now when an auth key
    /// is configured.
    Cdn { config: &'a MediaConfig, auth_timeout: i64 },
    /// Presigned on the OSS listener with a read-only credential for the media's keys.
    Oss {
        config: &'a MediaConfig,
        ak: String,
        secret: String,
        token: String,
        expires: i64,
    },
}

impl<'a> UrlMode<'a> {
    pub(super) fn new(ctx: &Ctx<'a>, media: &Media, oss: bool, auth_timeout: i64) -> Self {
        let config = ctx.state.media().config();
        if !oss {
            return Self::Cdn { config, auth_timeout };
        }
        let now = vod_core::now_ms() / 1000;
        let claims = StsClaims {
            v: sts::CLAIMS_VERSION,
            account_id: media.account_id.clone(),
            principal: "play".into(),
            expires_at: now + auth_timeout,
            issued_at: now,
            scope: Some(StsScope {
                bucket: media.storage_location.clone(),
                key: None,
                prefix: Some(object_prefix_of(media.scope, &media.media_id)),
                media_id: None,
                read_only: true,
            }),
            generation: None,
        };
        let cred = sts::issue(&ctx.state.0.master_key, &claims);
        Self::Oss {
            config,
            ak: cred.access_key_id,
            secret: cred.access_key_secret,
            token: cred.security_token,
            expires: now + auth_timeout,
        }
    }

    pub(super) fn url(&self, bucket: &str, key: &str) -> String {
        match self {
            Self::Cdn { config, auth_timeout } => {
                let url = config.play_url(bucket, key);
                if config.play_auth_key.is_empty() {
                    return url;
                }
                let path = url.splitn(4, '/').nth(3).map(|p| format!("/{p}")).unwrap_or_default();
                let ts = vod_core::now_ms() / 1000 + auth_timeout - config.play_auth_ttl_secs;
                let rand = vod_core::ids::hex_id();
                let auth = vod_auth::url_auth::sign_type_a(&path, ts, &rand, "0", &config.play_auth_key);
                format!("{url}?auth_key={auth}")
            }
            Self::Oss {
                config,
                ak,
                secret,
                token,
                expires,
            } => vod_auth::oss_v1::presign_get(config.endpoint(), bucket, key, ak, secret, Some(token), *expires),
        }
    }
}

fn play_info(s: &MediaStream, url: String) -> Value {
    let created = iso8601(s.created_at);
    json!({
        "PlayURL": url,
        "Definition": s.definition,
        "Format": s.format,
        "StreamType": s.stream_type,
        "Bitrate": s.bitrate,
        "Duration": s.duration,
        "Fps": s.fps,
        "Width": s.width,
        "Height": s.height,
        "Size": s.size,
        "Encrypt": 0,
        "EncryptType": "",
        "EncryptMode": "",
        "Specification": s.specification,
        "NarrowBandType": "0",
        "JobId": s.job_id,
        "WatermarkId": "",
        "Status": "Normal",
        "CreationTime": created,
        "ModificationTime": created,
        "HDRType": "",
        "BitDepth": 8,
        "CodecName": s.codec_name,
        "JobType": 1,
        "JobExt": "",
    })
}

fn video_base(m: &Media) -> Value {
    json!({
        "VideoId": m.media_id,
        "Title": m.title,
        "Duration": m.duration.map(|d| format!("{d:.3}")).unwrap_or_default(),
        "CoverURL": m.cover_url,
        "Status": m.status.as_str(),
        "CreationTime": iso8601(m.created_at),
        "MediaType": if m.media_type == MediaType::Audio { "audio" } else { "video" },
        "StorageClass": "Standard",
        "DanMuURL": "",
    })
}

/// A comma list of which every item must be one of `allowed` (case-insensitive).
fn checked_list(p: &Params, name: &str, allowed: &[&str]) -> Result<Vec<String>, ApiError> {
    let items = p.list(name);
    if let Some(bad) = items
        .iter()
        .find(|i| !allowed.iter().any(|a| a.eq_ignore_ascii_case(i)))
    {
        return Err(ApiError::invalid_because(name, &format!("'{bad}' is not supported.")));
    }
    Ok(items)
}

pub async fn get_play_info(ctx: &Ctx<'_>, p: &Params) -> ActionResult {
    let formats = checked_list(p, "Formats", FORMATS)?;
    let definitions = checked_list(p, "Definition", DEFINITION_ORDER)?;
    let stream_types = checked_list(p, "StreamType", &["video", "audio"])?;
    let oss = p.one_of("OutputType", &["cdn", "oss"], Some("cdn"))? == Some("oss");
    let single = p.one_of("ResultType", &["Single", "Multiple"], Some("Single"))? == Some("Single");
    let auth_timeout = p.i64_in(
        "AuthTimeout",
        1,
        if oss { 604_800 } else { 2_592_000 },
        if oss { 3600 } else { 1800 },
    )?;
    for json_param in ["PlayConfig", "ReAuthInfo"] {
        if let Some(v) = p.get(json_param)
            && !matches!(serde_json::from_str::<Value>(v), Ok(Value::Object(_)))
        {
            return Err(ApiError::invalid_because(json_param, "It must be a JSON object."));
        }
    }
    let media = load_media(ctx, p, "VideoId", "The video does not exist.").await?;
    if media.status != MediaStatus::Normal {
        return Err(illegal_status(media.status));
    }
    let streams = ctx
        .state
        .store()
        .list_streams(&media.media_id)
        .await
        .map_err(core_to_api)?;
    let picked = select_streams(&streams, &formats, &definitions, &stream_types, single);
    if picked.is_empty() {
        let or_all = |v: &[String]| if v.is_empty() { "all".to_string() } else { v.join(", ") };
        return Err(ApiError::custom(
            "InvalidVideo.NoneStream",
            404,
            format!(
                "The video has no stream to play for the request parameter 'Formats: {}, Definition: {}, StreamType: {}'.",
                or_all(&formats),
                or_all(&definitions),
                or_all(&stream_types)
            ),
        ));
    }
    let mode = UrlMode::new(ctx, &media, oss, auth_timeout);
    let list: Vec<Value> = picked
        .iter()
        .map(|s| play_info(s, mode.url(&s.bucket, &s.object_key)))
        .collect();
    let mut wrapped = Map::new();
    wrapped.insert("PlayInfo".into(), Value::Array(list));
    Ok(body([
        ("VideoBase", video_base(&media)),
        ("PlayInfoList", Value::Object(wrapped)),
    ]))
}
