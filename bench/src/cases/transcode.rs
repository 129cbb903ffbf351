//! Case `transcode`: the default ladder (`default_ladder_templates()`: LD/SD/HD, each as MP4
//! and HLS) of a generated 1920x1080 30 fps source with sound, made three ways in one run:
//! * `ladder`: vod-media's own path, `probe` → `plan` → `build` → `transcode` (one ffmpeg
//!   process, plus measuring the outputs with ffprobe and writing the master playlist);
//! * `handwritten`: the ceiling, one ffmpeg command written out literally below with the
//!   same encoder settings (split + tee, one encoder per size);
//! * `per-rendition`: one ffmpeg run per rendition, one after another (how most peers do it).
//!
//! Prints `ladder/handwritten` (target < 1.05) and `ladder/per-rendition` (target < 0.85),
//! both ratios of wall-clock times; the ladder and the hand-written command run `--rounds`
//! times each, alternating, and the best run of each counts. The source (libx264 ultrafast at ~8 Mbps, AAC) is made
//! once per run; `--seconds` shortens it.

use std::ffi::OsString;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use vod_core::model::template::default_ladder_templates;
use vod_media::{CancellationToken, EncodeOptions, ProbeOutcome, Tools};

use crate::Common;
use crate::report::{Check, Report, Row};

const MAX_VS_HANDWRITTEN: f64 = 1.05;
const MAX_VS_PER_RENDITION: f64 = 0.85;
const RUN_TIMEOUT: Duration = Duration::from_secs(3600);

/// The ceiling: one command for the default ladder of a 1920x1080 30 fps source, as a person
/// would write it (`{SRC}` is the source). Same settings as vod-media's: veryfast, High
/// profile, GOP 180 = 30 fps × 6 s with forced keyframes every 6 s, VBV at 1.5×/2× the
/// target, AAC 128k 44.1 kHz stereo, MP4 with faststart, HLS with 6 s TS segments.
const HANDWRITTEN: &[&str] = &[
    "-i",
    "{SRC}",
    "-filter_complex",
    "[0:v:0]split=3[s0][s1][s2];[s0]scale=854:480,format=yuv420p[v0];\
     [s1]scale=1280:720,format=yuv420p[v1];[s2]scale=1920:1080,format=yuv420p[v2]",
    "-map",
    "[v0]",
    "-map",
    "[v1]",
    "-map",
    "[v2]",
    "-map",
    "0:a:0",
    "-c:v",
    "libx264",
    "-preset",
    "veryfast",
    "-profile:v",
    "high",
    "-g",
    "180",
    "-keyint_min",
    "180",
    "-sc_threshold",
    "0",
    "-x264-params",
    "open-gop=0:b-pyramid=none",
    "-force_key_frames",
    "expr:gte(t,n_forced*6)",
    "-b:v:0",
    "900k",
    "-maxrate:v:0",
    "1350k",
    "-bufsize:v:0",
    "1800k",
    "-b:v:1",
    "1800k",
    "-maxrate:v:1",
    "2700k",
    "-bufsize:v:1",
    "3600k",
    "-b:v:2",
    "3500k",
    "-maxrate:v:2",
    "5250k",
    "-bufsize:v:2",
    "7000k",
    "-c:a",
    "aac",
    "-b:a",
    "128k",
    "-ar",
    "44100",
    "-ac",
    "2",
    "-flags",
    "+global_header",
    "-f",
    "tee",
    "[f=mp4:movflags=+faststart:select=\\'v:0,a:0\\']LD.mp4|\
     [f=hls:hls_time=6:hls_playlist_type=vod:hls_segment_filename=LD/seg-%05d.ts:select=\\'v:0,a:0\\']LD/index.m3u8|\
     [f=mp4:movflags=+faststart:select=\\'v:1,a:0\\']SD.mp4|\
     [f=hls:hls_time=6:hls_playlist_type=vod:hls_segment_filename=SD/seg-%05d.ts:select=\\'v:1,a:0\\']SD/index.m3u8|\
     [f=mp4:movflags=+faststart:select=\\'v:2,a:0\\']HD.mp4|\
     [f=hls:hls_time=6:hls_playlist_type=vod:hls_segment_filename=HD/seg-%05d.ts:select=\\'v:2,a:0\\']HD/index.m3u8",
];

