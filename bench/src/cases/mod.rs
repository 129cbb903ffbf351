//! The benchmark cases. Each case is a module with an `Args` struct (its own options, all
//! defaulted) and `run(&Common, &Args) -> Report`; it starts vodstack and its ceiling, runs
//! the same workload against both and fills a [`Report`]. To add a case (upload vs raw
//! disk, URL pull vs curl, transcode vs bare ffmpeg, edge vs nginx): add the module, a
//! subcommand in `main.rs` and a line in [`run_all`].

pub mod callbacks;
pub mod edge;
pub mod gateway;
pub mod oss;
pub mod transcode;
pub mod url_pull;

use crate::Common;
use crate::report::Report;

/// Runs every case with its default options; a case that cannot run is reported as failed
/// and the others still run.
pub async fn run_all(common: &Common) -> anyhow::Result<Vec<Report>> {
    let mut reports = Vec::new();
    let gateway = gateway::run(common, &gateway::GatewayArgs::default()).await;
    reports.push(gateway.unwrap_or_else(|e| Report::failed("gateway", &e)));
    let oss = oss::run(common, &oss::OssArgs::default()).await;
    reports.push(oss.unwrap_or_else(|e| Report::failed("oss", &e)));
    let callbacks = callbacks::run(common, &callbacks::CallbacksArgs::default()).await;
    reports.push(callbacks.unwrap_or_else(|e| Report::failed("callbacks", &e)));
    let url_pull = url_pull::run(common, &url_pull::UrlPullArgs::default()).await;
    reports.push(url_pull.unwrap_or_else(|e| Report::failed("url-pull", &e)));
    let transcode = transcode::run(common, &transcode::TranscodeArgs::default()).await;
    reports.push(transcode.unwrap_or_else(|e| Report::failed("transcode", &e)));
    let edge = edge::run(common, &edge::EdgeArgs::default()).await;
    reports.push(edge.unwrap_or_else(|e| Report::failed("edge", &e)));
    Ok(reports)
}
