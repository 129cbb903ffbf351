//! Upload completion (`UploadEvents::object_completed`) and revocation
//! (`UploadEvents::upload_allowed`): the state moves to UploadSucc with size and MD5, the
//! FileUploadComplete delivery (with UserData's Extend) and the processing jobs are stored
//! in the same transaction, reports are idempotent, overwrites through a refreshed
//! credential run everything again, m3u8 segments and stale reports are ignored.

mod common;
mod media_util;

use std::sync::Arc;

use async_trait::async_trait;
use media_util::*;
use vod_core::CoreResult;
use vod_core::model::NewJob;
use vod_core::model::media::{Media, MediaStatus};
use vod_core::ports::MetaStore;
use vod_core::service::media::MediaEventPlanner;
use vod_core::uploads::{CompletedObject, UploadEvents};

#[tokio::test]
async fn completion_moves_state_and_enqueues_jobs_once() {
    let h = media_harness().await;
    let (id, addr, _) = create_video(&h, &[("UserData", USER_DATA)]).await;
    let done = upload_to(&h, &addr, 1_439_213, "source-1", &id).await;

    let m = media(&h, &id).await;
    assert_eq!(m.status, MediaStatus::UploadSucc);
    assert_eq!(
        (m.size, m.md5.as_deref()),
        (Some(1_439_213), Some(done.md5_hex.as_str()))
    );
    assert_eq!(
        m.file_url,
        format!("http://127.0.0.1:9000/outin-vodstack/sv/{id}/{id}.mp4")
    );
    assert_eq!((m.source_generation, m.uploaded_at.is_some()), (1, true));

    let events = jobs_for(&h, "callback.http", &id).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0].payload;
    assert_eq!(e["url"], "http://cb.example/notify");
    assert_eq!(e["event"]["EventType"], "FileUploadComplete");
    assert_eq!(e["event"]["VideoId"], id.as_str());
    assert_eq!(e["event"]["Size"], 1_439_213);
    assert_eq!(e["event"]["FileUrl"], m.file_url.as_str());
    assert_eq!(
        e["event"]["Extend"], r#"{"localId":"x1"}"#,
        "UserData's Extend travels with the event"
    );
    let probe = jobs_for(&h, "media.probe", &id).await;
    let transcode = jobs_for(&h, "media.transcode", &id).await;
    assert_eq!(
        (probe.len(), transcode.len()),
        (0, 1),
        "the default template group transcodes (the transcode job probes first)"
    );
    assert_eq!(
        transcode[0].payload,
        serde_json::json!({"v": 1, "media_id": id, "generation": 1})
    );
    assert_eq!(
        transcode[0].status.as_str(),
        "queued",
        "no worker in this harness: the job waits in the queue"
    );

    // The same object reported again (e.g. after a crash): nothing changes, nothing is queued.
    h.state.media().object_completed(&done).await.unwrap();
    assert_eq!(media(&h, &id).await.source_generation, 1);
    assert_eq!(jobs_for(&h, "callback.http", &id).await.len(), 1);
    assert_eq!(jobs_for(&h, "media.transcode", &id).await.len(), 1);

    let r = vod(&h, &[("Action", "GetVideoInfo"), ("VideoId", &id)]).await;
    assert_eq!(r.json()["Video"]["Status"], "UploadSucc");
}

#[tokio::test]
async fn overwrite_through_a_refreshed_credential_runs_the_jobs_again() {
    let h = media_harness().await;
    let (id, addr, _) = create_video(&h, &[("UserData", USER_DATA)]).await;
    upload_to(&h, &addr, 100, "first", &id).await;
    assert!(
        h.state
            .store()
            .set_media_status(&id, 1, &[], MediaStatus::Normal, vod_core::now_ms())
            .await
            .unwrap()
    );

    let r = vod(&h, &[("Action", "RefreshUploadVideo"), ("VideoId", &id)]).await;
    assert_eq!(r.status, 200);
    assert_eq!(decode(r.json()["UploadAddress"].as_str().unwrap()), addr);
    upload_to(&h, &addr, 200, "second", &id).await;

    let m = media(&h, &id).await;
    assert_eq!(
        (m.media_id.as_str(), m.status, m.size, m.source_generation),
        (id.as_str(), MediaStatus::UploadSucc, Some(200), 2)
    );
    assert_eq!(m.md5.as_deref(), Some(md5_of("second").as_str()));
    let transcodes = jobs_for(&h, "media.transcode", &id).await;
    let mut generations: Vec<i64> = transcodes
        .iter()
        .map(|j| j.payload["generation"].as_i64().unwrap())
        .collect();
    generations.sort();
    assert_eq!(generations, [1, 2]);
    assert!(jobs_for(&h, "media.probe", &id).await.is_empty());
    assert_eq!(
        jobs_for(&h, "callback.http", &id).await.len(),
        2,
        "FileUploadComplete again"
    );
}

