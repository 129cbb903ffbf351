//! OSS V1 signature (`Authorization: OSS ak:sig` and presigned `Signature=`
//! query), protocol.md §5.2.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::{ct_eq, mac};

/// Query parameters that are part of the CanonicalizedResource (oss2 2.19.1
/// `_subresource_key_set`), sorted by byte order. Any other parameter
/// (`max-parts`, `encoding-type`, `prefix`, …) is not signed.
pub const SIGNED_SUBRESOURCES: &[&str] = &[
    "accessPoint",
    "accessPointPolicy",
    "acl",
    "append",
    "asyncFetch",
    "bucketArchiveDirectRead",
    "bucketInfo",
    "callback",
    "callback-var",
    "cname",
    "comp",
    "continuation-token",
    "cors",
    "delete",
    "encryption",
    "endTime",
    "group",
    "httpsConfig",
    "inventory",
    "inventoryId",
    "lifecycle",
    "link",
    "live",
    "location",
    "logging",
    "metaQuery",
    "objectInfo",
    "objectMeta",
    "partNumber",
    "policy",
    "position",
    "publicAccessBlock",
    "qos",
    "qosInfo",
    "qosRequester",
    "redundancyTransition",
    "referer",
    "regionList",
    "replication",
    "replicationLocation",
    "replicationProgress",
    "requestPayment",
    "requesterQosInfo",
    "resourceGroup",
    "resourcePool",
    "resourcePoolBuckets",
    "resourcePoolInfo",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "security-token",
    "sequential",
    "startTime",
    "stat",
    "status",
    "style",
    "styleName",
    "symlink",
    "tagging",
    "transferAcceleration",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "vod",
    "website",
    "worm",
    "wormExtend",
    "wormId",
    "x-oss-ac-forward-allow",
    "x-oss-ac-source-ip",
    "x-oss-ac-subnet-mask",
    "x-oss-ac-vpc-id",
    "x-oss-access-point-name",
    "x-oss-async-process",
    "x-oss-process",
    "x-oss-redundancy-transition-taskid",
    "x-oss-request-payer",
    "x-oss-target-redundancy-type",
    "x-oss-traffic-limit",
    "x-oss-write-get-object-response",
];

/// True when `key` is one of [`SIGNED_SUBRESOURCES`].
pub fn is_signed_subresource(key: &str) -> bool {
    SIGNED_SUBRESOURCES.binary_search(&key).is_ok()
}

/// CanonicalizedResource: `/bucket/key` (key decoded/raw; `/` alone without a
/// bucket) plus `?` and the signed subresources sorted by key (then value),
/// joined by `&` as `k=v`, or `k` when the value is empty.
pub fn canonicalized_resource(bucket: Option<&str>, key: &str, query: &[(String, String)]) -> String {
    let mut out = match bucket {
        Some(b) => format!("/{b}/{key}"),
        None => "/".to_string(),
    };
    let mut subs: Vec<&(String, String)> = query.iter().filter(|(k, _)| is_signed_subresource(k)).collect();
    subs.sort();
    for (i, (k, v)) in subs.into_iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(k);
        if !v.is_empty() {
            out.push('=');
            out.push_str(v);
        }
    }
    out
}

/// CanonicalizedOSSHeaders: every `x-oss-*` header (name matched
/// case-insensitively, emitted lowercase), values trimmed, sorted by name, each
/// as `name:value\n`. A repeated name has its values joined by `,`.
pub fn canonicalized_oss_headers(headers: &[(String, String)]) -> String {
    let mut picked: Vec<(String, &str)> = headers
        .iter()
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim()))
        .filter(|(k, _)| k.starts_with("x-oss-"))
        .collect();
    picked.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = String::new();
    let mut prev: Option<&str> = None;
    for (k, v) in &picked {
        if prev == Some(k.as_str()) {
            out.pop();
            out.push(',');
        } else {
            out.push_str(k);
            out.push(':');
        }
        out.push_str(v);
        out.push('\n');
        prev = Some(k);
    }
    out
}

