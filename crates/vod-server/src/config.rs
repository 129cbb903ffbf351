//! The effective configuration: embedded defaults, then a TOML file, then `VODSTACK_*`
//! environment variables, then command-line flags (lowest to highest precedence).

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use vod_api::GatewayConfig;

/// Every setting of `vodstack`. Nested sections map to env vars with `__`
/// (e.g. `VODSTACK_GATEWAY__THROTTLE__ENABLED=false`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Where SQLite metadata and (later) objects live. `VODSTACK_DATA_DIR`, `--data-dir`.
    pub data_dir: PathBuf,
    /// The RPC gateway listener. `VODSTACK_API_ADDR`, `--api-addr`.
    pub api_addr: String,
    /// `sqlite://...` or `postgres://...`; empty = SQLite in the data directory.
    /// `VODSTACK_DATABASE_URL`, `--database-url`.
    pub database_url: String,
    /// Redis for cluster-wide throttling; empty = in-process. `VODSTACK_REDIS_URL`, `--redis-url`.
    pub redis_url: String,
    /// The root key; generated, persisted and printed once when unset.
    /// `VODSTACK_ROOT_ACCESS_KEY_ID`, `VODSTACK_ROOT_ACCESS_KEY_SECRET`.
    pub root_access_key_id: String,
    pub root_access_key_secret: String,
    /// Log filter (`RUST_LOG` syntax). `VODSTACK_LOG`.
    pub log: String,
    /// The OSS listener's public URL as clients reach it (`Endpoint` of UploadAddress);
    /// overrides `gateway.upload.endpoint` when set. `VODSTACK_OSS_PUBLIC_ENDPOINT`.
    pub oss_public_endpoint: String,
    /// The OSS-compatible listener (uploads). `VODSTACK_OSS_ADDR`. When left at the default
    /// and no public endpoint is set, an occupied port falls back to a free one (the upload
    /// endpoint follows); port 0 always picks a free one.
    pub oss_addr: String,
    /// Where object bytes live: empty = the filesystem under `<data_dir>/objects`;
    /// `fs:///path`, or `s3://bucket[/root]?endpoint=http://host:port&region=...` (keys from
    /// `access_key_id`/`secret_access_key` or `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`).
    /// `VODSTACK_STORAGE_URL`. The upload bucket is `gateway.upload.bucket`.
    pub storage_url: String,
    pub gateway: GatewayConfig,
    /// The job runtime of this node (`[jobs]`, e.g. `VODSTACK_JOBS__ENABLED=false`,
    /// `VODSTACK_JOBS__LEASE_SECS`, `VODSTACK_JOBS__WORKER_ID`); see `vod_jobs::JobsConfig`.
    pub jobs: vod_jobs::JobsConfig,
    /// Event callbacks: outbound address policy, timeouts, retry window (`[callbacks]`).
    pub callbacks: vod_callbacks::CallbacksConfig,
    /// URL pulls (UploadMediaByURL): size limit, timeouts, daily quota, origin address
    /// policy (`[url_upload]`, e.g. `VODSTACK_URL_UPLOAD__ALLOW_LOOPBACK=true`).
    pub url_upload: vod_core::model::url_upload::UrlUploadConfig,
    /// CDN refresh and preload (`[cdn]`: daily quotas, edge liveness, purge hooks for
    /// external caches, e.g. `VODSTACK_CDN__QUOTAS__URL_PER_DAY`).
    pub cdn: vod_cdn::CdnConfig,
    /// The playback edge listener (play URLs, covers, snapshots); overrides `edge.addr`
    /// (default 127.0.0.1:8090). `VODSTACK_EDGE_ADDR`.
    pub edge_addr: String,
    /// The edge's public base URL as players reach it (base of `OutputType=cdn` play URLs);
    /// overrides `edge.public_url` (empty: `http://<bound edge address>`).
    /// `VODSTACK_EDGE_PUBLIC_URL`.
    pub edge_public_url: String,
    /// Type-A URL authentication on the edge: the private key GetPlayInfo signs play URLs
    /// with; overrides `edge.auth_key` (empty: off). `VODSTACK_EDGE_AUTH_KEY`.
    pub edge_auth_key: String,
    /// The playback edge (`[edge]`: `enabled`, `control_url`, `max_bytes`, `cache_dir`, ...).
    pub edge: crate::edge::EdgeSection,
    /// Processing jobs: ffmpeg, presets, timeouts, concurrency, covers (`[processing]`, e.g.
    /// `VODSTACK_PROCESSING__PRESET=fast`).
    pub processing: vod_processing::ProcessingConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./vodstack-data"),
            api_addr: "127.0.0.1:8080".into(),
            database_url: String::new(),
            redis_url: String::new(),
            root_access_key_id: String::new(),
            root_access_key_secret: String::new(),
            log: "info".into(),
            oss_public_endpoint: String::new(),
            oss_addr: DEFAULT_OSS_ADDR.into(),
            storage_url: String::new(),
            gateway: GatewayConfig::default(),
            jobs: vod_jobs::JobsConfig::default(),
            callbacks: vod_callbacks::CallbacksConfig::default(),
            url_upload: Default::default(),
            cdn: Default::default(),
            edge_addr: String::new(),
            edge_public_url: String::new(),
            edge_auth_key: String::new(),
            edge: Default::default(),
            processing: Default::default(),
        }
    }
}

