//! The probe against real ffprobe: figures and Alibaba stream fields of a small lavfi source,
//! rotation, cover art, and files that are not media.

mod common;

use std::time::Duration;

use serde_json::Value;
use vod_media::{ProbeOutcome, ToolError, Tools, probe};

const T: Duration = Duration::from_secs(30);

const VIDEO_KEYS: &[&str] = &[
    "Index",
    "CodecName",
    "CodecLongName",
    "Profile",
    "CodecTimeBase",
    "CodecTagString",
    "CodecTag",
    "Width",
    "Height",
    "HasBFrames",
    "Sar",
    "Dar",
    "PixFmt",
    "Level",
    "Fps",
    "AvgFPS",
    "Timebase",
    "StartTime",
    "Duration",
    "NumFrames",
    "Lang",
    "Rotate",
    "Bitrate",
    "HDRType",
];
const AUDIO_KEYS: &[&str] = &[
    "Index",
    "CodecName",
    "CodecLongName",
    "CodecTimeBase",
    "CodecTagString",
    "CodecTag",
    "SampleFmt",
    "SampleRate",
    "Channels",
    "ChannelLayout",
    "Timebase",
    "StartTime",
    "Duration",
    "Bitrate",
    "Lang",
    "NumFrames",
];

fn keys(v: &Value) -> Vec<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

#[tokio::test]
async fn video_fields_and_types() {
    let Some(tools) = common::tools("video_fields_and_types") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let src = common::video_source(dir.path(), "src.mp4", "320x240", 3);
    let ProbeOutcome::Media(info) = probe(&tools, &src, T).await.unwrap() else {
        panic!("media expected")
    };
    assert!((info.duration - 3.0).abs() < 0.1, "{}", info.duration);
    assert_eq!(info.size, std::fs::metadata(&src).unwrap().len());
    assert!(info.bitrate.parse::<f64>().unwrap() > 0.0, "{}", info.bitrate);
    assert_eq!((info.fps.as_str(), info.frame_rate), ("25", 25.0));
    assert_eq!((info.width, info.height, info.rotation), (320, 240, 0));
    assert!(info.format_name.contains("mp4"), "{}", info.format_name);
    assert!(info.has_video && info.has_audio && !info.is_audio_only());
    assert_eq!((info.video_codec.as_str(), info.audio_codec.as_str()), ("h264", "aac"));
    assert!(info.video_bitrate_kbps.unwrap() > 0.0);
    let audio_kbps = info.audio_bitrate_kbps.unwrap();
    assert!((60.0..140.0).contains(&audio_kbps), "{audio_kbps}");

    assert_eq!(info.video_streams.len(), 1);
    let v = &info.video_streams[0];
    assert_eq!(keys(v), VIDEO_KEYS);
    assert!(v.as_object().unwrap().values().all(Value::is_string), "{v}");
    assert_eq!(v["Index"], "0");
    assert_eq!(v["CodecName"], "h264");
    assert_eq!((v["Width"].as_str(), v["Height"].as_str()), (Some("320"), Some("240")));
    assert_eq!((v["Fps"].as_str(), v["AvgFPS"].as_str()), (Some("25"), Some("25")));
    assert_eq!(v["CodecTimeBase"], "1/25");
    assert_eq!(v["PixFmt"], "yuv420p");
    assert_eq!(v["NumFrames"], "75");
    assert_eq!(v["Rotate"], "0");
    assert!(v["Bitrate"].as_str().unwrap().parse::<f64>().unwrap() > 0.0);

    assert_eq!(info.audio_streams.len(), 1);
    let a = &info.audio_streams[0];
    assert_eq!(keys(a), AUDIO_KEYS);
    assert!(a.as_object().unwrap().values().all(Value::is_string), "{a}");
    assert_eq!(
        (a["CodecName"].as_str(), a["SampleRate"].as_str()),
        (Some("aac"), Some("44100"))
    );
    assert_eq!(
        (a["Channels"].as_str(), a["CodecTimeBase"].as_str()),
        (Some("1"), Some("1/44100"))
    );
}

