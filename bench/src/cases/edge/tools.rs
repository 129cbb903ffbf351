//! Tools of the edge case: wrk (run, parse), nginx (start, stop), the CPU time of the
//! servers under load, and best-of-N runs.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::Common;
use crate::report::Row;

/// The processes serving: nginx's master and its workers, or the edge.
pub fn pids(master: Option<u32>) -> Vec<u32> {
    let Some(m) = master else { return Vec::new() };
    let children = std::fs::read_to_string(format!("/proc/{m}/task/{m}/children")).unwrap_or_default();
    std::iter::once(m)
        .chain(children.split_whitespace().filter_map(|p| p.parse().ok()))
        .collect()
}

fn cpu_of(pids: &[u32]) -> Option<Duration> {
    pids.iter().map(|p| crate::cpu::cpu_time(&p.to_string())).sum()
}

/// The best of several runs (highest req/s), with the errors of all of them.
pub fn keep_best(best: Option<Row>, run: Row) -> Row {
    match best {
        None => run,
        Some(b) => {
            let errors = b.errors + run.errors;
            let first_error = b.first_error.clone().or(run.first_error.clone());
            let mut keep = if run.per_sec > b.per_sec { run } else { b };
            keep.errors = errors;
            keep.first_error = first_error;
            keep
        }
    }
}

/// Runs wrk for the warm-up (discarded) and the measured window; the parsed result with
/// the CPU cores the server processes `pids` used meanwhile.
pub async fn run_wrk(common: &Common, wrk: &Path, connections: usize, url: &str, pids: &[u32]) -> anyhow::Result<Row> {
    let secs = |d: Duration| format!("{}s", d.as_secs().max(1));
    if !common.warmup().is_zero() {
        wrk_once(wrk, connections, &secs(common.warmup()), url).await?;
    }
    eprintln!("edge: wrk -c{connections} {url}");
    let (cpu0, t0) = (cpu_of(pids), Instant::now());
    let out = wrk_once(wrk, connections, &secs(common.duration()), url).await?;
    let wall = t0.elapsed().as_secs_f64();
    let mut row = parse_wrk(&out).with_context(|| format!("unexpected wrk output:\n{out}"))?;
    row.server_cores = cpu0
        .zip(cpu_of(pids))
        .map(|(a, b)| b.saturating_sub(a).as_secs_f64() / wall);
    Ok(row)
}

async fn wrk_once(wrk: &Path, connections: usize, duration: &str, url: &str) -> anyhow::Result<String> {
    let out = tokio::process::Command::new(wrk)
        .args(["-t2", "-c", &connections.to_string(), "-d", duration, "--latency", url])
        .stdin(Stdio::null())
        .output()
        .await
        .context("cannot run wrk")?;
    if !out.status.success() {
        bail!("wrk failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `1.23ms` → microseconds.
fn wrk_duration_us(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = if let Some(v) = s.strip_suffix("us") {
        (v, 1.0)
    } else if let Some(v) = s.strip_suffix("ms") {
        (v, 1e3)
    } else if let Some(v) = s.strip_suffix('s') {
        (v, 1e6)
    } else if let Some(v) = s.strip_suffix('m') {
        (v, 60e6)
    } else {
        return None;
    };
    Some((num.parse::<f64>().ok()? * mult) as u64)
}

fn parse_wrk(out: &str) -> Option<Row> {
    let mut row = Row {
        target: String::new(),
        requests: 0,
        per_sec: 0.0,
        p50_us: 0,
        p99_us: 0,
        max_us: 0,
        errors: 0,
        first_error: None,
        server_cores: None,
        generator_cores: None,
    };
    for line in out.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Latency", _avg, _stdev, max, ..] => row.max_us = wrk_duration_us(max)?,
            ["50%", v] => row.p50_us = wrk_duration_us(v)?,
            ["99%", v] => row.p99_us = wrk_duration_us(v)?,
            [n, "requests", "in", ..] => row.requests = n.parse().ok()?,
            ["Requests/sec:", v] => row.per_sec = v.parse().ok()?,
            ["Non-2xx", "or", "3xx", "responses:", n] => {
                row.errors += n.parse::<u64>().ok()?;
                row.first_error.get_or_insert_with(|| line.to_string());
            }
            ["Socket", "errors:", ..] => {
                let n: u64 = line
                    .split(',')
                    .filter_map(|p| p.split_whitespace().last()?.parse::<u64>().ok())
                    .sum();
                row.errors += n;
                if n > 0 {
                    row.first_error.get_or_insert_with(|| line.to_string());
                }
            }
            _ => {}
        }
    }
    (row.per_sec > 0.0).then_some(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_wrk_output() {
        let out = "Running 10s test @ http://127.0.0.1:1/x\n  2 threads and 64 connections\n  \
                   Thread Stats   Avg      Stdev     Max   +/- Stdev\n    Latency     1.23ms  456.00us  12.34ms   89.00%\n    \
                   Req/Sec    12.34k     1.23k   15.67k    70.00%\n  Latency Distribution\n     50%    1.11ms\n     \
                   75%    1.50ms\n     90%    2.00ms\n     99%    3.45ms\n  246810 requests in 10.00s, 23.45GB read\n  \
                   Socket errors: connect 0, read 2, write 0, timeout 1\nRequests/sec:  24681.00\nTransfer/sec:      2.35GB\n";
        let row = parse_wrk(out).unwrap();
        assert_eq!(row.requests, 246_810);
        assert_eq!((row.p50_us, row.p99_us, row.max_us), (1110, 3450, 12_340));
        assert_eq!(row.errors, 3);
        assert!((row.per_sec - 24681.0).abs() < 0.01);
        assert_eq!(wrk_duration_us("1.5s"), Some(1_500_000));
        assert_eq!(wrk_duration_us("20.00us"), Some(20));
    }
}
