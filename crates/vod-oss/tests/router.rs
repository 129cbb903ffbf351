//! The OSS router in-process with hand-signed requests: operations, XML shapes, signatures
//! (V1/V4, header and presigned), scoped STS credentials and their errors, addressing, CORS,
//! and completion events. (Flat memory on a large upload: tests/memory.rs, alone in its
//! process so other tests' allocations do not count.)

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http_body_util::BodyExt;
use md5::{Digest as _, Md5};
use tower::ServiceExt as _;
use vod_auth::{oss_v1, oss_v4, percent};
use vod_blob::{BlobStore, ObjectStore};
use vod_core::CoreResult;
use vod_core::service::identity::bootstrap;
use vod_core::uploads::{CompletedObject, UploadEvents};
use vod_oss::{CredentialScope, OssConfig, OssService, ScopedCredential, UploadTarget};

const BUCKET: &str = "outin-vodstack";
const ROOT_AK: &str = "LTAIrouterTestRoot";
const ROOT_SECRET: &str = "router-test-root-secret";

#[derive(Default)]
struct Events {
    completed: Mutex<Vec<CompletedObject>>,
    revoked: AtomicBool,
    fail: AtomicBool,
}

#[async_trait]
impl UploadEvents for Events {
    async fn upload_allowed(&self, _: &str, _: &str, _: Option<i64>) -> CoreResult<bool> {
        Ok(!self.revoked.load(Ordering::SeqCst))
    }

    async fn object_completed(&self, o: &CompletedObject) -> CoreResult<()> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(vod_core::CoreError::Unavailable("media library down".into()));
        }
        self.completed.lock().unwrap().push(o.clone());
        Ok(())
    }
}

struct Harness {
    svc: Arc<OssService>,
    target: UploadTarget,
    account: String,
    events: Arc<Events>,
    _db: vod_db::testing::SqliteTestDb,
    dir: tempfile::TempDir,
}

impl Harness {
    async fn new() -> Self {
        Self::with_config(OssConfig {
            public_endpoint: "http://oss.local:9000".into(),
            ..Default::default()
        })
        .await
    }

    async fn with_config(config: OssConfig) -> Self {
        let db = vod_db::testing::SqliteTestDb::new().unwrap();
        let store = db.open().await.unwrap();
        let boot = bootstrap(store.as_ref(), Some((ROOT_AK, ROOT_SECRET))).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobStore::fs(&dir.path().join("objects")).unwrap();
        let objects = Arc::new(ObjectStore::new(blobs, store));
        let events = Arc::new(Events::default());
        let target = UploadTarget::new(
            &config.public_endpoint,
            &config.bucket,
            &config.region,
            boot.master_key.clone(),
        );
        let svc = Arc::new(OssService::new(config, objects, events.clone(), boot.master_key));
        Self {
            svc,
            target,
            account: boot.account.id,
            events,
            _db: db,
            dir,
        }
    }

    fn cred(&self, key: Option<&str>, prefix: Option<&str>, ttl: i64) -> ScopedCredential {
        let scope = CredentialScope {
            key: key.map(Into::into),
            prefix: prefix.map(Into::into),
            media_id: Some("media-1".into()),
            generation: Some(1),
        };
        self.target.issue(&self.account, "root", &scope, ttl, now())
    }

    async fn send(&self, req: Request<Body>) -> Response<Body> {
        vod_oss::router(self.svc.clone()).oneshot(req).await.unwrap()
    }
}

fn now() -> i64 {
    vod_core::now_ms() / 1000
}

fn http_date(offset: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs((now() + offset) as u64);
    httpdate::fmt_http_date(t)
}

/// Who signs: an access key, its secret and maybe a security token.
#[derive(Clone)]
struct Signer {
    ak: String,
    secret: String,
    token: Option<String>,
}

fn root() -> Signer {
    Signer {
        ak: ROOT_AK.into(),
        secret: ROOT_SECRET.into(),
        token: None,
    }
}

fn sts(c: &ScopedCredential) -> Signer {
    Signer {
        ak: c.access_key_id.clone(),
        secret: c.access_key_secret.clone(),
        token: Some(c.security_token.clone()),
    }
}

/// A request to build and sign.
struct Call {
    method: &'static str,
    /// Raw (already encoded) path, e.g. `/outin-vodstack/sv%2Fa.mp4`.
    path: String,
    /// Raw query string without `?`.
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn call(method: &'static str, key: &str) -> Call {
    Call {
        method,
        path: format!("/{BUCKET}/{}", percent::pop_encode(key)),
        query: String::new(),
        headers: vec![("host".into(), "127.0.0.1:9000".into())],
        body: Vec::new(),
    }
}

impl Call {
    fn q(mut self, query: &str) -> Self {
        self.query = query.into();
        self
    }

