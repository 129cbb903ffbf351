//! Moving bytes: the fill task (origin → temporary file → rename → index), and the body
//! streams that read a cached file or follow a fill while it is being written.
//!
//! A fill runs in its own task, independent of the request that started it, so a player
//! that goes away does not waste the bytes already fetched. The object is read as ranges
//! ([`segments`]), two at a time, and their chunks are pumped into a bounded channel (at
//! most [`PIPE_DEPTH`] chunks) drained by one blocking writer that writes each chunk at its
//! offset: reading the origin and writing the disk overlap, and memory stays bounded
//! whatever the object's size. Readers see the contiguous prefix written so far. Every
//! reader, the one that started the fill included, reads the temporary file behind the
//! writer: the origin is read once however many players ask.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read as _, Seek as _, SeekFrom};
use std::ops::Range;
use std::os::unix::fs::FileExt as _;
use std::sync::Arc;

use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use tokio::sync::watch;

use crate::cache::{Fill, FillState, Store};
use crate::disk;
use crate::origin::Origin;

/// Bytes read from a cache file per blocking read.
pub const READ_CHUNK: usize = 512 * 1024;
/// A first chunk at most this big is read on the async thread when it is in the page
/// cache (no trip to the blocking pool for a hot small object).
const INLINE_MAX: usize = 256 * 1024;
/// Chunks in flight between the origin pump and the disk writer.
const PIPE_DEPTH: usize = 4;
/// Origin range reads of a fill: the first, the others, and how many run at once.
const FIRST_SEGMENT: u64 = 1 << 20;
const SEGMENT: u64 = 8 << 20;
const SEGMENTS_AHEAD: usize = 2;

/// Starts filling `fill` from the origin in a task of its own; returns the task.
pub fn spawn(store: Arc<Store>, origin: Arc<dyn Origin>, fill: Arc<Fill>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        match run(&store, origin, &fill).await {
            Ok(committed) => {
                metrics::counter!("vod_edge_fills_total", "outcome" => if committed { "committed" } else { "purged" })
                    .increment(1);
            }
            Err(e) => {
                tracing::warn!(bucket = %fill.meta.bucket, key = %fill.meta.key, error = %e, "edge fill failed");
                metrics::counter!("vod_edge_fills_total", "outcome" => "failed").increment(1);
                store.abandon(&fill);
                fill.fail(&e);
            }
        }
    })
}

/// The ranges a fill reads: a small first one (players get their first bytes early),
/// then [`SEGMENT`]-sized ones.
pub fn segments(size: u64) -> Vec<Range<u64>> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < size {
        let len = if start == 0 { FIRST_SEGMENT } else { SEGMENT };
        let end = (start + len).min(size);
        out.push(start..end);
        start = end;
    }
    out
}

/// The object's bytes as `(offset, chunk)`, read as [`segments`] with [`SEGMENTS_AHEAD`]
/// range reads in flight (concurrent reads keep the storage busy); chunks of different
/// segments interleave. Nothing is buffered beyond the chunks the origin hands over.
fn origin_chunks(origin: Arc<dyn Origin>, fill: Arc<Fill>) -> impl Stream<Item = Result<(u64, Bytes), String>> + Send {
    futures::stream::iter(segments(fill.meta.size))
        .map(move |range| {
            let (origin, fill) = (origin.clone(), fill.clone());
            let start = range.start;
            futures::stream::once(async move {
                let m = &fill.meta;
                origin
                    .read(&m.bucket, &m.key, &fill.origin, range)
                    .await
                    .map_err(|e| e.to_string())
            })
            .map_ok(move |chunks| {
                chunks.scan(start, |pos, chunk| {
                    let item = chunk
                        .map(|b| {
                            let at = *pos;
                            *pos += b.len() as u64;
                            (at, b)
                        })
                        .map_err(|e| format!("reading the origin: {e}"));
                    futures::future::ready(Some(item))
                })
            })
            .try_flatten()
            .boxed()
        })
        .flatten_unordered(SEGMENTS_AHEAD)
}

/// Which body bytes are on disk: the contiguous prefix readers may use, and ranges that
/// landed beyond it.
#[derive(Debug, Default)]
struct Landed {
    prefix: u64,
    beyond: BTreeMap<u64, u64>,
}

impl Landed {
    fn land(&mut self, start: u64, end: u64) {
        if start == self.prefix {
            self.prefix = end;
            while let Some(next) = self.beyond.remove(&self.prefix) {
                self.prefix = next;
            }
        } else {
            self.beyond.insert(start, end);
        }
    }
}

