//! Child servers under test: vodstack itself and the bench's own ceilings. Each listens on a
//! free loopback port, logs to a file in its own temporary directory, is awaited until the
//! port accepts, and is stopped with SIGTERM (SIGKILL after a grace period, or on drop).

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tempfile::TempDir;
use tokio::process::{Child, Command};

/// The root key vodstack is started with; requests are signed with it.
pub const ACCESS_KEY_ID: &str = "benchAK";
pub const ACCESS_KEY_SECRET: &str = "benchSecret";

const READY_TIMEOUT: Duration = Duration::from_secs(30);
const STOP_GRACE: Duration = Duration::from_secs(10);

/// A running child server.
pub struct Server {
    pub name: &'static str,
    pub addr: SocketAddr,
    child: Child,
    log: PathBuf,
    /// Data and log directory, removed after the child is gone.
    dir: TempDir,
}

/// A loopback address whose port was free a moment ago.
pub fn free_addr() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot bind a loopback port")?;
    Ok(listener.local_addr()?)
}

/// The vodstack binary: `explicit`, else `vodstack` next to this executable.
pub fn vodstack_binary(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => std::env::current_exe()?.with_file_name("vodstack"),
    };
    if !path.is_file() {
        bail!(
            "vodstack binary {} not found; build it with scripts/bench.sh (cargo build --release -p vod-server) \
             or pass --vodstack PATH",
            path.display()
        );
    }
    Ok(path)
}

/// Starts `vodstack serve` with a fresh data directory, the bench root key, throttling off
/// and warn-level logs.
pub async fn start_vodstack(binary: &Path) -> anyhow::Result<Server> {
    start_vodstack_with(binary, &[]).await
}

/// [`start_vodstack`] with extra environment variables (e.g. `[url_upload]` settings).
pub async fn start_vodstack_with(binary: &Path, envs: &[(&str, &str)]) -> anyhow::Result<Server> {
    let addr = free_addr()?;
    let dir = tempfile::Builder::new().prefix("vodstack-bench-").tempdir()?;
    let mut cmd = Command::new(binary);
    cmd.arg("serve")
        .arg("--api-addr")
        .arg(addr.to_string())
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .env("VODSTACK_ROOT_ACCESS_KEY_ID", ACCESS_KEY_ID)
        .env("VODSTACK_ROOT_ACCESS_KEY_SECRET", ACCESS_KEY_SECRET)
        .env("VODSTACK_GATEWAY__THROTTLE__ENABLED", "false")
        .env("VODSTACK_LOG", "warn")
        .env_remove("RUST_LOG")
        .env_remove("VODSTACK_CONFIG")
        .env_remove("VODSTACK_DATABASE_URL")
        .env_remove("VODSTACK_REDIS_URL")
        .envs(envs.iter().copied())
        .current_dir(dir.path());
    Server::start("vodstack", cmd, addr, dir).await
}

/// Starts this executable's hidden `bare-server` subcommand.
pub async fn start_bare() -> anyhow::Result<Server> {
    let addr = free_addr()?;
    let dir = tempfile::Builder::new().prefix("vodstack-bench-bare-").tempdir()?;
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.arg("bare-server").arg("--addr").arg(addr.to_string());
    Server::start("bare", cmd, addr, dir).await
}

/// Starts this executable's hidden `edge-server` subcommand with `args` (after
/// `--addr <addr>`); its data lives in `data_dir` (kept by the caller).
pub async fn start_edge_server(args: &[std::ffi::OsString]) -> anyhow::Result<Server> {
    let addr = free_addr()?;
    let dir = tempfile::Builder::new().prefix("vodstack-bench-edge-log-").tempdir()?;
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.arg("edge-server").arg("--addr").arg(addr.to_string()).args(args);
    Server::start("edge", cmd, addr, dir).await
}

impl Server {
    async fn start(name: &'static str, mut cmd: Command, addr: SocketAddr, dir: TempDir) -> anyhow::Result<Self> {
        let log = dir.path().join(format!("{name}.log"));
        let out = std::fs::File::create(&log)?;
        cmd.stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .kill_on_drop(true);
        let child = cmd.spawn().with_context(|| format!("cannot start {name}"))?;
        let mut server = Self {
            name,
            addr,
            child,
            log,
            dir,
        };
        server.wait_ready().await?;
        Ok(server)
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "{} exited during start-up ({status}); its output:\n{}",
                    self.name,
                    self.log_tail()
                );
            }
            if tokio::net::TcpStream::connect(self.addr).await.is_ok() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "{} did not accept on {} within {READY_TIMEOUT:?}; output:\n{}",
                    self.name,
                    self.addr,
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The last lines the child wrote.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// The pid of the child, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// SIGTERM, then wait (SIGKILL after the grace period). Returns a warning if the child
    /// did not stop cleanly.
    pub async fn stop(mut self) -> Option<String> {
        let Some(pid) = self.child.id().and_then(|p| rustix::process::Pid::from_raw(p as i32)) else {
            return Some(format!("{} had already exited", self.name));
        };
        if let Err(e) = rustix::process::kill_process(pid, rustix::process::Signal::TERM) {
            return Some(format!("cannot signal {}: {e}", self.name));
        }
        let warning = match tokio::time::timeout(STOP_GRACE, self.child.wait()).await {
            Ok(Ok(status)) if status.success() || self.name == "bare" => None,
            Ok(Ok(status)) => Some(format!(
                "{} exited with {status}; output:\n{}",
                self.name,
                self.log_tail()
            )),
            Ok(Err(e)) => Some(format!("waiting for {}: {e}", self.name)),
            Err(_) => {
                let _ = self.child.kill().await;
                Some(format!("{} ignored SIGTERM for {STOP_GRACE:?}; killed", self.name))
            }
        };
        drop(self.dir);
        warning
    }
}
