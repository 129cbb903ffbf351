//! The one-command transcode against real ffmpeg: the default ladder, keyframe alignment
//! across HLS renditions, mp3, flv and webm, a corrupt source, timeout and cancellation.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;
use vod_core::model::template::{TranscodeTemplate, default_ladder_templates};
use vod_media::{
    CancellationToken, EncodeOptions, Output, ProbeInfo, ProbeOutcome, ToolError, Tools, build, plan, probe, transcode,
};

const T: Duration = Duration::from_secs(120);

fn opts() -> EncodeOptions {
    EncodeOptions {
        preset: "ultrafast".into(),
        ..EncodeOptions::default()
    }
}

async fn media(tools: &Tools, file: &Path) -> ProbeInfo {
    match probe(tools, file, T).await.unwrap() {
        ProbeOutcome::Media(info) => info,
        other => panic!("{}: {other:?}", file.display()),
    }
}

fn template(v: serde_json::Value) -> TranscodeTemplate {
    TranscodeTemplate::from_json(&v, || "cd".repeat(16)).unwrap()
}

fn total_size(files: &[PathBuf]) -> u64 {
    files.iter().map(|f| std::fs::metadata(f).unwrap().len()).sum()
}

fn num(s: &str) -> f64 {
    s.parse().unwrap_or_else(|_| panic!("not a number: {s:?}"))
}

#[tokio::test]
async fn default_ladder_on_a_360p_source() {
    let Some(tools) = common::tools("default_ladder_on_a_360p_source") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let src = common::video_source(dir.path(), "src.mp4", "640x360", 4);
    let info = media(&tools, &src).await;
    let renditions = plan(&default_ladder_templates(), &info);
    let out = dir.path().join("out");
    let cmd = build(&src, &out, &renditions, &opts());
    let outputs = transcode(&tools, &cmd, T, &CancellationToken::new()).await.unwrap();
    let names: Vec<(&str, &str)> = outputs
        .iter()
        .map(|o| (o.definition.as_str(), o.format.as_str()))
        .collect();
    assert_eq!(names, [("LD", "mp4"), ("LD", "m3u8")]);
    for o in &outputs {
        assert!(o.files.iter().all(|f| f.is_file()), "{o:?}");
        assert_eq!(o.size, total_size(&o.files), "{o:?}");
        assert_eq!((o.width, o.height, o.fps.as_str()), (640, 360, "25"));
        assert!(
            (num(&o.duration) - info.duration).abs() < 0.25,
            "{} vs {}",
            o.duration,
            info.duration
        );
        assert!(num(&o.bitrate) > 0.0);
        assert_eq!((o.codec_name.as_str(), o.specification.as_str()), ("h264", "H264.LD"));
        assert_eq!((o.stream_type.as_str(), o.template_id.len()), ("video", 32));
        let audio = common::stream(&common::probe_json(&o.files[0]), "audio")
            .cloned()
            .unwrap();
        assert_eq!(
            (audio["codec_name"].as_str(), audio["sample_rate"].as_str()),
            (Some("aac"), Some("44100"))
        );
    }
    // MP4: moov before mdat (faststart).
    let mp4 = std::fs::read(&outputs[0].files[0]).unwrap();
    let at = |tag: &[u8]| mp4.windows(4).position(|w| w == tag).unwrap();
    assert!(at(b"moov") < at(b"mdat"));
    assert_eq!(outputs[0].files, [out.join("LD.mp4")]);
    // HLS: the playlist, then every segment it lists, in order, all present.
    let hls = &outputs[1];
    assert_eq!(hls.files[0], out.join("LD/index.m3u8"));
    let playlist = std::fs::read_to_string(&hls.files[0]).unwrap();
    let listed: Vec<PathBuf> = playlist
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| out.join("LD").join(l))
        .collect();
    assert_eq!(hls.files[1..], listed[..]);
    assert_eq!(hls.files[1], out.join("LD/seg-00000.ts"));
    assert!(playlist.contains("#EXT-X-PLAYLIST-TYPE:VOD") && playlist.contains("#EXT-X-ENDLIST"));
    // The mp4 and the HLS rendition come from one encoder: same keyframes.
    assert_eq!(
        common::keyframes(&outputs[0].files[0]),
        common::keyframes(&hls.files[0])
    );
    // The master playlist.
    let master = std::fs::read_to_string(cmd.master_playlist.as_ref().unwrap()).unwrap();
    assert!(master.starts_with("#EXTM3U\n"), "{master}");
    let inf = master.lines().find(|l| l.starts_with("#EXT-X-STREAM-INF:")).unwrap();
    assert!(
        inf.contains("RESOLUTION=640x360") && inf.contains("CODECS=\"avc1."),
        "{inf}"
    );
    assert!(
        inf.contains("mp4a.40.2") && inf.contains("BANDWIDTH=") && inf.contains("FRAME-RATE=25.000"),
        "{inf}"
    );
    assert!(master.lines().any(|l| l == "LD/index.m3u8"));
}

