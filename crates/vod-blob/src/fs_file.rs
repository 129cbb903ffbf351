//! [`FsFile`]: one blob file on the local filesystem, written by a blocking thread of its
//! own so receiving and hashing go on while earlier bytes are written.
//!
//! The thread writes with `O_DIRECT` where the filesystem allows it: the bytes go from an
//! aligned buffer to the disk without being copied into the page cache (which a blob being
//! stored would only evict hotter pages from), so an upload costs the kernel no copy, no
//! dirty-page writeback and no memory pressure, and the final fsync has only metadata left
//! to flush. The last partial block goes through the page cache. Where `O_DIRECT` is
//! refused (tmpfs before Linux 6.6, some network and FUSE filesystems) the thread writes
//! through the page cache and starts writeback every [`WRITEBACK_EVERY`] bytes instead.

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use rustix::fs::OFlags;

use crate::writer::Durability;

/// Alignment of `O_DIRECT` buffers, lengths and offsets (covers 512- and 4096-byte sectors).
const ALIGN: usize = 4096;
/// Batches queued for the writer thread (each about the store's write chunk, 1 MiB).
const QUEUE: usize = 4;
/// Page-cache writes: writeback of dirty pages starts after every this many bytes, so the
/// disk works while the body still arrives instead of all at the final fsync.
const WRITEBACK_EVERY: u64 = 8 << 20;

/// The file of a filesystem blob and the thread writing it (started on the first write).
pub(crate) struct FsFile {
    path: PathBuf,
    chunk: usize,
    thread: Option<FileThread>,
}

struct FileThread {
    tx: tokio::sync::mpsc::Sender<FileOp>,
    join: tokio::task::JoinHandle<std::io::Result<()>>,
}

enum FileOp {
    Write(Vec<Bytes>),
    Close(Durability),
}

impl FsFile {
    /// A file at `path`, written `chunk` bytes at a time (a multiple of [`ALIGN`]).
    pub(crate) fn new(path: PathBuf, chunk: usize) -> Self {
        Self {
            path,
            chunk: chunk.next_multiple_of(ALIGN),
            thread: None,
        }
    }

    /// Queues `frames` for writing; waits only when the disk is behind (back-pressure).
    pub(crate) async fn write(&mut self, frames: Vec<Bytes>) -> std::io::Result<()> {
        let (path, chunk) = (self.path.clone(), self.chunk);
        let thread = self.thread.get_or_insert_with(|| FileThread::start(path, chunk));
        match thread.tx.send(FileOp::Write(frames)).await {
            Ok(()) => Ok(()),
            Err(_) => Err(self.stopped().await),
        }
    }

    /// The error that ended the writer thread.
    async fn stopped(&mut self) -> std::io::Error {
        let Some(t) = self.thread.take() else {
            return std::io::Error::other("the blob writer is closed");
        };
        drop(t.tx);
        match t.join.await {
            Ok(Err(e)) => e,
            Ok(Ok(())) => std::io::Error::other("the blob writer stopped early"),
            Err(e) => std::io::Error::other(format!("blob writer thread failed: {e}")),
        }
    }

    /// Writes what is left and closes the file, durable unless `sync` is
    /// [`Durability::Later`]. A blob nothing was written to is an empty file.
    pub(crate) async fn close(&mut self, sync: Durability) -> std::io::Result<()> {
        let (path, chunk) = (self.path.clone(), self.chunk);
        let thread = self.thread.take().unwrap_or_else(|| FileThread::start(path, chunk));
        let sent = thread.tx.send(FileOp::Close(sync)).await;
        drop(thread.tx);
        let result = thread
            .join
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(format!("blob writer thread failed: {e}"))));
        match (result, sent) {
            (Err(e), _) => Err(e),
            (Ok(()), Err(_)) => Err(std::io::Error::other("the blob writer stopped early")),
            (Ok(()), Ok(())) => Ok(()),
        }
    }

    /// Stops the writer thread without finishing the file (the caller deletes it).
    pub(crate) async fn abandon(&mut self) {
        if let Some(t) = self.thread.take() {
            drop(t.tx);
            let _ = t.join.await;
        }
    }
}

