//! RefreshMediaPlayUrls and GetMediaRefreshJobs through the gateway: the URLs each filter
//! selects (Formats, Definitions, StreamType, ResultType, SliceFlag/SliceCount), NonExist
//! and Forbidden ids, every out-of-range input, RAM, the record before and after its job,
//! JSON types, V3 and XML.

mod common;
mod media_util;
mod refresh_util;

use common::*;
use media_util::assert_error;
use refresh_util::*;
use serde_json::json;

/// Business parameters of one call.
type Params<'a> = Vec<(&'a str, &'a str)>;

async fn submit(h: &Harness, params: &[(&str, &str)]) -> Reply {
    let mut all = vec![("Action", "RefreshMediaPlayUrls")];
    all.extend_from_slice(params);
    vod_as(h, &all, AK, SECRET).await
}

/// Submits and returns (MediaRefreshJobId, the planned URLs of `id`).
async fn urls_for(h: &Harness, id: &str, params: &[(&str, &str)]) -> Vec<String> {
    let mut all = vec![("MediaIds", id)];
    all.extend_from_slice(params);
    let r = submit(h, &all).await;
    assert_eq!(r.status, 200, "{}", r.body);
    planned_urls(h, &s(&r.json(), "MediaRefreshJobId"), id).await
}

#[tokio::test]
async fn filters_select_the_urls_like_get_play_info() {
    let h = refresh_harness().await;
    let id = video_with_streams(&h, "app-1000000").await;
    let u = |t: &str| play_url(&id, t);
    // Single (default): the newest per definition and format, in PlayInfoList order.
    assert_eq!(
        urls_for(&h, &id, &[("TaskType", "Refresh")]).await,
        vec![u("20/LD.m3u8"), u("20/LD.mp4"), u("20/SD.mp4"), u("10/SQ.mp3")]
    );
    assert_eq!(
        urls_for(
            &h,
            &id,
            &[("TaskType", "Refresh"), ("ResultType", "Multiple"), ("Formats", "mp4")]
        )
        .await,
        vec![u("20/LD.mp4"), u("10/LD.mp4"), u("20/SD.mp4")]
    );
    assert_eq!(
        urls_for(
            &h,
            &id,
            &[("TaskType", "Preload"), ("Definitions", "SD, LD"), ("Formats", "MP4")]
        )
        .await,
        vec![u("20/LD.mp4"), u("20/SD.mp4")]
    );
    assert_eq!(
        urls_for(&h, &id, &[("TaskType", "Refresh"), ("StreamType", "audio")]).await,
        vec![u("10/SQ.mp3")]
    );
    // SliceFlag: the first SliceCount (default 5) segments follow each playlist.
    let sliced = urls_for(
        &h,
        &id,
        &[("TaskType", "Preload"), ("Formats", "m3u8"), ("SliceFlag", "True")],
    )
    .await;
    let mut expected = vec![u("20/LD.m3u8")];
    expected.extend((0..5).map(|i| u(&format!("20/LD/seg-{i:05}.ts"))));
    assert_eq!(sliced, expected);
    let sliced = urls_for(
        &h,
        &id,
        &[
            ("TaskType", "Preload"),
            ("Formats", "m3u8"),
            ("SliceFlag", "true"),
            ("SliceCount", "20"),
        ],
    )
    .await;
    assert_eq!(sliced.len(), 8, "all 7 segments when fewer than SliceCount");
    let unsliced = urls_for(
        &h,
        &id,
        &[("TaskType", "Preload"), ("Formats", "m3u8"), ("SliceCount", "3")],
    )
    .await;
    assert_eq!(unsliced, vec![u("20/LD.m3u8")], "SliceCount alone does nothing");
    // Nothing matches: a record all the same (its job fails it with NoneStream).
    assert!(
        urls_for(&h, &id, &[("TaskType", "Refresh"), ("Formats", "flv")])
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn response_lists_missing_and_forbidden_ids() {
    let h = refresh_harness().await;
    let mine = video_with_streams(&h, "app-1000000").await;
    let other_app = new_app(&h, "other").await;
    let theirs = video_with_streams(&h, &other_app).await;
    let both = format!("{mine},nope1,{theirs},nope2,{mine}");
    let r = submit(&h, &[("MediaIds", &both), ("TaskType", "Refresh")]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let j = r.json();
    assert_eq!(j["NonExistMediaIds"], "nope1,nope2");
    assert_eq!(j["ForbiddenMediaIds"], "", "the root account may use every app");
    assert_eq!(s(&j, "MediaRefreshJobId").len(), 32);
    assert_eq!(j.as_object().unwrap().len(), 4, "RequestId + the three fields: {j}");

    // A RAM user allowed on the default app only: the other app's media is forbidden.
    let policy = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["vod:RefreshMediaPlayUrls","vod:GetMediaRefreshJobs"],"Resource":"acs:vod:*:*:app/app-1000000"}]}"#;
    let (ak, sk) = ram_user(&h, "refresher", policy).await;
    let r = vod_as(
        &h,
        &[
            ("Action", "RefreshMediaPlayUrls"),
            ("MediaIds", &both),
            ("TaskType", "Preload"),
        ],
        &ak,
        &sk,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let j = r.json();
    assert_eq!(j["ForbiddenMediaIds"], theirs.as_str());
    assert_eq!(j["NonExistMediaIds"], "nope1,nope2");
    let job = s(&j, "MediaRefreshJobId");
    let g = vod_as(
        &h,
        &[("Action", "GetMediaRefreshJobs"), ("MediaRefreshJobId", &job)],
        &ak,
        &sk,
    )
    .await;
    let list = g.json()["MediaRefreshJobs"].as_array().unwrap().clone();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["MediaId"], mine.as_str());

    // Without the RAM action: Forbidden.RAM.
    let (ak, sk) = ram_user(
        &h,
        "reader",
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["vod:Get*"],"Resource":"*"}]}"#,
    )
    .await;
    let r = vod_as(
        &h,
        &[
            ("Action", "RefreshMediaPlayUrls"),
            ("MediaIds", &mine),
            ("TaskType", "Refresh"),
        ],
        &ak,
        &sk,
    )
    .await;
    assert_error(&r, 403, "Forbidden.RAM");
}

