//! Alibaba CDN Type-A playback URL signing (`?auth_key=ts-rand-uid-md5hash`).

use crate::error::UrlAuthError;
use crate::{ct_eq, mac};

/// Returns the `auth_key` value `ts-rand-uid-md5hex("path-ts-rand-uid-key")`.
/// `path` is the URI path (starting with `/`, no query); `rand` is typically
/// a hyphen-less UUID or `0`, `uid` usually `0`.
pub fn sign_type_a(path: &str, timestamp: i64, rand: &str, uid: &str, private_key: &str) -> String {
    let hash = mac::md5_hex(format!("{path}-{timestamp}-{rand}-{uid}-{private_key}").as_bytes());
    format!("{timestamp}-{rand}-{uid}-{hash}")
}

/// Verifies an `auth_key` for `path`: `Malformed` when not
/// `ts-rand-uid-md5hex`, `Mismatch` on a wrong hash, `Expired` when the hash is
/// right but `now_unix > ts + ttl_secs`.
pub fn verify_type_a(
    path: &str,
    auth_key: &str,
    private_key: &str,
    now_unix: i64,
    ttl_secs: i64,
) -> Result<(), UrlAuthError> {
    // Split from the right so a `rand` containing '-' still parses.
    let mut it = auth_key.rsplitn(3, '-');
    let (Some(hash), Some(uid), Some(ts_rand)) = (it.next(), it.next(), it.next()) else {
        return Err(UrlAuthError::Malformed);
    };
    let (ts_str, rand) = ts_rand.split_once('-').ok_or(UrlAuthError::Malformed)?;
    let digits_only = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits_only(ts_str) || rand.is_empty() || uid.is_empty() {
        return Err(UrlAuthError::Malformed);
    }
    if hash.len() != 32 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(UrlAuthError::Malformed);
    }
    let ts: i64 = ts_str.parse().map_err(|_| UrlAuthError::Malformed)?;
    let expected = mac::md5_hex(format!("{path}-{ts_str}-{rand}-{uid}-{private_key}").as_bytes());
    if !ct_eq(expected.as_bytes(), hash.to_ascii_lowercase().as_bytes()) {
        return Err(UrlAuthError::Mismatch);
    }
    if now_unix > ts.saturating_add(ttl_secs) {
        return Err(UrlAuthError::Expired);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATH: &str = "/video/standard/1K.html";
    const KEY: &str = "aliyuncdnexp1234";

    #[test]
    fn self_computed_vector() {
        // md5("/video/standard/1K.html-1444435200-0-0-aliyuncdnexp1234"), computed independently.
        let k = sign_type_a(PATH, 1444435200, "0", "0", KEY);
        assert_eq!(k, "1444435200-0-0-80cd3862d699b7118eed99103f2a3a4f");
        assert_eq!(verify_type_a(PATH, &k, KEY, 1444435200, 1800), Ok(()));
        assert_eq!(verify_type_a(PATH, &k, KEY, 1444435200 + 1800, 1800), Ok(()));
        assert_eq!(
            verify_type_a(PATH, &k, KEY, 1444435200 + 1801, 1800),
            Err(UrlAuthError::Expired)
        );
    }

    #[test]
    fn tampering_is_rejected() {
        let k = sign_type_a(PATH, 1700000000, "477b3bbc253f467b8def6711128c7bec", "1001", KEY);
        let now = 1700000100;
        assert_eq!(verify_type_a(PATH, &k, KEY, now, 3600), Ok(()));
        assert_eq!(
            verify_type_a("/video/other.mp4", &k, KEY, now, 3600),
            Err(UrlAuthError::Mismatch)
        );
        assert_eq!(
            verify_type_a(PATH, &k, "otherkey", now, 3600),
            Err(UrlAuthError::Mismatch)
        );
        let later_ts = k.replacen("1700000000", "1700009999", 1);
        assert_eq!(
            verify_type_a(PATH, &later_ts, KEY, now, 3600),
            Err(UrlAuthError::Mismatch)
        );
        let other_uid = k.replacen("-1001-", "-1002-", 1);
        assert_eq!(
            verify_type_a(PATH, &other_uid, KEY, now, 3600),
            Err(UrlAuthError::Mismatch)
        );
    }

    #[test]
    fn hyphenated_rand_and_malformed() {
        let k = sign_type_a(PATH, 1700000000, "a-b-c", "0", KEY);
        assert_eq!(verify_type_a(PATH, &k, KEY, 1700000000, 10), Ok(()));
        for bad in [
            "",
            "abc",
            "1700000000-0-0",
            "x1700000000-0-0-80cd3862d699b7118eed99103f2a3a4f",
            "1700000000--0-80cd3862d699b7118eed99103f2a3a4f",
            "1700000000-0--80cd3862d699b7118eed99103f2a3a4f",
            "1700000000-0-0-80cd3862d699b7118eed99103f2a3a4",
            "1700000000-0-0-zzcd3862d699b7118eed99103f2a3a4f",
            "99999999999999999999999-0-0-80cd3862d699b7118eed99103f2a3a4f",
        ] {
            assert_eq!(
                verify_type_a(PATH, bad, KEY, 0, 10),
                Err(UrlAuthError::Malformed),
                "{bad}"
            );
        }
    }
}
