//! HTTP `Range: bytes=…` against an object of known size, as the OSS listener and the
//! playback edge both read it: one range only (anything else means "send it all").

use std::ops::Range;

/// A `bytes=` range against an object of `size` bytes: `None` to ignore it (malformed, a
/// reversed range, or several ranges: the whole object is sent), `Some(Err)` when nothing
/// of it exists (416: a start at or past the end, or an empty suffix).
pub fn parse_byte_range(spec: &str, size: u64) -> Option<Result<Range<u64>, ()>> {
    let spec = spec.trim().strip_prefix("bytes=")?.trim();
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        let n: u64 = b.parse().ok()?;
        if n == 0 || size == 0 {
            return Some(Err(()));
        }
        return Some(Ok(size.saturating_sub(n)..size));
    }
    let start: u64 = a.parse().ok()?;
    let end = if b.is_empty() {
        size
    } else {
        let last: u64 = b.parse().ok()?;
        if last < start {
            return None;
        }
        last.saturating_add(1).min(size)
    };
    if start >= size {
        return Some(Err(()));
    }
    Some(Ok(start..end))
}

/// True for a zero-length suffix (`bytes=-0`), which OSS answers with the whole object.
pub fn is_empty_suffix(spec: &str) -> bool {
    spec.trim()
        .strip_prefix("bytes=")
        .and_then(|s| s.trim().strip_prefix('-'))
        .and_then(|n| n.trim().parse::<u64>().ok())
        == Some(0)
}
