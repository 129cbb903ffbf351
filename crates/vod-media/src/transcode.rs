//! Running a built command ([`transcode`]): prepares the output directory, runs the one
//! ffmpeg process, then measures every produced rendition with ffprobe (the figures are what
//! was written, not what was asked) and writes the HLS master playlist.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::command::{PlannedOutput, TranscodeCommand};
use crate::fields::{decimal, num, rate, text};
use crate::hls::{self, Variant};
use crate::probe::ffprobe_json;
use crate::tools::{Deadline, ToolError, Tools, ffmpeg_until};

/// One produced rendition, measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub template_id: String,
    pub definition: String,
    /// `mp4`, `m3u8`, `mp3`, `flv`, `webm`.
    pub format: String,
    /// `video` or `audio`.
    pub stream_type: String,
    /// The playable file (the playlist for m3u8) first, then the HLS segments in playlist
    /// order. Absolute when the output directory was.
    pub files: Vec<PathBuf>,
    /// Picture size (0 for audio).
    pub width: u32,
    pub height: u32,
    /// Kbps, decimal string (HLS: segment bytes over playlist duration).
    pub bitrate: String,
    /// Seconds, decimal string.
    pub duration: String,
    /// Frames per second, decimal string (`"0"` for audio).
    pub fps: String,
    /// Bytes of all `files` together.
    pub size: u64,
    /// ffprobe's codec name of the main stream: `h264`, `hevc`, `vp9`, `mp3`, `aac`, ...
    pub codec_name: String,
    /// `H264.LD`, `H265.HD`, `VP9.SD`, or `Audio`.
    pub specification: String,
}

/// Runs `cmd` (one ffmpeg process; killed after `timeout` or on `cancel`, the whole call
/// including the measurements being bounded by `timeout`), then measures the outputs. On
/// error the files the command names are removed; the rest of the output directory is left
/// alone.
pub async fn transcode(
    tools: &Tools,
    cmd: &TranscodeCommand,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<Vec<Output>, ToolError> {
    if cmd.outputs.is_empty() {
        return Ok(Vec::new());
    }
    let deadline = Deadline::after(timeout);
    let result = async {
        prepare(cmd).await?;
        ffmpeg_until(tools, &cmd.args, Some(&cmd.out_dir), deadline, cancel).await?;
        let mut tasks = tokio::task::JoinSet::new();
        for (i, planned) in cmd.outputs.iter().enumerate() {
            let (tools, planned, cancel, out_dir) =
                (tools.clone(), planned.clone(), cancel.clone(), cmd.out_dir.clone());
            tasks.spawn(async move { (i, measure(&tools, &planned, &out_dir, deadline, &cancel).await) });
        }
        let mut measured: Vec<Option<(Output, Option<Variant>)>> = vec![None; cmd.outputs.len()];
        while let Some(joined) = tasks.join_next().await {
            let (i, result) = joined.map_err(|e| ToolError::Output(format!("measuring task failed: {e}")))?;
            measured[i] = Some(result?);
        }
        let measured: Vec<(Output, Option<Variant>)> = measured.into_iter().flatten().collect();
        if let Some(master) = &cmd.master_playlist {
            let variants: Vec<Variant> = measured.iter().filter_map(|(_, v)| v.clone()).collect();
            tokio::fs::write(master, hls::master_playlist(&variants))
                .await
                .map_err(|e| ToolError::Output(format!("cannot write {}: {e}", master.display())))?;
        }
        Ok(measured.into_iter().map(|(o, _)| o).collect())
    }
    .await;
    if result.is_err() {
        cleanup(cmd).await;
    }
    result
}

/// Creates the output directory and empty HLS directories (stale segments removed).
async fn prepare(cmd: &TranscodeCommand) -> Result<(), ToolError> {
    let io = |p: &Path, e: std::io::Error| ToolError::Output(format!("cannot prepare {}: {e}", p.display()));
    tokio::fs::create_dir_all(&cmd.out_dir)
        .await
        .map_err(|e| io(&cmd.out_dir, e))?;
    for dir in cmd.outputs.iter().filter_map(|o| o.segment_dir.as_ref()) {
        match tokio::fs::remove_dir_all(dir).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(dir, e)),
        }
        tokio::fs::create_dir_all(dir).await.map_err(|e| io(dir, e))?;
    }
    Ok(())
}

async fn cleanup(cmd: &TranscodeCommand) {
    for o in &cmd.outputs {
        match &o.segment_dir {
            Some(dir) => drop(tokio::fs::remove_dir_all(dir).await),
            None => drop(tokio::fs::remove_file(&o.main).await),
        }
    }
    if let Some(master) = &cmd.master_playlist {
        let _ = tokio::fs::remove_file(master).await;
    }
}

