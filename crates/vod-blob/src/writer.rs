//! [`BlobWriter`]: one blob being written, hashed (MD5, CRC-64, optionally a caller's running
//! MD5) as the bytes pass. On the filesystem it writes the file itself, from blocking
//! threads, 1 MiB at a time, starting writeback early so the disk works while the body still
//! arrives; `finish` fsyncs unless the caller defers that ([`Durability::Later`]: multipart parts,
//! made durable together at completion). Elsewhere it hands the bytes to OpenDAL's writer.

use std::fs::File;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use md5::{Digest as _, Md5};
use opendal::{ErrorKind, Operator};
use vod_auth::crc64::Crc64;

use crate::store::{BlobError, WriteOutcome};

/// Bodies larger than this have their MD5s computed on blocking threads of their own (one
/// per hash), in parallel with receiving, CRC and writing; smaller ones inline.
const OFFLOAD_HASH_AFTER: u64 = 256 << 10;
/// Chunks queued for an offloaded hasher (bounds memory, gives back-pressure).
const HASH_QUEUE: usize = 16;
/// On the filesystem, writeback of dirty pages is started (from a helper thread) after every
/// this many bytes, so the disk works while the body is still arriving instead of all at
/// the final fsync.
const FS_SYNC_EVERY: u64 = 8 << 20;

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

/// Where the bytes go.
enum Sink {
    /// S3 and other OpenDAL services: frames handed over as they come.
    OpenDal(opendal::Writer),
    /// The local filesystem: the file, created on the first write.
    Fs(FsFile),
}

struct FsFile {
    path: PathBuf,
    file: Option<Arc<File>>,
    synced: u64,
    writeback: Option<tokio::task::JoinHandle<()>>,
}

impl FsFile {
    async fn write(&mut self, buf: Bytes) -> std::io::Result<()> {
        let (path, file) = (self.path.clone(), self.file.clone());
        let file = blocking(move || {
            let file = match file {
                Some(f) => f,
                None => Arc::new(create(&path)?),
            };
            (&*file).write_all(&buf)?;
            Ok(file)
        })
        .await?;
        self.file = Some(file);
        Ok(())
    }

    /// Starts writeback of what was written so far when enough accumulated and none is
    /// running (never waits).
    fn start_writeback(&mut self, written: u64) {
        let Some(file) = self.file.clone() else { return };
        if written - self.synced < FS_SYNC_EVERY || self.writeback.as_ref().is_some_and(|t| !t.is_finished()) {
            return;
        }
        self.synced = written;
        self.writeback = Some(tokio::task::spawn_blocking(move || {
            // POSIX_FADV_DONTNEED starts writeback of the range's dirty pages (without
            // waiting for it or committing the journal, unlike fdatasync) and drops the pages
            // already clean; a final fsync then finds little left to write.
            let _ = rustix::fs::fadvise(
                &*file,
                0,
                std::num::NonZeroU64::new(written),
                rustix::fs::Advice::DontNeed,
            );
        }));
    }

    async fn close(&mut self, sync: Durability, written: u64) -> std::io::Result<()> {
        if let Some(t) = self.writeback.take() {
            let _ = t.await;
        }
        let (path, file) = (self.path.clone(), self.file.take());
        blocking(move || {
            let file = match file {
                Some(f) => f,
                // Nothing was written: the blob is empty.
                None => Arc::new(create(&path)?),
            };
            match sync {
                Durability::Now => file.sync_all(),
                Durability::Later => {
                    let _ = rustix::fs::fadvise(
                        &*file,
                        0,
                        std::num::NonZeroU64::new(written),
                        rustix::fs::Advice::DontNeed,
                    );
                    Ok(())
                }
            }
        })
        .await
    }
}

/// Creates the blob's file (and its directory); never overwrites.
fn create(path: &std::path::Path) -> std::io::Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    File::options().write(true).create_new(true).open(path)
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> std::io::Result<T> + Send + 'static) -> std::io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(format!("blocking task failed: {e}"))))
}

/// An in-progress blob write that hashes MD5 and CRC-64 incrementally (and optionally a
/// second, caller-supplied running MD5). Call [`finish`](Self::finish) to make it durable or
/// [`abort`](Self::abort) to drop it.
pub struct BlobWriter {
    sink: Sink,
    op: Operator,
    path: String,
    md5: Md5Stream,
    extra: Option<Md5Stream>,
    crc: Crc64,
    size: u64,
    sync: Durability,
    /// Frames waiting for the sink (OpenDAL: handed over as they are).
    pending: Vec<Bytes>,
    /// Filesystem: frames copied into one buffer until `gather` bytes.
    gathered: BytesMut,
    pending_len: usize,
    gather: usize,
}

impl BlobWriter {
    /// A writer handing its bytes to an OpenDAL writer.
    pub(crate) fn opendal(inner: opendal::Writer, op: Operator, path: &str, extra: Option<Md5>) -> Self {
        Self::new(Sink::OpenDal(inner), op, path, extra, 0)
    }

    /// A writer creating and writing `file` itself, `gather` bytes per write.
    pub(crate) fn fs(file: PathBuf, op: Operator, path: &str, extra: Option<Md5>, gather: usize) -> Self {
        let sink = Sink::Fs(FsFile {
            path: file,
            file: None,
            synced: 0,
            writeback: None,
        });
        Self::new(sink, op, path, extra, gather)
    }

    fn new(sink: Sink, op: Operator, path: &str, extra: Option<Md5>, gather: usize) -> Self {
        Self {
            sink,
            op,
            path: path.to_string(),
            md5: Md5Stream::Inline(Md5::new()),
            extra: extra.map(Md5Stream::Inline),
            crc: Crc64::new(),
            size: 0,
            sync: Durability::Now,
            pending: Vec::new(),
            gathered: BytesMut::new(),
            pending_len: 0,
            gather,
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
            // a blocking thread instead of one per network frame.
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
        match &mut self.sink {
            Sink::OpenDal(w) => w.write(batch).await.map_err(|e| BlobError::backend(&self.path, e)),
            Sink::Fs(f) => {
                for buf in batch {
                    f.write(buf).await.map_err(|e| io_error(&self.path, e))?;
                }
                f.start_writeback(self.size);
                Ok(())
            }
        }
    }

    /// Flushes, closes (making the blob durable unless [`Durability::Later`]) and returns its
    /// digests (and the caller's running MD5, updated with every byte).
    pub async fn finish(mut self) -> Result<(WriteOutcome, Option<Md5>), BlobError> {
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
            Sink::Fs(f) => f.close(self.sync, self.size).await.map_err(|e| io_error(&self.path, e)),
        };
        if let Err(e) = closed {
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
        match &mut self.sink {
            // Not every backend can abort an open write, so whatever reached the path is
            // deleted as well.
            Sink::OpenDal(w) => {
                let _ = w.abort().await;
            }
            Sink::Fs(f) => {
                if let Some(t) = f.writeback.take() {
                    let _ = t.await;
                }
                f.file = None;
            }
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