#[tokio::test]
async fn no_transcode_group_only_probes_and_m3u8_segments_do_not_complete() {
    let h = media_harness().await;
    let (id, addr, _) = create_video(&h, &[("TemplateGroupId", "VOD_NO_TRANSCODE")]).await;
    upload_to(&h, &addr, 10, "x", &id).await;
    assert_eq!(jobs_for(&h, "media.probe", &id).await.len(), 1);
    assert!(jobs_for(&h, "media.transcode", &id).await.is_empty());
    assert!(
        jobs_for(&h, "callback.http", &id).await.is_empty(),
        "no callback configured: no delivery"
    );

    let (hls, addr, _) = create_video(&h, &[("FileName", "play.m3u8")]).await;
    let prefix = addr["ObjectPrefix"].as_str().unwrap().to_string();
    upload(
        &h,
        "outin-vodstack",
        &format!("{prefix}seg-0.ts"),
        500,
        "seg0",
        Some(&hls),
    )
    .await;
    upload(&h, "outin-vodstack", &format!("{prefix}seg-1.ts"), 500, "seg1", None).await;
    assert_eq!(
        media(&h, &hls).await.status,
        MediaStatus::Uploading,
        "segments alone do not complete the upload"
    );
    upload_to(&h, &addr, 120, "playlist", &hls).await;
    let m = media(&h, &hls).await;
    assert_eq!((m.status, m.size), (MediaStatus::UploadSucc, Some(120)));
}

#[tokio::test]
async fn objects_of_no_media_and_stale_reports_are_ignored() {
    let h = media_harness().await;
    upload(&h, "outin-vodstack", "plain/file.bin", 5, "plain", None).await;
    upload(&h, "other-bucket", "sv/x/x.mp4", 5, "other", None).await;

    let (id, addr, _) = create_video(&h, &[]).await;
    let first = CompletedObject {
        account_id: media(&h, &id).await.account_id,
        bucket: "outin-vodstack".into(),
        key: addr["FileName"].as_str().unwrap().into(),
        size: 11,
        md5_hex: md5_of("v1"),
        etag: md5_of("v1").to_ascii_uppercase(),
        crc64: 0,
        content_type: None,
        media_id: Some(id.clone()),
    };
    // Version 2 is already stored when the report of version 1 arrives: it is skipped.
    upload(&h, "outin-vodstack", &first.key, 22, "v2", Some(&id)).await;
    h.state.media().object_completed(&first).await.unwrap();
    let m = media(&h, &id).await;
    assert_eq!((m.size, m.source_generation), (Some(22), 1));

    // An object of another account at the media's key is not the media's.
    let mut foreign = first.clone();
    foreign.account_id = "someone-else".into();
    foreign.etag = md5_of("v2").to_ascii_uppercase();
    foreign.size = 22;
    h.state.media().object_completed(&foreign).await.unwrap();
    assert_eq!(media(&h, &id).await.source_generation, 1);
}

