//! [`BlobStore`]: immutable, opaque blobs on Apache OpenDAL — the local filesystem (default,
//! `<data_dir>/objects`) or an S3-compatible bucket (`s3://bucket/root?endpoint=…`).
//!
//! It is a concrete type rather than a trait: OpenDAL already is the backend abstraction, so
//! there is exactly one implementation and the same code runs under the contract suite on
//! every backend. Writes stream (never a whole body in memory) and hash MD5 and CRC-64 as
//! they go; reads stream a byte range.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use crate::running_md5::Md5Feed;
use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use opendal::{ErrorKind, HttpTransporter, OperationContext, Operator};

pub use crate::writer::{BlobWriter, Durability};

/// A stream of object bytes (what the HTTP layer sends as a body).
pub type ByteStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

/// Failures of the blob store.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob {0} not found")]
    NotFound(String),
    #[error("invalid storage URL: {0}")]
    InvalidUrl(String),
    #[error("storage backend: {0}")]
    Backend(String),
    /// The byte source of a write failed (the client went away, a read error upstream).
    #[error("reading the data to store: {0}")]
    Source(String),
    /// The byte source produced more than the writer's limit.
    #[error("more than {0} bytes")]
    TooLarge(u64),
}

impl BlobError {
    pub(crate) fn backend(path: &str, e: opendal::Error) -> Self {
        if e.kind() == ErrorKind::NotFound {
            Self::NotFound(path.to_string())
        } else {
            Self::Backend(e.to_string())
        }
    }
}

/// What a finished write stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteOutcome {
    pub size: u64,
    pub md5: [u8; 16],
    pub crc64: u64,
}

/// Size of a stored blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobMeta {
    pub size: u64,
}

/// Which backend a store writes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Fs,
    S3,
}

/// Where blobs live: an OpenDAL operator plus how to write to it.
#[derive(Clone)]
pub struct BlobStore {
    op: Operator,
    kind: BackendKind,
    describe: String,
    /// The filesystem root (fs backend only).
    fs_root: Option<PathBuf>,
}

impl std::fmt::Debug for BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobStore").field("backend", &self.describe).finish()
    }
}

/// Bytes handed on at once to a write's hashers and its sink (HTTP frames are batched
/// first); also the filesystem writer's write size.
const WRITE_BATCH: usize = 1 << 20;
/// S3 multipart chunk of the backend writer (S3's minimum part is 5 MiB) and how many
/// chunks may be in flight; bounds memory per write to about (1 + concurrency) chunks.
const S3_WRITE_CHUNK: usize = 8 << 20;
const S3_WRITE_CONCURRENCY: usize = 2;
/// Read granularity of ranged reads.
const READ_CHUNK: usize = 1 << 20;

impl BlobStore {
    /// Opens the store named by `url`; an empty URL means the filesystem at `default_fs_root`.
    ///
    /// * `fs:///abs/path`, `file:///abs/path` or a plain path: the local filesystem.
    /// * `s3://BUCKET[/ROOT]?endpoint=http://127.0.0.1:8333&region=us-east-1` with optional
    ///   `access_key_id`, `secret_access_key`, `session_token` (else `AWS_ACCESS_KEY_ID` /
    ///   `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN` from the environment) and
    ///   `virtual_host_style=true`. Path-style addressing by default; no cloud metadata or
    ///   config files are consulted.
    pub fn open(url: &str, default_fs_root: &Path) -> Result<Self, BlobError> {
        let url = url.trim();
        if url.is_empty() {
            return Self::fs(default_fs_root);
        }
        if let Some(rest) = url.strip_prefix("s3://") {
            return Self::s3(rest);
        }
        let path = url
            .strip_prefix("fs://")
            .or_else(|| url.strip_prefix("file://"))
            .unwrap_or(url);
        if path.contains("://") {
            return Err(BlobError::InvalidUrl(format!(
                "unsupported scheme in `{}`; use a path, fs:///path or s3://bucket?endpoint=...",
                mask(url)
            )));
        }
        if path.is_empty() {
            return Err(BlobError::InvalidUrl("empty filesystem path".into()));
        }
        Self::fs(Path::new(path))
    }

