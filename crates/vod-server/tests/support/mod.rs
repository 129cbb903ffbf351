//! Process-test support shared by the tests that run real `vodstack` processes: a command
//! with a clean environment, `serve` nodes that can be stopped or SIGKILLed, and CLI calls.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_vodstack");

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A `vodstack` command with a clean environment (no inherited `VODSTACK_*`/`RUST_LOG`) on
/// `db_url`, with its data directory under `dir` and the given root key.
pub fn command(db_url: &str, dir: &Path, root_key: (&str, &str)) -> Command {
    let mut cmd = Command::new(BIN);
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().to_string();
        if key.starts_with("VODSTACK_") || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    cmd.current_dir(dir)
        .env("VODSTACK_DATA_DIR", dir.join("data"))
        .env("VODSTACK_DATABASE_URL", db_url)
        .env("VODSTACK_ROOT_ACCESS_KEY_ID", root_key.0)
        .env("VODSTACK_ROOT_ACCESS_KEY_SECRET", root_key.1)
        .env("VODSTACK_LOG", "info");
    cmd
}

/// Runs `cmd <args>` and parses its JSON output.
pub fn cli(mut cmd: Command, args: &[&str]) -> Value {
    let out = cmd.args(args).output().expect("run vodstack");
    assert!(
        out.status.success(),
        "vodstack {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

/// One `vodstack serve` process (SIGKILLed on drop if still running).
pub struct Node {
    pub name: String,
    child: Child,
    log: PathBuf,
}

impl Node {
    /// Spawns `cmd` (a configured `vodstack serve`), stderr to `log`, and waits until the
    /// banner's `jobs` line appears; that line must contain every string of `expect`.
    pub fn start(name: &str, mut cmd: Command, log: PathBuf, expect: &[&str]) -> Node {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("spawn vodstack serve");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let node = Node {
            name: name.to_string(),
            child,
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(line) if line.trim_start().starts_with("jobs ") => {
                    assert!(expect.iter().all(|e| line.contains(e)), "{line}");
                    return node;
                }
                Ok(_) | Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    panic!("node {name} exited early:\n{}", node.stderr())
                }
            }
            assert!(
                Instant::now() < deadline,
                "node {name} did not start:\n{}",
                node.stderr()
            );
        }
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL; returns (unix ms) once the process is gone: nothing it does lands after this.
    pub fn kill9(mut self) -> i64 {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        now_ms()
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(mut self) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(
                    status.success(),
                    "node {} exited with {status}:\n{}",
                    self.name,
                    self.stderr()
                );
                return;
            }
            assert!(Instant::now() < deadline, "node {} did not stop on SIGTERM", self.name);
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
