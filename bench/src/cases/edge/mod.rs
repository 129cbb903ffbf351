//! Case `edge`: the playback edge against its natural ceilings.
//!
//! * Cached 100 KB and 2 MB segments served by the edge (cache hits) vs nginx serving the
//!   same files from disk (`sendfile`, `open_file_cache`, as many workers as cores), both
//!   loaded by `wrk` with 64 connections on loopback, alternating nginx and edge for
//!   `--rounds` runs and keeping the best of each. Target: edge req/s ≥ 0.8 × nginx.
//! * Preload of a large object (origin → edge cache, through the signed control API) vs a
//!   raw read of the same bytes (the object's blob file, read with 1 MiB buffers), best of
//!   three each. Target (≥ 0.8) on a cold origin: the blob's pages are dropped from the
//!   page cache before each run, as for an object nobody watched lately. The hot figure
//!   (page cache to page cache: a read against a read plus a write) is printed as a note.
//! * Refresh-to-miss: a purge call for a cached object, after which the next GET is a
//!   miss; p99 of the purge round trip. Target: < 50 ms.
//!
//! The edge runs as a child process (`vodstack-bench edge-server`) over a real vod-blob
//! object store; nginx (Debian `nginx-light`) and wrk are started by the case.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use hdrhistogram::Histogram;
use rand::RngCore;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::Common;
use crate::proc;
use crate::report::{Check, Report, Row};

mod tools;

use tools::{keep_best, pids, run_wrk};

use crate::nginx::{NginxConf, find_program, start_nginx, stop_nginx};

const MIN_RATIO: f64 = 0.8;
const MAX_PURGE_P99_MS: f64 = 50.0;
const BUCKET: &str = "bench";
const SECRET: &str = "bench-edge-control-secret";

/// Options of the edge case.
#[derive(Debug, Clone, Args)]
pub struct EdgeArgs {
    /// wrk connections.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Size of the small segment, KB (1000 bytes).
    #[arg(long, default_value_t = 100)]
    pub small_kb: u64,
    /// Size of the large segment, KB (1000 bytes).
    #[arg(long, default_value_t = 2000)]
    pub large_kb: u64,
    /// Size of the preloaded object, MiB.
    #[arg(long, default_value_t = 512)]
    pub preload_mib: u64,
    /// Purge calls timed for the refresh-to-miss latency.
    #[arg(long, default_value_t = 200)]
    pub purges: usize,
    /// wrk runs per target and size, alternating nginx and edge; the best of each counts
    /// (other work on the machine only ever slows a run down).
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// The edge's memory tier in MiB (default: the edge's default, 256; 0 serves every hit
    /// from the cache files).
    #[arg(long)]
    pub memory_mib: Option<u64>,
}

impl Default for EdgeArgs {
    fn default() -> Self {
        Self {
            connections: 64,
            small_kb: 100,
            large_kb: 2000,
            preload_mib: 512,
            purges: 200,
            rounds: 3,
            memory_mib: None,
        }
    }
}

