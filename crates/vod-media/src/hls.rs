//! HLS bookkeeping: reading the segment list of a media playlist ffmpeg wrote, the RFC 6381
//! `CODECS` string of a rendition, and the master playlist (`master.m3u8`) that lists the
//! renditions with `BANDWIDTH` (peak segment bitrate), `AVERAGE-BANDWIDTH`, `RESOLUTION`,
//! `FRAME-RATE` and `CODECS`.

use serde_json::Value;

use crate::fields::{num, text};

/// One segment of a media playlist: its URI (relative to the playlist) and `EXTINF` seconds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Segment {
    pub uri: String,
    pub duration: f64,
}

/// The segments of a media playlist, in order.
pub(crate) fn segments(playlist: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut pending: Option<f64> = None;
    for line in playlist.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("#EXTINF:") {
            pending = rest.split(',').next().and_then(|d| d.trim().parse().ok());
        } else if !line.is_empty() && !line.starts_with('#') {
            out.push(Segment {
                uri: line.to_string(),
                duration: pending.take().unwrap_or(0.0),
            });
        }
    }
    out
}

/// One entry of the master playlist.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Variant {
    /// Relative to the master playlist (`LD/index.m3u8`).
    pub uri: String,
    /// Bits per second.
    pub peak_bps: u64,
    pub average_bps: u64,
    /// `None` for audio-only renditions.
    pub resolution: Option<(u32, u32)>,
    pub frame_rate: Option<f64>,
    pub codecs: String,
}

/// The master playlist text, variants by increasing bandwidth.
pub(crate) fn master_playlist(variants: &[Variant]) -> String {
    let mut sorted: Vec<&Variant> = variants.iter().collect();
    sorted.sort_by_key(|v| v.peak_bps);
    let mut out = String::from("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    for v in sorted {
        out.push_str(&format!(
            "#EXT-X-STREAM-INF:BANDWIDTH={},AVERAGE-BANDWIDTH={}",
            v.peak_bps.max(1),
            v.average_bps.max(1)
        ));
        if let Some((w, h)) = v.resolution {
            out.push_str(&format!(",RESOLUTION={w}x{h}"));
        }
        if let Some(r) = v.frame_rate.filter(|r| *r > 0.0) {
            out.push_str(&format!(",FRAME-RATE={r:.3}"));
        }
        if !v.codecs.is_empty() {
            out.push_str(&format!(",CODECS=\"{}\"", v.codecs));
        }
        out.push('\n');
        out.push_str(&v.uri);
        out.push('\n');
    }
    out
}

/// RFC 6381 codecs of a rendition from ffprobe's streams, e.g. `avc1.64001e,mp4a.40.2`.
/// H.264 profile bytes are those x264 writes (constraint_set1 on Baseline and Main).
pub(crate) fn codecs(video: Option<&Value>, audio: Option<&Value>) -> String {
    let mut list = Vec::new();
    if let Some(v) = video {
        let level = num(v.get("level")).unwrap_or(0.0).max(0.0) as u32;
        let profile = text(v.get("profile"));
        match text(v.get("codec_name")).as_str() {
            "h264" => {
                let (idc, flags) = match profile.as_str() {
                    "Baseline" => (0x42, 0x00),
                    "Constrained Baseline" => (0x42, 0xc0),
                    "Main" => (0x4d, 0x40),
                    "Extended" => (0x58, 0x00),
                    "High 10" | "High 10 Intra" => (0x6e, 0x00),
                    "High 4:2:2" | "High 4:2:2 Intra" => (0x7a, 0x00),
                    "High 4:4:4 Predictive" | "High 4:4:4 Intra" => (0xf4, 0x00),
                    _ => (0x64, 0x00),
                };
                list.push(format!("avc1.{idc:02x}{flags:02x}{:02x}", level.min(255)));
            }
            "hevc" => {
                let (space, compat) = if profile.contains("10") { (2, 4) } else { (1, 6) };
                list.push(format!("hvc1.{space}.{compat}.L{level}.B0"));
            }
            "vp9" => list.push("vp09.00.10.08".into()),
            _ => {}
        }
    }
    if let Some(a) = audio {
        let profile = text(a.get("profile"));
        match text(a.get("codec_name")).as_str() {
            "aac" => list.push(
                match profile.as_str() {
                    "HE-AAC" => "mp4a.40.5",
                    "HE-AACv2" => "mp4a.40.29",
                    _ => "mp4a.40.2",
                }
                .into(),
            ),
            "mp3" => list.push("mp4a.40.34".into()),
            "ac3" => list.push("ac-3".into()),
            "eac3" => list.push("ec-3".into()),
            "opus" => list.push("opus".into()),
            _ => {}
        }
    }
    list.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_segments_and_writes_master() {
        let p = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n#EXTINF:6.000000,\nseg-00000.ts\n\
                 #EXTINF:2.5,\nseg-00001.ts\n#EXT-X-ENDLIST\n";
        let s = segments(p);
        assert_eq!(s.len(), 2);
        assert_eq!((s[1].uri.as_str(), s[1].duration), ("seg-00001.ts", 2.5));
        let c = codecs(
            Some(&json!({"codec_name":"h264","profile":"High","level":30})),
            Some(&json!({"codec_name":"aac","profile":"LC"})),
        );
        assert_eq!(c, "avc1.64001e,mp4a.40.2");
        let m = master_playlist(&[
            Variant {
                uri: "SD/index.m3u8".into(),
                peak_bps: 2_000_000,
                average_bps: 1_500_000,
                resolution: Some((1280, 720)),
                frame_rate: Some(25.0),
                codecs: c.clone(),
            },
            Variant {
                uri: "LD/index.m3u8".into(),
                peak_bps: 900_000,
                average_bps: 800_000,
                resolution: Some((854, 480)),
                frame_rate: None,
                codecs: c,
            },
        ]);
        let ld = m.find("LD/index.m3u8").unwrap();
        assert!(ld < m.find("SD/index.m3u8").unwrap());
        assert!(m.contains("BANDWIDTH=2000000,AVERAGE-BANDWIDTH=1500000,RESOLUTION=1280x720,FRAME-RATE=25.000"));
    }
}
