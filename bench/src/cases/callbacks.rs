//! Case `callbacks`: HTTP event callbacks delivered by vodstack's job runtime to a local
//! receiver, against the receiver's own request ceiling, and no loss across a kill -9.
//!
//! 1. **Ceiling.** A receiver (hyper HTTP/1.1 in this process: parses the JSON body, checks
//!    `X-VOD-EVENT-ID` against its `EventId` and the `X-VOD-SIGNATURE` md5, records the event
//!    id, answers 200) is hit directly by a client posting the same kind of bodies with the
//!    same headers at the same concurrency: events/s and per-request latency.
//! 2. **vodstack.** `vodstack serve` (loopback callbacks allowed, `callback.http`
//!    concurrency raised to the same figure) gets SetMessageCallback (HTTP, the receiver's
//!    URL, an AuthKey) through a signed V3 request; then `vodstack callbacks emit-test`
//!    enqueues N synthetic FileUploadComplete deliveries (the production planning path).
//!    Measured: from starting emit-test until the receiver holds all N distinct event ids.
//! 3. **kill -9.** N more events; when half have arrived the server is SIGKILLed and started
//!    again on the same data directory. Every event must still arrive (duplicates are
//!    allowed — delivery is at-least-once — and counted) and every job must end succeeded.
//!
//! No target is set for the ratio; the check is that nothing is lost.

use std::collections::HashSet;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::Args;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};

use crate::Common;
use crate::cpu::Sample;
use crate::load::{self, Conn, RequestFn};
use crate::proc::{self, ACCESS_KEY_ID, ACCESS_KEY_SECRET};
use crate::report::{Check, Report, Row};
use crate::sign::V3Signer;

const DEFAULT_COUNT: u64 = 10_000;
const DEFAULT_CONCURRENCY: usize = 64;
/// The AuthKey set with SetMessageCallback (upper, lower and digits, as Alibaba requires).
const AUTH_KEY: &str = "BenchCallbackKey2024";
const LEASE_SECS: &str = "5";
const POLL_MS: &str = "100";
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Options of the callbacks case.
#[derive(Debug, Clone, Args)]
pub struct CallbacksArgs {
    /// Events per phase (ceiling, vodstack, kill -9).
    #[arg(long, default_value_t = DEFAULT_COUNT)]
    pub count: u64,
    /// Deliveries in flight at once: vodstack's `callback.http` concurrency and the
    /// ceiling client's connections.
    #[arg(long, default_value_t = DEFAULT_CONCURRENCY)]
    pub concurrency: usize,
    /// Skip the kill -9 phase.
    #[arg(long)]
    pub no_kill: bool,
}

impl Default for CallbacksArgs {
    fn default() -> Self {
        Self {
            count: DEFAULT_COUNT,
            concurrency: DEFAULT_CONCURRENCY,
            no_kill: false,
        }
    }
}

// ---- the receiver ---------------------------------------------------------------------

/// What the receiver saw in one phase.
#[derive(Default)]
struct Tally {
    ids: Mutex<HashSet<String>>,
    distinct: AtomicUsize,
    posts: AtomicU64,
    bad: AtomicU64,
    first_bad: Mutex<Option<String>>,
}

impl Tally {
    fn bad(&self, why: String) {
        self.bad.fetch_add(1, Ordering::Relaxed);
        self.first_bad
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert(why);
    }

    fn distinct(&self) -> usize {
        self.distinct.load(Ordering::Acquire)
    }

    fn posts(&self) -> u64 {
        self.posts.load(Ordering::Acquire)
    }

    fn first_bad(&self) -> Option<String> {
        self.first_bad.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

struct ReceiverState {
    /// The URL senders sign (`X-VOD-SIGNATURE` = md5(url|ts|key)).
    url: String,
    current: Mutex<Arc<Tally>>,
}

/// The local callback receiver (runs in this process until dropped).
struct Receiver {
    addr: SocketAddr,
    state: Arc<ReceiverState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    async fn start() -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot bind the receiver")?;
        let addr = listener.local_addr()?;
        let state = Arc::new(ReceiverState {
            url: format!("http://{addr}/callback"),
            current: Mutex::new(Arc::default()),
        });
        let serving = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let state = serving.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| receive(req, state.clone()));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self { addr, state, task })
    }

    fn url(&self) -> &str {
        &self.state.url
    }

    /// Starts a new phase: later requests are counted in the returned tally.
    fn phase(&self) -> Arc<Tally> {
        let tally = Arc::new(Tally::default());
        *self.state.current.lock().unwrap_or_else(PoisonError::into_inner) = tally.clone();
        tally
    }
}

