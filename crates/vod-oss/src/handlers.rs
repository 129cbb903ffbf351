//! The OSS operations (protocol.md §5.4) behind the one request handler.

use std::ops::Range;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use futures::TryStreamExt;
use vod_auth::percent::{form_decode_pairs, percent_decode, pop_encode};
use vod_blob::{MAX_PUT_SIZE, ObjectWrite};
use vod_core::model::{ObjectType, StoredObject};

use crate::OssService;
use crate::auth::{Caller, SignedRequest};
use crate::error::OssError;

use self::multipart::{abort, complete, initiate, list_parts, list_uploads, upload_part};

mod multipart;

/// Response headers browsers may read (CORS).
const EXPOSED: &str = "ETag, x-oss-request-id, x-oss-hash-crc64ecma, x-oss-object-type, x-oss-storage-class, \
                       Content-Length, Content-Range, Content-MD5, Last-Modified, Date, x-oss-next-append-position";

type Resp = Response<Body>;
type OssResult = Result<Resp, OssError>;

/// One request, parsed.
struct Req {
    method: Method,
    bucket: Option<String>,
    key: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    raw_headers: HeaderMap,
    host: String,
    request_id: String,
}

impl Req {
    fn signed(&self) -> SignedRequest<'_> {
        SignedRequest {
            method: self.method.as_str(),
            bucket: self.bucket.as_deref(),
            key: &self.key,
            query: &self.query,
            headers: &self.headers,
        }
    }

    fn has(&self, name: &str) -> bool {
        self.query.iter().any(|(k, _)| k == name)
    }

    fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn url_encoded(&self) -> bool {
        self.param("encoding-type")
            .is_some_and(|v| v.eq_ignore_ascii_case("url"))
    }

    fn host_id(&self) -> String {
        match &self.bucket {
            Some(b) if !self.host.starts_with(&format!("{b}.")) => format!("{b}.{}", self.host),
            _ => self.host.clone(),
        }
    }
}

/// A request id like OSS's (24 uppercase hex).
fn request_id() -> String {
    let mut id = uuid::Uuid::new_v4().simple().to_string().to_ascii_uppercase();
    id.truncate(24);
    id
}

/// The entry point of every request.
pub async fn handle(State(svc): State<Arc<OssService>>, req: Request<Body>) -> Resp {
    let (parts, body) = req.into_parts();
    let r = parse(&svc, &parts);
    let head = r.method == Method::HEAD;
    let origin = parts.headers.get("origin").cloned();
    let mut resp = match dispatch(&svc, &r, body).await {
        Ok(resp) => resp,
        Err(e) => {
            if e.status.is_server_error() {
                tracing::warn!(code = e.code, request_id = %r.request_id, "OSS request failed");
            } else {
                tracing::debug!(code = e.code, message = %e.message, request_id = %r.request_id, "OSS request refused");
            }
            e.into_response(&r.request_id, &r.host_id(), head)
        }
    };
    let h = resp.headers_mut();
    if !h.contains_key("x-oss-request-id")
        && let Ok(v) = HeaderValue::from_str(&r.request_id)
    {
        h.insert("x-oss-request-id", v);
    }
    h.entry("server").or_insert(HeaderValue::from_static("AliyunOSS"));
    if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(std::time::SystemTime::now())) {
        h.insert("date", v);
    }
    if let Some(origin) = origin {
        h.insert("access-control-allow-origin", origin);
        h.insert("access-control-expose-headers", HeaderValue::from_static(EXPOSED));
        h.insert("vary", HeaderValue::from_static("Origin"));
    }
    resp
}