/// The default OSS listener address.
pub const DEFAULT_OSS_ADDR: &str = "127.0.0.1:9000";
pub use vod_edge::DEFAULT_EDGE_ADDR;

/// Values given on the command line (only those present override).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_addr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_url: Option<String>,
}

impl Config {
    /// Loads defaults ← TOML (`file`, else `VODSTACK_CONFIG`, else `./vodstack.toml` if present)
    /// ← environment ← flags.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> anyhow::Result<Self> {
        let file = file
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("VODSTACK_CONFIG").map(PathBuf::from))
            .or_else(|| Some(PathBuf::from("vodstack.toml")).filter(|p| p.exists()));
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = &file {
            if !path.exists() {
                anyhow::bail!("configuration file {} does not exist", path.display());
            }
            fig = fig.merge(Toml::file(path));
        }
        fig = fig
            .merge(
                Env::prefixed("VODSTACK_")
                    .split("__")
                    .ignore(&["config", "test_database_url"]),
            )
            .merge(Serialized::globals(overrides));
        let mut cfg: Config = fig.extract()?;
        cfg.callbacks.policy().map_err(|e| anyhow::anyhow!("[callbacks] {e}"))?;
        if !cfg.oss_public_endpoint.is_empty() {
            cfg.gateway.upload.endpoint = cfg.oss_public_endpoint.clone();
        } else if cfg.gateway.upload.endpoint == vod_core::service::media::MediaConfig::default().endpoint {
            // No public endpoint anywhere: clients reach the OSS listener where it listens.
            cfg.gateway.upload.endpoint = format!("http://{}", cfg.oss_addr);
        }
        let edge = &mut cfg.edge.settings;
        if !cfg.edge_addr.is_empty() {
            edge.addr = cfg.edge_addr.clone();
        }
        if !cfg.edge_public_url.is_empty() {
            edge.public_url = cfg.edge_public_url.clone();
        }
        if !cfg.edge_auth_key.is_empty() {
            edge.auth_key = Some(cfg.edge_auth_key.clone());
        }
        cfg.gateway.upload.play_base_url = edge.public_base();
        cfg.gateway.upload.play_auth_key = edge.auth_key.clone().unwrap_or_default();
        cfg.gateway.upload.play_auth_ttl_secs = edge.auth_ttl_secs;
        if !cfg.redis_url.is_empty() {
            cfg.gateway.throttle.redis_url = Some(cfg.redis_url.clone());
        }
        Ok(cfg)
    }

    /// The metadata URL in effect (SQLite inside the data directory by default).
    pub fn effective_database_url(&self) -> String {
        if self.database_url.is_empty() {
            format!("sqlite://{}", self.data_dir.join("meta.db").display())
        } else {
            self.database_url.clone()
        }
    }

    /// The configured root key, when both halves are set.
    pub fn root_key(&self) -> Option<(&str, &str)> {
        match (self.root_access_key_id.as_str(), self.root_access_key_secret.as_str()) {
            ("", _) | (_, "") => None,
            (id, secret) => Some((id, secret)),
        }
    }

    /// The configuration as TOML with secrets and URL passwords masked.
    pub fn dump(&self) -> anyhow::Result<String> {
        let mut shown = self.clone();
        if !shown.root_access_key_secret.is_empty() {
            shown.root_access_key_secret = "********".into();
        }
        if !shown.edge_auth_key.is_empty() {
            shown.edge_auth_key = "********".into();
        }
        if shown.edge.settings.auth_key.is_some() {
            shown.edge.settings.auth_key = Some("********".into());
            shown.gateway.upload.play_auth_key = "********".into();
        }
        shown.database_url = mask_url_password(&self.effective_database_url());
        shown.redis_url = mask_url_password(&shown.redis_url);
        shown.storage_url = vod_blob::mask(&mask_url_password(&shown.storage_url));
        if let Some(r) = &shown.gateway.throttle.redis_url {
            shown.gateway.throttle.redis_url = Some(mask_url_password(r));
        }
        Ok(toml::to_string_pretty(&shown)?)
    }
}

