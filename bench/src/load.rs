//! A closed-loop HTTP/1.1 load generator: N keep-alive connections, each sending requests
//! back to back (raw tokio TCP, responses parsed with httparse) for a warm-up and then a
//! measured window; latencies (write of the request to the end of the response body) go
//! to an HDR histogram. Every wait has a deadline, so a dead server only costs errors.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Appends one complete request (head and body) to the buffer.
pub type RequestFn = Arc<dyn Fn(&mut Vec<u8>) + Send + Sync>;

/// How to load one target.
#[derive(Debug, Clone)]
pub struct Plan {
    pub addr: SocketAddr,
    pub connections: usize,
    pub warmup: Duration,
    pub duration: Duration,
    /// Longest wait for one connect or one response.
    pub timeout: Duration,
}

/// What one target did in the measured window (errors: the whole run, warm-up included).
#[derive(Debug, Clone)]
pub struct Stats {
    pub requests: u64,
    pub errors: u64,
    pub window: Duration,
    /// Microseconds.
    pub latency: Histogram<u64>,
    pub first_error: Option<String>,
}

impl Stats {
    pub fn empty(window: Duration) -> Self {
        Self {
            requests: 0,
            errors: 0,
            window,
            latency: new_histogram(),
            first_error: None,
        }
    }

    pub fn per_sec(&self) -> f64 {
        self.requests as f64 / self.window.as_secs_f64()
    }

    fn merge(&mut self, other: Stats) {
        self.requests += other.requests;
        self.errors += other.errors;
        // Same bounds on both sides; adding cannot fail.
        let _ = self.latency.add(&other.latency);
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    /// Adds the figures of a later window of the same target (interleaved measurement).
    pub fn append(&mut self, later: Stats) {
        self.window += later.window;
        self.merge(later);
    }

    fn error(&mut self, what: String) {
        self.errors += 1;
        self.first_error.get_or_insert(what);
    }
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("static histogram bounds are valid")
}

/// One parsed response.
pub struct Response {
    pub status: u16,
    pub body: BytesMut,
    /// The server asked to close the connection.
    pub close: bool,
}

/// One keep-alive connection.
pub struct Conn {
    stream: TcpStream,
    buf: BytesMut,
}

impl Conn {
    pub async fn connect(addr: SocketAddr) -> std::io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            buf: BytesMut::with_capacity(8192),
        })
    }

    /// Writes `request` and reads one complete response (Content-Length framing).
    pub async fn exchange(&mut self, request: &[u8]) -> std::io::Result<Response> {
        self.stream.write_all(request).await?;
        let (head_len, status, body_len, close) = loop {
            if let Some(head) = parse_head(&self.buf)? {
                break head;
            }
            self.fill().await?;
        };
        while self.buf.len() < head_len + body_len {
            self.fill().await?;
        }
        let mut message = self.buf.split_to(head_len + body_len);
        let body = message.split_off(head_len);
        Ok(Response { status, body, close })
    }

    async fn fill(&mut self) -> std::io::Result<()> {
        if self.buf.capacity() - self.buf.len() < 4096 {
            self.buf.reserve(8192);
        }
        match self.stream.read_buf(&mut self.buf).await? {
            0 => Err(std::io::ErrorKind::UnexpectedEof.into()),
            _ => Ok(()),
        }
    }
}

/// `(head length, status, body length, close)` once the head is complete.
fn parse_head(buf: &[u8]) -> std::io::Result<Option<(usize, u16, usize, bool)>> {
    let invalid = |m: String| std::io::Error::new(std::io::ErrorKind::InvalidData, m);
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut resp = httparse::Response::new(&mut headers);
    let head_len = match resp.parse(buf).map_err(|e| invalid(format!("bad response: {e}")))? {
        httparse::Status::Complete(n) => n,
        httparse::Status::Partial => return Ok(None),
    };
    let (mut body_len, mut close) = (None, resp.version == Some(0));
    for h in resp.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            let v = std::str::from_utf8(h.value).ok().and_then(|s| s.trim().parse().ok());
            body_len = Some(v.ok_or_else(|| invalid("bad content-length".into()))?);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(invalid(
                "chunked responses are not supported by the load generator".into(),
            ));
        } else if h.name.eq_ignore_ascii_case("connection") {
            close = h.value.eq_ignore_ascii_case(b"close");
        }
    }
    let status = resp.code.unwrap_or(0);
    Ok(Some((head_len, status, body_len.unwrap_or(0), close)))
}

