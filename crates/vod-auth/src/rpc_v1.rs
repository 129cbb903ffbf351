//! POP RPC V1 signature (HMAC-SHA1 over the canonicalized query, protocol.md §1.3).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::percent::{pop_encode, push_sorted_encoded};
use crate::{ct_eq, mac};

/// Canonicalized query string: every parameter except `Signature`, name and
/// value [`pop_encode`]d, sorted by encoded name then encoded value, joined as
/// `name=value` with `&`. Empty values are kept as `name=`.
pub fn canonicalized_query(params: &[(String, String)]) -> String {
    let mut out = String::new();
    push_sorted_encoded(&mut out, params.iter().filter(|(k, _)| k != "Signature"));
    out
}

/// `METHOD & %2F & pop_encode(canonicalized_query)`; `method` is used verbatim
/// (pass the request's actual, uppercase HTTP method).
pub fn string_to_sign(method: &str, params: &[(String, String)]) -> String {
    format!("{method}&%2F&{}", pop_encode(&canonicalized_query(params)))
}

/// Base64(HMAC-SHA1(key = `secret + "&"`, string_to_sign)).
pub fn sign(secret: &str, string_to_sign: &str) -> String {
    let key = format!("{secret}&");
    STANDARD.encode(mac::hmac_sha1(key.as_bytes(), string_to_sign.as_bytes()))
}

/// Recomputes the signature and compares it with `provided` in constant time.
pub fn verify(secret: &str, string_to_sign: &str, provided: &str) -> bool {
    ct_eq(sign(secret, string_to_sign).as_bytes(), provided.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn docs_vector() {
        let params = p(&[
            ("VideoId", "5aed81b74ba84920be578cdfe004af4b"),
            ("Action", "GetVideoPlayAuth"),
            ("Format", "JSON"),
            ("Version", "2017-03-21"),
            ("AccessKeyId", "testAccessKeyId"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("Timestamp", "2017-10-10T12:02:54Z"),
            ("SignatureVersion", "1.0"),
            ("SignatureNonce", "8f8a035d-6496-4268-afd4-67c22837e38d"),
            ("Signature", "ignored"),
        ]);
        let expected = "GET&%2F&AccessKeyId%3DtestAccessKeyId%26Action%3DGetVideoPlayAuth%26Format%3DJSON%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D8f8a035d-6496-4268-afd4-67c22837e38d%26SignatureVersion%3D1.0%26Timestamp%3D2017-10-10T12%253A02%253A54Z%26Version%3D2017-03-21%26VideoId%3D5aed81b74ba84920be578cdfe004af4b";
        let sts = string_to_sign("GET", &params);
        assert_eq!(sts, expected);
        assert_eq!(sign("testAccessKeySecret", &sts), "Ibgh7y8Vp47LBuAsf5Xhi1SvDss=");
        assert!(verify("testAccessKeySecret", &sts, "Ibgh7y8Vp47LBuAsf5Xhi1SvDss="));
        assert!(!verify("testAccessKeySecret", &sts, "Ibgh7y8Vp47LBuAsf5Xhi1SvDsS="));
        assert!(!verify("otherSecret", &sts, "Ibgh7y8Vp47LBuAsf5Xhi1SvDss="));
    }

    #[test]
    fn old_core_vector_with_empty_signature_type() {
        let params = p(&[
            ("AccessKeyId", "testAK"),
            ("Action", "CreateUploadVideo"),
            ("FileName", "a b.mp4"),
            ("Format", "JSON"),
            ("RegionId", "cn-shanghai"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "0123456789abcdef0123456789abcdef"),
            ("SignatureType", ""),
            ("SignatureVersion", "1.0"),
            ("Timestamp", "2024-01-01T00:00:00Z"),
            ("Title", "hello world*~ 中"),
            ("Version", "2017-03-21"),
        ]);
        let expected = "POST&%2F&AccessKeyId%3DtestAK%26Action%3DCreateUploadVideo%26FileName%3Da%2520b.mp4%26Format%3DJSON%26RegionId%3Dcn-shanghai%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D0123456789abcdef0123456789abcdef%26SignatureType%3D%26SignatureVersion%3D1.0%26Timestamp%3D2024-01-01T00%253A00%253A00Z%26Title%3Dhello%2520world%252A~%2520%25E4%25B8%25AD%26Version%3D2017-03-21";
        let sts = string_to_sign("POST", &params);
        assert_eq!(sts, expected);
        assert_eq!(sign("testSecret", &sts), "2X0RUkHvcELbAD4oZDusBu9PLX0=");
        assert!(verify("testSecret", &sts, "2X0RUkHvcELbAD4oZDusBu9PLX0="));
    }

    #[test]
    fn form_plus_and_percent20_sign_identically() {
        let a = crate::percent::form_decode_pairs("FileName=a+b.mp4&Action=X");
        let b = crate::percent::form_decode_pairs("FileName=a%20b.mp4&Action=X");
        assert_eq!(string_to_sign("POST", &a), string_to_sign("POST", &b));
        assert_eq!(canonicalized_query(&a), "Action=X&FileName=a%20b.mp4");
    }
}