pub async fn run(common: &Common, args: &EdgeArgs) -> anyhow::Result<Report> {
    let nginx = find_program(&["/usr/sbin/nginx", "nginx"])
        .context("nginx is not installed (apt-get install -y nginx-light; scripts/bench.sh does it)")?;
    let wrk = find_program(&["wrk"]).context("wrk is not installed (apt-get install -y wrk)")?;
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let work = tempfile::Builder::new().prefix("vodstack-bench-edge-").tempdir()?;
    let www = work.path().join("www");
    std::fs::create_dir_all(&www)?;
    let small = format!("small-{}k.ts", args.small_kb);
    let large = format!("large-{}k.ts", args.large_kb);
    write_random(&www.join(&small), args.small_kb * 1000)?;
    write_random(&www.join(&large), args.large_kb * 1000)?;
    write_random(&www.join("preload.bin"), args.preload_mib << 20)?;
    let edge_dir = work.path().join("edge");

    let nginx_addr = proc::free_addr()?;
    let mut nginx_child = start_nginx(&nginx, work.path(), &www, nginx_addr, &tuned_nginx()).await?;
    eprintln!(
        "edge: starting the edge (importing {} MiB of objects)",
        args.preload_mib + 2
    );
    let mut edge_args: Vec<OsString> = vec![
        "--dir".into(),
        edge_dir.clone().into(),
        "--import".into(),
        www.clone().into(),
        "--secret".into(),
        SECRET.into(),
    ];
    if let Some(mib) = args.memory_mib {
        edge_args.extend(["--memory-bytes".into(), (mib << 20).to_string().into()]);
    }
    let edge = match proc::start_edge_server(&edge_args).await {
        Ok(e) => e,
        Err(e) => {
            stop_nginx(&mut nginx_child).await;
            return Err(e);
        }
    };
    let targets = Targets {
        nginx: nginx_addr,
        nginx_pid: nginx_child.id(),
        edge: edge.addr,
        edge_pid: edge.pid(),
    };
    let result = measure(common, args, &wrk, &targets, &[&small, &large], &edge_dir).await;
    let log = edge.log_tail();
    let warning = edge.stop().await;
    stop_nginx(&mut nginx_child).await;
    let (rows, checks, notes) = result.with_context(|| format!("edge output:\n{log}"))?;
    let load_end = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let first3 = |l: &str| l.split_whitespace().take(3).collect::<Vec<_>>().join(" ");
    let mut all_notes = vec![
        format!(
            "load average at start: {}, at end: {} (other work on the 2 cores skews the ratios)",
            first3(&load),
            first3(&load_end)
        ),
        format!(
            "wrk -t2 -c{} against one URL per size; the edge serves cache hits (X-Cache: HIT checked first); \
             memory tier: {}",
            args.connections,
            args.memory_mib.map_or("default (256 MiB)".to_string(), |m| if m == 0 {
                "off".into()
            } else {
                format!("{m} MiB")
            })
        ),
    ];
    all_notes.extend(notes);
    Ok(Report {
        case: "edge".into(),
        title: "cached segments: edge vs nginx from disk; preload vs raw read; refresh-to-miss".into(),
        notes: all_notes,
        rows,
        checks,
        warnings: warning.into_iter().collect(),
        failure: None,
    })
}

type Measured = (Vec<Row>, Vec<Check>, Vec<String>);

/// The two servers under load.
struct Targets {
    nginx: SocketAddr,
    nginx_pid: Option<u32>,
    edge: SocketAddr,
    edge_pid: Option<u32>,
}

