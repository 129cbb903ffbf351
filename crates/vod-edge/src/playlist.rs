//! HLS playlists under Type-A URL authentication: a player fetches the segments a playlist
//! names relative to it, without the playlist's `auth_key`, so the edge signs every
//! relative URI of a playlist it serves to an authenticated request (as Alibaba CDN's M3U8
//! rewrite does). The segment signatures carry the playlist request's timestamp and uid, so
//! they expire with it.

/// Playlists larger than this are served as they are.
pub const MAX_REWRITE_BYTES: u64 = 1 << 20;

/// True for keys the rewrite applies to.
pub fn is_playlist(key: &str) -> bool {
    key.to_ascii_lowercase().ends_with(".m3u8")
}

/// Signs the relative URIs of `playlist` (served at `raw_path`) with `secret`, reusing the
/// timestamp and uid of the request's `auth_key`. Lines that are tags, absolute URLs or
/// absolute paths are left alone, as are URIs that already carry an `auth_key`.
pub fn sign_segments(playlist: &str, raw_path: &str, request_auth_key: &str, secret: &str) -> Option<String> {
    let (ts, uid) = parse_ts_uid(request_auth_key)?;
    let dir = raw_path.rsplit_once('/').map_or("", |(d, _)| d);
    let mut out = String::with_capacity(playlist.len() + 64);
    for (i, line) in playlist.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let uri = line.trim_end_matches('\r');
        let relative = !uri.is_empty()
            && !uri.starts_with('#')
            && !uri.starts_with('/')
            && !uri.contains("://")
            && !uri.contains("auth_key=");
        if !relative {
            out.push_str(line);
            continue;
        }
        let (path_part, query) = match uri.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (uri, None),
        };
        let path = format!("{dir}/{path_part}");
        let rand = uuid_like(i, ts);
        let auth = vod_auth::url_auth::sign_type_a(&path, ts, &rand, &uid, secret);
        out.push_str(path_part);
        match query {
            Some(q) => out.push_str(&format!("?{q}&auth_key={auth}")),
            None => out.push_str(&format!("?auth_key={auth}")),
        }
        if line.ends_with('\r') {
            out.push('\r');
        }
    }
    Some(out)
}

/// `(timestamp, uid)` of an `auth_key` (`ts-rand-uid-md5`; `rand` may contain `-`).
fn parse_ts_uid(auth_key: &str) -> Option<(i64, String)> {
    let mut it = auth_key.rsplitn(3, '-');
    let (_hash, uid, ts_rand) = (it.next()?, it.next()?, it.next()?);
    let ts = ts_rand.split_once('-')?.0.parse().ok()?;
    Some((ts, uid.to_string()))
}

/// A per-line `rand` (any string without meaning is allowed; it only has to differ).
fn uuid_like(line: usize, ts: i64) -> String {
    format!("{ts:x}{line:x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_segments_are_signed_with_the_playlist_timestamp() {
        let secret = "k3y";
        let pl = "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\nseg-00000.ts\n#EXTINF:6,\nsub/seg-00001.ts?x=1\nhttp://cdn/x.ts\n/abs.ts\n";
        let out = sign_segments(
            pl,
            "/b/sv/m/LD/index.m3u8",
            "1700000000-abc-0-0123456789abcdef0123456789abcdef",
            secret,
        )
        .unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "#EXTM3U");
        let (p, auth) = lines[3].split_once("?auth_key=").unwrap();
        assert_eq!(p, "seg-00000.ts");
        assert!(
            vod_auth::url_auth::verify_type_a("/b/sv/m/LD/seg-00000.ts", auth, secret, 1_700_000_100, 1800).is_ok()
        );
        let (p, auth) = lines[5].split_once("&auth_key=").unwrap();
        assert_eq!(p, "sub/seg-00001.ts?x=1");
        assert!(
            vod_auth::url_auth::verify_type_a("/b/sv/m/LD/sub/seg-00001.ts", auth, secret, 1_700_000_100, 1800).is_ok()
        );
        assert_eq!(lines[6], "http://cdn/x.ts");
        assert_eq!(lines[7], "/abs.ts");
        assert!(sign_segments(pl, "/b/x.m3u8", "garbage", secret).is_none());
    }
}
