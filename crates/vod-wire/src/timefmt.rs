//! Alibaba time strings: `yyyy-MM-ddTHH:mm:ssZ` in UTC, from and to unix milliseconds.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Formats unix milliseconds as `2024-01-01T00:00:00Z`.
pub fn iso8601(unix_ms: i64) -> String {
    let dt = OffsetDateTime::from_unix_timestamp(unix_ms.div_euclid(1000)).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    // Digits written directly: this runs for every timestamp of every response.
    let fields = [
        (dt.year().clamp(0, 9999) as u32, 4, '-'),
        (u32::from(u8::from(dt.month())), 2, '-'),
        (u32::from(dt.day()), 2, 'T'),
        (u32::from(dt.hour()), 2, ':'),
        (u32::from(dt.minute()), 2, ':'),
        (u32::from(dt.second()), 2, 'Z'),
    ];
    let mut out = String::with_capacity(20);
    for (n, width, sep) in fields {
        for i in (0..width).rev() {
            out.push(char::from(b'0' + ((n / 10u32.pow(i)) % 10) as u8));
        }
        out.push(sep);
    }
    out
}

/// Parses an ISO 8601 UTC timestamp as the gateway accepts it (`...Z`, optional fraction,
/// or an explicit offset). Returns unix milliseconds.
pub fn parse_iso8601(s: &str) -> Option<i64> {
    let dt = OffsetDateTime::parse(s, &Rfc3339).ok()?;
    Some((dt.unix_timestamp_nanos() / 1_000_000) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        let ms = parse_iso8601("2024-01-01T00:00:00Z").unwrap();
        assert_eq!(ms, 1_704_067_200_000);
        assert_eq!(iso8601(ms), "2024-01-01T00:00:00Z");
        assert_eq!(iso8601(1_762_345_678_999), "2025-11-05T12:27:58Z");
        assert_eq!(iso8601(951_782_400_000 + 3_599_000), "2000-02-29T00:59:59Z");
        assert_eq!(parse_iso8601("2017-10-10T08:24:38.312Z").unwrap() % 1000, 312);
        assert!(parse_iso8601("2017-10-10 08:24:38").is_none());
        assert!(parse_iso8601("garbage").is_none());
    }
}
