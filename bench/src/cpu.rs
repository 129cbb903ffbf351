//! CPU time of a process from `/proc/<pid>/stat` (Linux), to show how the cores were shared
//! between the server under test and the load generator during a measured window.

use std::time::{Duration, Instant};

/// Clock ticks per second of `utime`/`stime` (USER_HZ, 100 on every mainstream Linux).
const TICKS_PER_SEC: f64 = 100.0;

/// User plus system CPU time of `pid` (`"self"` for this process), if readable.
pub fn cpu_time(pid: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_secs_f64((utime + stime) / TICKS_PER_SEC))
}

/// CPU times of the server and of this process at one instant.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    at: Instant,
    server: Option<Duration>,
    generator: Option<Duration>,
}

impl Sample {
    pub fn take(server_pid: Option<u32>) -> Self {
        Self {
            at: Instant::now(),
            server: server_pid.and_then(|p| cpu_time(&p.to_string())),
            generator: cpu_time("self"),
        }
    }

    /// CPU seconds of (server, generator) and wall seconds between `self` and `later`.
    pub fn spent_until(&self, later: &Sample) -> (Option<f64>, Option<f64>, f64) {
        let wall = later.at.duration_since(self.at).as_secs_f64();
        let spent = |a: Option<Duration>, b: Option<Duration>| Some(b?.saturating_sub(a?).as_secs_f64());
        (
            spent(self.server, later.server),
            spent(self.generator, later.generator),
            wall,
        )
    }

    /// Average cores used by (server, generator) between `self` and `later`.
    pub fn cores_until(&self, later: &Sample) -> (Option<f64>, Option<f64>) {
        let (server, generator, wall) = self.spent_until(later);
        let wall = wall.max(1e-9);
        (server.map(|s| s / wall), generator.map(|g| g / wall))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_own_cpu_time() {
        assert!(super::cpu_time("self").is_some());
    }
}
