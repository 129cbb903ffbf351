//! Event-notification settings per app: SetMessageCallback, GetMessageCallback,
//! DeleteMessageCallback (VOD). Delivery itself lives in `vod-callbacks`.
//!
//! SetMessageCallback updates only the parameters it is given (a first call starts from
//! CallbackType HTTP, EventTypeList `ALL`, AuthSwitch off). Only HTTP settings deliver;
//! MNS settings are stored and reported but nothing is sent to a queue.

use serde_json::{Map, Value, json};
use vod_core::model::app::DEFAULT_APP_ID;
use vod_core::model::callback::{ALL_EVENT_TYPES, valid_auth_key};
use vod_core::model::{CallbackType, MessageCallbackConfig};
use vod_core::now_ms;
use vod_wire::{ApiError, Params, codes};

use super::{ActionResult, Ctx, body};
use crate::authz::can_access_app;
use crate::error::core_to_api;

const MAX_URL_BYTES: usize = 256;
const MAX_EVENT_TYPES_BYTES: usize = 1024;

/// The app named by `AppId` (default `app-1000000`), which must exist and be accessible.
async fn target_app(ctx: &Ctx<'_>, p: &Params) -> Result<String, ApiError> {
    let app_id = p.get("AppId").unwrap_or(DEFAULT_APP_ID).to_string();
    let found = ctx
        .state
        .store()
        .get_app(&ctx.caller.account_id, &app_id)
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

/// `http(s)://host...`, at most 256 bytes, no whitespace.
fn callback_url(url: &str) -> Result<String, ApiError> {
    let url = url.trim();
    if url.len() > MAX_URL_BYTES {
        return Err(ApiError::invalid_because(
            "CallbackURL",
            "It must be at most 256 bytes.",
        ));
    }
    let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"));
    let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or_default());
    match host {
        Some(h) if !h.is_empty() && !url.chars().any(char::is_whitespace) => Ok(url.to_string()),
        _ => Err(ApiError::invalid_because(
            "CallbackURL",
            "It must be an http:// or https:// URL.",
        )),
    }
}

/// `ALL`, or a comma-separated list of event type names (normalized: trimmed, deduplicated,
/// `ALL` wins); empty turns every notification off.
fn event_type_list(raw: &str) -> Result<String, ApiError> {
    if raw.len() > MAX_EVENT_TYPES_BYTES {
        return Err(ApiError::invalid_because("EventTypeList", "It is too long."));
    }
    let mut items: Vec<&str> = Vec::new();
    for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if item.len() > 64 || !item.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(ApiError::invalid_because(
                "EventTypeList",
                &format!("{item:?} is not an event type."),
            ));
        }
        if item.eq_ignore_ascii_case(ALL_EVENT_TYPES) {
            return Ok(ALL_EVENT_TYPES.to_string());
        }
        if !items.contains(&item) {
            items.push(item);
        }
    }
    Ok(items.join(","))
}

fn text(p: &Params, name: &str, max: usize) -> Result<Option<String>, ApiError> {
    match p.raw(name) {
        Some(v) if v.len() > max => Err(ApiError::invalid_because(
            name,
            &format!("It must be at most {max} bytes."),
        )),
        Some(v) => Ok(Some(v.trim().to_string())),
        None => Ok(None),
    }
}

