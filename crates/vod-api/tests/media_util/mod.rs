//! Helpers of the media tests: signed VOD/ICE calls, Base64 JSON decoding, a simulated OSS
//! endpoint (stores the object row and reports the completion like the OSS listener does),
//! and the callbacks-backed event planner the server installs.

#![allow(dead_code)]

use std::sync::Arc;

use base64::Engine as _;
use serde_json::Value;
pub use vod_callbacks::CallbackPlanner;
use vod_callbacks::CallbacksConfig;
use vod_core::model::media::Media;
use vod_core::model::{ObjectType, StoredObject};
use vod_core::uploads::{CompletedObject, UploadEvents};

use crate::common::*;

/// A V1 VOD call as the root account (JSON).
pub async fn vod(h: &Harness, params: &[(&str, &str)]) -> Reply {
    call(&h.app, v1("POST", params, AK, SECRET, &[])).await
}

/// A V1 VOD call asking for XML.
pub async fn vod_xml(h: &Harness, params: &[(&str, &str)]) -> Reply {
    call(&h.app, v1("POST", params, AK, SECRET, &[("Format", "XML")])).await
}

/// A V1 ICE call (Version 2020-11-09) as the root account.
pub async fn ice(h: &Harness, params: &[(&str, &str)]) -> Reply {
    call(&h.app, v1("POST", params, AK, SECRET, &[("Version", "2020-11-09")])).await
}

/// A V3 ICE call as the Tea SDK sends it.
pub async fn ice_v3(h: &Harness, action: &str, params: &[(&str, &str)]) -> Reply {
    call(&h.app, v3(action, "2020-11-09", params, SECRET, &nonce(), &now_iso())).await
}

/// Asserts an error reply's status and code.
#[track_caller]
pub fn assert_error(r: &Reply, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    let got = if r.content_type.starts_with("text/xml") {
        r.body
            .split("<Code>")
            .nth(1)
            .and_then(|s| s.split("</Code>").next())
            .unwrap_or_default()
            .to_string()
    } else {
        r.json()["Code"].as_str().unwrap_or_default().to_string()
    };
    assert_eq!(got, code, "{}", r.body);
}

/// Decodes a Base64 JSON field (UploadAddress / UploadAuth).
pub fn decode(b64: &str) -> Value {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("standard Base64");
    serde_json::from_slice(&bytes).expect("JSON")
}

/// CreateUploadVideo with `extra` parameters; returns (VideoId, address, auth).
pub async fn create_video(h: &Harness, extra: &[(&str, &str)]) -> (String, Value, Value) {
    let mut params = vec![
        ("Action", "CreateUploadVideo"),
        ("Title", "a video"),
        ("FileName", "movie.mp4"),
    ];
    for (k, v) in extra {
        params.retain(|(pk, _)| pk != k);
        params.push((k, v));
    }
    let r = vod(h, &params).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let j = r.json();
    (
        j["VideoId"].as_str().unwrap().to_string(),
        decode(j["UploadAddress"].as_str().unwrap()),
        decode(j["UploadAuth"].as_str().unwrap()),
    )
}

/// A fake lowercase MD5 for `seed`.
pub fn md5_of(seed: &str) -> String {
    let mut n: u128 = 0xcbf2_9ce4_8422_2325;
    for b in seed.bytes() {
        n = (n ^ u128::from(b)).wrapping_mul(0x0100_0000_0000_0000_0000_0000_013b);
    }
    format!("{n:032x}")
}

/// What the OSS endpoint does once an object is durable: store its row, report it.
pub async fn upload(
    h: &Harness,
    bucket: &str,
    key: &str,
    size: u64,
    seed: &str,
    media_id: Option<&str>,
) -> CompletedObject {
    let account = h.state.store().first_account().await.unwrap().unwrap();
    let md5 = md5_of(seed);
    let object = StoredObject {
        bucket: bucket.into(),
        key: key.into(),
        object_id: vod_core::ids::hex_id(),
        account_id: account.id.clone(),
        size,
        etag: md5.to_ascii_uppercase(),
        md5_hex: Some(md5.clone()),
        crc64: 0,
        content_type: "video/mp4".into(),
        object_type: ObjectType::Normal,
        blob: Some(format!("blobs/{}", vod_core::ids::hex_id())),
        part_count: 0,
        media_id: media_id.map(str::to_string),
        created_at: vod_core::now_ms(),
        notified: false,
    };
    h.state.store().put_object(&object).await.unwrap();
    let done = CompletedObject {
        account_id: account.id,
        bucket: bucket.into(),
        key: key.into(),
        size,
        md5_hex: md5.clone(),
        etag: md5.to_ascii_uppercase(),
        crc64: 0,
        content_type: Some("video/mp4".into()),
        media_id: media_id.map(str::to_string),
    };
    h.state.media().object_completed(&done).await.unwrap();
    done
}

/// Uploads the source named by a decoded UploadAddress.
pub async fn upload_to(h: &Harness, address: &Value, size: u64, seed: &str, media_id: &str) -> CompletedObject {
    upload(
        h,
        address["Bucket"].as_str().unwrap(),
        address["FileName"].as_str().unwrap(),
        size,
        seed,
        Some(media_id),
    )
    .await
}

/// The media record.
pub async fn media(h: &Harness, id: &str) -> Media {
    h.state
        .store()
        .get_media_by_id(id)
        .await
        .unwrap()
        .expect("media exists")
}

/// Queued jobs of `kind` whose payload names `media_id` (as `media_id`, or as `VideoId` /
/// `MediaId` of a delivered event).
pub async fn jobs_for(h: &Harness, kind: &str, media_id: &str) -> Vec<vod_core::model::Job> {
    let all = h.state.store().list_jobs(None, Some(kind), 1000).await.unwrap();
    all.into_iter()
        .filter(|j| {
            j.payload["media_id"] == media_id
                || j.payload["event"]["VideoId"] == media_id
                || j.payload["event"]["MediaId"] == media_id
        })
        .collect()
}

/// A harness whose media library plans events with the callbacks crate.
pub async fn media_harness() -> Harness {
    let h = harness().await;
    let planner = CallbackPlanner::new(h.state.0.store.clone(), CallbacksConfig::default());
    h.state.media().set_event_planner(Arc::new(planner));
    h
}

/// UserData that sends events to an override URL and carries an Extend.
pub const USER_DATA: &str =
    r#"{"MessageCallback":{"CallbackURL":"http://cb.example/notify"},"Extend":{"localId":"x1"}}"#;