fn parse(svc: &OssService, parts: &Parts) -> Req {
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let host = parts
        .headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| parts.uri.authority().map(|a| a.to_string()))
        .unwrap_or_default();
    let query = parts.uri.query().map(form_decode_pairs).unwrap_or_default();
    let raw_path = parts.uri.path();
    let host_name = host.split(':').next().unwrap_or_default().to_ascii_lowercase();
    let vhost_bucket = if host_name.starts_with(&format!("{}.", svc.config.bucket)) {
        Some(svc.config.bucket.clone())
    } else {
        svc.vhost_suffix
            .as_deref()
            .and_then(|sfx| host_name.strip_suffix(sfx))
            .filter(|b| !b.is_empty() && !b.contains('.'))
            .map(str::to_string)
    };
    let (bucket, key) = match vhost_bucket {
        Some(b) => (Some(b), percent_decode(raw_path.strip_prefix('/').unwrap_or(raw_path))),
        None => {
            let rest = raw_path.strip_prefix('/').unwrap_or(raw_path);
            let (b, k) = rest.split_once('/').unwrap_or((rest, ""));
            let b = percent_decode(b);
            ((!b.is_empty()).then_some(b), percent_decode(k))
        }
    };
    Req {
        method: parts.method.clone(),
        bucket,
        key,
        query,
        headers,
        raw_headers: parts.headers.clone(),
        host,
        request_id: request_id(),
    }
}

async fn dispatch(svc: &Arc<OssService>, r: &Req, body: Body) -> OssResult {
    if r.method == Method::OPTIONS {
        return Ok(preflight(r));
    }
    let Some(bucket) = r.bucket.as_deref() else {
        return Err(OssError::not_implemented("ListBuckets"));
    };
    if bucket != svc.config.bucket {
        return Err(OssError::no_such_bucket(bucket));
    }
    let now = vod_core::now_ms() / 1000;
    let caller = svc.verifier.authenticate(&r.signed(), now).await?;
    if !caller.covers_bucket(bucket) {
        return Err(scope_denied());
    }
    if r.key.is_empty() {
        return match r.method {
            Method::GET if r.has("uploads") => list_uploads(svc, r, &caller).await,
            _ => Err(OssError::not_implemented("This bucket operation")),
        };
    }
    if r.key.len() > 1023 || r.key.starts_with('/') || r.key.starts_with('\\') {
        return Err(OssError::new(
            StatusCode::BAD_REQUEST,
            "InvalidObjectName",
            "The specified object is not valid.",
        ));
    }
    if !caller.covers(bucket, &r.key) {
        return Err(scope_denied());
    }
    if caller.scope.as_ref().is_some_and(|s| s.read_only) && !matches!(r.method, Method::GET | Method::HEAD) {
        return Err(scope_denied());
    }
    for unsupported in [
        "acl",
        "tagging",
        "symlink",
        "restore",
        "append",
        "x-oss-process",
        "objectMeta",
    ] {
        if r.has(unsupported) {
            return Err(OssError::not_implemented(&format!("The `{unsupported}` subresource")));
        }
    }
    match r.method {
        Method::PUT if r.has("uploadId") || r.has("partNumber") => upload_part(svc, r, &caller, body).await,
        Method::PUT if r.header("x-oss-copy-source").is_some() => Err(OssError::not_implemented("CopyObject")),
        Method::PUT => put_object(svc, r, &caller, body).await,
        Method::POST if r.has("uploads") => initiate(svc, r, &caller).await,
        Method::POST if r.has("uploadId") => complete(svc, r, &caller, body).await,
        Method::GET if r.has("uploadId") => list_parts(svc, r, &caller).await,
        Method::GET | Method::HEAD => get_object(svc, r, &caller).await,
        Method::DELETE if r.has("uploadId") => abort(svc, r, &caller).await,
        Method::DELETE => delete_object(svc, r).await,
        _ => Err(OssError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "The specified method is not allowed against this resource.",
        )),
    }
}

fn scope_denied() -> OssError {
    OssError::access_denied("You have no right to access this object: the credential is limited to another object.")
}