/// The rungs of the default ladder for a 1080p source: definition, size, Kbps.
const RUNGS: &[(&str, &str, u32)] = &[
    ("LD", "854:480", 900),
    ("SD", "1280:720", 1800),
    ("HD", "1920:1080", 3500),
];

/// Options of the transcode case.
#[derive(Debug, Clone, Args)]
pub struct TranscodeArgs {
    /// Length of the generated 1920x1080 30 fps source, seconds.
    #[arg(long, default_value_t = 60)]
    pub seconds: u32,
    /// Runs of the ladder and of the hand-written command (alternating; the best of each
    /// counts). The per-rendition variant runs once.
    #[arg(long, default_value_t = 2)]
    pub rounds: u32,
}

impl Default for TranscodeArgs {
    fn default() -> Self {
        Self { seconds: 60, rounds: 2 }
    }
}

/// Wall-clock seconds and CPU cores (children's CPU time over wall) of one variant.
#[derive(Debug, Clone, Copy)]
struct Timing {
    secs: f64,
    cores: Option<f64>,
}

impl Timing {
    fn cpu_secs(&self) -> Option<f64> {
        self.cores.map(|c| c * self.secs)
    }
}

/// The faster of two runs.
fn best(so_far: Option<Timing>, t: Timing) -> Timing {
    match so_far {
        Some(b) if b.secs <= t.secs => b,
        _ => t,
    }
}

