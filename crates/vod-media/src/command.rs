//! The one-command transcode: turns planned renditions into a single ffmpeg invocation
//! ([`build`]) that decodes the source once and encodes each distinct encoding once.
//!
//! Shape of the command (run with the output directory as working directory):
//! * `-filter_complex`: the first non-cover video stream is `split` into one branch per
//!   distinct video encoding, each `[fps=R,]scale=W:H,format=yuv420p`.
//! * One output stream per distinct video encoding (`v:0`, `v:1`, ...) and per distinct audio
//!   encoding (`a:0`, ... all from the first audio stream): renditions that differ only by
//!   container (LD mp4 and LD m3u8 of the default ladder) share one encoder, and all
//!   renditions with the same audio settings share one audio encoder.
//! * One `tee` output whose slaves are the renditions, each picking its streams with
//!   `select` (`[f=mp4:movflags=+faststart:select='v:0,a:0']LD.mp4|[f=hls:...]LD/index.m3u8`),
//!   so each encoded packet is muxed into every container that wants it. Encoders get
//!   `-flags +global_header`: mp4/flv/webm take the headers from extradata, the MPEG-TS muxer
//!   repeats SPS/PPS in front of every keyframe, so each segment decodes on its own.
//! * Keyframes: every K seconds exactly, in every video encoding (`-force_key_frames
//!   expr:gte(t,n_forced*K)`, `-g`/`-keyint_min` = fps × K, no scene-cut keyframes, closed
//!   GOPs, no B-pyramid), where K is the greatest common divisor of the HLS renditions'
//!   segment lengths (default 6 s): segments of all renditions cut at the same instants.
//!
//! Output layout in the output directory (`<stem>` is the definition, or
//! `<definition>-<template id>` when two renditions share definition and format):
//! `<stem>.mp4`, `<stem>.flv`, `<stem>.webm`, `<stem>.mp3`; HLS: `<stem>/index.m3u8` and
//! `<stem>/seg-00000.ts`, `seg-00001.ts`, ...; `master.m3u8` (written by `transcode`) lists
//! the HLS renditions as `<stem>/index.m3u8`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::ladder::{AudioCodec, AudioPlan, Rendition, VideoCodec, VideoPlan};
use crate::probe::input_arg;

/// Name of the master playlist in the output directory.
pub const MASTER_PLAYLIST: &str = "master.m3u8";
/// Name of each HLS rendition's playlist inside its directory.
pub const HLS_PLAYLIST: &str = "index.m3u8";
/// Segment names inside an HLS rendition's directory (`seg-00000.ts`, ...).
pub const HLS_SEGMENT_PATTERN: &str = "seg-%05d.ts";

/// Encoder settings that are not in the templates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodeOptions {
    /// libx264/libx265 preset (`ultrafast` ... `veryslow`).
    pub preset: String,
    /// Threads per encoder; 0 lets each encoder decide.
    pub threads: u32,
    /// HLS segment length when a template gives none, seconds.
    pub segment_seconds_default: u32,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        Self {
            preset: "veryfast".into(),
            threads: 0,
            segment_seconds_default: 6,
        }
    }
}

/// What one rendition will write.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedOutput {
    pub rendition: Rendition,
    /// The playable file: `<out_dir>/<stem>.<format>`, or the HLS playlist
    /// `<out_dir>/<stem>/index.m3u8` (segments beside it).
    pub main: PathBuf,
    /// HLS: the rendition's directory; `None` for single-file formats.
    pub segment_dir: Option<PathBuf>,
    /// HLS: segment length, seconds.
    pub segment_seconds: Option<u32>,
}

/// A built command: run it with [`crate::transcode`].
#[derive(Debug, Clone, PartialEq)]
pub struct TranscodeCommand {
    /// ffmpeg's arguments after the common ones (`-nostdin -hide_banner -loglevel error -y`).
    pub args: Vec<OsString>,
    /// The output directory; ffmpeg runs in it (output names in `args` are relative).
    pub out_dir: PathBuf,
    /// One per rendition, in rendition order.
    pub outputs: Vec<PlannedOutput>,
    /// `<out_dir>/master.m3u8` when there is an HLS rendition.
    pub master_playlist: Option<PathBuf>,
    /// Seconds between keyframes in every video encoding.
    pub keyframe_seconds: u32,
}

impl TranscodeCommand {
    /// The command line as text (for logs and the bench; not shell-quoted).
    pub fn command_line(&self) -> String {
        let mut line = String::from("ffmpeg");
        for a in crate::tools::FFMPEG_BASE_ARGS {
            line.push(' ');
            line.push_str(a);
        }
        for a in &self.args {
            line.push(' ');
            line.push_str(&a.to_string_lossy());
        }
        line
    }
}