    fn h(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.to_ascii_lowercase(), v.into()));
        self
    }

    fn body(mut self, b: impl Into<Vec<u8>>) -> Self {
        self.body = b.into();
        self
    }

    fn decoded_key(&self) -> (Option<String>, String) {
        let rest = self.path.strip_prefix('/').unwrap();
        let (b, k) = rest.split_once('/').unwrap_or((rest, ""));
        (Some(percent::percent_decode(b)), percent::percent_decode(k))
    }

    fn header(&self, k: &str) -> &str {
        self.headers
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    /// V1 header signature (`Authorization: OSS ak:sig`), written out by hand.
    fn v1(mut self, s: &Signer) -> Request<Body> {
        self.headers.push(("date".into(), http_date(0)));
        if let Some(t) = &s.token {
            self.headers.push(("x-oss-security-token".into(), t.clone()));
        }
        let (bucket, key) = self.decoded_key();
        let query = percent::form_decode_pairs(&self.query);
        let resource = oss_v1::canonicalized_resource(bucket.as_deref(), &key, &query);
        let mut oss_headers: Vec<(String, String)> = self
            .headers
            .iter()
            .filter(|(k, _)| k.starts_with("x-oss-"))
            .cloned()
            .collect();
        oss_headers.sort();
        let canon: String = oss_headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
        let sts = format!(
            "{}\n{}\n{}\n{}\n{canon}{resource}",
            self.method,
            self.header("content-md5"),
            self.header("content-type"),
            self.header("date"),
        );
        let sig = oss_v1::sign(&s.secret, &sts);
        self.headers
            .push(("authorization".into(), format!("OSS {}:{sig}", s.ak)));
        self.build()
    }

    /// V4 header signature with `sep` between the Authorization components.
    fn v4(mut self, s: &Signer, sep: &str) -> Request<Body> {
        let t = time::OffsetDateTime::now_utc();
        let x_date = format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        );
        let day = x_date[..8].to_string();
        self.headers.push(("x-oss-date".into(), x_date.clone()));
        self.headers
            .push(("x-oss-content-sha256".into(), "UNSIGNED-PAYLOAD".into()));
        if let Some(tok) = &s.token {
            self.headers.push(("x-oss-security-token".into(), tok.clone()));
        }
        let (bucket, key) = self.decoded_key();
        let query = percent::form_decode_pairs(&self.query);
        let uri = oss_v4::canonical_uri(bucket.as_deref(), &key);
        let cr = oss_v4::canonical_request(self.method, &uri, &query, &self.headers, &[], "UNSIGNED-PAYLOAD");
        let sts = oss_v4::string_to_sign(&x_date, &day, "cn-shanghai", &cr);
        let sig = oss_v4::sign(&s.secret, &day, "cn-shanghai", &sts);
        self.headers.push((
            "authorization".into(),
            format!(
                "OSS4-HMAC-SHA256 Credential={}/{day}/cn-shanghai/oss/aliyun_v4_request{sep}Signature={sig}",
                s.ak
            ),
        ));
        self.build()
    }

    /// V1 presigned URL valid `ttl` seconds.
    fn presign_v1(mut self, s: &Signer, ttl: i64) -> Request<Body> {
        let expires = (now() + ttl).to_string();
        let mut query = percent::form_decode_pairs(&self.query);
        if let Some(t) = &s.token {
            query.push(("security-token".into(), t.clone()));
        }
        let (bucket, key) = self.decoded_key();
        let resource = oss_v1::canonicalized_resource(bucket.as_deref(), &key, &query);
        let sts = format!("{}\n\n\n{expires}\n{resource}", self.method);
        let sig = oss_v1::sign(&s.secret, &sts);
        query.push(("OSSAccessKeyId".into(), s.ak.clone()));
        query.push(("Expires".into(), expires));
        query.push(("Signature".into(), sig));
        self.query = encode_query(&query);
        self.build()
    }

    /// V4 presigned URL valid `ttl` seconds.
    fn presign_v4(mut self, s: &Signer, ttl: i64) -> Request<Body> {
        let t = time::OffsetDateTime::now_utc();
        let x_date = format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        );
        let day = x_date[..8].to_string();
        let mut query = percent::form_decode_pairs(&self.query);
        query.push(("x-oss-signature-version".into(), "OSS4-HMAC-SHA256".into()));
        query.push(("x-oss-date".into(), x_date.clone()));
        query.push(("x-oss-expires".into(), ttl.to_string()));
        query.push((
            "x-oss-credential".into(),
            format!("{}/{day}/cn-shanghai/oss/aliyun_v4_request", s.ak),
        ));
        if let Some(tok) = &s.token {
            query.push(("x-oss-security-token".into(), tok.clone()));
        }
        let (bucket, key) = self.decoded_key();
        let uri = oss_v4::canonical_uri(bucket.as_deref(), &key);
        let cr = oss_v4::canonical_request(self.method, &uri, &query, &self.headers, &[], "UNSIGNED-PAYLOAD");
        let sts = oss_v4::string_to_sign(&x_date, &day, "cn-shanghai", &cr);
        query.push((
            "x-oss-signature".into(),
            oss_v4::sign(&s.secret, &day, "cn-shanghai", &sts),
        ));
        self.query = encode_query(&query);
        self.build()
    }

    fn unsigned(self) -> Request<Body> {
        self.build()
    }

    fn build(self) -> Request<Body> {
        let uri = if self.query.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, self.query)
        };
        let mut b = Request::builder().method(self.method).uri(uri);
        for (k, v) in &self.headers {
            b = b.header(k.as_str(), v.as_str());
        }
        b.body(Body::from(self.body)).unwrap()
    }
}

