//! The OSS-compatible listener of `vodstack serve` (bind, object storage, start, stop) and
//! the diagnostic `vodstack oss credential` command.

use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

use clap::Subcommand;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use vod_blob::{BlobStore, ObjectStore};
use vod_core::ports::MetaStore;
use vod_core::uploads::UploadEvents;
use vod_oss::{CredentialScope, OssConfig, OssService, UploadTarget};

use crate::config::{Config, DEFAULT_OSS_ADDR};

/// How long in-flight OSS requests may run on after SIGINT/SIGTERM.
const DRAIN: Duration = Duration::from_secs(10);

/// Binds the OSS listener. With the default address taken and no public endpoint
/// configured, a free port is used instead (a second local node just works); the upload
/// endpoint (`gateway.upload.endpoint`) follows the bound address unless a public endpoint
/// was configured.
pub async fn bind(config: &mut Config) -> anyhow::Result<TcpListener> {
    let derived = format!("http://{}", config.oss_addr);
    let follows_bind = config.oss_public_endpoint.is_empty() && config.gateway.upload.endpoint == derived;
    let listener = match TcpListener::bind(&config.oss_addr).await {
        Ok(l) => l,
        Err(e) if follows_bind && config.oss_addr == DEFAULT_OSS_ADDR => {
            tracing::warn!(error = %e, "{DEFAULT_OSS_ADDR} is taken; the OSS listener uses a free port instead");
            TcpListener::bind("127.0.0.1:0").await?
        }
        Err(e) => anyhow::bail!("cannot listen on {} (OSS): {e}", config.oss_addr),
    };
    if follows_bind {
        config.gateway.upload.endpoint = format!("http://{}", listener.local_addr()?);
    }
    Ok(listener)
}

/// The object store named by the configuration (checked to answer).
pub async fn open_objects(config: &Config, store: Arc<dyn MetaStore>) -> anyhow::Result<Arc<ObjectStore>> {
    let blobs = BlobStore::open(&config.storage_url, &config.data_dir.join("objects"))
        .map_err(|e| anyhow::anyhow!("object storage: {e}"))?;
    blobs
        .check()
        .await
        .map_err(|e| anyhow::anyhow!("object storage {} does not answer: {e}", blobs.describe()))?;
    Ok(Arc::new(ObjectStore::new(blobs, store)))
}

pub fn oss_config(config: &Config) -> OssConfig {
    OssConfig {
        bucket: config.gateway.upload.bucket.clone(),
        region: config.gateway.region_id.clone(),
        public_endpoint: config.gateway.upload.endpoint.clone(),
        max_clock_skew_secs: config.gateway.max_clock_skew_secs,
        ..OssConfig::default()
    }
}

/// A running OSS listener.
pub struct Running {
    pub addr: std::net::SocketAddr,
    pub service: Arc<OssService>,
    stop: watch::Sender<bool>,
    server: JoinHandle<std::io::Result<()>>,
    sweeper: JoinHandle<()>,
}

/// Starts serving OSS on `listener` with the completion sweeper.
pub async fn start(
    listener: TcpListener,
    config: &Config,
    store: Arc<dyn MetaStore>,
    master_key: Vec<u8>,
    events: Arc<dyn UploadEvents>,
) -> anyhow::Result<Running> {
    let objects = open_objects(config, store).await?;
    let service = Arc::new(OssService::new(oss_config(config), objects, events, master_key));
    let addr = listener.local_addr()?;
    let (stop, mut stopped) = watch::channel(false);
    let app = vod_oss::router(service.clone());
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.wait_for(|s| *s).await;
            })
            .await
    });
    let sweeper = service.spawn_sweeper();
    Ok(Running {
        addr,
        service,
        stop,
        server,
        sweeper,
    })
}

impl Running {
    /// A handle that makes the listener stop accepting (call it with the other listeners).
    pub fn stopper(&self) -> watch::Sender<bool> {
        self.stop.clone()
    }

    /// Stops accepting, lets in-flight requests finish (at most 10 s) and stops the sweeper.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        self.sweeper.abort();
        let mut server = self.server;
        match tokio::time::timeout(DRAIN, &mut server).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => tracing::error!(error = %e, "the OSS listener failed"),
            Ok(Err(e)) => tracing::error!(error = %e, "the OSS listener ended abnormally"),
            Err(_) => {
                tracing::warn!(
                    "OSS requests still running after {} s; cutting them off",
                    DRAIN.as_secs()
                );
                server.abort();
            }
        }
    }

    /// The `  OSS ...` banner line.
    pub fn print_line(&self) {
        let c = self.service.config();
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "  OSS        http://{}   (bucket {}, public endpoint {}; objects in {})",
            self.addr,
            c.bucket,
            c.public_endpoint,
            self.service.objects().blobs().describe()
        );
        let _ = out.flush();
    }
}

#[derive(Debug, Subcommand)]
pub enum OssCommand {
    /// Print an UploadAddress/UploadAuth-shaped JSON with a temporary credential scoped to
    /// one key (or prefix) of the upload bucket (diagnostics and tests).
    #[command(hide = true)]
    Credential {
        /// The object key the credential may write and read.
        #[arg(long)]
        key: Option<String>,
        /// A key prefix the credential may write and read (e.g. HLS slices).
        #[arg(long)]
        prefix: Option<String>,
        /// Lifetime in seconds; 0 or negative issues an already expired credential.
        #[arg(long, default_value_t = 3000, allow_negative_numbers = true)]
        duration_seconds: i64,
    },
}

pub async fn run(config: &Config, command: OssCommand) -> anyhow::Result<()> {
    match command {
        OssCommand::Credential {
            key,
            prefix,
            duration_seconds,
        } => {
            if key.is_none() && prefix.is_none() {
                anyhow::bail!("give --key or --prefix (or both)");
            }
            if config.database_url.is_empty() {
                std::fs::create_dir_all(&config.data_dir)?;
            }
            let store = crate::serve::open_store(&config.effective_database_url()).await?;
            let boot = vod_core::service::identity::bootstrap(store.as_ref(), config.root_key()).await?;
            let target = UploadTarget::new(
                &config.gateway.upload.endpoint,
                &config.gateway.upload.bucket,
                &config.gateway.region_id,
                boot.master_key.clone(),
            );
            let now = vod_core::now_ms() / 1000;
            // A non-positive lifetime yields a credential that expired a moment ago.
            let (ttl, issued_at) = if duration_seconds > 0 {
                (duration_seconds, now)
            } else {
                (1, now - 2)
            };
            let scope = CredentialScope {
                key: key.clone(),
                prefix: prefix.clone(),
                ..Default::default()
            };
            let cred = target.issue(&boot.account.id, "root", &scope, ttl, issued_at);
            let mut out = target.upload_auth(&cred);
            let address = target.upload_address(key.as_deref().unwrap_or_default(), prefix.as_deref());
            if let (Some(o), Some(a)) = (out.as_object_mut(), address.as_object()) {
                for (k, v) in a {
                    o.insert(k.clone(), v.clone());
                }
            }
            println!("{}", serde_json::to_string_pretty(&out)?);
            Ok(())
        }
    }
}
