//! Helpers of the refresh tests: an unthrottled harness, a `Normal` video with published
//! streams, RAM users, and running the stored `cdn.refresh` jobs (no edge is registered, so
//! refreshes succeed at once and preloads fail on their last attempt).

#![allow(dead_code)]

use std::sync::Arc;

use serde_json::Value;
use vod_api::GatewayConfig;
use vod_core::model::media::MediaStatus;
use vod_core::model::refresh::JOB_CDN_REFRESH;
use vod_core::model::{JobStatus, MediaStream, Publication};
use vod_jobs::handler::tokio_util_like::CancelFlag;
use vod_jobs::{JobContext, JobHandler};

use crate::common::*;
use crate::media_util::create_video;

/// A harness without QPS limits (the tests call faster than 50/s).
pub async fn refresh_harness() -> Harness {
    let mut config = GatewayConfig::default();
    config.throttle.enabled = false;
    config.upload.play_base_url = "http://edge.test:8090".into();
    harness_with(config).await
}

pub async fn vod_as(h: &Harness, params: &[(&str, &str)], ak: &str, secret: &str) -> Reply {
    call(&h.app, v1("POST", params, ak, secret, &[])).await
}

pub async fn vod_v3(h: &Harness, action: &str, params: &[(&str, &str)]) -> Reply {
    call(&h.app, v3(action, "2017-03-21", params, SECRET, &nonce(), &now_iso())).await
}

fn stream(media_id: &str, account_id: &str, def: &str, format: &str, at: i64, segments: usize) -> MediaStream {
    MediaStream {
        stream_id: vod_core::ids::hex_id(),
        media_id: media_id.into(),
        account_id: account_id.into(),
        job_id: format!("job{at}"),
        definition: def.into(),
        format: format.into(),
        stream_type: if format == "mp3" { "audio" } else { "video" }.into(),
        bucket: "outin-vodstack".into(),
        object_key: format!("sv/{media_id}/{at}/{def}.{format}"),
        segments: (0..segments)
            .map(|i| format!("sv/{media_id}/{at}/{def}/seg-{i:05}.ts"))
            .collect(),
        bitrate: "500".into(),
        duration: "10.0".into(),
        fps: "25".into(),
        width: 640,
        height: 360,
        size: 1000,
        specification: format!("H264.{def}"),
        codec_name: "h264".into(),
        source_generation: 0,
        created_at: at,
    }
}

/// A `Normal` video (in `app`) with streams: LD mp4 from two runs (at 10 and 20), LD m3u8
/// with 7 segments, SD mp4, SQ mp3 (audio).
pub async fn video_with_streams(h: &Harness, app: &str) -> String {
    let (id, _, _) = create_video(h, &[("AppId", app)]).await;
    let account = h.state.store().first_account().await.unwrap().unwrap().id;
    let streams = vec![
        stream(&id, &account, "LD", "mp4", 20, 0),
        stream(&id, &account, "LD", "m3u8", 20, 7),
        stream(&id, &account, "SD", "mp4", 20, 0),
        stream(&id, &account, "LD", "mp4", 10, 0),
        stream(&id, &account, "SQ", "mp3", 10, 0),
    ];
    let p = Publication {
        media_id: id.clone(),
        source_generation: 0,
        streams,
        snapshot_sets: Vec::new(),
        status: Some((Vec::new(), MediaStatus::Normal)),
        cover_url: None,
        snapshots: None,
        now_ms: vod_core::now_ms(),
    };
    assert!(h.state.store().publish(&p, &[]).await.unwrap());
    id
}

/// The play URL of a stream object of `video_with_streams`.
pub fn play_url(id: &str, tail: &str) -> String {
    format!("http://edge.test:8090/outin-vodstack/sv/{id}/{tail}")
}

/// The URLs the tasks of a media refresh record name, in order.
pub async fn planned_urls(h: &Harness, job_id: &str, media_id: &str) -> Vec<String> {
    let account = h.state.store().first_account().await.unwrap().unwrap().id;
    let recs = h
        .state
        .store()
        .media_refresh_jobs(&account, job_id, Some(media_id))
        .await
        .unwrap();
    assert_eq!(recs.len(), 1, "one record for {media_id}");
    h.state
        .store()
        .refresh_tasks_of_batch(&recs[0].batch_id)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.object_path)
        .collect()
}

/// Runs every queued `cdn.refresh` job once as attempt `attempt`; returns how many ran.
pub async fn run_refresh_jobs(h: &Harness, attempt: i64) -> usize {
    let cdn = vod_cdn::Cdn::new(
        h.state.0.store.clone(),
        h.state.media().config().clone(),
        vod_callbacks::CallbacksConfig::default(),
        vod_cdn::CdnConfig::default(),
        "secret",
    );
    let handler = vod_cdn::refresh::RefreshHandler(Arc::clone(&cdn));
    let jobs = h
        .state
        .store()
        .list_jobs(Some(JobStatus::Queued), Some(JOB_CDN_REFRESH), 1000)
        .await
        .unwrap();
    for job in &jobs {
        let ctx = JobContext {
            worker_id: "test".into(),
            attempt,
            cancelled: CancelFlag::default(),
        };
        // Outside the runtime the job stays queued: a finished one is cancelled so the next
        // call skips it; a retried one stays for the next attempt.
        if handler.run(job, &ctx).await.is_ok() {
            h.state.store().cancel_job(&job.id).await.unwrap();
        }
    }
    jobs.len()
}

/// A RAM user of the root account with `policy`; returns its (AccessKeyId, secret).
pub async fn ram_user(h: &Harness, name: &str, policy: &str) -> (String, String) {
    let store = h.state.store();
    let account = store.first_account().await.unwrap().unwrap();
    let user = vod_core::service::identity::create_user(store, &account.id, name, policy)
        .await
        .unwrap();
    let key = vod_core::service::identity::new_key(&account.id, Some(&user.id));
    store.create_access_key(&key).await.unwrap();
    (key.id, key.secret)
}

/// A new app; returns its id.
pub async fn new_app(h: &Harness, name: &str) -> String {
    let r = call(
        &h.app,
        v1(
            "POST",
            &[("Action", "CreateAppInfo"), ("AppName", name)],
            AK,
            SECRET,
            &[],
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["AppId"].as_str().unwrap().to_string()
}

/// A string field of a JSON body.
pub fn s(v: &Value, k: &str) -> String {
    v[k].as_str()
        .unwrap_or_else(|| panic!("{k} is not a string in {v}"))
        .to_string()
}
