//! The media flows through the gateway on PostgreSQL (a fresh schema per test, dropped
//! afterwards): upload, completion with its jobs, idempotent reports, refresh and
//! overwrite, the Damaged error, SearchMedia's SQL, and deletion. Skipped (with a SKIPPED
//! line) without `VODSTACK_TEST_DATABASE_URL`, failed under `CI`.

mod common;
mod media_util;

use std::sync::Arc;

use common::*;
use media_util::{CallbackPlanner, USER_DATA, decode, md5_of};
use serde_json::{Value, json};
use vod_api::Gateway;
use vod_api::{AppState, GatewayConfig};
use vod_core::model::{ObjectType, StoredObject};
use vod_core::ports::MetaStore;
use vod_core::uploads::{CompletedObject, UploadEvents};

async fn app(store: Arc<dyn MetaStore>) -> (Gateway, AppState) {
    let boot = vod_core::service::identity::bootstrap(store.as_ref(), Some((AK, SECRET)))
        .await
        .unwrap();
    let state = AppState::new(store.clone(), GatewayConfig::default(), boot.master_key)
        .await
        .unwrap();
    state.media().set_event_planner(Arc::new(CallbackPlanner::new(
        store,
        vod_callbacks::CallbacksConfig::default(),
    )));
    (vod_api::gateway(state.clone()), state)
}

/// Status and JSON body of a call (a `Send` future, unlike `common::call`, so it can run
/// inside `run_on_postgres`).
async fn send(app: &Gateway, req: http::Request<axum::body::Body>) -> (u16, Value) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap())
}