async fn receive(req: Request<Incoming>, state: Arc<ReceiverState>) -> Result<Response<Full<Bytes>>, Infallible> {
    let tally = state.current.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let (parts, body) = req.into_parts();
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (id, ts, sig) = (
        header("x-vod-event-id"),
        header("x-vod-timestamp"),
        header("x-vod-signature"),
    );
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            tally.bad(format!("reading the body: {e}"));
            return Ok(answer(StatusCode::BAD_REQUEST));
        }
    };
    let event: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let Some(id) = id.filter(|id| event["EventId"].as_str() == Some(id.as_str())) else {
        tally.bad(format!(
            "X-VOD-EVENT-ID missing or not the body's EventId: {}",
            String::from_utf8_lossy(&body)
        ));
        return Ok(answer(StatusCode::BAD_REQUEST));
    };
    let signed = ts
        .as_deref()
        .and_then(|t| t.parse::<i64>().ok())
        .zip(sig)
        .is_some_and(|(t, s)| vod_auth::callback::vod_callback_signature(&state.url, t, AUTH_KEY) == s);
    if !signed {
        tally.bad(format!("event {id}: missing or wrong X-VOD-SIGNATURE"));
        return Ok(answer(StatusCode::FORBIDDEN));
    }
    tally.posts.fetch_add(1, Ordering::AcqRel);
    let mut ids = tally.ids.lock().unwrap_or_else(PoisonError::into_inner);
    if ids.insert(id) {
        tally.distinct.store(ids.len(), Ordering::Release);
    }
    drop(ids);
    Ok(answer(StatusCode::OK))
}

fn answer(status: StatusCode) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = status;
    resp
}

