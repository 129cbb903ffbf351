//! nginx as a bench ceiling (the url-pull origin, the edge's comparison): finding the
//! programs the cases run, starting nginx on a loopback port with a temporary config, and
//! stopping it gracefully.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::net::TcpStream;

/// The first of `candidates` that exists: absolute paths as they are, names on `PATH`.
pub fn find_program(candidates: &[&str]) -> anyhow::Result<PathBuf> {
    for c in candidates {
        let p = Path::new(c);
        if p.is_absolute() {
            if p.is_file() {
                return Ok(p.to_path_buf());
            }
            continue;
        }
        if let Some(path) = std::env::var_os("PATH") {
            for dir in std::env::split_paths(&path) {
                if dir.join(c).is_file() {
                    return Ok(dir.join(c));
                }
            }
        }
    }
    bail!("none of {candidates:?} found")
}

/// How an nginx instance is configured.
pub struct NginxConf {
    pub workers: usize,
    pub worker_connections: u32,
    /// Directives added to `http {}` (tuning for many small requests).
    pub http_extra: &'static str,
    /// The one `types {}` entry, e.g. `video/mp2t ts`.
    pub mime: &'static str,
}

/// Starts nginx serving `www` on `addr`, with its files in `dir`; waits until it listens.
pub async fn start_nginx(
    nginx: &Path,
    dir: &Path,
    www: &Path,
    addr: SocketAddr,
    c: &NginxConf,
) -> anyhow::Result<tokio::process::Child> {
    let d = dir.display();
    let conf = dir.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "daemon off;\nworker_processes {};\npid {d}/nginx.pid;\nerror_log {d}/nginx-error.log;\n\
             events {{ worker_connections {}; }}\n\
             http {{\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n{}\
               client_body_temp_path {d}/cb;\n  proxy_temp_path {d}/px;\n  fastcgi_temp_path {d}/fc;\n\
               uwsgi_temp_path {d}/uw;\n  scgi_temp_path {d}/sc;\n\
               types {{ {}; }}\n\
               server {{ listen {addr}; root {}; }}\n}}\n",
            c.workers,
            c.worker_connections,
            c.http_extra,
            c.mime,
            www.display()
        ),
    )?;
    let child = tokio::process::Command::new(nginx)
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start nginx")?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).await.is_err() {
        if Instant::now() >= deadline {
            let log = std::fs::read_to_string(dir.join("nginx-error.log")).unwrap_or_default();
            bail!("nginx did not listen on {addr}: {log}");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    Ok(child)
}

/// QUIT (graceful shutdown of the master and its workers), then a kill after 10 s.
pub async fn stop_nginx(child: &mut tokio::process::Child) {
    if let Some(pid) = child.id().and_then(|p| rustix::process::Pid::from_raw(p as i32)) {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::QUIT);
    }
    if tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .is_err()
    {
        let _ = child.kill().await;
    }
}
