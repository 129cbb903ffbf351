//! Object requests: `GET|HEAD|OPTIONS /{bucket}/{key...}`: URL authentication, cache
//! lookup, conditional requests, byte ranges, and the response headers players and
//! browsers need (type, length, validators, CORS, `X-Cache`, `Age`).

use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use futures::StreamExt;
use vod_auth::percent::{form_decode_pairs, percent_decode};

use crate::Edge;
use crate::cache::{Entry, Fill};
use crate::conditional::{Decision, decide};
use crate::disk::EntryMeta;
use crate::fill;
use crate::origin::OriginMeta;

type Resp = Response<Body>;

/// Response headers browsers may read (CORS).
const EXPOSED: &str = "Content-Length, Content-Range, Content-Type, ETag, Last-Modified, Accept-Ranges, Age, X-Cache";
/// A range starting this far past what a running fill has written is read from the
/// origin directly instead of waiting (a player seeking to the end of a long MP4).
const FAR_AHEAD: u64 = 8 << 20;

/// Where the bytes of an answer come from.
enum Source {
    Entry(Arc<Entry>),
    Fill(Arc<Fill>),
    Origin(OriginMeta),
}

/// The entry point of every object request.
pub async fn handle(State(edge): State<Arc<Edge>>, req: Request<Body>) -> Resp {
    // Bodies of GET/HEAD are ignored; only the head is kept across the awaits below.
    let (parts, _) = req.into_parts();
    let mut resp = if parts.method == Method::OPTIONS {
        preflight(&parts.headers)
    } else {
        match serve(&edge, &parts).await {
            Ok(r) => r,
            Err((status, why)) => text(status, why),
        }
    };
    metrics::counter!("vod_edge_requests_total", "status" => status_label(resp.status())).increment(1);
    let h = resp.headers_mut();
    h.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    h.insert("access-control-expose-headers", HeaderValue::from_static(EXPOSED));
    h.insert("timing-allow-origin", HeaderValue::from_static("*"));
    resp
}

fn status_label(s: StatusCode) -> &'static str {
    match s.as_u16() {
        200 => "200",
        204 => "204",
        206 => "206",
        304 => "304",
        403 => "403",
        404 => "404",
        416 => "416",
        500..=599 => "5xx",
        _ => "other",
    }
}

fn text(status: StatusCode, body: String) -> Resp {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Body::from(body + "\n"))
        .unwrap_or_default()
}

fn preflight(headers: &HeaderMap) -> Resp {
    let allow = headers
        .get("access-control-request-headers")
        .filter(|v| !v.is_empty())
        .cloned()
        .unwrap_or(HeaderValue::from_static(
            "Range, If-None-Match, If-Modified-Since, If-Range",
        ));
    Response::builder()
        .status(StatusCode::NO_CONTENT)
        .header("access-control-allow-methods", "GET, HEAD, OPTIONS")
        .header("access-control-allow-headers", allow)
        .header("access-control-max-age", "86400")
        .body(Body::empty())
        .unwrap_or_default()
}

