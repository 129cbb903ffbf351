//! The `callback.http` handler against a real HTTP receiver on 127.0.0.1: exact payload and
//! headers, signature, retry on 500 and on timeout, the outbound policy (loopback refused
//! unless allowed, redirects re-checked), and `emit_now` through a real store and queue.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;
use vod_callbacks::delivery::{DeliveryPayload, HEADER_EVENT_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP};
use vod_callbacks::{CallbackHandler, CallbacksConfig, UserData, emit, events};
use vod_core::model::{CallbackType, Job, JobStatus, MessageCallbackConfig, NewJob};
use vod_core::ports::{CallbackConfigRepo, MetaStore};
use vod_jobs::{JobContext, JobError, JobHandler};

#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

#[derive(Clone, Default)]
struct Receiver {
    log: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    fn record(&self, path: &str, headers: HeaderMap, body: Bytes) -> usize {
        let mut log = self.log.lock().unwrap();
        log.push(Received {
            path: path.into(),
            headers,
            body,
        });
        log.iter().filter(|r| r.path == path).count()
    }

    fn calls(&self, path: &str) -> Vec<Received> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    fn total(&self) -> usize {
        self.log.lock().unwrap().len()
    }
}

async fn ok(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    r.record("/ok", headers, body);
    StatusCode::OK
}

/// 500 on the first call, 200 afterwards.
async fn flaky(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    if r.record("/flaky", headers, body) == 1 {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}

async fn always_500(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    r.record("/fail", headers, body);
    StatusCode::INTERNAL_SERVER_ERROR
}

async fn created(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    r.record("/created", headers, body);
    StatusCode::CREATED
}

async fn slow(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    r.record("/slow", headers, body);
    tokio::time::sleep(Duration::from_secs(6)).await;
    StatusCode::OK
}

fn redirect(to: &str) -> Response {
    (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, to.to_string())]).into_response()
}

