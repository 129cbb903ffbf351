//! A large body streams to storage and back: resident memory does not grow with the object.
//! Alone in its test binary, so no other test's allocations count.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use bytes::Bytes;
use http_body_util::BodyExt;
use tower::ServiceExt as _;
use vod_blob::{BlobStore, ObjectStore};
use vod_core::service::identity::bootstrap;
use vod_oss::{NoUploadEvents, OssConfig, OssService};

const AK: &str = "LTAImemoryTestRoot";
const SECRET: &str = "memory-test-secret";

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn signed(method: &str, key: &str, body: Body) -> Request<Body> {
    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    let sts = format!("{method}\n\n\n{date}\n/outin-vodstack/{key}");
    Request::builder()
        .method(method)
        .uri(format!("/outin-vodstack/{key}"))
        .header("host", "127.0.0.1:9000")
        .header("date", date)
        .header(
            "authorization",
            format!("OSS {AK}:{}", vod_auth::oss_v1::sign(SECRET, &sts)),
        )
        .body(body)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_upload_streams_with_flat_memory() {
    const FRAME: usize = 256 * 1024;
    const FRAMES: usize = 1024; // 256 MiB
    let db = vod_db::testing::SqliteTestDb::new().unwrap();
    let store = db.open().await.unwrap();
    let boot = bootstrap(store.as_ref(), Some((AK, SECRET))).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let objects = Arc::new(ObjectStore::new(BlobStore::fs(dir.path()).unwrap(), store));
    let svc = Arc::new(OssService::new(
        OssConfig::default(),
        objects,
        Arc::new(NoUploadEvents),
        boot.master_key,
    ));
    let router = vod_oss::router(svc);

    let frame = Bytes::from((0..FRAME).map(|i| i as u8).collect::<Vec<u8>>());
    let before = rss_kib();
    let stream = futures::stream::iter((0..FRAMES).map(move |_| Ok::<_, std::io::Error>(frame.clone())));
    let resp = router
        .clone()
        .oneshot(signed("PUT", "big.bin", Body::from_stream(stream)))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let after_put = rss_kib().saturating_sub(before) / 1024;

    let resp = router.oneshot(signed("GET", "big.bin", Body::empty())).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let mut body = resp.into_body();
    let mut n = 0u64;
    while let Some(frame) = body.frame().await {
        n += frame.unwrap().into_data().map(|d| d.len() as u64).unwrap_or(0);
    }
    assert_eq!(n, (FRAME * FRAMES) as u64);
    let after_get = rss_kib().saturating_sub(before) / 1024;
    eprintln!("RSS growth for a 256 MiB object: {after_put} MiB after PUT, {after_get} MiB after GET");
    assert!(
        after_put < 48 && after_get < 48,
        "RSS grew {after_put} / {after_get} MiB"
    );
}
