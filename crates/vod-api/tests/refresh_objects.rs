//! RefreshVodObjectCaches, PreloadVodObjectCaches, DescribeVodRefreshTasks and
//! DescribeVodRefreshQuota through the gateway: path forms, every refused input, the daily
//! quotas, task listing with filters and paging, JSON types and V3.

mod common;
mod media_util;
mod refresh_util;

use common::*;
use media_util::assert_error;
use refresh_util::*;
use vod_core::model::refresh::RefreshQuotas;

/// Business parameters of one call.
type Params<'a> = Vec<(&'a str, &'a str)>;

async fn act(h: &Harness, action: &str, params: &[(&str, &str)]) -> Reply {
    let mut all = vec![("Action", action)];
    all.extend_from_slice(params);
    vod_as(h, &all, AK, SECRET).await
}

async fn tasks(h: &Harness, params: &[(&str, &str)]) -> serde_json::Value {
    let r = act(h, "DescribeVodRefreshTasks", params).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

#[tokio::test]
async fn refresh_files_and_directories_then_describe_them() {
    let h = refresh_harness().await;
    let paths = "http://edge.test:8090/outin-vodstack/a.mp4\r\nedge.test:8090/outin-vodstack/b.mp4\n\nhttps://cdn.example.com/outin-vodstack/c.ts";
    let r = act(&h, "RefreshVodObjectCaches", &[("ObjectPath", paths)]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let ids: Vec<String> = s(&r.json(), "RefreshTaskId").split(',').map(str::to_string).collect();
    assert_eq!(ids.len(), 3);
    assert!(
        ids.iter()
            .all(|i| i.len() == 16 && i.bytes().all(|b| b.is_ascii_digit()))
    );
    let r = act(
        &h,
        "RefreshVodObjectCaches",
        &[
            ("ObjectPath", "edge.test:8090/outin-vodstack/sv/x"),
            ("ObjectType", "Directory"),
            ("Force", "true"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let dir_id = s(&r.json(), "RefreshTaskId");

    let all = tasks(&h, &[]).await;
    assert_eq!(
        (
            all["TotalCount"].as_i64(),
            all["PageNumber"].as_i64(),
            all["PageSize"].as_i64()
        ),
        (Some(4), Some(1), Some(20))
    );
    let list = all["Tasks"]["Task"].as_array().unwrap();
    assert_eq!(list[0]["TaskId"], dir_id.as_str(), "newest first");
    assert_eq!(list[0]["ObjectPath"], "http://edge.test:8090/outin-vodstack/sv/x/");
    assert_eq!(list[0]["ObjectType"], "directory");
    assert_eq!(
        (list[0]["Status"].as_str(), list[0]["Process"].as_str()),
        (Some("Refreshing"), Some("0%"))
    );
    let keys: Vec<&String> = list[0].as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "TaskId",
            "ObjectPath",
            "ObjectType",
            "Status",
            "Process",
            "CreationTime",
            "Description"
        ]
    );

    // A scheme-less path is stored (and found) with http://.
    let found = tasks(&h, &[("ObjectPath", "edge.test:8090/outin-vodstack/b.mp4")]).await;
    assert_eq!(found["Tasks"]["Task"][0]["TaskId"], ids[1].as_str());
    assert_eq!(
        tasks(&h, &[("TaskId", &ids[2])]).await["Tasks"]["Task"][0]["ObjectPath"],
        "https://cdn.example.com/outin-vodstack/c.ts"
    );

    // The job completes them (no edge registered: nothing to purge).
    assert_eq!(run_refresh_jobs(&h, 1).await, 2);
    let done = tasks(&h, &[("ObjectType", "file"), ("Status", "Complete")]).await;
    assert_eq!(done["TotalCount"], 3);
    assert!(
        done["Tasks"]["Task"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["Process"] == "100%")
    );
    assert_eq!(
        tasks(&h, &[("ObjectType", "file"), ("DomainName", "cdn.example.com")]).await["TotalCount"],
        1
    );
    assert_eq!(tasks(&h, &[("ObjectType", "Directory")]).await["TotalCount"], 1);
    assert_eq!(tasks(&h, &[("ObjectType", "preload")]).await["TotalCount"], 0);
    let page = tasks(&h, &[("PageSize", "3"), ("PageNumber", "2")]).await;
    assert_eq!(
        (
            page["TotalCount"].as_i64(),
            page["Tasks"]["Task"].as_array().unwrap().len()
        ),
        (Some(4), 1)
    );
    let window = tasks(
        &h,
        &[
            ("StartTime", "2000-01-01T00:00:00Z"),
            ("EndTime", "2000-01-02T00:00:00Z"),
        ],
    )
    .await;
    assert_eq!(window["TotalCount"], 0);
    assert_eq!(window["Tasks"]["Task"], serde_json::json!([]));
    // V3.
    let v3 = vod_v3(&h, "DescribeVodRefreshTasks", &[("TaskId", &dir_id)]).await;
    assert_eq!(v3.json()["Tasks"]["Task"][0]["Status"], "Complete");
}

#[tokio::test]
async fn refused_inputs() {
    let h = refresh_harness().await;
    let many = (0..1001)
        .map(|i| format!("h.test/b/{i}.ts"))
        .collect::<Vec<_>>()
        .join("\n");
    let cases: Vec<(&str, Params<'_>, &str)> = vec![
        ("RefreshVodObjectCaches", vec![], "MissingParameter"),
        (
            "RefreshVodObjectCaches",
            vec![("ObjectPath", "\n \r\n")],
            "MissingParameter",
        ),
        (
            "RefreshVodObjectCaches",
            vec![("ObjectPath", "ftp://h.test/b/k")],
            "InvalidObjectPath.Malformed",
        ),
        (
            "RefreshVodObjectCaches",
            vec![("ObjectPath", "h.test")],
            "InvalidObjectPath.Malformed",
        ),
        (
            "RefreshVodObjectCaches",
            vec![("ObjectPath", "http:///b/k")],
            "InvalidObjectPath.Malformed",
        ),
        (
            "RefreshVodObjectCaches",
            vec![("ObjectPath", "h.test/b/a b.ts")],
            "InvalidObjectPath.Malformed",
        ),
        (
            "RefreshVodObjectCaches",
            vec![("ObjectPath", &many)],
            "InvalidObjectPath.Size.Malformed",
        ),
        (
            "RefreshVodObjectCaches",
            vec![("ObjectPath", "h.test/b/k"), ("ObjectType", "Folder")],
            "InvalidObjectType.Malformed",
        ),
        (
            "RefreshVodObjectCaches",
            vec![("ObjectPath", "h.test/b/k"), ("ObjectType", "Regex")],
            "InvalidObjectType.ValueNotSupported",
        ),
        (
            "RefreshVodObjectCaches",
            vec![("ObjectPath", "h.test/b/k"), ("Force", "maybe")],
            "InvalidParameter",
        ),
        ("PreloadVodObjectCaches", vec![], "MissingParameter"),
        (
            "PreloadVodObjectCaches",
            vec![("ObjectPath", "h.test/b/k"), ("Area", "mars")],
            "InvalidParameter",
        ),
        (
            "PreloadVodObjectCaches",
            vec![("ObjectPath", "h.test/b/k"), ("L2Preload", "x")],
            "InvalidParameter",
        ),
        (
            "PreloadVodObjectCaches",
            vec![("ObjectPath", "h.test/b/k"), ("WithHeader", "[1]")],
            "InvalidParameter",
        ),
        (
            "DescribeVodRefreshTasks",
            vec![("ObjectType", "blob")],
            "InvalidObjectType.Malformed",
        ),
        (
            "DescribeVodRefreshTasks",
            vec![("ObjectType", "file"), ("Status", "Done")],
            "InvalidParameter",
        ),
        (
            "DescribeVodRefreshTasks",
            vec![("Status", "Complete")],
            "MissingParameter",
        ),
        (
            "DescribeVodRefreshTasks",
            vec![("DomainName", "h.test")],
            "MissingParameter",
        ),
        ("DescribeVodRefreshTasks", vec![("PageSize", "51")], "InvalidParameter"),
        ("DescribeVodRefreshTasks", vec![("PageNumber", "0")], "InvalidParameter"),
        (
            "DescribeVodRefreshTasks",
            vec![("StartTime", "yesterday")],
            "InvalidStartTime.Malformed",
        ),
        (
            "DescribeVodRefreshTasks",
            vec![("EndTime", "2020-13-01T00:00:00Z")],
            "InvalidEndTime.Malformed",
        ),
        (
            "DescribeVodRefreshTasks",
            vec![
                ("StartTime", "2020-01-02T00:00:00Z"),
                ("EndTime", "2020-01-01T00:00:00Z"),
            ],
            "InvalidEndTime.Mismatch",
        ),
        (
            "DescribeVodRefreshTasks",
            vec![("ObjectPath", "gopher://x/y")],
            "InvalidObjectPath.Malformed",
        ),
    ];
    for (action, params, code) in cases {
        let r = act(&h, action, &params).await;
        assert_error(&r, 400, code);
        assert!(!r.json()["Message"].as_str().unwrap().is_empty());
    }
    assert!(
        h.state
            .store()
            .list_jobs(None, Some("cdn.refresh"), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn daily_quotas_are_enforced_and_reported() {
    let h = refresh_harness().await;
    let fresh = act(&h, "DescribeVodRefreshQuota", &[]).await.json();
    for (k, v) in [
        ("UrlQuota", "2000"),
        ("UrlRemain", "2000"),
        ("DirQuota", "100"),
        ("DirRemain", "100"),
        ("PreloadQuota", "500"),
        ("PreloadRemain", "500"),
        ("BlockQuota", "500"),
        ("blockRemain", "500"),
    ] {
        assert_eq!(fresh[k], v, "{k} in {fresh}");
    }
    h.state.set_refresh_quotas(RefreshQuotas {
        url_per_day: 3,
        dir_per_day: 1,
        preload_per_day: 2,
        block_per_day: 9,
    });
    let two = "h.test/b/1.ts\nh.test/b/2.ts";
    assert_eq!(
        act(&h, "RefreshVodObjectCaches", &[("ObjectPath", two)]).await.status,
        200
    );
    let over = act(&h, "RefreshVodObjectCaches", &[("ObjectPath", two)]).await;
    assert_error(&over, 400, "QuotaExceeded.Refresh");
    assert!(
        over.json()["Message"]
            .as_str()
            .unwrap()
            .contains("exceeded the prescribed refresh limits")
    );
    // A refused call counts nothing: one URL still fits.
    assert_eq!(
        act(&h, "RefreshVodObjectCaches", &[("ObjectPath", "h.test/b/3.ts")])
            .await
            .status,
        200
    );
    assert_eq!(
        act(
            &h,
            "RefreshVodObjectCaches",
            &[("ObjectPath", "h.test/b/"), ("ObjectType", "Directory")]
        )
        .await
        .status,
        200
    );
    assert_error(
        &act(
            &h,
            "RefreshVodObjectCaches",
            &[("ObjectPath", "h.test/c/"), ("ObjectType", "Directory")],
        )
        .await,
        400,
        "QuotaExceeded.Refresh",
    );
    let r = act(
        &h,
        "PreloadVodObjectCaches",
        &[
            ("ObjectPath", two),
            ("Area", "domestic"),
            ("L2Preload", "true"),
            ("WithHeader", r#"{"Origin":"x"}"#),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(s(&r.json(), "PreloadTaskId").split(',').count(), 2);
    assert_error(
        &act(&h, "PreloadVodObjectCaches", &[("ObjectPath", "h.test/b/9.ts")]).await,
        400,
        "QuotaExceeded.Refresh",
    );

    let q = vod_v3(&h, "DescribeVodRefreshQuota", &[]).await.json();
    let expect = [
        ("UrlQuota", "3"),
        ("UrlRemain", "0"),
        ("DirQuota", "1"),
        ("DirRemain", "0"),
        ("PreloadQuota", "2"),
        ("PreloadRemain", "0"),
        ("BlockQuota", "9"),
        ("blockRemain", "9"),
    ];
    for (k, v) in expect {
        assert_eq!(q[k], v, "{k} in {q}");
    }
    assert_eq!(q.as_object().unwrap().len(), 9, "RequestId + 8 fields");
    let preloads = tasks(&h, &[("ObjectType", "preload")]).await;
    assert_eq!(preloads["TotalCount"], 2);
}
