//! The external programs: where ffmpeg and ffprobe are ([`Tools`]), what can go wrong when
//! running them ([`ToolError`]), and the runner that executes one under a deadline and a
//! cancellation token, kills it on either (and on drop), and keeps the tail of its stderr.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How much of a program's stderr is kept for the error (the end of it, where ffmpeg says why).
pub const STDERR_TAIL_BYTES: usize = 8 * 1024;

/// The flags every ffmpeg run starts with: no keyboard, no banner, errors only, overwrite.
pub const FFMPEG_BASE_ARGS: &[&str] = &["-nostdin", "-hide_banner", "-loglevel", "error", "-y"];

/// Where the programs are. The default finds `ffmpeg` and `ffprobe` on `PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tools {
    pub ffmpeg: PathBuf,
    pub ffprobe: PathBuf,
}

impl Default for Tools {
    fn default() -> Self {
        Self {
            ffmpeg: PathBuf::from("ffmpeg"),
            ffprobe: PathBuf::from("ffprobe"),
        }
    }
}

impl Tools {
    pub fn new(ffmpeg: impl Into<PathBuf>, ffprobe: impl Into<PathBuf>) -> Self {
        Self {
            ffmpeg: ffmpeg.into(),
            ffprobe: ffprobe.into(),
        }
    }

    /// True when both programs start and answer `-version` (a startup check).
    pub async fn available(&self) -> bool {
        for program in [&self.ffmpeg, &self.ffprobe] {
            let ok = Command::new(program)
                .arg("-version")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .status()
                .await
                .is_ok_and(|s| s.success());
            if !ok {
                return false;
            }
        }
        true
    }
}

/// Why a program run did not give a usable result.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The program is not installed (or not at the configured path).
    #[error("{} not found (is ffmpeg installed?)", program.display())]
    NotFound { program: PathBuf },
    /// The program exists but could not be started.
    #[error("cannot run {}: {source}", program.display())]
    Spawn {
        program: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The run took longer than allowed; the process was killed.
    #[error("{} did not finish within {:.1}s and was killed", program.display(), after.as_secs_f64())]
    Timeout { program: PathBuf, after: Duration },
    /// The caller cancelled; the process was killed.
    #[error("cancelled")]
    Cancelled,
    /// The program ran and failed (a bad source, an impossible setting): the end of its stderr.
    #[error("{} failed ({status}): {stderr}", program.display())]
    Failed {
        program: PathBuf,
        status: ExitStatus,
        stderr: String,
    },
    /// The input cannot be used: the file is missing or unreadable, or lacks what the
    /// operation needs (e.g. snapshots of a source without video).
    #[error("unusable input: {0}")]
    Input(String),
    /// The program succeeded but what it wrote is not usable (a file missing, unreadable).
    #[error("unusable output: {0}")]
    Output(String),
}

impl ToolError {
    /// True when trying again later may succeed (missing program, could not start, timeout,
    /// cancellation); false when the input itself is the problem (`Failed`, `Input`, `Output`).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::NotFound { .. } | Self::Spawn { .. } | Self::Timeout { .. } | Self::Cancelled
        )
    }
}

/// Runs ffmpeg with [`FFMPEG_BASE_ARGS`] followed by `args`, in `cwd` when given; stdout
/// is discarded. Killed after `timeout` ([`ToolError::Timeout`]) or when `cancel` fires
/// ([`ToolError::Cancelled`]); the process is gone when this returns.
pub async fn run_ffmpeg(
    tools: &Tools,
    args: &[OsString],
    cwd: Option<&Path>,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<(), ToolError> {
    ffmpeg_until(tools, args, cwd, Deadline::after(timeout), cancel).await
}

/// When a whole operation (several program runs) must be over, and the budget it was given
/// (for the error message).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    pub at: Instant,
    pub budget: Duration,
}

impl Deadline {
    pub fn after(budget: Duration) -> Self {
        Self {
            at: Instant::now() + budget,
            budget,
        }
    }
}

