//! ffprobe's JSON in Alibaba's words: the GetMezzanineInfo stream objects
//! (`VideoStreamList` / `AudioStreamList` entries, every value a string, absent values `""`)
//! and the small number helpers every output field goes through (rates like `30000/1001`,
//! Kbps, decimal strings without trailing zeros).

use serde_json::{Value, json};

/// Codecs ffmpeg reports for text files it renders as pictures: never media.
const TEXT_ART_CODECS: &[&str] = &["ansi", "bintext", "xbin", "idf", "tty"];

/// `n` with at most `places` decimals, trailing zeros (and a trailing dot) removed.
pub(crate) fn decimal(n: f64, places: usize) -> String {
    if !n.is_finite() {
        return "0".into();
    }
    let s = format!("{n:.places$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A rate (`25/1`, `30000/1001`, `25`) as a number; `None` for `0/0` and garbage.
pub(crate) fn rate(s: &str) -> Option<f64> {
    let v = match s.split_once('/') {
        Some((n, d)) => {
            let (n, d): (f64, f64) = (n.trim().parse().ok()?, d.trim().parse().ok()?);
            if d == 0.0 {
                return None;
            }
            n / d
        }
        None => s.trim().parse().ok()?,
    };
    (v.is_finite() && v > 0.0).then_some(v)
}

/// A JSON string or number as text (`""` when absent or another type).
pub(crate) fn text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) if s != "N/A" => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// A JSON string or number as a number.
pub(crate) fn num(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A stream's bitrate in Kbps: `bit_rate`, else Matroska's `BPS` tag.
pub(crate) fn stream_kbps(s: &Value) -> Option<f64> {
    num(s.get("bit_rate"))
        .or_else(|| num(s.get("tags").and_then(|t| t.get("BPS"))))
        .filter(|b| *b > 0.0)
        .map(|b| b / 1000.0)
}

fn kbps_text(s: &Value) -> String {
    stream_kbps(s).map(|k| decimal(k, 3)).unwrap_or_default()
}

fn rate_text(v: Option<&Value>) -> String {
    rate(&text(v)).map(|r| decimal(r, 3)).unwrap_or_default()
}

fn tag(s: &Value, key: &str) -> String {
    text(s.get("tags").and_then(|t| t.get(key)))
}

/// The display rotation in clockwise degrees, 0..360 (`rotate` tag, else the display matrix).
pub(crate) fn rotation(s: &Value) -> i64 {
    let raw = num(s.get("tags").and_then(|t| t.get("rotate"))).or_else(|| {
        s.get("side_data_list")?
            .as_array()?
            .iter()
            .find_map(|d| num(d.get("rotation")))
    });
    let r = raw.unwrap_or(0.0).round() as i64;
    r.rem_euclid(360)
}

/// True for a real picture stream: video, not cover art, with a size, not rendered text.
pub(crate) fn is_video(s: &Value) -> bool {
    s.get("codec_type").and_then(Value::as_str) == Some("video")
        && num(s.get("disposition").and_then(|d| d.get("attached_pic"))) != Some(1.0)
        && num(s.get("width")).is_some_and(|w| w > 0.0)
        && num(s.get("height")).is_some_and(|h| h > 0.0)
        && !TEXT_ART_CODECS.contains(&text(s.get("codec_name")).as_str())
}

/// True for a real sound stream: audio with a sample rate and channels.
pub(crate) fn is_audio(s: &Value) -> bool {
    s.get("codec_type").and_then(Value::as_str) == Some("audio")
        && num(s.get("sample_rate")).is_some_and(|r| r > 0.0)
        && num(s.get("channels")).is_some_and(|c| c > 0.0)
}

fn hdr_type(s: &Value) -> &'static str {
    let dolby = s
        .get("side_data_list")
        .and_then(Value::as_array)
        .is_some_and(|l| l.iter().any(|d| text(d.get("side_data_type")).contains("DOVI")));
    if dolby {
        return "DolbyVision";
    }
    match text(s.get("color_transfer")).as_str() {
        "smpte2084" => "HDR10",
        "arib-std-b67" => "HLG",
        _ => "",
    }
}

/// `CodecTimeBase`: ffprobe ≥ 5 no longer prints `codec_time_base`; it is one frame
/// (`1/fps`) for video and one sample (`1/rate`) for audio.
fn codec_time_base(s: &Value, video: bool) -> String {
    let given = text(s.get("codec_time_base"));
    if !given.is_empty() && given != "0/0" {
        return given;
    }
    if video {
        for key in ["avg_frame_rate", "r_frame_rate"] {
            let r = text(s.get(key));
            if let Some((n, d)) = r.split_once('/')
                && rate(&r).is_some()
            {
                return format!("{d}/{n}");
            }
        }
        String::new()
    } else {
        match text(s.get("sample_rate")) {
            r if r.is_empty() => r,
            r => format!("1/{r}"),
        }
    }
}

/// One `VideoStreamList` entry.
pub(crate) fn video_stream(s: &Value) -> Value {
    json!({
        "Index": text(s.get("index")),
        "CodecName": text(s.get("codec_name")),
        "CodecLongName": text(s.get("codec_long_name")),
        "Profile": text(s.get("profile")),
        "CodecTimeBase": codec_time_base(s, true),
        "CodecTagString": text(s.get("codec_tag_string")),
        "CodecTag": text(s.get("codec_tag")),
        "Width": text(s.get("width")),
        "Height": text(s.get("height")),
        "HasBFrames": text(s.get("has_b_frames")),
        "Sar": text(s.get("sample_aspect_ratio")),
        "Dar": text(s.get("display_aspect_ratio")),
        "PixFmt": text(s.get("pix_fmt")),
        "Level": text(s.get("level")),
        "Fps": rate_text(s.get("r_frame_rate")),
        "AvgFPS": rate_text(s.get("avg_frame_rate")),
        "Timebase": text(s.get("time_base")),
        "StartTime": text(s.get("start_time")),
        "Duration": text(s.get("duration")),
        "NumFrames": text(s.get("nb_frames")),
        "Lang": tag(s, "language"),
        "Rotate": rotation(s).to_string(),
        "Bitrate": kbps_text(s),
        "HDRType": hdr_type(s),
    })
}

/// One `AudioStreamList` entry.
pub(crate) fn audio_stream(s: &Value) -> Value {
    json!({
        "Index": text(s.get("index")),
        "CodecName": text(s.get("codec_name")),
        "CodecLongName": text(s.get("codec_long_name")),
        "CodecTimeBase": codec_time_base(s, false),
        "CodecTagString": text(s.get("codec_tag_string")),
        "CodecTag": text(s.get("codec_tag")),
        "SampleFmt": text(s.get("sample_fmt")),
        "SampleRate": text(s.get("sample_rate")),
        "Channels": text(s.get("channels")),
        "ChannelLayout": text(s.get("channel_layout")),
        "Timebase": text(s.get("time_base")),
        "StartTime": text(s.get("start_time")),
        "Duration": text(s.get("duration")),
        "Bitrate": kbps_text(s),
        "Lang": tag(s, "language"),
        "NumFrames": text(s.get("nb_frames")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(decimal(25.0, 3), "25");
        assert_eq!(decimal(30000.0 / 1001.0, 3), "29.97");
        assert_eq!(decimal(1015.64, 3), "1015.64");
        assert_eq!(rate("30000/1001").map(|r| decimal(r, 3)).as_deref(), Some("29.97"));
        assert_eq!(rate("0/0"), None);
        assert_eq!(rate("25"), Some(25.0));
    }

    #[test]
    fn stream_objects_are_all_strings() {
        let s = json!({"index":0,"codec_type":"video","codec_name":"h264","width":640,"height":360,
            "avg_frame_rate":"30000/1001","r_frame_rate":"30000/1001","bit_rate":"1500000",
            "tags":{"rotate":"-90","language":"eng"},"disposition":{"attached_pic":0}});
        let v = video_stream(&s);
        let obj = v.as_object().unwrap();
        assert_eq!(obj.len(), 24);
        assert!(obj.values().all(Value::is_string));
        assert_eq!(v["CodecTimeBase"], "1001/30000");
        assert_eq!(v["Rotate"], "270");
        assert_eq!(v["Bitrate"], "1500");
        assert_eq!(v["AvgFPS"], "29.97");
        assert!(is_video(&s));
        let a = audio_stream(&json!({"index":1,"codec_type":"audio","sample_rate":"44100","channels":2}));
        assert_eq!(a.as_object().unwrap().len(), 16);
        assert_eq!(a["CodecTimeBase"], "1/44100");
        assert_eq!(a["Channels"], "2");
    }
}
