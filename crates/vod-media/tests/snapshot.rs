//! Snapshots against real ffmpeg: the cover, a sized series, clamping at the end, names.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use vod_media::{CancellationToken, SnapshotSpec, ToolError, snapshot_file_name, snapshots};

const T: Duration = Duration::from_secs(60);

/// (codec, width, height) of an image.
fn image(path: &Path) -> (String, u64, u64) {
    let json = common::probe_json(path);
    let v = common::stream(&json, "video").unwrap();
    (
        v["codec_name"].as_str().unwrap().to_string(),
        v["width"].as_u64().unwrap(),
        v["height"].as_u64().unwrap(),
    )
}

fn names(files: &[PathBuf]) -> Vec<String> {
    files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

#[tokio::test]
async fn cover_and_sized_series() {
    let Some(tools) = common::tools("cover_and_sized_series") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let src = common::video_source(dir.path(), "src.mp4", "320x240", 3);
    let out = dir.path().join("snaps");
    let cancel = CancellationToken::new();

    let cover = SnapshotSpec {
        offset_ms: 1000,
        prefix: "cover".into(),
        ..SnapshotSpec::default()
    };
    let files = snapshots(&tools, &src, &out, &cover, T, &cancel).await.unwrap();
    assert_eq!(names(&files), ["cover-00001.jpg"]);
    assert_eq!(image(&files[0]), ("mjpeg".into(), 320, 240));

    let series = SnapshotSpec {
        offset_ms: 0,
        count: 3,
        interval_ms: 1000,
        width: Some(160),
        height: None,
        prefix: "normal".into(),
    };
    let files = snapshots(&tools, &src, &out, &series, T, &cancel).await.unwrap();
    assert_eq!(
        names(&files),
        ["normal-00001.jpg", "normal-00002.jpg", "normal-00003.jpg"]
    );
    assert_eq!(snapshot_file_name("normal", 12), "normal-00012.jpg");
    for f in &files {
        assert_eq!(image(f), ("mjpeg".into(), 160, 120));
    }
    // Different times, different pictures (testsrc2 moves).
    let bytes: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    assert!(bytes[0] != bytes[1] && bytes[1] != bytes[2]);

    let exact = SnapshotSpec {
        width: Some(100),
        height: Some(100),
        prefix: "square".into(),
        ..SnapshotSpec::default()
    };
    let files = snapshots(&tools, &src, &out, &exact, T, &cancel).await.unwrap();
    assert_eq!(image(&files[0]), ("mjpeg".into(), 100, 100));
}

#[tokio::test]
async fn times_past_the_end_are_clamped() {
    let Some(tools) = common::tools("times_past_the_end_are_clamped") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let src = common::video_source(dir.path(), "src.mp4", "320x240", 2);
    let out = dir.path().join("snaps");
    let cancel = CancellationToken::new();
    // 1 s, 2 s (past the end: the last frame), 3 s, 4 s: four images, the last three equal.
    let spec = SnapshotSpec {
        offset_ms: 1000,
        count: 4,
        interval_ms: 1000,
        prefix: "s".into(),
        ..SnapshotSpec::default()
    };
    let files = snapshots(&tools, &src, &out, &spec, T, &cancel).await.unwrap();
    assert_eq!(files.len(), 4);
    assert!(files.iter().all(|f| image(f).0 == "mjpeg"));
    let bytes: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    assert!(bytes[0] != bytes[1], "1 s and the last frame differ");
    assert!(
        bytes[1] == bytes[2] && bytes[2] == bytes[3],
        "2 s, 3 s and 4 s are the last frame"
    );
    // A cover asked for at 10 s of a 2 s source: the last frame.
    let late = SnapshotSpec {
        offset_ms: 10_000,
        prefix: "late".into(),
        ..SnapshotSpec::default()
    };
    let files = snapshots(&tools, &src, &out, &late, T, &cancel).await.unwrap();
    assert_eq!(image(&files[0]), ("mjpeg".into(), 320, 240));
    assert!(std::fs::read(&files[0]).unwrap() == bytes[3], "the same last frame");
    let left: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into())
        .collect();
    assert_eq!(left.len(), 5, "no temporary file left: {left:?}");
}

#[tokio::test]
async fn audio_source_has_nothing_to_snapshot() {
    let Some(tools) = common::tools("audio_source_has_nothing_to_snapshot") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("tone.wav");
    common::ffmpeg(&["-f", "lavfi", "-i", "sine=duration=1", wav.to_str().unwrap()]);
    let err = snapshots(
        &tools,
        &wav,
        dir.path(),
        &SnapshotSpec::default(),
        T,
        &CancellationToken::new(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ToolError::Input(_)), "{err:?}");
    let bad = SnapshotSpec {
        prefix: "a/b".into(),
        ..SnapshotSpec::default()
    };
    let err = snapshots(&tools, &wav, dir.path(), &bad, T, &CancellationToken::new())
        .await
        .unwrap_err();
    assert!(matches!(err, ToolError::Input(_)), "{err:?}");
}