fn encode_query(q: &[(String, String)]) -> String {
    q.iter()
        .map(|(k, v)| {
            if v.is_empty() {
                percent::pop_encode(k)
            } else {
                format!("{}={}", percent::pop_encode(k), percent::pop_encode(v))
            }
        })
        .collect::<Vec<_>>()
        .join("&")
}

async fn text(resp: Response<Body>) -> String {
    String::from_utf8(resp.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}

fn hdr<'a>(resp: &'a Response<Body>, name: &str) -> &'a str {
    resp.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// The `<Name>` element of an XML document.
fn el(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{name}>"))? + start;
    Some(xml[start..end].replace("&quot;", "\""))
}

async fn expect_error(resp: Response<Body>, status: StatusCode, code: &str) -> String {
    assert_eq!(resp.status(), status, "expected {code}");
    assert_eq!(hdr(&resp, "x-oss-request-id").len(), 24);
    assert!(hdr(&resp, "content-type").starts_with("application/xml"));
    let body = text(resp).await;
    assert_eq!(el(&body, "Code").as_deref(), Some(code), "{body}");
    assert!(
        el(&body, "RequestId").is_some() && el(&body, "HostId").is_some(),
        "{body}"
    );
    body
}

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn md5_hex_upper(b: &[u8]) -> String {
    hex::encode_upper(Md5::digest(b))
}

#[tokio::test]
async fn put_head_get_and_ranges_with_a_scoped_credential() {
    let h = Harness::new().await;
    let key = "sv/1a2b/abc def+中.mp4";
    let c = h.cred(Some(key), None, 3000);
    let body = data(300_000, 1);
    // oss2 encodes '/' in the path as %2F: the key is fully decoded.
    let mut put = call("PUT", key).h("content-type", "video/mp4").body(body.clone());
    put.path = format!("/{BUCKET}/{}", percent::pop_encode(key));
    assert!(put.path.contains("%2F"));
    let resp = h.send(put.v1(&sts(&c))).await;
    assert_eq!(resp.status(), StatusCode::OK, "{}", text(resp).await);
    assert_eq!(hdr(&resp, "etag"), format!("\"{}\"", md5_hex_upper(&body)));
    assert_eq!(
        hdr(&resp, "x-oss-hash-crc64ecma"),
        vod_auth::crc64::checksum(&body).to_string()
    );
    assert_eq!(hdr(&resp, "content-md5"), STANDARD.encode(Md5::digest(&body)));

    let resp = h.send(call("HEAD", key).v1(&sts(&c))).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(hdr(&resp, "content-length"), "300000");
    assert_eq!(hdr(&resp, "content-type"), "video/mp4");
    assert_eq!(hdr(&resp, "x-oss-object-type"), "Normal");
    assert_eq!(hdr(&resp, "x-oss-storage-class"), "Standard");
    assert!(hdr(&resp, "last-modified").ends_with("GMT"));
    assert!(text(resp).await.is_empty());

    let resp = h.send(call("GET", key).v4(&sts(&c), ",")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.into_body().collect().await.unwrap().to_bytes(),
        Bytes::from(body.clone())
    );

    for (range, want, status) in [
        ("bytes=0-9", 0..10, StatusCode::PARTIAL_CONTENT),
        ("bytes=299990-", 299_990..300_000, StatusCode::PARTIAL_CONTENT),
        ("bytes=-5", 299_995..300_000, StatusCode::PARTIAL_CONTENT),
        ("bytes=5-1", 0..300_000, StatusCode::OK),
    ] {
        let resp = h.send(call("GET", key).h("range", range).v1(&sts(&c))).await;
        assert_eq!(resp.status(), status, "{range}");
        if status == StatusCode::PARTIAL_CONTENT {
            assert_eq!(
                hdr(&resp, "content-range"),
                format!("bytes {}-{}/300000", want.start, want.end - 1)
            );
        }
        let got = resp.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&got[..], &body[want], "{range}");
    }
    let resp = h.send(call("GET", key).h("range", "bytes=300000-").v1(&sts(&c))).await;
    expect_error(resp, StatusCode::RANGE_NOT_SATISFIABLE, "InvalidRange").await;

    // The media library heard of it, with the credential's media.
    let done = h.events.completed.lock().unwrap().clone();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].key, key);
    assert_eq!(done[0].media_id.as_deref(), Some("media-1"));
    assert_eq!(done[0].md5_hex, hex::encode(Md5::digest(&body)));
    assert_eq!(done[0].etag, md5_hex_upper(&body));
    assert_eq!(done[0].size, 300_000);

    // HEAD of a missing key: no body, the error in x-oss-err.
    let c2 = h.cred(None, Some("sv/"), 3000);
    let resp = h.send(call("HEAD", "sv/missing.mp4").v1(&sts(&c2))).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let err = STANDARD.decode(hdr(&resp, "x-oss-err")).unwrap();
    assert_eq!(
        el(&String::from_utf8(err).unwrap(), "Code").as_deref(),
        Some("NoSuchKey")
    );
    assert!(text(resp).await.is_empty());
}

