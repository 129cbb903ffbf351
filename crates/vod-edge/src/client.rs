//! [`EdgeClient`]: calls the control API of an edge (the refresh job calls it once per edge
//! node) and returns the per-path results.

use std::time::Duration;

use serde::Serialize;

use crate::control::{
    ControlResponse, PRELOAD_PATH, PURGE_PATH, PathResult, PreloadRequest, PurgeRequest, SIGNATURE_HEADER,
    TIMESTAMP_HEADER, sign,
};

/// Installs rustls' ring provider for HTTPS clients (harmless when one is installed).
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A failed control call (the edge could not be reached or refused the request as a
/// whole); per-path failures are in the [`PathResult`]s instead.
#[derive(Debug, thiserror::Error)]
pub enum EdgeClientError {
    #[error("edge {url}: {message}")]
    Transport { url: String, message: String },
    #[error("edge {url} answered HTTP {status}: {body}")]
    Refused { url: String, status: u16, body: String },
    #[error("edge {url} answered with a malformed body: {message}")]
    Malformed { url: String, message: String },
}

/// A client of edges' control APIs, holding the shared control secret.
#[derive(Debug, Clone)]
pub struct EdgeClient {
    http: reqwest::Client,
    secret: String,
}

impl EdgeClient {
    /// A client with a 10 s connect timeout and `timeout` for a whole call (preloads wait
    /// until every object is in the cache).
    pub fn new(secret: impl Into<String>, timeout: Duration) -> Self {
        install_tls_provider();
        let http = reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(Duration::from_secs(10))
            .timeout(timeout)
            .tls_backend_rustls()
            .build()
            .unwrap_or_default();
        Self {
            http,
            secret: secret.into(),
        }
    }

    /// Drops `files` (play URLs or `/bucket/key` paths) and everything under `directories`
    /// (`/bucket/dir/`) from the edge at `base_url` (e.g. `http://10.0.0.5:8090`).
    pub async fn purge(
        &self,
        base_url: &str,
        files: &[String],
        directories: &[String],
    ) -> Result<Vec<PathResult>, EdgeClientError> {
        let body = PurgeRequest {
            files: files.to_vec(),
            directories: directories.to_vec(),
        };
        self.call(base_url, PURGE_PATH, &body).await
    }

    /// Fetches `files` into the cache of the edge at `base_url`; returns when each is
    /// cached or has failed.
    pub async fn preload(&self, base_url: &str, files: &[String]) -> Result<Vec<PathResult>, EdgeClientError> {
        let body = PreloadRequest { files: files.to_vec() };
        self.call(base_url, PRELOAD_PATH, &body).await
    }

    async fn call<T: Serialize>(
        &self,
        base_url: &str,
        path: &str,
        body: &T,
    ) -> Result<Vec<PathResult>, EdgeClientError> {
        let url = format!("{}{path}", base_url.trim_end_matches('/'));
        let body = serde_json::to_vec(body).unwrap_or_default();
        let ts = vod_core::now_ms() / 1000;
        let signature = sign(&self.secret, ts, path, &body);
        let resp = self
            .http
            .post(&url)
            .header(TIMESTAMP_HEADER, ts.to_string())
            .header(SIGNATURE_HEADER, signature)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| EdgeClientError::Transport {
                url: url.clone(),
                message: e.to_string(),
            })?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| EdgeClientError::Transport {
            url: url.clone(),
            message: e.to_string(),
        })?;
        if !status.is_success() {
            return Err(EdgeClientError::Refused {
                url,
                status: status.as_u16(),
                body: text,
            });
        }
        serde_json::from_str::<ControlResponse>(&text)
            .map(|r| r.results)
            .map_err(|e| EdgeClientError::Malformed {
                url,
                message: e.to_string(),
            })
    }
}
