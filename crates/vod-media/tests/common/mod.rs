//! Shared helpers of the integration tests: the ffmpeg-present guard, small lavfi sources,
//! ffprobe queries on produced files, and a look at /proc for leftover ffmpeg processes.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use vod_media::Tools;

/// The tools when ffmpeg and ffprobe are installed. Otherwise prints a loud SKIPPED line and
/// returns `None` — or panics when `CI=true` (CI installs ffmpeg; a skip there is a bug).
pub fn tools(test: &str) -> Option<Tools> {
    let ok = ["ffmpeg", "ffprobe"].iter().all(|p| {
        Command::new(p)
            .arg("-version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if ok {
        return Some(Tools::default());
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{test}: ffmpeg/ffprobe not installed, and CI=true (apt-get install -y ffmpeg)");
    }
    eprintln!("\n!!!!!!!! SKIPPED: ffmpeg not installed ({test}) !!!!!!!!\n");
    None
}

/// Runs ffmpeg synchronously (test fixtures); panics with its stderr on failure.
pub fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .output()
        .expect("run ffmpeg");
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An H.264/AAC mp4 of `seconds` of `testsrc2` at `size` (e.g. `320x240`) and 25 fps with a
/// 440 Hz tone.
pub fn video_source(dir: &Path, name: &str, size: &str, seconds: u32) -> PathBuf {
    let path = dir.join(name);
    let t = seconds.to_string();
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &format!("testsrc2=size={size}:rate=25"),
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=44100",
        "-t",
        &t,
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-b:a",
        "96k",
        path.to_str().unwrap(),
    ]);
    path
}

/// ffprobe's `-show_format -show_streams` JSON of a file.
pub fn probe_json(path: &Path) -> Value {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-show_format", "-show_streams", "-of", "json"])
        .arg(path)
        .output()
        .expect("run ffprobe");
    assert!(
        out.status.success(),
        "ffprobe {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The first stream of a type in ffprobe's JSON.
pub fn stream<'a>(json: &'a Value, codec_type: &str) -> Option<&'a Value> {
    json["streams"]
        .as_array()?
        .iter()
        .find(|s| s["codec_type"] == codec_type)
}

/// Timestamps (seconds) of the video keyframes of a file, relative to its first frame.
pub fn keyframes(path: &Path) -> Vec<f64> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-skip_frame", "nokey"])
        .args([
            "-show_entries",
            "frame=pts_time,best_effort_timestamp_time",
            "-of",
            "json",
        ])
        .arg(path)
        .output()
        .expect("run ffprobe");
    assert!(out.status.success());
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let times: Vec<f64> = json["frames"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| {
            let t = f.get("pts_time").or_else(|| f.get("best_effort_timestamp_time"))?;
            t.as_str()?.parse().ok()
        })
        .collect();
    let first = times.first().copied().unwrap_or(0.0);
    times.iter().map(|t| ((t - first) * 1000.0).round() / 1000.0).collect()
}

/// True when the first video frame of a file is a keyframe.
pub fn starts_with_keyframe(path: &Path) -> bool {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-read_intervals", "%+#1"])
        .args(["-show_entries", "frame=key_frame", "-of", "json"])
        .arg(path)
        .output()
        .expect("run ffprobe");
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    json["frames"][0]["key_frame"] == 1
}

/// PIDs of live processes whose working directory is `dir` (ffmpeg runs in the output dir).
pub fn processes_in(dir: &Path) -> Vec<u32> {
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        if std::fs::read_link(entry.path().join("cwd")).is_ok_and(|cwd| cwd == dir) {
            // A zombie has no cwd link; anything listed here is alive.
            found.push(pid);
        }
    }
    found
}

/// A named pipe nobody writes to: ffmpeg opening it blocks forever (a run that never ends).
pub fn fifo(dir: &Path) -> PathBuf {
    let path = dir.join("never.mp4");
    let status = Command::new("mkfifo").arg(&path).status().expect("mkfifo");
    assert!(status.success());
    path
}
