//! Ladder planning (pure): which renditions, at which size, rate and bitrate; and the shape
//! of the command built for them (encoder sharing, keyframe interval, names).

use std::path::Path;

use serde_json::json;
use vod_core::model::template::{TranscodeTemplate, default_ladder_templates};
use vod_media::{AudioCodec, EncodeOptions, ProbeInfo, Rendition, build, plan};

fn source(width: u32, height: u32, fps: f64, video_kbps: Option<f64>, audio_kbps: Option<f64>) -> ProbeInfo {
    ProbeInfo {
        duration: 10.0,
        size: 1_000_000,
        bitrate: "1000".into(),
        fps: fps.to_string(),
        frame_rate: fps,
        width,
        height,
        rotation: 0,
        format_name: "mov,mp4,m4a,3gp,3g2,mj2".into(),
        has_video: width > 0,
        has_audio: audio_kbps.is_some(),
        video_codec: if width > 0 { "h264".into() } else { String::new() },
        audio_codec: if audio_kbps.is_some() {
            "aac".into()
        } else {
            String::new()
        },
        video_bitrate_kbps: video_kbps,
        audio_bitrate_kbps: audio_kbps,
        video_streams: Vec::new(),
        audio_streams: Vec::new(),
    }
}

fn audio_source(kbps: Option<f64>) -> ProbeInfo {
    let mut s = source(0, 0, 0.0, None, Some(128.0));
    s.audio_bitrate_kbps = kbps;
    s
}

fn template(v: serde_json::Value) -> TranscodeTemplate {
    TranscodeTemplate::from_json(&v, || "ab".repeat(16)).unwrap()
}

fn sizes(r: &[Rendition]) -> Vec<(String, String, u32, u32)> {
    r.iter()
        .map(|r| {
            let v = r.video.as_ref().unwrap();
            (r.definition.clone(), r.format.clone(), v.width, v.height)
        })
        .collect()
}

fn row(def: &str, format: &str, w: u32, h: u32) -> (String, String, u32, u32) {
    (def.into(), format.into(), w, h)
}

#[test]
fn never_upscale_keeps_the_rungs_that_fit() {
    let r = plan(
        &default_ladder_templates(),
        &source(1280, 720, 25.0, Some(5000.0), Some(128.0)),
    );
    assert_eq!(
        sizes(&r),
        [
            row("LD", "mp4", 854, 480),
            row("LD", "m3u8", 854, 480),
            row("SD", "mp4", 1280, 720),
            row("SD", "m3u8", 1280, 720)
        ]
    );
    let full = plan(
        &default_ladder_templates(),
        &source(1920, 1080, 30.0, Some(8000.0), Some(128.0)),
    );
    assert_eq!(full.len(), 6, "{full:?}");
    assert!(
        full.iter()
            .all(|r| r.audio.as_ref().is_some_and(|a| a.codec == AudioCodec::Aac))
    );
    assert_eq!(full[5].video.as_ref().unwrap().bitrate_kbps, Some(3500));
    assert_eq!(full[1].segment_seconds, Some(6));
}

#[test]
fn small_source_keeps_the_smallest_rung_at_its_own_size() {
    let r = plan(
        &default_ladder_templates(),
        &source(640, 360, 25.0, Some(600.0), Some(96.0)),
    );
    assert_eq!(sizes(&r), [row("LD", "mp4", 640, 360), row("LD", "m3u8", 640, 360)]);
    // 900 Kbps asked, the source has 600: capped at 1.2 × 600.
    assert_eq!(r[0].video.as_ref().unwrap().bitrate_kbps, Some(720));
    // Odd sizes become even, never above the source.
    let r = plan(&default_ladder_templates(), &source(321, 241, 25.0, None, None));
    assert_eq!(sizes(&r), [row("LD", "mp4", 320, 240), row("LD", "m3u8", 320, 240)]);
    assert!(
        r.iter().all(|r| r.audio.is_none()),
        "a source without sound gets no audio"
    );
    assert_eq!(
        r[0].video.as_ref().unwrap().bitrate_kbps,
        Some(900),
        "unknown source bitrate: no cap"
    );
}

#[test]
fn portrait_compares_short_sides() {
    let r = plan(
        &default_ladder_templates(),
        &source(1080, 1920, 30.0, None, Some(128.0)),
    );
    assert_eq!(
        sizes(&r).into_iter().step_by(2).collect::<Vec<_>>(),
        [
            row("LD", "mp4", 480, 854),
            row("SD", "mp4", 720, 1280),
            row("HD", "mp4", 1080, 1920)
        ]
    );
    let r = plan(&default_ladder_templates(), &source(720, 1280, 30.0, None, Some(128.0)));
    assert_eq!(r.len(), 4, "HD (1080 short side) is an upscale of 720x1280: {r:?}");
}

#[test]
fn box_fit_width_only_fps_and_crf() {
    let templates = [
        template(json!({"Definition":"SD","Container":{"Format":"mp4"},"Video":{"Width":640,"Height":640,"Fps":60}})),
        template(json!({"Definition":"LD","Container":{"Format":"mp4"},"Video":{"Width":426,"Fps":15,"Crf":28}})),
    ];
    let r = plan(&templates, &source(1920, 1080, 25.0, Some(2000.0), None));
    assert_eq!(sizes(&r), [row("SD", "mp4", 640, 360), row("LD", "mp4", 426, 240)]);
    let (sd, ld) = (r[0].video.as_ref().unwrap(), r[1].video.as_ref().unwrap());
    assert_eq!((sd.frame_rate, sd.resample_fps), (25.0, false), "fps is a cap");
    assert_eq!((ld.frame_rate, ld.resample_fps), (15.0, true));
    assert_eq!((sd.crf, sd.max_kbps), (Some(23), Some(2400)), "CRF by default, capped");
    assert_eq!((ld.crf, ld.bitrate_kbps), (Some(28), None));
}

