//! The probe: `ffprobe -show_format -show_streams` of a local file, judged (is it audio or
//! video at all?) and summarised as [`ProbeInfo`] (the figures GetMezzanineInfo, GetVideoInfo
//! and ladder planning need, with the stream lists already in Alibaba's field names).
//!
//! What counts as media: ffprobe opens the file with some confidence (`probe_score` ≥ 25,
//! ffmpeg's own "retry" threshold; random bytes named `.mp3` score 1), and it has at least one
//! real audio stream (sample rate and channels known) or video stream (a size, not cover art,
//! not a text file rendered as a picture, not a still image). Anything else is
//! [`ProbeOutcome::NotMedia`]; a missing program or a timeout is an `Err` (transient).

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::fields::{self, decimal, num, rate, stream_kbps, text};
use crate::tools::{self, Deadline, ToolError, Tools};

/// Largest ffprobe JSON accepted (a file with thousands of streams is not a media upload).
const PROBE_OUTPUT_LIMIT: usize = 16 << 20;
/// Below this `probe_score` ffmpeg itself is unsure of the container (AVPROBE_SCORE_RETRY).
const MIN_PROBE_SCORE: f64 = 25.0;
/// Containers that hold text or single images, never audio/video media.
const NOT_MEDIA_FORMATS: &[&str] = &["tty", "bin", "xbin", "adf", "idf", "image2", "image2pipe"];

/// What the probe found.
#[derive(Debug, Clone, PartialEq)]
#[allow(
    clippy::large_enum_variant,
    reason = "made once per probe and matched at once; a Box only adds noise"
)]
pub enum ProbeOutcome {
    Media(ProbeInfo),
    /// Not audio or video (or unreadable as such); why, in words (ffprobe's message when it
    /// failed).
    NotMedia(String),
}

/// A media file's figures. Strings are Alibaba's decimal strings; the first real video stream
/// and the first audio stream are the "primary" ones the single figures describe.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeInfo {
    /// Seconds (the container's duration, else the longest stream's; 0 when unknown).
    pub duration: f64,
    /// Bytes.
    pub size: u64,
    /// Overall bitrate in Kbps (`Bitrate`), e.g. `"1015.64"`; `""` when unknown.
    pub bitrate: String,
    /// Frame rate of the primary video stream, e.g. `"25"`, `"29.97"`; `""` without video.
    pub fps: String,
    /// The same as a number (0 when unknown or without video).
    pub frame_rate: f64,
    /// Display size of the primary video stream, after rotation (0 without video).
    pub width: u32,
    pub height: u32,
    /// Clockwise display rotation of the primary video stream (0, 90, 180 or 270).
    pub rotation: u32,
    /// ffprobe's `format_name`, e.g. `mov,mp4,m4a,3gp,3g2,mj2`.
    pub format_name: String,
    pub has_video: bool,
    pub has_audio: bool,
    /// Codec names of the primary streams (`h264`, `aac`, ...; `""` when absent).
    pub video_codec: String,
    pub audio_codec: String,
    /// Kbps of the primary video stream (its own figure, else overall minus audio).
    pub video_bitrate_kbps: Option<f64>,
    /// Kbps of the primary audio stream.
    pub audio_bitrate_kbps: Option<f64>,
    /// `VideoStreamList` of GetMezzanineInfo: one JSON object per video stream, Alibaba's
    /// field names, string values.
    pub video_streams: Vec<Value>,
    /// `AudioStreamList` likewise.
    pub audio_streams: Vec<Value>,
}

impl ProbeInfo {
    /// True for sources with sound and no picture (an mp3 with cover art included).
    pub fn is_audio_only(&self) -> bool {
        self.has_audio && !self.has_video
    }
}

/// Probes `file` (a local path). `Err` only when ffprobe could not give an answer (not
/// installed, killed after `timeout`) or the file cannot be read; a file ffprobe rejects is
/// `Ok(NotMedia)`.
pub async fn probe(tools: &Tools, file: &Path, timeout: Duration) -> Result<ProbeOutcome, ToolError> {
    probe_until(tools, file, Deadline::after(timeout), &CancellationToken::new()).await
}

pub(crate) async fn probe_until(
    tools: &Tools,
    file: &Path,
    deadline: Deadline,
    cancel: &CancellationToken,
) -> Result<ProbeOutcome, ToolError> {
    let meta = tokio::fs::metadata(file)
        .await
        .map_err(|e| ToolError::Input(format!("cannot read {}: {e}", file.display())))?;
    if !meta.is_file() {
        return Err(ToolError::Input(format!("{} is not a file", file.display())));
    }
    if meta.len() == 0 {
        return Ok(ProbeOutcome::NotMedia("the file is empty".into()));
    }
    match ffprobe_json(tools, file, deadline, cancel).await? {
        Ok(json) => Ok(analyse(&json, meta.len())),
        Err(reason) => Ok(ProbeOutcome::NotMedia(reason)),
    }
}

/// `file:` plus the absolute path: no protocol guessing from a colon in the name, no option
/// parsing of a leading dash.
pub(crate) fn input_arg(file: &Path) -> OsString {
    let abs = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
    let mut arg = OsString::from("file:");
    arg.push(abs);
    arg
}