#[tokio::test]
async fn upload_allowed_follows_deletion_damage_and_generations() {
    let h = media_harness().await;
    let (id, addr, _) = create_video(&h, &[]).await;
    let account = media(&h, &id).await.account_id;
    let events = h.state.media();
    assert!(events.upload_allowed(&account, &id, Some(1)).await.unwrap());
    assert!(events.upload_allowed(&account, &id, None).await.unwrap());
    assert!(
        !events.upload_allowed(&account, &id, Some(2)).await.unwrap(),
        "a generation not issued yet"
    );
    assert!(!events.upload_allowed("another-account", &id, Some(1)).await.unwrap());
    assert!(!events.upload_allowed(&account, "no-such-media", None).await.unwrap());
    vod(&h, &[("Action", "RefreshUploadVideo"), ("VideoId", &id)]).await;
    assert!(events.upload_allowed(&account, &id, Some(2)).await.unwrap());
    assert!(
        events.upload_allowed(&account, &id, Some(1)).await.unwrap(),
        "older credentials stay valid until they expire"
    );

    upload_to(&h, &addr, 0, "empty", &id).await;
    assert!(
        !events.upload_allowed(&account, &id, Some(2)).await.unwrap(),
        "damaged media take no uploads"
    );

    let (id, _, _) = create_video(&h, &[]).await;
    assert!(events.upload_allowed(&account, &id, Some(1)).await.unwrap());
    assert_eq!(
        vod(&h, &[("Action", "DeleteVideo"), ("VideoIds", &id)]).await.status,
        200
    );
    assert!(!events.upload_allowed(&account, &id, Some(1)).await.unwrap());
}

/// A planner whose FileUploadComplete job reuses an existing job id, so storing it fails.
struct Colliding {
    store: Arc<dyn MetaStore>,
    taken: String,
}

#[async_trait]
impl MediaEventPlanner for Colliding {
    fn check_user_data(&self, _: &str) -> CoreResult<()> {
        Ok(())
    }

    async fn file_upload_complete(&self, _: &Media, _: i64, _: &str) -> CoreResult<Vec<NewJob>> {
        let _ = &self.store;
        let mut job = NewJob::new("callback.http", serde_json::json!({"v": 1}), 1);
        job.id = self.taken.clone();
        Ok(vec![job])
    }

    async fn delete_media_complete(&self, _: &Media) -> CoreResult<Vec<NewJob>> {
        Ok(Vec::new())
    }
}

#[tokio::test]
async fn state_change_and_jobs_commit_together() {
    let h = media_harness().await;
    let store = h.state.0.store.clone();
    let existing = NewJob::new("test.other", serde_json::json!({"v": 1}), 1);
    store.enqueue(&existing).await.unwrap();
    h.state.media().set_event_planner(Arc::new(Colliding {
        store: store.clone(),
        taken: existing.id.clone(),
    }));

    let (id, addr, _) = create_video(&h, &[]).await;
    let account = media(&h, &id).await.account_id;
    let object = CompletedObject {
        account_id: account,
        bucket: "outin-vodstack".into(),
        key: addr["FileName"].as_str().unwrap().into(),
        size: 9,
        md5_hex: md5_of("atomic"),
        etag: md5_of("atomic").to_ascii_uppercase(),
        crc64: 0,
        content_type: None,
        media_id: Some(id.clone()),
    };
    let err = h.state.media().object_completed(&object).await.unwrap_err();
    assert!(
        matches!(err, vod_core::CoreError::AlreadyExists { kind: "Job", .. }),
        "{err:?}"
    );
    let m = media(&h, &id).await;
    assert_eq!(
        (m.status, m.source_generation, m.size),
        (MediaStatus::Uploading, 0, None),
        "rolled back with the jobs"
    );
    assert!(jobs_for(&h, "media.transcode", &id).await.is_empty());

    // With a working planner the retry (the OSS endpoint reports again) goes through.
    let planner = CallbackPlanner::new(store.clone(), vod_callbacks::CallbacksConfig::default());
    h.state.media().set_event_planner(Arc::new(planner));
    h.state.media().object_completed(&object).await.unwrap();
    assert_eq!(media(&h, &id).await.status, MediaStatus::UploadSucc);
    assert_eq!(jobs_for(&h, "media.transcode", &id).await.len(), 1);
}

#[tokio::test]
async fn a_credential_refreshed_on_another_node_is_accepted_at_once() {
    let h = media_harness().await;
    let (id, _, _) = create_video(&h, &[]).await;
    let account = media(&h, &id).await.account_id;
    assert!(
        h.state.media().upload_allowed(&account, &id, Some(1)).await.unwrap(),
        "caches generation 1"
    );
    // Another node refreshes: only the database changes, this node's cache does not.
    h.state
        .store()
        .reissue_upload(&account, vod_core::model::MediaScope::Vod, &id)
        .await
        .unwrap()
        .unwrap();
    assert!(h.state.media().upload_allowed(&account, &id, Some(2)).await.unwrap());
    assert!(!h.state.media().upload_allowed(&account, &id, Some(3)).await.unwrap());
}