fn preflight(r: &Req) -> Resp {
    let allow_headers = r
        .header("access-control-request-headers")
        .filter(|h| !h.is_empty())
        .unwrap_or("*");
    Response::builder()
        .status(StatusCode::OK)
        .header("access-control-allow-methods", "GET, PUT, POST, DELETE, HEAD")
        .header(
            "access-control-allow-headers",
            HeaderValue::from_str(allow_headers).unwrap_or(HeaderValue::from_static("*")),
        )
        .header("access-control-max-age", "3600")
        .header("content-length", "0")
        .body(Body::empty())
        .unwrap_or_default()
}

fn content_md5(r: &Req) -> Result<Option<[u8; 16]>, OssError> {
    let Some(v) = r.header("content-md5") else {
        return Ok(None);
    };
    STANDARD
        .decode(v.trim())
        .ok()
        .and_then(|b| <[u8; 16]>::try_from(b.as_slice()).ok())
        .map(Some)
        .ok_or_else(|| {
            OssError::new(
                StatusCode::BAD_REQUEST,
                "InvalidDigest",
                "The Content-MD5 you specified is not valid.",
            )
        })
}

fn content_length(r: &Req) -> Option<u64> {
    r.header("content-length").and_then(|v| v.trim().parse().ok())
}

fn content_type(r: &Req) -> String {
    r.header("content-type")
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| "application/octet-stream".into())
}

fn write_of(r: &Req, caller: &Caller) -> ObjectWrite {
    ObjectWrite {
        bucket: r.bucket.clone().unwrap_or_default(),
        key: r.key.clone(),
        account_id: caller.account_id.clone(),
        content_type: content_type(r),
        media_id: caller.scope.as_ref().and_then(|s| s.media_id.clone()),
    }
}

fn quoted(etag: &str) -> String {
    format!("\"{etag}\"")
}

fn xml_response(status: StatusCode, body: String) -> Resp {
    Response::builder()
        .status(status)
        .header("content-type", "application/xml")
        .header("content-length", body.len())
        .body(Body::from(body))
        .unwrap_or_default()
}

fn encode_key(r: &Req, key: &str) -> String {
    if r.url_encoded() {
        pop_encode(key)
    } else {
        key.to_string()
    }
}

/// `2012-02-23T07:01:34.000Z`: whole seconds, as OSS writes them (oss2's parser accepts
/// only `.000`).
fn iso8601_ms(unix_ms: i64) -> String {
    let base = crate::auth::iso8601(unix_ms.div_euclid(1000));
    format!("{}.000Z", base.trim_end_matches('Z'))
}

async fn put_object(svc: &Arc<OssService>, r: &Req, caller: &Caller, body: Body) -> OssResult {
    if content_length(r).is_some_and(|n| n > MAX_PUT_SIZE) {
        return Err(vod_blob::ObjectError::EntityTooLarge(MAX_PUT_SIZE).into());
    }
    let md5 = content_md5(r)?;
    let stream = body.into_data_stream();
    let object = svc.objects.put_object(&write_of(r, caller), md5, stream).await?;
    let resp = Response::builder()
        .status(StatusCode::OK)
        .header("etag", quoted(&object.etag))
        .header("x-oss-hash-crc64ecma", object.crc64.to_string())
        .header("content-md5", md5_b64(&object))
        .header("content-length", "0")
        .body(Body::empty())
        .unwrap_or_default();
    svc.completed(object).await;
    Ok(resp)
}

fn md5_b64(object: &StoredObject) -> String {
    object
        .md5_hex
        .as_deref()
        .and_then(|h| hex::decode(h).ok())
        .map(|b| STANDARD.encode(b))
        .unwrap_or_default()
}

/// A `Range: bytes=…` header against an object of `size` bytes: `None` to ignore it (absent,
/// malformed or several ranges: the whole object is sent, as OSS does), `Some(Err)` when it
/// starts past the end (416).
fn parse_range(h: Option<&str>, size: u64) -> Option<Result<Range<u64>, ()>> {
    let spec = h?;
    // OSS sends the whole object for a zero-length suffix instead of 416.
    if vod_blob::range::is_empty_suffix(spec) {
        return None;
    }
    vod_blob::range::parse_byte_range(spec, size)
}

