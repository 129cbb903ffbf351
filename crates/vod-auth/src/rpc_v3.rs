//! POP RPC V3 signature (ACS3-HMAC-SHA256, protocol.md §1.4): header parsing,
//! canonical request, string to sign and HMAC.

use crate::error::AuthParseError;
use crate::percent::push_sorted_encoded;
use crate::{ct_eq_ignore_ascii_case, mac};
use std::borrow::Cow;

/// The algorithm token the Tea SDKs send by default.
pub const ALGORITHM: &str = "ACS3-HMAC-SHA256";

/// A parsed `Authorization: ACS3-... Credential=..,SignedHeaders=..,Signature=..` header,
/// borrowing from the header's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization<'a> {
    /// The scheme token, e.g. `ACS3-HMAC-SHA256` (callers decide which they accept).
    pub algorithm: &'a str,
    pub access_key_id: &'a str,
    /// Lowercased signed header names in the order given.
    pub signed_headers: Vec<Cow<'a, str>>,
    pub signature: &'a str,
}

/// Parses an ACS3 `Authorization` header. The algorithm must start with
/// `ACS3-`; components are comma separated with optional spaces; `Credential`,
/// `SignedHeaders` and `Signature` are required and non-empty.
pub fn parse_authorization(header: &str) -> Result<Authorization<'_>, AuthParseError> {
    // ASCII trims throughout (they run on every V3 request): the header reaches the gateway
    // through `HeaderValue::to_str`, which only lets visible ASCII through.
    let header = header.trim_ascii();
    if header.is_empty() {
        return Err(AuthParseError::Empty);
    }
    let (algorithm, rest) = match header.bytes().position(|b| b == b' ' || b == b'\t') {
        Some(i) => (&header[..i], &header[i + 1..]),
        None => (header, ""),
    };
    if !algorithm.starts_with("ACS3-") {
        return Err(AuthParseError::UnsupportedScheme(algorithm.to_string()));
    }
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',').map(str::trim_ascii).filter(|s| !s.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| AuthParseError::Malformed(format!("component `{part}` has no `=`")))?;
        let v = v.trim_ascii();
        match k.trim_ascii() {
            "Credential" => credential = Some(v),
            "SignedHeaders" => signed = Some(v),
            "Signature" => signature = Some(v),
            _ => {}
        }
    }
    let access_key_id = nonempty(credential, "Credential")?;
    let signed = nonempty(signed, "SignedHeaders")?;
    let signature = nonempty(signature, "Signature")?;
    let mut signed_headers: Vec<Cow<'_, str>> = Vec::with_capacity(signed.bytes().filter(|&b| b == b';').count() + 1);
    signed_headers.extend(signed.split(';').map(|h| lowercase(h.trim_ascii())));
    if signed_headers.iter().any(|h| h.is_empty()) {
        return Err(AuthParseError::Malformed("empty name in SignedHeaders".into()));
    }
    Ok(Authorization {
        algorithm,
        access_key_id,
        signed_headers,
        signature,
    })
}

/// `s` in lowercase, borrowed when it already is.
fn lowercase(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

fn nonempty<'a>(o: Option<&'a str>, what: &'static str) -> Result<&'a str, AuthParseError> {
    o.filter(|s| !s.is_empty()).ok_or(AuthParseError::Missing(what))
}

/// Canonical query: names and values [`pop_encode`]d, sorted by name then
/// value, `k=v` joined with `&` (empty value → `k=`).
pub fn canonical_query(params: &[(String, String)]) -> String {
    let mut out = String::new();
    push_sorted_encoded(&mut out, params.iter());
    out
}

/// Builds the canonical request of §1.4.
///
/// `headers` are `(name, value)` pairs (names compared case-insensitively; a
/// name may repeat, its trimmed values are then joined by `,`). Only the names
/// in `signed_headers` are used; they are lowercased, sorted and deduplicated
/// for both the canonical header block and the SignedHeaders line.
pub fn canonical_request<K: AsRef<str>, V: AsRef<str>, S: AsRef<str>>(
    method: &str,
    canonical_uri: &str,
    query: &[(String, String)],
    headers: &[(K, V)],
    signed_headers: &[S],
    hashed_payload: &str,
) -> String {
    let mut names: Vec<Cow<'_, str>> = signed_headers.iter().map(|h| lowercase(h.as_ref().trim())).collect();
    names.sort_unstable();
    names.dedup();
    let mut out = String::with_capacity(512);
    out.push_str(method);
    out.push('\n');
    out.push_str(canonical_uri);
    out.push('\n');
    push_sorted_encoded(&mut out, query.iter());
    out.push('\n');
    for name in &names {
        out.push_str(name);
        out.push(':');
        let values = headers.iter().filter(|(k, _)| k.as_ref().eq_ignore_ascii_case(name));
        for (i, (_, v)) in values.enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(v.as_ref().trim());
        }
        out.push('\n');
    }
    out.push('\n');
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            out.push(';');
        }
        out.push_str(name);
    }
    out.push('\n');
    out.push_str(hashed_payload);
    out
}

/// `"ACS3-HMAC-SHA256\n" + hex(sha256(canonical_request))`.
pub fn string_to_sign(canonical_request: &str) -> String {
    let mut out = String::with_capacity(ALGORITHM.len() + 1 + 64);
    out.push_str(ALGORITHM);
    out.push('\n');
    mac::push_hex32(&mut out, &mac::sha256(canonical_request.as_bytes()));
    out
}

