//! Snapshots: JPEG images of the source's picture at given times, in one ffmpeg run
//! ([`snapshots`]). One image at `offset_ms` (the cover) or `count` images every
//! `interval_ms` from it, named `<prefix>-00001.jpg`, `<prefix>-00002.jpg`, ... (Alibaba's
//! 5-digit `{SnapshotCount}`). Times are clamped to the last frame: asking past the end gives
//! the last picture, so exactly `count` images always come back.
//!
//! The run seeks the input to the first time (`-ss` before `-i`: fast), then an `fps` filter
//! at one frame per interval picks the frame nearest each time; `-frames:v` stops it after
//! the last time that lies inside the source. When some times lie past the end, the same run
//! has a second input seeked to the last second (`-sseof`) whose final frame is kept; the
//! clamped images are copies of it.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::fields::decimal;
use crate::probe::{ProbeOutcome, input_arg, probe_until};
use crate::tools::{Deadline, ToolError, Tools, ffmpeg_until};

/// What to capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotSpec {
    /// Time of the first image, milliseconds from the start.
    pub offset_ms: u64,
    /// Number of images (1: the cover).
    pub count: u32,
    /// Milliseconds between images when `count` > 1.
    pub interval_ms: u64,
    /// Image size: both given → exactly that; one → the other follows the aspect ratio
    /// (even); none → the source's display size.
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// File name prefix: `<prefix>-00001.jpg`. A plain name (no `/`).
    pub prefix: String,
}

impl Default for SnapshotSpec {
    fn default() -> Self {
        Self {
            offset_ms: 0,
            count: 1,
            interval_ms: 1000,
            width: None,
            height: None,
            prefix: "snapshot".into(),
        }
    }
}

/// The image for the `n`th snapshot (1-based): `<prefix>-0000n.jpg`.
pub fn snapshot_file_name(prefix: &str, n: u32) -> String {
    format!("{prefix}-{n:05}.jpg")
}