#[tokio::test]
async fn v4_headers_presigned_urls_and_root_keys() {
    let h = Harness::new().await;
    let body = data(1000, 2);
    for (i, sep) in [",", ", "].iter().enumerate() {
        let key = format!("v4/{i}.bin");
        let c = h.cred(Some(&key), None, 3000);
        // oss-v2 does not encode '/' in the path.
        let mut put = call("PUT", &key)
            .h("content-type", "application/octet-stream")
            .body(body.clone());
        put.path = format!("/{BUCKET}/{}", percent::pop_encode_path(&key));
        let resp = h.send(put.v4(&sts(&c), sep)).await;
        assert_eq!(resp.status(), StatusCode::OK, "{}", text(resp).await);
    }
    // A long-term root key may use the whole bucket, header or presigned.
    let resp = h
        .send(call("PUT", "any/where.txt").body("hello world").v1(&root()))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(hdr(&resp, "x-oss-hash-crc64ecma"), "5981764153023615706");
    for req in [
        call("GET", "any/where.txt").presign_v1(&root(), 60),
        call("GET", "any/where.txt").presign_v4(&root(), 60),
        call("GET", "v4/0.bin").presign_v1(&sts(&h.cred(Some("v4/0.bin"), None, 60)), 60),
        call("GET", "v4/1.bin").presign_v4(&sts(&h.cred(Some("v4/1.bin"), None, 60)), 60),
    ] {
        let uri = req.uri().to_string();
        let resp = h.send(req).await;
        assert_eq!(resp.status(), StatusCode::OK, "{uri}: {}", text(resp).await);
    }
    let resp = h.send(call("GET", "any/where.txt").presign_v1(&root(), -1)).await;
    let body = expect_error(resp, StatusCode::FORBIDDEN, "AccessDenied").await;
    assert!(body.contains("Request has expired."), "{body}");
    let resp = h.send(call("GET", "any/where.txt").presign_v4(&root(), -1)).await;
    expect_error(resp, StatusCode::FORBIDDEN, "AccessDenied").await;
}

