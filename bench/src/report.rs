//! Results of one case: a row per target (vodstack, its ceiling), the checks against the
//! figures named in the issue (PASS/MISS), notes and warnings; printed as a table or JSON.

use std::process::ExitCode;

use serde_json::{Value, json};

use crate::load::Stats;

/// One target's measured figures.
#[derive(Debug, Clone)]
pub struct Row {
    pub target: String,
    pub requests: u64,
    pub per_sec: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    /// CPU cores used by the server process / by this bench (the load generator) in the window.
    pub server_cores: Option<f64>,
    pub generator_cores: Option<f64>,
}

impl Row {
    pub fn from_stats(target: &str, stats: &Stats) -> Self {
        let h = &stats.latency;
        Self {
            target: target.to_string(),
            requests: stats.requests,
            per_sec: stats.per_sec(),
            p50_us: h.value_at_quantile(0.50),
            p99_us: h.value_at_quantile(0.99),
            max_us: h.max(),
            errors: stats.errors,
            first_error: stats.first_error.clone(),
            server_cores: None,
            generator_cores: None,
        }
    }
}

/// A figure compared with its target.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: String,
    pub value: f64,
    pub op: &'static str,
    pub threshold: f64,
    pub unit: &'static str,
    /// `name = value unit (target op threshold unit)`.
    pub line: String,
    pub pass: bool,
}

impl Check {
    /// Passes when `value >= threshold`; both shown with `decimals` (whole thresholds bare).
    pub fn at_least(name: &str, value: f64, threshold: f64, unit: &'static str, decimals: usize) -> Self {
        Self::new(name, value, ">=", threshold, unit, decimals, value >= threshold)
    }

    /// Passes when `value < threshold`.
    pub fn below(name: &str, value: f64, threshold: f64, unit: &'static str, decimals: usize) -> Self {
        Self::new(name, value, "<", threshold, unit, decimals, value < threshold)
    }

    fn new(
        name: &str,
        value: f64,
        op: &'static str,
        threshold: f64,
        unit: &'static str,
        decimals: usize,
        pass: bool,
    ) -> Self {
        let unit_sp = if unit.is_empty() {
            String::new()
        } else {
            format!(" {unit}")
        };
        let target_decimals = if threshold.fract() == 0.0 && threshold >= 1.0 {
            0
        } else {
            decimals
        };
        let line = format!("{name} = {value:.decimals$}{unit_sp} (target {op} {threshold:.target_decimals$}{unit_sp})");
        Self {
            name: name.to_string(),
            value,
            op,
            threshold,
            unit,
            line,
            pass,
        }
    }
}

/// Everything one case found.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub case: String,
    pub title: String,
    pub notes: Vec<String>,
    pub rows: Vec<Row>,
    pub checks: Vec<Check>,
    pub warnings: Vec<String>,
    /// The case could not run; nothing else is meaningful.
    pub failure: Option<String>,
}

impl Report {
    pub fn failed(case: &str, error: &anyhow::Error) -> Self {
        Self {
            case: case.to_string(),
            failure: Some(format!("{error:#}")),
            ..Default::default()
        }
    }

    pub fn errors(&self) -> u64 {
        self.rows.iter().map(|r| r.errors).sum()
    }

    pub fn print(&self) {
        println!();
        if let Some(f) = &self.failure {
            println!("== {}: FAILED TO RUN\n{f}", self.case);
            return;
        }
        println!("== {}: {}", self.case, self.title);
        for note in &self.notes {
            println!("   {note}");
        }
        println!(
            "{:<10} {:>10} {:>10} {:>9} {:>9} {:>9} {:>7} {:>8} {:>8}",
            "target", "requests", "req/s", "p50 ms", "p99 ms", "max ms", "errors", "srv cpu", "gen cpu"
        );
        for r in &self.rows {
            println!(
                "{:<10} {:>10} {:>10.0} {:>9.3} {:>9.3} {:>9.3} {:>7} {:>8} {:>8}",
                r.target,
                r.requests,
                r.per_sec,
                ms(r.p50_us),
                ms(r.p99_us),
                ms(r.max_us),
                r.errors,
                cores(r.server_cores),
                cores(r.generator_cores),
            );
        }
        for c in &self.checks {
            println!("{}  {}", c.line, if c.pass { "PASS" } else { "MISS" });
        }
        for r in self.rows.iter().filter(|r| r.errors > 0) {
            println!(
                "!!! ERRORS: {} failed {} request(s) (non-200 or I/O); this run is NOT valid.",
                r.target, r.errors
            );
            if let Some(e) = &r.first_error {
                println!("!!! first error from {}: {}", r.target, truncate(e, 2000));
            }
        }
        for w in &self.warnings {
            println!("warning: {w}");
        }
    }

    pub fn to_json(&self) -> Value {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|r| {
                json!({
                    "target": r.target, "requests": r.requests, "req_per_sec": r.per_sec,
                    "p50_ms": ms(r.p50_us), "p99_ms": ms(r.p99_us), "max_ms": ms(r.max_us),
                    "errors": r.errors, "first_error": r.first_error,
                    "server_cpu_cores": r.server_cores, "generator_cpu_cores": r.generator_cores,
                })
            })
            .collect();
        let checks: Vec<Value> = self
            .checks
            .iter()
            .map(|c| {
                json!({"name": c.name, "value": c.value, "op": c.op, "threshold": c.threshold,
                       "unit": c.unit, "pass": c.pass, "line": c.line})
            })
            .collect();
        json!({
            "case": self.case, "title": self.title, "notes": self.notes, "targets": rows,
            "checks": checks, "errors": self.errors(), "valid": self.failure.is_none() && self.errors() == 0,
            "warnings": self.warnings, "failure": self.failure,
        })
    }
}

/// 1 when any case failed or saw errors, 2 when a clean run missed a target, else 0.
pub fn exit_code(reports: &[Report]) -> ExitCode {
    if reports.iter().any(|r| r.failure.is_some() || r.errors() > 0) {
        ExitCode::from(1)
    } else if reports.iter().flat_map(|r| &r.checks).any(|c| !c.pass) {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn cores(c: Option<f64>) -> String {
    c.map_or_else(|| "-".to_string(), |c| format!("{c:.2}"))
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