#[tokio::test]
async fn hls_keyframes_align_across_renditions() {
    let Some(tools) = common::tools("hls_keyframes_align_across_renditions") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let src = common::video_source(dir.path(), "src.mp4", "640x360", 4);
    let info = media(&tools, &src).await;
    let mut templates = Vec::new();
    for (def, height, kbps) in [("FD", 144, 150), ("LD", 240, 300), ("SD", 360, 600)] {
        for format in ["m3u8", "mp4"] {
            templates.push(template(json!({
                "Definition": def, "Container": {"Format": format},
                "Video": {"Height": height, "Bitrate": kbps}, "Audio": {"Bitrate": 64},
                "MuxConfig": {"Segment": {"Duration": 1}},
            })));
        }
    }
    let renditions = plan(&templates, &info);
    assert_eq!(renditions.len(), 6);
    let out = dir.path().join("out");
    let cmd = build(&src, &out, &renditions, &opts());
    assert_eq!(cmd.keyframe_seconds, 1);
    let outputs = transcode(&tools, &cmd, T, &CancellationToken::new()).await.unwrap();
    let hls: Vec<&Output> = outputs.iter().filter(|o| o.format == "m3u8").collect();
    assert_eq!(hls.iter().map(|o| o.height).collect::<Vec<_>>(), [144, 240, 360]);
    let reference = common::keyframes(hls[0].files[0].as_path());
    assert_eq!(reference, [0.0, 1.0, 2.0, 3.0], "a keyframe every second");
    for o in &outputs {
        assert_eq!(
            common::keyframes(&o.files[0]),
            reference,
            "{}.{}",
            o.definition,
            o.format
        );
    }
    let segments = |o: &Output| {
        std::fs::read_to_string(&o.files[0])
            .unwrap()
            .lines()
            .filter(|l| l.starts_with("#EXTINF:"))
            .map(String::from)
            .collect::<Vec<_>>()
    };
    for o in &hls {
        assert_eq!(o.files.len(), 5, "playlist + 4 segments");
        assert_eq!(segments(o), segments(hls[0]), "same cut points");
        // Every segment starts with a keyframe.
        assert!(
            o.files[1..].iter().all(|seg| common::starts_with_keyframe(seg)),
            "{o:?}"
        );
    }
    let master = std::fs::read_to_string(out.join("master.m3u8")).unwrap();
    let uris: Vec<&str> = master.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(uris, ["FD/index.m3u8", "LD/index.m3u8", "SD/index.m3u8"]);
}