#[tokio::test]
async fn multipart_upload_flow_and_xml_shapes() {
    let h = Harness::new().await;
    let key = "sv/m/movie.mp4";
    let c = h.cred(Some(key), None, 3000);
    let s = sts(&c);
    for q in ["uploads", "uploads="] {
        let resp = h
            .send(call("POST", key).q(q).h("content-type", "video/mp4").v1(&s))
            .await;
        assert_eq!(resp.status(), StatusCode::OK);
        let xml = text(resp).await;
        assert!(xml.starts_with("<?xml"), "{xml}");
        assert_eq!(el(&xml, "Key").as_deref(), Some(key));
        assert_eq!(el(&xml, "Bucket").as_deref(), Some(BUCKET));
        assert_eq!(el(&xml, "UploadId").unwrap().len(), 32);
    }
    let resp = h
        .send(call("POST", key).q("uploads=&encoding-type=url").v4(&s, ","))
        .await;
    let xml = text(resp).await;
    assert_eq!(el(&xml, "EncodingType").as_deref(), Some("url"));
    assert_eq!(el(&xml, "Key").as_deref(), Some("sv%2Fm%2Fmovie.mp4"));
    let upload_id = el(&xml, "UploadId").unwrap();

    let parts = [data(102_400, 3), data(150_000, 4), data(10, 5)];
    let mut etags = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let q = format!("uploadId={upload_id}&partNumber={}", i + 1);
        let resp = h.send(call("PUT", key).q(&q).body(p.clone()).v1(&s)).await;
        assert_eq!(resp.status(), StatusCode::OK, "{}", text(resp).await);
        assert_eq!(hdr(&resp, "etag"), format!("\"{}\"", md5_hex_upper(p)));
        assert_eq!(
            hdr(&resp, "x-oss-hash-crc64ecma"),
            vod_auth::crc64::checksum(p).to_string()
        );
        etags.push(hdr(&resp, "etag").to_string());
    }
    for bad in ["0", "10001", "x"] {
        let q = format!("uploadId={upload_id}&partNumber={bad}");
        let resp = h.send(call("PUT", key).q(&q).body("x").v1(&s)).await;
        let body = expect_error(resp, StatusCode::BAD_REQUEST, "InvalidArgument").await;
        assert!(body.contains("Part number must be an integer between 1 and 10000, inclusive."));
    }

    let q = format!("uploadId={upload_id}&part-number-marker=&max-parts=2");
    let resp = h.send(call("GET", key).q(&q).v1(&s)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let xml = text(resp).await;
    assert_eq!(el(&xml, "IsTruncated").as_deref(), Some("true"));
    assert_eq!(el(&xml, "NextPartNumberMarker").as_deref(), Some("2"));
    assert_eq!(el(&xml, "PartNumber").as_deref(), Some("1"));
    assert_eq!(el(&xml, "Size").as_deref(), Some("102400"));
    assert_eq!(el(&xml, "ETag").as_deref(), Some(etags[0].as_str()));
    let lm = el(&xml, "LastModified").unwrap();
    assert!(lm.len() == 24 && lm.ends_with(".000Z"), "{lm}");

    let resp = h.send(call("GET", "").q("uploads").v1(&root())).await;
    let xml = text(resp).await;
    assert_eq!(xml.matches("<Upload>").count(), 3, "{xml}");
    // A credential scoped to another key sees none of them.
    let other = sts(&h.cred(Some("sv/other.mp4"), None, 60));
    let xml = text(h.send(call("GET", "").q("uploads").v1(&other)).await).await;
    assert_eq!(xml.matches("<Upload>").count(), 0, "{xml}");

    let complete = |list: &[(usize, &str)]| {
        let mut xml = String::from("<CompleteMultipartUpload>");
        for (n, e) in list {
            xml.push_str(&format!("<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag></Part>"));
        }
        xml.push_str("</CompleteMultipartUpload>");
        xml
    };
    let q = format!("uploadId={upload_id}");
    let cases = [
        (complete(&[(2, &etags[1]), (1, &etags[0])]), "InvalidPartOrder"),
        (complete(&[(1, &etags[1]), (2, &etags[1])]), "InvalidPart"),
        (
            complete(&[(1, &etags[0]), (3, &etags[2]), (2, &etags[1])]),
            "InvalidPartOrder",
        ),
        (
            complete(&[(1, &etags[0]), (3, &etags[2]), (4, &etags[2])]),
            "InvalidPart",
        ),
        ("<nope/>".to_string(), "MalformedXML"),
    ];
    for (body, code) in cases {
        let resp = h.send(call("POST", key).q(&q).body(body).v1(&s)).await;
        expect_error(resp, StatusCode::BAD_REQUEST, code).await;
    }
    // Part 3 (10 bytes) is fine last, but not before part 2.
    let small_first = complete(&[(1, &etags[0]), (3, &etags[2])]);
    let resp = h.send(call("POST", key).q(&q).body(small_first.clone()).v1(&s)).await;
    assert_eq!(resp.status(), StatusCode::OK, "a small last part is allowed");
    let _ = text(resp).await;
    h.events.completed.lock().unwrap().clear();

    // A fresh upload: a small middle part fails with EntityTooSmall; then success.
    let xml = text(h.send(call("POST", key).q("uploads").v1(&s)).await).await;
    let upload_id = el(&xml, "UploadId").unwrap();
    let q = format!("uploadId={upload_id}");
    for (i, p) in parts.iter().enumerate() {
        let pq = format!("uploadId={upload_id}&partNumber={}", i + 1);
        assert_eq!(
            h.send(call("PUT", key).q(&pq).body(p.clone()).v4(&s, ", "))
                .await
                .status(),
            StatusCode::OK
        );
    }
    let small_middle = data(99, 6);
    let pq = format!("uploadId={upload_id}&partNumber=4");
    let resp = h.send(call("PUT", key).q(&pq).body(small_middle.clone()).v1(&s)).await;
    let e4 = hdr(&resp, "etag").to_string();
    let body = complete(&[(1, &etags[0]), (2, &etags[1]), (3, &etags[2]), (4, &e4)]);
    let resp = h.send(call("POST", key).q(&q).body(body).v1(&s)).await;
    let xml = expect_error(resp, StatusCode::BAD_REQUEST, "EntityTooSmall").await;
    assert_eq!(el(&xml, "PartNumber").as_deref(), Some("3"));

    let body = complete(&[(1, &etags[0]), (2, &etags[1]), (3, &etags[2])]);
    let resp = h.send(call("POST", key).q(&q).body(body.clone()).v1(&s)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let whole = parts.concat();
    let mut md5s = Vec::new();
    for p in &parts {
        md5s.extend_from_slice(&Md5::digest(p));
    }
    let want_etag = format!("\"{}-3\"", md5_hex_upper(&md5s));
    assert_eq!(hdr(&resp, "etag"), want_etag);
    assert_eq!(
        hdr(&resp, "x-oss-hash-crc64ecma"),
        vod_auth::crc64::checksum(&whole).to_string()
    );
    let xml = text(resp).await;
    assert_eq!(el(&xml, "ETag").as_deref(), Some(want_etag.as_str()));
    assert_eq!(
        el(&xml, "Location").as_deref(),
        Some("http://oss.local:9000/outin-vodstack/sv/m/movie.mp4")
    );

    let done = h.events.completed.lock().unwrap().clone();
    assert_eq!(done.len(), 1);
    assert_eq!(
        done[0].md5_hex,
        hex::encode(Md5::digest(&whole)),
        "whole-object MD5 of a multipart object"
    );

    // Read back across the parts, whole and ranged; HEAD says Multipart.
    let resp = h.send(call("GET", key).v1(&s)).await;
    assert_eq!(
        resp.into_body().collect().await.unwrap().to_bytes(),
        Bytes::from(whole.clone())
    );
    let resp = h.send(call("GET", key).h("range", "bytes=102395-102405").v1(&s)).await;
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        &resp.into_body().collect().await.unwrap().to_bytes()[..],
        &whole[102_395..102_406]
    );
    let resp = h.send(call("HEAD", key).v1(&s)).await;
    assert_eq!(hdr(&resp, "x-oss-object-type"), "Multipart");
    assert_eq!(hdr(&resp, "content-length"), whole.len().to_string());

    // The finished upload is gone: complete again, parts, list, abort → NoSuchUpload.
    let resp = h.send(call("POST", key).q(&q).body(body).v1(&s)).await;
    expect_error(resp, StatusCode::NOT_FOUND, "NoSuchUpload").await;
    let resp = h
        .send(call("PUT", key).q(&format!("{q}&partNumber=1")).body("x").v1(&s))
        .await;
    expect_error(resp, StatusCode::NOT_FOUND, "NoSuchUpload").await;
    let resp = h.send(call("GET", key).q(&q).v1(&s)).await;
    expect_error(resp, StatusCode::NOT_FOUND, "NoSuchUpload").await;

    // Abort: 204, then NoSuchUpload.
    let xml = text(h.send(call("POST", key).q("uploads").v1(&s)).await).await;
    let q = format!("uploadId={}", el(&xml, "UploadId").unwrap());
    assert_eq!(
        h.send(call("PUT", key).q(&format!("{q}&partNumber=1")).body("abc").v1(&s))
            .await
            .status(),
        StatusCode::OK
    );
    let resp = h.send(call("DELETE", key).q(&q).v1(&s)).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let resp = h.send(call("DELETE", key).q(&q).v1(&s)).await;
    expect_error(resp, StatusCode::NOT_FOUND, "NoSuchUpload").await;
}