/// `(bucket, key)` of a request path (percent-decoded; keys keep their slashes).
pub fn split_path(raw: &str) -> Option<(String, String)> {
    let rest = raw.strip_prefix('/').unwrap_or(raw);
    let (bucket, key) = rest.split_once('/')?;
    let (bucket, key) = (percent_decode(bucket), percent_decode(key));
    (!bucket.is_empty() && !key.is_empty()).then_some((bucket, key))
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

type Refusal = (StatusCode, String);

async fn serve(edge: &Arc<Edge>, req: &Parts) -> Result<Resp, Refusal> {
    let head = match req.method {
        Method::GET => false,
        Method::HEAD => true,
        _ => return Err((StatusCode::METHOD_NOT_ALLOWED, "only GET, HEAD and OPTIONS".into())),
    };
    let raw_path = req.uri.path();
    let (bucket, key) = split_path(raw_path).ok_or((StatusCode::NOT_FOUND, "no such object".into()))?;
    let cfg = &edge.config;
    if !cfg.buckets.is_empty() && !cfg.buckets.contains(&bucket) {
        return Err((StatusCode::NOT_FOUND, "no such object".into()));
    }
    let mut sign_playlist = None;
    if let Some(secret) = cfg.auth_key.as_deref().filter(|k| !k.is_empty()) {
        check_auth(raw_path, req.uri.query(), secret, cfg.auth_ttl_secs)?;
        if crate::playlist::is_playlist(&key) {
            sign_playlist = req
                .uri
                .query()
                .map(form_decode_pairs)
                .and_then(|q| q.into_iter().find(|(k, _)| k == "auth_key").map(|(_, v)| (secret, v)));
        }
    }
    let cache_key = crate::disk::cache_key(&bucket, &key);
    let mut source = match edge.store.get(&cache_key) {
        Some(crate::cache::Slot::Ready(e)) => Some(Source::Entry(e)),
        Some(crate::cache::Slot::Filling(f)) => Some(Source::Fill(f)),
        None => None,
    };
    if let Some(Source::Entry(e)) = &source
        && !edge.still_valid(e).await
    {
        source = None;
    }
    let source = match source {
        Some(s) => s,
        None => match edge.origin.stat(&bucket, &key).await {
            Ok(Some(meta)) => Source::Origin(meta),
            Ok(None) => return Err((StatusCode::NOT_FOUND, "no such object".into())),
            Err(e) => {
                tracing::warn!(bucket, key, error = %e, "edge origin stat failed");
                return Err((StatusCode::BAD_GATEWAY, "the origin did not answer".into()));
            }
        },
    };
    let origin_meta;
    let meta: &EntryMeta = match &source {
        Source::Entry(e) => &e.meta,
        Source::Fill(f) => &f.meta,
        Source::Origin(o) => {
            origin_meta = EntryMeta {
                bucket: bucket.clone(),
                key: key.clone(),
                size: o.size,
                etag: o.etag.clone(),
                last_modified_ms: o.last_modified_ms,
                content_type: o.content_type.clone(),
                stored_at_ms: now_ms(),
            };
            &origin_meta
        }
    };
    let presented = match &source {
        Source::Entry(e) => e.presented.clone(),
        _ => Presented::of(meta),
    };
    let hit = !matches!(source, Source::Origin(_));
    let age = match &source {
        Source::Entry(e) => (now_ms() - e.meta.stored_at_ms).max(0) / 1000,
        _ => 0,
    };
    let mut builder = Response::builder()
        .header("x-cache", HeaderValue::from_static(if hit { "HIT" } else { "MISS" }))
        .header(header::AGE, age)
        .header(header::ETAG, presented.etag)
        .header(header::LAST_MODIFIED, presented.last_modified)
        .header(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Some(cc) = &edge.cache_control {
        builder = builder.header(header::CACHE_CONTROL, cc.clone());
    }
    let decision = decide(&req.headers, &meta.etag, meta.last_modified_ms / 1000, meta.size, head);
    let range = match decision {
        Decision::NotModified => {
            count(hit, 0);
            return Ok(builder
                .status(StatusCode::NOT_MODIFIED)
                .body(Body::empty())
                .unwrap_or_default());
        }
        Decision::Unsatisfiable => {
            return Ok(builder
                .status(StatusCode::RANGE_NOT_SATISFIABLE)
                .header(header::CONTENT_RANGE, format!("bytes */{}", meta.size))
                .body(Body::empty())
                .unwrap_or_default());
        }
        Decision::Full => None,
        Decision::Partial(r) => Some(r),
    };
    let body_range = range.clone().unwrap_or(0..meta.size);
    let len = body_range.end - body_range.start;
    builder = builder
        .header(header::CONTENT_TYPE, presented.content_type)
        .header(header::CONTENT_LENGTH, len);
    builder = match &range {
        Some(r) => builder.status(StatusCode::PARTIAL_CONTENT).header(
            header::CONTENT_RANGE,
            format!("bytes {}-{}/{}", r.start, r.end - 1, meta.size),
        ),
        None => builder.status(StatusCode::OK),
    };
    count(hit, if head { 0 } else { len });
    if head {
        return Ok(builder.body(Body::empty()).unwrap_or_default());
    }
    let body = match &source {
        Source::Entry(e) => match entry_body(edge, &cache_key, e, body_range.clone()).await {
            Ok(b) => b,
            Err(err) => {
                // Evicted or purged between the lookup and the open: fetch it again.
                tracing::debug!(key = %cache_key, error = %err, "cached file vanished; refetching");
                edge.store.drop_entry(e);
                let current = edge
                    .origin
                    .stat(&bucket, &key)
                    .await
                    .ok()
                    .flatten()
                    .filter(|m| m.etag == e.meta.etag && m.size == e.meta.size)
                    .ok_or((StatusCode::SERVICE_UNAVAILABLE, "the object changed; retry".to_string()))?;
                miss_body(edge, e.meta.clone(), current, body_range).await?
            }
        },
        Source::Fill(f) => fill_body(edge, f.clone(), body_range).await?,
        Source::Origin(o) => miss_body(edge, meta.clone(), o.clone(), body_range).await?,
    };
    // Authenticated HLS: the playlist's segment URIs get their own auth_key.
    // (Players such as ffmpeg ask for `bytes=0-`: a range of the whole playlist counts.)
    if let Some((secret, auth)) = sign_playlist
        && range.as_ref().is_none_or(|r| r.start == 0 && r.end == meta.size)
        && meta.size <= crate::playlist::MAX_REWRITE_BYTES
    {
        let bytes = axum::body::to_bytes(body, crate::playlist::MAX_REWRITE_BYTES as usize + 1)
            .await
            .map_err(|e| (StatusCode::BAD_GATEWAY, format!("reading the playlist: {e}")))?;
        let signed = std::str::from_utf8(&bytes)
            .ok()
            .and_then(|text| crate::playlist::sign_segments(text, raw_path, &auth, secret));
        let out = match signed {
            Some(text) => {
                if let Some(h) = builder.headers_mut() {
                    h.insert(header::CONTENT_LENGTH, HeaderValue::from(text.len()));
                    h.remove(header::ETAG);
                    h.remove(header::CONTENT_RANGE);
                }
                builder = builder.status(StatusCode::OK);
                Body::from(text)
            }
            None => Body::from(bytes),
        };
        return Ok(builder.body(out).unwrap_or_default());
    }
    Ok(builder.body(body).unwrap_or_default())
}

/// Header values of an object's answers.
#[derive(Debug, Clone)]
pub struct Presented {
    pub etag: HeaderValue,
    pub last_modified: HeaderValue,
    pub content_type: HeaderValue,
}

impl Presented {
    pub fn of(meta: &EntryMeta) -> Self {
        let value = |s: String| HeaderValue::from_str(&s).unwrap_or(HeaderValue::from_static(""));
        Self {
            etag: value(format!("\"{}\"", meta.etag)),
            last_modified: value(http_date(meta.last_modified_ms)),
            content_type: value(crate::mime::content_type(&meta.key, meta.content_type.as_deref())),
        }
    }
}

fn count(hit: bool, bytes: u64) {
    let cache = if hit { "hit" } else { "miss" };
    if hit {
        metrics::counter!("vod_edge_hits_total").increment(1);
    } else {
        metrics::counter!("vod_edge_misses_total").increment(1);
    }
    metrics::counter!("vod_edge_bytes_sent_total", "cache" => cache).increment(bytes);
}

fn http_date(ms: i64) -> String {
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64))
}