pub async fn run(_common: &Common, args: &TranscodeArgs) -> anyhow::Result<Report> {
    let tools = Tools::default();
    if !tools.available().await {
        bail!("ffmpeg/ffprobe not installed (apt-get install -y ffmpeg; scripts/bench.sh does it)");
    }
    let seconds = args.seconds.max(1);
    let work = tempfile::Builder::new().prefix("vodstack-bench-transcode-").tempdir()?;
    let src = work.path().join("source.mp4");
    eprintln!("transcode: generating a {seconds} s 1920x1080 30 fps source");
    generate(&src, seconds).await?;
    let load_before = loadavg();

    let info = match vod_media::probe(&tools, &src, Duration::from_secs(60)).await? {
        ProbeOutcome::Media(info) => info,
        ProbeOutcome::NotMedia(why) => bail!("the generated source is not media: {why}"),
    };
    let renditions = vod_media::plan(&default_ladder_templates(), &info);
    let mut warnings = Vec::new();
    let planned: Vec<(String, u32, u32, Option<u32>)> = renditions
        .iter()
        .filter(|r| r.format == "mp4")
        .filter_map(|r| {
            let v = r.video.as_ref()?;
            Some((r.definition.clone(), v.width, v.height, v.bitrate_kbps))
        })
        .collect();
    let expected: Vec<(String, u32, u32, Option<u32>)> = RUNGS
        .iter()
        .map(|(d, size, k)| {
            let (w, h) = size.split_once(':').unwrap_or_default();
            (d.to_string(), w.parse().unwrap_or(0), h.parse().unwrap_or(0), Some(*k))
        })
        .collect();
    if planned != expected || renditions.len() != 6 {
        warnings.push(format!(
            "vod-media planned {planned:?}, the hand-written command encodes {expected:?}: not the same work"
        ));
    }

    let src_text = src.to_str().context("temp path is not UTF-8")?;
    let hand_args: Vec<String> = HANDWRITTEN.iter().map(|a| a.replace("{SRC}", src_text)).collect();
    let rounds = args.rounds.max(1);
    let (mut ladder, mut handwritten): (Option<Timing>, Option<Timing>) = (None, None);
    let mut ladder_line = String::new();
    // A-B then B-A: background load drifting during the run hits both alike; the best of
    // each is kept.
    for round in 0..rounds {
        for ladder_turn in if round % 2 == 0 { [false, true] } else { [true, false] } {
            if ladder_turn {
                eprintln!("transcode: ladder (vod-media), round {}", round + 1);
                let dir = fresh(work.path(), "ladder")?;
                let cmd = vod_media::build(&src, &dir, &renditions, &EncodeOptions::default());
                let t = timed(async {
                    let outputs = vod_media::transcode(&tools, &cmd, RUN_TIMEOUT, &CancellationToken::new()).await?;
                    anyhow::ensure!(outputs.len() == renditions.len(), "{} outputs", outputs.len());
                    Ok(())
                })
                .await?;
                ladder_line = cmd.command_line();
                ladder = Some(best(ladder, t));
            } else {
                eprintln!("transcode: hand-written command, round {}", round + 1);
                let dir = fresh(work.path(), "handwritten")?;
                for (def, _, _) in RUNGS {
                    std::fs::create_dir_all(dir.join(def))?;
                }
                handwritten = Some(best(handwritten, timed(ffmpeg(&dir, &hand_args)).await?));
            }
        }
    }
    let (ladder, handwritten) = (ladder.context("no ladder run")?, handwritten.context("no run")?);

    eprintln!("transcode: one ffmpeg per rendition");
    let dir = fresh(work.path(), "per-rendition")?;
    let _ = std::fs::remove_dir_all(work.path().join("ladder"));
    let _ = std::fs::remove_dir_all(work.path().join("handwritten"));
    let per_rendition = timed(async {
        for (def, size, kbps) in RUNGS {
            for format in ["mp4", "m3u8"] {
                let args = single_rendition(src_text, def, size, *kbps, format);
                if format == "m3u8" {
                    std::fs::create_dir_all(dir.join(def))?;
                }
                ffmpeg(&dir, &args).await?;
            }
        }
        Ok(())
    })
    .await?;
    let load_after = loadavg();
    if load_before.is_some_and(|l| l > 1.0) {
        warnings.push(format!(
            "load average {:.2} before the run: other work shares the CPUs, the ratios are noisy",
            load_before.unwrap_or(0.0)
        ));
    }

    let row = |target: &str, t: Timing| Row {
        target: target.into(),
        requests: 1,
        per_sec: seconds as f64 / t.secs,
        p50_us: (t.secs * 1e6) as u64,
        p99_us: (t.secs * 1e6) as u64,
        max_us: (t.secs * 1e6) as u64,
        errors: 0,
        first_error: None,
        server_cores: t.cores,
        generator_cores: None,
    };
    Ok(Report {
        case: "transcode".into(),
        title: format!(
            "default ladder (LD/SD/HD × mp4+m3u8) of a {seconds} s 1080p30 source: vod-media vs bare ffmpeg"
        ),
        notes: vec![
            "for this case req/s is × realtime (source seconds per wall second), the latency columns are the \
             whole run, srv cpu is the CPU cores ffmpeg used"
                .into(),
            "ladder = vod_media::transcode of the planned command (ffmpeg + ffprobe of every output + master \
             playlist; the source probe and planning are not timed); handwritten = the literal command in \
             bench/src/cases/transcode.rs; per-rendition = 6 ffmpeg runs in a row"
                .into(),
            format!(
                "load average before {} / after {}",
                load_before.map_or("?".into(), |l| format!("{l:.2}")),
                load_after.map_or("?".into(), |l| format!("{l:.2}"))
            ),
            format!(
                "best of {rounds} alternating runs for ladder and handwritten; CPU seconds (ffmpeg + ffprobe): \
                 handwritten {}, ladder {}, per-rendition {}",
                cpu(handwritten),
                cpu(ladder),
                cpu(per_rendition)
            ),
            format!("ladder command: {ladder_line}"),
        ],
        rows: vec![
            row("handwritten", handwritten),
            row("ladder", ladder),
            row("per-rendition", per_rendition),
        ],
        checks: vec![
            Check::below(
                "ladder/handwritten",
                ladder.secs / handwritten.secs,
                MAX_VS_HANDWRITTEN,
                "",
                3,
            ),
            Check::below(
                "ladder/per-rendition",
                ladder.secs / per_rendition.secs,
                MAX_VS_PER_RENDITION,
                "",
                3,
            ),
        ],
        warnings,
        failure: None,
    })
}

