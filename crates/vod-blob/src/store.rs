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

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt, TryStreamExt};
use md5::{Digest as _, Md5};
use opendal::{ErrorKind, HttpTransporter, OperationContext, Operator};
use vod_auth::crc64::Crc64;

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
    fn backend(path: &str, e: opendal::Error) -> Self {
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

/// Bytes handed to the filesystem writer at once (small HTTP frames are gathered first).
const FS_WRITE_CHUNK: usize = 1 << 20;
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
        let op = Operator::new(builder)
            .map_err(|e| BlobError::Backend(e.to_string()))?
            .with_context(OperationContext::new().with_http_transport(HttpTransporter::new(transport)));
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

    /// Starts writing a new blob at `path`; every byte also goes into `extra` (a running
    /// MD5 the caller continues, handed back by [`BlobWriter::finish`]).
    pub async fn writer_with(&self, path: &str, extra: Option<Md5>) -> Result<BlobWriter, BlobError> {
        let inner = match self.kind {
            BackendKind::Fs => self.op.writer(path).await,
            BackendKind::S3 => {
                self.op
                    .writer_with(path)
                    .chunk(S3_WRITE_CHUNK)
                    .concurrent(S3_WRITE_CONCURRENCY)
                    .await
            }
        }
        .map_err(|e| BlobError::backend(path, e))?;
        Ok(BlobWriter {
            inner,
            op: self.op.clone(),
            path: path.to_string(),
            md5: Md5Stream::Inline(Md5::new()),
            extra: extra.map(Md5Stream::Inline),
            crc: Crc64::new(),
            size: 0,
            pending: Vec::new(),
            gathered: BytesMut::new(),
            pending_len: 0,
            gather: if self.kind == BackendKind::Fs {
                FS_WRITE_CHUNK
            } else {
                0
            },
            fs_file: self.fs_root.as_ref().map(|r| r.join(path)),
            synced: 0,
            sync_task: None,
        })
    }

    /// Writes everything `source` yields to a new blob at `path`, hashing as it goes; on any
    /// failure (including more than `limit` bytes) nothing is left at `path`. `extra`, a
    /// running MD5 of the caller, is continued with every byte and handed back.
    pub async fn put_stream<S, E>(
        &self,
        path: &str,
        source: S,
        limit: u64,
        extra: Option<Md5>,
    ) -> Result<(WriteOutcome, Option<Md5>), BlobError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let mut writer = self.writer_with(path, extra).await?;
        let mut source = std::pin::pin!(source);
        let result = async {
            while let Some(chunk) = source.next().await {
                let chunk = chunk.map_err(|e| BlobError::Source(e.to_string()))?;
                if writer.size + chunk.len() as u64 > limit {
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

/// Bodies larger than this have their MD5s computed on blocking threads of their own (one
/// per hash), in parallel with receiving, CRC and writing; smaller ones inline.
const OFFLOAD_HASH_AFTER: u64 = 4 << 20;
/// Chunks queued for an offloaded hasher (bounds memory, gives back-pressure).
const HASH_QUEUE: usize = 16;
/// On the filesystem, writeback of dirty pages is started (from a helper thread) after every
/// this many bytes, so the disk works while the body is still arriving instead of all at
/// the final fsync.
const FS_SYNC_EVERY: u64 = 8 << 20;

/// An MD5 that moves to a blocking thread of its own once the body gets large.
enum Md5Stream {
    Inline(Md5),
    Thread {
        tx: tokio::sync::mpsc::Sender<Bytes>,
        join: tokio::task::JoinHandle<Md5>,
    },
}

impl Md5Stream {
    async fn update(&mut self, chunk: &Bytes, offload: bool) {
        match self {
            Md5Stream::Inline(m) if !offload => m.update(chunk),
            Md5Stream::Inline(m) => {
                let mut md5 = std::mem::take(m);
                let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(HASH_QUEUE);
                let join = tokio::task::spawn_blocking(move || {
                    while let Some(b) = rx.blocking_recv() {
                        md5.update(&b);
                    }
                    md5
                });
                let _ = tx.send(chunk.clone()).await;
                *self = Md5Stream::Thread { tx, join };
            }
            Md5Stream::Thread { tx, .. } => {
                let _ = tx.send(chunk.clone()).await;
            }
        }
    }

    async fn finish(self) -> Result<Md5, BlobError> {
        match self {
            Md5Stream::Inline(m) => Ok(m),
            Md5Stream::Thread { tx, join } => {
                drop(tx);
                join.await
                    .map_err(|e| BlobError::Backend(format!("hashing thread failed: {e}")))
            }
        }
    }
}

/// An in-progress blob write that hashes MD5 and CRC-64 incrementally (and optionally a
/// second, caller-supplied running MD5). Call [`finish`](Self::finish) to make it durable or
/// [`abort`](Self::abort) to drop it.
pub struct BlobWriter {
    inner: opendal::Writer,
    op: Operator,
    path: String,
    md5: Md5Stream,
    extra: Option<Md5Stream>,
    crc: Crc64,
    size: u64,
    /// Frames waiting for the backend writer (S3: handed over as they are).
    pending: Vec<Bytes>,
    /// Filesystem: frames copied into one buffer until `gather` bytes.
    gathered: BytesMut,
    pending_len: usize,
    gather: usize,
    /// The file behind the writer (filesystem only), for early flushes.
    fs_file: Option<PathBuf>,
    synced: u64,
    sync_task: Option<tokio::task::JoinHandle<()>>,
}

impl BlobWriter {
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Bytes accepted so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    pub async fn write(&mut self, chunk: Bytes) -> Result<(), BlobError> {
        if chunk.is_empty() {
            return Ok(());
        }
        let offload = self.size + chunk.len() as u64 > OFFLOAD_HASH_AFTER;
        self.md5.update(&chunk, offload).await;
        if let Some(extra) = self.extra.as_mut() {
            extra.update(&chunk, offload).await;
        }
        self.crc.update(&chunk);
        self.size += chunk.len() as u64;
        self.pending_len += chunk.len();
        if self.gather > 0 {
            // Filesystem: one contiguous buffer per write, so each write is one hand-off to
            // the file's blocking thread instead of one per network frame.
            if self.gathered.capacity() == 0 {
                self.gathered = BytesMut::with_capacity(self.gather);
            }
            self.gathered.extend_from_slice(&chunk);
        } else {
            self.pending.push(chunk);
        }
        if self.pending_len >= self.gather {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), BlobError> {
        if !self.gathered.is_empty() {
            self.pending.push(std::mem::take(&mut self.gathered).freeze());
        }
        if self.pending.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.pending);
        self.pending_len = 0;
        self.inner
            .write(batch)
            .await
            .map_err(|e| BlobError::backend(&self.path, e))?;
        self.early_sync();
        Ok(())
    }

    /// Starts flushing the file's dirty pages when enough were written since the last time
    /// and no flush is running (never waits).
    fn early_sync(&mut self) {
        let Some(file) = &self.fs_file else { return };
        if self.size - self.synced < FS_SYNC_EVERY || self.sync_task.as_ref().is_some_and(|t| !t.is_finished()) {
            return;
        }
        self.synced = self.size;
        let file = file.clone();
        let upto = self.size;
        self.sync_task = Some(tokio::task::spawn_blocking(move || {
            if let Ok(f) = std::fs::File::open(&file) {
                // POSIX_FADV_DONTNEED starts writeback of the range's dirty pages (without
                // waiting for it or committing the journal, unlike fdatasync) and drops the
                // pages already clean; the final fsync then finds little left to write.
                let _ = rustix::fs::fadvise(&f, 0, std::num::NonZeroU64::new(upto), rustix::fs::Advice::DontNeed);
            }
        }));
    }

    /// Flushes, makes the blob durable (fsync on the filesystem) and returns its digests
    /// (and the caller's running MD5, updated with every byte).
    pub async fn finish(mut self) -> Result<(WriteOutcome, Option<Md5>), BlobError> {
        let flushed = self.flush().await;
        if let Err(e) = flushed {
            self.abort().await;
            return Err(e);
        }
        if let Some(t) = self.sync_task.take() {
            let _ = t.await;
        }
        if let Err(e) = self.inner.close().await {
            let e = BlobError::backend(&self.path, e);
            self.abort().await;
            return Err(e);
        }
        let md5 = self.md5.finish().await?.finalize().into();
        let extra = match self.extra {
            Some(x) => Some(x.finish().await?),
            None => None,
        };
        let outcome = WriteOutcome {
            size: self.size,
            md5,
            crc64: self.crc.finish(),
        };
        Ok((outcome, extra))
    }

    /// Drops the write; nothing stays at the path (best effort).
    pub async fn abort(mut self) {
        // Not every backend can abort an open write (the filesystem writes in place), so
        // whatever reached the path is deleted as well.
        let _ = self.inner.abort().await;
        drop(self.inner);
        if let Some(t) = self.sync_task.take() {
            let _ = t.await;
        }
        if let Err(e) = self.op.delete(&self.path).await
            && e.kind() != ErrorKind::NotFound
        {
            tracing::warn!(blob = %self.path, error = %e, "could not delete an aborted blob");
        }
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