fn check_auth(raw_path: &str, query: Option<&str>, secret: &str, ttl: i64) -> Result<(), Refusal> {
    let deny = |why: &str| {
        metrics::counter!("vod_edge_auth_denied_total").increment(1);
        Err((StatusCode::FORBIDDEN, format!("Forbidden: {why}")))
    };
    let Some(auth_key) = query
        .map(form_decode_pairs)
        .and_then(|q| q.into_iter().find(|(k, _)| k == "auth_key").map(|(_, v)| v))
    else {
        return deny("auth_key is missing");
    };
    let now = now_ms() / 1000;
    let decoded = percent_decode(raw_path);
    let mut result = vod_auth::url_auth::verify_type_a(raw_path, &auth_key, secret, now, ttl);
    if result == Err(vod_auth::UrlAuthError::Mismatch) && decoded != raw_path {
        result = vod_auth::url_auth::verify_type_a(&decoded, &auth_key, secret, now, ttl);
    }
    match result {
        Ok(()) => Ok(()),
        Err(e) => deny(&e.to_string()),
    }
}

/// A cached file's body bytes `range`: from the memory tier when the object is small,
/// else streamed from the file.
async fn entry_body(edge: &Edge, cache_key: &str, e: &Arc<Entry>, range: Range<u64>) -> std::io::Result<Body> {
    if range.is_empty() {
        return Ok(Body::empty());
    }
    let hot = &edge.store.hot;
    if let Some(body) = hot.get(cache_key, e) {
        metrics::counter!("vod_edge_memory_hits_total").increment(1);
        return Ok(Body::from(body.slice(range.start as usize..range.end as usize)));
    }
    if hot.admits(e.meta.size) {
        let whole = e.body_offset..e.body_offset + e.meta.size;
        let body = fill::read_all(e.path.clone(), whole).await?;
        hot.insert(cache_key.to_string(), e.clone(), body.clone());
        return Ok(Body::from(body.slice(range.start as usize..range.end as usize)));
    }
    let abs = e.body_offset + range.start..e.body_offset + range.end;
    let (file, first) = fill::open_first(e.path.clone(), abs.clone()).await?;
    let next = abs.start + first.len() as u64;
    if next >= abs.end {
        return Ok(Body::from(first));
    }
    let rest = fill::file_stream(file, abs.end - next);
    Ok(Body::from_stream(
        futures::stream::once(async { Ok(first) }).chain(rest),
    ))
}