/// ffprobe's JSON for `file`: `Ok(Err(reason))` when ffprobe ran and rejected the file.
pub(crate) async fn ffprobe_json(
    tools: &Tools,
    file: &Path,
    deadline: Deadline,
    cancel: &CancellationToken,
) -> Result<Result<Value, String>, ToolError> {
    let mut args: Vec<OsString> = ["-v", "error", "-show_format", "-show_streams", "-of", "json"]
        .iter()
        .map(OsString::from)
        .collect();
    args.push(input_arg(file));
    match tools::run(&tools.ffprobe, &args, None, deadline, cancel, PROBE_OUTPUT_LIMIT).await {
        Ok(stdout) => Ok(serde_json::from_slice(&stdout).map_err(|e| format!("ffprobe printed no JSON: {e}"))),
        Err(ToolError::Failed { status, stderr, .. }) => Ok(Err(if stderr.is_empty() {
            format!("ffprobe exited with {status}")
        } else {
            stderr
        })),
        Err(e) => Err(e),
    }
}

/// Judges and summarises ffprobe's JSON of a file of `size` bytes.
pub(crate) fn analyse(json: &Value, size: u64) -> ProbeOutcome {
    let format = json.get("format").cloned().unwrap_or(Value::Null);
    let format_name = text(format.get("format_name"));
    if NOT_MEDIA_FORMATS.contains(&format_name.as_str()) || format_name.ends_with("_pipe") {
        return ProbeOutcome::NotMedia(format!("'{format_name}' is not an audio or video container"));
    }
    if let Some(score) = num(format.get("probe_score"))
        && score < MIN_PROBE_SCORE
    {
        return ProbeOutcome::NotMedia(format!("unrecognised data (probe score {score})"));
    }
    let streams: &[Value] = json.get("streams").and_then(Value::as_array).map_or(&[], Vec::as_slice);
    let videos: Vec<&Value> = streams.iter().filter(|s| fields::is_video(s)).collect();
    let audios: Vec<&Value> = streams.iter().filter(|s| fields::is_audio(s)).collect();
    if videos.is_empty() && audios.is_empty() {
        return ProbeOutcome::NotMedia("no audio or video stream found".into());
    }
    let duration = num(format.get("duration"))
        .filter(|d| *d > 0.0)
        .or_else(|| {
            streams
                .iter()
                .filter_map(|s| num(s.get("duration")))
                .filter(|d| d.is_finite())
                .reduce(f64::max)
        })
        .unwrap_or(0.0);
    let size = num(format.get("size")).map_or(size, |s| s as u64);
    let overall_kbps = num(format.get("bit_rate"))
        .filter(|b| *b > 0.0)
        .map(|b| b / 1000.0)
        .or_else(|| (duration > 0.0).then(|| size as f64 * 8.0 / duration / 1000.0));
    let audio_kbps = audios.first().and_then(|a| stream_kbps(a));
    let (mut width, mut height, mut rotation, mut frame_rate) = (0, 0, 0, 0.0);
    let mut video_kbps = None;
    if let Some(v) = videos.first() {
        width = num(v.get("width")).unwrap_or(0.0) as u32;
        height = num(v.get("height")).unwrap_or(0.0) as u32;
        rotation = fields::rotation(v) as u32;
        if rotation % 180 == 90 {
            std::mem::swap(&mut width, &mut height);
        }
        frame_rate = rate(&text(v.get("avg_frame_rate")))
            .or_else(|| rate(&text(v.get("r_frame_rate"))))
            .unwrap_or(0.0);
        let other_audio: f64 = audios.iter().filter_map(|a| stream_kbps(a)).sum();
        video_kbps = stream_kbps(v).or_else(|| overall_kbps.map(|o| o - other_audio).filter(|k| *k > 0.0));
    }
    ProbeOutcome::Media(ProbeInfo {
        duration,
        size,
        bitrate: overall_kbps.map(|k| decimal(k, 3)).unwrap_or_default(),
        fps: if frame_rate > 0.0 {
            decimal(frame_rate, 3)
        } else {
            String::new()
        },
        frame_rate,
        width,
        height,
        rotation,
        format_name,
        has_video: !videos.is_empty(),
        has_audio: !audios.is_empty(),
        video_codec: videos.first().map(|v| text(v.get("codec_name"))).unwrap_or_default(),
        audio_codec: audios.first().map(|a| text(a.get("codec_name"))).unwrap_or_default(),
        video_bitrate_kbps: video_kbps,
        audio_bitrate_kbps: audio_kbps,
        video_streams: videos.iter().map(|v| fields::video_stream(v)).collect(),
        audio_streams: audios.iter().map(|a| fields::audio_stream(a)).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn judges_streams() {
        let cover_only = json!({"format":{"format_name":"mp3","probe_score":51},
            "streams":[{"codec_type":"video","width":300,"height":300,"disposition":{"attached_pic":1}}]});
        assert!(matches!(analyse(&cover_only, 10), ProbeOutcome::NotMedia(_)));
        let garbage = json!({"format":{"format_name":"mp3","probe_score":1},
            "streams":[{"codec_type":"audio","sample_rate":"0","channels":0}]});
        assert!(matches!(analyse(&garbage, 10), ProbeOutcome::NotMedia(_)));
        let rotated = json!({"format":{"format_name":"mov","probe_score":100,"duration":"2.5","bit_rate":"1000000"},
            "streams":[{"index":0,"codec_type":"video","codec_name":"h264","width":640,"height":360,
                        "avg_frame_rate":"25/1","side_data_list":[{"rotation":90}]},
                       {"index":1,"codec_type":"audio","codec_name":"aac","sample_rate":"48000","channels":2,"bit_rate":"128000"}]});
        let ProbeOutcome::Media(info) = analyse(&rotated, 1234) else {
            panic!("media expected")
        };
        assert_eq!((info.width, info.height, info.rotation), (360, 640, 90));
        assert_eq!((info.bitrate.as_str(), info.video_bitrate_kbps), ("1000", Some(872.0)));
        assert_eq!((info.size, info.duration, info.fps.as_str()), (1234, 2.5, "25"));
    }
}
