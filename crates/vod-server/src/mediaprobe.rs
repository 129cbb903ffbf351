//! The media probe: `ffprobe -v error -show_format -show_streams -of json FILE` under a
//! time limit. Used by URL pulls to refuse files that are not audio or video; the
//! processing issue extends it (stream details for GetMezzanineInfo).

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

/// What the probe found.
#[derive(Debug, Clone, PartialEq)]
pub enum Probe {
    /// ffprobe read a container with at least one audio or video stream; its JSON output.
    Media(Value),
    /// ffprobe could not read the file as media (or found no audio/video stream); why.
    NotMedia(String),
}

/// Runs the probe. `Err` when it could not run (program missing, timeout): transient.
pub async fn probe_file(program: &str, file: &Path, timeout: Duration) -> Result<Probe, String> {
    let child = tokio::process::Command::new(program)
        .args(["-v", "error", "-show_format", "-show_streams", "-of", "json"])
        .arg(file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    let out = tokio::time::timeout(timeout, child.wait_with_output())
        .await
        .map_err(|_| format!("{program} took longer than {}s", timeout.as_secs()))?
        .map_err(|e| format!("{program} failed: {e}"))?;
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    if !out.status.success() {
        return Ok(Probe::NotMedia(if stderr.is_empty() {
            format!("ffprobe exited with {}", out.status)
        } else {
            stderr
        }));
    }
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    let has_av = json.get("streams").and_then(Value::as_array).is_some_and(|streams| {
        streams
            .iter()
            .any(|s| matches!(s.get("codec_type").and_then(Value::as_str), Some("audio" | "video")))
    });
    if has_av {
        Ok(Probe::Media(json))
    } else {
        Ok(Probe::NotMedia("no audio or video stream found".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn text_is_not_media_and_missing_program_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("x.mp4");
        std::fs::write(&f, b"hello, this is not a video").unwrap();
        assert!(
            probe_file("/nonexistent/ffprobe", &f, Duration::from_secs(5))
                .await
                .is_err()
        );
        if std::process::Command::new("ffprobe").arg("-version").output().is_ok() {
            let r = probe_file("ffprobe", &f, Duration::from_secs(20)).await.unwrap();
            assert!(matches!(r, Probe::NotMedia(_)), "{r:?}");
        }
    }
}