/// Builds the single ffmpeg command producing `renditions` from `source` into `out_dir`.
/// Pure: nothing is run or created.
pub fn build(source: &Path, out_dir: &Path, renditions: &[Rendition], opts: &EncodeOptions) -> TranscodeCommand {
    let default_seg = opts.segment_seconds_default.max(1);
    let seg_of = |r: &Rendition| r.segment_seconds.unwrap_or(default_seg).max(1);
    let keyframe_seconds = renditions
        .iter()
        .filter(|r| r.format == "m3u8")
        .map(seg_of)
        .reduce(gcd)
        .unwrap_or(default_seg);

    // Distinct encodings, in first-use order.
    let mut videos: Vec<&VideoPlan> = Vec::new();
    let mut audios: Vec<AudioPlan> = Vec::new();
    let mut picks: Vec<(Option<usize>, Option<usize>)> = Vec::new();
    for r in renditions {
        let v = r.video.as_ref().map(|plan| index_of(&mut videos, plan));
        let a = r
            .audio
            .as_ref()
            .map(|plan| index_of(&mut audios, normalise_audio(plan, &r.format)));
        picks.push((v, a));
    }

    let mut args: Vec<OsString> = vec!["-i".into(), input_arg(source)];
    if !videos.is_empty() {
        push(&mut args, ["-filter_complex".to_string(), filter_graph(&videos)]);
    }
    for i in 0..videos.len() {
        push(&mut args, ["-map".to_string(), format!("[v{i}]")]);
    }
    for _ in &audios {
        push(&mut args, ["-map", "0:a:0"]);
    }
    for (i, v) in videos.iter().enumerate() {
        let hvc1 = renditions
            .iter()
            .zip(&picks)
            .any(|(r, p)| p.0 == Some(i) && r.format == "mp4");
        push(&mut args, video_args(i, v, keyframe_seconds, opts, hvc1));
    }
    for (j, a) in audios.iter().enumerate() {
        push(&mut args, audio_args(j, a));
    }
    push(
        &mut args,
        ["-flags", "+global_header", "-max_muxing_queue_size", "4096"],
    );

    let stems = stems(renditions);
    let mut slaves = Vec::new();
    let mut outputs = Vec::new();
    for ((r, (v, a)), stem) in renditions.iter().zip(&picks).zip(&stems) {
        let select: Vec<String> = v
            .iter()
            .map(|i| format!("v:{i}"))
            .chain(a.iter().map(|j| format!("a:{j}")))
            .collect();
        let select = format!("select=\\'{}\\'", select.join(","));
        let (spec, main, segment_dir, segment_seconds) = match r.format.as_str() {
            "m3u8" => {
                let seg = seg_of(r);
                let spec = format!(
                    "[f=hls:hls_time={seg}:hls_playlist_type=vod:hls_segment_type=mpegts:\
                     hls_flags=independent_segments:hls_segment_filename={stem}/{HLS_SEGMENT_PATTERN}:{select}]\
                     {stem}/{HLS_PLAYLIST}"
                );
                let dir = out_dir.join(stem);
                (spec, dir.join(HLS_PLAYLIST), Some(dir), Some(seg))
            }
            "mp4" => (
                format!("[f=mp4:movflags=+faststart:{select}]{stem}.mp4"),
                out_dir.join(format!("{stem}.mp4")),
                None,
                None,
            ),
            other => (
                format!("[f={other}:{select}]{stem}.{other}"),
                out_dir.join(format!("{stem}.{other}")),
                None,
                None,
            ),
        };
        slaves.push(spec);
        outputs.push(PlannedOutput {
            rendition: r.clone(),
            main,
            segment_dir,
            segment_seconds,
        });
    }
    push(&mut args, ["-f".to_string(), "tee".to_string(), slaves.join("|")]);
    let has_hls = renditions.iter().any(|r| r.format == "m3u8");
    TranscodeCommand {
        args,
        out_dir: out_dir.to_path_buf(),
        outputs,
        master_playlist: has_hls.then(|| out_dir.join(MASTER_PLAYLIST)),
        keyframe_seconds,
    }
}

fn push<S: Into<OsString>>(args: &mut Vec<OsString>, items: impl IntoIterator<Item = S>) {
    args.extend(items.into_iter().map(Into::into));
}

