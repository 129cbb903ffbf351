//! Alibaba time strings: `yyyy-MM-ddTHH:mm:ssZ` in UTC, from and to unix milliseconds.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Formats unix milliseconds as `2024-01-01T00:00:00Z`.
pub fn iso8601(unix_ms: i64) -> String {
    let dt = OffsetDateTime::from_unix_timestamp(unix_ms.div_euclid(1000)).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        dt.year(),
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
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
        assert_eq!(parse_iso8601("2017-10-10T08:24:38.312Z").unwrap() % 1000, 312);
        assert!(parse_iso8601("2017-10-10 08:24:38").is_none());
        assert!(parse_iso8601("garbage").is_none());
    }
}