async fn fill_body(edge: &Arc<Edge>, f: Arc<Fill>, range: Range<u64>) -> Result<Body, Refusal> {
    let written = f.progress.borrow().written;
    if range.start > written.saturating_add(FAR_AHEAD) {
        return origin_body(edge, &f.meta, &f.origin, range).await;
    }
    Ok(Body::from_stream(fill::follow(f, range)))
}

async fn origin_body(edge: &Arc<Edge>, meta: &EntryMeta, o: &OriginMeta, range: Range<u64>) -> Result<Body, Refusal> {
    let stream = edge
        .origin
        .read(&meta.bucket, &meta.key, o, range)
        .await
        .map_err(|e| (StatusCode::BAD_GATEWAY, format!("the origin failed: {e}")))?;
    Ok(Body::from_stream(stream))
}

/// A miss: join or start the fill of this version, or stream from the origin when it is
/// not cacheable.
async fn miss_body(edge: &Arc<Edge>, meta: EntryMeta, o: OriginMeta, range: Range<u64>) -> Result<Body, Refusal> {
    let claim = edge.claim(meta.clone(), &o).await.map_err(|e| {
        tracing::warn!(error = %e, "edge cache claim failed");
        (StatusCode::INTERNAL_SERVER_ERROR, "the edge cache failed".to_string())
    })?;
    match claim {
        crate::cache::Claim::Ready(e) => entry_body(edge, &meta.cache_key(), &e, range)
            .await
            .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, format!("reading the cache: {e}"))),
        crate::cache::Claim::Join(f) | crate::cache::Claim::Started(f) => fill_body(edge, f, range).await,
        crate::cache::Claim::Pass => origin_body(edge, &meta, &o, range).await,
    }
}