#[tokio::test]
async fn every_out_of_range_input_is_refused() {
    let h = refresh_harness().await;
    let id = video_with_streams(&h, "app-1000000").await;
    let ids21 = (0..21).map(|i| format!("id{i}")).collect::<Vec<_>>().join(",");
    let ids20 = (0..20).map(|i| format!("id{i}")).collect::<Vec<_>>().join(",");
    let cases: Vec<(Params<'_>, &str, &str)> = vec![
        (vec![("TaskType", "Refresh")], "MissingParameter", "MediaIds"),
        (
            vec![("MediaIds", " , "), ("TaskType", "Refresh")],
            "MissingParameter",
            "MediaIds",
        ),
        (
            vec![("MediaIds", &ids21), ("TaskType", "Refresh")],
            "InvalidParameter",
            "MediaIds",
        ),
        (vec![("MediaIds", &id)], "MissingParameter", "TaskType"),
        (
            vec![("MediaIds", &id), ("TaskType", "Purge")],
            "InvalidParameter",
            "TaskType",
        ),
        (
            vec![("MediaIds", &id), ("TaskType", "Refresh"), ("Formats", "mp4,avi")],
            "InvalidParameter",
            "Formats",
        ),
        (
            vec![("MediaIds", &id), ("TaskType", "Refresh"), ("Definitions", "XD")],
            "InvalidParameter",
            "Definitions",
        ),
        (
            vec![("MediaIds", &id), ("TaskType", "Refresh"), ("StreamType", "subtitle")],
            "InvalidParameter",
            "StreamType",
        ),
        (
            vec![("MediaIds", &id), ("TaskType", "Refresh"), ("ResultType", "All")],
            "InvalidParameter",
            "ResultType",
        ),
        (
            vec![("MediaIds", &id), ("TaskType", "Refresh"), ("SliceFlag", "yes")],
            "InvalidParameter",
            "SliceFlag",
        ),
        (
            vec![("MediaIds", &id), ("TaskType", "Refresh"), ("SliceCount", "0")],
            "InvalidParameter",
            "SliceCount",
        ),
        (
            vec![("MediaIds", &id), ("TaskType", "Refresh"), ("SliceCount", "21")],
            "InvalidParameter",
            "SliceCount",
        ),
        (
            vec![("MediaIds", &id), ("TaskType", "Refresh"), ("SliceCount", "2.5")],
            "InvalidParameter",
            "SliceCount",
        ),
        (
            vec![("MediaIds", &id), ("TaskType", "Refresh"), ("UserData", "not json")],
            "InvalidParameter",
            "UserData",
        ),
    ];
    for (params, code, name) in cases {
        let r = submit(&h, &params).await;
        assert_error(&r, 400, code);
        assert!(
            r.json()["Message"].as_str().unwrap().contains(name),
            "{params:?}: {}",
            r.body
        );
    }
    // The limits themselves are accepted.
    for (k, v) in [("SliceCount", "1"), ("SliceCount", "20"), ("MediaIds", ids20.as_str())] {
        let mut params = vec![("TaskType", "Refresh")];
        if k == "MediaIds" {
            params.push((k, v));
        } else {
            params.extend([("MediaIds", id.as_str()), (k, v)]);
        }
        assert_eq!(submit(&h, &params).await.status, 200, "{k}={v}");
    }
    // Nothing was stored by the refused calls.
    let jobs = h.state.store().list_jobs(None, Some("cdn.refresh"), 100).await.unwrap();
    assert_eq!(jobs.len(), 2, "one job per accepted call with an existing media");
}