/// Sends one request on a new connection and returns the response (a pre-flight check).
pub async fn probe(addr: SocketAddr, make: &RequestFn, timeout: Duration) -> anyhow::Result<Response> {
    let mut request = Vec::new();
    make(&mut request);
    let exchange = async { Conn::connect(addr).await?.exchange(&request).await };
    Ok(tokio::time::timeout(timeout, exchange).await??)
}

/// Runs the plan; returns when every connection has finished (at most `timeout` after the
/// window closes).
pub async fn run(plan: &Plan, make: RequestFn) -> Stats {
    let start = Instant::now();
    let record_from = start + plan.warmup;
    let end = record_from + plan.duration;
    let workers: Vec<_> = (0..plan.connections.max(1))
        .map(|_| tokio::spawn(worker(plan.clone(), make.clone(), record_from, end)))
        .collect();
    let mut total = Stats::empty(plan.duration);
    for w in workers {
        match w.await {
            Ok(stats) => total.merge(stats),
            Err(e) => total.error(format!("load worker panicked: {e}")),
        }
    }
    total
}

async fn worker(plan: Plan, make: RequestFn, record_from: Instant, end: Instant) -> Stats {
    let mut stats = Stats::empty(plan.duration);
    let mut conn: Option<Conn> = None;
    let mut request = Vec::with_capacity(1024);
    while Instant::now() < end {
        let Some(c) = conn.as_mut() else {
            match tokio::time::timeout(plan.timeout, Conn::connect(plan.addr)).await {
                Ok(Ok(c)) => conn = Some(c),
                Ok(Err(e)) => stats.error(format!("connect: {e}")),
                Err(_) => stats.error("connect: timed out".into()),
            }
            if conn.is_none() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            continue;
        };
        request.clear();
        make(&mut request);
        let sent = Instant::now();
        let outcome = tokio::time::timeout(plan.timeout, c.exchange(&request)).await;
        let done = Instant::now();
        match outcome {
            Ok(Ok(resp)) => {
                if resp.close {
                    conn = None;
                }
                if resp.status != 200 {
                    let body = String::from_utf8_lossy(&resp.body).into_owned();
                    stats.error(format!("HTTP {}: {body}", resp.status));
                } else if sent >= record_from {
                    stats.requests += 1;
                    let micros = done.duration_since(sent).as_micros();
                    stats
                        .latency
                        .saturating_record(u64::try_from(micros).unwrap_or(u64::MAX));
                }
            }
            Ok(Err(e)) => {
                stats.error(format!("exchange: {e}"));
                conn = None;
            }
            Err(_) => {
                stats.error(format!("no response within {:?}", plan.timeout));
                conn = None;
            }
        }
    }
    stats
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{Stats, parse_head};

    #[test]
    fn appended_slices_add_up() {
        let mut total = Stats::empty(Duration::ZERO);
        for (requests, latency) in [(10, 100), (30, 300)] {
            let mut slice = Stats::empty(Duration::from_secs(2));
            slice.requests = requests;
            slice.latency.record(latency).unwrap();
            total.append(slice);
        }
        let mut failed = Stats::empty(Duration::ZERO);
        failed.error("refused".into());
        total.append(failed);
        assert_eq!((total.requests, total.errors), (40, 1));
        assert_eq!(total.window, Duration::from_secs(4));
        assert_eq!(total.per_sec(), 10.0);
        assert_eq!((total.latency.len(), total.latency.max()), (2, 300));
        assert_eq!(total.first_error.as_deref(), Some("refused"));
    }

    #[test]
    fn parses_heads() {
        let full = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello";
        assert_eq!(parse_head(full).unwrap(), Some((38, 200, 5, false)));
        assert_eq!(parse_head(&full[..20]).unwrap(), None);
        let close = b"HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(parse_head(close).unwrap(), Some((close.len(), 404, 0, true)));
        assert!(parse_head(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n").is_err());
    }
}
