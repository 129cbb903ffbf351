//! Media processing over ffprobe/ffmpeg, on local files only (the job handlers download the
//! source to a temporary file, call this crate, then upload what it produced).
//!
//! * [`tools`]: where the programs are ([`Tools`]), the runner (deadline, cancellation, kill,
//!   stderr tail) and [`ToolError`].
//! * [`probe`]: is it media, and its figures and GetMezzanineInfo stream lists ([`probe()`],
//!   [`ProbeInfo`]).
//! * [`ladder`]: which renditions a source gets from a template group ([`plan`]).
//! * [`command`]: the single-decode ffmpeg command for a set of renditions ([`build`]) and the
//!   output layout.
//! * [`transcode`](mod@transcode): running it and measuring the outputs ([`transcode()`],
//!   [`Output`]); `hls` writes the master playlist.
//! * [`snapshot`]: JPEG snapshots ([`snapshots`]).
//!
//! Typical use: `probe` → `plan(&group.templates, &info)` → `build(src, dir, &renditions,
//! &EncodeOptions::default())` → `transcode(&tools, &cmd, timeout, &cancel)`.

pub mod command;
mod fields;
mod hls;
pub mod ladder;
pub mod probe;
pub mod snapshot;
pub mod tools;
pub mod transcode;

pub use command::{EncodeOptions, PlannedOutput, TranscodeCommand, build};
pub use ladder::{AudioCodec, AudioPlan, Rendition, VideoCodec, VideoPlan, plan};
pub use probe::{ProbeInfo, ProbeOutcome, probe};
pub use snapshot::{SnapshotSpec, snapshot_file_name, snapshots};
pub use tokio_util::sync::CancellationToken;
pub use tools::{ToolError, Tools, run_ffmpeg};
pub use transcode::{Output, transcode};