#[tokio::test]
async fn get_media_refresh_jobs_reports_the_record_before_and_after_its_job() {
    let h = refresh_harness().await;
    let a = video_with_streams(&h, "app-1000000").await;
    let b = video_with_streams(&h, "app-1000000").await;
    let ids = format!("{b},{a}");
    let ud = r#"{"Extend":"e1"}"#;
    let r = submit(
        &h,
        &[
            ("MediaIds", &ids),
            ("TaskType", "Refresh"),
            ("Formats", "mp4,m3u8"),
            ("Definitions", "LD"),
            ("SliceFlag", "true"),
            ("SliceCount", "3"),
            ("UserData", ud),
        ],
    )
    .await;
    let job = s(&r.json(), "MediaRefreshJobId");
    let get = |media: Option<&str>| {
        let job = job.clone();
        let media = media.map(str::to_string);
        let h = &h;
        async move {
            let mut params = vec![("Action", "GetMediaRefreshJobs"), ("MediaRefreshJobId", job.as_str())];
            if let Some(m) = &media {
                params.push(("MediaId", m.as_str()));
            }
            let r = vod_as(h, &params, AK, SECRET).await;
            assert_eq!(r.status, 200, "{}", r.body);
            r.json()["MediaRefreshJobs"].as_array().unwrap().clone()
        }
    };
    let before = get(None).await;
    assert_eq!(before.len(), 2);
    assert_eq!(
        (before[0]["MediaId"].as_str(), before[1]["MediaId"].as_str()),
        (Some(b.as_str()), Some(a.as_str()))
    );
    let item = &before[1];
    assert_eq!(item["Status"], "processing");
    assert_eq!(item["TaskType"], "Refresh");
    assert_eq!(item["SuccessPlayUrls"], "");
    assert_eq!(item["UserData"], ud);
    assert_eq!(
        item["FilterPolicy"],
        r#"{"Formats":"mp4,m3u8","Definitions":"LD","ResultType":"Single","SliceFlag":true,"SliceCount":3}"#
    );
    let keys: Vec<&String> = item.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "MediaRefreshJobId",
            "MediaId",
            "TaskType",
            "FilterPolicy",
            "Status",
            "SuccessPlayUrls",
            "TaskIds",
            "ErrorCode",
            "ErrorMessage",
            "UserData",
            "GmtCreate",
            "GmtModified"
        ]
    );
    assert!(
        item.as_object().unwrap().values().all(|v| v.is_string()),
        "all strings: {item}"
    );

    // No edge is registered: a refresh has nothing to purge and succeeds.
    assert_eq!(run_refresh_jobs(&h, 1).await, 2);
    let after = get(Some(&a)).await;
    assert_eq!(after.len(), 1);
    let item = &after[0];
    assert_eq!(item["Status"], "success");
    let urls: Vec<&str> = item["SuccessPlayUrls"].as_str().unwrap().split(',').collect();
    assert_eq!(
        urls,
        [
            play_url(&a, "20/LD.m3u8"),
            play_url(&a, "20/LD/seg-00000.ts"),
            play_url(&a, "20/LD/seg-00001.ts"),
            play_url(&a, "20/LD/seg-00002.ts"),
            play_url(&a, "20/LD.mp4"),
        ]
    );
    let task_ids = s(item, "TaskIds");
    assert_eq!(task_ids.split(',').count(), 5, "one task id per URL");
    assert!(item["GmtModified"].as_str().unwrap() >= item["GmtCreate"].as_str().unwrap());
    // The task ids are DescribeVodRefreshTasks tasks.
    let t = vod_as(
        &h,
        &[("Action", "DescribeVodRefreshTasks"), ("TaskId", &task_ids)],
        AK,
        SECRET,
    )
    .await;
    let tasks = t.json()["Tasks"]["Task"].as_array().unwrap().clone();
    assert_eq!(tasks.len(), 5);
    assert!(
        tasks
            .iter()
            .all(|t| t["Status"] == "Complete" && t["ObjectType"] == "file" && t["Process"] == "100%")
    );

    assert!(get(Some("someone-else")).await.is_empty());
    let unknown = vod_as(
        &h,
        &[("Action", "GetMediaRefreshJobs"), ("MediaRefreshJobId", "nope")],
        AK,
        SECRET,
    )
    .await;
    assert_eq!(unknown.json()["MediaRefreshJobs"], json!([]));
    let r = vod_as(&h, &[("Action", "GetMediaRefreshJobs")], AK, SECRET).await;
    assert_error(&r, 400, "MissingParameter");
    let r = vod_as(
        &h,
        &[
            ("Action", "GetMediaRefreshJobs"),
            ("MediaRefreshJobId", &job),
            ("MediaId", "a,b"),
        ],
        AK,
        SECRET,
    )
    .await;
    assert_error(&r, 400, "InvalidParameter");

    // V3 (Tea SDK) and XML.
    let v3 = vod_v3(&h, "GetMediaRefreshJobs", &[("MediaRefreshJobId", &job)]).await;
    assert_eq!(v3.json()["MediaRefreshJobs"].as_array().unwrap().len(), 2);
    let xml = call(
        &h.app,
        v1(
            "POST",
            &[("Action", "GetMediaRefreshJobs"), ("MediaRefreshJobId", &job)],
            AK,
            SECRET,
            &[("Format", "XML")],
        ),
    )
    .await;
    assert!(
        xml.body.contains("<MediaRefreshJobs><MediaRefreshJobId>"),
        "{}",
        xml.body
    );
}

#[tokio::test]
async fn preload_counts_against_the_daily_quota() {
    let h = refresh_harness().await;
    h.state.set_refresh_quotas(vod_core::model::refresh::RefreshQuotas {
        preload_per_day: 6,
        ..Default::default()
    });
    let id = video_with_streams(&h, "app-1000000").await;
    // 4 URLs each time (Single, all formats).
    let ok = submit(&h, &[("MediaIds", &id), ("TaskType", "Preload")]).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let over = submit(&h, &[("MediaIds", &id), ("TaskType", "Preload")]).await;
    assert_error(&over, 400, "QuotaExceeded.Refresh");
    let quota = vod_as(&h, &[("Action", "DescribeVodRefreshQuota")], AK, SECRET)
        .await
        .json();
    assert_eq!(
        (quota["PreloadQuota"].as_str(), quota["PreloadRemain"].as_str()),
        (Some("6"), Some("2"))
    );
    // Refresh has its own (URL) quota.
    assert_eq!(
        submit(&h, &[("MediaIds", &id), ("TaskType", "Refresh")]).await.status,
        200
    );
}
