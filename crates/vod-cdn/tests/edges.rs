//! The `cdn.refresh` job against real edges on 127.0.0.1 over a real object store: refresh
//! makes the next fetch a miss that serves the new bytes on every edge, preload with slices
//! warms the playlist and its first segments without a client fetch, per-URL failures,
//! unreachable edges (retried, then failed), idempotent re-runs, and the planned
//! SubmitMediaRefreshComplete delivery.

mod common;

use common::*;
use serde_json::Value;
use vod_core::model::JobStatus;
use vod_core::model::refresh::{
    MediaRefreshJob, MediaRefreshStatus, RefreshObjectType, RefreshTaskStatus, RefreshTaskType, plan_tasks, refresh_job,
};

const CALLBACK_UD: &str = r#"{"MessageCallback":{"CallbackURL":"http://127.0.0.1:9/cb"},"Extend":"ext-1"}"#;

async fn record(w: &World, batch: &str) -> MediaRefreshJob {
    w.store.media_refresh_of_batch(batch).await.unwrap().unwrap()
}

/// The SubmitMediaRefreshComplete bodies planned so far.
async fn events(w: &World) -> Vec<Value> {
    w.store
        .list_jobs(None, Some("callback.http"), 100)
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.payload["event"].clone())
        .filter(|e| e["EventType"] == "SubmitMediaRefreshComplete")
        .collect()
}

#[tokio::test]
async fn refresh_purges_every_edge_and_the_next_fetch_serves_new_bytes() {
    let w = World::new(2).await;
    let cdn = w.cdn(|_| {});
    let v1 = bytes(200_000, 1);
    w.put("sv/m/LD.mp4", v1.clone()).await;
    for i in 0..2 {
        assert_eq!(w.fetch(i, "sv/m/LD.mp4").await.0, "MISS");
        assert_eq!(w.fetch(i, "sv/m/LD.mp4").await, ("HIT".into(), v1.clone().into()));
    }
    // The source is replaced: the edges keep serving the copy they hold.
    let v2 = bytes(150_000, 2);
    w.put("sv/m/LD.mp4", v2.clone()).await;
    assert_eq!(w.fetch(1, "sv/m/LD.mp4").await.1, v1);

    let url = w.url("sv/m/LD.mp4");
    let (job_id, batch) = w
        .submit_media(RefreshTaskType::Refresh, std::slice::from_ref(&url), CALLBACK_UD)
        .await;
    let result = w.run(&cdn, &batch, 1).await.unwrap();
    assert_eq!(result, serde_json::json!({"tasks": 1, "ok": 1, "edges": 2}));
    for i in 0..2 {
        assert_eq!(
            w.fetch(i, "sv/m/LD.mp4").await,
            ("MISS".into(), v2.clone().into()),
            "edge {i} fetches the new version"
        );
    }

    let r = record(&w, &batch).await;
    assert_eq!(r.job_id, job_id);
    assert_eq!(r.status, MediaRefreshStatus::Success);
    assert_eq!(r.success_play_urls, vec![url.clone()]);
    let tasks = w.store.refresh_tasks_of_batch(&batch).await.unwrap();
    assert_eq!(r.task_ids, vec![tasks[0].task_id.clone()]);
    assert_eq!((tasks[0].status, tasks[0].process), (RefreshTaskStatus::Complete, 100));

    let ev = events(&w).await;
    assert_eq!(ev.len(), 1, "one SubmitMediaRefreshComplete planned");
    let e = &ev[0];
    assert_eq!(e["Status"], "success");
    assert_eq!(e["MediaRefreshJobId"], job_id.as_str());
    assert_eq!(e["MediaId"], r.media_id.as_str());
    assert_eq!(e["TaskType"], "refresh");
    assert_eq!(e["SuccessPlayUrls"], url.as_str());
    assert_eq!(e["TaskIds"], tasks[0].task_id.as_str());
    assert_eq!(e["FilterPolicy"], r.filter_policy.as_str());
    assert_eq!(e["Extend"], "ext-1");
    assert!(e.get("ErrorCode").is_none());

    // A re-run (the job delivered twice) changes nothing and plans no second event.
    let again = w.run(&cdn, &batch, 2).await.unwrap();
    assert_eq!(again["already_finished"], true);
    assert_eq!(events(&w).await.len(), 1);
}