pub(crate) async fn ffmpeg_until(
    tools: &Tools,
    args: &[OsString],
    cwd: Option<&Path>,
    deadline: Deadline,
    cancel: &CancellationToken,
) -> Result<(), ToolError> {
    let mut full: Vec<OsString> = FFMPEG_BASE_ARGS.iter().map(OsString::from).collect();
    full.extend(args.iter().cloned());
    run(&tools.ffmpeg, &full, cwd, deadline, cancel, 0).await.map(drop)
}

/// Runs `program` with `args`, returning up to `stdout_limit` bytes of its stdout (0:
/// stdout is discarded). See [`run_ffmpeg`] for the deadline and cancellation.
pub(crate) async fn run(
    program: &Path,
    args: &[OsString],
    cwd: Option<&Path>,
    deadline: Deadline,
    cancel: &CancellationToken,
    stdout_limit: usize,
) -> Result<Vec<u8>, ToolError> {
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(if stdout_limit > 0 {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(dir) = cwd {
        command.current_dir(dir);
    }
    if cancel.is_cancelled() {
        return Err(ToolError::Cancelled);
    }
    let mut child = command.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ToolError::NotFound {
            program: program.to_path_buf(),
        },
        _ => ToolError::Spawn {
            program: program.to_path_buf(),
            source: e,
        },
    })?;
    let stdout = child.stdout.take().map(|s| tokio::spawn(read_head(s, stdout_limit)));
    let stderr = child
        .stderr
        .take()
        .map(|s| tokio::spawn(read_tail(s, STDERR_TAIL_BYTES)));
    let waited = tokio::select! {
        status = child.wait() => Ok(status),
        _ = tokio::time::sleep_until(deadline.at) => Err(ToolError::Timeout {
            program: program.to_path_buf(),
            after: deadline.budget,
        }),
        _ = cancel.cancelled() => Err(ToolError::Cancelled),
    };
    let status = match waited {
        Ok(status) => status.map_err(|e| ToolError::Spawn {
            program: program.to_path_buf(),
            source: e,
        })?,
        Err(error) => {
            kill(&mut child).await;
            return Err(error);
        }
    };
    let out = match stdout {
        Some(task) => task.await.unwrap_or_default(),
        None => Vec::new(),
    };
    let err = match stderr {
        Some(task) => task.await.unwrap_or_default(),
        None => String::new(),
    };
    if status.success() {
        Ok(out)
    } else {
        Err(ToolError::Failed {
            program: program.to_path_buf(),
            status,
            stderr: err,
        })
    }
}

async fn kill(child: &mut Child) {
    let _ = child.start_kill();
    let _ = child.wait().await;
}

async fn read_head(mut pipe: impl AsyncRead + Unpin, limit: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        match pipe.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = limit.saturating_sub(out.len());
                out.extend_from_slice(&chunk[..n.min(room)]);
            }
        }
    }
    out
}

async fn read_tail(mut pipe: impl AsyncRead + Unpin, keep: usize) -> String {
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 8 * 1024];
    loop {
        match pipe.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                if buf.len() > 2 * keep {
                    buf.drain(..buf.len() - keep);
                }
            }
        }
    }
    let start = buf.len().saturating_sub(keep);
    String::from_utf8_lossy(&buf[start..]).trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn missing_program_is_not_found() {
        let tools = Tools::new("/nonexistent/ffmpeg", "/nonexistent/ffprobe");
        assert!(!tools.available().await);
        let err = run_ffmpeg(&tools, &[], None, Duration::from_secs(5), &CancellationToken::new())
            .await
            .unwrap_err();
        assert!(matches!(err, ToolError::NotFound { .. }), "{err:?}");
        assert!(err.is_transient());
    }

    #[tokio::test]
    async fn tail_keeps_the_end() {
        let data: Vec<u8> = (0..50_000u32).flat_map(|i| format!("{i}\n").into_bytes()).collect();
        let tail = read_tail(&data[..], 100).await;
        assert!(tail.len() <= 100 && tail.ends_with("49999"), "{tail}");
        let head = read_head(&data[..], 10).await;
        assert_eq!(head, b"0\n1\n2\n3\n4\n");
    }
}