async fn vod(app: &Gateway, params: &[(&str, &str)]) -> Value {
    let (status, body) = send(app, v1("POST", params, AK, SECRET, &[])).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn complete(state: &AppState, key: &str, size: u64, seed: &str, media_id: &str) -> CompletedObject {
    let account = state.store().first_account().await.unwrap().unwrap();
    let md5 = md5_of(seed);
    let object = StoredObject {
        bucket: "outin-vodstack".into(),
        key: key.into(),
        object_id: vod_core::ids::hex_id(),
        account_id: account.id.clone(),
        size,
        etag: md5.to_ascii_uppercase(),
        md5_hex: Some(md5.clone()),
        crc64: 0,
        content_type: "video/mp4".into(),
        object_type: ObjectType::Normal,
        blob: Some("blobs/x".into()),
        part_count: 0,
        media_id: Some(media_id.into()),
        created_at: vod_core::now_ms(),
        notified: false,
    };
    state.store().put_object(&object).await.unwrap();
    let done = CompletedObject {
        account_id: account.id,
        bucket: "outin-vodstack".into(),
        key: key.into(),
        size,
        md5_hex: md5.clone(),
        etag: md5.to_ascii_uppercase(),
        crc64: 0,
        content_type: None,
        media_id: Some(media_id.into()),
    };
    state.media().object_completed(&done).await.unwrap();
    done
}

async fn jobs(state: &AppState, kind: &str, media_id: &str) -> usize {
    let all = state.store().list_jobs(None, Some(kind), 1000).await.unwrap();
    all.iter()
        .filter(|j| j.payload["media_id"] == media_id || j.payload["event"]["VideoId"] == media_id)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_refresh_search_delete_on_postgres() {
    vod_db::testing::run_on_postgres(
        "media_postgres::upload_refresh_search_delete_on_postgres",
        |store| async move {
            let (app, state) = app(store).await;
            let j = vod(
                &app,
                &[
                    ("Action", "CreateUploadVideo"),
                    ("Title", "pg video"),
                    ("FileName", "a.mp4"),
                    ("UserData", USER_DATA),
                    ("ReferenceId", "pg-ref-01"),
                ],
            )
            .await;
            let id = j["VideoId"].as_str().unwrap().to_string();
            let addr = decode(j["UploadAddress"].as_str().unwrap());
            let key = addr["FileName"].as_str().unwrap().to_string();
            let dup = send(
                &app,
                v1(
                    "POST",
                    &[
                        ("Action", "CreateUploadVideo"),
                        ("Title", "t"),
                        ("FileName", "a.mp4"),
                        ("ReferenceId", "pg-ref-01"),
                    ],
                    AK,
                    SECRET,
                    &[],
                ),
            )
            .await;
            assert_eq!((dup.0, dup.1["Code"].as_str()), (400, Some("InvalidParameter")));

            let done = complete(&state, &key, 5000, "pg-1", &id).await;
            state.media().object_completed(&done).await.unwrap();
            let v = vod(&app, &[("Action", "GetVideoInfo"), ("VideoId", &id)]).await;
            assert_eq!(
                (v["Video"]["Status"].as_str(), v["Video"]["Size"].as_i64()),
                (Some("UploadSucc"), Some(5000))
            );
            assert_eq!(
                (
                    jobs(&state, "callback.http", &id).await,
                    jobs(&state, "media.transcode", &id).await
                ),
                (1, 1)
            );
            assert_eq!(jobs(&state, "media.probe", &id).await, 0, "the transcode job probes");

            let r = vod(&app, &[("Action", "RefreshUploadVideo"), ("ReferenceId", "pg-ref-01")]).await;
            assert_eq!(decode(r["UploadAddress"].as_str().unwrap()), addr);
            complete(&state, &key, 6000, "pg-2", &id).await;
            assert_eq!(
                jobs(&state, "media.transcode", &id).await,
                2,
                "the overwrite queues the jobs again"
            );

            for title in ["alpha one", "beta two", "alpha three"] {
                vod(
                    &app,
                    &[("Action", "CreateUploadVideo"), ("Title", title), ("FileName", "b.mp4")],
                )
                .await;
                tokio::time::sleep(std::time::Duration::from_millis(3)).await;
            }
            let s = vod(
                &app,
                &[
                    ("Action", "SearchMedia"),
                    ("Match", "Title = 'ALPHA' or Status in ('UploadSucc')"),
                    ("PageSize", "2"),
                ],
            )
            .await;
            assert_eq!(s["Total"], json!(3));
            let token = s["ScrollToken"].as_str().unwrap().to_string();
            let rest = vod(
                &app,
                &[
                    ("Action", "SearchMedia"),
                    ("Match", "Title = 'ALPHA' or Status in ('UploadSucc')"),
                    ("PageSize", "2"),
                    ("ScrollToken", &token),
                ],
            )
            .await;
            assert_eq!(rest["MediaList"][0]["Video"]["VideoId"], id.as_str());
            let exact = vod(
                &app,
                &[
                    ("Action", "SearchMedia"),
                    (
                        "Match",
                        "Title == 'beta two' and CreationTime = ('2000-01-01T00:00:00Z',)",
                    ),
                ],
            )
            .await;
            assert_eq!(exact["Total"], json!(1));

            // Damaged: an empty source.
            let j = vod(
                &app,
                &[
                    ("Action", "CreateUploadVideo"),
                    ("Title", "empty"),
                    ("FileName", "e.mp4"),
                ],
            )
            .await;
            let empty = j["VideoId"].as_str().unwrap().to_string();
            let ekey = decode(j["UploadAddress"].as_str().unwrap())["FileName"]
                .as_str()
                .unwrap()
                .to_string();
            complete(&state, &ekey, 0, "none", &empty).await;
            let r = send(
                &app,
                v1(
                    "POST",
                    &[("Action", "RefreshUploadVideo"), ("VideoId", &empty)],
                    AK,
                    SECRET,
                    &[],
                ),
            )
            .await;
            assert_eq!((r.0, r.1["Code"].as_str()), (400, Some("InvalidVideo.Damaged")));

            let d = vod(
                &app,
                &[("Action", "DeleteVideo"), ("VideoIds", &format!("{id},missing"))],
            )
            .await;
            assert_eq!(d["NonExistVideoIds"], json!(["missing"]));
            assert_eq!(jobs(&state, "media.purge", &id).await, 1);
            let account = state.store().first_account().await.unwrap().unwrap();
            assert!(!state.media().upload_allowed(&account.id, &id, Some(2)).await.unwrap());
            let r = send(
                &app,
                v1("POST", &[("Action", "GetVideoInfo"), ("VideoId", &id)], AK, SECRET, &[]),
            )
            .await;
            assert_eq!(r.0, 404);
        },
    )
    .await;
}