pub async fn set_message_callback(ctx: &Ctx<'_>, p: &Params) -> ActionResult {
    let app_id = target_app(ctx, p).await?;
    let callback_type = match p.get("CallbackType") {
        Some(t) => Some(CallbackType::parse(t.trim()).ok_or_else(|| ApiError::invalid("CallbackType"))?),
        None => None,
    };
    let url = p.get("CallbackURL").map(callback_url).transpose()?;
    let events = p.raw("EventTypeList").map(event_type_list).transpose()?;
    let auth_switch = match p.get("AuthSwitch").map(str::trim) {
        Some(s) if s.eq_ignore_ascii_case("on") => Some(true),
        Some(s) if s.eq_ignore_ascii_case("off") => Some(false),
        Some(_) => {
            return Err(ApiError::invalid_because("AuthSwitch", "It must be on or off."));
        }
        None => None,
    };
    let auth_key = p.raw("AuthKey").map(str::trim).map(str::to_string);
    if let Some(k) = auth_key.as_deref().filter(|k| !k.is_empty())
        && !valid_auth_key(k)
    {
        return Err(ApiError::invalid_because(
            "AuthKey",
            "It must be at most 32 characters and contain upper-case letters, lower-case letters and digits.",
        ));
    }
    let mns_endpoint = text(p, "MnsEndpoint", 256)?;
    let mns_queue_name = text(p, "MnsQueueName", 256)?;

    let store = ctx.state.store();
    let now = now_ms();
    let mut cfg = match store
        .get_message_callback(&ctx.caller.account_id, &app_id)
        .await
        .map_err(core_to_api)?
    {
        Some(existing) => existing,
        None => MessageCallbackConfig {
            account_id: ctx.caller.account_id.clone(),
            app_id: app_id.clone(),
            callback_type: CallbackType::Http,
            callback_url: String::new(),
            event_type_list: ALL_EVENT_TYPES.into(),
            auth_switch: false,
            auth_key: String::new(),
            mns_endpoint: String::new(),
            mns_queue_name: String::new(),
            created_at: now,
            modified_at: now,
        },
    };
    if let Some(t) = callback_type {
        cfg.callback_type = t;
    }
    if let Some(u) = url {
        cfg.callback_url = u;
    }
    if let Some(e) = events {
        cfg.event_type_list = e;
    }
    match (auth_switch, &auth_key) {
        (Some(on), _) => cfg.auth_switch = on,
        // Giving a key without the switch turns signing on.
        (None, Some(k)) if !k.is_empty() => cfg.auth_switch = true,
        _ => {}
    }
    if let Some(k) = auth_key {
        cfg.auth_key = k;
    }
    if let Some(e) = mns_endpoint {
        cfg.mns_endpoint = e;
    }
    if let Some(q) = mns_queue_name {
        cfg.mns_queue_name = q;
    }
    match cfg.callback_type {
        CallbackType::Http if cfg.callback_url.is_empty() => {
            return Err(ApiError::missing("CallbackURL"));
        }
        CallbackType::Mns if cfg.mns_endpoint.is_empty() => {
            return Err(ApiError::missing("MnsEndpoint"));
        }
        CallbackType::Mns if cfg.mns_queue_name.is_empty() => {
            return Err(ApiError::missing("MnsQueueName"));
        }
        _ => {}
    }
    if cfg.auth_switch && cfg.auth_key.is_empty() {
        return Err(ApiError::missing("AuthKey"));
    }
    cfg.modified_at = now;
    store.put_message_callback(&cfg).await.map_err(core_to_api)?;
    Ok(body([]))
}

fn settings_json(cfg: &MessageCallbackConfig) -> Value {
    let mut m = Map::new();
    m.insert("AppId".into(), json!(cfg.app_id));
    m.insert("CallbackType".into(), json!(cfg.callback_type.as_str()));
    let optional = [
        ("CallbackURL", &cfg.callback_url),
        ("AuthKey", &cfg.auth_key),
        ("MnsEndpoint", &cfg.mns_endpoint),
        ("MnsQueueName", &cfg.mns_queue_name),
    ];
    for (k, v) in optional {
        if !v.is_empty() {
            m.insert(k.into(), json!(v));
        }
    }
    m.insert("EventTypeList".into(), json!(cfg.event_type_list));
    m.insert("AuthSwitch".into(), json!(if cfg.auth_switch { "on" } else { "off" }));
    Value::Object(m)
}

pub async fn get_message_callback(ctx: &Ctx<'_>, p: &Params) -> ActionResult {
    let app_id = target_app(ctx, p).await?;
    let found = ctx
        .state
        .store()
        .get_message_callback(&ctx.caller.account_id, &app_id)
        .await
        .map_err(core_to_api)?;
    let settings = match &found {
        Some(cfg) => settings_json(cfg),
        None => json!({"AppId": app_id}),
    };
    Ok(body([("MessageCallback", settings)]))
}

pub async fn delete_message_callback(ctx: &Ctx<'_>, p: &Params) -> ActionResult {
    let app_id = target_app(ctx, p).await?;
    ctx.state
        .store()
        .delete_message_callback(&ctx.caller.account_id, &app_id)
        .await
        .map_err(core_to_api)?;
    Ok(body([]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert!(callback_url("http://example.com/cb").is_ok());
        assert!(callback_url("https://127.0.0.1:8080").is_ok());
        for bad in ["ftp://x/y", "http://", "example.com/cb", "http://a b/c", ""] {
            assert_eq!(callback_url(bad).unwrap_err().code, "InvalidParameter", "{bad}");
        }
        assert!(callback_url(&format!("http://x/{}", "a".repeat(250))).is_err());
    }

    #[test]
    fn event_lists() {
        assert_eq!(event_type_list("ALL").unwrap(), "ALL");
        assert_eq!(event_type_list("all").unwrap(), "ALL");
        assert_eq!(
            event_type_list(" FileUploadComplete , TranscodeComplete,FileUploadComplete").unwrap(),
            "FileUploadComplete,TranscodeComplete"
        );
        assert_eq!(event_type_list("FileUploadComplete,ALL").unwrap(), "ALL");
        assert_eq!(event_type_list("").unwrap(), "");
        assert!(event_type_list("File Upload").is_err());
        assert!(event_type_list("a;b").is_err());
    }
}