async fn to_private(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> Response {
    r.record("/to-private", headers, body);
    redirect("http://10.0.0.1/cb")
}

async fn to_metadata_name(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> Response {
    r.record("/to-metadata", headers, body);
    redirect("http://[::ffff:169.254.169.254]/latest")
}

async fn to_ok(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> Response {
    r.record("/to-ok", headers, body);
    redirect("/ok")
}

async fn looping(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> Response {
    r.record("/loop", headers, body);
    redirect("/loop")
}

/// Starts the receiver; returns it and its base URL (`http://127.0.0.1:<port>`).
async fn receiver() -> (Receiver, String) {
    let r = Receiver::default();
    let app = Router::new()
        .route("/ok", post(ok))
        .route("/flaky", post(flaky))
        .route("/created", post(created))
        .route("/fail", post(always_500))
        .route("/slow", post(slow))
        .route("/to-private", post(to_private))
        .route("/to-metadata", post(to_metadata_name))
        .route("/to-ok", post(to_ok))
        .route("/loop", post(looping))
        .with_state(r.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (r, format!("http://{addr}"))
}

/// AuthKeys by (account, app), as the metadata store would hold them.
#[derive(Default)]
struct Keys(Mutex<Vec<MessageCallbackConfig>>);

#[async_trait::async_trait]
impl CallbackConfigRepo for Keys {
    async fn get_message_callback(
        &self,
        account_id: &str,
        app_id: &str,
    ) -> vod_core::CoreResult<Option<MessageCallbackConfig>> {
        Ok(self
            .0
            .lock()
            .unwrap()
            .iter()
            .find(|c| c.account_id == account_id && c.app_id == app_id)
            .cloned())
    }
    async fn put_message_callback(&self, c: &MessageCallbackConfig) -> vod_core::CoreResult<()> {
        let mut all = self.0.lock().unwrap();
        all.retain(|x| !(x.account_id == c.account_id && x.app_id == c.app_id));
        all.push(c.clone());
        Ok(())
    }
    async fn delete_message_callback(&self, account_id: &str, app_id: &str) -> vod_core::CoreResult<bool> {
        let mut all = self.0.lock().unwrap();
        let before = all.len();
        all.retain(|x| !(x.account_id == account_id && x.app_id == app_id));
        Ok(all.len() < before)
    }
}

fn settings(url: &str, auth_key: Option<&str>) -> MessageCallbackConfig {
    MessageCallbackConfig {
        account_id: "acct".into(),
        app_id: "app-1000000".into(),
        callback_type: CallbackType::Http,
        callback_url: url.into(),
        event_type_list: "ALL".into(),
        auth_switch: auth_key.is_some(),
        auth_key: auth_key.unwrap_or_default().into(),
        mns_endpoint: String::new(),
        mns_queue_name: String::new(),
        created_at: 0,
        modified_at: 0,
    }
}

fn loopback_config() -> CallbacksConfig {
    CallbacksConfig {
        allow_loopback: true,
        ..Default::default()
    }
}

fn handler(config: &CallbacksConfig, keys: Arc<Keys>) -> CallbackHandler {
    CallbackHandler::new(config, keys).unwrap()
}

/// A running job made by hand from a planned `NewJob`.
fn job_from(new: &NewJob, attempt: i64) -> Job {
    Job {
        id: new.id.clone(),
        kind: new.kind.clone(),
        payload: new.payload.clone(),
        status: JobStatus::Running,
        unique_key: new.unique_key.clone(),
        attempts: attempt,
        max_attempts: new.max_attempts,
        not_before: new.not_before,
        give_up_at: new.give_up_at,
        lease_owner: Some("test-worker".into()),
        lease_expires_at: Some(vod_core::now_ms() + 60_000),
        last_error: None,
        result: None,
        created_at: new.not_before,
        updated_at: new.not_before,
        finished_at: None,
    }
}

fn ctx(attempt: i64) -> JobContext {
    JobContext {
        worker_id: "test-worker".into(),
        attempt,
        cancelled: Default::default(),
    }
}

/// A fixed FileUploadComplete for the app, planned with `user_data`, as a job.
async fn planned(keys: &Keys, url: Option<&str>, user_data: Option<&str>) -> NewJob {
    let ud = user_data.map(|s| UserData::parse(s).unwrap());
    if let Some(url) = url {
        let existing = keys.get_message_callback("acct", "app-1000000").await.unwrap();
        let mut s = existing.unwrap_or_else(|| settings(url, None));
        s.callback_url = url.into();
        keys.put_message_callback(&s).await.unwrap();
    }
    let event = events::file_upload_complete("43q91jdh7df", 1_439_213, "http://bucket.example/a.mp4")
        .at(1_489_996_157_000)
        .with_id("0123456789abcdef0123456789abcdef");
    emit::plan(
        keys,
        &CallbacksConfig::default(),
        "acct",
        "app-1000000",
        ud.as_ref(),
        event,
    )
    .await
    .unwrap()
    .expect("a delivery")
}

#[tokio::test]
async fn delivers_exact_payload_signed_and_extend_comes_back() {
    let (rx, base) = receiver().await;
    let keys = Arc::new(Keys::default());
    let url = format!("{base}/ok");
    keys.put_message_callback(&settings(&url, Some("Test123key")))
        .await
        .unwrap();
    let job = planned(&keys, None, Some(r#"{"Extend":{"localId":"xxx","test":"www"}}"#)).await;

    let before = vod_core::now_ms() / 1000;
    let result = handler(&loopback_config(), keys)
        .run(&job_from(&job, 1), &ctx(1))
        .await
        .unwrap();
    assert_eq!(result["Status"], 200);

    let calls = rx.calls("/ok");
    assert_eq!(calls.len(), 1);
    let got = &calls[0];
    let expected = r#"{"EventTime":"2017-03-20T07:49:17Z","EventType":"FileUploadComplete","VideoId":"43q91jdh7df","Size":1439213,"FileUrl":"http://bucket.example/a.mp4","Status":"success","Extend":"{\"localId\":\"xxx\",\"test\":\"www\"}","EventId":"0123456789abcdef0123456789abcdef"}"#;
    assert_eq!(std::str::from_utf8(&got.body).unwrap(), expected, "body byte for byte");
    assert_eq!(got.headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(got.headers[HEADER_EVENT_ID], "0123456789abcdef0123456789abcdef");
    let ts: i64 = got.headers[HEADER_TIMESTAMP].to_str().unwrap().parse().unwrap();
    assert_eq!(got.headers[HEADER_TIMESTAMP].len(), 10, "unix seconds, 10 digits");
    assert!((before..=before + 5).contains(&ts), "timestamp {ts} is now");
    let sig = got.headers[HEADER_SIGNATURE].to_str().unwrap();
    assert!(
        vod_auth::callback::verify_vod_callback_signature(&url, ts, "Test123key", sig),
        "signature verifies"
    );
    assert_eq!(sig, vod_auth::callback::vod_callback_signature(&url, ts, "Test123key"));
    assert!(sig.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()) && sig.len() == 32);
}

#[tokio::test]
async fn unsigned_without_key_and_override_url_wins() {
    let (rx, base) = receiver().await;
    let keys = Arc::new(Keys::default());
    // The app points elsewhere (switch off); UserData overrides the URL in stringified form.
    let mut s = settings(&format!("{base}/created"), Some("Test123key"));
    s.auth_switch = false;
    keys.put_message_callback(&s).await.unwrap();
    let ud = format!(r#"{{"MessageCallback":"{{\"CallbackURL\":\"{base}/ok\"}}","Extend":"plain"}}"#);
    let job = planned(&keys, None, Some(&ud)).await;
    handler(&loopback_config(), keys)
        .run(&job_from(&job, 1), &ctx(1))
        .await
        .unwrap();
    assert!(rx.calls("/created").is_empty());
    let got = &rx.calls("/ok")[0];
    assert!(
        got.headers.get(HEADER_TIMESTAMP).is_none() && got.headers.get(HEADER_SIGNATURE).is_none(),
        "no key, no auth headers"
    );
    let body: serde_json::Value = serde_json::from_slice(&got.body).unwrap();
    assert_eq!(body["Extend"], "plain");
}

#[tokio::test]
async fn retries_after_500_then_succeeds_with_same_body_and_id() {
    let (rx, base) = receiver().await;
    let keys = Arc::new(Keys::default());
    let job = planned(&keys, Some(&format!("{base}/flaky")), None).await;
    let h = handler(&loopback_config(), keys);
    match h.run(&job_from(&job, 1), &ctx(1)).await {
        Err(JobError::Retry { message, after }) => {
            assert!(message.contains("HTTP 500"), "{message}");
            assert_eq!(after, Some(Duration::from_secs(1)), "first back-off is 1 s");
        }
        other => panic!("expected a retry, got {other:?}"),
    }
    h.run(&job_from(&job, 2), &ctx(2))
        .await
        .expect("second attempt delivered");
    let calls = rx.calls("/flaky");
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].body, calls[1].body, "the body is identical on every attempt");
    assert_eq!(calls[0].headers[HEADER_EVENT_ID], calls[1].headers[HEADER_EVENT_ID]);
}

#[tokio::test]
async fn only_200_counts() {
    let (_rx, base) = receiver().await;
    let keys = Arc::new(Keys::default());
    let job = planned(&keys, Some(&format!("{base}/created")), None).await;
    let err = handler(&loopback_config(), keys)
        .run(&job_from(&job, 3), &ctx(3))
        .await
        .unwrap_err();
    match err {
        JobError::Retry { message, after } => {
            assert!(message.contains("HTTP 201"), "{message}");
            assert_eq!(after, Some(Duration::from_secs(4)), "back-off doubles: 1, 2, 4 s");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn slow_receiver_times_out_and_is_retried() {
    let (rx, base) = receiver().await;
    let keys = Arc::new(Keys::default());
    let job = planned(&keys, Some(&format!("{base}/slow")), None).await;
    let started = std::time::Instant::now();
    let err = handler(&loopback_config(), keys)
        .run(&job_from(&job, 1), &ctx(1))
        .await
        .unwrap_err();
    let waited = started.elapsed();
    assert!(
        matches!(&err, JobError::Retry { message, .. } if message.contains("within 5 s")),
        "{err:?}"
    );
    assert!(
        waited >= Duration::from_millis(4900) && waited < Duration::from_millis(5900),
        "gave up after 5 s, not {waited:?}"
    );
    assert_eq!(rx.calls("/slow").len(), 1);
}

#[tokio::test]
async fn loopback_refused_unless_allowed() {
    let (rx, base) = receiver().await;
    let keys = Arc::new(Keys::default());
    let strict = handler(&CallbacksConfig::default(), keys.clone());
    // An IP literal is refused before sending; a name is refused when it resolves.
    let port = base.rsplit(':').next().unwrap();
    for url in [
        format!("{base}/ok"),
        format!("http://localhost:{port}/ok"),
        format!("http://[::ffff:127.0.0.1]:{port}/ok"),
    ] {
        let job = planned(&keys, Some(&url), None).await;
        match strict.run(&job_from(&job, 1), &ctx(1)).await {
            Err(JobError::Abort(msg)) => assert!(msg.contains("not allowed"), "{url}: {msg}"),
            other => panic!("{url}: expected an abort, got {other:?}"),
        }
    }
    assert_eq!(rx.total(), 0, "nothing reached the receiver");
}

#[tokio::test]
async fn redirects_are_rechecked_and_limited() {
    let (rx, base) = receiver().await;
    let keys = Arc::new(Keys::default());
    let h = handler(&loopback_config(), keys.clone());

    for path in ["/to-private", "/to-metadata"] {
        let job = planned(&keys, Some(&format!("{base}{path}")), None).await;
        match h.run(&job_from(&job, 1), &ctx(1)).await {
            Err(JobError::Abort(msg)) => assert!(msg.contains("not allowed"), "{path}: {msg}"),
            other => panic!("{path}: expected an abort, got {other:?}"),
        }
        assert_eq!(rx.calls(path).len(), 1);
    }

    let job = planned(&keys, Some(&format!("{base}/loop")), None).await;
    match h.run(&job_from(&job, 1), &ctx(1)).await {
        Err(JobError::Abort(msg)) => assert!(msg.contains("too many redirects"), "{msg}"),
        other => panic!("expected an abort, got {other:?}"),
    }
    assert_eq!(rx.calls("/loop").len(), 4, "the first request and 3 redirects");

    // An allowed redirect (307 keeps method and body) is followed.
    let job = planned(&keys, Some(&format!("{base}/to-ok")), None).await;
    h.run(&job_from(&job, 1), &ctx(1)).await.unwrap();
    let ok = rx.calls("/ok");
    assert_eq!(ok.len(), 1);
    assert_eq!(ok[0].body, rx.calls("/to-ok")[0].body);
}

#[tokio::test]
async fn unreachable_receiver_is_retried() {
    // Bind and drop a listener: connecting to its port is refused.
    let port = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap().port()
    };
    let keys = Arc::new(Keys::default());
    let job = planned(&keys, Some(&format!("http://127.0.0.1:{port}/cb")), None).await;
    match handler(&loopback_config(), keys).run(&job_from(&job, 2), &ctx(2)).await {
        Err(JobError::Retry { message, after }) => {
            assert!(message.contains("cannot reach"), "{message}");
            assert_eq!(after, Some(Duration::from_secs(2)));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn emit_now_enqueues_a_claimable_delivery() {
    let (rx, base) = receiver().await;
    let db = vod_db::testing::SqliteTestDb::new().unwrap();
    let store: Arc<dyn MetaStore> = db.open().await.unwrap();
    let boot = vod_core::service::identity::bootstrap(store.as_ref(), None)
        .await
        .unwrap();
    let account = boot.account.id.clone();
    let mut s = settings(&format!("{base}/ok"), Some("Abc123xyz"));
    s.account_id = account.clone();
    s.event_type_list = "FileUploadComplete".into();
    store.put_message_callback(&s).await.unwrap();
    let config = CallbacksConfig {
        allow_loopback: true,
        ..Default::default()
    };
    let ud = UserData::parse(r#"{"Extend":{"k":"v"}}"#).unwrap();

    let skipped = events::transcode_complete("vid", &[]);
    assert_eq!(
        emit::emit_now(store.as_ref(), &config, &account, "app-1000000", Some(&ud), skipped)
            .await
            .unwrap(),
        None
    );
    let event = events::file_upload_complete("vid", 5, "http://f/x.mp4");
    let event_id = event.id().to_string();
    let job_id = emit::emit_now(
        store.as_ref(),
        &config,
        &account,
        "app-1000000",
        Some(&ud),
        event.clone(),
    )
    .await
    .unwrap()
    .expect("enqueued");
    let again = emit::emit_now(store.as_ref(), &config, &account, "app-1000000", Some(&ud), event)
        .await
        .unwrap();
    assert_eq!(
        again.as_deref(),
        Some(job_id.as_str()),
        "the same event is not queued twice"
    );

    let now = vod_core::now_ms();
    let job = store
        .claim("w1", &[vod_callbacks::KIND], now, 30_000)
        .await
        .unwrap()
        .expect("claimable");
    assert_eq!(job.id, job_id);
    let give_up = job.give_up_at.expect("a deadline");
    assert!(
        (give_up - job.created_at - 86_400_000).abs() < 1_000,
        "retried for 24 h"
    );
    let payload = DeliveryPayload::from_job(&job).unwrap();
    assert_eq!(payload.event_id, event_id);

    let keys: Arc<dyn CallbackConfigRepo> = store.clone();
    let h = CallbackHandler::new(&config, keys).unwrap();
    h.run(&job, &ctx(job.attempts)).await.unwrap();
    let got = &rx.calls("/ok")[0];
    let body: serde_json::Value = serde_json::from_slice(&got.body).unwrap();
    assert_eq!(body["Extend"], r#"{"k":"v"}"#);
    assert_eq!(body["EventId"], json!(event_id));
    let ts: i64 = got.headers[HEADER_TIMESTAMP].to_str().unwrap().parse().unwrap();
    assert!(vod_auth::callback::verify_vod_callback_signature(
        &format!("{base}/ok"),
        ts,
        "Abc123xyz",
        got.headers[HEADER_SIGNATURE].to_str().unwrap()
    ));
}

/// Through the real job runtime: a 500 is retried after the handler's back-off and the
/// second attempt succeeds; a receiver that never answers 200 fails the job once the retry
/// window is over, with the last error recorded.
#[tokio::test]
async fn runtime_retries_then_records_success_or_final_failure() {
    let (rx, base) = receiver().await;
    let db = vod_db::testing::SqliteTestDb::new().unwrap();
    let store: Arc<dyn MetaStore> = db.open().await.unwrap();
    let account = vod_core::service::identity::bootstrap(store.as_ref(), None)
        .await
        .unwrap()
        .account
        .id;
    let mut s = settings(&format!("{base}/flaky"), None);
    s.account_id = account.clone();
    store.put_message_callback(&s).await.unwrap();
    let config = CallbacksConfig {
        allow_loopback: true,
        retry_for_secs: 2,
        ..Default::default()
    };

    let jobs_config = vod_jobs::JobsConfig {
        poll_ms: 50,
        ..Default::default()
    };
    let keys: Arc<dyn CallbackConfigRepo> = store.clone();
    let handlers: Vec<Arc<dyn JobHandler>> = vec![Arc::new(CallbackHandler::new(&config, keys).unwrap())];
    let runtime = vod_jobs::Runtime::new(store.clone(), jobs_config, handlers);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let workers = runtime.start(stopped);

    let wait_finished = |id: String| {
        let store = store.clone();
        async move {
            for _ in 0..200 {
                let job = store.get_job(&id).await.unwrap().unwrap();
                if job.status.is_finished() {
                    return job;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("job {id} did not finish");
        }
    };

    let event = events::file_upload_complete("vid", 1, "http://f/x.mp4");
    let id = emit::emit_now(store.as_ref(), &config, &account, "app-1000000", None, event)
        .await
        .unwrap()
        .unwrap();
    let job = wait_finished(id).await;
    assert_eq!(job.status, JobStatus::Succeeded, "{job:?}");
    assert_eq!(job.attempts, 2);
    assert_eq!(job.result.as_ref().unwrap()["Status"], 200);
    assert_eq!(rx.calls("/flaky").len(), 2);

    s.callback_url = format!("{base}/fail");
    store.put_message_callback(&s).await.unwrap();
    let event = events::file_upload_complete("vid", 1, "http://f/x.mp4");
    let id = emit::emit_now(store.as_ref(), &config, &account, "app-1000000", None, event)
        .await
        .unwrap()
        .unwrap();
    let job = wait_finished(id).await;
    assert_eq!(job.status, JobStatus::Failed, "{job:?}");
    assert!(
        job.last_error.as_deref().unwrap_or_default().contains("HTTP 500"),
        "{job:?}"
    );
    let tries = rx.calls("/fail").len();
    assert!(
        (2..=3).contains(&tries),
        "retried within the 2 s window: {tries} attempts"
    );

    stop.send(true).unwrap();
    workers.await.unwrap();
}
