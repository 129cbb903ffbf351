//! [`EdgeConfig`]: the settings of one edge listener (address, cache directory and bound,
//! URL authentication, control secret).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The default edge listener.
pub const DEFAULT_EDGE_ADDR: &str = "127.0.0.1:8090";
/// The default cache bound: 10 GiB.
pub const DEFAULT_MAX_BYTES: u64 = 10 << 30;

/// Settings of the playback edge. Serde-friendly with defaults, so it nests in the server's
/// configuration (`[edge]`, `VODSTACK_EDGE__MAX_BYTES=...`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EdgeConfig {
    /// Where the edge listens (`VODSTACK_EDGE_ADDR`).
    pub addr: String,
    /// How players reach this edge, with scheme (`VODSTACK_EDGE_PUBLIC_URL`); empty means
    /// `http://<addr>`. Play URLs are `<public_url>/<bucket>/<key>`.
    pub public_url: String,
    /// The cache directory; empty means `<data_dir>/edge-cache` (see [`Self::cache_dir_in`]).
    pub cache_dir: PathBuf,
    /// Upper bound of the bytes the cache keeps on disk (cached files, their headers and
    /// fills in flight).
    pub max_bytes: u64,
    /// Larger objects are streamed from the origin without being cached; 0 means half of
    /// `max_bytes`.
    pub max_object_bytes: u64,
    /// The memory tier in front of the files: bytes of small hot objects kept in RAM
    /// (0 turns it off).
    pub memory_bytes: u64,
    /// Largest object the memory tier holds (larger ones always stream from their file).
    pub memory_object_bytes: u64,
    /// The Alibaba CDN Type-A private key. When set, every object request needs a valid,
    /// unexpired `auth_key` query parameter (else 403).
    pub auth_key: Option<String>,
    /// How long an `auth_key` stays valid after its timestamp, in seconds.
    pub auth_ttl_secs: i64,
    /// The shared secret of the control API (`/_edge/purge`, `/_edge/preload`): requests
    /// carry an HMAC-SHA256 of their body with it. Empty: the control API refuses everything.
    pub control_secret: String,
    /// Largest distance between a control request's timestamp and this clock, in seconds.
    pub control_skew_secs: i64,
    /// Buckets the edge serves; empty means every bucket of the origin.
    pub buckets: Vec<String>,
    /// A cached copy older than this is checked against the origin (ETag) before it is
    /// served; 0 means never: copies live until purged or evicted, as on a CDN.
    pub revalidate_secs: u64,
    /// `Cache-Control` sent to players with 200/206/304 answers (empty: none).
    pub cache_control: String,
}

impl Default for EdgeConfig {
    fn default() -> Self {
        Self {
            addr: DEFAULT_EDGE_ADDR.into(),
            public_url: String::new(),
            cache_dir: PathBuf::new(),
            max_bytes: DEFAULT_MAX_BYTES,
            max_object_bytes: 0,
            memory_bytes: 256 << 20,
            memory_object_bytes: 8 << 20,
            auth_key: None,
            auth_ttl_secs: 1800,
            control_secret: String::new(),
            control_skew_secs: 300,
            buckets: Vec::new(),
            revalidate_secs: 0,
            cache_control: "public, max-age=3600".into(),
        }
    }
}

impl EdgeConfig {
    /// The cache directory: `cache_dir`, or `<data_dir>/edge-cache` when it is empty.
    pub fn cache_dir_in(&self, data_dir: &Path) -> PathBuf {
        if self.cache_dir.as_os_str().is_empty() {
            data_dir.join("edge-cache")
        } else {
            self.cache_dir.clone()
        }
    }

    /// The public base URL without a trailing slash.
    pub fn public_base(&self) -> String {
        if self.public_url.trim().is_empty() {
            format!("http://{}", self.addr)
        } else {
            self.public_url.trim().trim_end_matches('/').to_string()
        }
    }

    /// The largest object that is cached.
    pub fn object_limit(&self) -> u64 {
        let half = self.max_bytes / 2;
        if self.max_object_bytes == 0 {
            half
        } else {
            self.max_object_bytes.min(half)
        }
    }

    /// The play URL of an object on this edge (key segments percent-encoded, `/` kept).
    pub fn play_url(&self, bucket: &str, key: &str) -> String {
        format!(
            "{}/{}/{}",
            self.public_base(),
            bucket,
            vod_auth::percent::pop_encode_path(key)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_derived_values() {
        let c = EdgeConfig::default();
        assert_eq!(c.public_base(), "http://127.0.0.1:8090");
        assert_eq!(c.cache_dir_in(Path::new("/d")), PathBuf::from("/d/edge-cache"));
        assert_eq!(c.object_limit(), 5 << 30);
        let c = EdgeConfig {
            public_url: "https://cdn.example.com/".into(),
            cache_dir: "/c".into(),
            max_object_bytes: 100,
            ..EdgeConfig::default()
        };
        assert_eq!(c.public_base(), "https://cdn.example.com");
        assert_eq!(c.cache_dir_in(Path::new("/d")), PathBuf::from("/c"));
        assert_eq!(c.object_limit(), 100);
        assert_eq!(
            c.play_url("b", "video/a b/x.m3u8"),
            "https://cdn.example.com/b/video/a%20b/x.m3u8"
        );
    }
}