/// Captures `spec.count` JPEG images of `source` into `out_dir` (created if missing) and
/// returns their paths in order. The whole call (a probe for the duration, then one ffmpeg
/// run) is bounded by `timeout` and stops on `cancel`. A source without video is
/// [`ToolError::Input`].
pub async fn snapshots(
    tools: &Tools,
    source: &Path,
    out_dir: &Path,
    spec: &SnapshotSpec,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<Vec<PathBuf>, ToolError> {
    if spec.count == 0 {
        return Ok(Vec::new());
    }
    if spec.prefix.is_empty() || spec.prefix.contains(['/', '\\', '\0']) {
        return Err(ToolError::Input(format!("bad snapshot prefix '{}'", spec.prefix)));
    }
    let deadline = Deadline::after(timeout);
    let info = match probe_until(tools, source, deadline, cancel).await? {
        ProbeOutcome::Media(info) if info.has_video => info,
        ProbeOutcome::Media(_) => return Err(ToolError::Input("the source has no video to snapshot".into())),
        ProbeOutcome::NotMedia(reason) => return Err(ToolError::Input(format!("the source is not media: {reason}"))),
    };
    let frame = 1.0 / if info.frame_rate > 0.0 { info.frame_rate } else { 25.0 };
    // The last instant that still shows a frame (unknown duration: no clamping).
    let last = if info.duration > 0.0 {
        (info.duration - frame).max(0.0)
    } else {
        f64::MAX
    };
    let offset = spec.offset_ms as f64 / 1000.0;
    let interval = spec.interval_ms as f64 / 1000.0;
    // How many of the times fall inside the source (a prefix of them: they increase).
    let inside = if offset > last {
        0
    } else if interval <= 0.0 {
        spec.count
    } else {
        let fit = ((last - offset) / interval + 1e-9).floor() as u64 + 1;
        fit.min(spec.count as u64) as u32
    };
    // Distinct images the main output writes (equal times are copied afterwards).
    let main_frames = if interval <= 0.0 { inside.min(1) } else { inside };

    tokio::fs::create_dir_all(out_dir)
        .await
        .map_err(|e| ToolError::Output(format!("cannot create {}: {e}", out_dir.display())))?;
    let tail_name = format!(".{}-last.jpg", spec.prefix);
    let tail = out_dir.join(&tail_name);
    let remove_all = || async {
        for n in 1..=spec.count {
            let _ = tokio::fs::remove_file(out_dir.join(snapshot_file_name(&spec.prefix, n))).await;
        }
        let _ = tokio::fs::remove_file(&tail).await;
    };
    remove_all().await;
    let scale = match (spec.width, spec.height) {
        (Some(w), Some(h)) => Some(format!("scale={w}:{h}")),
        (Some(w), None) => Some(format!("scale={w}:-2")),
        (None, Some(h)) => Some(format!("scale=-2:{h}")),
        (None, None) => None,
    };
    let mut args: Vec<OsString> = Vec::new();
    let mut input = 0;
    if main_frames > 0 {
        args.extend(["-ss".into(), decimal(offset, 3).into(), "-i".into(), input_arg(source)]);
    }
    if inside < spec.count {
        // The clamped times: the last frame, from the last second (each frame overwrites the
        // file, so the last one stays).
        let back = info.duration.clamp(frame, 1.0);
        args.extend([
            "-sseof".into(),
            format!("-{}", decimal(back, 3)).into(),
            "-i".into(),
            input_arg(source),
        ]);
    }
    if main_frames > 0 {
        let mut filters: Vec<String> = Vec::new();
        if main_frames > 1 {
            filters.push(format!("fps=1000/{}", spec.interval_ms));
        }
        filters.extend(scale.clone());
        let pattern = format!("./{}-%05d.jpg", spec.prefix.replace('%', "%%"));
        output_args(
            &mut args,
            input,
            &filters,
            &["-frames:v", &main_frames.to_string(), "-start_number", "1"],
        );
        args.push(pattern.into());
        input += 1;
    }
    if inside < spec.count {
        let filters: Vec<String> = scale.into_iter().collect();
        output_args(&mut args, input, &filters, &["-update", "1"]);
        args.push(format!("./{tail_name}").into());
    }
    let result = async {
        ffmpeg_until(tools, &args, Some(out_dir), deadline, cancel).await?;
        let tail_written = tokio::fs::metadata(&tail).await.is_ok_and(|m| m.len() > 0);
        let mut files: Vec<PathBuf> = Vec::with_capacity(spec.count as usize);
        for n in 1..=spec.count {
            let path = out_dir.join(snapshot_file_name(&spec.prefix, n));
            let exists = n <= main_frames && tokio::fs::metadata(&path).await.is_ok_and(|m| m.len() > 0);
            if !exists {
                // A clamped time takes the last frame; a repeated time (or one the fps filter
                // rounded away) the previous image.
                let from = if n > inside && tail_written {
                    tail.clone()
                } else {
                    match files.last() {
                        Some(previous) => previous.clone(),
                        None => return Err(ToolError::Output("ffmpeg wrote no image".into())),
                    }
                };
                tokio::fs::copy(&from, &path)
                    .await
                    .map_err(|e| ToolError::Output(format!("cannot write {}: {e}", path.display())))?;
            }
            files.push(path);
        }
        Ok(files)
    }
    .await;
    if result.is_err() {
        remove_all().await;
    } else {
        let _ = tokio::fs::remove_file(&tail).await;
    }
    result
}

/// One JPEG output of input `input`'s first real video stream (no audio/subtitles/data).
fn output_args(args: &mut Vec<OsString>, input: usize, filters: &[String], extra: &[&str]) {
    args.extend(["-map".into(), format!("{input}:V:0").into()]);
    args.extend(["-an", "-sn", "-dn"].map(OsString::from));
    if !filters.is_empty() {
        args.extend(["-vf".into(), filters.join(",").into()]);
    }
    args.extend(extra.iter().map(OsString::from));
    args.extend(["-q:v", "2", "-f", "image2"].map(OsString::from));
}
