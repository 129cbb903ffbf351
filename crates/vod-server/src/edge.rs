//! The playback edge of `vodstack serve` (`vod-edge`): bind (a taken default port falls back
//! to a free one, and play URLs follow unless a public URL is configured), open the disk
//! cache over the object store, serve, stop. The control secret that refresh/preload jobs
//! sign with is derived from the cluster master key, so every node shares it.

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use vod_core::ports::MetaStore;
use vod_edge::{Edge, EdgeConfig, ObjectStoreOrigin};

use crate::config::{Config, DEFAULT_EDGE_ADDR};

/// How long in-flight playback requests may run on after SIGINT/SIGTERM.
const DRAIN: Duration = Duration::from_secs(5);

/// The label of the edges' control secret (see `vod_auth::derive_secret`).
pub const CONTROL_SECRET_LABEL: &str = "vodstack edge control v1";

/// The control secret every node's edge and refresh jobs share.
pub fn control_secret(master_key: &[u8]) -> String {
    vod_auth::derive_secret(master_key, CONTROL_SECRET_LABEL)
}

/// Binds the edge listener (`edge.addr`). Play URLs (`gateway.upload.play_base_url`)
/// follow the bound address unless `edge.public_url` is set.
pub async fn bind(config: &mut Config) -> anyhow::Result<Option<TcpListener>> {
    if !config.edge.enabled {
        return Ok(None);
    }
    let addr = config.edge.settings.addr.clone();
    let follows_bind = config.edge.settings.public_url.trim().is_empty();
    let listener = match TcpListener::bind(&addr).await {
        Ok(l) => l,
        Err(e) if follows_bind && addr == DEFAULT_EDGE_ADDR => {
            tracing::warn!(error = %e, "{DEFAULT_EDGE_ADDR} is taken; the edge uses a free port instead");
            TcpListener::bind("127.0.0.1:0").await?
        }
        Err(e) => anyhow::bail!("cannot listen on {addr} (edge): {e}"),
    };
    if follows_bind {
        config.gateway.upload.play_base_url = format!("http://{}", listener.local_addr()?);
    }
    Ok(Some(listener))
}

/// A running edge.
pub struct Running {
    pub addr: SocketAddr,
    edge: Arc<Edge>,
    stop: watch::Sender<bool>,
    server: JoinHandle<std::io::Result<()>>,
}

/// Opens the cache and serves the edge on `listener`.
pub async fn start(
    listener: TcpListener,
    config: &Config,
    store: Arc<dyn MetaStore>,
    master_key: &[u8],
) -> anyhow::Result<Running> {
    let objects = crate::oss::open_objects(config, store).await?;
    let mut edge_config: EdgeConfig = config.edge.settings.clone();
    edge_config.addr = listener.local_addr()?.to_string();
    edge_config.public_url = config.gateway.upload.play_base_url.clone();
    edge_config.cache_dir = edge_config.cache_dir_in(&config.data_dir);
    edge_config.control_secret = control_secret(master_key);
    let edge = Edge::open(edge_config, Arc::new(ObjectStoreOrigin::new(objects)))
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the edge cache: {e}"))?;
    let addr = listener.local_addr()?;
    let (stop, mut stopped) = watch::channel(false);
    let server = tokio::spawn(vod_edge::serve_edge(listener, edge.clone(), async move {
        let _ = stopped.wait_for(|s| *s).await;
    }));
    Ok(Running {
        addr,
        edge,
        stop,
        server,
    })
}

impl Running {
    /// The URL other nodes reach this edge's control API at.
    pub fn control_url(&self, config: &Config) -> String {
        if config.edge.control_url.trim().is_empty() {
            format!("http://{}", self.addr)
        } else {
            config.edge.control_url.trim().trim_end_matches('/').to_string()
        }
    }

    pub fn stopper(&self) -> watch::Sender<bool> {
        self.stop.clone()
    }

    /// Stops accepting and lets in-flight requests finish (at most 5 s).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let mut server = self.server;
        match tokio::time::timeout(DRAIN, &mut server).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => tracing::error!(error = %e, "the edge listener failed"),
            Ok(Err(e)) => tracing::error!(error = %e, "the edge listener ended abnormally"),
            Err(_) => server.abort(),
        }
    }

    /// The `  edge ...` banner line.
    pub fn print_line(&self) {
        let c = self.edge.config();
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "  edge       http://{}   (play URLs {}/<bucket>/<key>; cache {} up to {} MiB{})",
            self.addr,
            c.public_base(),
            c.cache_dir.display(),
            c.max_bytes >> 20,
            if c.auth_key.is_some() {
                "; Type-A URL auth on"
            } else {
                ""
            }
        );
        let _ = out.flush();
    }
}

/// The `[edge]` section: whether this node runs an edge, how other nodes reach its control
/// API, and the edge's own settings (`vod_edge::EdgeConfig`, flattened: `addr`,
/// `public_url`, `auth_key`, `max_bytes`, `cache_dir`, ...). The top-level `edge_addr`,
/// `edge_public_url` and `edge_auth_key` (`VODSTACK_EDGE_ADDR`, ...) override the first three;
/// `control_secret` is always derived from the cluster master key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct EdgeSection {
    pub enabled: bool,
    /// The control URL other nodes use (empty: `http://<bound address>`).
    pub control_url: String,
    #[serde(flatten)]
    pub settings: EdgeConfig,
}

impl Default for EdgeSection {
    fn default() -> Self {
        Self {
            enabled: true,
            control_url: String::new(),
            settings: EdgeConfig::default(),
        }
    }
}
