//! The local side of a URL pull: the download streamed to its `.part` file by a writer
//! thread and hashed (MD5, CRC-64) by another while it arrives, and the digests of a file
//! that an earlier attempt finished.

use std::path::Path;

use bytes::Bytes;
use vod_auth::crc64::Crc64;
use vod_auth::md5sum::Md5;

/// A finished download: its size and digests (computed while it arrived).
pub(super) struct Downloaded {
    pub(super) size: u64,
    pub(super) md5: [u8; 16],
    pub(super) crc64: u64,
}

/// Where the bytes of a download go: a writer thread (1 MiB writes, fsync at the end) and a
/// hasher thread (MD5 and CRC-64) fed through bounded channels, so hashing runs beside the
/// network and the disk instead of after them.
pub(super) struct Sink {
    to_file: tokio::sync::mpsc::Sender<Bytes>,
    to_hash: tokio::sync::mpsc::Sender<Bytes>,
    file: tokio::task::JoinHandle<std::io::Result<Crc64>>,
    hash: tokio::task::JoinHandle<std::io::Result<Md5>>,
    pending: bytes::BytesMut,
}

/// Bytes gathered before they are handed to the threads.
const GATHER: usize = 256 << 10;

/// Chunks in flight per thread (HTTP frames are small; memory stays bounded).
const SINK_DEPTH: usize = 64;
/// Size of the writer thread's buffer (also the most a crash loses of a download).
const FILE_BUFFER: usize = 256 << 10;
/// The writer thread starts writeback of the file after every this many bytes.
const WRITEBACK_EVERY: u64 = 8 << 20;

impl Sink {
    /// Opens `part` (appending `have` bytes already there, which are hashed first, or
    /// truncating it when `have` is 0).
    pub(super) fn open(part: &Path, have: u64) -> Self {
        let (to_file, mut file_rx) = tokio::sync::mpsc::channel::<Bytes>(SINK_DEPTH);
        let (to_hash, mut hash_rx) = tokio::sync::mpsc::channel::<Bytes>(SINK_DEPTH);
        let path = part.to_path_buf();
        // The writer also keeps the CRC-64 (cheap next to MD5, which has a thread of its own).
        let file = tokio::task::spawn_blocking(move || {
            use std::io::Write as _;
            let mut crc = Crc64::new();
            let f = if have > 0 {
                hash_prefix(&path, have, None, Some(&mut crc))?;
                std::fs::OpenOptions::new().append(true).open(&path)?
            } else {
                std::fs::File::create(&path)?
            };
            let mut w = std::io::BufWriter::with_capacity(FILE_BUFFER, f);
            let (mut written, mut flushed_to) = (have, have);
            while let Some(chunk) = file_rx.blocking_recv() {
                crc.update(&chunk);
                w.write_all(&chunk)?;
                written += chunk.len() as u64;
                if written - flushed_to >= WRITEBACK_EVERY {
                    // Start writeback of what has arrived (POSIX_FADV_DONTNEED: without
                    // waiting for it), so the disk works during the download instead of all
                    // at the final fsync; the range overlaps the last one for pages that were
                    // still being written then.
                    w.flush()?;
                    let from = flushed_to.saturating_sub(WRITEBACK_EVERY);
                    let _ = rustix::fs::fadvise(
                        w.get_ref(),
                        from,
                        std::num::NonZeroU64::new(written - from),
                        rustix::fs::Advice::DontNeed,
                    );
                    flushed_to = written;
                }
            }
            let f = w.into_inner().map_err(|e| e.into_error())?;
            f.sync_data()?;
            Ok(crc)
        });
        let path = part.to_path_buf();
        let hash = tokio::task::spawn_blocking(move || {
            let mut md5 = Md5::new();
            if have > 0 {
                hash_prefix(&path, have, Some(&mut md5), None)?;
            }
            while let Some(chunk) = hash_rx.blocking_recv() {
                md5.update(&chunk);
            }
            Ok(md5)
        });
        Self {
            to_file,
            to_hash,
            file,
            hash,
            pending: bytes::BytesMut::with_capacity(GATHER * 2),
        }
    }

    /// Hands a chunk on; small HTTP frames are gathered into [`GATHER`]-byte buffers first
    /// (one copy, far fewer thread hand-offs). False when a thread stopped (an I/O error).
    pub(super) async fn push(&mut self, chunk: Bytes) -> bool {
        self.pending.extend_from_slice(&chunk);
        if self.pending.len() < GATHER {
            return true;
        }
        self.send_pending().await
    }

    async fn send_pending(&mut self) -> bool {
        if self.pending.is_empty() {
            return true;
        }
        let buf = self.pending.split().freeze();
        self.to_hash.send(buf.clone()).await.is_ok() && self.to_file.send(buf).await.is_ok()
    }

    /// Waits for both threads: the file is durable and the digests are final.
    pub(super) async fn finish(mut self) -> std::io::Result<([u8; 16], u64)> {
        let sent = self.send_pending().await;
        drop(self.to_file);
        drop(self.to_hash);
        let joined = |e: tokio::task::JoinError| std::io::Error::other(e.to_string());
        let crc = self.file.await.map_err(joined)??;
        let md5 = self.hash.await.map_err(joined)??;
        if !sent {
            return Err(std::io::Error::other("the writer stopped"));
        }
        Ok((md5.finalize(), crc.finish()))
    }

    /// Stops both threads (whatever reached the file stays for a later resume).
    pub(super) async fn abandon(self) {
        let _ = self.finish().await;
    }
}

/// Hashes the first `len` bytes of `path` into the given hashers.
fn hash_prefix(path: &Path, len: u64, mut md5: Option<&mut Md5>, mut crc: Option<&mut Crc64>) -> std::io::Result<()> {
    use std::io::Read as _;
    let mut f = std::fs::File::open(path)?.take(len);
    let mut buf = vec![0u8; FILE_BUFFER];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        if let Some(m) = md5.as_deref_mut() {
            m.update(&buf[..n]);
        }
        if let Some(c) = crc.as_deref_mut() {
            c.update(&buf[..n]);
        }
    }
}

/// The digests of a whole file (a download that was complete before this attempt).
pub(super) async fn hash_file(path: &Path) -> std::io::Result<Downloaded> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let size = std::fs::metadata(&path)?.len();
        let (mut md5, mut crc) = (Md5::new(), Crc64::new());
        hash_prefix(&path, size, Some(&mut md5), Some(&mut crc))?;
        Ok(Downloaded {
            size,
            md5: md5.finalize(),
            crc64: crc.finish(),
        })
    })
    .await
    .map_err(|e| std::io::Error::other(e.to_string()))?
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::{Sink, hash_file};

    #[tokio::test]
    async fn sink_hashes_what_it_writes_and_resumes() {
        let dir = tempfile::tempdir().unwrap();
        let part = dir.path().join("x.part");
        let mut sink = Sink::open(&part, 0);
        assert!(sink.push(Bytes::from_static(b"hello ")).await);
        sink.finish().await.unwrap();
        let mut sink = Sink::open(&part, 6);
        assert!(sink.push(Bytes::from_static(b"world")).await);
        let (md5, crc) = sink.finish().await.unwrap();
        assert_eq!(std::fs::read(&part).unwrap(), b"hello world");
        assert_eq!(md5, vod_auth::md5sum::md5(b"hello world"));
        assert_eq!(crc, vod_auth::crc64::checksum(b"hello world"));
        let whole = hash_file(&part).await.unwrap();
        assert_eq!((whole.size, whole.md5, whole.crc64), (11, md5, crc));
    }
}
