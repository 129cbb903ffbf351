//! Step 1 of a URL pull: the download into the part file, resumed with a Range request when
//! an earlier attempt left one, streamed through the sink's writer and hasher threads.

use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use vod_callbacks::outbound::blocked_reason;
use vod_core::model::url_upload::{UrlUpload, codes};
use vod_jobs::JobContext;

use super::sink::{Downloaded, Sink, hash_file};
use super::{CANCEL_CHECK, Failure, UrlPullHandler, permanent, store_failure, transient};

impl UrlPullHandler {
    /// Downloads into the part file (resuming it when present); returns its final size.
    pub(super) async fn download(&self, u: &UrlUpload, part: &Path, ctx: &JobContext) -> Result<Downloaded, Failure> {
        let url = url::Url::parse(&u.upload_url)
            .map_err(|e| permanent(codes::URL_INVALID, format!("the URL cannot be used: {e}")))?;
        if let Err(e) = self.client.check_url(&url) {
            return Err(permanent(codes::URL_FORBIDDEN, e.to_string()));
        }
        let max = self.config.max_file_bytes;
        let have = tokio::fs::metadata(part).await.map(|m| m.len()).unwrap_or(0);
        let mut req = self
            .client
            .request(reqwest::Method::GET, &url)
            .map_err(|e| permanent(codes::URL_FORBIDDEN, e.to_string()))?;
        if have > 0 {
            req = req.header("Range", format!("bytes={have}-"));
        }
        let header_timeout = Duration::from_secs(self.config.header_timeout_secs.max(1));
        let resp = match tokio::time::timeout(header_timeout, req.send()).await {
            Err(_) => {
                return Err(transient(codes::DOWNLOAD_FAILED, "the origin did not answer in time"));
            }
            Ok(Err(e)) => {
                if let Some(b) = blocked_reason(&e) {
                    return Err(if b.is_permanent() {
                        permanent(codes::URL_FORBIDDEN, b.to_string())
                    } else {
                        transient(codes::URL_INVALID, b.to_string())
                    });
                }
                return Err(transient(codes::DOWNLOAD_FAILED, format!("request failed: {e}")));
            }
            Ok(Ok(r)) => r,
        };
        let status = resp.status().as_u16();
        let (mut sink, mut size) = match status {
            206 if have > 0 => {
                let start = resp
                    .headers()
                    .get("content-range")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("bytes "))
                    .and_then(|v| v.split('-').next())
                    .and_then(|v| v.trim().parse::<u64>().ok());
                if start != Some(have) {
                    // Not the range we asked for: start over next attempt.
                    let _ = tokio::fs::remove_file(part).await;
                    return Err(transient(
                        codes::DOWNLOAD_FAILED,
                        "the origin answered an unexpected range",
                    ));
                }
                (Sink::open(part, have), have)
            }
            200 => (Sink::open(part, 0), 0),
            416 if have > 0 => {
                // We already have everything.
                return hash_file(part)
                    .await
                    .map_err(|e| store_failure(format!("cannot read the download file: {e}")));
            }
            408 | 425 | 429 | 500..=599 => {
                return Err(transient(
                    codes::DOWNLOAD_FAILED,
                    format!("the origin answered HTTP {status}"),
                ));
            }
            _ => {
                return Err(permanent(
                    codes::URL_INVALID,
                    format!("the origin answered HTTP {status}"),
                ));
            }
        };
        if let Some(len) = resp.content_length()
            && size.saturating_add(len) > max
        {
            sink.abandon().await;
            let _ = tokio::fs::remove_file(part).await;
            return Err(permanent(
                codes::FILE_TOO_LARGE,
                format!("the file is {} bytes, more than the limit of {max}", size + len),
            ));
        }
        let idle = Duration::from_secs(self.config.idle_timeout_secs.max(1));
        let mut resp = resp;
        let mut last_check = Instant::now();
        let failed = loop {
            if ctx.cancelled.is_cancelled() {
                break Failure::Interrupted;
            }
            if last_check.elapsed() >= CANCEL_CHECK {
                last_check = Instant::now();
                if let Err(f) = self.still_wanted(&u.job_id).await {
                    break f;
                }
            }
            let chunk: Option<Bytes> = match tokio::time::timeout(idle, resp.chunk()).await {
                Err(_) => {
                    break transient(codes::DOWNLOAD_FAILED, format!("no data for {}s", idle.as_secs()));
                }
                Ok(Err(e)) => {
                    break transient(codes::DOWNLOAD_FAILED, format!("the download broke off: {e}"));
                }
                Ok(Ok(c)) => c,
            };
            let Some(chunk) = chunk else {
                let (md5, crc64) = sink
                    .finish()
                    .await
                    .map_err(|e| store_failure(format!("cannot write the download file: {e}")))?;
                if size == 0 {
                    let _ = tokio::fs::remove_file(part).await;
                    return Err(permanent(codes::URL_INVALID, "the origin sent an empty file"));
                }
                return Ok(Downloaded { size, md5, crc64 });
            };
            size += chunk.len() as u64;
            if size > max {
                sink.abandon().await;
                let _ = tokio::fs::remove_file(part).await;
                return Err(permanent(
                    codes::FILE_TOO_LARGE,
                    format!("the file is larger than the limit of {max} bytes"),
                ));
            }
            if !sink.push(chunk).await {
                let e = sink.finish().await.err();
                return Err(store_failure(format!(
                    "cannot write the download file: {}",
                    e.map_or_else(|| "writer stopped".to_string(), |e| e.to_string())
                )));
            }
        };
        // Whatever arrived stays in the part file for the next attempt's Range request.
        sink.abandon().await;
        Err(failed)
    }
}
