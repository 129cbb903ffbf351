//! Ladder planning: which renditions a source gets from a template group, with every setting
//! resolved against what the source is ([`plan`]). Pure; no programs run.
//!
//! Rules:
//! * **Which templates.** A source with video gets the templates that keep video (an
//!   audio-only template such as the default ladder's mp3 rungs is for audio sources). If
//!   the group has no video template, a video source with sound gets the audio templates
//!   instead (extracting the sound beats producing nothing). An audio-only source (an mp3
//!   with cover art included) gets the audio-only templates; if the group has none, one
//!   `SQ` mp3 at 128 Kbps, 44.1 kHz stereo (template id `""`).
//! * **Orientation.** Templates are written for landscape: for a portrait source the box is
//!   turned (`Width` applies to the height and `Height` to the width), so `Height: 720` means
//!   "720 on the short side" in both orientations.
//! * **Size.** Both sides given: the source is fitted inside the box, aspect ratio kept (no
//!   padding, no distortion). One side given: the other follows the source's aspect ratio.
//!   None: the source's size. Sizes are rounded to even numbers (4:2:0 needs them).
//! * **Never upscale.** A rung whose short side is larger than the source's is dropped. If
//!   every video rung of one format would be dropped, the one with the smallest short side is
//!   kept at the source's own size (so a 360p upload still gets an `LD` mp4 and `LD` m3u8).
//! * **Frame rate.** `Fps` is a cap: never above the source's rate; without it the source's
//!   rate is kept.
//! * **Bitrate.** Never above 1.2 × the source's video bitrate when that is known (re-encoding
//!   cannot add quality; the 20% covers the generation loss). Without `Bitrate`, CRF mode
//!   (`Crf`, default 23) capped at the same figure. `Gop` is not used: keyframes are placed
//!   by time so every rendition of one command switches at the same instants (see
//!   `command`).
//! * **Audio.** Kept when the template keeps it and the source has sound; defaults to 128 Kbps.
//!   An `HQ` audio-only rung is skipped when the source's audio bitrate is known and not
//!   above the `SQ` rung's of the same format (it would only be a bigger copy of `SQ`).

use vod_core::model::template::{AudioSpec, TranscodeTemplate, VideoSpec};

use crate::probe::ProbeInfo;

/// How much above the source's video bitrate a rendition may go.
pub const SOURCE_BITRATE_HEADROOM: f64 = 1.2;
/// Audio bitrate when a template gives none, Kbps.
pub const DEFAULT_AUDIO_KBPS: u32 = 128;
/// CRF when a template gives neither `Bitrate` nor `Crf`.
pub const DEFAULT_CRF: u32 = 23;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VideoCodec {
    /// libx264.
    H264,
    /// libx265.
    H265,
    /// libvpx-vp9 (webm).
    Vp9,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AudioCodec {
    /// ffmpeg's native AAC encoder.
    Aac,
    /// libmp3lame.
    Mp3,
    /// libopus (webm).
    Opus,
    /// libvorbis (webm).
    Vorbis,
}

/// The video encoding of a rendition, resolved against the source.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoPlan {
    pub codec: VideoCodec,
    /// Output size, even.
    pub width: u32,
    pub height: u32,
    /// Output frame rate (0 when the source's is unknown).
    pub frame_rate: f64,
    /// True when the source's rate is lowered to `frame_rate` (an `fps` filter).
    pub resample_fps: bool,
    /// Target bitrate (ABR) in Kbps.
    pub bitrate_kbps: Option<u32>,
    /// Constant rate factor, when there is no target bitrate.
    pub crf: Option<u32>,
    /// Ceiling for CRF mode (1.2 × the source's video bitrate), Kbps.
    pub max_kbps: Option<u32>,
    /// H.264/H.265 profile (`baseline`, `main`, `high`).
    pub profile: Option<String>,
}

/// The audio encoding of a rendition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioPlan {
    pub codec: AudioCodec,
    pub bitrate_kbps: u32,
    pub samplerate: Option<u32>,
    pub channels: Option<u32>,
}