/// `scheme://user:secret@host` → `scheme://user:********@host`.
pub fn mask_url_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let Some(at) = rest.find('@') else {
        return url.to_string();
    };
    let userinfo = &rest[..at];
    match userinfo.find(':') {
        Some(colon) => format!(
            "{}://{}:********{}",
            &url[..scheme_end],
            &userinfo[..colon],
            &rest[at..]
        ),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_passwords() {
        assert_eq!(
            mask_url_password("postgres://u:pw@h:5432/db"),
            "postgres://u:********@h:5432/db"
        );
        assert_eq!(mask_url_password("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(mask_url_password("redis://:pw@h"), "redis://:********@h");
        assert_eq!(mask_url_password(""), "");
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment::Jail's closure signature is fixed
    fn callbacks_section_from_toml_and_env() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("v.toml");
        std::fs::write(
            &file,
            "[callbacks]\nretry_for_secs = 60\nallow_cidrs = [\"10.1.0.0/16\"]\n",
        )
        .unwrap();
        figment::Jail::expect_with(|jail| {
            let cfg = Config::load(None, &Overrides::default()).unwrap();
            assert!(!cfg.callbacks.allow_loopback, "loopback is refused by default");
            assert_eq!(cfg.callbacks.retry_for_secs, 86_400);
            jail.set_env("VODSTACK_CALLBACKS__ALLOW_LOOPBACK", "true");
            let cfg = Config::load(Some(&file), &Overrides::default()).unwrap();
            assert!(cfg.callbacks.allow_loopback);
            assert_eq!(cfg.callbacks.retry_for_secs, 60);
            assert_eq!(cfg.callbacks.allow_cidrs, vec!["10.1.0.0/16".to_string()]);
            std::fs::write(&file, "[callbacks]\nallow_cidrs = [\"not-a-range\"]\n").unwrap();
            let err = Config::load(Some(&file), &Overrides::default()).unwrap_err();
            assert!(err.to_string().contains("[callbacks]"), "{err}");
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment::Jail's closure signature is fixed
    fn oss_public_endpoint_sets_the_upload_endpoint() {
        figment::Jail::expect_with(|jail| {
            let cfg = Config::load(None, &Overrides::default()).unwrap();
            assert_eq!(cfg.gateway.upload.endpoint, "http://127.0.0.1:9000");
            assert_eq!(cfg.gateway.upload.credential_ttl_secs, 3000);
            jail.set_env("VODSTACK_OSS_PUBLIC_ENDPOINT", "http://oss.example:9000");
            jail.set_env("VODSTACK_GATEWAY__UPLOAD__BUCKET", "outin-mine");
            let cfg = Config::load(None, &Overrides::default()).unwrap();
            assert_eq!(cfg.gateway.upload.endpoint, "http://oss.example:9000");
            assert_eq!(cfg.gateway.upload.bucket, "outin-mine");
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment::Jail's closure signature is fixed
    fn oss_addr_and_storage_url() {
        figment::Jail::expect_with(|jail| {
            let cfg = Config::load(None, &Overrides::default()).unwrap();
            assert_eq!(cfg.oss_addr, "127.0.0.1:9000");
            assert_eq!(cfg.storage_url, "");
            jail.set_env("VODSTACK_OSS_ADDR", "127.0.0.1:9100");
            jail.set_env(
                "VODSTACK_STORAGE_URL",
                "s3://b?endpoint=http://127.0.0.1:1&secret_access_key=SECRET",
            );
            let cfg = Config::load(None, &Overrides::default()).unwrap();
            assert_eq!(cfg.oss_addr, "127.0.0.1:9100");
            assert_eq!(
                cfg.gateway.upload.endpoint, "http://127.0.0.1:9100",
                "the upload endpoint follows the listener"
            );
            assert!(!cfg.dump().unwrap().contains("SECRET"));
            jail.set_env("VODSTACK_OSS_PUBLIC_ENDPOINT", "http://oss.example:80");
            let cfg = Config::load(None, &Overrides::default()).unwrap();
            assert_eq!(cfg.gateway.upload.endpoint, "http://oss.example:80");
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment::Jail's closure signature is fixed
    fn precedence_file_env_flags() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("v.toml");
        std::fs::write(
            &file,
            "api_addr = \"127.0.0.1:1111\"\ndata_dir = \"/from/file\"\n[gateway]\nmax_clock_skew_secs = 60\n",
        )
        .unwrap();
        figment::Jail::expect_with(|jail| {
            jail.set_env("VODSTACK_DATA_DIR", "/from/env");
            jail.set_env("VODSTACK_GATEWAY__THROTTLE__ENABLED", "false");
            let cfg = Config::load(Some(&file), &Overrides::default()).unwrap();
            assert_eq!(cfg.api_addr, "127.0.0.1:1111");
            assert_eq!(cfg.data_dir, PathBuf::from("/from/env"));
            assert_eq!(cfg.gateway.max_clock_skew_secs, 60);
            assert!(!cfg.gateway.throttle.enabled);
            let flags = Overrides {
                data_dir: Some("/from/flag".into()),
                ..Default::default()
            };
            let cfg = Config::load(Some(&file), &flags).unwrap();
            assert_eq!(cfg.data_dir, PathBuf::from("/from/flag"));
            Ok(())
        });
    }
}