#[tokio::test]
async fn credential_errors() {
    let h = Harness::new().await;
    let key = "sv/a/a.mp4";
    let c = h.cred(Some(key), None, 3000);

    // Expired: SecurityTokenExpired with the token echoed.
    let old = h.target.issue(
        &h.account,
        "root",
        &CredentialScope {
            key: Some(key.into()),
            ..Default::default()
        },
        1,
        now() - 10,
    );
    let resp = h.send(call("PUT", key).body("x").v1(&sts(&old))).await;
    let body = expect_error(resp, StatusCode::FORBIDDEN, "SecurityTokenExpired").await;
    assert_eq!(el(&body, "SecurityToken").as_deref(), Some(old.security_token.as_str()));

    // An STS key without its token.
    let lost = Signer { token: None, ..sts(&c) };
    let resp = h.send(call("PUT", key).body("x").v1(&lost)).await;
    let body = expect_error(resp, StatusCode::FORBIDDEN, "InvalidAccessKeyId").await;
    assert!(body.contains("Security Token may be lost"), "{body}");

    // Wrong secret: SignatureDoesNotMatch with what we signed.
    let wrong = Signer {
        secret: "nope".into(),
        ..sts(&c)
    };
    let resp = h
        .send(call("PUT", key).h("content-type", "video/mp4").body("x").v1(&wrong))
        .await;
    let body = expect_error(resp, StatusCode::FORBIDDEN, "SignatureDoesNotMatch").await;
    let string_to_sign = el(&body, "StringToSign").unwrap();
    assert!(string_to_sign.starts_with("PUT\n\nvideo/mp4\n"), "{string_to_sign}");
    assert!(
        string_to_sign.ends_with("/outin-vodstack/sv/a/a.mp4"),
        "{string_to_sign}"
    );
    assert_eq!(el(&body, "OSSAccessKeyId").as_deref(), Some(c.access_key_id.as_str()));
    let resp = h.send(call("PUT", key).body("x").v4(&wrong, ",")).await;
    expect_error(resp, StatusCode::FORBIDDEN, "SignatureDoesNotMatch").await;

    // A token of another key; a forged token.
    let other = h.cred(Some(key), None, 3000);
    let mixed = Signer {
        token: Some(other.security_token.clone()),
        ..sts(&c)
    };
    let resp = h.send(call("PUT", key).body("x").v1(&mixed)).await;
    expect_error(resp, StatusCode::FORBIDDEN, "AccessKeyIdAndSecurityTokenNotMatch").await;
    let forged = Signer {
        token: Some(format!("{}x", c.security_token)),
        ..sts(&c)
    };
    let resp = h.send(call("PUT", key).body("x").v1(&forged)).await;
    expect_error(resp, StatusCode::FORBIDDEN, "InvalidSecurityToken").await;

    // Scope: a credential for key A cannot write or read key B.
    let resp = h.send(call("PUT", "sv/b/b.mp4").body("x").v1(&sts(&c))).await;
    expect_error(resp, StatusCode::FORBIDDEN, "AccessDenied").await;
    let resp = h.send(call("PUT", "sv/b/b.mp4").body("x").v1(&root())).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = h.send(call("GET", "sv/b/b.mp4").v1(&sts(&c))).await;
    expect_error(resp, StatusCode::FORBIDDEN, "AccessDenied").await;
    let resp = h.send(call("POST", "sv/b/b.mp4").q("uploads").v1(&sts(&c))).await;
    expect_error(resp, StatusCode::FORBIDDEN, "AccessDenied").await;
    // A prefix credential covers its prefix only.
    let p = h.cred(None, Some("sv/hls/"), 3000);
    assert_eq!(
        h.send(call("PUT", "sv/hls/0.ts").body("x").v1(&sts(&p))).await.status(),
        StatusCode::OK
    );
    let resp = h.send(call("PUT", "sv/hlsx/0.ts").body("x").v1(&sts(&p))).await;
    expect_error(resp, StatusCode::FORBIDDEN, "AccessDenied").await;

    // Unknown long-term key, anonymous, skewed clock, other bucket.
    let stranger = Signer {
        ak: "LTAIstranger".into(),
        secret: "x".into(),
        token: None,
    };
    let resp = h.send(call("GET", key).v1(&stranger)).await;
    expect_error(resp, StatusCode::FORBIDDEN, "InvalidAccessKeyId").await;
    let resp = h.send(call("GET", key).unsigned()).await;
    expect_error(resp, StatusCode::FORBIDDEN, "AccessDenied").await;
    let mut skewed = call("GET", key);
    skewed.headers.push(("x-oss-date".into(), http_date(-3600)));
    let resp = h.send(skewed.v1(&sts(&c))).await;
    expect_error(resp, StatusCode::FORBIDDEN, "RequestTimeTooSkewed").await;
    let mut elsewhere = call("GET", key);
    elsewhere.path = "/other-bucket/x".into();
    let resp = h.send(elsewhere.v1(&root())).await;
    expect_error(resp, StatusCode::NOT_FOUND, "NoSuchBucket").await;

    // Revoked (the media was deleted): refused once the cache expires.
    let fresh = Harness::with_config(OssConfig {
        cache_ttl_ms: 0,
        ..Default::default()
    })
    .await;
    let c = fresh.cred(Some(key), None, 3000);
    assert_eq!(
        fresh.send(call("PUT", key).body("x").v1(&sts(&c))).await.status(),
        StatusCode::OK
    );
    fresh.events.revoked.store(true, Ordering::SeqCst);
    let resp = fresh.send(call("PUT", key).body("x").v1(&sts(&c))).await;
    expect_error(resp, StatusCode::FORBIDDEN, "AccessDenied").await;

    // Content-MD5: malformed and mismatched.
    let resp = h
        .send(call("PUT", "x/md5").h("content-md5", "nope").body("abc").v1(&root()))
        .await;
    expect_error(resp, StatusCode::BAD_REQUEST, "InvalidDigest").await;
    let wrong_md5 = STANDARD.encode(Md5::digest(b"abd"));
    let resp = h
        .send(
            call("PUT", "x/md5")
                .h("content-md5", &wrong_md5)
                .body("abc")
                .v1(&root()),
        )
        .await;
    expect_error(resp, StatusCode::BAD_REQUEST, "InvalidDigest").await;
    let good = STANDARD.encode(Md5::digest(b"abc"));
    let resp = h
        .send(call("PUT", "x/md5").h("content-md5", &good).body("abc").v1(&root()))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn virtual_host_addressing_cors_and_request_ids() {
    let h = Harness::new().await;
    let c = h.cred(Some("vh/a b.txt"), None, 3000);
    // Virtual-host: bucket in the Host, key is the whole path.
    let mut put = call("PUT", "vh/a b.txt").body("virtual");
    put.path = "/vh%2Fa%20b.txt".into();
    put.headers = vec![("host".into(), "outin-vodstack.oss.local:9000".into())];
    // The V1 resource still names the bucket.
    let mut req = put;
    req.headers.push(("date".into(), http_date(0)));
    req.headers
        .push(("x-oss-security-token".into(), c.security_token.clone()));
    let sts_text = format!(
        "PUT\n\n\n{}\nx-oss-security-token:{}\n/outin-vodstack/vh/a b.txt",
        req.header("date"),
        c.security_token
    );
    req.headers.push((
        "authorization".into(),
        format!(
            "OSS {}:{}",
            c.access_key_id,
            oss_v1::sign(&c.access_key_secret, &sts_text)
        ),
    ));
    let resp = h.send(req.build()).await;
    assert_eq!(resp.status(), StatusCode::OK, "{}", text(resp).await);
    let resp = h.send(call("GET", "vh/a b.txt").v1(&root())).await;
    assert_eq!(text(resp).await, "virtual");

    // CORS preflight and exposed headers.
    let mut pre = call("OPTIONS", "vh/a b.txt")
        .h("origin", "http://app.example")
        .h("access-control-request-method", "PUT");
    pre = pre.h("access-control-request-headers", "content-type,x-oss-security-token");
    let resp = h.send(pre.unsigned()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(hdr(&resp, "access-control-allow-origin"), "http://app.example");
    assert!(hdr(&resp, "access-control-allow-methods").contains("PUT"));
    assert_eq!(
        hdr(&resp, "access-control-allow-headers"),
        "content-type,x-oss-security-token"
    );
    let resp = h
        .send(
            call("PUT", "vh/a b.txt")
                .h("origin", "http://app.example")
                .body("x")
                .v1(&sts(&c)),
        )
        .await;
    let exposed = hdr(&resp, "access-control-expose-headers");
    for name in ["ETag", "x-oss-request-id", "x-oss-hash-crc64ecma"] {
        assert!(exposed.contains(name), "{exposed}");
    }
    // Errors carry CORS headers and request ids too.
    let resp = h
        .send(call("GET", "nope").h("origin", "http://app.example").v1(&root()))
        .await;
    assert_eq!(hdr(&resp, "access-control-allow-origin"), "http://app.example");
    expect_error(resp, StatusCode::NOT_FOUND, "NoSuchKey").await;
    let _ = &h.dir;
}

#[tokio::test]
async fn unreported_objects_are_swept() {
    let h = Harness::new().await;
    h.events.fail.store(true, Ordering::SeqCst);
    assert_eq!(
        h.send(call("PUT", "s/1").body("one").v1(&root())).await.status(),
        StatusCode::OK
    );
    assert!(h.events.completed.lock().unwrap().is_empty());
    h.events.fail.store(false, Ordering::SeqCst);
    // Not yet: the sweeper leaves objects younger than a minute to their request.
    assert_eq!(h.svc.sweep_once().await, 0);
    let meta = h.svc.objects().meta().clone();
    let pending = meta.unnotified_objects(i64::MAX, 10).await.unwrap();
    assert_eq!(pending.len(), 1);
    h.svc.notify(pending[0].clone()).await.unwrap();
    assert_eq!(h.events.completed.lock().unwrap().len(), 1);
    assert!(meta.unnotified_objects(i64::MAX, 10).await.unwrap().is_empty());
}
