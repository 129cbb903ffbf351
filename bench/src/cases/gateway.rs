//! Case `gateway`: signed V3 requests per second and p99 latency of a cheap action
//! (`GetAppInfos AppIds=app-1000000`) at 64 keep-alive connections on loopback, against a
//! bare HTTP server doing no work on the same machine. Target: at least 0.5 of the bare
//! ceiling, p99 under 5 ms. Both targets get the very same signed requests, so the load
//! generator spends the same per request on each. They are loaded one at a time, taking
//! turns in short slices (bare, vodstack, vodstack, bare, ...), so a machine that speeds up
//! or slows down during the run (a shared VM does) weighs on both alike.

use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use clap::Args;

use crate::Common;
use crate::cpu::Sample;
use crate::load::{self, Plan, RequestFn, Stats};
use crate::proc::{self, ACCESS_KEY_ID, ACCESS_KEY_SECRET, Server};
use crate::report::{Check, Report, Row};
use crate::sign::V3Signer;

const ACTION: &str = "GetAppInfos";
const VERSION: &str = "2017-03-21";
const QUERY: &[(&str, &str)] = &[("AppIds", "app-1000000")];
const MIN_RATIO: f64 = 0.5;
const MAX_P99_MS: f64 = 5.0;
const DEFAULT_CONNECTIONS: usize = 64;
/// Measured slices per target (the measured time is split evenly between them).
const SLICES: u32 = 6;
/// Unrecorded start of every slice: fresh connections reach a steady state.
const SLICE_WARMUP: Duration = Duration::from_millis(300);
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
    // Work already running here competes with both targets; say how much there was.
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = load.split_whitespace().next().unwrap_or("?").to_string();

    eprintln!("gateway: starting the bare server");
    let bare = Target::start(proc::start_bare().await?, connections).await?;
    eprintln!("gateway: starting vodstack ({})", binary.display());
    let started = match proc::start_vodstack(&binary).await {
        Ok(server) => Target::start(server, connections).await,
        Err(e) => Err(e),
    };
    let vod = match started {
        Ok(t) => t,
        Err(e) => {
            let _ = bare.server.stop().await;
            return Err(e);
        }
    };
    let mut targets = [bare, vod];
    for t in &mut targets {
        eprintln!("gateway: {} warm-up {:?}", t.server.name, common.warmup());
        t.load(common.warmup(), Duration::ZERO).await;
    }
    let slice = common.duration() / SLICES;
    eprintln!("gateway: {SLICES} slices of {slice:?} per target at {connections} connections, taking turns");
    for i in 0..SLICES {
        let order = if i % 2 == 0 { [0, 1] } else { [1, 0] };
        for k in order {
            targets[k].load(SLICE_WARMUP, slice).await;
        }
    }
    let mut warnings = Vec::new();
    let mut rows = Vec::new();
    for t in targets {
        rows.push(t.row());
        if let Some(w) = t.server.stop().await {
            warnings.push(w);
        }
    }
    let (bare, vod) = (&rows[0], &rows[1]);
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
    // What each request cost each server, apart from how the two processes shared the cores
    // (which req/s mixes in).
    let cpu_per_request = match (server_us_per_request(bare), server_us_per_request(vod)) {
        (Some(b), Some(v)) => format!(
            "server CPU per request: bare {b:.1} µs, vodstack {v:.1} µs ({:.2}x)",
            v / b
        ),
        _ => "server CPU per request: not measured (no /proc CPU figures)".into(),
    };
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
             targets); bare = hyper HTTP/1.1 answering 200 + ~250 B JSON, no work"
                .into(),
            format!(
                "one target loaded at a time: after its warm-up, each is measured in {SLICES} slices of {:.1} s \
                 (each after {} ms unrecorded on fresh connections), taking turns bare, vodstack, vodstack, bare, ...",
                slice.as_secs_f64(),
                SLICE_WARMUP.as_millis()
            ),
            "latency = request write to end of response body; errors include the warm-ups".into(),
            cpu_per_request,
        ],
        rows,
        checks,
        warnings,
        failure: None,
    })
}

/// Server CPU microseconds per request of a row, when its CPU time was sampled.
fn server_us_per_request(row: &Row) -> Option<f64> {
    row.server_cores
        .filter(|_| row.per_sec > 0.0)
        .map(|cores| cores * 1e6 / row.per_sec)
}

/// One server under load, with what its slices measured so far.
struct Target {
    server: Server,
    make: RequestFn,
    connections: usize,
    stats: Stats,
    /// CPU seconds of the server and of the generator, and the wall seconds they cover.
    cpu: Option<(f64, f64, f64)>,
}

impl Target {
    /// Pre-flights one request; on a refusal the server is stopped and its log shown.
    async fn start(server: Server, connections: usize) -> anyhow::Result<Self> {
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
        Ok(Self {
            server,
            make,
            connections,
            stats: Stats::empty(Duration::ZERO),
            cpu: Some((0.0, 0.0, 0.0)),
        })
    }

    /// Loads the server for `warmup` (unrecorded) then `duration` (recorded, CPU sampled).
    async fn load(&mut self, warmup: Duration, duration: Duration) {
        let plan = Plan {
            addr: self.server.addr,
            connections: self.connections,
            warmup,
            duration,
            timeout: REQUEST_TIMEOUT,
        };
        let pid = self.server.pid();
        let sampler = tokio::spawn(async move {
            tokio::time::sleep(warmup).await;
            let first = Sample::take(pid);
            tokio::time::sleep(duration).await;
            first.spent_until(&Sample::take(pid))
        });
        let stats = load::run(&plan, self.make.clone()).await;
        let spent = sampler.await.ok();
        self.cpu = match (self.cpu, spent) {
            (Some((s, g, w)), Some((Some(ds), Some(dg), dw))) => Some((s + ds, g + dg, w + dw)),
            _ => None,
        };
        self.stats.append(stats);
    }

    fn row(&self) -> Row {
        let mut row = Row::from_stats(self.server.name, &self.stats);
        if let Some((server, generator, wall)) = self.cpu.filter(|(_, _, w)| *w > 0.0) {
            row.server_cores = Some(server / wall);
            row.generator_cores = Some(generator / wall);
        }
        row
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(per_sec: f64, server_cores: Option<f64>) -> Row {
        Row {
            target: "t".into(),
            requests: 0,
            per_sec,
            p50_us: 0,
            p99_us: 0,
            max_us: 0,
            errors: 0,
            first_error: None,
            server_cores,
            generator_cores: None,
        }
    }

    #[test]
    fn server_cpu_per_request_from_cores_and_rate() {
        let us = server_us_per_request(&row(50_000.0, Some(1.0))).unwrap();
        assert!((us - 20.0).abs() < 1e-9, "{us}");
        assert_eq!(server_us_per_request(&row(50_000.0, None)), None);
        assert_eq!(server_us_per_request(&row(0.0, Some(1.0))), None);
    }
}