#[tokio::test]
async fn audio_source_gets_mp3() {
    let Some(tools) = common::tools("audio_source_gets_mp3") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("tone.wav");
    common::ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=500:sample_rate=44100:duration=3",
        "-ac",
        "2",
        wav.to_str().unwrap(),
    ]);
    let info = media(&tools, &wav).await;
    assert!(info.is_audio_only());
    let renditions = plan(&default_ladder_templates(), &info);
    let cmd = build(&wav, &dir.path().join("out"), &renditions, &opts());
    assert!(cmd.master_playlist.is_none());
    let outputs = transcode(&tools, &cmd, T, &CancellationToken::new()).await.unwrap();
    assert_eq!(outputs.len(), 2, "PCM is above 128 Kbps: SQ and HQ");
    for (o, kbps) in outputs.iter().zip([128.0, 256.0]) {
        assert_eq!(o.files, [dir.path().join("out").join(format!("{}.mp3", o.definition))]);
        assert_eq!((o.format.as_str(), o.stream_type.as_str()), ("mp3", "audio"));
        assert_eq!((o.codec_name.as_str(), o.specification.as_str()), ("mp3", "Audio"));
        assert_eq!((o.width, o.height, o.fps.as_str()), (0, 0, "0"));
        assert!((num(&o.bitrate) - kbps).abs() < kbps * 0.1, "{} vs {kbps}", o.bitrate);
        assert!((num(&o.duration) - 3.0).abs() < 0.15, "{}", o.duration);
    }
}

#[tokio::test]
async fn flv_and_webm_templates() {
    let Some(tools) = common::tools("flv_and_webm_templates") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let src = common::video_source(dir.path(), "src.mp4", "320x240", 2);
    let info = media(&tools, &src).await;
    let templates = [
        template(json!({"Definition":"LD","Container":{"Format":"flv"},"Video":{"Height":240,"Bitrate":300}})),
        template(
            json!({"Definition":"LD","Container":{"Format":"webm"},"Video":{"Height":180,"Bitrate":200},
                        "Audio":{"Bitrate":48}}),
        ),
    ];
    let renditions = plan(&templates, &info);
    let cmd = build(&src, &dir.path().join("out"), &renditions, &opts());
    let outputs = transcode(&tools, &cmd, T, &CancellationToken::new()).await.unwrap();
    let flv = &outputs[0];
    assert_eq!(flv.files, [dir.path().join("out/LD.flv")]);
    assert_eq!((flv.codec_name.as_str(), flv.width, flv.height), ("h264", 320, 240));
    let webm = &outputs[1];
    assert_eq!(webm.files, [dir.path().join("out/LD.webm")]);
    assert_eq!(
        (webm.codec_name.as_str(), webm.specification.as_str()),
        ("vp9", "VP9.LD")
    );
    assert_eq!((webm.width, webm.height), (240, 180));
    let audio = |o: &Output| common::stream(&common::probe_json(&o.files[0]), "audio").unwrap()["codec_name"].clone();
    assert_eq!((audio(flv), audio(webm)), (json!("aac"), json!("opus")));
    for o in &outputs {
        assert!((num(&o.duration) - 2.0).abs() < 0.2, "{}: {}", o.format, o.duration);
    }
}

#[tokio::test]
async fn silent_source_and_h265_template() {
    let Some(tools) = common::tools("silent_source_and_h265_template") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("silent.mp4");
    common::ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=25",
        "-t",
        "2",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        src.to_str().unwrap(),
    ]);
    let info = media(&tools, &src).await;
    assert!(!info.has_audio);
    let mut templates = default_ladder_templates();
    templates.push(template(json!({"Definition":"SD","Container":{"Format":"mp4"},
                                   "Video":{"Codec":"H.265","Height":240,"Bitrate":200}})));
    let renditions = plan(&templates, &info);
    assert!(renditions.iter().all(|r| r.audio.is_none()));
    let out = dir.path().join("out");
    let cmd = build(&src, &out, &renditions, &opts());
    let outputs = transcode(&tools, &cmd, T, &CancellationToken::new()).await.unwrap();
    let names: Vec<(&str, &str, &str)> = outputs
        .iter()
        .map(|o| (o.definition.as_str(), o.format.as_str(), o.specification.as_str()))
        .collect();
    // The 240-line H.265 rung fits, so mp4 keeps only it; m3u8 keeps its smallest at 320x240.
    assert_eq!(names, [("LD", "m3u8", "H264.LD"), ("SD", "mp4", "H265.SD")]);
    for o in &outputs {
        assert!(common::stream(&common::probe_json(&o.files[0]), "audio").is_none());
        assert!((num(&o.duration) - 2.0).abs() < 0.2, "{}: {}", o.format, o.duration);
    }
    let hevc = common::stream(&common::probe_json(&outputs[1].files[0]), "video")
        .cloned()
        .unwrap();
    assert_eq!(
        (hevc["codec_name"].as_str(), hevc["codec_tag_string"].as_str()),
        (Some("hevc"), Some("hvc1"))
    );
    let master = std::fs::read_to_string(out.join("master.m3u8")).unwrap();
    assert!(
        master.contains("CODECS=\"avc1.") && !master.contains("mp4a"),
        "{master}"
    );
}