/// Waits until `tally` holds `want` distinct ids (true) or `limit` passes (false).
async fn wait_distinct(tally: &Tally, want: usize, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while tally.distinct() < want {
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    true
}

fn wait_limit(count: u64) -> Duration {
    Duration::from_secs(60 + count / 50)
}

// ---- the ceiling client ---------------------------------------------------------------

fn unix_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// One POST as vodstack sends it: a FileUploadComplete body (same fields as the synthetic
/// events of `emit-test`), event id, timestamp and signature headers.
fn callback_request(addr: SocketAddr, url: &str, n: u64, out: &mut Vec<u8>) {
    let id = format!("{:032x}", rand::random::<u128>());
    let ts = unix_secs();
    let body = json!({
        "EventTime": "2024-01-01T00:00:00Z",
        "EventType": "FileUploadComplete",
        "VideoId": format!("ceiling-{n}"),
        "Size": n,
        "FileUrl": format!("http://diag.invalid/ceiling-{n}.mp4"),
        "Status": "success",
        "EventId": id,
    })
    .to_string();
    let sig = vod_auth::callback::vod_callback_signature(url, ts, AUTH_KEY);
    let head = format!(
        "POST /callback HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
         x-vod-event-id: {id}\r\nx-vod-timestamp: {ts}\r\nx-vod-signature: {sig}\r\n\
         user-agent: vodstack-bench\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(body.as_bytes());
}

/// `count` POSTs over `connections` keep-alive connections, straight to the receiver.
async fn ceiling(receiver: &Receiver, count: u64, connections: usize) -> Row {
    let tally = receiver.phase();
    let next = Arc::new(AtomicU64::new(0));
    let (addr, url) = (receiver.addr, receiver.url().to_string());
    let sample = Sample::take(None);
    let started = Instant::now();
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let (next, url) = (next.clone(), url.clone());
            tokio::spawn(async move {
                let mut hist =
                    Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("static histogram bounds are valid");
                let (mut errors, mut first_error) = (0u64, None::<String>);
                let mut conn: Option<Conn> = None;
                let mut request = Vec::with_capacity(1024);
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= count {
                        break;
                    }
                    if conn.is_none() {
                        match Conn::connect(addr).await {
                            Ok(c) => conn = Some(c),
                            Err(e) => {
                                errors += 1;
                                first_error.get_or_insert(format!("connect: {e}"));
                                continue;
                            }
                        }
                    }
                    let Some(c) = conn.as_mut() else { continue };
                    request.clear();
                    callback_request(addr, &url, n, &mut request);
                    let sent = Instant::now();
                    match tokio::time::timeout(REQUEST_TIMEOUT, c.exchange(&request)).await {
                        Ok(Ok(resp)) if resp.status == 200 => {
                            let micros = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
                            hist.saturating_record(micros);
                            if resp.close {
                                conn = None;
                            }
                        }
                        Ok(Ok(resp)) => {
                            errors += 1;
                            first_error.get_or_insert(format!("HTTP {}", resp.status));
                        }
                        Ok(Err(e)) => {
                            errors += 1;
                            first_error.get_or_insert(format!("exchange: {e}"));
                            conn = None;
                        }
                        Err(_) => {
                            errors += 1;
                            first_error.get_or_insert("no response in time".into());
                            conn = None;
                        }
                    }
                }
                (hist, errors, first_error)
            })
        })
        .collect();
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("static histogram bounds are valid");
    let (mut errors, mut first_error) = (0u64, None::<String>);
    for w in workers {
        match w.await {
            Ok((h, e, f)) => {
                let _ = hist.add(&h);
                errors += e;
                if first_error.is_none() {
                    first_error = f;
                }
            }
            Err(e) => {
                errors += 1;
                first_error.get_or_insert(format!("client task: {e}"));
            }
        }
    }
    let secs = started.elapsed().as_secs_f64().max(1e-9);
    let (_, generator) = sample.cores_until(&Sample::take(None));
    let missing = count.saturating_sub(tally.distinct() as u64);
    if tally.bad.load(Ordering::Relaxed) > 0 {
        errors += tally.bad.load(Ordering::Relaxed);
        first_error = first_error.or_else(|| tally.first_bad());
    }
    if missing > 0 && errors == 0 {
        errors = missing;
        first_error = Some(format!("{missing} events never reached the receiver"));
    }
    Row {
        target: "receiver".into(),
        requests: tally.distinct() as u64,
        per_sec: tally.distinct() as f64 / secs,
        p50_us: hist.value_at_quantile(0.50),
        p99_us: hist.value_at_quantile(0.99),
        max_us: hist.max(),
        errors,
        first_error,
        server_cores: None,
        generator_cores: generator,
    }
}

// ---- vodstack -------------------------------------------------------------------------

/// A `vodstack` command on the bench's data directory with a clean environment.
fn vodstack_command(binary: &Path, dir: &Path) -> Command {
    let mut cmd = Command::new(binary);
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().to_string();
        if key.starts_with("VODSTACK_") || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    cmd.arg("--data-dir")
        .arg(dir.join("data"))
        .env("VODSTACK_ROOT_ACCESS_KEY_ID", ACCESS_KEY_ID)
        .env("VODSTACK_ROOT_ACCESS_KEY_SECRET", ACCESS_KEY_SECRET)
        .current_dir(dir);
    cmd
}

/// One `vodstack serve` (SIGKILLed on drop).
struct Vod {
    addr: SocketAddr,
    child: Child,
    log: PathBuf,
}

