//! Contract cases for `MediaRepo`: keys and their uniqueness per account and library, object
//! look-ups (source key and m3u8 prefix), credential re-issue, info updates, source
//! completion as a compare-and-set that stores its jobs in the same transaction, the
//! generation-guarded probe hooks, deletion with jobs, and SearchMedia filters and paging.

use std::sync::Arc;

use serde_json::json;
use vod_core::CoreError;
use vod_core::model::NewJob;
use vod_core::model::media::{
    Condition, FilterValue, Media, MediaField, MediaFilter, MediaKey, MediaPatch, MediaQuery, MediaScope, MediaStatus,
    MediaType, SourceInfo, SourceUpdate, object_key_of, object_prefix_of,
};
use vod_core::ports::MetaStore;

use super::{account, assert_already_exists, unique};

/// A VOD video of `account_id` created at `created_at`, stored under `sv/<id>/<id>.mp4`.
pub fn media(account_id: &str, scope: MediaScope, created_at: i64) -> Media {
    let id = vod_core::ids::hex_id();
    let mut m = Media::new(
        id.clone(),
        account_id.into(),
        "app-1000000".into(),
        scope,
        MediaType::Video,
        created_at,
    );
    m.title = format!("title {id}");
    m.storage_location = "outin-test".into();
    m.object_key = object_key_of(scope, &id, "mp4");
    m.file_name = "movie.mp4".into();
    m
}

fn update(m: &Media, expected: i64, object_id: &str, size: i64) -> SourceUpdate {
    SourceUpdate {
        account_id: m.account_id.clone(),
        media_id: m.media_id.clone(),
        expected_generation: expected,
        object_id: object_id.into(),
        status: MediaStatus::UploadSucc,
        size: Some(size),
        md5: Some("d41d8cd98f00b204e9800998ecf8427e".into()),
        file_url: format!("http://oss/{}/{}", m.storage_location, m.object_key),
        damaged: None,
        uploaded_at: 5_000,
    }
}

fn job(kind: &str) -> NewJob {
    NewJob::new(kind, json!({"v": 1, "n": unique("p")}), 3)
}

async fn setup(store: &Arc<dyn MetaStore>) -> String {
    let acct = account(1);
    store.create_account(&acct).await.unwrap();
    acct.id
}

pub async fn media_create_find_and_unique_keys(store: Arc<dyn MetaStore>) {
    let a = setup(&store).await;
    let b = setup(&store).await;
    let mut m = media(&a, MediaScope::Vod, 1_000);
    m.reference_id = Some("ref-000001".into());
    m.tags = "x,y".into();
    m.cate_id = Some(1_000_000_001);
    m.duration = Some(12.5);
    m.snapshots = vec!["http://s/1.jpg".into()];
    m.extra = json!({"EnableFirstFrameCover": true});
    store.create_media(&m).await.unwrap();

    let by_id = store
        .find_media(&a, MediaScope::Vod, &MediaKey::Id(m.media_id.clone()))
        .await
        .unwrap();
    assert_eq!(by_id.as_ref(), Some(&m), "round trip keeps every field");
    assert_eq!(store.get_media_by_id(&m.media_id).await.unwrap().as_ref(), Some(&m));
    let by_ref = store
        .find_media(&a, MediaScope::Vod, &MediaKey::ReferenceId("ref-000001".into()))
        .await
        .unwrap();
    assert_eq!(by_ref.map(|x| x.media_id), Some(m.media_id.clone()));
    assert!(
        store
            .find_media(&a, MediaScope::Ice, &MediaKey::Id(m.media_id.clone()))
            .await
            .unwrap()
            .is_none(),
        "libraries are separate"
    );
    assert!(
        store
            .find_media(&b, MediaScope::Vod, &MediaKey::Id(m.media_id.clone()))
            .await
            .unwrap()
            .is_none(),
        "accounts are separate"
    );

    // ReferenceId is unique per account and library.
    let mut dup = media(&a, MediaScope::Vod, 1_001);
    dup.reference_id = Some("ref-000001".into());
    assert_already_exists(store.create_media(&dup).await, "ReferenceId");
    let mut ice = media(&a, MediaScope::Ice, 1_002);
    ice.reference_id = Some("ref-000001".into());
    ice.input_url = "oss://bucket/a.mp4".into();
    ice.client_token = Some("token-1".into());
    store.create_media(&ice).await.unwrap();
    let mut other = media(&b, MediaScope::Vod, 1_003);
    other.reference_id = Some("ref-000001".into());
    store.create_media(&other).await.unwrap();
    let mut same_id = media(&a, MediaScope::Vod, 1_008);
    same_id.media_id = m.media_id.clone();
    assert_already_exists(store.create_media(&same_id).await, "Media");

    // Registered ICE media: InputURL and ClientToken are keys too.
    let found = store
        .find_media(&a, MediaScope::Ice, &MediaKey::InputUrl("oss://bucket/a.mp4".into()))
        .await
        .unwrap();
    assert_eq!(found.map(|x| x.media_id), Some(ice.media_id.clone()));
    let found = store
        .find_media(&a, MediaScope::Ice, &MediaKey::ClientToken("token-1".into()))
        .await
        .unwrap();
    assert_eq!(found.map(|x| x.media_id), Some(ice.media_id.clone()));
    let mut again = media(&a, MediaScope::Ice, 1_004);
    again.input_url = "oss://bucket/a.mp4".into();
    assert_already_exists(store.create_media(&again).await, "InputURL");
    let mut again = media(&a, MediaScope::Ice, 1_005);
    again.client_token = Some("token-1".into());
    assert_already_exists(store.create_media(&again).await, "ClientToken");
    // Media without ReferenceId / InputURL never clash with each other.
    store.create_media(&media(&a, MediaScope::Vod, 1_006)).await.unwrap();
    store.create_media(&media(&a, MediaScope::Vod, 1_007)).await.unwrap();
    assert_eq!(store.count_media_in_app(&a, "app-1000000").await.unwrap(), 4);
    assert_eq!(store.count_media_in_app(&a, "app-other").await.unwrap(), 0);
}

