//! Test harness: the gateway router over a temp SQLite store, with V1/V3 request signers.

#![allow(dead_code)]

use axum::body::Body;
use http::Request;
use http_body_util::BodyExt;
use tower::ServiceExt;
use vod_api::Gateway;
use vod_api::{AppState, GatewayConfig};
use vod_auth::percent::pop_encode;
use vod_auth::{rpc_v1, rpc_v3};
use vod_core::service::identity::bootstrap;

pub const AK: &str = "testAK";
pub const SECRET: &str = "testSecret";

pub struct Harness {
    pub app: Gateway,
    pub state: AppState,
    _dir: tempfile::TempDir,
}

pub async fn harness_with(config: GatewayConfig) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("meta.db").display());
    let store = vod_db::open(&url).await.unwrap();
    let boot = bootstrap(store.as_ref(), Some((AK, SECRET))).await.unwrap();
    let state = AppState::new(store, config, boot.master_key).await.unwrap();
    Harness {
        app: vod_api::gateway(state.clone()),
        state,
        _dir: dir,
    }
}

pub async fn harness() -> Harness {
    harness_with(GatewayConfig::default()).await
}

pub fn now_iso() -> String {
    vod_wire::timefmt::iso8601(vod_core::now_ms())
}

pub fn nonce() -> String {
    vod_core::ids::hex_id()
}

/// A V1 request with every param in the query string (as the legacy Python SDK sends it).
pub fn v1(method: &str, business: &[(&str, &str)], ak: &str, secret: &str, extra: &[(&str, &str)]) -> Request<Body> {
    let mut params: Vec<(String, String)> = vec![
        ("Format".into(), "JSON".into()),
        ("Version".into(), "2017-03-21".into()),
        ("AccessKeyId".into(), ak.into()),
        ("SignatureMethod".into(), "HMAC-SHA1".into()),
        ("SignatureVersion".into(), "1.0".into()),
        ("SignatureNonce".into(), nonce()),
        ("Timestamp".into(), now_iso()),
    ];
    for (k, v) in business.iter().chain(extra) {
        params.retain(|(pk, _)| pk != k);
        params.push((k.to_string(), v.to_string()));
    }
    let sts = rpc_v1::string_to_sign(method, &params);
    params.push(("Signature".into(), rpc_v1::sign(secret, &sts)));
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{}={}", pop_encode(k), pop_encode(v)))
        .collect();
    Request::builder()
        .method(method)
        .uri(format!("/?{}", query.join("&")))
        .header("host", "127.0.0.1:8080")
        .body(Body::empty())
        .unwrap()
}

/// A V3 request (ACS3-HMAC-SHA256) as the Tea SDKs send it: business params in the query.
pub fn v3(action: &str, version: &str, query: &[(&str, &str)], secret: &str, nonce: &str, date: &str) -> Request<Body> {
    let q: Vec<(String, String)> = query.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let body_hash = rpc_v3::sha256_hex(b"");
    let headers: Vec<(String, String)> = vec![
        ("host".into(), "127.0.0.1:8080".into()),
        ("x-acs-action".into(), action.into()),
        ("x-acs-version".into(), version.into()),
        ("x-acs-date".into(), date.into()),
        ("x-acs-signature-nonce".into(), nonce.into()),
        ("x-acs-content-sha256".into(), body_hash.clone()),
    ];
    let signed: Vec<String> = headers.iter().map(|(k, _)| k.clone()).collect();
    let canonical = rpc_v3::canonical_request("POST", "/", &q, &headers, &signed, &body_hash);
    let sig = rpc_v3::sign(secret, &rpc_v3::string_to_sign(&canonical));
    let mut signed_sorted = signed.clone();
    signed_sorted.sort();
    let auth = format!(
        "ACS3-HMAC-SHA256 Credential={AK},SignedHeaders={},Signature={sig}",
        signed_sorted.join(";")
    );
    let qs: Vec<String> = q
        .iter()
        .map(|(k, v)| format!("{}={}", pop_encode(k), pop_encode(v)))
        .collect();
    let mut b = Request::builder().method("POST").uri(format!("/?{}", qs.join("&")));
    for (k, v) in &headers {
        b = b.header(k.as_str(), v.as_str());
    }
    b.header("authorization", auth).body(Body::empty()).unwrap()
}

pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub request_id: String,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

pub async fn call(app: &Gateway, req: Request<Body>) -> Reply {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let header = |n: &str| {
        resp.headers()
            .get(n)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    let content_type = header("content-type");
    let request_id = header("x-acs-request-id");
    let body = String::from_utf8(resp.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    Reply {
        status,
        content_type,
        request_id,
        body,
    }
}