async fn measure(
    common: &Common,
    args: &EdgeArgs,
    wrk: &Path,
    t: &Targets,
    files: &[&str],
    edge_dir: &Path,
) -> anyhow::Result<Measured> {
    let (mut rows, mut checks, mut notes) = (Vec::new(), Vec::new(), Vec::new());
    let (nginx, edge) = (t.nginx, t.edge);
    let base = format!("http://{edge}");
    for (i, file) in files.iter().enumerate() {
        let path = format!("/{BUCKET}/{file}");
        // Fill, then make sure the next answer is a hit.
        get(edge, &path).await?;
        wait_for_hit(edge, &path).await?;
        let label = if i == 0 { "small" } else { "large" };
        let (mut n, mut e) = (None, None);
        for _ in 0..args.rounds.max(1) {
            let url = format!("http://{nginx}/{file}");
            let run = run_wrk(common, wrk, args.connections, &url, &pids(t.nginx_pid)).await?;
            n = Some(keep_best(n, run));
            let url = format!("{base}{path}");
            let run = run_wrk(common, wrk, args.connections, &url, &pids(t.edge_pid)).await?;
            e = Some(keep_best(e, run));
        }
        let (n, e) = (n.context("no nginx run")?, e.context("no edge run")?);
        checks.push(Check::at_least(
            &format!("edge / nginx req/s, {file}"),
            e.per_sec / n.per_sec.max(1e-9),
            MIN_RATIO,
            "",
            2,
        ));
        rows.push(Row {
            target: format!("nginx-{label}"),
            ..n
        });
        rows.push(Row {
            target: format!("edge-{label}"),
            ..e
        });
    }

    // Preload vs a raw read of the object's blob: cold (the blob's pages dropped from the
    // page cache first, as for an object nobody asked for lately) and hot.
    let client = vod_edge::EdgeClient::new(SECRET, Duration::from_secs(600));
    let blob = largest_file(&edge_dir.join("objects"))?;
    let size = std::fs::metadata(&blob)?.len();
    let preload_path = format!("/{BUCKET}/preload.bin");
    let mib = size as f64 / f64::from(1 << 20);
    let mut ratios = Vec::new();
    for cold in [true, false] {
        let (mut raw_best, mut preload_best) = (f64::MAX, f64::MAX);
        for _ in 0..3 {
            if cold {
                drop_from_page_cache(&blob)?;
            }
            raw_best = raw_best.min(raw_read(&blob).await?);
            client.purge(&base, std::slice::from_ref(&preload_path), &[]).await?;
            if cold {
                drop_from_page_cache(&blob)?;
            }
            let started = Instant::now();
            let results = client.preload(&base, std::slice::from_ref(&preload_path)).await?;
            let secs = started.elapsed().as_secs_f64();
            if !results.first().is_some_and(|r| r.ok && !r.already_cached) {
                bail!("preload failed: {results:?}");
            }
            preload_best = preload_best.min(secs);
        }
        let which = if cold { "cold" } else { "hot" };
        rows.push(transfer_row(&format!("read-{which}"), mib, raw_best));
        rows.push(transfer_row(&format!("preload-{which}"), mib, preload_best));
        ratios.push(raw_best / preload_best);
    }
    let mut origin_best = f64::MAX;
    for _ in 0..3 {
        drop_from_page_cache(&blob)?;
        origin_best = origin_best.min(origin_read(edge_dir, "preload.bin").await?);
    }
    let raw_cold = rows
        .iter()
        .find(|r| r.target == "read-cold")
        .map_or(1.0, |r| mib / r.per_sec);
    rows.push(transfer_row("origin-cold", mib, origin_best));
    checks.push(Check::at_least(
        "preload / raw read throughput (cold origin)",
        ratios[0],
        MIN_RATIO,
        "",
        2,
    ));
    notes.push(format!(
        "read/preload rows: req/s = MiB/s of a {mib:.0} MiB object, latency = the whole transfer (best of 3); \
         cold = the blob's pages dropped (fadvise DONTNEED) before each run; hot ratio (page cache to page cache, \
         i.e. read vs read+write): {:.2}; origin-cold = the object read through vod-blob's ObjectStore (what a \
         fill reads), bytes discarded: {:.2} of the raw read",
        ratios[1],
        raw_cold / origin_best,
    ));

    // Refresh-to-miss.
    let path = format!("/{BUCKET}/{}", files[0]);
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    for _ in 0..args.purges {
        wait_for_hit(edge, &path).await?;
        let started = Instant::now();
        let results = client.purge(&base, std::slice::from_ref(&path), &[]).await?;
        let us = started.elapsed().as_micros() as u64;
        if !results.first().is_some_and(|r| r.ok && r.purged == 1) {
            bail!("purge failed: {results:?}");
        }
        let (_, cache) = get(edge, &path).await?;
        if cache != "MISS" {
            bail!("the GET after a purge was {cache}, not MISS");
        }
        hist.record(us.max(1))?;
    }
    let p99_ms = hist.value_at_quantile(0.99) as f64 / 1000.0;
    rows.push(Row {
        target: "purge".into(),
        requests: hist.len(),
        per_sec: 0.0,
        p50_us: hist.value_at_quantile(0.5),
        p99_us: hist.value_at_quantile(0.99),
        max_us: hist.max(),
        errors: 0,
        first_error: None,
        server_cores: None,
        generator_cores: None,
    });
    checks.push(Check::below(
        "purge p99 (refresh-to-miss)",
        p99_ms,
        MAX_PURGE_P99_MS,
        "ms",
        2,
    ));
    notes.push(
        "purge row: latency of the signed purge call (HTTP round trip); the next GET is checked to be a MISS".into(),
    );
    Ok((rows, checks, notes))
}