#[test]
fn audio_only_source_gets_audio_rungs_and_skips_a_useless_hq() {
    let ladder = default_ladder_templates();
    let defs = |r: &[Rendition]| r.iter().map(|r| r.definition.clone()).collect::<Vec<_>>();
    assert_eq!(defs(&plan(&ladder, &audio_source(Some(320.0)))), ["SQ", "HQ"]);
    assert_eq!(
        defs(&plan(&ladder, &audio_source(None))),
        ["SQ", "HQ"],
        "unknown bitrate: keep HQ"
    );
    let r = plan(&ladder, &audio_source(Some(128.0)));
    assert_eq!(defs(&r), ["SQ"]);
    assert_eq!((r[0].format.as_str(), r[0].stream_type()), ("mp3", "audio"));
    let a = r[0].audio.as_ref().unwrap();
    assert_eq!((a.codec, a.bitrate_kbps), (AudioCodec::Mp3, 128));
}

#[test]
fn audio_only_source_without_audio_templates_gets_one_sq_mp3() {
    let only_video = [template(
        json!({"Definition":"LD","Container":{"Format":"mp4"},"Video":{"Height":480}}),
    )];
    let r = plan(&only_video, &audio_source(Some(320.0)));
    assert_eq!(r.len(), 1);
    assert_eq!(
        (
            r[0].definition.as_str(),
            r[0].format.as_str(),
            r[0].template_id.as_str()
        ),
        ("SQ", "mp3", "")
    );
    assert_eq!(r[0].audio.as_ref().unwrap().bitrate_kbps, 128);
    // A video source with only audio templates: its sound, rather than nothing.
    let only_audio = [template(json!({"Definition":"SQ","Container":{"Format":"mp3"}}))];
    let r = plan(&only_audio, &source(640, 360, 25.0, None, Some(128.0)));
    assert_eq!((r.len(), r[0].stream_type()), (1, "audio"));
    assert!(plan(&only_audio, &source(640, 360, 25.0, None, None)).is_empty());
}

#[test]
fn build_shares_encoders_and_names_outputs() {
    let r = plan(
        &default_ladder_templates(),
        &source(1920, 1080, 30.0, Some(8000.0), Some(128.0)),
    );
    let cmd = build(
        Path::new("/tmp/src.mp4"),
        Path::new("/tmp/out"),
        &r,
        &EncodeOptions::default(),
    );
    let args: Vec<String> = cmd.args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    let count = |s: &str| args.iter().filter(|a| *a == s).count();
    assert_eq!(count("libx264"), 3, "one encoder per size: {args:?}");
    assert_eq!(count("aac"), 1, "one audio encoder for all");
    assert_eq!(count("veryfast"), 3);
    assert_eq!(cmd.keyframe_seconds, 6);
    assert!(args.contains(&"expr:gte(t,n_forced*6)".to_string()));
    assert!(args.contains(&"180".to_string()), "GOP = 30 fps × 6 s");
    let tee = args.last().unwrap();
    assert_eq!(tee.matches('|').count(), 5, "{tee}");
    assert!(
        tee.contains("[f=mp4:movflags=+faststart:select=\\'v:0,a:0\\']LD.mp4"),
        "{tee}"
    );
    assert!(
        tee.contains("hls_segment_filename=HD/seg-%05d.ts:select=\\'v:2,a:0\\']HD/index.m3u8"),
        "{tee}"
    );
    assert_eq!(cmd.args[1], "file:/tmp/src.mp4");
    let mains: Vec<String> = cmd.outputs.iter().map(|o| o.main.display().to_string()).collect();
    assert_eq!(mains[0], "/tmp/out/LD.mp4");
    assert_eq!(mains[1], "/tmp/out/LD/index.m3u8");
    assert_eq!(cmd.master_playlist.as_deref(), Some(Path::new("/tmp/out/master.m3u8")));
    assert!(
        cmd.command_line()
            .starts_with("ffmpeg -nostdin -hide_banner -loglevel error -y -i file:/tmp/src.mp4")
    );

    // Two renditions with the same definition and format get distinct names; segment
    // lengths 4 and 6 give keyframes every 2 s.
    let templates = [
        template(
            json!({"Definition":"LD","Container":{"Format":"m3u8"},"Video":{"Height":240},
                        "MuxConfig":{"Segment":{"Duration":4}},"TranscodeTemplateId":"a1"}),
        ),
        template(
            json!({"Definition":"LD","Container":{"Format":"m3u8"},"Video":{"Height":240,"Bitrate":300},
                        "TranscodeTemplateId":"b2"}),
        ),
    ];
    let r = plan(&templates, &source(320, 240, 25.0, None, Some(64.0)));
    let cmd = build(Path::new("s.mp4"), Path::new("/o"), &r, &EncodeOptions::default());
    assert_eq!(cmd.keyframe_seconds, 2);
    assert_eq!(cmd.outputs[0].main, Path::new("/o/LD-a1/index.m3u8"));
    assert_eq!(cmd.outputs[1].main, Path::new("/o/LD-b2/index.m3u8"));
    assert_eq!(cmd.outputs[1].segment_seconds, Some(6));
}
