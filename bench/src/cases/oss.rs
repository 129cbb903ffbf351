//! Case `oss`: a 1 GiB PutObject and a 1 GiB multipart upload (10 MiB parts, one after
//! another, as the VOD upload SDK sends them) to vodstack's OSS listener over loopback,
//! against a raw sequential write of the same bytes to the same disk followed by fsync; each
//! target twice, in mirrored order (raw, put, multipart, multipart, put, raw). Prints both
//! throughput ratios and the server's peak RSS. Targets: at least 0.8 of the
//! raw disk each, peak RSS under 200 MB.
//!
//! The client is a plain HTTP/1.1 writer signing OSS V1 with the bench root key; the body is
//! one 1 MiB block sent over and over, so the client spends nearly nothing per byte. The
//! server's `x-oss-hash-crc64ecma` is checked against the CRC of the bytes sent (combined
//! from the block's CRC, no second pass).

use std::io::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::Common;
use crate::proc::{self, ACCESS_KEY_ID, ACCESS_KEY_SECRET};
use crate::report::{Check, Report, Row};

const MIN_RATIO: f64 = 0.8;
const MAX_RSS_MB: f64 = 200.0;
const BLOCK: usize = 1 << 20;
const BUCKET: &str = "outin-vodstack";
const IO_TIMEOUT: Duration = Duration::from_secs(300);

/// Options of the oss case.
#[derive(Debug, Clone, Args)]
pub struct OssArgs {
    /// Object size in MiB (both uploads and the raw write).
    #[arg(long, default_value_t = 1024)]
    pub size_mib: u64,
    /// Multipart part size in MiB.
    #[arg(long, default_value_t = 10)]
    pub part_mib: u64,
}

impl Default for OssArgs {
    fn default() -> Self {
        Self {
            size_mib: 1024,
            part_mib: 10,
        }
    }
}

/// One timed transfer (or the mean of several).
struct Timed {
    secs: f64,
    requests: u64,
}

/// Mean time of two runs of one target; their requests added up.
fn mean(a: &Timed, b: &Timed) -> Timed {
    Timed {
        secs: (a.secs + b.secs) / 2.0,
        requests: a.requests + b.requests,
    }
}