fn transfer_row(target: &str, mib: f64, secs: f64) -> Row {
    let us = (secs * 1e6) as u64;
    Row {
        target: target.into(),
        requests: 1,
        per_sec: mib / secs,
        p50_us: us,
        p99_us: us,
        max_us: us,
        errors: 0,
        first_error: None,
        server_cores: None,
        generator_cores: None,
    }
}

fn write_random(path: &Path, size: u64) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut f = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut rng = rand::rng();
    let mut buf = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        rng.fill_bytes(&mut buf[..n]);
        f.write_all(&buf[..n])?;
        left -= n as u64;
    }
    f.flush()?;
    Ok(())
}

fn largest_file(dir: &Path) -> anyhow::Result<PathBuf> {
    let mut best: Option<(u64, PathBuf)> = None;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)? {
            let p = e?.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let len = std::fs::metadata(&p)?.len();
                if best.as_ref().is_none_or(|(l, _)| len > *l) {
                    best = Some((len, p));
                }
            }
        }
    }
    best.map(|(_, p)| p).context("no blob in the object store")
}

/// Seconds to read an object through vod-blob's ObjectStore (the edge's origin), opened
/// beside the running edge (SQLite in WAL mode takes a second reader).
async fn origin_read(edge_dir: &Path, key: &str) -> anyhow::Result<f64> {
    use futures::StreamExt as _;
    let db_url = format!("sqlite://{}", edge_dir.join("meta.db").display());
    let meta = vod_db::open(&db_url).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let blobs = vod_blob::BlobStore::fs(&edge_dir.join("objects")).map_err(|e| anyhow::anyhow!("{e}"))?;
    let objects = vod_blob::ObjectStore::new(blobs, meta);
    let object = objects
        .get(BUCKET, key)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .context("the preload object is missing")?;
    let started = Instant::now();
    let mut stream = objects
        .read(&object, 0..object.size)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut n = 0u64;
    while let Some(chunk) = stream.next().await {
        n += chunk?.len() as u64;
    }
    if n != object.size {
        bail!("read {n} of {} bytes", object.size);
    }
    Ok(started.elapsed().as_secs_f64())
}

/// Drops the clean cached pages of a file (this file only; nothing system-wide).
fn drop_from_page_cache(path: &Path) -> anyhow::Result<()> {
    let f = std::fs::File::open(path)?;
    rustix::fs::fadvise(&f, 0, None, rustix::fs::Advice::DontNeed)?;
    Ok(())
}

/// Seconds to read `path` with 1 MiB reads.
async fn raw_read(path: &Path) -> anyhow::Result<f64> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        use std::io::Read as _;
        let started = Instant::now();
        let mut f = std::fs::File::open(path)?;
        let mut buf = vec![0u8; 1 << 20];
        while f.read(&mut buf)? > 0 {}
        Ok(started.elapsed().as_secs_f64())
    })
    .await?
}

/// One GET; returns the status and the `X-Cache` header (the body is read and dropped).
async fn get(addr: SocketAddr, path: &str) -> anyhow::Result<(u16, String)> {
    let mut s = TcpStream::connect(addr).await?;
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes())
        .await?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await?;
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut resp = httparse::Response::new(&mut headers);
    resp.parse(&buf)?;
    let cache = resp
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("x-cache"))
        .map(|h| String::from_utf8_lossy(h.value).into_owned())
        .unwrap_or_default();
    let status = resp.code.unwrap_or(0);
    if status != 200 {
        bail!("GET {path} answered {status}");
    }
    Ok((status, cache))
}

async fn wait_for_hit(addr: SocketAddr, path: &str) -> anyhow::Result<()> {
    for _ in 0..500 {
        if get(addr, path).await?.1 == "HIT" {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    bail!("{path} never became a cache hit")
}

/// nginx as a static server tuned for many small requests: one worker per core.
fn tuned_nginx() -> NginxConf {
    NginxConf {
        workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
        worker_connections: 1024,
        http_extra: "  tcp_nodelay on;\n  keepalive_requests 1000000;\n  open_file_cache max=1000 inactive=60s;\n",
        mime: "video/mp2t ts",
    }
}