    /// The local filesystem under `root` (created when missing).
    pub fn fs(root: &Path) -> Result<Self, BlobError> {
        std::fs::create_dir_all(root)
            .map_err(|e| BlobError::Backend(format!("cannot create {}: {e}", root.display())))?;
        let root: PathBuf = std::fs::canonicalize(root)
            .map_err(|e| BlobError::Backend(format!("cannot resolve {}: {e}", root.display())))?;
        let builder = opendal::services::Fs::default().root(&root.to_string_lossy());
        let op = Operator::new(builder).map_err(|e| BlobError::Backend(e.to_string()))?;
        Ok(Self {
            op,
            kind: BackendKind::Fs,
            describe: format!("fs {}", root.display()),
            fs_root: Some(root),
        })
    }

    fn s3(rest: &str) -> Result<Self, BlobError> {
        let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (bucket, root) = location.split_once('/').unwrap_or((location, ""));
        if bucket.is_empty() {
            return Err(BlobError::InvalidUrl("s3:// URL without a bucket".into()));
        }
        let params: HashMap<String, String> = vod_auth::percent::form_decode_pairs(query).into_iter().collect();
        let known = [
            "endpoint",
            "region",
            "access_key_id",
            "secret_access_key",
            "session_token",
            "virtual_host_style",
        ];
        if let Some(unknown) = params.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(BlobError::InvalidUrl(format!(
                "unknown s3 URL parameter `{unknown}` (known: {})",
                known.join(", ")
            )));
        }
        let param = |name: &str, env: &str| {
            params
                .get(name)
                .cloned()
                .filter(|v| !v.is_empty())
                .or_else(|| std::env::var(env).ok().filter(|v| !v.is_empty()))
        };
        let region = params
            .get("region")
            .cloned()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "us-east-1".into());
        let mut builder = opendal::services::S3::default()
            .bucket(bucket)
            .root(&format!("/{}", root.trim_matches('/')))
            .region(&region)
            .disable_config_load()
            .disable_ec2_metadata();
        let endpoint = params.get("endpoint").cloned().unwrap_or_default();
        if !endpoint.is_empty() {
            if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
                return Err(BlobError::InvalidUrl(format!(
                    "endpoint `{endpoint}` needs http:// or https://"
                )));
            }
            builder = builder.endpoint(&endpoint);
        }
        match (
            param("access_key_id", "AWS_ACCESS_KEY_ID"),
            param("secret_access_key", "AWS_SECRET_ACCESS_KEY"),
        ) {
            (Some(ak), Some(sk)) => {
                builder = builder.access_key_id(&ak).secret_access_key(&sk);
                if let Some(token) = param("session_token", "AWS_SESSION_TOKEN") {
                    builder = builder.session_token(&token);
                }
            }
            (None, None) => builder = builder.skip_signature(),
            _ => {
                return Err(BlobError::InvalidUrl(
                    "give both access_key_id and secret_access_key (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
                        .into(),
                ));
            }
        }
        if params
            .get("virtual_host_style")
            .is_some_and(|v| v == "true" || v == "1")
        {
            builder = builder.enable_virtual_host_style();
        }
        // reqwest is built with rustls but no default crypto provider: install ring's unless
        // the process already chose one.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let transport = opendal_http_transport_reqwest::ReqwestTransport::default();
        // Transient failures (a pooled connection the server just closed, a 503) are retried
        // with backoff, as every S3 client does; written parts are kept until accepted.
        let op = Operator::new(builder)
            .map_err(|e| BlobError::Backend(e.to_string()))?
            .with_context(OperationContext::new().with_http_transport(HttpTransporter::new(transport)))
            .layer(opendal::layers::RetryLayer::new().with_jitter());
        let shown_endpoint = if endpoint.is_empty() {
            "AWS".to_string()
        } else {
            endpoint
        };
        Ok(Self {
            op,
            kind: BackendKind::S3,
            fs_root: None,
            describe: format!(
                "s3://{bucket}/{} at {shown_endpoint} ({region})",
                root.trim_matches('/')
            ),
        })
    }

    pub fn kind(&self) -> BackendKind {
        self.kind
    }

    /// A human description without secrets, for banners and logs.
    pub fn describe(&self) -> &str {
        &self.describe
    }

    /// Checks that the backend answers (for S3: the bucket exists and the keys work).
    pub async fn check(&self) -> Result<(), BlobError> {
        self.op.check().await.map_err(|e| BlobError::Backend(e.to_string()))
    }

    /// A fresh, unique blob name (`blobs/<xx>/<32 hex>`; the directory spreads files).
    pub fn new_blob_name() -> String {
        let id = uuid::Uuid::now_v7().simple().to_string();
        format!("blobs/{}/{id}", &id[30..])
    }

    /// Starts writing a new blob at `path`.
    pub async fn writer(&self, path: &str) -> Result<BlobWriter, BlobError> {
        self.writer_with(path, None).await
    }

    /// Starts writing a new blob at `path`; every byte also goes to `tee` (feeding a running
    /// MD5 of the caller).
    pub async fn writer_with(&self, path: &str, tee: Option<Md5Feed>) -> Result<BlobWriter, BlobError> {
        if let (BackendKind::Fs, Some(root)) = (self.kind, &self.fs_root) {
            return Ok(BlobWriter::fs(root.join(path), self.op.clone(), path, tee, WRITE_BATCH));
        }
        let inner = self
            .op
            .writer_with(path)
            .chunk(S3_WRITE_CHUNK)
            .concurrent(S3_WRITE_CONCURRENCY)
            .await
            .map_err(|e| BlobError::backend(path, e))?;
        Ok(BlobWriter::opendal(inner, self.op.clone(), path, tee, WRITE_BATCH))
    }

    /// Makes blobs written with [`Durability::Later`] durable (fsync on the filesystem, after
    /// checking each still holds its `(path, size)` bytes: a power cut may have cut one
    /// short; other backends store durably as they finish). A missing blob is `NotFound`.
    pub async fn sync(&self, blobs: &[(String, u64)]) -> Result<(), BlobError> {
        let Some(root) = &self.fs_root else { return Ok(()) };
        let files: Vec<(PathBuf, u64)> = blobs.iter().map(|(p, size)| (root.join(p), *size)).collect();
        tokio::task::spawn_blocking(move || {
            for (file, size) in &files {
                let failed = |e: std::io::Error| match e.kind() {
                    std::io::ErrorKind::NotFound => BlobError::NotFound(file.display().to_string()),
                    _ => BlobError::Backend(format!("fsync {}: {e}", file.display())),
                };
                let f = std::fs::File::open(file).map_err(failed)?;
                let len = f.metadata().map_err(failed)?.len();
                if len != *size {
                    return Err(BlobError::Backend(format!(
                        "{} holds {len} bytes, {size} were written",
                        file.display()
                    )));
                }
                f.sync_all().map_err(failed)?;
            }
            Ok(())
        })
        .await
        .map_err(|e| BlobError::Backend(format!("fsync task failed: {e}")))?
    }

    /// Writes everything `source` yields to a new blob at `path`, hashing as it goes; on any
    /// failure (including more than `limit` bytes) nothing is left at `path`. `tee`, feeding
    /// a running MD5 of the caller, is handed every byte.
    pub async fn put_stream<S, E>(
        &self,
        path: &str,
        source: S,
        limit: u64,
        tee: Option<Md5Feed>,
    ) -> Result<WriteOutcome, BlobError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        self.put_stream_with(path, source, limit, tee, Durability::Now).await
    }

    /// [`put_stream`](Self::put_stream) with a choice of when the blob must be durable.
    pub async fn put_stream_with<S, E>(
        &self,
        path: &str,
        source: S,
        limit: u64,
        tee: Option<Md5Feed>,
        durability: Durability,
    ) -> Result<WriteOutcome, BlobError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let mut writer = self.writer_with(path, tee).await?;
        writer.set_durability(durability);
        let mut source = std::pin::pin!(source);
        let result = async {
            while let Some(chunk) = source.next().await {
                let chunk = chunk.map_err(|e| BlobError::Source(e.to_string()))?;
                if writer.size() + chunk.len() as u64 > limit {
                    return Err(BlobError::TooLarge(limit));
                }
                writer.write(chunk).await?;
            }
            Ok(())
        }
        .await;
        match result {
            Ok(()) => writer.finish().await,
            Err(e) => {
                writer.abort().await;
                Err(e)
            }
        }
    }

    /// Streams bytes `range` of the blob at `path` (an empty range yields nothing).
    pub async fn read(&self, path: &str, range: Range<u64>) -> Result<ByteStream, BlobError> {
        if range.start >= range.end {
            return Ok(Box::pin(futures::stream::empty()));
        }
        let reader = self
            .op
            .reader_with(path)
            .chunk(READ_CHUNK)
            .await
            .map_err(|e| BlobError::backend(path, e))?;
        let stream = reader
            .into_bytes_stream(range)
            .await
            .map_err(|e| BlobError::backend(path, e))?;
        Ok(Box::pin(stream))
    }

    /// The whole blob in memory (tests and small blobs only).
    pub async fn read_all(&self, path: &str) -> Result<Vec<u8>, BlobError> {
        let buf = self.op.read(path).await.map_err(|e| BlobError::backend(path, e))?;
        Ok(buf.to_vec())
    }

    /// `None` when there is no blob at `path`.
    pub async fn stat(&self, path: &str) -> Result<Option<BlobMeta>, BlobError> {
        match self.op.stat(path).await {
            Ok(m) => Ok(Some(BlobMeta {
                size: m.content_length(),
            })),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(BlobError::Backend(e.to_string())),
        }
    }

    /// Deletes a blob; deleting a missing blob succeeds.
    pub async fn delete(&self, path: &str) -> Result<(), BlobError> {
        match self.op.delete(path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(BlobError::Backend(e.to_string())),
        }
    }

    /// Deletes blobs, logging (not failing on) individual errors; returns how many failed.
    pub async fn delete_all(&self, paths: &[String]) -> usize {
        let mut failed = 0;
        for p in paths {
            if let Err(e) = self.delete(p).await {
                tracing::warn!(blob = %p, error = %e, "could not delete an unreferenced blob");
                failed += 1;
            }
        }
        failed
    }

    /// Paths of all blobs under `prefix` (recursively), sorted.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, BlobError> {
        let lister = match self.op.lister_with(prefix).recursive(true).await {
            Ok(l) => l,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(BlobError::Backend(e.to_string())),
        };
        let mut out: Vec<String> = lister
            .try_filter(|e| std::future::ready(!e.path().ends_with('/')))
            .map_ok(|e| e.path().to_string())
            .try_collect()
            .await
            .map_err(|e| BlobError::Backend(e.to_string()))?;
        out.sort();
        Ok(out)
    }
}

/// `s3://…?secret_access_key=…` with the secret masked.
pub fn mask(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    let (head, query) = url.split_once('?').unwrap_or((url, ""));
    out.push_str(head);
    if !query.is_empty() {
        out.push('?');
        let masked: Vec<String> = query
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if k == "secret_access_key" || k == "session_token" => {
                    format!("{k}=********")
                }
                _ => kv.to_string(),
            })
            .collect();
        out.push_str(&masked.join("&"));
    }
    out
}
