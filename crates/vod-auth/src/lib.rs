//! vod-auth: pure signature, credential and checksum primitives for vodstack.
//!
//! Everything here is synchronous and IO-free: Alibaba POP V1 (HMAC-SHA1) and
//! V3 (ACS3-HMAC-SHA256) RPC signatures, OSS V1 and V4 request signatures,
//! self-verifying STS temporary credentials, CRC-64/XZ (`x-oss-hash-crc64ecma`),
//! VOD HTTP-callback signatures and CDN Type-A playback URL auth.
#![forbid(unsafe_code)]

pub mod callback;
pub mod crc64;
pub mod error;
mod mac;
pub mod md5sum;
pub mod oss_v1;
pub mod oss_v4;
pub mod percent;
pub mod rpc_v1;
pub mod rpc_v3;
pub mod sts;
pub mod url_auth;

pub use error::{AuthParseError, StsError, UrlAuthError};

/// A secret for one purpose derived from the cluster master key: lowercase hex of
/// HMAC-SHA256(master_key, label). Every node derives the same value (e.g. the edges'
/// control secret) without storing it.
pub fn derive_secret(master_key: &[u8], label: &str) -> String {
    mac::hmac_sha256(master_key, label.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Constant-time equality of two byte strings.
///
/// The running time depends only on the lengths (which are not secret for
/// signatures of a fixed format), never on where the first difference is.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    ct_eq_mapped(a, b, |y| y)
}

/// [`ct_eq`] with ASCII letters of `b` compared in lowercase: `lower` must be lowercase
/// already (a hex signature we computed against one the client sent in any case).
pub fn ct_eq_ignore_ascii_case(lower: &[u8], b: &[u8]) -> bool {
    ct_eq_mapped(lower, b, |y| y.to_ascii_lowercase())
}

/// Whether `a` equals `b` with `map` applied to each byte of `b`, in time that depends on
/// the lengths only.
fn ct_eq_mapped(a: &[u8], b: &[u8], map: impl Fn(u8) -> u8) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ map(*y)));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::ct_eq;

    #[test]
    fn ct_eq_basics() {
        assert!(ct_eq(b"", b""));
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
        assert!(!ct_eq(b"", b"a"));
    }

    #[test]
    fn ct_eq_ignore_ascii_case_lowers_only_the_second() {
        use super::ct_eq_ignore_ascii_case as eq;
        assert!(eq(b"ab09ef", b"AB09eF"));
        assert!(eq(b"", b""));
        assert!(!eq(b"ab09ef", b"ab09e"));
        assert!(!eq(b"ab09ef", b"ab09eg"));
        // The first side is taken as given: an upper-case letter there never matches.
        assert!(!eq(b"AB", b"ab"));
    }
}