#[tokio::test]
async fn rotated_source_reports_display_size() {
    let Some(tools) = common::tools("rotated_source_reports_display_size") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let src = common::video_source(dir.path(), "src.mp4", "320x240", 2);
    let rotated = dir.path().join("rotated.mp4");
    common::ffmpeg(&[
        "-i",
        src.to_str().unwrap(),
        "-c",
        "copy",
        "-metadata:s:v:0",
        "rotate=90",
        rotated.to_str().unwrap(),
    ]);
    let ProbeOutcome::Media(info) = probe(&tools, &rotated, T).await.unwrap() else {
        panic!("media expected")
    };
    assert_eq!((info.width, info.height), (240, 320));
    assert!(info.rotation == 90 || info.rotation == 270, "{}", info.rotation);
    assert_eq!(info.video_streams[0]["Rotate"], info.rotation.to_string());
    assert_eq!(info.video_streams[0]["Width"], "320");
}

#[tokio::test]
async fn mp3_with_cover_art_is_audio_only() {
    let Some(tools) = common::tools("mp3_with_cover_art_is_audio_only") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cover = dir.path().join("cover.png");
    common::ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=200x200",
        "-frames:v",
        "1",
        cover.to_str().unwrap(),
    ]);
    let mp3 = dir.path().join("song.mp3");
    common::ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=330:sample_rate=44100:duration=2",
        "-i",
        cover.to_str().unwrap(),
        "-map",
        "0:a",
        "-map",
        "1:v",
        "-c:a",
        "libmp3lame",
        "-b:a",
        "192k",
        "-c:v",
        "png",
        "-disposition:v",
        "attached_pic",
        "-id3v2_version",
        "3",
        mp3.to_str().unwrap(),
    ]);
    let ProbeOutcome::Media(info) = probe(&tools, &mp3, T).await.unwrap() else {
        panic!("media expected")
    };
    assert!(info.is_audio_only(), "{info:?}");
    assert!(info.video_streams.is_empty());
    assert_eq!((info.width, info.height, info.fps.as_str()), (0, 0, ""));
    assert_eq!(info.audio_streams[0]["CodecName"], "mp3");
    assert!((info.audio_bitrate_kbps.unwrap() - 192.0).abs() < 1.0);
}

#[tokio::test]
async fn random_bytes_text_and_empty_files_are_not_media() {
    let Some(tools) = common::tools("random_bytes_text_and_empty_files_are_not_media") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    // A deterministic generator: the same "random" files on every run.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    for (i, ext) in ["bin", "mp3", "mp4", "ts", "", "bin", "mp3"].iter().enumerate() {
        let len = 1000 + i * 60_000;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect();
        let path = dir.path().join(format!("random{i}.{ext}"));
        std::fs::write(&path, bytes).unwrap();
        files.push(path);
    }
    let empty = dir.path().join("empty.mp4");
    std::fs::write(&empty, b"").unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "hello, this is not a video\n".repeat(100)).unwrap();
    files.extend([empty, text]);
    for f in &files {
        let outcome = probe(&tools, f, T).await.unwrap();
        assert!(
            matches!(outcome, ProbeOutcome::NotMedia(_)),
            "{}: {outcome:?}",
            f.display()
        );
    }
}

#[tokio::test]
async fn missing_program_or_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("x.mp4");
    std::fs::write(&f, b"whatever").unwrap();
    let none = Tools::new("/nonexistent/ffmpeg", "/nonexistent/ffprobe");
    let err = probe(&none, &f, T).await.unwrap_err();
    assert!(
        matches!(err, ToolError::NotFound { .. }) && err.is_transient(),
        "{err:?}"
    );
    let err = probe(&Tools::default(), &dir.path().join("absent.mp4"), T)
        .await
        .unwrap_err();
    assert!(matches!(err, ToolError::Input(_)), "{err:?}");
}