impl Vod {
    async fn start(binary: &Path, dir: &Path, concurrency: usize, n: u32) -> anyhow::Result<Self> {
        let addr = proc::free_addr()?;
        let log = dir.join(format!("vodstack-{n}.log"));
        let out = std::fs::File::create(&log)?;
        let mut cmd = vodstack_command(binary, dir);
        cmd.arg("serve")
            .arg("--api-addr")
            .arg(addr.to_string())
            .env("VODSTACK_OSS_ADDR", "127.0.0.1:0")
            .env("VODSTACK_GATEWAY__THROTTLE__ENABLED", "false")
            .env("VODSTACK_CALLBACKS__ALLOW_LOOPBACK", "true")
            .env("VODSTACK_JOBS__CONCURRENCY__CALLBACK_HTTP", concurrency.to_string())
            .env("VODSTACK_JOBS__LEASE_SECS", LEASE_SECS)
            .env("VODSTACK_JOBS__POLL_MS", POLL_MS)
            .env("VODSTACK_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .kill_on_drop(true);
        let child = cmd.spawn().context("cannot start vodstack")?;
        let mut vod = Self { addr, child, log };
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = vod.child.try_wait()? {
                bail!("vodstack exited during start-up ({status}):\n{}", vod.log_tail());
            }
            let jobs_line = vod
                .log_tail()
                .lines()
                .any(|l| l.trim_start().starts_with("jobs ") && l.contains("callback.http"));
            if jobs_line && tokio::net::TcpStream::connect(addr).await.is_ok() {
                return Ok(vod);
            }
            if Instant::now() >= deadline {
                bail!("vodstack did not start within {READY_TIMEOUT:?}:\n{}", vod.log_tail());
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    async fn kill9(mut self) {
        let _ = self.child.kill().await;
    }

    /// SIGTERM and wait; a warning when it did not stop cleanly.
    async fn stop(mut self) -> Option<String> {
        let pid = self
            .child
            .id()
            .and_then(|p| i32::try_from(p).ok())
            .and_then(rustix::process::Pid::from_raw)?;
        if let Err(e) = rustix::process::kill_process(pid, rustix::process::Signal::TERM) {
            return Some(format!("cannot signal vodstack: {e}"));
        }
        match tokio::time::timeout(Duration::from_secs(20), self.child.wait()).await {
            Ok(Ok(s)) if s.success() => None,
            Ok(Ok(s)) => Some(format!("vodstack exited with {s}:\n{}", self.log_tail())),
            Ok(Err(e)) => Some(format!("waiting for vodstack: {e}")),
            Err(_) => {
                let _ = self.child.kill().await;
                Some("vodstack ignored SIGTERM for 20 s; killed".into())
            }
        }
    }

    /// SetMessageCallback for the default app: HTTP to `url`, FileUploadComplete, AuthKey.
    async fn set_callback(&self, url: &str) -> anyhow::Result<()> {
        let signer = V3Signer::new(
            &self.addr.to_string(),
            "SetMessageCallback",
            "2017-03-21",
            &[
                ("AppId", "app-1000000"),
                ("CallbackType", "HTTP"),
                ("CallbackURL", url),
                ("EventTypeList", "FileUploadComplete"),
                ("AuthSwitch", "on"),
                ("AuthKey", AUTH_KEY),
            ],
            (ACCESS_KEY_ID, ACCESS_KEY_SECRET),
        );
        let make: RequestFn = Arc::new(move |out: &mut Vec<u8>| signer.write_request(out));
        let resp = load::probe(self.addr, &make, REQUEST_TIMEOUT).await?;
        if resp.status != 200 {
            bail!(
                "SetMessageCallback answered HTTP {}: {}",
                resp.status,
                String::from_utf8_lossy(&resp.body)
            );
        }
        Ok(())
    }
}

/// `vodstack callbacks emit-test --count COUNT --first FIRST`; its JSON answer.
async fn emit(binary: &Path, dir: &Path, count: u64, first: u64) -> anyhow::Result<Value> {
    let out = vodstack_command(binary, dir)
        .args(["callbacks", "emit-test", "--count"])
        .arg(count.to_string())
        .arg("--first")
        .arg(first.to_string())
        .stdin(Stdio::null())
        .output()
        .await
        .context("cannot run vodstack callbacks emit-test")?;
    if !out.status.success() {
        bail!(
            "vodstack callbacks emit-test failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let v: Value = serde_json::from_slice(&out.stdout).context("emit-test printed no JSON")?;
    if v["Enqueued"].as_u64() != Some(count) {
        bail!("emit-test enqueued {} of {count}", v["Enqueued"]);
    }
    Ok(v)
}

/// How many `callback.http` jobs are in `status`.
async fn jobs_in(binary: &Path, dir: &Path, status: &str) -> anyhow::Result<usize> {
    let out = vodstack_command(binary, dir)
        .args(["jobs", "list", "--kind", "callback.http", "--limit", "1000000"])
        .args(["--status", status])
        .stdin(Stdio::null())
        .output()
        .await?;
    if !out.status.success() {
        bail!("vodstack jobs list failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let v: Value = serde_json::from_slice(&out.stdout)?;
    Ok(v.as_array().map_or(0, Vec::len))
}

/// Waits (bounded) until no `callback.http` job is queued or running; returns the number
/// that failed.
async fn settled_failures(binary: &Path, dir: &Path) -> anyhow::Result<usize> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let active = jobs_in(binary, dir, "queued").await? + jobs_in(binary, dir, "running").await?;
        if active == 0 {
            return jobs_in(binary, dir, "failed").await;
        }
        if Instant::now() >= deadline {
            bail!("{active} callback jobs still queued or running 30 s after the last arrival");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

// ---- the case -------------------------------------------------------------------------

pub async fn run(common: &Common, args: &CallbacksArgs) -> anyhow::Result<Report> {
    let binary = proc::vodstack_binary(common.vodstack.as_deref())?;
    let count = args.count.max(2);
    let conc = args.concurrency.clamp(1, 1024);
    let want = usize::try_from(count)?;
    let mut warnings = Vec::new();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = load.split_whitespace().next().unwrap_or("?").to_string();

    let receiver = Receiver::start().await?;
    eprintln!("callbacks: ceiling: {count} POSTs straight to the receiver at {conc} connections");
    let ceiling_row = ceiling(&receiver, count, conc).await;

    let dir = tempfile::Builder::new().prefix("vodstack-bench-callbacks-").tempdir()?;
    eprintln!("callbacks: starting vodstack ({})", binary.display());
    let vod = Vod::start(&binary, dir.path(), conc, 1).await?;
    let outcome = async {
        vod.set_callback(receiver.url()).await?;

        // Throughput.
        eprintln!("callbacks: vodstack: emit-test {count} events, waiting for all of them");
        let tally = receiver.phase();
        let sample = Sample::take(vod.child.id());
        let started = Instant::now();
        let emitting = tokio::spawn({
            let (binary, dir) = (binary.clone(), dir.path().to_path_buf());
            async move { emit(&binary, &dir, count, 0).await }
        });
        let complete = wait_distinct(&tally, want, wait_limit(count)).await;
        let secs = started.elapsed().as_secs_f64();
        let (server_cores, generator_cores) = sample.cores_until(&Sample::take(vod.child.id()));
        let emitted = emitting.await??;
        let distinct = tally.distinct() as u64;
        let mut errors = tally.bad.load(Ordering::Relaxed);
        let mut first_error = tally.first_bad();
        if !complete {
            errors += count - distinct;
            first_error.get_or_insert(format!(
                "only {distinct} of {count} events arrived within {:?}",
                wait_limit(count)
            ));
        }
        let failed = settled_failures(&binary, dir.path()).await?;
        if failed > 0 {
            errors += failed as u64;
            first_error.get_or_insert(format!("{failed} callback jobs failed"));
        }
        let vod_row = Row {
            target: "vodstack".into(),
            requests: distinct,
            per_sec: distinct as f64 / secs.max(1e-9),
            p50_us: 0,
            p99_us: 0,
            max_us: 0,
            errors,
            first_error,
            server_cores,
            generator_cores,
        };
        let dup_throughput = tally.posts().saturating_sub(distinct);
        let enqueue_secs = emitted["Seconds"].as_f64().unwrap_or(0.0);
        anyhow::Ok((vod_row, dup_throughput, enqueue_secs))
    }
    .await;
    let (vod_row, dup_throughput, enqueue_secs) = match outcome {
        Ok(v) => v,
        Err(e) => {
            let log = vod.log_tail();
            let _ = vod.stop().await;
            return Err(e.context(format!("vodstack output:\n{log}")));
        }
    };

    let mut rows = vec![ceiling_row, vod_row];
    let mut checks = Vec::new();
    let mut notes = Vec::new();
    let vod = if args.no_kill {
        vod
    } else {
        eprintln!("callbacks: kill -9: {count} more events, SIGKILL at half, restart");
        let tally = receiver.phase();
        let started = Instant::now();
        let emitting = tokio::spawn({
            let (binary, dir) = (binary.clone(), dir.path().to_path_buf());
            async move { emit(&binary, &dir, count, count).await }
        });
        if !wait_distinct(&tally, want / 2, wait_limit(count)).await {
            bail!(
                "half of the kill-phase events did not arrive in time:\n{}",
                vod.log_tail()
            );
        }
        vod.kill9().await;
        let at_kill = tally.distinct();
        // The enqueuing command is a process of its own: the kill does not touch it.
        emitting.await??;
        let restarted_at = Instant::now();
        let vod = Vod::start(&binary, dir.path(), conc, 2).await?;
        let complete = wait_distinct(&tally, want, wait_limit(count)).await;
        let secs = started.elapsed().as_secs_f64();
        let after_restart = restarted_at.elapsed().as_secs_f64();
        let distinct = tally.distinct() as u64;
        let lost = count - distinct.min(count);
        let failed = settled_failures(&binary, dir.path()).await?;
        let duplicates = tally.posts().saturating_sub(distinct);
        let errors = tally.bad.load(Ordering::Relaxed) + lost + failed as u64;
        let mut first_error = tally.first_bad();
        if !complete {
            first_error.get_or_insert(format!("{lost} events lost after kill -9"));
        }
        if failed > 0 {
            first_error.get_or_insert(format!("{failed} callback jobs failed after kill -9"));
        }
        rows.push(Row {
            target: "kill -9".into(),
            requests: distinct,
            per_sec: distinct as f64 / secs.max(1e-9),
            p50_us: 0,
            p99_us: 0,
            max_us: 0,
            errors,
            first_error,
            server_cores: None,
            generator_cores: None,
        });
        checks.push(Check::below("events lost after kill -9", lost as f64, 1.0, "", 0));
        checks.push(Check::below("callback jobs failed", failed as f64, 1.0, "", 0));
        notes.push(format!(
            "kill -9: SIGKILL after {at_kill} of {count} distinct events; restarted on the same data \
             directory; all {distinct} arrived {after_restart:.1} s after the restart (leases of the \
             killed node's in-flight jobs: {LEASE_SECS} s); {duplicates} duplicate POST(s) \
             (at-least-once; same EventId, receivers dedupe)"
        ));
        vod
    };
    if let Some(w) = vod.stop().await {
        warnings.push(w);
    }

    let ratio = if rows[0].per_sec > 0.0 {
        rows[1].per_sec / rows[0].per_sec
    } else {
        0.0
    };
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mut head = vec![
        format!(
            "events/s: vodstack {:.0}, receiver ceiling {:.0}; ratio vodstack/receiver = {ratio:.3} \
             (no target set); enqueueing took {enqueue_secs:.2} s of the vodstack run; \
             {dup_throughput} duplicate POST(s) without a kill",
            rows[1].per_sec, rows[0].per_sec
        ),
        format!(
            "loopback 127.0.0.1; {cpus} CPU(s) shared by vodstack, the receiver and the ceiling client \
             (this process); 1-min load average before the run: {load}"
        ),
        "receiver = hyper HTTP/1.1 parsing the JSON body, checking X-VOD-EVENT-ID and the md5 \
         X-VOD-SIGNATURE, answering 200 at once; ceiling = the same POSTs (same headers, same body \
         shape) sent by this process over keep-alive connections"
            .into(),
        format!(
            "vodstack: SQLite metadata in a temp dir, jobs.poll_ms {POLL_MS}, callback.http concurrency \
             {conc}; time runs from starting `vodstack callbacks emit-test` (the synthetic \
             FileUploadComplete events enqueued in batches of 500) until the receiver holds all event \
             ids; latency columns: POST round trip for the receiver row, not measured (0) for the \
             asynchronous rows; --duration/--warmup do not apply to this case"
        ),
    ];
    head.append(&mut notes);
    Ok(Report {
        case: "callbacks".into(),
        title: format!(
            "{count} signed HTTP callbacks (FileUploadComplete) to a local receiver at {conc} in flight, \
             vs the receiver's own ceiling; then kill -9 halfway through {count} more"
        ),
        notes: head,
        rows,
        checks,
        warnings,
        failure: None,
    })
}