#[tokio::test]
async fn corrupt_source_fails_with_stderr() {
    let Some(tools) = common::tools("corrupt_source_fails_with_stderr") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let src = common::video_source(dir.path(), "src.mp4", "320x240", 2);
    let info = media(&tools, &src).await;
    // The moov box is at the end (no faststart): half the file has no index at all.
    let bytes = std::fs::read(&src).unwrap();
    let broken = dir.path().join("broken.mp4");
    std::fs::write(&broken, &bytes[..bytes.len() / 2]).unwrap();
    let out = dir.path().join("out");
    let cmd = build(&broken, &out, &plan(&default_ladder_templates(), &info), &opts());
    let err = transcode(&tools, &cmd, T, &CancellationToken::new()).await.unwrap_err();
    match &err {
        ToolError::Failed { stderr, status, .. } => {
            assert!(!status.success());
            assert!(stderr.contains("moov atom not found"), "{stderr}");
        }
        other => panic!("Failed expected, got {other:?}"),
    }
    assert!(!err.is_transient());
    assert!(
        !out.join("LD.mp4").exists() && !out.join("LD").exists(),
        "outputs removed"
    );
}

/// A command whose ffmpeg never ends (its input is a FIFO nobody writes).
async fn endless(tools: &Tools, dir: &Path) -> (vod_media::TranscodeCommand, PathBuf) {
    let src = common::video_source(dir, "src.mp4", "320x240", 1);
    let info = media(tools, &src).await;
    let out = dir.join("out");
    let cmd = build(
        &common::fifo(dir),
        &out,
        &plan(&default_ladder_templates(), &info),
        &opts(),
    );
    (cmd, out)
}

#[tokio::test]
async fn timeout_kills_ffmpeg() {
    let Some(tools) = common::tools("timeout_kills_ffmpeg") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (cmd, out) = endless(&tools, dir.path()).await;
    let watch = {
        let out = out.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(600)).await;
            common::processes_in(&out)
        })
    };
    let started = Instant::now();
    let err = transcode(&tools, &cmd, Duration::from_secs(2), &CancellationToken::new())
        .await
        .unwrap_err();
    assert!(
        matches!(err, ToolError::Timeout { after, .. } if after == Duration::from_secs(2)),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(watch.await.unwrap().len(), 1, "ffmpeg was running during the window");
    assert!(common::processes_in(&out).is_empty(), "ffmpeg is gone");
}

#[tokio::test]
async fn cancel_kills_ffmpeg() {
    let Some(tools) = common::tools("cancel_kills_ffmpeg") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (cmd, out) = endless(&tools, dir.path()).await;
    let cancel = CancellationToken::new();
    let trigger = {
        let (cancel, out) = (cancel.clone(), out.clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(600)).await;
            let running = common::processes_in(&out);
            cancel.cancel();
            running
        })
    };
    let err = transcode(&tools, &cmd, T, &cancel).await.unwrap_err();
    assert!(matches!(err, ToolError::Cancelled), "{err:?}");
    assert_eq!(trigger.await.unwrap().len(), 1, "ffmpeg was running before the cancel");
    assert!(common::processes_in(&out).is_empty(), "ffmpeg is gone");
}
