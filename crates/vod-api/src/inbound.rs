//! Turns one HTTP request into an [`Inbound`]: method, decoded query and form parameters,
//! headers, body hash, and which signature scheme it carries.

use std::borrow::Cow;

use bytes::Bytes;
use http::{HeaderMap, Method, Uri};
use vod_auth::percent::form_decode_pairs;
use vod_auth::rpc_v3;
use vod_wire::{ApiError, Format, Params};

/// Common (non-business) parameters of V1 requests, stripped before handlers see params.
const COMMON_PARAMS: &[&str] = &[
    "Action",
    "Version",
    "Format",
    "AccessKeyId",
    "Signature",
    "SignatureMethod",
    "SignatureVersion",
    "SignatureNonce",
    "SignatureType",
    "Timestamp",
    "SecurityToken",
];

/// The `x-acs-*` headers the gateway reads, as parsed names (a lookup by `&str` parses
/// the name every time).
pub mod acs {
    use http::HeaderName;

    pub const ACTION: HeaderName = HeaderName::from_static("x-acs-action");
    pub const VERSION: HeaderName = HeaderName::from_static("x-acs-version");
    pub const DATE: HeaderName = HeaderName::from_static("x-acs-date");
    pub const SIGNATURE_NONCE: HeaderName = HeaderName::from_static("x-acs-signature-nonce");
    pub const CONTENT_SHA256: HeaderName = HeaderName::from_static("x-acs-content-sha256");
    pub const SECURITY_TOKEN: HeaderName = HeaderName::from_static("x-acs-security-token");
}

/// Hex SHA-256 of an empty body (most RPC calls carry their parameters in the query).
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// The signature scheme a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// V1 HMAC-SHA1: `Signature` and friends in the query or form body.
    V1,
    /// V3 ACS3-HMAC-SHA256: an `Authorization: ACS3-...` header (may be unparsable; checked
    /// in authn, which reads it with [`Inbound::authorization`]).
    V3,
}

/// One decoded RPC request.
#[derive(Debug, Clone)]
pub struct Inbound {
    pub method: String,
    pub query: Vec<(String, String)>,
    pub form: Vec<(String, String)>,
    /// The request's headers as received.
    pub headers: HeaderMap,
    /// Lowercase hex SHA-256 of the body (borrowed for the usual empty body).
    pub body_sha256: Cow<'static, str>,
    pub scheme: Scheme,
}

