//! [`BlobWriter`]: one blob being written, hashed (MD5, CRC-64, optionally fed to a caller's
//! [`RunningMd5`](crate::RunningMd5)) as the bytes pass, in batches of about 1 MiB. On the
//! filesystem the batches go to the file's own writer thread (`fs_file`); `finish` fsyncs
//! unless the caller defers that ([`Durability::Later`]: multipart parts, made durable
//! together at completion). Elsewhere they go to OpenDAL's writer.

use std::path::PathBuf;

use bytes::Bytes;
use opendal::{ErrorKind, Operator};
use vod_auth::crc64::Crc64;
use vod_auth::md5sum::Md5;

use crate::fs_file::FsFile;
use crate::running_md5::Md5Feed;
use crate::store::{BlobError, WriteOutcome};

/// Bodies larger than this have their MD5s computed on blocking threads of their own (one
/// per hash), in parallel with receiving, CRC and writing; smaller ones inline.
const OFFLOAD_HASH_AFTER: u64 = 256 << 10;
/// Batches (of about `batch` bytes) queued for an offloaded hasher: bounds memory, gives
/// back-pressure.
const HASH_QUEUE: usize = 4;

/// When a finished write must be on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// `finish` returns once the blob is durable.
    Now,
    /// `finish` returns once the bytes are written (they survive the process, not a power
    /// cut); the caller makes them durable with [`BlobStore::sync`](crate::BlobStore::sync).
    Later,
}

/// An MD5 that moves to a blocking thread of its own once the body gets large.
enum Md5Stream {
    Inline(Md5),
    Thread {
        tx: tokio::sync::mpsc::Sender<Vec<Bytes>>,
        join: tokio::task::JoinHandle<Md5>,
    },
}

impl Md5Stream {
    async fn update(&mut self, batch: &[Bytes], offload: bool) {
        match self {
            Md5Stream::Inline(m) if !offload => batch.iter().for_each(|b| m.update(b)),
            Md5Stream::Inline(m) => {
                let mut md5 = std::mem::take(m);
                let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Bytes>>(HASH_QUEUE);
                let join = tokio::task::spawn_blocking(move || {
                    while let Some(batch) = rx.blocking_recv() {
                        batch.iter().for_each(|b| md5.update(b));
                    }
                    md5
                });
                let _ = tx.send(batch.to_vec()).await;
                *self = Md5Stream::Thread { tx, join };
            }
            Md5Stream::Thread { tx, .. } => {
                let _ = tx.send(batch.to_vec()).await;
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

/// Where the bytes go.
enum Sink {
    /// S3 and other OpenDAL services: frames handed over as they come.
    OpenDal(opendal::Writer),
    /// The local filesystem: the file, created on the first write.
    Fs(FsFile),
}

/// An in-progress blob write that hashes MD5 and CRC-64 incrementally (and optionally feeds
/// a caller's running MD5). Call [`finish`](Self::finish) to make it durable or
/// [`abort`](Self::abort) to drop it.
pub struct BlobWriter {
    sink: Sink,
    op: Operator,
    path: String,
    md5: Md5Stream,
    tee: Option<Md5Feed>,
    crc: Crc64,
    size: u64,
    sync: Durability,
    /// Frames waiting for the sink, handed over together once `batch` bytes are pending.
    pending: Vec<Bytes>,
    pending_len: usize,
    batch: usize,
}

impl BlobWriter {
    /// A writer handing its bytes to an OpenDAL writer about `batch` bytes at a time.
    pub(crate) fn opendal(
        inner: opendal::Writer,
        op: Operator,
        path: &str,
        tee: Option<Md5Feed>,
        batch: usize,
    ) -> Self {
        Self::new(Sink::OpenDal(inner), op, path, tee, batch)
    }

    /// A writer creating and writing `file` itself, `batch` bytes at a time.
    pub(crate) fn fs(file: PathBuf, op: Operator, path: &str, tee: Option<Md5Feed>, batch: usize) -> Self {
        Self::new(Sink::Fs(FsFile::new(file, batch)), op, path, tee, batch)
    }

    fn new(sink: Sink, op: Operator, path: &str, tee: Option<Md5Feed>, batch: usize) -> Self {
        Self {
            sink,
            op,
            path: path.to_string(),
            md5: Md5Stream::Inline(Md5::new()),
            tee,
            crc: Crc64::new(),
            size: 0,
            sync: Durability::Now,
            pending: Vec::new(),
            pending_len: 0,
            batch,
        }
    }

    /// When [`finish`](Self::finish) makes the blob durable (default [`Durability::Now`]).
    pub fn set_durability(&mut self, sync: Durability) {
        self.sync = sync;
    }

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
        self.crc.update(&chunk);
        self.size += chunk.len() as u64;
        self.pending_len += chunk.len();
        self.pending.push(chunk);
        if self.pending_len >= self.batch {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), BlobError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.pending);
        self.pending_len = 0;
        // Hashers get whole batches: one hand-off per batch instead of one per frame.
        if let Some(tee) = &self.tee
            && !tee.send(batch.clone())
        {
            self.tee = None;
        }
        self.md5.update(&batch, self.size > OFFLOAD_HASH_AFTER).await;
        match &mut self.sink {
            Sink::OpenDal(w) => w.write(batch).await.map_err(|e| BlobError::backend(&self.path, e)),
            Sink::Fs(f) => f.write(batch).await.map_err(|e| io_error(&self.path, e)),
        }
    }

    /// Flushes, closes (making the blob durable unless [`Durability::Later`]) and returns its
    /// digests. A [`Md5Feed`] has been handed every byte (its chain may still be hashing).
    pub async fn finish(mut self) -> Result<WriteOutcome, BlobError> {
        let flushed = self.flush().await;
        if let Err(e) = flushed {
            self.abort().await;
            return Err(e);
        }
        let closed = match &mut self.sink {
            Sink::OpenDal(w) => w
                .close()
                .await
                .map(|_| ())
                .map_err(|e| BlobError::backend(&self.path, e)),
            Sink::Fs(f) => f.close(self.sync).await.map_err(|e| io_error(&self.path, e)),
        };
        if let Err(e) = closed {
            self.abort().await;
            return Err(e);
        }
        Ok(WriteOutcome {
            size: self.size,
            md5: self.md5.finish().await?.finalize(),
            crc64: self.crc.finish(),
        })
    }

    /// Drops the write; nothing stays at the path (best effort).
    pub async fn abort(mut self) {
        match &mut self.sink {
            // Not every backend can abort an open write, so whatever reached the path is
            // deleted as well.
            Sink::OpenDal(w) => {
                let _ = w.abort().await;
            }
            Sink::Fs(f) => f.abandon().await,
        }
        drop(self.sink);
        if let Err(e) = self.op.delete(&self.path).await
            && e.kind() != ErrorKind::NotFound
        {
            tracing::warn!(blob = %self.path, error = %e, "could not delete an aborted blob");
        }
    }
}

fn io_error(path: &str, e: std::io::Error) -> BlobError {
    BlobError::Backend(format!("writing blob {path}: {e}"))
}