/// One output a transcode will produce: a template applied to this source.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendition {
    /// The template's id (`""` for the built-in mp3 fallback of audio sources).
    pub template_id: String,
    /// `LD`, `SD`, `HD`, `SQ`, ...
    pub definition: String,
    /// `mp4`, `m3u8`, `mp3`, `flv` or `webm`.
    pub format: String,
    /// `None`: audio only.
    pub video: Option<VideoPlan>,
    /// `None`: no sound (removed by the template, or the source has none).
    pub audio: Option<AudioPlan>,
    /// HLS segment length asked by the template (m3u8 only; `None`: the default).
    pub segment_seconds: Option<u32>,
}

impl Rendition {
    /// `video` or `audio` (PlayInfo `StreamType`).
    pub fn stream_type(&self) -> &'static str {
        if self.video.is_some() { "video" } else { "audio" }
    }
}

/// The renditions `source` gets from `templates` (see the module documentation for the
/// rules), in template order.
pub fn plan(templates: &[TranscodeTemplate], source: &ProbeInfo) -> Vec<Rendition> {
    if source.has_video {
        let video: Vec<&TranscodeTemplate> = templates.iter().filter(|t| t.video.is_some()).collect();
        if !video.is_empty() {
            return plan_video(&video, source);
        }
    }
    if source.has_audio {
        plan_audio(templates, source)
    } else {
        Vec::new()
    }
}

/// A video rung before the upscale rule: its size and whether it would upscale.
struct Candidate<'a> {
    template: &'a TranscodeTemplate,
    spec: &'a VideoSpec,
    size: (u32, u32),
    upscale: bool,
}

fn plan_video(templates: &[&TranscodeTemplate], source: &ProbeInfo) -> Vec<Rendition> {
    let (sw, sh) = (source.width.max(2), source.height.max(2));
    let source_size = (even_floor(sw), even_floor(sh));
    let candidates: Vec<Candidate<'_>> = templates
        .iter()
        .filter_map(|t| {
            let spec = t.video.as_ref()?;
            let (w, h) = target_size(spec, sw, sh);
            let upscale = w.min(h) > sw.min(sh) as f64 + 0.5;
            // Never past the source's even size, even after rounding.
            let size = (even(w).min(source_size.0), even(h).min(source_size.1));
            Some(Candidate {
                template: t,
                spec,
                size,
                upscale,
            })
        })
        .collect();
    // Per format: when every rung would upscale, the smallest is kept at the source's size.
    let mut rescued: Vec<usize> = Vec::new();
    let mut formats: Vec<&str> = candidates.iter().map(|c| c.template.format.as_str()).collect();
    formats.sort_unstable();
    formats.dedup();
    for format in formats {
        let of_format = || {
            candidates
                .iter()
                .enumerate()
                .filter(|(_, c)| c.template.format == format)
        };
        if of_format().all(|(_, c)| c.upscale)
            && let Some((i, _)) = of_format().min_by_key(|(_, c)| short_side_asked(c.spec))
        {
            rescued.push(i);
        }
    }
    candidates
        .iter()
        .enumerate()
        .filter(|(i, c)| !c.upscale || rescued.contains(i))
        .map(|(i, c)| {
            let size = if rescued.contains(&i) { source_size } else { c.size };
            Rendition {
                template_id: c.template.template_id.clone(),
                definition: c.template.definition.clone(),
                format: c.template.format.clone(),
                video: Some(video_plan(c.spec, size, source)),
                audio: c
                    .template
                    .audio
                    .as_ref()
                    .filter(|_| source.has_audio)
                    .map(|a| audio_plan(a, &c.template.format)),
                segment_seconds: c.template.segment_seconds.filter(|_| c.template.format == "m3u8"),
            }
        })
        .collect()
}

