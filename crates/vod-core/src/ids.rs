//! Identifier formats: 32-hex media ids, Alibaba-style request ids, access keys, app ids.

use rand::Rng;
use rand::distr::Alphanumeric;

/// A 32-character lowercase hex id (VideoId, MediaId, JobId), from a v7 UUID so ids sort by time.
pub fn hex_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// A request id shaped like Alibaba's: `25818875-5F78-4A43-7DF6-D7393642CA58`.
pub fn request_id() -> String {
    let id = uuid::Uuid::new_v4();
    id.hyphenated()
        .encode_upper(&mut uuid::Uuid::encode_buffer())
        .to_string()
}

/// A random alphanumeric string.
pub fn alnum(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// A long-term AccessKeyId, `LTAI` + 20 alphanumerics, as Alibaba issues them.
pub fn access_key_id() -> String {
    format!("LTAI{}", alnum(20))
}

/// A long-term AccessKeySecret (30 alphanumerics).
pub fn access_key_secret() -> String {
    alnum(30)
}

/// A new app id: `app-` followed by 19 digits.
pub fn app_id() -> String {
    let n: u64 = rand::rng().random_range(1_000_000_000_000_000_000..10_000_000_000_000_000_000);
    format!("app-{n}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert_eq!(hex_id().len(), 32);
        assert_ne!(hex_id(), hex_id());
        let r = request_id();
        assert_eq!(r.len(), 36);
        assert_eq!(r, r.to_uppercase());
        assert!(access_key_id().starts_with("LTAI"));
        assert_eq!(access_key_id().len(), 24);
        assert_eq!(app_id().len(), 23);
    }
}
