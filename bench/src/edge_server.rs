//! The edge under test, run as a child of the bench (`vodstack-bench edge-server`): a
//! vod-blob object store (filesystem blobs + SQLite metadata, as `vodstack serve` opens
//! them) with the files of `--import` stored as objects, and a vod-edge in front of it on
//! the multi-thread tokio runtime. Stops on SIGTERM. (Once `vodstack serve` starts the
//! edge listener itself, the case can run the real binary instead.)

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;
use clap::Args;
use tokio::io::AsyncReadExt;
use vod_blob::{BlobStore, ObjectStore, ObjectWrite};
use vod_edge::{EdgeConfig, ObjectStoreOrigin};

/// Options of the hidden `edge-server` subcommand.
#[derive(Debug, Clone, Args)]
pub struct EdgeServerArgs {
    #[arg(long)]
    pub addr: String,
    /// Object store, metadata and cache live here.
    #[arg(long)]
    pub dir: PathBuf,
    /// Every file in this directory becomes the object `<bucket>/<file name>`.
    #[arg(long)]
    pub import: Option<PathBuf>,
    #[arg(long, default_value = "bench")]
    pub bucket: String,
    #[arg(long)]
    pub secret: String,
    #[arg(long, default_value_t = 8 << 30)]
    pub max_bytes: u64,
    /// The edge's memory tier in bytes (default: the edge's default; 0 turns it off).
    #[arg(long)]
    pub memory_bytes: Option<u64>,
}

pub async fn serve(args: EdgeServerArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.dir)?;
    let db_url = format!("sqlite://{}", args.dir.join("meta.db").display());
    let meta = vod_db::open(&db_url).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let blobs = BlobStore::fs(&args.dir.join("objects")).map_err(|e| anyhow::anyhow!("{e}"))?;
    let objects = Arc::new(ObjectStore::new(blobs, meta));
    if let Some(src) = &args.import {
        for entry in std::fs::read_dir(src)? {
            let path = entry?.path();
            if path.is_file() {
                import(&objects, &args.bucket, &path).await?;
            }
        }
    }
    let mut config = EdgeConfig {
        addr: args.addr.clone(),
        cache_dir: args.dir.join("edge-cache"),
        max_bytes: args.max_bytes,
        control_secret: args.secret.clone(),
        ..EdgeConfig::default()
    };
    if let Some(m) = args.memory_bytes {
        config.memory_bytes = m;
    }
    let listener = tokio::net::TcpListener::bind(&args.addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let origin = Arc::new(ObjectStoreOrigin::new(objects));
    vod_edge::serve(listener, config, origin, async move {
        term.recv().await;
    })
    .await?;
    Ok(())
}

/// Streams a file into the object store as `<bucket>/<file name>`.
async fn import(objects: &ObjectStore, bucket: &str, path: &Path) -> anyhow::Result<()> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .context("file names must be UTF-8")?;
    let file = tokio::fs::File::open(path).await?;
    let body = futures_stream(file);
    let w = ObjectWrite {
        bucket: bucket.into(),
        key: name.into(),
        account_id: "bench".into(),
        content_type: "application/octet-stream".into(),
        media_id: None,
    };
    objects
        .put_object(&w, None, body)
        .await
        .map_err(|e| anyhow::anyhow!("importing {}: {e}", path.display()))?;
    Ok(())
}

fn futures_stream(file: tokio::fs::File) -> impl futures::Stream<Item = std::io::Result<Bytes>> + Send {
    futures::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buf = vec![0u8; 1 << 20];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), Some(file)))
            }
            Err(e) => Some((Err(e), None)),
        }
    })
}