fn plan_audio(templates: &[TranscodeTemplate], source: &ProbeInfo) -> Vec<Rendition> {
    let audio: Vec<&TranscodeTemplate> = templates
        .iter()
        .filter(|t| t.video.is_none() && t.audio.is_some())
        .collect();
    if audio.is_empty() {
        return vec![Rendition {
            template_id: String::new(),
            definition: "SQ".into(),
            format: "mp3".into(),
            video: None,
            audio: Some(AudioPlan {
                codec: AudioCodec::Mp3,
                bitrate_kbps: DEFAULT_AUDIO_KBPS,
                samplerate: Some(44_100),
                channels: Some(2),
            }),
            segment_seconds: None,
        }];
    }
    let kbps = |t: &TranscodeTemplate| {
        t.audio
            .as_ref()
            .and_then(|a| a.bitrate_kbps)
            .unwrap_or(DEFAULT_AUDIO_KBPS)
    };
    audio
        .iter()
        .filter(|t| {
            if t.definition != "HQ" {
                return true;
            }
            let Some(source_kbps) = source.audio_bitrate_kbps else {
                return true;
            };
            let sq = audio.iter().find(|o| o.definition == "SQ" && o.format == t.format);
            !sq.is_some_and(|sq| source_kbps <= kbps(sq) as f64)
        })
        .map(|t| Rendition {
            template_id: t.template_id.clone(),
            definition: t.definition.clone(),
            format: t.format.clone(),
            video: None,
            audio: t.audio.as_ref().map(|a| audio_plan(a, &t.format)),
            segment_seconds: t.segment_seconds.filter(|_| t.format == "m3u8"),
        })
        .collect()
}

/// The size a rung asks for, as real numbers (before the upscale rule and rounding).
fn target_size(spec: &VideoSpec, sw: u32, sh: u32) -> (f64, f64) {
    let (sw, sh) = (sw as f64, sh as f64);
    let portrait = sh > sw;
    let (bw, bh) = if portrait {
        (spec.height, spec.width)
    } else {
        (spec.width, spec.height)
    };
    match (bw.map(f64::from), bh.map(f64::from)) {
        (None, None) => (sw, sh),
        (Some(w), None) => (w, w * sh / sw),
        (None, Some(h)) => (h * sw / sh, h),
        (Some(w), Some(h)) => {
            let scale = (w / sw).min(h / sh);
            (sw * scale, sh * scale)
        }
    }
}

/// The short side a rung names (for choosing the smallest); unsized rungs sort last.
fn short_side_asked(spec: &VideoSpec) -> u32 {
    match (spec.width, spec.height) {
        (Some(w), Some(h)) => w.min(h),
        (Some(s), None) | (None, Some(s)) => s,
        (None, None) => u32::MAX,
    }
}

fn video_plan(spec: &VideoSpec, (width, height): (u32, u32), source: &ProbeInfo) -> VideoPlan {
    let codec = match spec.codec.as_str() {
        "H.265" => VideoCodec::H265,
        "VP9" => VideoCodec::Vp9,
        _ => VideoCodec::H264,
    };
    let source_fps = source.frame_rate;
    let (frame_rate, resample_fps) = match spec.fps {
        Some(cap) if source_fps <= 0.0 => (cap, true),
        Some(cap) if cap < source_fps - 0.01 => (cap, true),
        _ => (source_fps, false),
    };
    let ceiling = source
        .video_bitrate_kbps
        .filter(|k| *k > 0.0)
        .map(|k| ((k * SOURCE_BITRATE_HEADROOM).round() as u32).max(1));
    let bitrate_kbps = spec.bitrate_kbps.map(|b| ceiling.map_or(b, |c| b.min(c)));
    VideoPlan {
        codec,
        width,
        height,
        frame_rate,
        resample_fps,
        bitrate_kbps,
        crf: bitrate_kbps.is_none().then(|| spec.crf.unwrap_or(DEFAULT_CRF)),
        max_kbps: if bitrate_kbps.is_none() { ceiling } else { None },
        profile: spec.profile.clone(),
    }
}

fn audio_plan(spec: &AudioSpec, format: &str) -> AudioPlan {
    let codec = match (spec.codec.as_str(), format) {
        ("MP3", _) => AudioCodec::Mp3,
        ("OPUS", _) => AudioCodec::Opus,
        ("VORBIS", _) => AudioCodec::Vorbis,
        (_, "webm") => AudioCodec::Opus,
        _ => AudioCodec::Aac,
    };
    AudioPlan {
        codec,
        bitrate_kbps: spec.bitrate_kbps.unwrap_or(DEFAULT_AUDIO_KBPS),
        samplerate: spec.samplerate,
        channels: spec.channels,
    }
}

/// Nearest even number, at least 2.
fn even(x: f64) -> u32 {
    (((x / 2.0).round() as u32) * 2).max(2)
}

/// Largest even number not above `x`, at least 2.
fn even_floor(x: u32) -> u32 {
    (x / 2 * 2).max(2)
}