impl FileThread {
    fn start(path: PathBuf, chunk: usize) -> Self {
        let (tx, rx) = tokio::sync::mpsc::channel(QUEUE);
        let join = tokio::task::spawn_blocking(move || write_file(&path, chunk, rx));
        Self { tx, join }
    }
}

/// The writer thread: creates the file, writes every batch, and on `Close` writes the rest
/// and makes the file durable (for [`Durability::Later`] only starts its writeback).
/// Returns on the first error, or when the sender goes away without `Close` (an aborted
/// write).
fn write_file(path: &Path, chunk: usize, mut rx: tokio::sync::mpsc::Receiver<FileOp>) -> std::io::Result<()> {
    let mut out = Output::create(path, chunk)?;
    while let Some(op) = rx.blocking_recv() {
        match op {
            FileOp::Write(frames) => {
                for frame in &frames {
                    out.write(frame)?;
                }
            }
            FileOp::Close(sync) => return out.close(sync),
        }
    }
    Ok(())
}

/// The open file with its staging buffer.
struct Output {
    file: File,
    direct: bool,
    buf: AlignedBuf,
    written: u64,
    writeback_at: u64,
}

impl Output {
    fn create(path: &Path, chunk: usize) -> std::io::Result<Self> {
        Self::open(path, chunk, true)
    }

    /// Creates the file (never over an existing one), with `O_DIRECT` when `direct` is asked
    /// for and the filesystem takes it. The flag is set on the open file rather than passed
    /// to `open`: an `open` refused for `O_DIRECT` may already have created the file.
    fn open(path: &Path, chunk: usize, direct: bool) -> std::io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = File::options().write(true).create_new(true).open(path)?;
        let direct = direct
            && rustix::fs::fcntl_getfl(&file)
                .and_then(|flags| rustix::fs::fcntl_setfl(&file, flags | OFlags::DIRECT))
                .is_ok();
        Ok(Self {
            file,
            direct,
            buf: AlignedBuf::new(chunk),
            written: 0,
            writeback_at: WRITEBACK_EVERY,
        })
    }

    fn write(&mut self, mut bytes: &[u8]) -> std::io::Result<()> {
        while !bytes.is_empty() {
            let n = self.buf.fill(bytes);
            bytes = &bytes[n..];
            if self.buf.is_full() {
                self.flush_full()?;
            }
        }
        Ok(())
    }

    /// Writes the full staging buffer (aligned address, length and offset).
    fn flush_full(&mut self) -> std::io::Result<()> {
        match self.file.write_all(self.buf.filled()) {
            Err(e) if self.direct && e.raw_os_error() == Some(rustix::io::Errno::INVAL.raw_os_error()) => {
                // Opened with O_DIRECT but refused on write (an alignment this filesystem
                // wants bigger): the page cache it is.
                self.buffered()?;
                self.file.write_all(self.buf.filled())?;
            }
            other => other?,
        }
        self.written += self.buf.len() as u64;
        self.buf.clear();
        if !self.direct && self.written >= self.writeback_at {
            writeback(&self.file, self.written);
            self.writeback_at = self.written + WRITEBACK_EVERY;
        }
        Ok(())
    }

    /// Turns O_DIRECT off for the rest of the file.
    fn buffered(&mut self) -> std::io::Result<()> {
        let flags = rustix::fs::fcntl_getfl(&self.file)?;
        rustix::fs::fcntl_setfl(&self.file, flags - OFlags::DIRECT)?;
        self.direct = false;
        Ok(())
    }

    fn close(mut self, sync: Durability) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            if self.direct && !self.buf.len().is_multiple_of(ALIGN) {
                // The tail is not a whole block: it goes through the page cache.
                self.buffered()?;
            }
            self.file.write_all(self.buf.filled())?;
            self.written += self.buf.len() as u64;
        }
        match sync {
            Durability::Now => self.file.sync_all(),
            Durability::Later => {
                writeback(&self.file, self.written);
                Ok(())
            }
        }
    }
}

/// POSIX_FADV_DONTNEED starts writeback of the range's dirty pages (without waiting for it
/// or committing the journal, unlike fdatasync) and drops the pages already clean.
fn writeback(file: &File, len: u64) {
    let _ = rustix::fs::fadvise(file, 0, std::num::NonZeroU64::new(len), rustix::fs::Advice::DontNeed);
}