#[tokio::test]
async fn preload_with_slices_warms_playlist_and_first_segments_on_every_edge() {
    let w = World::new(2).await;
    let cdn = w.cdn(|_| {});
    let mut playlist = String::from("#EXTM3U\n#EXT-X-TARGETDURATION:2\n");
    for i in 0..7 {
        w.put(&format!("sv/m/LD/seg-{i:05}.ts"), bytes(50_000, i)).await;
        playlist.push_str(&format!("#EXTINF:2.0,\nseg-{i:05}.ts\n"));
    }
    playlist.push_str("#EXT-X-ENDLIST\n");
    w.put("sv/m/LD.m3u8", playlist.clone()).await;
    let mut urls = vec![w.url("sv/m/LD.m3u8")];
    urls.extend((0..3).map(|i| w.url(&format!("sv/m/LD/seg-{i:05}.ts"))));

    let (_, batch) = w.submit_media(RefreshTaskType::Preload, &urls, "").await;
    let result = w.run(&cdn, &batch, 1).await.unwrap();
    assert_eq!(result["ok"], 4);
    for i in 0..2 {
        assert_eq!(
            w.fetch(i, "sv/m/LD.m3u8").await,
            ("HIT".into(), playlist.clone().into())
        );
        for s in 0..3 {
            assert_eq!(
                w.fetch(i, &format!("sv/m/LD/seg-{s:05}.ts")).await,
                ("HIT".into(), bytes(50_000, s).into()),
                "segment {s} on edge {i}"
            );
        }
        assert_eq!(
            w.fetch(i, "sv/m/LD/seg-00003.ts").await.0,
            "MISS",
            "only the first 3 segments"
        );
    }
    let r = record(&w, &batch).await;
    assert_eq!(r.status, MediaRefreshStatus::Success);
    assert_eq!(r.success_play_urls, urls);
    assert_eq!(r.task_ids.len(), 4);
}

#[tokio::test]
async fn a_missing_object_fails_its_url_only() {
    let w = World::new(1).await;
    let cdn = w.cdn(|_| {});
    w.put("sv/m/HD.mp4", bytes(1000, 3)).await;
    let urls = vec![w.url("sv/m/HD.mp4"), w.url("sv/m/gone.mp4")];
    let (_, batch) = w.submit_media(RefreshTaskType::Preload, &urls, CALLBACK_UD).await;
    let result = w.run(&cdn, &batch, 1).await.unwrap();
    assert_eq!((result["tasks"].as_u64(), result["ok"].as_u64()), (Some(2), Some(1)));
    let r = record(&w, &batch).await;
    assert_eq!(r.status, MediaRefreshStatus::Fail);
    assert_eq!(r.error_code, "PreloadFailed");
    assert!(r.error_message.contains("gone.mp4"), "{}", r.error_message);
    assert_eq!(r.success_play_urls, vec![urls[0].clone()]);
    let tasks = w.store.refresh_tasks_of_batch(&batch).await.unwrap();
    assert_eq!(
        r.task_ids,
        vec![tasks[0].task_id.clone()],
        "one task id per successful URL"
    );
    assert_eq!(tasks[1].status, RefreshTaskStatus::Failed);
    assert!(tasks[1].description.contains("edge-0"), "{}", tasks[1].description);
    let ev = events(&w).await;
    assert_eq!(ev[0]["Status"], "fail");
    assert_eq!(ev[0]["ErrorCode"], "PreloadFailed");
    assert_eq!(ev[0]["TaskType"], "preload");
}

#[tokio::test]
async fn an_unreachable_edge_is_retried_then_its_urls_fail() {
    let w = World::new(1).await;
    let cdn = w.cdn(|_| {});
    // A node that registered but is gone (nothing listens on port 1).
    vod_cdn::heartbeat::register(w.store.as_ref(), "edge-dead", "http://127.0.0.1:1")
        .await
        .unwrap();
    w.put("sv/m/SD.mp4", bytes(1000, 4)).await;
    assert_eq!(w.fetch(0, "sv/m/SD.mp4").await.0, "MISS");
    let url = w.url("sv/m/SD.mp4");
    let (_, batch) = w
        .submit_media(RefreshTaskType::Refresh, std::slice::from_ref(&url), "")
        .await;
    let job = w.store.get_job(&batch).await.unwrap().unwrap();
    assert_eq!(job.max_attempts, 3);
    match w.run(&cdn, &batch, 1).await {
        Err(vod_jobs::JobError::Retry { message, .. }) => assert!(message.contains("edge-dead"), "{message}"),
        other => panic!("expected a retry, got {other:?}"),
    }
    assert_eq!(record(&w, &batch).await.status, MediaRefreshStatus::Processing);
    // The live edge was purged anyway.
    assert_eq!(w.fetch(0, "sv/m/SD.mp4").await.0, "MISS");
    // The last attempt reports the URL as failed.
    let result = w.run(&cdn, &batch, 3).await.unwrap();
    assert_eq!(result["ok"], 0);
    let r = record(&w, &batch).await;
    assert_eq!(
        (r.status, r.error_code.as_str()),
        (MediaRefreshStatus::Fail, "RefreshFailed")
    );
    assert!(r.success_play_urls.is_empty() && r.task_ids.is_empty());

    // Once the dead node stops heartbeating it no longer counts.
    w.store.remove_edge_node("edge-dead").await.unwrap();
    let (_, batch) = w
        .submit_media(RefreshTaskType::Refresh, std::slice::from_ref(&url), "")
        .await;
    w.run(&cdn, &batch, 1).await.unwrap();
    assert_eq!(record(&w, &batch).await.status, MediaRefreshStatus::Success);
}