/// StringToSign = `VERB\nContent-MD5\nContent-Type\nDate\n` +
/// CanonicalizedOSSHeaders (picked from `oss_headers`, which may hold any
/// headers) + CanonicalizedResource. For presigned URLs pass `Expires` as
/// `date_or_expires`.
pub fn string_to_sign(
    verb: &str,
    content_md5: &str,
    content_type: &str,
    date_or_expires: &str,
    oss_headers: &[(String, String)],
    canonical_resource: &str,
) -> String {
    format!(
        "{verb}\n{content_md5}\n{content_type}\n{date_or_expires}\n{}{canonical_resource}",
        canonicalized_oss_headers(oss_headers)
    )
}

/// Base64(HMAC-SHA1(key = secret, no `&`, string_to_sign)).
pub fn sign(secret: &str, string_to_sign: &str) -> String {
    STANDARD.encode(mac::hmac_sha1(secret.as_bytes(), string_to_sign.as_bytes()))
}

/// Recomputes the signature and compares it with `provided` in constant time.
pub fn verify(secret: &str, string_to_sign: &str, provided: &str) -> bool {
    ct_eq(sign(secret, string_to_sign).as_bytes(), provided.as_bytes())
}

/// A V1 presigned GET URL (`Expires`, `OSSAccessKeyId`, `Signature`, and `security-token`
/// for temporary credentials, which is signed as a subresource) for a path-style
/// `endpoint/bucket/key`. `key` is raw; it is percent-encoded in the URL (keeping `/`).
pub fn presign_get(
    endpoint: &str,
    bucket: &str,
    key: &str,
    access_key_id: &str,
    secret: &str,
    security_token: Option<&str>,
    expires_unix: i64,
) -> String {
    use crate::percent::{pop_encode, pop_encode_path};
    let query: Vec<(String, String)> = security_token
        .map(|t| vec![("security-token".to_string(), t.to_string())])
        .unwrap_or_default();
    let resource = canonicalized_resource(Some(bucket), key, &query);
    let expires = expires_unix.to_string();
    let signature = sign(secret, &string_to_sign("GET", "", "", &expires, &[], &resource));
    let mut url = format!(
        "{}/{bucket}/{}?Expires={expires}&OSSAccessKeyId={}&Signature={}",
        endpoint.trim_end_matches('/'),
        pop_encode_path(key),
        pop_encode(access_key_id),
        pop_encode(&signature)
    );
    if let Some(t) = security_token {
        url.push_str("&security-token=");
        url.push_str(&pop_encode(t));
    }
    url
}

