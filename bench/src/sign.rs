//! Signed V3 (ACS3-HMAC-SHA256) RPC requests as raw HTTP/1.1 bytes, signed exactly as the
//! Tea SDKs do (protocol.md §1.4) with the primitives of `vod-auth`: a fresh 32-hex
//! `x-acs-signature-nonce` and the current `x-acs-date` for every request.

use std::fmt::Write as _;

use time::OffsetDateTime;
use time::macros::format_description;
use vod_auth::percent::pop_encode;
use vod_auth::rpc_v3::{ALGORITHM, canonical_request, sha256_hex, sign, string_to_sign};

/// The headers every request signs, already in canonical (sorted) order.
const SIGNED: [&str; 6] = [
    "host",
    "x-acs-action",
    "x-acs-content-sha256",
    "x-acs-date",
    "x-acs-signature-nonce",
    "x-acs-version",
];

/// Builds one RPC call (POST, business parameters in the query, empty body) again and
/// again, each time with a new nonce, date and signature.
#[derive(Debug, Clone)]
pub struct V3Signer {
    host: String,
    action: String,
    version: String,
    query: Vec<(String, String)>,
    /// `/?k=v&...` (or `/`), percent-encoded once.
    target: String,
    access_key_id: String,
    secret: String,
    signed_headers: Vec<String>,
    empty_sha: String,
}

impl V3Signer {
    /// `host` is the Host header value (`127.0.0.1:<port>`), signed verbatim.
    pub fn new(host: &str, action: &str, version: &str, query: &[(&str, &str)], key: (&str, &str)) -> Self {
        let query: Vec<(String, String)> = query.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let encoded: Vec<String> = query
            .iter()
            .map(|(k, v)| format!("{}={}", pop_encode(k), pop_encode(v)))
            .collect();
        let target = if encoded.is_empty() {
            "/".to_string()
        } else {
            format!("/?{}", encoded.join("&"))
        };
        Self {
            host: host.to_string(),
            action: action.to_string(),
            version: version.to_string(),
            query,
            target,
            access_key_id: key.0.to_string(),
            secret: key.1.to_string(),
            signed_headers: SIGNED.iter().map(|h| h.to_string()).collect(),
            empty_sha: sha256_hex(b""),
        }
    }

    /// Appends a freshly signed request (now, random nonce) to `out`.
    pub fn write_request(&self, out: &mut Vec<u8>) {
        let now = OffsetDateTime::now_utc();
        let date = now
            .format(format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z"))
            .unwrap_or_default();
        let nonce = format!("{:032x}", rand::random::<u128>());
        self.write_with(&date, &nonce, out);
    }

    /// Appends the request signed with the given date and nonce.
    pub fn write_with(&self, date: &str, nonce: &str, out: &mut Vec<u8>) {
        let authorization = self.authorization(date, nonce);
        let mut head = String::with_capacity(640);
        let _ = write!(
            head,
            "POST {} HTTP/1.1\r\nhost: {}\r\nx-acs-action: {}\r\nx-acs-version: {}\r\nx-acs-date: {date}\r\n\
             x-acs-signature-nonce: {nonce}\r\nx-acs-content-sha256: {}\r\naccept: application/json\r\n\
             authorization: {authorization}\r\ncontent-length: 0\r\n\r\n",
            self.target, self.host, self.action, self.version, self.empty_sha,
        );
        out.extend_from_slice(head.as_bytes());
    }

    /// The `Authorization` header value for the given date and nonce.
    pub fn authorization(&self, date: &str, nonce: &str) -> String {
        let headers = [
            ("host", self.host.as_str()),
            ("x-acs-action", &self.action),
            ("x-acs-version", &self.version),
            ("x-acs-date", date),
            ("x-acs-signature-nonce", nonce),
            ("x-acs-content-sha256", &self.empty_sha),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        let canonical = canonical_request(
            "POST",
            "/",
            &self.query,
            &headers,
            &self.signed_headers,
            &self.empty_sha,
        );
        let signature = sign(&self.secret, &string_to_sign(&canonical));
        format!(
            "{ALGORITHM} Credential={},SignedHeaders={},Signature={signature}",
            self.access_key_id,
            SIGNED.join(";")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SDK test vector of protocol.md §1.4.
    #[test]
    fn matches_the_sdk_vector() {
        let signer = V3Signer::new(
            "127.0.0.1:8080",
            "CreateUploadVideo",
            "2017-03-21",
            &[
                ("FileName", "a b.mp4"),
                ("FileSize", "123"),
                ("Title", "hello world*~ 中"),
            ],
            ("testAK", "testSecret"),
        );
        let auth = signer.authorization("2024-01-01T00:00:00Z", "0123456789abcdef0123456789abcdef");
        assert_eq!(
            auth,
            "ACS3-HMAC-SHA256 Credential=testAK,SignedHeaders=host;x-acs-action;x-acs-content-sha256;\
             x-acs-date;x-acs-signature-nonce;x-acs-version,\
             Signature=37f76bb9a433fbd0245e14de24d92c271789b7695abf10cc1feeab5792471292"
        );
    }

    #[test]
    fn every_request_is_fresh_and_parses() {
        let signer = V3Signer::new(
            "127.0.0.1:1",
            "GetAppInfos",
            "2017-03-21",
            &[("AppIds", "app-1000000")],
            ("a", "b"),
        );
        let (mut one, mut two) = (Vec::new(), Vec::new());
        signer.write_request(&mut one);
        signer.write_request(&mut two);
        assert_ne!(one, two);
        let mut headers = [httparse::EMPTY_HEADER; 16];
        let mut req = httparse::Request::new(&mut headers);
        assert_eq!(req.parse(&one).unwrap(), httparse::Status::Complete(one.len()));
        assert_eq!(req.path, Some("/?AppIds=app-1000000"));
        let nonce = req.headers.iter().find(|h| h.name == "x-acs-signature-nonce").unwrap();
        assert_eq!(nonce.value.len(), 32);
    }
}
