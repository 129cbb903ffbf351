//! No callback is lost when the only `vodstack serve` node is SIGKILLed halfway through a
//! burst of deliveries and restarted: every event arrives at least once (duplicates are
//! allowed — delivery is at-least-once — and counted), and every `callback.http` job ends
//! succeeded.
//!
//! 500 synthetic FileUploadComplete events are enqueued with the diagnostic
//! `vodstack callbacks emit-test` (going through the production planning path) towards a
//! receiver in this test that records each POST on arrival and answers 200 after a short
//! delay, so deliveries are in flight when the node dies. Runs on a SQLite file and on a
//! fresh PostgreSQL schema from `VODSTACK_TEST_DATABASE_URL` (skipped loudly when unset, a
//! failure under `CI=true`).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::Value;

const EVENTS: u64 = 500;
/// How long the receiver holds each request before answering 200.
const RECEIVER_DELAY: Duration = Duration::from_millis(30);
/// Deliveries one node runs at once (with the delay: ~130 events/s, ~4 s for all).
const CONCURRENCY: &str = "4";
const LEASE_SECS: &str = "2";

/// Every POST the receiver got: (X-VOD-EVENT-ID, body VideoId), in arrival order.
type Seen = Arc<Mutex<Vec<(String, String)>>>;

/// A loopback HTTP receiver on its own runtime (stops when dropped).
struct Receiver {
    url: String,
    seen: Seen,
    _rt: tokio::runtime::Runtime,
}