/// Parses `OSS <AccessKeyId>:<Signature>` into `(ak, sig)`.
pub fn parse_authorization(h: &str) -> Option<(String, String)> {
    let rest = h.trim().strip_prefix("OSS ")?;
    let (ak, sig) = rest.trim_start().split_once(':')?;
    let (ak, sig) = (ak.trim(), sig.trim());
    if ak.is_empty() || sig.is_empty() {
        return None;
    }
    Some((ak.to_string(), sig.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    const DATE: &str = "Mon, 01 Jan 2024 00:00:00 GMT";

    fn headers() -> Vec<(String, String)> {
        p(&[
            ("Host", "127.0.0.1:28472"),
            ("Content-Type", "video/mp4"),
            ("X-Oss-Security-Token", "SECTOKEN"),
            ("date", DATE),
        ])
    }

    #[test]
    fn subresource_list_is_sorted_and_unique() {
        assert!(SIGNED_SUBRESOURCES.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(SIGNED_SUBRESOURCES.len(), 86);
        for k in ["uploads", "uploadId", "partNumber", "security-token", "callback-var"] {
            assert!(is_signed_subresource(k), "{k}");
        }
        for k in ["max-parts", "encoding-type", "prefix", "part-number-marker"] {
            assert!(!is_signed_subresource(k), "{k}");
        }
    }

    #[test]
    fn put_object_vector() {
        let res = canonicalized_resource(Some("outin-bucket"), "sv/abc/test.mp4", &[]);
        assert_eq!(res, "/outin-bucket/sv/abc/test.mp4");
        let sts = string_to_sign("PUT", "", "video/mp4", DATE, &headers(), &res);
        assert_eq!(
            sts,
            "PUT\n\nvideo/mp4\nMon, 01 Jan 2024 00:00:00 GMT\nx-oss-security-token:SECTOKEN\n/outin-bucket/sv/abc/test.mp4"
        );
        let auth = format!("OSS STS.tmpAK:{}", sign("tmpSecret", &sts));
        assert_eq!(auth, "OSS STS.tmpAK:k362OYvzgqUsGhluvce11O8x1Bs=");
        let (ak, sig) = parse_authorization(&auth).unwrap();
        assert_eq!(ak, "STS.tmpAK");
        assert!(verify("tmpSecret", &sts, &sig));
        assert!(!verify("tmpSecret&", &sts, &sig));
    }

    #[test]
    fn upload_part_vector() {
        let q = crate::percent::form_decode_pairs("uploadId=UPID123&partNumber=1&encoding-type=url");
        let res = canonicalized_resource(Some("outin-bucket"), "sv/abc/test.mp4", &q);
        assert_eq!(res, "/outin-bucket/sv/abc/test.mp4?partNumber=1&uploadId=UPID123");
        let mut h = headers();
        h.retain(|(k, _)| k != "Content-Type");
        let sts = string_to_sign("PUT", "", "", DATE, &h, &res);
        assert_eq!(sign("tmpSecret", &sts), "peIoKObLfwctk/PfmiN3ii+at0o=");
    }

    #[test]
    fn resource_shapes() {
        let q = crate::percent::form_decode_pairs("uploads");
        assert_eq!(canonicalized_resource(Some("b"), "k k", &q), "/b/k k?uploads");
        let q = crate::percent::form_decode_pairs("uploads=");
        assert_eq!(canonicalized_resource(Some("b"), "k", &q), "/b/k?uploads");
        assert_eq!(canonicalized_resource(Some("b"), "", &[]), "/b/");
        assert_eq!(canonicalized_resource(None, "", &q), "/?uploads");
        assert_eq!(canonicalized_resource(None, "", &[]), "/");
    }

    #[test]
    fn oss_header_canonicalization() {
        let h = p(&[("x-oss-b", " 2 "), ("X-OSS-A", "1"), ("x-oss-b", "3"), ("date", "d")]);
        assert_eq!(canonicalized_oss_headers(&h), "x-oss-a:1\nx-oss-b:2,3\n");
        assert_eq!(canonicalized_oss_headers(&[]), "");
    }

    #[test]
    fn parse_authorization_cases() {
        assert_eq!(parse_authorization("OSS a:b"), Some(("a".into(), "b".into())));
        assert_eq!(parse_authorization("OSS a:b/c+d="), Some(("a".into(), "b/c+d=".into())));
        assert_eq!(parse_authorization("OSS a"), None);
        assert_eq!(parse_authorization("OSS :b"), None);
        assert_eq!(parse_authorization("OSS4-HMAC-SHA256 Credential=x"), None);
        assert_eq!(parse_authorization(""), None);
    }
}

#[cfg(test)]
mod presign_tests {
    use super::*;

    #[test]
    fn presigned_get_signs_the_token_as_a_subresource() {
        let url = presign_get(
            "http://127.0.0.1:9000/",
            "b",
            "sv/a b/LD.mp4",
            "STS.x",
            "sec",
            Some("T+1"),
            1700000000,
        );
        let sts = string_to_sign("GET", "", "", "1700000000", &[], "/b/sv/a b/LD.mp4?security-token=T+1");
        let sig = crate::percent::pop_encode(&sign("sec", &sts));
        assert_eq!(
            url,
            format!(
                "http://127.0.0.1:9000/b/sv/a%20b/LD.mp4?Expires=1700000000&OSSAccessKeyId=STS.x&Signature={sig}&security-token=T%2B1"
            )
        );
        let plain = presign_get("http://h", "b", "k", "AK", "sec", None, 5);
        assert!(plain.ends_with(&format!(
            "Signature={}",
            crate::percent::pop_encode(&sign("sec", "GET\n\n\n5\n/b/k"))
        )));
    }
}