/// The command one rendition gets when each is its own ffmpeg run (same encoder settings).
fn single_rendition(src: &str, def: &str, size: &str, kbps: u32, format: &str) -> Vec<String> {
    let mut a: Vec<String> = [
        "-i",
        src,
        "-map",
        "0:v:0",
        "-map",
        "0:a:0",
        "-vf",
        &format!("scale={size},format=yuv420p"),
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-profile:v",
        "high",
        "-b:v",
        &format!("{kbps}k"),
        "-maxrate",
        &format!("{}k", kbps + kbps / 2),
        "-bufsize",
        &format!("{}k", kbps * 2),
        "-g",
        "180",
        "-keyint_min",
        "180",
        "-sc_threshold",
        "0",
        "-x264-params",
        "open-gop=0:b-pyramid=none",
        "-force_key_frames",
        "expr:gte(t,n_forced*6)",
        "-c:a",
        "aac",
        "-b:a",
        "128k",
        "-ar",
        "44100",
        "-ac",
        "2",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if format == "mp4" {
        a.extend(["-movflags", "+faststart", &format!("{def}.mp4")].map(String::from));
    } else {
        a.extend(
            [
                "-f",
                "hls",
                "-hls_time",
                "6",
                "-hls_playlist_type",
                "vod",
                "-hls_segment_filename",
                &format!("{def}/seg-%05d.ts"),
                &format!("{def}/index.m3u8"),
            ]
            .map(String::from),
        );
    }
    a
}

fn cpu(t: Timing) -> String {
    t.cpu_secs().map_or("?".into(), |c| format!("{c:.1}"))
}

/// An empty directory `work/name` (a previous run's outputs removed).
fn fresh(work: &Path, name: &str) -> anyhow::Result<std::path::PathBuf> {
    let dir = work.join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Runs `work`, timing it and the CPU its child processes used.
async fn timed(work: impl Future<Output = anyhow::Result<()>>) -> anyhow::Result<Timing> {
    let cpu0 = children_cpu();
    let started = Instant::now();
    work.await?;
    let secs = started.elapsed().as_secs_f64();
    let cores = match (cpu0, children_cpu()) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a).as_secs_f64() / secs.max(1e-9)),
        _ => None,
    };
    Ok(Timing { secs, cores })
}

/// ffmpeg with the usual flags, in `dir`; fails with its stderr.
async fn ffmpeg(dir: &Path, args: &[String]) -> anyhow::Result<()> {
    let mut full: Vec<OsString> = ["-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
        .iter()
        .map(OsString::from)
        .collect();
    full.extend(args.iter().map(OsString::from));
    let out = tokio::process::Command::new("ffmpeg")
        .args(&full)
        .current_dir(dir)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .context("cannot run ffmpeg")?;
    if !out.status.success() {
        bail!(
            "ffmpeg failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// 1920x1080 30 fps `testsrc2` (libx264 ultrafast, ~8 Mbps) with a 440 Hz tone (AAC).
async fn generate(file: &Path, seconds: u32) -> anyhow::Result<()> {
    let args: Vec<String> = [
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=1920x1080:rate=30",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000",
        "-t",
        &seconds.to_string(),
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-b:v",
        "8000k",
        "-maxrate",
        "8000k",
        "-bufsize",
        "16000k",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-b:a",
        "128k",
        file.to_str().context("temp path is not UTF-8")?,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    ffmpeg(file.parent().unwrap_or(Path::new(".")), &args).await
}

/// User + system CPU time of this process's waited-for children (`cutime` + `cstime`).
fn children_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let cutime: f64 = fields.get(13)?.parse().ok()?;
    let cstime: f64 = fields.get(14)?.parse().ok()?;
    Some(Duration::from_secs_f64((cutime + cstime) / 100.0))
}

/// The 1-minute load average.
fn loadavg() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