pub async fn run(common: &Common, args: &OssArgs) -> anyhow::Result<Report> {
    let binary = proc::vodstack_binary(common.vodstack.as_deref())?;
    let size = args.size_mib.max(1) * (1 << 20);
    let part = args.part_mib.max(1) * (1 << 20);
    let block = block();
    let mut warnings = Vec::new();

    eprintln!("oss: starting vodstack ({})", binary.display());
    let server = proc::start_vodstack(&binary).await?;
    let pid = server.pid();
    let oss = match oss_addr(&server).await {
        Ok(a) => a,
        Err(e) => {
            let _ = server.stop().await;
            return Err(e);
        }
    };
    let base_rss = pid.and_then(vm_hwm_kib).unwrap_or(0);
    // Each target twice, in mirrored order (raw, put, multipart, multipart, put, raw):
    // whatever drifts during the run (page-cache reclaim as files pile up, this machine's
    // disk speed) weighs on all of them alike. The raw ceiling writes the same bytes to a
    // file next to where vodstack keeps its data (both under the temp directory), then fsyncs.
    let result = async {
        let raw_once = || async {
            eprintln!("oss: raw sequential write of {} MiB + fsync", args.size_mib);
            raw_write(size, block.clone()).await
        };
        let put_once = |key: &'static str| {
            let block = &block;
            async move {
                eprintln!("oss: PutObject of {} MiB to {oss}", args.size_mib);
                put_object(oss, key, size, block).await
            }
        };
        let multi_once = |key: &'static str| {
            let block = &block;
            async move {
                eprintln!(
                    "oss: multipart upload of {} MiB in {} MiB parts",
                    args.size_mib, args.part_mib
                );
                multipart(oss, key, size, part, block).await
            }
        };
        let raw1 = raw_once().await?;
        let put1 = put_once("bench/put-1.bin").await?;
        let multi1 = multi_once("bench/multipart-1.bin").await?;
        let multi2 = multi_once("bench/multipart-2.bin").await?;
        let put2 = put_once("bench/put-2.bin").await?;
        let raw2 = raw_once().await?;
        let runs = format!(
            "each run in order: raw {:.2} s, PutObject {:.2} s, multipart {:.2} s, multipart {:.2} s, \
             PutObject {:.2} s, raw {:.2} s",
            raw1.secs, put1.secs, multi1.secs, multi2.secs, put2.secs, raw2.secs
        );
        anyhow::Ok((mean(&raw1, &raw2), mean(&put1, &put2), mean(&multi1, &multi2), runs))
    }
    .await;
    let peak_rss = pid.and_then(vm_hwm_kib).unwrap_or(0);
    let log = server.log_tail();
    if let Some(w) = server.stop().await {
        warnings.push(w);
    }
    let (raw, put, multi, runs) = result.with_context(|| format!("vodstack output:\n{log}"))?;

    let mib = size as f64 / (1 << 20) as f64;
    let row = |target: &str, t: &Timed| Row {
        target: target.into(),
        requests: t.requests,
        per_sec: mib / t.secs,
        p50_us: (t.secs * 1e6) as u64,
        p99_us: (t.secs * 1e6) as u64,
        max_us: (t.secs * 1e6) as u64,
        errors: 0,
        first_error: None,
        server_cores: None,
        generator_cores: None,
    };
    let checks = vec![
        Check::at_least("PutObject / raw disk", raw.secs / put.secs, MIN_RATIO, "", 2),
        Check::at_least("multipart / raw disk", raw.secs / multi.secs, MIN_RATIO, "", 2),
        Check::below("server peak RSS", peak_rss as f64 / 1024.0, MAX_RSS_MB, "MiB", 1),
    ];
    Ok(Report {
        case: "oss".into(),
        title: format!(
            "{} MiB PutObject and multipart upload ({} MiB parts) vs raw write + fsync",
            args.size_mib, args.part_mib
        ),
        notes: vec![
            "for this case the req/s column is MiB/s and the latency columns the mean of two transfers, \
             run raw, PutObject, multipart, multipart, PutObject, raw"
                .into(),
            format!(
                "raw = one file written sequentially in 1 MiB blocks then fsync'd, in the temp directory \
                 vodstack's data directory also lives in; server peak RSS (VmHWM) {:.1} MiB, {:.1} MiB after start-up",
                peak_rss as f64 / 1024.0,
                base_rss as f64 / 1024.0
            ),
            "loopback 127.0.0.1, OSS V1 signatures with a root key; uploads one request at a time; \
             x-oss-hash-crc64ecma checked against the bytes sent"
                .into(),
            runs,
        ],
        rows: vec![row("raw disk", &raw), row("PutObject", &put), row("multipart", &multi)],
        checks,
        warnings,
        failure: None,
    })
}

/// One 1 MiB block of pseudo-random bytes (incompressible, the same every run).
fn block() -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..BLOCK)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// CRC-64 of `block` repeated to `len` bytes (combined, not recomputed).
fn crc_of(block: &[u8], len: u64) -> u64 {
    let whole = vod_auth::crc64::checksum(block);
    let mut crc = 0u64;
    let mut left = len;
    while left >= block.len() as u64 {
        crc = vod_auth::crc64::combine(crc, whole, block.len() as u64);
        left -= block.len() as u64;
    }
    if left > 0 {
        let tail = vod_auth::crc64::checksum(&block[..left as usize]);
        crc = vod_auth::crc64::combine(crc, tail, left);
    }
    crc
}