pub async fn media_find_by_object_and_prefix(store: Arc<dyn MetaStore>) {
    let a = setup(&store).await;
    let plain = media(&a, MediaScope::Vod, 1);
    store.create_media(&plain).await.unwrap();
    let mut hls = media(&a, MediaScope::Vod, 2);
    hls.object_key = object_key_of(MediaScope::Vod, &hls.media_id, "m3u8");
    hls.object_prefix = Some(object_prefix_of(MediaScope::Vod, &hls.media_id));
    store.create_media(&hls).await.unwrap();

    let hit = store
        .find_media_by_object("outin-test", &plain.object_key)
        .await
        .unwrap();
    assert_eq!(hit.map(|m| m.media_id), Some(plain.media_id.clone()));
    assert!(
        store
            .find_media_by_object("other-bucket", &plain.object_key)
            .await
            .unwrap()
            .is_none()
    );
    let seg = format!("{}seg-00001.ts", hls.object_prefix.clone().unwrap());
    let hit = store.find_media_by_object("outin-test", &seg).await.unwrap();
    assert_eq!(
        hit.map(|m| m.media_id),
        Some(hls.media_id.clone()),
        "segments belong to the m3u8 media"
    );
    let hit = store.find_media_by_object("outin-test", &hls.object_key).await.unwrap();
    assert_eq!(hit.map(|m| m.media_id), Some(hls.media_id.clone()));
    // A key under a plain media's directory is not its source and it has no prefix.
    let stray = format!("sv/{}/other.ts", plain.media_id);
    assert!(
        store
            .find_media_by_object("outin-test", &stray)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .find_media_by_object("outin-test", "nokey")
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn media_reissue_and_update(store: Arc<dyn MetaStore>) {
    let a = setup(&store).await;
    let m = media(&a, MediaScope::Vod, 1);
    store.create_media(&m).await.unwrap();
    let mut taken = media(&a, MediaScope::Vod, 2);
    taken.reference_id = Some("taken-ref".into());
    store.create_media(&taken).await.unwrap();

    let r = store
        .reissue_upload(&a, MediaScope::Vod, &m.media_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.upload_generation, 2);
    assert_eq!(r.modified_at, m.modified_at, "a new credential is no metadata change");
    assert!(
        store
            .reissue_upload(&a, MediaScope::Ice, &m.media_id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .reissue_upload(&a, MediaScope::Vod, "nope")
            .await
            .unwrap()
            .is_none()
    );

    let patch = MediaPatch {
        title: Some("new title".into()),
        tags: Some("a,b".into()),
        cate_id: Some(Some(7)),
        reference_id: Some("mine-001".into()),
        user_data: Some(r#"{"Extend":"x"}"#.into()),
        ..Default::default()
    };
    assert!(
        store
            .update_media_info(&a, MediaScope::Vod, &m.media_id, &patch, 99)
            .await
            .unwrap()
    );
    let got = store.get_media_by_id(&m.media_id).await.unwrap().unwrap();
    assert_eq!(
        (got.title.as_str(), got.tags.as_str(), got.cate_id),
        ("new title", "a,b", Some(7))
    );
    assert_eq!((got.reference_id.as_deref(), got.modified_at), (Some("mine-001"), 99));
    assert_eq!(got.description, m.description, "fields not in the patch stay");
    let clear = MediaPatch {
        cate_id: Some(None),
        ..Default::default()
    };
    assert!(
        store
            .update_media_info(&a, MediaScope::Vod, &m.media_id, &clear, 100)
            .await
            .unwrap()
    );
    assert_eq!(store.get_media_by_id(&m.media_id).await.unwrap().unwrap().cate_id, None);
    let clash = MediaPatch {
        reference_id: Some("taken-ref".into()),
        ..Default::default()
    };
    assert_already_exists(
        store
            .update_media_info(&a, MediaScope::Vod, &m.media_id, &clash, 101)
            .await,
        "ReferenceId",
    );
    assert!(
        !store
            .update_media_info(&a, MediaScope::Vod, "nope", &patch, 1)
            .await
            .unwrap()
    );
}

pub async fn media_complete_upload_is_compare_and_set_with_jobs(store: Arc<dyn MetaStore>) {
    let a = setup(&store).await;
    let m = media(&a, MediaScope::Vod, 1);
    store.create_media(&m).await.unwrap();
    let jobs = vec![job("media.probe"), job("callback.http")];
    assert_eq!(
        store
            .complete_media_upload(&update(&m, 0, "obj-1", 10), &jobs)
            .await
            .unwrap(),
        Some(1)
    );
    for j in &jobs {
        assert!(
            store.get_job(&j.id).await.unwrap().is_some(),
            "jobs commit with the state change"
        );
    }
    let got = store.get_media_by_id(&m.media_id).await.unwrap().unwrap();
    assert_eq!(
        (got.status, got.size, got.source_generation),
        (MediaStatus::UploadSucc, Some(10), 1)
    );
    assert_eq!(
        (got.source_object_id.as_deref(), got.uploaded_at),
        (Some("obj-1"), Some(5_000))
    );
    assert_eq!(got.md5.as_deref(), Some("d41d8cd98f00b204e9800998ecf8427e"));

    // A stale expectation changes nothing and stores no jobs.
    let late = vec![job("media.probe")];
    assert_eq!(
        store
            .complete_media_upload(&update(&m, 0, "obj-2", 20), &late)
            .await
            .unwrap(),
        None
    );
    assert!(
        store.get_job(&late[0].id).await.unwrap().is_none(),
        "no jobs without the state change"
    );
    assert_eq!(
        store.get_media_by_id(&m.media_id).await.unwrap().unwrap().size,
        Some(10)
    );
    let mut other_account = update(&m, 1, "obj-2", 20);
    other_account.account_id = "someone".into();
    assert_eq!(store.complete_media_upload(&other_account, &[]).await.unwrap(), None);

    // Probe hooks are guarded by the source generation.
    let info = SourceInfo {
        duration: Some(3.5),
        width: Some(640),
        height: Some(360),
        ..Default::default()
    };
    assert!(store.record_source_info(&m.media_id, 1, &info, 6_000).await.unwrap());
    assert!(!store.record_source_info(&m.media_id, 0, &info, 6_000).await.unwrap());
    assert!(
        store
            .set_media_status(
                &m.media_id,
                1,
                &[MediaStatus::UploadSucc],
                MediaStatus::Transcoding,
                6_001
            )
            .await
            .unwrap()
    );
    assert!(
        !store
            .set_media_status(&m.media_id, 1, &[MediaStatus::UploadSucc], MediaStatus::Normal, 6_002)
            .await
            .unwrap()
    );
    assert!(
        store
            .set_media_status(&m.media_id, 1, &[], MediaStatus::Normal, 6_003)
            .await
            .unwrap()
    );

    // An overwrite: generation 2, probe data of the old source cleared.
    assert_eq!(
        store
            .complete_media_upload(&update(&m, 1, "obj-2", 20), &[])
            .await
            .unwrap(),
        Some(2)
    );
    let got = store.get_media_by_id(&m.media_id).await.unwrap().unwrap();
    assert_eq!(
        (got.status, got.size, got.duration),
        (MediaStatus::UploadSucc, Some(20), None)
    );
    assert!(
        !store
            .set_media_damaged(&m.media_id, 1, "stale probe", 7_000)
            .await
            .unwrap(),
        "an old probe cannot damage a new source"
    );
    assert!(
        store
            .set_media_damaged(&m.media_id, 2, "moov atom not found", 7_001)
            .await
            .unwrap()
    );
    let got = store.get_media_by_id(&m.media_id).await.unwrap().unwrap();
    assert_eq!(
        (got.status, got.damaged.as_deref()),
        (MediaStatus::UploadFail, Some("moov atom not found"))
    );
}

pub async fn media_delete_stores_jobs(store: Arc<dyn MetaStore>) {
    let a = setup(&store).await;
    let m = media(&a, MediaScope::Vod, 1);
    store.create_media(&m).await.unwrap();
    let jobs = vec![job("media.purge")];
    assert!(
        store
            .delete_media(&a, MediaScope::Ice, &m.media_id, &jobs)
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.get_job(&jobs[0].id).await.unwrap().is_none());
    let gone = store
        .delete_media(&a, MediaScope::Vod, &m.media_id, &jobs)
        .await
        .unwrap();
    assert_eq!(gone.map(|g| g.media_id), Some(m.media_id.clone()));
    assert!(store.get_job(&jobs[0].id).await.unwrap().is_some());
    assert!(store.get_media_by_id(&m.media_id).await.unwrap().is_none());
    let again = vec![job("media.purge")];
    assert!(
        store
            .delete_media(&a, MediaScope::Vod, &m.media_id, &again)
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.get_job(&again[0].id).await.unwrap().is_none());
    // A failed job insert rolls the delete back.
    let m2 = media(&a, MediaScope::Vod, 2);
    store.create_media(&m2).await.unwrap();
    let dup = vec![jobs[0].clone()];
    assert!(matches!(
        store.delete_media(&a, MediaScope::Vod, &m2.media_id, &dup).await,
        Err(CoreError::AlreadyExists { kind: "Job", .. })
    ));
    assert!(
        store.get_media_by_id(&m2.media_id).await.unwrap().is_some(),
        "all or nothing"
    );
}

fn query(filter: Option<MediaFilter>) -> MediaQuery {
    MediaQuery {
        scope: MediaScope::Vod,
        media_types: vec![MediaType::Video],
        filter,
        ascending: false,
        after: None,
        offset: 0,
        limit: 100,
    }
}

fn text(s: &str) -> FilterValue {
    FilterValue::Text(s.into())
}

async fn ids(store: &Arc<dyn MetaStore>, a: &str, q: &MediaQuery) -> (Vec<String>, u64) {
    let (list, total) = store.search_media(a, q).await.unwrap();
    (list.into_iter().map(|m| m.title).collect(), total)
}

pub async fn media_search_filters_and_paging(store: Arc<dyn MetaStore>) {
    let a = setup(&store).await;
    let b = setup(&store).await;
    let specs: [(&str, &str, MediaStatus, i64, Option<i64>); 6] = [
        ("Alpha one", "red,blue", MediaStatus::Normal, 1_000, Some(1)),
        ("alpha two", "green", MediaStatus::Uploading, 2_000, Some(2)),
        ("Beta 100%", "", MediaStatus::UploadSucc, 3_000, None),
        ("gamma_x", "Red", MediaStatus::Normal, 4_000, Some(1)),
        ("delta", "reddish", MediaStatus::TranscodeFail, 5_000, None),
        ("epsilon", "blue", MediaStatus::Normal, 6_000, None),
    ];
    for (title, tags, status, at, cate) in specs {
        let mut m = media(&a, MediaScope::Vod, at);
        m.title = title.into();
        m.tags = tags.into();
        m.status = status;
        m.cate_id = cate;
        store.create_media(&m).await.unwrap();
    }
    let mut audio = media(&a, MediaScope::Vod, 7_000);
    audio.media_type = MediaType::Audio;
    audio.title = "alpha audio".into();
    store.create_media(&audio).await.unwrap();
    let mut foreign = media(&b, MediaScope::Vod, 1_500);
    foreign.title = "alpha foreign".into();
    store.create_media(&foreign).await.unwrap();
    let mut ice = media(&a, MediaScope::Ice, 1_600);
    ice.title = "alpha ice".into();
    store.create_media(&ice).await.unwrap();

    let all = ids(&store, &a, &query(None)).await;
    assert_eq!(all.1, 6);
    assert_eq!(
        all.0,
        ["epsilon", "delta", "gamma_x", "Beta 100%", "alpha two", "Alpha one"],
        "newest first"
    );

    let title = MediaFilter::Cond(MediaField::Title, Condition::Contains(vec!["ALPHA".into()]));
    assert_eq!(
        ids(&store, &a, &query(Some(title))).await,
        (vec!["alpha two".into(), "Alpha one".into()], 2)
    );
    let wild = MediaFilter::Cond(MediaField::Title, Condition::Contains(vec!["%".into(), "_".into()]));
    assert_eq!(
        ids(&store, &a, &query(Some(wild))).await.1,
        2,
        "LIKE wildcards are literal"
    );
    let exact = MediaFilter::Cond(MediaField::Title, Condition::AnyOf(vec![text("delta"), text("Delta")]));
    assert_eq!(ids(&store, &a, &query(Some(exact))).await.0, ["delta"]);

    let status = MediaFilter::Cond(
        MediaField::Status,
        Condition::AnyOf(vec![text("Normal"), text("Uploading")]),
    );
    assert_eq!(ids(&store, &a, &query(Some(status.clone()))).await.1, 4);
    let range = MediaFilter::Cond(
        MediaField::CreationTime,
        Condition::Range {
            min: Some(FilterValue::Int(2_000)),
            max: Some(FilterValue::Int(4_000)),
        },
    );
    assert_eq!(
        ids(&store, &a, &query(Some(range.clone()))).await.0,
        ["gamma_x", "Beta 100%", "alpha two"],
        "inclusive bounds"
    );
    let open = MediaFilter::Cond(
        MediaField::CreationTime,
        Condition::Range {
            min: Some(FilterValue::Int(5_000)),
            max: None,
        },
    );
    assert_eq!(ids(&store, &a, &query(Some(open))).await.1, 2);
    let and = MediaFilter::And(vec![status.clone(), range.clone()]);
    assert_eq!(ids(&store, &a, &query(Some(and))).await.0, ["gamma_x", "alpha two"]);
    let or = MediaFilter::Or(vec![
        MediaFilter::Cond(MediaField::Title, Condition::Contains(vec!["beta".into()])),
        MediaFilter::Cond(MediaField::Status, Condition::AnyOf(vec![text("TranscodeFail")])),
    ]);
    assert_eq!(ids(&store, &a, &query(Some(or))).await.0, ["delta", "Beta 100%"]);
    let tags = MediaFilter::Cond(MediaField::Tags, Condition::AnyOf(vec![text("red")]));
    assert_eq!(
        ids(&store, &a, &query(Some(tags))).await.0,
        ["gamma_x", "Alpha one"],
        "whole tags, any case"
    );
    let cate = MediaFilter::Cond(MediaField::CateId, Condition::AnyOf(vec![FilterValue::Int(1)]));
    assert_eq!(ids(&store, &a, &query(Some(cate))).await.1, 2);
    let bad = MediaFilter::Cond(MediaField::CateId, Condition::AnyOf(vec![text("one")]));
    assert!(matches!(
        store.search_media(&a, &query(Some(bad))).await,
        Err(CoreError::InvalidArgument { field: "Match", .. })
    ));

    // Types and libraries.
    let mut q = query(None);
    q.media_types = vec![MediaType::Audio];
    assert_eq!(ids(&store, &a, &q).await.0, ["alpha audio"]);
    q.media_types = vec![];
    assert_eq!(ids(&store, &a, &q).await.1, 0);
    let mut q = query(None);
    q.scope = MediaScope::Ice;
    assert_eq!(ids(&store, &a, &q).await.0, ["alpha ice"]);

    // Offset paging (ascending) and keyset paging (ScrollToken) agree.
    let mut q = query(None);
    q.ascending = true;
    q.limit = 4;
    let (first, total) = store.search_media(&a, &q).await.unwrap();
    assert_eq!((first.len(), total), (4, 6));
    q.offset = 4;
    let (second, _) = store.search_media(&a, &q).await.unwrap();
    assert_eq!(
        second.iter().map(|m| m.title.as_str()).collect::<Vec<_>>(),
        ["delta", "epsilon"]
    );
    let last = first.last().unwrap();
    q.offset = 0;
    q.after = Some((last.created_at, last.media_id.clone()));
    let (keyset, total) = store.search_media(&a, &q).await.unwrap();
    assert_eq!(keyset, second);
    assert_eq!(total, 6, "the total ignores the page position");
}
