//! Content types of play URLs: by extension first (players depend on them: an HLS playlist
//! served as `application/octet-stream` does not play in Safari), then what the object was
//! stored with, then `application/octet-stream`.

/// The type for a file name extension (case-insensitive), if it is a known media type.
pub fn by_extension(key: &str) -> Option<&'static str> {
    let name = key.rsplit('/').next().unwrap_or(key);
    let (_, ext) = name.rsplit_once('.')?;
    let t = match ext.to_ascii_lowercase().as_str() {
        "mp4" | "m4v" => "video/mp4",
        "m4a" => "audio/mp4",
        "m3u8" => "application/vnd.apple.mpegurl",
        "ts" => "video/mp2t",
        "m4s" => "video/iso.segment",
        "mpd" => "application/dash+xml",
        "mp3" => "audio/mpeg",
        "aac" => "audio/aac",
        "flac" => "audio/flac",
        "wav" => "audio/wav",
        "ogg" | "oga" => "audio/ogg",
        "opus" => "audio/opus",
        "flv" => "video/x-flv",
        "webm" => "video/webm",
        "mkv" => "video/x-matroska",
        "mov" => "video/quicktime",
        "avi" => "video/x-msvideo",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "bmp" => "image/bmp",
        "svg" => "image/svg+xml",
        "vtt" => "text/vtt",
        "srt" => "application/x-subrip",
        "json" => "application/json",
        "xml" => "application/xml",
        "txt" => "text/plain; charset=utf-8",
        "key" => "application/octet-stream",
        _ => return None,
    };
    Some(t)
}

/// The `Content-Type` to answer with for `key`, given the type the origin stored.
pub fn content_type(key: &str, stored: Option<&str>) -> String {
    if let Some(t) = by_extension(key) {
        return t.to_string();
    }
    match stored.map(str::trim) {
        Some(t) if !t.is_empty() => t.to_string(),
        _ => "application/octet-stream".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types() {
        let cases = [
            ("a/b/v.mp4", "video/mp4"),
            ("x.M3U8", "application/vnd.apple.mpegurl"),
            ("hls/seg-00001.ts", "video/mp2t"),
            ("a.mp3", "audio/mpeg"),
            ("snap/1.jpg", "image/jpeg"),
            ("s.JPEG", "image/jpeg"),
            ("v.flv", "video/x-flv"),
            ("v.webm", "video/webm"),
            ("v.mpd", "application/dash+xml"),
        ];
        for (key, want) in cases {
            assert_eq!(content_type(key, Some("application/octet-stream")), want, "{key}");
        }
        assert_eq!(content_type("dir.v/file", Some("text/x-custom")), "text/x-custom");
        assert_eq!(content_type("noext", None), "application/octet-stream");
        assert_eq!(content_type("noext", Some(" ")), "application/octet-stream");
        assert_eq!(by_extension("trailing."), None);
    }
}
