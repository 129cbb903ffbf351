//! OSS V4 signature (OSS4-HMAC-SHA256, protocol.md §5.3): header parsing,
//! canonical request, scope, signing key and HMAC.

use crate::error::AuthParseError;
use crate::percent::{pop_encode, pop_encode_path};
use crate::{ct_eq, mac};

/// The scheme / algorithm token.
pub const ALGORITHM: &str = "OSS4-HMAC-SHA256";
/// Last component of the credential scope.
pub const TERMINATOR: &str = "aliyun_v4_request";
/// Hashed payload value sent by the SDKs.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// A parsed `Authorization: OSS4-HMAC-SHA256 Credential=ak/date/region/oss/aliyun_v4_request,...` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V4Authorization {
    pub access_key_id: String,
    /// Scope date, `yyyyMMdd`.
    pub date: String,
    pub region: String,
    /// Product of the scope, `oss`.
    pub product: String,
    /// Lowercased `AdditionalHeaders` names (empty when absent).
    pub additional_headers: Vec<String>,
    pub signature: String,
}

/// Parses an OSS V4 `Authorization` header; components may be separated by
/// `,` or `, `; `AdditionalHeaders` is optional.
pub fn parse_authorization(h: &str) -> Result<V4Authorization, AuthParseError> {
    let h = h.trim();
    if h.is_empty() {
        return Err(AuthParseError::Empty);
    }
    let (scheme, rest) = h.split_once([' ', '\t']).unwrap_or((h, ""));
    if scheme != ALGORITHM {
        return Err(AuthParseError::UnsupportedScheme(scheme.to_string()));
    }
    let (mut credential, mut additional, mut signature) = (None, None, None);
    for part in rest.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| AuthParseError::Malformed(format!("component `{part}` has no `=`")))?;
        match k.trim() {
            "Credential" => credential = Some(v.trim()),
            "AdditionalHeaders" => additional = Some(v.trim()),
            "Signature" => signature = Some(v.trim()),
            _ => {}
        }
    }
    let credential = credential
        .filter(|s| !s.is_empty())
        .ok_or(AuthParseError::Missing("Credential"))?;
    let signature = signature
        .filter(|s| !s.is_empty())
        .ok_or(AuthParseError::Missing("Signature"))?
        .to_string();
    // ak/date/region/product/terminator, split from the right.
    let mut it = credential.rsplitn(5, '/');
    let (terminator, product, region, date, ak) = match (it.next(), it.next(), it.next(), it.next(), it.next()) {
        (Some(t), Some(p), Some(r), Some(d), Some(a)) => (t, p, r, d, a),
        _ => {
            return Err(AuthParseError::Malformed("credential scope has too few parts".into()));
        }
    };
    if terminator != TERMINATOR {
        return Err(AuthParseError::Malformed(format!(
            "credential terminator `{terminator}`"
        )));
    }
    if ak.is_empty() || region.is_empty() || product.is_empty() {
        return Err(AuthParseError::Malformed("empty credential component".into()));
    }
    if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AuthParseError::Malformed(format!("credential date `{date}`")));
    }
    let additional_headers = additional
        .unwrap_or("")
        .split(';')
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    Ok(V4Authorization {
        access_key_id: ak.to_string(),
        date: date.to_string(),
        region: region.to_string(),
        product: product.to_string(),
        additional_headers,
        signature,
    })
}

/// `UriEncode("/" bucket "/" key)` with `/` kept; `/` alone without a bucket
/// (`key` is the decoded object key; `"/bucket/"` for bucket operations).
pub fn canonical_uri(bucket: Option<&str>, key: &str) -> String {
    match bucket {
        Some(b) => pop_encode_path(&format!("/{b}/{key}")),
        None => "/".to_string(),
    }
}

/// All query parameters, names and values UriEncoded, sorted, `k=v` or `k`
/// when the value is empty, joined with `&`.
pub fn canonical_query(params: &[(String, String)]) -> String {
    let mut encoded: Vec<(String, String)> = params.iter().map(|(k, v)| (pop_encode(k), pop_encode(v))).collect();
    encoded.sort();
    encoded
        .iter()
        .map(|(k, v)| if v.is_empty() { k.clone() } else { format!("{k}={v}") })
        .collect::<Vec<_>>()
        .join("&")
}

