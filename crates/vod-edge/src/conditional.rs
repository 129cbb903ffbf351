//! Conditional and range requests (RFC 9110 §13, §14): `If-None-Match`,
//! `If-Modified-Since`, `If-Range` and a single `Range: bytes=` range.

use std::ops::Range;

use axum::http::HeaderMap;

/// What to answer, given the request headers and the object's validators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// 304 Not Modified.
    NotModified,
    /// 416 Range Not Satisfiable.
    Unsatisfiable,
    /// 200 with the whole object.
    Full,
    /// 206 with these bytes.
    Partial(Range<u64>),
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

/// An entity tag as sent (`"x"`, `W/"x"`) compared weakly with ours (no quotes).
fn etag_matches(tag: &str, ours: &str) -> bool {
    let tag = tag.trim();
    let tag = tag.strip_prefix("W/").unwrap_or(tag);
    tag.trim_matches('"') == ours
}

/// `etag` without quotes; `last_modified` in whole seconds since the epoch.
pub fn decide(h: &HeaderMap, etag: &str, last_modified: i64, size: u64, head: bool) -> Decision {
    if let Some(inm) = header(h, "if-none-match") {
        if inm == "*" || inm.split(',').any(|t| etag_matches(t, etag)) {
            return Decision::NotModified;
        }
    } else if let Some(ims) = header(h, "if-modified-since").and_then(|v| httpdate::parse_http_date(v).ok())
        && let Ok(ims) = ims.duration_since(std::time::UNIX_EPOCH)
        && last_modified <= ims.as_secs() as i64
    {
        return Decision::NotModified;
    }
    if head {
        return Decision::Full;
    }
    let Some(spec) = header(h, "range") else {
        return Decision::Full;
    };
    if let Some(if_range) = header(h, "if-range") {
        let applies = if if_range.starts_with('"') {
            if_range.trim_matches('"') == etag
        } else if if_range.starts_with("W/") {
            false // weak tags never match If-Range
        } else {
            httpdate::parse_http_date(if_range)
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .is_some_and(|t| t.as_secs() as i64 == last_modified)
        };
        if !applies {
            return Decision::Full;
        }
    }
    match parse_range(spec, size) {
        None => Decision::Full,
        Some(Err(())) => Decision::Unsatisfiable,
        Some(Ok(r)) => Decision::Partial(r),
    }
}

/// A `bytes=` range against an object of `size` bytes (see `vod_blob::range`).
pub use vod_blob::range::parse_byte_range as parse_range;

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn h(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        m
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-4", 10), Some(Ok(0..5)));
        assert_eq!(parse_range("bytes=5-", 10), Some(Ok(5..10)));
        assert_eq!(parse_range("bytes=-3", 10), Some(Ok(7..10)));
        assert_eq!(parse_range("bytes=-30", 10), Some(Ok(0..10)));
        assert_eq!(parse_range("bytes=8-100", 10), Some(Ok(8..10)));
        assert_eq!(parse_range("bytes=10-", 10), Some(Err(())));
        assert_eq!(parse_range("bytes=-0", 10), Some(Err(())));
        assert_eq!(parse_range("bytes=4-2", 10), None);
        assert_eq!(parse_range("bytes=0-1,3-4", 10), None);
        assert_eq!(parse_range("items=0-1", 10), None);
    }

    #[test]
    fn conditionals() {
        let lm = 1_700_000_000;
        let date = httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(lm as u64));
        let older = httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(lm as u64 - 10));
        let d = |pairs: &[(&'static str, &str)]| decide(&h(pairs), "ABC", lm, 10, false);
        assert_eq!(d(&[("if-none-match", "\"ABC\"")]), Decision::NotModified);
        assert_eq!(d(&[("if-none-match", "\"X\", W/\"ABC\"")]), Decision::NotModified);
        assert_eq!(d(&[("if-none-match", "*")]), Decision::NotModified);
        assert_eq!(d(&[("if-none-match", "\"X\"")]), Decision::Full);
        // If-None-Match wins over If-Modified-Since.
        assert_eq!(
            d(&[("if-none-match", "\"X\""), ("if-modified-since", &date)]),
            Decision::Full
        );
        assert_eq!(d(&[("if-modified-since", &date)]), Decision::NotModified);
        assert_eq!(d(&[("if-modified-since", &older)]), Decision::Full);
        assert_eq!(d(&[("range", "bytes=2-3")]), Decision::Partial(2..4));
        assert_eq!(d(&[("range", "bytes=20-")]), Decision::Unsatisfiable);
        assert_eq!(
            d(&[("range", "bytes=2-3"), ("if-range", "\"ABC\"")]),
            Decision::Partial(2..4)
        );
        assert_eq!(d(&[("range", "bytes=2-3"), ("if-range", "\"OLD\"")]), Decision::Full);
        assert_eq!(
            d(&[("range", "bytes=2-3"), ("if-range", &date)]),
            Decision::Partial(2..4)
        );
        assert_eq!(d(&[("range", "bytes=2-3"), ("if-range", &older)]), Decision::Full);
        assert_eq!(
            decide(&h(&[("range", "bytes=2-3")]), "ABC", lm, 10, true),
            Decision::Full
        );
    }
}
