//! VOD HTTP-callback authentication headers (`X-VOD-SIGNATURE`, protocol.md §4.3).

use crate::{ct_eq, mac};

/// Lowercase hex `md5("<callback_url>|<timestamp>|<private_key>")`, the value
/// of `X-VOD-SIGNATURE` (with `X-VOD-TIMESTAMP: <timestamp>`).
pub fn vod_callback_signature(callback_url: &str, timestamp: i64, private_key: &str) -> String {
    mac::md5_hex(format!("{callback_url}|{timestamp}|{private_key}").as_bytes())
}

/// Constant-time check of a received `X-VOD-SIGNATURE` (hex, any case).
pub fn verify_vod_callback_signature(callback_url: &str, timestamp: i64, private_key: &str, provided: &str) -> bool {
    let provided = provided.to_ascii_lowercase();
    ct_eq(
        vod_callback_signature(callback_url, timestamp, private_key).as_bytes(),
        provided.as_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docs_vector() {
        let url = "https://www.example.com/your/callback";
        let sig = vod_callback_signature(url, 1519375990, "test123");
        assert_eq!(sig, "c72b60894140fa98920f1279219b7ed4");
        assert!(verify_vod_callback_signature(url, 1519375990, "test123", &sig));
        assert!(!verify_vod_callback_signature(url, 1519375991, "test123", &sig));
        assert!(!verify_vod_callback_signature(url, 1519375990, "test124", &sig));
    }
}