fn index_of<T: PartialEq>(list: &mut Vec<T>, item: T) -> usize {
    match list.iter().position(|x| *x == item) {
        Some(i) => i,
        None => {
            list.push(item);
            list.len() - 1
        }
    }
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// File stems: the definition, or `<definition>-<template id>` when another rendition has
/// the same definition and format (`-<n>` when even that repeats).
fn stems(renditions: &[Rendition]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (i, r) in renditions.iter().enumerate() {
        let clash = renditions
            .iter()
            .enumerate()
            .any(|(k, o)| k != i && o.definition == r.definition && o.format == r.format);
        let mut stem = if clash && !r.template_id.is_empty() {
            format!("{}-{}", r.definition, r.template_id)
        } else {
            r.definition.clone()
        };
        if out
            .iter()
            .zip(renditions)
            .any(|(s, o)| *s == stem && o.format == r.format)
        {
            stem = format!("{}-{i}", r.definition);
        }
        out.push(stem);
    }
    out
}

/// The audio encoding as it will really run: Opus only takes 48 kHz here, FLV's MP3 only
/// 44.1/22.05/11.025 kHz.
fn normalise_audio(plan: &AudioPlan, format: &str) -> AudioPlan {
    let mut plan = plan.clone();
    match plan.codec {
        AudioCodec::Opus => plan.samplerate = Some(48_000),
        AudioCodec::Mp3 if format == "flv" && !matches!(plan.samplerate, Some(44_100 | 22_050 | 11_025)) => {
            plan.samplerate = Some(44_100)
        }
        _ => {}
    }
    plan
}

fn filter_graph(videos: &[&VideoPlan]) -> String {
    let chain = |v: &VideoPlan| {
        let fps = if v.resample_fps && v.frame_rate > 0.0 {
            format!("fps={},", crate::fields::decimal(v.frame_rate, 3))
        } else {
            String::new()
        };
        format!("{fps}scale={}:{},format=yuv420p", v.width, v.height)
    };
    if videos.len() == 1 {
        return format!("[0:V:0]{}[v0]", chain(videos[0]));
    }
    let mut graph = format!("[0:V:0]split={}", videos.len());
    for i in 0..videos.len() {
        graph.push_str(&format!("[s{i}]"));
    }
    for (i, v) in videos.iter().enumerate() {
        graph.push_str(&format!(";[s{i}]{}[v{i}]", chain(v)));
    }
    graph
}

fn video_args(i: usize, v: &VideoPlan, keyframe_seconds: u32, opts: &EncodeOptions, hvc1: bool) -> Vec<String> {
    let s = |name: &str| format!("-{name}:v:{i}");
    let rate = if v.frame_rate > 0.0 { v.frame_rate } else { 25.0 };
    let gop = ((rate * keyframe_seconds as f64).round() as u32).max(1).to_string();
    let mut a: Vec<String> = Vec::new();
    let mut opt = |name: &str, value: String| {
        a.push(s(name));
        a.push(value);
    };
    match v.codec {
        VideoCodec::H264 | VideoCodec::H265 => {
            let h264 = v.codec == VideoCodec::H264;
            opt("c", if h264 { "libx264" } else { "libx265" }.into());
            opt("preset", opts.preset.clone());
            if let Some(p) = &v.profile
                && (h264 || p == "main")
            {
                opt("profile", p.clone());
            }
            rate_control(&mut opt, v, true);
            opt("g", gop.clone());
            opt("keyint_min", gop.clone());
            if h264 {
                opt("sc_threshold", "0".into());
                opt("x264-params", "open-gop=0:b-pyramid=none".into());
            } else {
                opt(
                    "x265-params",
                    format!("keyint={gop}:min-keyint={gop}:scenecut=0:open-gop=0:b-pyramid=0:log-level=error"),
                );
                if hvc1 {
                    opt("tag", "hvc1".into());
                }
            }
        }
        VideoCodec::Vp9 => {
            opt("c", "libvpx-vp9".into());
            opt("deadline", "realtime".into());
            opt("cpu-used", "8".into());
            opt("row-mt", "1".into());
            rate_control(&mut opt, v, false);
            opt("g", gop.clone());
            opt("keyint_min", gop.clone());
        }
    }
    opt("force_key_frames", format!("expr:gte(t,n_forced*{keyframe_seconds})"));
    if opts.threads > 0 {
        opt("threads", opts.threads.to_string());
    }
    a
}

/// ABR with a VBV ceiling (1.5× the target, 2× buffer) or CRF (x264/x265) / constrained
/// quality (VP9) under the source-derived ceiling.
fn rate_control(opt: &mut impl FnMut(&str, String), v: &VideoPlan, x26x: bool) {
    if let Some(b) = v.bitrate_kbps {
        opt("b", format!("{b}k"));
        opt("maxrate", format!("{}k", b + b / 2));
        opt("bufsize", format!("{}k", b * 2));
        return;
    }
    let crf = v.crf.unwrap_or(crate::ladder::DEFAULT_CRF);
    if x26x {
        opt("crf", crf.to_string());
        if let Some(m) = v.max_kbps {
            opt("maxrate", format!("{m}k"));
            opt("bufsize", format!("{}k", m * 2));
        }
    } else {
        // libvpx: CRF scale is 0-63; `-b:v 0` is pure constant quality, a bitrate caps it.
        opt("crf", (crf + 8).min(63).to_string());
        opt("b", v.max_kbps.map_or("0".into(), |m| format!("{m}k")));
    }
}

fn audio_args(j: usize, a: &AudioPlan) -> Vec<String> {
    let codec = match a.codec {
        AudioCodec::Aac => "aac",
        AudioCodec::Mp3 => "libmp3lame",
        AudioCodec::Opus => "libopus",
        AudioCodec::Vorbis => "libvorbis",
    };
    let mut out = vec![
        format!("-c:a:{j}"),
        codec.into(),
        format!("-b:a:{j}"),
        format!("{}k", a.bitrate_kbps),
    ];
    if let Some(r) = a.samplerate {
        out.extend([format!("-ar:a:{j}"), r.to_string()]);
    }
    if let Some(c) = a.channels {
        out.extend([format!("-ac:a:{j}"), c.to_string()]);
    }
    out
}