async fn get_object(svc: &Arc<OssService>, r: &Req, caller: &Caller) -> OssResult {
    let bucket = r.bucket.as_deref().unwrap_or_default();
    let object = svc
        .objects
        .get(bucket, &r.key)
        .await?
        .ok_or_else(|| OssError::no_such_key(&r.key))?;
    if object.account_id != caller.account_id {
        return Err(OssError::access_denied("You have no right to access this object."));
    }
    let head = r.method == Method::HEAD;
    let range = if head {
        None
    } else {
        parse_range(r.header("range"), object.size)
    };
    let (status, range) = match range {
        None => (StatusCode::OK, 0..object.size),
        Some(Ok(range)) => (StatusCode::PARTIAL_CONTENT, range),
        Some(Err(())) => {
            return Err(OssError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "InvalidRange",
                "The requested range cannot be satisfied.",
            )
            .with("RangeRequested", r.header("range").unwrap_or_default())
            .with("ActualObjectSize", object.size.to_string()));
        }
    };
    let last_modified = std::time::UNIX_EPOCH + std::time::Duration::from_millis(object.created_at.max(0) as u64);
    let mut builder = Response::builder()
        .status(status)
        .header("content-type", object.content_type.as_str())
        .header("content-length", range.end - range.start)
        .header("etag", quoted(&object.etag))
        .header("last-modified", httpdate::fmt_http_date(last_modified))
        .header("accept-ranges", "bytes")
        .header(
            "x-oss-object-type",
            match object.object_type {
                ObjectType::Normal => "Normal",
                ObjectType::Multipart => "Multipart",
            },
        )
        .header("x-oss-hash-crc64ecma", object.crc64.to_string())
        .header("x-oss-storage-class", "Standard");
    if object.object_type == ObjectType::Normal && !md5_b64(&object).is_empty() {
        builder = builder.header("content-md5", md5_b64(&object));
    }
    if status == StatusCode::PARTIAL_CONTENT {
        builder = builder.header(
            "content-range",
            format!("bytes {}-{}/{}", range.start, range.end.saturating_sub(1), object.size),
        );
    }
    if head {
        return Ok(builder.body(Body::empty()).unwrap_or_default());
    }
    let stream = svc.objects.read(&object, range).await?;
    let _ = &r.raw_headers;
    Ok(builder
        .body(Body::from_stream(stream.map_err(std::io::Error::other)))
        .unwrap_or_default())
}

async fn delete_object(svc: &Arc<OssService>, r: &Req) -> OssResult {
    let bucket = r.bucket.as_deref().unwrap_or_default();
    svc.objects.delete_object(bucket, &r.key).await?;
    Ok(Response::builder()
        .status(StatusCode::NO_CONTENT)
        .body(Body::empty())
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range(None, 10), None);
        assert_eq!(parse_range(Some("bytes=0-4"), 10), Some(Ok(0..5)));
        assert_eq!(parse_range(Some("bytes=5-"), 10), Some(Ok(5..10)));
        assert_eq!(parse_range(Some("bytes=-3"), 10), Some(Ok(7..10)));
        assert_eq!(parse_range(Some("bytes=-30"), 10), Some(Ok(0..10)));
        assert_eq!(parse_range(Some("bytes=8-100"), 10), Some(Ok(8..10)));
        assert_eq!(parse_range(Some("bytes=10-"), 10), Some(Err(())));
        assert_eq!(parse_range(Some("bytes=4-2"), 10), None);
        assert_eq!(parse_range(Some("bytes=0-1,3-4"), 10), None);
        assert_eq!(parse_range(Some("items=0-1"), 10), None);
        assert_eq!(parse_range(Some("bytes=x-1"), 10), None);
        assert_eq!(parse_range(Some("bytes=-0"), 10), None, "OSS: the whole object");
    }

    #[test]
    fn times() {
        assert_eq!(iso8601_ms(1_704_067_200_123), "2024-01-01T00:00:00.000Z");
        assert_eq!(request_id().len(), 24);
    }
}