async fn file_size(path: &Path) -> Result<u64, ToolError> {
    match tokio::fs::metadata(path).await {
        Ok(m) if m.is_file() => Ok(m.len()),
        Ok(_) => Err(ToolError::Output(format!("{} is not a file", path.display()))),
        Err(e) => Err(ToolError::Output(format!("{} was not produced: {e}", path.display()))),
    }
}

async fn measure(
    tools: &Tools,
    planned: &PlannedOutput,
    out_dir: &Path,
    deadline: Deadline,
    cancel: &CancellationToken,
) -> Result<(Output, Option<Variant>), ToolError> {
    let r = &planned.rendition;
    let main_size = file_size(&planned.main).await?;
    let json = ffprobe_json(tools, &planned.main, deadline, cancel)
        .await?
        .map_err(|reason| ToolError::Output(format!("{} is not readable media: {reason}", planned.main.display())))?;
    let streams: &[Value] = json.get("streams").and_then(Value::as_array).map_or(&[], Vec::as_slice);
    let of_type = |t: &str| {
        streams
            .iter()
            .find(|s| s.get("codec_type").and_then(Value::as_str) == Some(t))
    };
    let (video, audio) = (of_type("video"), of_type("audio"));
    if r.video.is_some() && video.is_none() {
        return Err(ToolError::Output(format!(
            "{} has no video stream",
            planned.main.display()
        )));
    }
    if r.audio.is_some() && audio.is_none() {
        return Err(ToolError::Output(format!(
            "{} has no audio stream",
            planned.main.display()
        )));
    }
    let format = json.get("format").cloned().unwrap_or(Value::Null);
    let mut files = vec![planned.main.clone()];
    let mut size = main_size;
    let (duration, kbps, variant);
    match &planned.segment_dir {
        Some(dir) => {
            let text = tokio::fs::read_to_string(&planned.main)
                .await
                .map_err(|e| ToolError::Output(format!("cannot read {}: {e}", planned.main.display())))?;
            let segments = hls::segments(&text);
            if segments.is_empty() {
                return Err(ToolError::Output(format!(
                    "{} lists no segment",
                    planned.main.display()
                )));
            }
            let (mut bytes, mut peak, mut total) = (0u64, 0f64, 0f64);
            for seg in &segments {
                let path = dir.join(&seg.uri);
                let n = file_size(&path).await?;
                files.push(path);
                bytes += n;
                total += seg.duration;
                if seg.duration > 0.0 {
                    peak = peak.max(n as f64 * 8.0 / seg.duration);
                }
            }
            size += bytes;
            duration = if total > 0.0 {
                total
            } else {
                num(format.get("duration")).unwrap_or(0.0)
            };
            let average = if duration > 0.0 {
                bytes as f64 * 8.0 / duration
            } else {
                0.0
            };
            kbps = average / 1000.0;
            let uri = planned.main.strip_prefix(out_dir).unwrap_or(&planned.main);
            variant = Some(Variant {
                uri: uri.to_string_lossy().replace('\\', "/"),
                peak_bps: peak.max(average).round() as u64,
                average_bps: average.round() as u64,
                resolution: video.map(dims),
                frame_rate: video.and_then(|v| rate(&text_of(v, "avg_frame_rate"))),
                codecs: hls::codecs(video, audio),
            });
        }
        None => {
            duration = num(format.get("duration")).unwrap_or(0.0);
            kbps = num(format.get("bit_rate"))
                .filter(|b| *b > 0.0)
                .map(|b| b / 1000.0)
                .unwrap_or(if duration > 0.0 {
                    size as f64 * 8.0 / duration / 1000.0
                } else {
                    0.0
                });
            variant = None;
        }
    }
    let (width, height) = video.map(dims).unwrap_or((0, 0));
    let main_stream = if r.video.is_some() { video } else { audio };
    let codec_name = main_stream.map(|s| text_of(s, "codec_name")).unwrap_or_default();
    let specification = if r.video.is_some() {
        let family = match codec_name.as_str() {
            "h264" => "H264".to_string(),
            "hevc" => "H265".to_string(),
            other => other.to_ascii_uppercase(),
        };
        format!("{family}.{}", r.definition)
    } else {
        "Audio".to_string()
    };
    let fps = video
        .and_then(|v| rate(&text_of(v, "avg_frame_rate")).or_else(|| rate(&text_of(v, "r_frame_rate"))))
        .map_or("0".to_string(), |f| decimal(f, 3));
    let output = Output {
        template_id: r.template_id.clone(),
        definition: r.definition.clone(),
        format: r.format.clone(),
        stream_type: r.stream_type().to_string(),
        files,
        width,
        height,
        bitrate: decimal(kbps, 3),
        duration: decimal(duration, 3),
        fps,
        size,
        codec_name,
        specification,
    };
    Ok((output, variant))
}

fn text_of(s: &Value, key: &str) -> String {
    text(s.get(key))
}

fn dims(v: &Value) -> (u32, u32) {
    (
        num(v.get("width")).unwrap_or(0.0) as u32,
        num(v.get("height")).unwrap_or(0.0) as u32,
    )
}
