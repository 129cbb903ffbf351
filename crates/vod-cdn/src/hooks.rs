//! External purge hooks: caches in front of the edges (Varnish, nginx with a purge module,
//! a CDN's purge endpoint) hear of every refreshed URL as `<PURGE|BAN> <base><path>`, with
//! `X-Purge-Type: file|directory` (directories end in `/`). 2xx and 404 (nothing cached)
//! count as success; a connection error or 5xx is transient (the batch is retried), any
//! other answer fails the URL.

use std::time::Duration;

use futures::StreamExt;

use crate::config::PurgeHooks;

/// Hook requests in flight at once per batch.
const CONCURRENCY: usize = 8;

/// One hook's answer for one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookOutcome {
    Ok,
    /// Worth retrying (unreachable, 5xx).
    Transient(String),
    Failed(String),
}

/// The configured hooks and their HTTP client.
#[derive(Debug, Clone)]
pub struct Hooks {
    urls: Vec<String>,
    method: reqwest::Method,
    http: reqwest::Client,
}

/// The path and query of a URL (`http://h/b/k?x` → `/b/k?x`); a scheme-less `host/path`
/// loses its host the same way.
pub fn path_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    match rest.find('/') {
        Some(i) => rest[i..].to_string(),
        None => "/".into(),
    }
}

impl Hooks {
    pub fn new(config: &PurgeHooks) -> Self {
        vod_edge::client::install_tls_provider();
        let http = reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(config.timeout_secs.max(1)))
            .tls_backend_rustls()
            .build()
            .unwrap_or_default();
        let method = reqwest::Method::from_bytes(config.method.as_str().as_bytes()).unwrap_or(reqwest::Method::DELETE);
        Self {
            urls: config
                .urls
                .iter()
                .map(|u| u.trim().trim_end_matches('/').to_string())
                .filter(|u| !u.is_empty())
                .collect(),
            method,
            http,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.urls.is_empty()
    }

    /// Sends every `(url, is_directory)` to every hook; returns, per input, the outcomes of
    /// the hooks that did not succeed (empty: all succeeded).
    pub async fn purge(&self, items: &[(String, bool)]) -> Vec<Vec<HookOutcome>> {
        let mut out = vec![Vec::new(); items.len()];
        if self.urls.is_empty() {
            return out;
        }
        let mut calls: Vec<(usize, String, String, bool)> = Vec::new();
        for (i, (url, dir)) in items.iter().enumerate() {
            for base in &self.urls {
                calls.push((i, base.clone(), path_of(url), *dir));
            }
        }
        let this = self.clone();
        let results: Vec<(usize, HookOutcome)> = futures::stream::iter(calls)
            .map(move |(i, base, path, dir)| {
                let this = this.clone();
                async move { (i, this.one(&base, &path, dir).await) }
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        for (i, outcome) in results {
            metrics::counter!("vod_cdn_hook_requests_total", "outcome" => match &outcome {
                HookOutcome::Ok => "ok",
                HookOutcome::Transient(_) => "transient",
                HookOutcome::Failed(_) => "failed",
            })
            .increment(1);
            if outcome != HookOutcome::Ok {
                out[i].push(outcome);
            }
        }
        out
    }

    async fn one(&self, base: &str, path: &str, dir: bool) -> HookOutcome {
        let url = format!("{base}{path}");
        let sent = self
            .http
            .request(self.method.clone(), &url)
            .header("X-Purge-Type", if dir { "directory" } else { "file" })
            .send()
            .await;
        match sent {
            Err(e) => HookOutcome::Transient(format!("purge hook {url}: {e}")),
            Ok(resp) => {
                let status = resp.status();
                if status.is_success() || status == reqwest::StatusCode::NOT_FOUND {
                    HookOutcome::Ok
                } else if status.is_server_error() {
                    HookOutcome::Transient(format!("purge hook {url} answered HTTP {}", status.as_u16()))
                } else {
                    HookOutcome::Failed(format!("purge hook {url} answered HTTP {}", status.as_u16()))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(path_of("http://h:1/b/k.m3u8?x=1"), "/b/k.m3u8?x=1");
        assert_eq!(path_of("cdn.example.com/b/dir/"), "/b/dir/");
        assert_eq!(path_of("http://h"), "/");
    }
}
