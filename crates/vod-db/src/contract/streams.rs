//! Contract cases for `StreamRepo`: a publication is guarded by the source generation and
//! stores streams, snapshot sets, status, cover (unless one is set), snapshot URLs and its
//! jobs all or nothing; lists are newest first; deleting the media removes its rows.

use std::sync::Arc;

use serde_json::json;
use vod_core::model::media::{MediaPatch, MediaScope, MediaStatus};
use vod_core::model::{MediaStream, NewJob, Publication, SnapshotSet};
use vod_core::ports::MetaStore;

use super::media::media;
use super::{account, unique};

fn stream(media_id: &str, account_id: &str, def: &str, format: &str, at: i64) -> MediaStream {
    MediaStream {
        stream_id: vod_core::ids::hex_id(),
        media_id: media_id.into(),
        account_id: account_id.into(),
        job_id: unique("job"),
        definition: def.into(),
        format: format.into(),
        stream_type: "video".into(),
        bucket: "outin-test".into(),
        object_key: format!("sv/{media_id}/{def}.{format}"),
        segments: if format == "m3u8" {
            vec![format!("sv/{media_id}/{def}/seg-00000.ts")]
        } else {
            Vec::new()
        },
        bitrate: "812.5".into(),
        duration: "2.0".into(),
        fps: "25".into(),
        width: 640,
        height: 360,
        size: 1234,
        specification: format!("H264.{def}"),
        codec_name: "h264".into(),
        source_generation: 1,
        created_at: at,
    }
}

fn publication(media_id: &str, generation: i64, streams: Vec<MediaStream>) -> Publication {
    Publication {
        media_id: media_id.into(),
        source_generation: generation,
        streams,
        snapshot_sets: Vec::new(),
        status: Some((
            vec![MediaStatus::Transcoding, MediaStatus::UploadSucc],
            MediaStatus::Normal,
        )),
        cover_url: Some("http://edge/cover.jpg".into()),
        snapshots: Some(vec!["http://edge/cover.jpg".into()]),
        now_ms: 9_000,
    }
}

pub async fn streams_publish_guarded_and_listed(store: Arc<dyn MetaStore>) {
    let acct = account(1);
    store.create_account(&acct).await.unwrap();
    let a = acct.id;
    let mut m = media(&a, MediaScope::Vod, 1);
    m.source_generation = 1;
    m.status = MediaStatus::Transcoding;
    store.create_media(&m).await.unwrap();

    // A stale generation stores nothing, not even its jobs.
    let stale_job = NewJob::new("callback.http", json!({"v": 1, "n": unique("e")}), 3);
    let stale = publication(&m.media_id, 0, vec![stream(&m.media_id, &a, "LD", "mp4", 10)]);
    assert!(!store.publish(&stale, std::slice::from_ref(&stale_job)).await.unwrap());
    assert!(store.get_job(&stale_job.id).await.unwrap().is_none());
    assert!(store.list_streams(&m.media_id).await.unwrap().is_empty());

    let job = NewJob::new("callback.http", json!({"v": 1, "n": unique("e")}), 3);
    let first = vec![
        stream(&m.media_id, &a, "LD", "mp4", 10),
        stream(&m.media_id, &a, "LD", "m3u8", 10),
    ];
    let mut p = publication(&m.media_id, 1, first.clone());
    p.snapshot_sets.push(SnapshotSet {
        job_id: unique("snap"),
        media_id: m.media_id.clone(),
        account_id: a.clone(),
        snapshot_type: "CoverSnapshot".into(),
        bucket: "outin-test".into(),
        keys: vec![format!("sv/{}/cover-00001.jpg", m.media_id)],
        created_at: 10,
    });
    assert!(store.publish(&p, std::slice::from_ref(&job)).await.unwrap());
    assert!(store.get_job(&job.id).await.unwrap().is_some());
    let got = store.get_media_by_id(&m.media_id).await.unwrap().unwrap();
    assert_eq!(got.status, MediaStatus::Normal);
    assert_eq!(got.cover_url, "http://edge/cover.jpg");
    assert_eq!(got.snapshots, vec!["http://edge/cover.jpg".to_string()]);
    let listed = store.list_streams(&m.media_id).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|s| first.contains(s)), "round trip keeps every field");
    assert_eq!(store.list_snapshot_sets(&m.media_id).await.unwrap(), p.snapshot_sets);

    // A second run adds newer streams; a caller-set cover stays; a status outside `from` stays.
    store
        .update_media_info(
            &a,
            MediaScope::Vod,
            &m.media_id,
            &MediaPatch {
                cover_url: Some("http://mine/c.png".into()),
                ..Default::default()
            },
            5,
        )
        .await
        .unwrap();
    let mut again = publication(&m.media_id, 1, vec![stream(&m.media_id, &a, "LD", "mp4", 20)]);
    again.status = Some((vec![MediaStatus::Transcoding], MediaStatus::TranscodeFail));
    again.cover_url = Some("http://edge/other.jpg".into());
    assert!(store.publish(&again, &[]).await.unwrap());
    let got = store.get_media_by_id(&m.media_id).await.unwrap().unwrap();
    assert_eq!(got.status, MediaStatus::Normal, "Normal is not in `from`");
    assert_eq!(got.cover_url, "http://mine/c.png");
    let listed = store.list_streams(&m.media_id).await.unwrap();
    assert_eq!(listed.len(), 3);
    assert_eq!(listed[0].created_at, 20, "newest first");

    // DeleteStream: the streams of one run go, with their jobs; an unknown run deletes
    // nothing and stores no job.
    let first_run = first[0].job_id.clone();
    let purge = NewJob::new("media.purge", json!({"v": 1, "n": unique("p")}), 3);
    let gone = store
        .delete_streams(
            &m.media_id,
            std::slice::from_ref(&first_run),
            std::slice::from_ref(&purge),
        )
        .await
        .unwrap();
    assert_eq!(gone.len(), 1);
    assert!(store.get_job(&purge.id).await.unwrap().is_some());
    let none = NewJob::new("media.purge", json!({"v": 1, "n": unique("p")}), 3);
    let gone = store
        .delete_streams(&m.media_id, &["nope".to_string()], std::slice::from_ref(&none))
        .await
        .unwrap();
    assert!(gone.is_empty());
    assert!(store.get_job(&none.id).await.unwrap().is_none());
    assert_eq!(store.list_streams(&m.media_id).await.unwrap().len(), 2);

    // Deleting the media takes its streams and snapshot sets along.
    store
        .delete_media(&a, MediaScope::Vod, &m.media_id, &[])
        .await
        .unwrap()
        .unwrap();
    assert!(store.list_streams(&m.media_id).await.unwrap().is_empty());
    assert!(store.list_snapshot_sets(&m.media_id).await.unwrap().is_empty());
}