fn lower_sorted(names: &[String]) -> Vec<String> {
    let mut v: Vec<String> = names
        .iter()
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Builds the V4 canonical request. Headers signed: `x-oss-*`,
/// `content-type`, `content-md5` and the `additional_headers`; names are
/// lowercased and sorted, values trimmed, a repeated name joined by `,`.
pub fn canonical_request(
    method: &str,
    canonical_uri: &str,
    query: &[(String, String)],
    headers: &[(String, String)],
    additional_headers: &[String],
    hashed_payload: &str,
) -> String {
    let additional = lower_sorted(additional_headers);
    let mut picked: Vec<(String, &str)> = headers
        .iter()
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim()))
        .filter(|(k, _)| {
            k.starts_with("x-oss-") || k == "content-type" || k == "content-md5" || additional.binary_search(k).is_ok()
        })
        .collect();
    picked.sort_by(|a, b| a.0.cmp(&b.0));
    let mut block = String::new();
    let mut prev: Option<&str> = None;
    for (k, v) in &picked {
        if prev == Some(k.as_str()) {
            block.pop();
            block.push(',');
        } else {
            block.push_str(k);
            block.push(':');
        }
        block.push_str(v);
        block.push('\n');
        prev = Some(k);
    }
    format!(
        "{method}\n{canonical_uri}\n{}\n{block}\n{}\n{hashed_payload}",
        canonical_query(query),
        additional.join(";")
    )
}

/// Credential scope `<yyyyMMdd>/<region>/oss/aliyun_v4_request`.
pub fn scope(scope_date: &str, region: &str) -> String {
    format!("{scope_date}/{region}/oss/{TERMINATOR}")
}

/// `OSS4-HMAC-SHA256\n<x-oss-date>\n<scope>\n<hex sha256(canonical_request)>`.
pub fn string_to_sign(x_oss_date: &str, scope_date: &str, region: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{x_oss_date}\n{}\n{}",
        scope(scope_date, region),
        hex::encode(mac::sha256(canonical_request.as_bytes()))
    )
}

/// HMAC chain `"aliyun_v4"+secret` → date → region → `oss` → `aliyun_v4_request`.
pub fn signing_key(secret: &str, date: &str, region: &str) -> [u8; 32] {
    let k = mac::hmac_sha256(format!("aliyun_v4{secret}").as_bytes(), date.as_bytes());
    let k = mac::hmac_sha256(&k, region.as_bytes());
    let k = mac::hmac_sha256(&k, b"oss");
    mac::hmac_sha256(&k, TERMINATOR.as_bytes())
}

/// Lowercase hex HMAC-SHA256(signing_key(secret, date, region), string_to_sign).
pub fn sign(secret: &str, date: &str, region: &str, string_to_sign: &str) -> String {
    hex::encode(mac::hmac_sha256(
        &signing_key(secret, date, region),
        string_to_sign.as_bytes(),
    ))
}

