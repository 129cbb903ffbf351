//! `vodstack-bench`: the benchmark command. Each case runs one workload against vodstack
//! and against its natural ceiling (a bare server, the raw disk, curl, ffmpeg, nginx...)
//! in the same run and prints the ratio. Run by hand (`scripts/bench.sh`), never in CI;
//! all traffic stays on 127.0.0.1 and every loop is bounded in time.
//!
//! Exit status: 0 every target met, 1 the run failed or saw errors (numbers are not
//! trustworthy), 2 the run was clean but a target was missed.

mod bare;
mod cases;
mod cpu;
mod edge_server;
mod load;
mod nginx;
mod proc;
mod report;
mod sign;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::cases::callbacks::CallbacksArgs;
use crate::cases::edge::EdgeArgs;
use crate::cases::gateway::GatewayArgs;
use crate::cases::oss::OssArgs;
use crate::cases::transcode::TranscodeArgs;
use crate::cases::url_pull::UrlPullArgs;
use crate::report::Report;

#[derive(Debug, Parser)]
#[command(
    name = "vodstack-bench",
    about = "Benchmarks of vodstack against the natural ceiling of each workload"
)]
struct Cli {
    #[command(flatten)]
    common: Common,
    /// The case to run (default: all).
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Signed V3 requests/s and p99 of a cheap action vs a bare HTTP server doing no work.
    Gateway(GatewayArgs),
    /// A 1 GiB PutObject and a 1 GiB multipart upload vs a raw write + fsync of the same
    /// bytes; also the server's peak RSS.
    Oss(OssArgs),
    /// 10,000 signed HTTP callbacks delivered by the job runtime to a local receiver vs the
    /// receiver's own request ceiling; then kill -9 halfway through 10,000 more: none lost.
    Callbacks(CallbacksArgs),
    /// UploadMediaByURL of a 1 GiB media file from a local nginx vs curl downloading the same
    /// file to the same disk.
    UrlPull(UrlPullArgs),
    /// The default ladder (LD/SD/HD as MP4 and HLS) of a generated 1080p30 source: vod-media's
    /// single command vs a hand-written ffmpeg command and vs one ffmpeg run per rendition.
    Transcode(TranscodeArgs),
    /// Cached 100 KB and 2 MB segments from the playback edge vs nginx from disk (wrk, 64
    /// connections), preload throughput vs a raw read, and refresh-to-miss latency.
    Edge(EdgeArgs),
    /// Every case in turn, each with its default options.
    All,
    /// The ceiling of the gateway case: a bare HTTP/1.1 server answering 200 with a small
    /// JSON body and doing no work (run as a child of the bench itself).
    #[command(hide = true)]
    BareServer {
        #[arg(long)]
        addr: String,
    },
    /// The edge under test of the edge case: an object store with imported files behind a
    /// vod-edge listener (run as a child of the bench itself).
    #[command(hide = true)]
    EdgeServer(edge_server::EdgeServerArgs),
}

/// Options every case accepts.
#[derive(Debug, Clone, Args)]
pub struct Common {
    /// The vodstack binary (default: `vodstack` next to this executable).
    #[arg(long, global = true)]
    pub vodstack: Option<PathBuf>,
    /// Measured seconds per target.
    #[arg(long, default_value_t = 10.0, global = true)]
    pub duration: f64,
    /// Warm-up seconds per target (requests sent, not recorded).
    #[arg(long, default_value_t = 2.0, global = true)]
    pub warmup: f64,
    /// Print machine-readable JSON on stdout instead of the table (progress goes to stderr).
    #[arg(long, global = true)]
    pub json: bool,
}

impl Common {
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.duration.clamp(0.1, 3600.0))
    }

    pub fn warmup(&self) -> Duration {
        Duration::from_secs_f64(self.warmup.clamp(0.0, 600.0))
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The same runtime vodstack itself uses (multi-thread, one worker per core).
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.common, cli.command.unwrap_or(Command::All))) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(common: Common, command: Command) -> anyhow::Result<ExitCode> {
    let reports = match command {
        Command::BareServer { addr } => {
            bare::serve(addr).await?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::Gateway(args) => vec![cases::gateway::run(&common, &args).await?],
        Command::Oss(args) => vec![cases::oss::run(&common, &args).await?],
        Command::Callbacks(args) => vec![cases::callbacks::run(&common, &args).await?],
        Command::UrlPull(args) => vec![cases::url_pull::run(&common, &args).await?],
        Command::Transcode(args) => vec![cases::transcode::run(&common, &args).await?],
        Command::Edge(args) => vec![cases::edge::run(&common, &args).await?],
        Command::EdgeServer(args) => {
            edge_server::serve(args).await?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::All => cases::run_all(&common).await?,
    };
    finish(&common, &reports)
}

fn finish(common: &Common, reports: &[Report]) -> anyhow::Result<ExitCode> {
    if common.json {
        let value = if reports.len() == 1 {
            reports[0].to_json()
        } else {
            serde_json::Value::Array(reports.iter().map(Report::to_json).collect())
        };
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        for report in reports {
            report.print();
        }
    }
    Ok(report::exit_code(reports))
}