#[tokio::test]
async fn no_stream_and_no_edge_cases() {
    let w = World::new(0).await;
    let cdn = w.cdn(|_| {});
    // A filter that selected nothing: fail with NoneStream, the event still goes out.
    let (_, batch) = w.submit_media(RefreshTaskType::Refresh, &[], CALLBACK_UD).await;
    w.run(&cdn, &batch, 1).await.unwrap();
    let r = record(&w, &batch).await;
    assert_eq!(
        (r.status, r.error_code.as_str()),
        (MediaRefreshStatus::Fail, "InvalidVideo.NoneStream")
    );
    assert_eq!(events(&w).await[0]["ErrorCode"], "InvalidVideo.NoneStream");

    // No edge at all: a refresh has nothing to purge (success), a preload waits for an
    // edge and fails after its last attempt.
    let url = "http://127.0.0.1:8090/outin-cdn/x.mp4".to_string();
    let (_, batch) = w
        .submit_media(RefreshTaskType::Refresh, std::slice::from_ref(&url), "")
        .await;
    w.run(&cdn, &batch, 1).await.unwrap();
    assert_eq!(record(&w, &batch).await.status, MediaRefreshStatus::Success);
    let (_, batch) = w
        .submit_media(RefreshTaskType::Preload, std::slice::from_ref(&url), "")
        .await;
    assert!(matches!(
        w.run(&cdn, &batch, 1).await,
        Err(vod_jobs::JobError::Retry { .. })
    ));
    w.run(&cdn, &batch, 3).await.unwrap();
    let r = record(&w, &batch).await;
    assert_eq!(
        (r.status, r.error_code.as_str()),
        (MediaRefreshStatus::Fail, "PreloadFailed")
    );
    assert!(r.error_message.contains("no live edge"), "{}", r.error_message);
}

#[tokio::test]
async fn object_batches_purge_files_and_directories() {
    let w = World::new(2).await;
    let cdn = w.cdn(|_| {});
    for k in ["sv/a/1.ts", "sv/a/2.ts", "sv/b/1.ts"] {
        w.put(k, bytes(3000, 9)).await;
        for i in 0..2 {
            w.fetch(i, k).await;
        }
    }
    let batch = vod_core::ids::hex_id();
    let items = vec![
        (
            format!("{}/{BUCKET}/sv/a/", w.edges[0].base),
            RefreshObjectType::Directory,
        ),
        (w.url("sv/b/1.ts"), RefreshObjectType::File),
    ];
    let tasks = plan_tasks(ACCOUNT, &batch, &items, vod_core::now_ms());
    w.store
        .submit_refresh(&[], &tasks, &[refresh_job(&batch, 3)])
        .await
        .unwrap();
    let result = w.run(&cdn, &batch, 1).await.unwrap();
    assert_eq!(result, serde_json::json!({"tasks": 2, "ok": 2, "edges": 2}));
    for i in 0..2 {
        for k in ["sv/a/1.ts", "sv/a/2.ts", "sv/b/1.ts"] {
            assert_eq!(w.fetch(i, k).await.0, "MISS", "{k} on edge {i}");
        }
    }
    let stored = w.store.refresh_tasks_of_batch(&batch).await.unwrap();
    assert!(stored.iter().all(|t| t.status == RefreshTaskStatus::Complete));
    assert_eq!(w.run(&cdn, &batch, 2).await.unwrap()["already_finished"], true);
    assert!(
        w.store
            .list_jobs(Some(JobStatus::Queued), Some("callback.http"), 10)
            .await
            .unwrap()
            .is_empty()
    );
}
