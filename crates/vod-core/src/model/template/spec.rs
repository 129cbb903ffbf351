//! Parsing of one template's settings (`Video`, `Audio`, JSON-string decoding, numeric
//! ranges), shared by [`TranscodeTemplate::from_json`](super::TranscodeTemplate::from_json).

use serde_json::{Map, Value};

use super::{ARRAY_KEYS, AudioSpec, OBJECT_KEYS, VideoSpec, watermark_ids};

/// Audio sample rates a template may ask for (Hz).
const SAMPLE_RATES: &[u32] = &[
    8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 88200, 96000,
];

/// The template object with nested settings given as JSON strings decoded, and
/// `WatermarkIds` as an array of strings.
pub(super) fn normalize(obj: &Map<String, Value>) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    for (k, v) in obj {
        let v = match (k.as_str(), v) {
            (_, Value::Null) => continue,
            ("WatermarkIds", v) => Value::from(watermark_ids(Some(v))),
            (k, Value::String(s)) if OBJECT_KEYS.contains(&k) || ARRAY_KEYS.contains(&k) => {
                if s.trim().is_empty() {
                    continue;
                }
                match serde_json::from_str::<Value>(s) {
                    Ok(p @ Value::Object(_)) if OBJECT_KEYS.contains(&k) => p,
                    Ok(p @ Value::Array(_)) if ARRAY_KEYS.contains(&k) => p,
                    _ if OBJECT_KEYS.contains(&k) => return Err(format!("{k} must be a JSON object")),
                    _ => return Err(format!("{k} must be a JSON array")),
                }
            }
            (k, v) if OBJECT_KEYS.contains(&k) && !v.is_object() => {
                return Err(format!("{k} must be a JSON object"));
            }
            (k, v) if ARRAY_KEYS.contains(&k) && !v.is_array() => {
                return Err(format!("{k} must be a JSON array"));
            }
            (_, v) => v.clone(),
        };
        out.insert(k.clone(), v);
    }
    Ok(out)
}

pub(super) fn sub(obj: &Map<String, Value>, key: &str) -> Result<Option<Map<String, Value>>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m.clone())),
        Some(_) => Err(format!("{key} must be a JSON object")),
    }
}

pub(super) fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub(super) fn number(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

pub(super) fn flag(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.trim().eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// `section.key` as a number within `min..=max` (`min` exclusive when `open_min`); absent or
/// empty → `None`.
fn ranged(
    m: Option<&Map<String, Value>>,
    section: &str,
    key: &str,
    range: (f64, f64, bool),
) -> Result<Option<f64>, String> {
    let (min, max, open_min) = range;
    let Some(raw) = m.and_then(|m| m.get(key)) else {
        return Ok(None);
    };
    if matches!(raw, Value::Null) || matches!(raw, Value::String(s) if s.trim().is_empty()) {
        return Ok(None);
    }
    match number(Some(raw)) {
        Some(n) if n <= max && (n > min || (!open_min && n == min)) => Ok(Some(n)),
        _ if open_min => Err(format!(
            "{section}.{key} must be a number above {min} and at most {max}"
        )),
        _ => Err(format!("{section}.{key} must be a number between {min} and {max}")),
    }
}

pub(super) fn video_spec(v: Option<&Map<String, Value>>, format: &str) -> Result<VideoSpec, String> {
    let default_codec = if format == "webm" { "VP9" } else { "H.264" };
    let codec = v.and_then(|v| text(v.get("Codec"))).unwrap_or(default_codec.into());
    let codec = match codec.to_ascii_uppercase().as_str() {
        "H.264" | "H264" | "AVC" => "H.264",
        "H.265" | "H265" | "HEVC" => "H.265",
        "VP9" => "VP9",
        other => return Err(format!("Video.Codec '{other}' is not supported")),
    };
    if (format == "webm") != (codec == "VP9") || (format == "flv" && codec == "H.265") {
        return Err(format!("Video.Codec {codec} cannot be stored in {format}"));
    }
    let side = |key: &str| -> Result<Option<u32>, String> {
        match ranged(v, "Video", key, (128.0, 4096.0, false))? {
            Some(n) if n.fract() != 0.0 || !(n as u32).is_multiple_of(2) => {
                Err(format!("Video.{key} must be an even number"))
            }
            n => Ok(n.map(|n| n as u32)),
        }
    };
    let (width, height) = (side("Width")?, side("Height")?);
    let profile = v.and_then(|v| text(v.get("Profile"))).map(|p| p.to_ascii_lowercase());
    if let Some(p) = &profile
        && !["baseline", "main", "high"].contains(&p.as_str())
    {
        return Err(format!("Video.Profile '{p}' is not one of baseline, main, high"));
    }
    Ok(VideoSpec {
        codec: codec.into(),
        width,
        height,
        bitrate_kbps: ranged(v, "Video", "Bitrate", (10.0, 50_000.0, false))?.map(|n| n as u32),
        crf: ranged(v, "Video", "Crf", (0.0, 51.0, false))?.map(|n| n as u32),
        fps: ranged(v, "Video", "Fps", (0.0, 60.0, true))?,
        gop: ranged(v, "Video", "Gop", (1.0, 100_000.0, false))?.map(|n| n as u32),
        profile,
    })
}

pub(super) fn audio_spec(a: Option<&Map<String, Value>>, format: &str) -> Result<AudioSpec, String> {
    let default_codec = match format {
        "mp3" => "MP3",
        "webm" => "OPUS",
        _ => "AAC",
    };
    let codec = a.and_then(|a| text(a.get("Codec"))).unwrap_or(default_codec.into());
    let codec = codec.to_ascii_uppercase();
    let ok = match format {
        "mp3" => codec == "MP3",
        "webm" => matches!(codec.as_str(), "OPUS" | "VORBIS"),
        _ => matches!(codec.as_str(), "AAC" | "MP3"),
    };
    if !ok {
        return Err(format!("Audio.Codec {codec} cannot be stored in {format}"));
    }
    let samplerate = ranged(a, "Audio", "Samplerate", (1.0, 96_000.0, false))?.map(|n| n as u32);
    if let Some(r) = samplerate
        && !SAMPLE_RATES.contains(&r)
    {
        return Err(format!("Audio.Samplerate {r} is not supported"));
    }
    let channels = ranged(a, "Audio", "Channels", (1.0, 8.0, false))?.map(|n| n as u32);
    let allowed: &[u32] = if codec == "MP3" { &[1, 2] } else { &[1, 2, 4, 5, 6, 8] };
    if let Some(c) = channels
        && !allowed.contains(&c)
    {
        return Err(format!("Audio.Channels {c} is not supported with {codec}"));
    }
    Ok(AudioSpec {
        codec,
        bitrate_kbps: ranged(a, "Audio", "Bitrate", (8.0, 1000.0, false))?.map(|n| n as u32),
        samplerate,
        channels,
    })
}