async fn raw_write(size: u64, block: Vec<u8>) -> anyhow::Result<Timed> {
    tokio::task::spawn_blocking(move || {
        let dir = tempfile::Builder::new().prefix("vodstack-bench-raw-").tempdir()?;
        let path = dir.path().join("raw.bin");
        let started = Instant::now();
        let mut f = std::fs::File::create(&path)?;
        let mut left = size;
        while left > 0 {
            let n = left.min(block.len() as u64) as usize;
            f.write_all(&block[..n])?;
            left -= n as u64;
        }
        f.sync_all()?;
        let secs = started.elapsed().as_secs_f64();
        drop(f);
        std::fs::remove_file(&path)?;
        Ok(Timed { secs, requests: 1 })
    })
    .await?
}

/// The OSS listener's address from the `  OSS  http://…` banner line.
async fn oss_addr(server: &proc::Server) -> anyhow::Result<SocketAddr> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = server.log_tail();
        if let Some(addr) = log
            .lines()
            .find_map(|l| l.trim_start().strip_prefix("OSS"))
            .and_then(|rest| rest.trim().strip_prefix("http://"))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|a| a.parse().ok())
        {
            return Ok(addr);
        }
        if Instant::now() >= deadline {
            bail!("vodstack printed no `OSS http://…` line; its output:\n{log}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The head of a V1-signed request (`resource` is `/bucket/key[?sub]`, path = URL path).
fn head(method: &str, path_and_query: &str, resource: &str, len: u64, content_type: &str) -> Vec<u8> {
    let date = http_date(time::OffsetDateTime::now_utc());
    let sts = format!("{method}\n\n{content_type}\n{date}\n{resource}");
    let sig = vod_auth::oss_v1::sign(ACCESS_KEY_SECRET, &sts);
    let mut h = format!(
        "{method} {path_and_query} HTTP/1.1\r\nHost: 127.0.0.1\r\nDate: {date}\r\n\
         Authorization: OSS {ACCESS_KEY_ID}:{sig}\r\nContent-Length: {len}\r\n"
    );
    if !content_type.is_empty() {
        h.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    h.push_str("\r\n");
    h.into_bytes()
}

/// RFC 1123 `Sun, 06 Nov 1994 08:49:37 GMT`.
fn http_date(t: time::OffsetDateTime) -> String {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        DAYS[t.weekday().number_days_from_monday() as usize],
        t.day(),
        MONTHS[u8::from(t.month()) as usize - 1],
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// A response: status, lowercase headers, body.
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

async fn read_response(conn: &mut TcpStream) -> anyhow::Result<Resp> {
    let mut buf = Vec::with_capacity(8192);
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut parsed = httparse::Response::new(&mut headers);
        if let httparse::Status::Complete(n) = parsed.parse(&buf)? {
            let status = parsed.code.unwrap_or(0);
            let headers: Vec<(String, String)> = parsed
                .headers
                .iter()
                .map(|h| {
                    (
                        h.name.to_ascii_lowercase(),
                        String::from_utf8_lossy(h.value).into_owned(),
                    )
                })
                .collect();
            let len: usize = headers
                .iter()
                .find(|(k, _)| k == "content-length")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            let mut body = buf[n..].to_vec();
            while body.len() < len {
                let mut chunk = vec![0u8; len - body.len()];
                let got = tokio::time::timeout(IO_TIMEOUT, conn.read(&mut chunk)).await??;
                if got == 0 {
                    bail!("connection closed inside a response body");
                }
                body.extend_from_slice(&chunk[..got]);
            }
            return Ok(Resp { status, headers, body });
        }
        let mut chunk = [0u8; 8192];
        let got = tokio::time::timeout(IO_TIMEOUT, conn.read(&mut chunk)).await??;
        if got == 0 {
            bail!("connection closed before a response");
        }
        buf.extend_from_slice(&chunk[..got]);
    }
}

/// Sends one request whose body is `block` repeated to `len` bytes.
async fn send(conn: &mut TcpStream, head: &[u8], len: u64, block: &[u8]) -> anyhow::Result<Resp> {
    conn.write_all(head).await?;
    let mut left = len;
    while left > 0 {
        let n = left.min(block.len() as u64) as usize;
        tokio::time::timeout(IO_TIMEOUT, conn.write_all(&block[..n])).await??;
        left -= n as u64;
    }
    read_response(conn).await
}

fn check_ok(what: &str, r: &Resp) -> anyhow::Result<()> {
    if r.status != 200 {
        bail!("{what}: HTTP {}: {}", r.status, String::from_utf8_lossy(&r.body));
    }
    Ok(())
}

fn check_crc(what: &str, r: &Resp, want: u64) -> anyhow::Result<()> {
    match r.header("x-oss-hash-crc64ecma") {
        Some(v) if v == want.to_string() => Ok(()),
        other => bail!("{what}: x-oss-hash-crc64ecma {other:?}, the bytes sent have {want}"),
    }
}

async fn put_object(addr: SocketAddr, key: &str, size: u64, block: &[u8]) -> anyhow::Result<Timed> {
    let mut conn = TcpStream::connect(addr).await?;
    conn.set_nodelay(true)?;
    let path = format!("/{BUCKET}/{key}");
    let started = Instant::now();
    let h = head("PUT", &path, &path, size, "application/octet-stream");
    let r = send(&mut conn, &h, size, block).await?;
    let secs = started.elapsed().as_secs_f64();
    check_ok("PutObject", &r)?;
    check_crc("PutObject", &r, crc_of(block, size))?;
    Ok(Timed { secs, requests: 1 })
}

async fn multipart(addr: SocketAddr, key: &str, size: u64, part: u64, block: &[u8]) -> anyhow::Result<Timed> {
    let mut conn = TcpStream::connect(addr).await?;
    conn.set_nodelay(true)?;
    let path = format!("/{BUCKET}/{key}");
    let started = Instant::now();
    let h = head(
        "POST",
        &format!("{path}?uploads"),
        &format!("{path}?uploads"),
        0,
        "application/octet-stream",
    );
    let r = send(&mut conn, &h, 0, block).await?;
    check_ok("InitiateMultipartUpload", &r)?;
    let xml = String::from_utf8_lossy(&r.body).into_owned();
    let upload_id = xml
        .split_once("<UploadId>")
        .and_then(|(_, rest)| rest.split_once("</UploadId>"))
        .map(|(id, _)| id.to_string())
        .context("no UploadId in InitiateMultipartUploadResult")?;
    let mut requests = 1;
    let mut complete = String::from("<CompleteMultipartUpload>");
    let mut offset = 0u64;
    let mut n = 0u32;
    // Parts are whole blocks here, so each part is `block` repeated.
    while offset < size {
        n += 1;
        let len = part.min(size - offset);
        let q = format!("partNumber={n}&uploadId={upload_id}");
        let h = head("PUT", &format!("{path}?{q}"), &format!("{path}?{q}"), len, "");
        let r = send(&mut conn, &h, len, block).await?;
        check_ok("UploadPart", &r)?;
        let etag = r.header("etag").unwrap_or_default().to_string();
        complete.push_str(&format!("<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag></Part>"));
        offset += len;
        requests += 1;
    }
    complete.push_str("</CompleteMultipartUpload>");
    let q = format!("uploadId={upload_id}");
    let h = head(
        "POST",
        &format!("{path}?{q}"),
        &format!("{path}?{q}"),
        complete.len() as u64,
        "application/xml",
    );
    conn.write_all(&h).await?;
    conn.write_all(complete.as_bytes()).await?;
    let r = read_response(&mut conn).await?;
    let secs = started.elapsed().as_secs_f64();
    requests += 1;
    check_ok("CompleteMultipartUpload", &r)?;
    if part.is_multiple_of(BLOCK as u64) {
        check_crc("CompleteMultipartUpload", &r, crc_of(block, size))?;
    }
    Ok(Timed { secs, requests })
}