/// Lowercase hex HMAC-SHA256 with the access key secret itself (no `&`) as key.
pub fn sign(secret: &str, string_to_sign: &str) -> String {
    mac::hex32(&mac::hmac_sha256(secret.as_bytes(), string_to_sign.as_bytes()))
}

/// Lowercase hex SHA-256 (the `x-acs-content-sha256` value of a body).
pub fn sha256_hex(data: &[u8]) -> String {
    mac::hex32(&mac::sha256(data))
}

/// Recomputes the signature and compares it with `provided` (hex, any case)
/// in constant time.
pub fn verify(secret: &str, string_to_sign: &str, provided: &str) -> bool {
    let mut buf = [0u8; 64];
    let expected = mac::hex32_buf(
        &mac::hmac_sha256(secret.as_bytes(), string_to_sign.as_bytes()),
        &mut buf,
    );
    ct_eq_ignore_ascii_case(expected.as_bytes(), provided.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    const EMPTY_SHA: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn sdk_vector() {
        let header = "ACS3-HMAC-SHA256 Credential=testAK,SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=37f76bb9a433fbd0245e14de24d92c271789b7695abf10cc1feeab5792471292";
        let auth = parse_authorization(header).unwrap();
        assert_eq!(auth.algorithm, ALGORITHM);
        assert_eq!(auth.access_key_id, "testAK");
        assert_eq!(auth.signed_headers.len(), 6);
        let query = crate::percent::form_decode_pairs("FileName=a+b.mp4&FileSize=123&Title=hello+world%2A~+%E4%B8%AD");
        assert_eq!(
            canonical_query(&query),
            "FileName=a%20b.mp4&FileSize=123&Title=hello%20world%2A~%20%E4%B8%AD"
        );
        let headers = p(&[
            ("host", "127.0.0.1:8080"),
            ("x-acs-version", "2017-03-21"),
            ("x-acs-action", "CreateUploadVideo"),
            ("user-agent", "not signed"),
            ("x-acs-date", "2024-01-01T00:00:00Z"),
            ("x-acs-signature-nonce", "0123456789abcdef0123456789abcdef"),
            ("x-acs-content-sha256", EMPTY_SHA),
        ]);
        assert_eq!(sha256_hex(b""), EMPTY_SHA);
        let cr = canonical_request("POST", "/", &query, &headers, &auth.signed_headers, EMPTY_SHA);
        assert!(cr.starts_with("POST\n/\nFileName="));
        assert!(cr.contains("x-acs-version:2017-03-21\n\nhost;x-acs-action;"));
        let sts = string_to_sign(&cr);
        assert_eq!(sign("testSecret", &sts), auth.signature);
        assert!(verify("testSecret", &sts, auth.signature));
        assert!(verify("testSecret", &sts, &auth.signature.to_uppercase()));
        assert!(!verify("testSecret&", &sts, auth.signature));
    }

    #[test]
    fn repeated_and_padded_headers() {
        let headers = p(&[("X-Acs-A", "  one "), ("x-acs-a", "two"), ("host", "h")]);
        let signed = vec!["x-acs-a".to_string(), "host".to_string()];
        let cr = canonical_request("GET", "/", &[], &headers, &signed, "x");
        assert_eq!(cr, "GET\n/\n\nhost:h\nx-acs-a:one,two\n\nhost;x-acs-a\nx");
        assert_eq!(canonical_query(&p(&[("b", ""), ("a", "2"), ("a", "1")])), "a=1&a=2&b=");
    }

    #[test]
    fn parse_variants_and_errors() {
        let a =
            parse_authorization("ACS3-HMAC-SHA256 Credential=AK, SignedHeaders=Host;x-acs-date, Signature=ab").unwrap();
        assert_eq!(a.signed_headers, vec!["host", "x-acs-date"]);
        assert_eq!(a.signature, "ab");
        // A tab after the scheme, padding around the header and its components.
        let a = parse_authorization(
            " ACS3-HMAC-SHA256\tCredential = AK ,SignedHeaders= x-acs-date ; host ,Signature=ab \t",
        )
        .unwrap();
        assert_eq!(
            (a.algorithm, a.access_key_id, a.signature),
            ("ACS3-HMAC-SHA256", "AK", "ab")
        );
        assert_eq!(a.signed_headers, vec!["x-acs-date", "host"]);
        assert_eq!(
            parse_authorization("ACS3-HMAC-SHA256"),
            Err(AuthParseError::Missing("Credential"))
        );
        assert_eq!(parse_authorization("  "), Err(AuthParseError::Empty));
        assert!(matches!(
            parse_authorization("OSS ak:sig"),
            Err(AuthParseError::UnsupportedScheme(_))
        ));
        assert_eq!(
            parse_authorization("ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=host"),
            Err(AuthParseError::Missing("Signature"))
        );
        assert_eq!(
            parse_authorization("ACS3-HMAC-SHA256 Credential=,SignedHeaders=host,Signature=a"),
            Err(AuthParseError::Missing("Credential"))
        );
        assert_eq!(
            parse_authorization("ACS3-HMAC-SHA256 SignedHeaders=host,Signature=a"),
            Err(AuthParseError::Missing("Credential"))
        );
        assert!(matches!(
            parse_authorization("ACS3-HMAC-SHA256 Credential=a,garbage,Signature=a"),
            Err(AuthParseError::Malformed(_))
        ));
        assert!(matches!(
            parse_authorization("ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host;;x,Signature=a"),
            Err(AuthParseError::Malformed(_))
        ));
    }
}