impl Receiver {
    fn start() -> Receiver {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let seen: Seen = Arc::default();
        let record = seen.clone();
        let app = Router::new().route(
            "/cb",
            post(move |headers: HeaderMap, body: String| {
                let record = record.clone();
                async move {
                    let event: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                    let id = headers
                        .get("x-vod-event-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string();
                    // A body whose EventId differs from the header shows up as a stray video.
                    let video = match event["EventId"].as_str() {
                        Some(e) if e == id => event["VideoId"].as_str().unwrap_or_default().to_string(),
                        _ => format!("EventId mismatch: {body}"),
                    };
                    record.lock().unwrap().push((id, video));
                    tokio::time::sleep(RECEIVER_DELAY).await;
                    StatusCode::OK
                }
            }),
        );
        let addr: SocketAddr = rt.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            tokio::spawn(async move { axum::serve(listener, app).await });
            addr
        });
        Receiver {
            url: format!("http://{addr}/cb"),
            seen,
            _rt: rt,
        }
    }

    fn snapshot(&self) -> Vec<(String, String)> {
        self.seen.lock().unwrap().clone()
    }

    fn distinct_videos(&self) -> usize {
        let seen = self.seen.lock().unwrap();
        seen.iter().map(|(_, v)| v).collect::<BTreeSet<_>>().len()
    }

    /// Waits until `want` distinct VideoIds arrived; returns how long that took.
    fn wait_distinct(&self, want: usize, limit: Duration) -> Duration {
        let start = Instant::now();
        loop {
            let got = self.distinct_videos();
            if got >= want {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < limit,
                "only {got} of {want} events arrived within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

mod support;

use support::{Node, cli};

const ROOT_KEY: (&str, &str) = ("LTAIcallbackskill01", "callbacks-kill-test-secret-0123456789");

/// A `vodstack` command with a clean environment on `db_url`.
fn command(db_url: &str, dir: &Path) -> Command {
    support::command(db_url, dir, ROOT_KEY)
}

/// Starts serve node number `n` and waits until it runs `callback.http`.
fn start_node(db_url: &str, root: &Path, n: u32) -> Node {
    let mut cmd = command(db_url, root);
    cmd.arg("serve")
        .env("VODSTACK_API_ADDR", "127.0.0.1:0")
        .env("VODSTACK_OSS_ADDR", "127.0.0.1:0")
        .env("VODSTACK_CALLBACKS__ALLOW_LOOPBACK", "true")
        .env("VODSTACK_JOBS__CONCURRENCY__CALLBACK_HTTP", CONCURRENCY)
        .env("VODSTACK_JOBS__LEASE_SECS", LEASE_SECS)
        .env("VODSTACK_JOBS__POLL_MS", "100")
        .env("VODSTACK_JOBS__SHUTDOWN_GRACE_SECS", "2");
    Node::start(
        &format!("node-{n}"),
        cmd,
        root.join(format!("serve-{n}.log")),
        &["callback.http"],
    )
}

fn job_statuses(db_url: &str, root: &Path) -> BTreeMap<String, usize> {
    let list = cli(
        command(db_url, root),
        &["jobs", "list", "--kind", "callback.http", "--limit", "100000"],
    );
    let mut counts = BTreeMap::new();
    for job in list.as_array().unwrap() {
        *counts.entry(job["Status"].as_str().unwrap().to_string()).or_default() += 1;
    }
    counts
}

fn no_loss_after_kill9(db_url: &str, root: &Path) {
    let receiver = Receiver::start();
    let node = start_node(db_url, root, 1);
    let emitted = cli(
        command(db_url, root),
        &[
            "callbacks",
            "emit-test",
            "--count",
            &EVENTS.to_string(),
            "--url",
            &receiver.url,
        ],
    );
    assert_eq!(emitted["Enqueued"], EVENTS, "{emitted}");
    assert_eq!(emitted["URL"], receiver.url.as_str());

    let half = usize::try_from(EVENTS / 2).unwrap();
    receiver.wait_distinct(half, Duration::from_secs(15));
    let _ = node.kill9();
    let at_kill = receiver.distinct_videos();
    assert!(
        at_kill < usize::try_from(EVENTS).unwrap(),
        "every event arrived before the kill; the test proves nothing"
    );
    let in_db = job_statuses(db_url, root);
    assert!(
        in_db.get("succeeded").copied().unwrap_or(0) < usize::try_from(EVENTS).unwrap(),
        "{in_db:?}"
    );

    let restarted = start_node(db_url, root, 2);
    receiver.wait_distinct(usize::try_from(EVENTS).unwrap(), Duration::from_secs(25));
    // Deliveries and their outcomes are written a moment apart: let the last ones land.
    let deadline = Instant::now() + Duration::from_secs(10);
    let statuses = loop {
        let s = job_statuses(db_url, root);
        if s.get("succeeded").copied() == Some(usize::try_from(EVENTS).unwrap()) {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "not every job succeeded: {s:?}\n{}",
            restarted.stderr()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(statuses.len(), 1, "{statuses:?}");
    restarted.stop();

    let seen = receiver.snapshot();
    let mut ids_of_video: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (id, video) in &seen {
        ids_of_video.entry(video.as_str()).or_default().insert(id.as_str());
    }
    let wanted: BTreeSet<String> = (0..EVENTS).map(|n| format!("diag-{n}")).collect();
    let got: BTreeSet<String> = ids_of_video.keys().map(|v| v.to_string()).collect();
    assert_eq!(got, wanted, "lost or unexpected events");
    for (video, ids) in &ids_of_video {
        assert_eq!(ids.len(), 1, "{video} arrived with several event ids: {ids:?}");
    }
    let duplicates = seen.len() - wanted.len();
    // Straight to stderr: libtest hides the output of passing tests otherwise.
    let _ = writeln!(
        std::io::stderr(),
        "\ncallbacks_kill ({}): {EVENTS} events, {at_kill} distinct before SIGKILL, {} POSTs, \
         {duplicates} duplicate(s) after the restart",
        db_url.split(':').next().unwrap_or("?"),
        seen.len()
    );
}

#[test]
fn sqlite_no_callback_lost_after_kill9() {
    let root = tempfile::Builder::new().prefix("vodcbkill-").tempdir().unwrap();
    let url = format!("sqlite://{}", root.path().join("shared.db").display());
    no_loss_after_kill9(&url, root.path());
}

#[test]
fn postgres_no_callback_lost_after_kill9() {
    let test = "callbacks_kill::postgres_no_callback_lost_after_kill9";
    let Some(base) = vod_db::testing::postgres_test_url(test) else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let schema = rt.block_on(vod_db::testing::PgTestSchema::create(&base)).unwrap();
    let root = tempfile::Builder::new().prefix("vodcbkill-").tempdir().unwrap();
    let url = schema.url().to_string();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| no_loss_after_kill9(&url, root.path())));
    rt.block_on(schema.drop_schema()).unwrap();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