impl Inbound {
    pub fn parse(method: &Method, uri: &Uri, headers: HeaderMap, body: &Bytes) -> Self {
        let query = uri.query().map(form_decode_pairs).unwrap_or_default();
        let is_form = headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
        let form = if is_form && !body.is_empty() {
            form_decode_pairs(&String::from_utf8_lossy(body))
        } else {
            Vec::new()
        };
        let acs3 = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.trim_start().starts_with("ACS3-"));
        Self {
            method: method.as_str().to_ascii_uppercase(),
            query,
            form,
            headers,
            body_sha256: if body.is_empty() {
                Cow::Borrowed(EMPTY_SHA256)
            } else {
                Cow::Owned(rpc_v3::sha256_hex(body))
            },
            scheme: if acs3 { Scheme::V3 } else { Scheme::V1 },
        }
    }

    /// The `Host` header (empty when absent or not text): the error envelope's HostId.
    pub fn host(&self) -> &str {
        self.headers
            .get(http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The `Authorization` header, when it is text.
    pub fn authorization(&self) -> Option<&str> {
        self.headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
    }

    /// The first value of a header (name in lowercase) that is valid UTF-8.
    pub fn header<K: http::header::AsHeaderName>(&self, name: K) -> Option<&str> {
        self.headers
            .get(name)
            .and_then(|v| std::str::from_utf8(v.as_bytes()).ok())
    }

    /// Every `(name, value)` of the headers named in `names` (lowercase; values that are not
    /// UTF-8 are left out), repeated headers repeated: what a V3 canonical request covers.
    pub fn headers_named<'a, S: AsRef<str>>(&'a self, names: &'a [S]) -> Vec<(&'a str, &'a str)> {
        let mut out = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            let name = name.as_ref();
            if names[..i].iter().any(|n| n.as_ref() == name) {
                continue;
            }
            for value in self.headers.get_all(name) {
                if let Ok(v) = std::str::from_utf8(value.as_bytes()) {
                    out.push((name, v));
                }
            }
        }
        out
    }

    /// The first value of a parameter, from the query string or the form body.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .chain(self.form.iter())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Query and form parameters together: the set a V1 signature covers.
    pub fn all_params(&self) -> Vec<(String, String)> {
        self.query.iter().chain(self.form.iter()).cloned().collect()
    }

    pub fn is_v3(&self) -> bool {
        self.scheme == Scheme::V3
    }

    /// The action: `x-acs-action` for V3, the `Action` parameter for V1 (header as fallback).
    pub fn action(&self) -> Option<&str> {
        let (first, second) = if self.is_v3() {
            (self.header(&acs::ACTION), self.param("Action"))
        } else {
            (self.param("Action"), self.header(&acs::ACTION))
        };
        first.or(second).filter(|s| !s.is_empty())
    }

    /// The API version: `x-acs-version` for V3, the `Version` parameter for V1.
    pub fn version(&self) -> Option<&str> {
        let (first, second) = if self.is_v3() {
            (self.header(&acs::VERSION), self.param("Version"))
        } else {
            (self.param("Version"), self.header(&acs::VERSION))
        };
        first.or(second).filter(|s| !s.is_empty())
    }

    /// The response format: the `Format` parameter (any case); otherwise JSON for V3 and XML
    /// for V1, as Alibaba documents. Unknown values fall back to the default.
    pub fn format(&self) -> Format {
        self.param("Format")
            .and_then(Format::parse)
            .unwrap_or(if self.is_v3() { Format::Json } else { Format::Xml })
    }

    /// The business parameters handlers see (common parameters removed).
    pub fn business_params(&self) -> Params {
        Params::new(
            self.query
                .iter()
                .chain(self.form.iter())
                .filter(|(k, _)| !COMMON_PARAMS.contains(&k.as_str()))
                .cloned()
                .collect(),
        )
    }

    /// The required common parameter `name`, or `Missing<name>`.
    pub fn required_common(&self, name: &str) -> Result<&str, ApiError> {
        self.param(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ApiError::missing_common(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(method: &str, uri: &str, headers: &[(&str, &str)], body: &str) -> Inbound {
        let mut hm = HeaderMap::new();
        for (k, v) in headers {
            hm.append(http::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        Inbound::parse(
            &method.parse().unwrap(),
            &uri.parse().unwrap(),
            hm,
            &Bytes::from(body.to_string()),
        )
    }

    #[test]
    fn v1_query_and_form_merge() {
        let r = parse(
            "post",
            "/?Action=GetAppInfos&Version=2017-03-21&Format=json&Title=a+b",
            &[("content-type", "application/x-www-form-urlencoded; charset=utf-8")],
            "AppIds=app-1%2Capp-2",
        );
        assert_eq!(r.method, "POST");
        assert_eq!(r.action(), Some("GetAppInfos"));
        assert_eq!(r.format(), Format::Json);
        let p = r.business_params();
        assert_eq!(p.get("Title"), Some("a b"));
        assert_eq!(p.get("AppIds"), Some("app-1,app-2"));
        assert!(p.get("Action").is_none());
    }

    #[test]
    fn v3_uses_headers_and_defaults_to_json() {
        let r = parse(
            "POST",
            "/?AppName=x",
            &[
                (
                    "authorization",
                    "ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host,Signature=00",
                ),
                ("x-acs-action", "CreateAppInfo"),
                ("x-acs-version", "2017-03-21"),
                ("host", "127.0.0.1:8080"),
            ],
            "",
        );
        assert!(r.is_v3());
        assert_eq!(r.action(), Some("CreateAppInfo"));
        assert_eq!(r.version(), Some("2017-03-21"));
        assert_eq!(r.format(), Format::Json);
        assert_eq!(r.host(), "127.0.0.1:8080");
        assert_eq!(
            r.authorization(),
            Some("ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host,Signature=00")
        );
    }

    #[test]
    fn headers_named_keeps_repeats_once_per_name() {
        let r = parse(
            "GET",
            "/",
            &[("x-acs-a", "1"), ("X-Acs-A", "2"), ("host", "h:1"), ("x-other", "o")],
            "",
        );
        let names: Vec<String> = ["host", "x-acs-a", "host", "x-missing"].map(String::from).to_vec();
        assert_eq!(
            r.headers_named(&names),
            vec![("host", "h:1"), ("x-acs-a", "1"), ("x-acs-a", "2")]
        );
        assert_eq!(r.header("x-acs-a"), Some("1"));
        assert_eq!(r.body_sha256, rpc_v3::sha256_hex(b""), "the empty body's digest");
    }

    #[test]
    fn v1_defaults_to_xml_and_reports_missing_common() {
        let r = parse("GET", "/?Action=X", &[], "");
        assert_eq!(r.format(), Format::Xml);
        assert_eq!(
            r.required_common("SignatureNonce").unwrap_err().code,
            "MissingSignatureNonce"
        );
    }
}
