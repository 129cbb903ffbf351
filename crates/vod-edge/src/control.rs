//! The control API of an edge: `POST /_edge/purge` and `POST /_edge/preload`, signed with
//! the shared secret, and the request/response shapes [`crate::EdgeClient`] uses.
//!
//! Signature: `X-Edge-Timestamp: <unix seconds>` and
//! `X-Edge-Signature: hex(HMAC-SHA256(secret, "<timestamp>\n<path>\n" + body))`, where
//! `<path>` is `/_edge/purge` or `/_edge/preload`. The timestamp must be within
//! `control_skew_secs` of the edge's clock; anything else is 403.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Request, Response, StatusCode, header};
use futures::StreamExt;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::Edge;

pub const PURGE_PATH: &str = "/_edge/purge";
pub const PRELOAD_PATH: &str = "/_edge/preload";
pub const TIMESTAMP_HEADER: &str = "x-edge-timestamp";
pub const SIGNATURE_HEADER: &str = "x-edge-signature";
/// Largest control request body.
const MAX_BODY: usize = 1 << 20;
/// Most paths in one request (Alibaba's RefreshObjectCaches takes 1,000 URLs per call).
pub const MAX_PATHS: usize = 1000;
/// Objects preloaded at once by one request.
const PRELOAD_CONCURRENCY: usize = 4;

/// `POST /_edge/purge`: objects and directories to drop. Entries are play URLs
/// (`http://edge/bucket/key?auth_key=...`) or paths (`/bucket/key`, `bucket/key`); the query
/// is ignored. A directory (`/bucket/dir/`, or `/bucket/` for a whole bucket) drops every
/// key under it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PurgeRequest {
    pub files: Vec<String>,
    pub directories: Vec<String>,
}

/// `POST /_edge/preload`: objects to fetch into the cache (same forms as purge files).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PreloadRequest {
    pub files: Vec<String>,
}

/// The outcome for one path, in request order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PathResult {
    pub path: String,
    pub ok: bool,
    /// Purge: cached entries dropped (0 when nothing was cached, which is still a success).
    pub purged: u64,
    /// Preload: the object's size.
    pub bytes: u64,
    /// Preload: the current version was already cached.
    pub already_cached: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl PathResult {
    pub fn failed(path: &str, error: impl Into<String>) -> Self {
        Self {
            path: path.to_string(),
            error: Some(error.into()),
            ..Self::default()
        }
    }
}

/// The answer of both control calls.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlResponse {
    pub results: Vec<PathResult>,
}

/// The signature of a control request.
pub fn sign(secret: &str, timestamp: i64, path: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(format!("{timestamp}\n{path}\n").as_bytes());
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fn verify(edge: &Edge, headers: &HeaderMap, path: &str, body: &[u8]) -> Result<(), &'static str> {
    let secret = edge.config.control_secret.as_str();
    if secret.is_empty() {
        return Err("the control API is disabled (no control secret configured)");
    }
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let ts: i64 = get(TIMESTAMP_HEADER)
        .and_then(|v| v.parse().ok())
        .ok_or("missing or malformed X-Edge-Timestamp")?;
    let now = vod_core::now_ms() / 1000;
    if (now - ts).abs() > edge.config.control_skew_secs {
        return Err("X-Edge-Timestamp is too far from the edge's clock");
    }
    let given = get(SIGNATURE_HEADER).ok_or("missing X-Edge-Signature")?;
    let expected = sign(secret, ts, path, body);
    if !vod_auth::ct_eq(expected.as_bytes(), given.to_ascii_lowercase().as_bytes()) {
        return Err("signature mismatch");
    }
    Ok(())
}

fn json_response<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    let body = serde_json::to_vec(value).unwrap_or_default();
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap_or_default()
}

fn refuse(status: StatusCode, why: &str) -> Response<Body> {
    json_response(status, &serde_json::json!({ "error": why }))
}

/// Reads and authenticates a control request; its JSON body on success.
async fn accept<T: for<'de> Deserialize<'de>>(
    edge: &Edge,
    path: &str,
    req: Request<Body>,
) -> Result<T, Response<Body>> {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| refuse(StatusCode::PAYLOAD_TOO_LARGE, "the body is too large"))?;
    if let Err(why) = verify(edge, &parts.headers, path, &bytes) {
        metrics::counter!("vod_edge_control_denied_total").increment(1);
        return Err(refuse(StatusCode::FORBIDDEN, why));
    }
    serde_json::from_slice(&bytes).map_err(|e| refuse(StatusCode::BAD_REQUEST, &format!("malformed JSON: {e}")))
}