/// A byte buffer whose start is [`ALIGN`]-aligned, as `O_DIRECT` needs (a slice of a
/// slightly larger allocation, so no unsafe code).
struct AlignedBuf {
    storage: Vec<u8>,
    start: usize,
    cap: usize,
    len: usize,
}

impl AlignedBuf {
    fn new(cap: usize) -> Self {
        let storage = vec![0u8; cap + ALIGN];
        let start = storage.as_ptr().align_offset(ALIGN).min(ALIGN);
        Self {
            storage,
            start,
            cap,
            len: 0,
        }
    }

    /// Copies as much of `bytes` as fits; returns how much.
    fn fill(&mut self, bytes: &[u8]) -> usize {
        let n = bytes.len().min(self.cap - self.len);
        let at = self.start + self.len;
        self.storage[at..at + n].copy_from_slice(&bytes[..n]);
        self.len += n;
        n
    }

    fn filled(&self) -> &[u8] {
        &self.storage[self.start..self.start + self.len]
    }

    fn len(&self) -> usize {
        self.len
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn is_full(&self) -> bool {
        self.len == self.cap
    }

    fn clear(&mut self) {
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn write_and_read(dir: &Path, name: &str, sizes: &[usize], sync: Durability) -> Vec<u8> {
        let path = dir.join(name);
        let mut file = FsFile::new(path.clone(), 64 * 1024);
        let mut expected = Vec::new();
        for (i, &n) in sizes.iter().enumerate() {
            let frame: Vec<u8> = (0..n).map(|j| (i * 7 + j * 13) as u8).collect();
            expected.extend_from_slice(&frame);
            file.write(vec![Bytes::from(frame)]).await.unwrap();
        }
        file.close(sync).await.unwrap();
        let got = std::fs::read(&path).unwrap();
        assert_eq!(got.len(), expected.len());
        assert!(got == expected, "{name}: the file holds other bytes than were written");
        got
    }

    #[tokio::test]
    async fn writes_whole_chunks_odd_tails_and_nothing() {
        let dir = tempfile::tempdir().unwrap();
        // Exactly whole chunks, a tail that is whole blocks, a tail that is not, frames
        // straddling chunk boundaries, and an empty blob.
        write_and_read(dir.path(), "whole", &[65536, 65536], Durability::Now).await;
        write_and_read(dir.path(), "blocks", &[65536, 8192], Durability::Later).await;
        write_and_read(dir.path(), "odd", &[1, 70_000, 3, 100_000, 4095], Durability::Now).await;
        write_and_read(dir.path(), "small", &[10], Durability::Now).await;
        assert!(
            write_and_read(dir.path(), "empty", &[], Durability::Now)
                .await
                .is_empty()
        );
    }

    #[test]
    fn direct_where_the_filesystem_takes_it_and_buffered_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..3 * 65536 + 1234).map(|i| (i % 251) as u8).collect();
        for direct in [true, false] {
            let path = dir.path().join(format!("f-{direct}"));
            let mut out = Output::open(&path, 65536, direct).unwrap();
            if !direct {
                assert!(!out.direct, "asked for the page cache");
            }
            for piece in data.chunks(10_000) {
                out.write(piece).unwrap();
            }
            out.close(Durability::Now).unwrap();
            assert!(std::fs::read(&path).unwrap() == data, "direct={direct}");
        }
    }

    #[tokio::test]
    async fn never_overwrites_and_reports_the_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("taken"), b"old").unwrap();
        let mut file = FsFile::new(dir.path().join("taken"), 64 * 1024);
        // The thread fails to create the file; the write or the close says so.
        let failed = match file.write(vec![Bytes::from_static(b"new")]).await {
            Err(e) => e,
            Ok(()) => file.close(Durability::Now).await.unwrap_err(),
        };
        assert_eq!(failed.kind(), std::io::ErrorKind::AlreadyExists, "{failed}");
        assert_eq!(std::fs::read(dir.path().join("taken")).unwrap(), b"old");
    }

    #[test]
    fn aligned_buffer_starts_aligned() {
        for cap in [4096, 65536, 1 << 20] {
            let b = AlignedBuf::new(cap);
            assert_eq!(b.filled().as_ptr() as usize % ALIGN, 0);
            assert_eq!(b.cap, cap);
        }
    }
}