/// Recomputes the signature and compares it with `provided` (hex, any case)
/// in constant time.
pub fn verify(secret: &str, date: &str, region: &str, string_to_sign: &str, provided: &str) -> bool {
    let provided = provided.to_ascii_lowercase();
    ct_eq(
        sign(secret, date, region, string_to_sign).as_bytes(),
        provided.as_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    const SIG: &str = "de6e40559dd170c172deaf6cc63825346465c688db5a093115df0f7e8efb0fd4";

    #[test]
    fn oss_v2_put_vector() {
        let headers = p(&[
            ("Host", "127.0.0.1:9000"),
            ("Content-Type", "video/mp4"),
            ("Date", "Mon, 01 Jan 2024 00:00:00 GMT"),
            ("User-Agent", "alibabacloud-go-sdk-v2"),
            ("x-oss-content-sha256", UNSIGNED_PAYLOAD),
            ("X-Oss-Date", "20240101T000000Z"),
            ("x-oss-security-token", "SECTOKEN"),
        ]);
        let uri = canonical_uri(Some("outin-bucket"), "sv/abc/test.mp4");
        let cr = canonical_request("PUT", &uri, &[], &headers, &[], UNSIGNED_PAYLOAD);
        assert_eq!(
            cr,
            "PUT\n/outin-bucket/sv/abc/test.mp4\n\ncontent-type:video/mp4\nx-oss-content-sha256:UNSIGNED-PAYLOAD\nx-oss-date:20240101T000000Z\nx-oss-security-token:SECTOKEN\n\n\nUNSIGNED-PAYLOAD"
        );
        let sts = string_to_sign("20240101T000000Z", "20240101", "cn-shanghai", &cr);
        assert_eq!(sign("tmpSecret", "20240101", "cn-shanghai", &sts), SIG);
        let header =
            format!("OSS4-HMAC-SHA256 Credential=STS.tmpAK/20240101/cn-shanghai/oss/aliyun_v4_request,Signature={SIG}");
        let auth = parse_authorization(&header).unwrap();
        assert_eq!(auth.access_key_id, "STS.tmpAK");
        assert_eq!(auth.date, "20240101");
        assert_eq!(auth.region, "cn-shanghai");
        assert_eq!(auth.product, "oss");
        assert!(auth.additional_headers.is_empty());
        assert!(verify("tmpSecret", &auth.date, &auth.region, &sts, &auth.signature));
        assert!(!verify("tmpSecret", &auth.date, "cn-beijing", &sts, &auth.signature));
    }

    #[test]
    fn additional_headers_are_signed() {
        let headers = p(&[
            ("Host", "h:1"),
            ("Content-MD5", "1B2M2Y8AsgTpgAmY7PhCfg=="),
            ("Range", "x"),
        ]);
        let add = vec!["Host".to_string()];
        let q = crate::percent::form_decode_pairs("uploads&encoding-type=url");
        let cr = canonical_request("POST", "/b/k", &q, &headers, &add, UNSIGNED_PAYLOAD);
        assert_eq!(
            cr,
            "POST\n/b/k\nencoding-type=url&uploads\ncontent-md5:1B2M2Y8AsgTpgAmY7PhCfg==\nhost:h:1\n\nhost\nUNSIGNED-PAYLOAD"
        );
    }

    #[test]
    fn uri_and_query() {
        assert_eq!(canonical_uri(Some("b"), "sv/a b/中.mp4"), "/b/sv/a%20b/%E4%B8%AD.mp4");
        assert_eq!(canonical_uri(Some("b"), ""), "/b/");
        assert_eq!(canonical_uri(None, ""), "/");
        let q = p(&[("uploadId", "U 1"), ("partNumber", "2"), ("acl", "")]);
        assert_eq!(canonical_query(&q), "acl&partNumber=2&uploadId=U%201");
    }

    #[test]
    fn parse_variants_and_errors() {
        let a = parse_authorization(
            "OSS4-HMAC-SHA256 Credential=AK/20240101/cn-shanghai/oss/aliyun_v4_request, AdditionalHeaders=host;Range, Signature=ab",
        )
        .unwrap();
        assert_eq!(a.additional_headers, vec!["host", "range"]);
        assert_eq!(a.signature, "ab");
        assert_eq!(parse_authorization(""), Err(AuthParseError::Empty));
        assert!(matches!(
            parse_authorization("OSS a:b"),
            Err(AuthParseError::UnsupportedScheme(_))
        ));
        assert_eq!(
            parse_authorization("OSS4-HMAC-SHA256 Signature=ab"),
            Err(AuthParseError::Missing("Credential"))
        );
        assert_eq!(
            parse_authorization("OSS4-HMAC-SHA256 Credential=AK/20240101/r/oss/aliyun_v4_request"),
            Err(AuthParseError::Missing("Signature"))
        );
        for bad in [
            "OSS4-HMAC-SHA256 Credential=AK/20240101/r/oss,Signature=a",
            "OSS4-HMAC-SHA256 Credential=AK/2024010/r/oss/aliyun_v4_request,Signature=a",
            "OSS4-HMAC-SHA256 Credential=/20240101/r/oss/aliyun_v4_request,Signature=a",
            "OSS4-HMAC-SHA256 Credential=AK/20240101/r/oss/aliyun_v4_request,junk,Signature=a",
        ] {
            assert!(
                matches!(parse_authorization(bad), Err(AuthParseError::Malformed(_))),
                "{bad}"
            );
        }
    }
}