async fn run(store: &Arc<Store>, origin: Arc<dyn Origin>, fill: &Arc<Fill>) -> Result<bool, String> {
    let size = fill.meta.size;
    let mut stream = Box::pin(origin_chunks(origin, fill.clone()));
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(u64, Bytes)>(PIPE_DEPTH);
    let writer = {
        let store = store.clone();
        let fill = fill.clone();
        tokio::task::spawn_blocking(move || -> Result<bool, String> {
            let evicted = std::mem::take(&mut *fill.evict_first.lock().unwrap_or_else(|p| p.into_inner()));
            for path in evicted {
                let _ = std::fs::remove_file(path);
            }
            let file = &fill.file;
            file.write_all_at(&fill.header, 0).map_err(|e| e.to_string())?;
            let base = fill.body_offset();
            let mut landed = Landed::default();
            while let Some((at, chunk)) = rx.blocking_recv() {
                let end = at + chunk.len() as u64;
                if end > size {
                    return Err(format!("the origin sent more than {size} bytes"));
                }
                file.write_all_at(&chunk, base + at).map_err(|e| e.to_string())?;
                let before = landed.prefix;
                landed.land(at, end);
                if landed.prefix != before {
                    fill.progress.send_modify(|p| p.written = landed.prefix);
                }
            }
            if landed.prefix != size {
                return Err(format!("the origin sent {} of {size} bytes", landed.prefix));
            }
            if let Some(parent) = fill.data.parent() {
                std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
            }
            std::fs::rename(&fill.tmp, &fill.data).map_err(|e| e.to_string())?;
            let committed = store.commit(&fill);
            fill.progress.send_modify(|p| p.state = FillState::Done);
            Ok(committed)
        })
    };
    let mut pump_error = None;
    while let Some(item) = stream.next().await {
        match item {
            Ok((at, chunk)) => {
                metrics::counter!("vod_edge_origin_bytes_total").increment(chunk.len() as u64);
                if tx.send((at, chunk)).await.is_err() {
                    break; // the writer failed; its error is reported below
                }
            }
            Err(e) => {
                pump_error = Some(e);
                break;
            }
        }
    }
    drop(tx);
    let written = writer.await.map_err(|e| format!("the cache writer panicked: {e}"))?;
    match (pump_error, written) {
        (Some(e), _) => Err(e),
        (None, r) => r,
    }
}

/// Reads `len` bytes at `offset` of `file` on a blocking thread.
async fn read_chunk(file: Arc<File>, offset: u64, len: usize) -> io::Result<Bytes> {
    let bytes = tokio::task::spawn_blocking(move || disk::read_at(&file, offset, len))
        .await
        .map_err(io::Error::other)??;
    if bytes.len() < len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the cache file is shorter than its header says",
        ));
    }
    Ok(Bytes::from(bytes))
}

/// Reads the next `len` bytes of `file` (at its position) into a fresh buffer that is not
/// zero-filled first.
fn read_next(file: &mut File, len: usize) -> io::Result<Bytes> {
    let mut buf = Vec::with_capacity(len);
    (&mut *file).take(len as u64).read_to_end(&mut buf)?;
    if buf.len() < len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the cache file is truncated",
        ));
    }
    Ok(Bytes::from(buf))
}

/// Reads `len` bytes at `offset` on the calling (async) thread when the page cache holds
/// all of them (`preadv2(RWF_NOWAIT)` never waits for the disk); `None` when some are not
/// cached, or the kernel does not support it, so the caller reads on the blocking pool.
fn read_if_cached(file: &File, offset: u64, len: usize) -> io::Result<Option<Bytes>> {
    use rustix::io::{Errno, ReadWriteFlags, preadv2};
    let mut buf = vec![0u8; len];
    let mut done = 0;
    while done < len {
        let mut slices = [io::IoSliceMut::new(&mut buf[done..])];
        match preadv2(file, &mut slices, offset + done as u64, ReadWriteFlags::NOWAIT) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the cache file is truncated",
                ));
            }
            Ok(n) => done += n,
            Err(Errno::INTR) => {}
            Err(Errno::AGAIN | Errno::OPNOTSUPP | Errno::NOSYS | Errno::INVAL) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Some(Bytes::from(buf)))
}

/// Opens a cache file and reads the first chunk of `range` (body offsets already added),
/// in one blocking call: a hit that fits one chunk costs one hop to the blocking pool.
/// The file is returned positioned after that chunk.
pub async fn open_first(path: std::path::PathBuf, range: Range<u64>) -> io::Result<(File, Bytes)> {
    let len = ((range.end - range.start) as usize).min(READ_CHUNK);
    if len <= INLINE_MAX {
        let mut file = File::open(&path)?;
        if let Some(bytes) = read_if_cached(&file, range.start, len)? {
            file.seek(SeekFrom::Start(range.start + len as u64))?;
            return Ok((file, bytes));
        }
    }
    tokio::task::spawn_blocking(move || {
        let mut file = File::open(&path)?;
        if range.start > 0 {
            file.seek(SeekFrom::Start(range.start))?;
        }
        let bytes = read_next(&mut file, len)?;
        Ok((file, bytes))
    })
    .await
    .map_err(io::Error::other)?
}

