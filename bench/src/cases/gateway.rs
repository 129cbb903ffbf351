//! Case `gateway`: signed V3 requests per second and p99 latency of a cheap action
//! (`GetAppInfos AppIds=app-1000000`) at 64 keep-alive connections on loopback, against a
//! bare HTTP server doing no work on the same machine. Target: at least 0.5 of the bare
//! ceiling, p99 under 5 ms. Both targets get the very same signed requests, so the load
//! generator spends the same per request on each; they run one after the other, alone.

use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use clap::Args;

use crate::Common;
use crate::cpu::Sample;
use crate::load::{self, Plan, RequestFn};
use crate::proc::{self, ACCESS_KEY_ID, ACCESS_KEY_SECRET, Server};
use crate::report::{Check, Report, Row};
use crate::sign::V3Signer;

const ACTION: &str = "GetAppInfos";
const VERSION: &str = "2017-03-21";
const QUERY: &[(&str, &str)] = &[("AppIds", "app-1000000")];
const MIN_RATIO: f64 = 0.5;
const MAX_P99_MS: f64 = 5.0;
const DEFAULT_CONNECTIONS: usize = 64;
/// Longest wait for one connect or one response before it counts as an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Options of the gateway case.
#[derive(Debug, Clone, Args)]
pub struct GatewayArgs {
    /// Concurrent keep-alive HTTP/1.1 connections, each sending requests back to back.
    #[arg(long, default_value_t = DEFAULT_CONNECTIONS)]
    pub connections: usize,
}

impl Default for GatewayArgs {
    fn default() -> Self {
        Self {
            connections: DEFAULT_CONNECTIONS,
        }
    }
}

pub async fn run(common: &Common, args: &GatewayArgs) -> anyhow::Result<Report> {
    let binary = proc::vodstack_binary(common.vodstack.as_deref())?;
    let connections = args.connections.clamp(1, 10_000);
    let mut warnings = Vec::new();
    // Work already running here competes with both targets; say how much there was.
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = load.split_whitespace().next().unwrap_or("?").to_string();

    eprintln!("gateway: starting the bare server");
    let bare = measure(common, connections, proc::start_bare().await?, &mut warnings).await?;
    eprintln!("gateway: starting vodstack ({})", binary.display());
    let vod = measure(common, connections, proc::start_vodstack(&binary).await?, &mut warnings).await?;

    let ratio = if bare.per_sec > 0.0 {
        vod.per_sec / bare.per_sec
    } else {
        0.0
    };
    let checks = vec![
        Check::at_least("ratio vodstack/bare", ratio, MIN_RATIO, "", 2),
        Check::below("p99", vod.p99_us as f64 / 1000.0, MAX_P99_MS, "ms", 2),
    ];
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    Ok(Report {
        case: "gateway".into(),
        title: format!(
            "signed V3 {ACTION} ({}) at {connections} connections, {} s warm-up + {} s measured per target",
            QUERY
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("&"),
            common.warmup().as_secs_f64(),
            common.duration().as_secs_f64(),
        ),
        notes: vec![
            format!(
                "loopback 127.0.0.1; {cpus} CPU(s) shared by the load generator (this process) and the \
                 server under test, so both figures are below what a separate client would see; \
                 1-min load average before the run: {load} (other work on the machine skews both targets)"
            ),
            "each request POST with a fresh nonce and x-acs-date, signed ACS3-HMAC-SHA256 (same cost for both \
             targets); bare = hyper HTTP/1.1 answering 200 + ~250 B JSON, no work; targets run one at a time"
                .into(),
            "latency = request write to end of response body; errors include the warm-up".into(),
        ],
        rows: vec![bare, vod],
        checks,
        warnings,
        failure: None,
    })
}

/// Pre-flights one request, loads `server` for warm-up + duration, stops it.
async fn measure(
    common: &Common,
    connections: usize,
    server: Server,
    warnings: &mut Vec<String>,
) -> anyhow::Result<Row> {
    let name = server.name;
    let signer = Arc::new(V3Signer::new(
        &server.addr.to_string(),
        ACTION,
        VERSION,
        QUERY,
        (ACCESS_KEY_ID, ACCESS_KEY_SECRET),
    ));
    let make: RequestFn = Arc::new(move |out: &mut Vec<u8>| signer.write_request(out));

    let refusal = match load::probe(server.addr, &make, REQUEST_TIMEOUT).await {
        Ok(resp) if resp.status == 200 => None,
        Ok(resp) => Some(format!("HTTP {}: {}", resp.status, String::from_utf8_lossy(&resp.body))),
        Err(e) => Some(format!("{e:#}")),
    };
    if let Some(why) = refusal {
        let log = server.log_tail();
        let _ = server.stop().await;
        bail!("{name} failed the pre-flight {ACTION} request: {why}\n{name} output:\n{log}");
    }

    let plan = Plan {
        addr: server.addr,
        connections,
        warmup: common.warmup(),
        duration: common.duration(),
        timeout: REQUEST_TIMEOUT,
    };
    eprintln!(
        "gateway: {name} on {}: {connections} connections, {:?} warm-up + {:?} measured",
        plan.addr, plan.warmup, plan.duration
    );
    let pid = server.pid();
    let (warmup, duration) = (plan.warmup, plan.duration);
    let sampler = tokio::spawn(async move {
        tokio::time::sleep(warmup).await;
        let first = Sample::take(pid);
        tokio::time::sleep(duration).await;
        first.cores_until(&Sample::take(pid))
    });
    let stats = load::run(&plan, make).await;
    let (server_cores, generator_cores) = sampler.await.unwrap_or((None, None));
    if let Some(w) = server.stop().await {
        warnings.push(w);
    }
    let mut row = Row::from_stats(name, &stats);
    row.server_cores = server_cores;
    row.generator_cores = generator_cores;
    Ok(row)
}
