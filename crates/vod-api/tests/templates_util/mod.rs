//! Helpers shared by the template-group tests (`templates.rs`, `templates_errors.rs`): an
//! unthrottled harness, signed calls, error assertions, a template and add/get shortcuts.
#![allow(dead_code)]

use serde_json::{Value, json};

use crate::common::*;

/// AddTranscodeTemplateGroup allows 5 QPS; these tests call it faster.
pub async fn unthrottled() -> Harness {
    let mut config = vod_api::GatewayConfig::default();
    config.throttle.enabled = false;
    harness_with(config).await
}

pub async fn vod(h: &Harness, params: &[(&str, &str)]) -> Reply {
    call(&h.app, v1("POST", params, AK, SECRET, &[])).await
}

/// Asserts an error reply's status and code; returns its message.
#[track_caller]
pub fn expect_err(r: &Reply, status: u16, code: &str) -> String {
    assert_eq!(r.status, status, "{}", r.body);
    let body = r.json();
    assert_eq!(body["Code"], code, "{}", r.body);
    assert!(body["RequestId"].is_string());
    body["Message"].as_str().unwrap().to_string()
}

pub fn tpl(def: &str, format: &str) -> Value {
    json!({"TemplateName": format!("{def} {format}"), "Definition": def, "Container": {"Format": format},
           "Video": {"Codec": "H.264", "Bitrate": "900", "Width": "960", "Remove": "false", "Fps": "30"},
           "Audio": {"Codec": "AAC", "Bitrate": "64", "Samplerate": "44100"},
           "WatermarkIds": ["USER_DEFAULT_WATERMARK"]})
}

pub async fn add(h: &Harness, name: &str, list: &Value) -> String {
    let r = vod(
        h,
        &[
            ("Action", "AddTranscodeTemplateGroup"),
            ("Name", name),
            ("TranscodeTemplateList", &list.to_string()),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.json()["TranscodeTemplateGroupId"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 32);
    id
}

pub async fn get(h: &Harness, id: &str) -> Value {
    let r = vod(
        h,
        &[
            ("Action", "GetTranscodeTemplateGroup"),
            ("TranscodeTemplateGroupId", id),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["TranscodeTemplateGroup"].clone()
}