/// Bytes `range` (absolute offsets) of a file, in one blocking call (small objects only).
pub async fn read_all(path: std::path::PathBuf, range: Range<u64>) -> io::Result<Bytes> {
    let len = (range.end - range.start) as usize;
    if len <= INLINE_MAX
        && let Some(bytes) = read_if_cached(&File::open(&path)?, range.start, len)?
    {
        return Ok(bytes);
    }
    tokio::task::spawn_blocking(move || {
        let mut file = File::open(&path)?;
        file.seek(SeekFrom::Start(range.start))?;
        read_next(&mut file, len)
    })
    .await
    .map_err(io::Error::other)?
}

/// The next `left` bytes of a cached file, read sequentially chunk by chunk.
pub fn file_stream(file: File, left: u64) -> impl Stream<Item = io::Result<Bytes>> + Send {
    futures::stream::unfold((Some(file), left), |(file, left)| async move {
        let mut file = file?;
        if left == 0 {
            return None;
        }
        // A hot chunk is read right here; anything else on the blocking pool.
        let inline = left.min(INLINE_MAX as u64) as usize;
        match file
            .stream_position()
            .and_then(|at| read_if_cached(&file, at, inline).map(|b| (at, b)))
        {
            Ok((at, Some(b))) => {
                return match file.seek(SeekFrom::Start(at + inline as u64)) {
                    Ok(_) => Some((Ok(b), (Some(file), left - inline as u64))),
                    Err(e) => Some((Err(e), (None, 0))),
                };
            }
            Ok((_, None)) => {}
            Err(e) => return Some((Err(e), (None, 0))),
        }
        let len = left.min(READ_CHUNK as u64) as usize;
        let read = tokio::task::spawn_blocking(move || read_next(&mut file, len).map(|b| (file, b))).await;
        match read.map_err(io::Error::other).and_then(|r| r) {
            Ok((file, b)) => Some((Ok(b), (Some(file), left - len as u64))),
            Err(e) => Some((Err(e), (None, 0))),
        }
    })
}

/// Body bytes `range` of an object being filled, read behind the writer as they land.
pub fn follow(fill: Arc<Fill>, range: Range<u64>) -> impl Stream<Item = io::Result<Bytes>> + Send {
    let rx = fill.progress.subscribe();
    futures::stream::unfold((fill, rx, range.start), move |(fill, mut rx, pos)| async move {
        if pos >= range.end {
            return None;
        }
        loop {
            let progress = rx.borrow_and_update().clone();
            let available = progress.written.min(range.end);
            if available > pos {
                let len = ((available - pos) as usize).min(READ_CHUNK);
                let at = fill.body_offset() + pos;
                return match read_chunk(fill.file.clone(), at, len).await {
                    Ok(b) => Some((Ok(b), (fill, rx, pos + len as u64))),
                    Err(e) => Some((Err(e), (fill, rx, range.end))),
                };
            }
            let failed = match progress.state {
                FillState::Running => None,
                FillState::Done => Some("the fill ended early".to_string()),
                FillState::Failed(why) => Some(why.to_string()),
            };
            if let Some(why) = failed {
                return Some((Err(io::Error::other(why)), (fill, rx, range.end)));
            }
            if rx.changed().await.is_err() {
                return Some((Err(io::Error::other("the fill went away")), (fill, rx, range.end)));
            }
        }
    })
}

/// Waits until `fill` has finished; `Err` with the reason when it failed.
pub async fn wait(fill: &Fill) -> Result<(), String> {
    let mut rx: watch::Receiver<_> = fill.progress.subscribe();
    loop {
        match &rx.borrow_and_update().state {
            FillState::Done => return Ok(()),
            FillState::Failed(why) => return Err(why.to_string()),
            FillState::Running => {}
        }
        if rx.changed().await.is_err() {
            return Err("the fill went away".into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_cover_the_object() {
        assert!(segments(0).is_empty());
        assert_eq!(segments(10), vec![0..10]);
        let s = segments(FIRST_SEGMENT + 2 * SEGMENT + 5);
        assert_eq!(s.len(), 4);
        assert_eq!(s[0], 0..FIRST_SEGMENT);
        assert_eq!(s[3].end, FIRST_SEGMENT + 2 * SEGMENT + 5);
        assert!(s.windows(2).all(|w| w[0].end == w[1].start));
    }

    #[test]
    fn the_prefix_grows_only_when_contiguous() {
        let mut l = Landed::default();
        l.land(0, 5);
        assert_eq!(l.prefix, 5);
        l.land(10, 20);
        l.land(20, 25);
        assert_eq!(l.prefix, 5);
        l.land(5, 10);
        assert_eq!(l.prefix, 25, "the parked 10..20 and 20..25 join the prefix");
        assert!(l.beyond.is_empty());
        l.land(25, 30);
        assert_eq!(l.prefix, 30);
        let mut l = Landed::default();
        for (a, b) in [(8, 9), (0, 4), (4, 8)] {
            l.land(a, b);
        }
        assert_eq!(l.prefix, 9);
    }
}