/// `(bucket, key)` named by a play URL or path; the key may be empty (a whole bucket).
pub fn target(s: &str) -> Option<(String, String)> {
    let s = s.trim();
    let path = match s.find("://") {
        Some(i) => s[i + 3..].find('/').map_or("/", |j| &s[i + 3 + j..]),
        None => s,
    };
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let path = path.strip_prefix('/').unwrap_or(path);
    let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
    let bucket = vod_auth::percent::percent_decode(bucket);
    (!bucket.is_empty()).then(|| (bucket, vod_auth::percent::percent_decode(key)))
}

pub async fn purge(State(edge): State<Arc<Edge>>, req: Request<Body>) -> Response<Body> {
    let request: PurgeRequest = match accept(&edge, PURGE_PATH, req).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    if request.files.len() + request.directories.len() > MAX_PATHS {
        return refuse(StatusCode::BAD_REQUEST, "too many paths");
    }
    let started = std::time::Instant::now();
    let mut results = Vec::with_capacity(request.files.len() + request.directories.len());
    for f in &request.files {
        results.push(match target(f) {
            Some((bucket, key)) if !key.is_empty() => PathResult {
                path: f.clone(),
                ok: true,
                purged: u64::from(edge.purge_object(&bucket, &key)),
                ..PathResult::default()
            },
            _ => PathResult::failed(f, "not a /bucket/key path"),
        });
    }
    for d in &request.directories {
        results.push(match target(d) {
            Some((bucket, dir)) => PathResult {
                path: d.clone(),
                ok: true,
                purged: edge.purge_directory(&bucket, &dir) as u64,
                ..PathResult::default()
            },
            None => PathResult::failed(d, "not a /bucket/dir/ path"),
        });
    }
    metrics::histogram!("vod_edge_purge_seconds").record(started.elapsed().as_secs_f64());
    json_response(StatusCode::OK, &ControlResponse { results })
}

pub async fn preload(State(edge): State<Arc<Edge>>, req: Request<Body>) -> Response<Body> {
    let request: PreloadRequest = match accept(&edge, PRELOAD_PATH, req).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    if request.files.len() > MAX_PATHS {
        return refuse(StatusCode::BAD_REQUEST, "too many paths");
    }
    let results: Vec<PathResult> = futures::stream::iter(request.files)
        .map(|f| {
            let edge = edge.clone();
            async move {
                let Some((bucket, key)) = target(&f).filter(|(_, k)| !k.is_empty()) else {
                    return PathResult::failed(&f, "not a /bucket/key path");
                };
                match edge.preload_object(&bucket, &key).await {
                    Ok(done) => PathResult {
                        path: f,
                        ok: true,
                        bytes: done.bytes,
                        already_cached: done.already_cached,
                        ..PathResult::default()
                    },
                    Err(e) => PathResult::failed(&f, e.to_string()),
                }
            }
        })
        .buffered(PRELOAD_CONCURRENCY)
        .collect()
        .await;
    json_response(StatusCode::OK, &ControlResponse { results })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let t = |s| target(s);
        assert_eq!(t("/b/k/x.ts"), Some(("b".into(), "k/x.ts".into())));
        assert_eq!(t("b/k%20y.mp4?auth_key=1"), Some(("b".into(), "k y.mp4".into())));
        assert_eq!(
            t("http://edge:8090/b/a/b.m3u8?x#f"),
            Some(("b".into(), "a/b.m3u8".into()))
        );
        assert_eq!(t("https://cdn/b/"), Some(("b".into(), String::new())));
        assert_eq!(t("/b"), Some(("b".into(), String::new())));
        assert_eq!(t("http://edge"), None);
        assert_eq!(t(""), None);
    }

    #[test]
    fn signatures_cover_path_time_and_body() {
        let s = sign("k", 100, PURGE_PATH, b"{}");
        assert_eq!(s.len(), 64);
        assert_ne!(s, sign("k", 101, PURGE_PATH, b"{}"));
        assert_ne!(s, sign("k", 100, PRELOAD_PATH, b"{}"));
        assert_ne!(s, sign("k", 100, PURGE_PATH, b"{ }"));
        assert_ne!(s, sign("j", 100, PURGE_PATH, b"{}"));
    }
}
