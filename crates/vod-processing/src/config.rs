//! `[processing]`: the tools, their limits and what runs after a transcode.

use serde::{Deserialize, Serialize};

/// Settings of the processing jobs (`[processing]`, e.g. `VODSTACK_PROCESSING__PRESET=fast`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProcessingConfig {
    /// Run the processing jobs on this node.
    pub enabled: bool,
    pub ffmpeg: String,
    pub ffprobe: String,
    /// libx264 preset of the ladder.
    pub preset: String,
    /// ffmpeg threads per transcode (0 = ffmpeg decides).
    pub threads: u32,
    /// How many transcodes (and snapshot jobs) one node runs at once.
    pub concurrency: usize,
    /// Longest transcode before ffmpeg is killed and the media marked TranscodeFail.
    pub transcode_timeout_secs: u64,
    pub probe_timeout_secs: u64,
    /// Take a cover snapshot after transcoding (when the media has no CoverURL yet).
    pub cover: bool,
    /// Where in the source the cover is taken, milliseconds (clamped to the duration).
    pub cover_offset_ms: u64,
    /// Normal snapshots after transcoding: how many (0 = none) and how far apart.
    pub snapshot_count: u32,
    pub snapshot_interval_ms: u64,
}

impl Default for ProcessingConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            ffmpeg: "ffmpeg".into(),
            ffprobe: "ffprobe".into(),
            preset: "veryfast".into(),
            threads: 0,
            concurrency: 1,
            transcode_timeout_secs: 6 * 3600,
            probe_timeout_secs: 60,
            cover: true,
            cover_offset_ms: 1000,
            snapshot_count: 0,
            snapshot_interval_ms: 10_000,
        }
    }
}
