//! [`RunningMd5`]: an MD5 over a sequence of writes, hashed on a background thread that the
//! writes never wait for. A multipart upload's whole-object MD5 continues this way from part
//! to part while each part is answered as soon as its own bytes are stored.
//!
//! The chain is best effort and never slows an upload: its thread runs at the lowest CPU
//! priority, and when it falls more than `QUEUE` batches (8 MiB) behind (the server has no spare
//! CPU) it gives up; the object's MD5 is then read back after completion
//! ([`ObjectStore::ensure_md5`](crate::ObjectStore::ensure_md5)). With a spare core (any
//! upload that the network, not the CPU, paces) it keeps up and the MD5 is ready at
//! completion.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};
use vod_auth::md5sum::Md5;

/// Batches (about 1 MiB each) a chain may fall behind before it gives up.
const QUEUE: usize = 8;
/// Nice value of chain threads: they get only CPU nothing else wants.
const CHAIN_NICE: i32 = 19;

/// The state of a running MD5: available now, or being computed by a chain thread.
pub enum RunningMd5 {
    Ready(Md5),
    /// `None` once the chain gave up (or its thread failed).
    Pending(oneshot::Receiver<Option<Md5>>),
}

/// The sending end a write feeds its bytes into (see [`RunningMd5::feed`]).
pub struct Md5Feed {
    tx: mpsc::Sender<Vec<Bytes>>,
    gave_up: Arc<AtomicBool>,
}

impl RunningMd5 {
    pub fn new() -> Self {
        Self::Ready(Md5::new())
    }

    /// Continues this MD5 with whatever is sent to the returned feed: a thread takes the
    /// current state (waiting for a pending one), then hashes the batches in order. The
    /// returned state is the MD5 after them, complete once the feed is dropped.
    pub fn feed(self) -> (Md5Feed, RunningMd5) {
        let (tx, mut rx) = mpsc::channel::<Vec<Bytes>>(QUEUE);
        let (done_tx, done_rx) = oneshot::channel();
        let gave_up = Arc::new(AtomicBool::new(false));
        let flag = gave_up.clone();
        let spawned = std::thread::Builder::new().name("md5-chain".into()).spawn(move || {
            // This thread only; it ends with the link.
            let _ = rustix::process::setpriority_process(None, CHAIN_NICE);
            let md5 = match self {
                RunningMd5::Ready(m) => Some(m),
                RunningMd5::Pending(prev) => prev.blocking_recv().ok().flatten(),
            };
            let result = md5.and_then(|mut md5| {
                while let Some(batch) = rx.blocking_recv() {
                    batch.iter().for_each(|b| md5.update(b));
                }
                (!flag.load(Ordering::Acquire)).then_some(md5)
            });
            let _ = done_tx.send(result);
        });
        if spawned.is_err() {
            // No thread: the chain ends here (the receiver sees the sender dropped).
            gave_up.store(true, Ordering::Release);
        }
        (Md5Feed { tx, gave_up }, RunningMd5::Pending(done_rx))
    }

    /// The MD5 once every feed before it is done; `None` if the chain gave up.
    pub async fn resolve(self) -> Option<Md5> {
        match self {
            RunningMd5::Ready(m) => Some(m),
            RunningMd5::Pending(rx) => rx.await.ok().flatten(),
        }
    }
}

impl Default for RunningMd5 {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for RunningMd5 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RunningMd5::Ready(_) => "RunningMd5::Ready",
            RunningMd5::Pending(_) => "RunningMd5::Pending",
        })
    }
}

impl Md5Feed {
    /// Hands `batch` to the chain's thread without waiting. Returns false when the chain
    /// has ended: it fell too far behind (it then gives up) or an earlier link did; the
    /// caller stops feeding it.
    pub fn send(&self, batch: Vec<Bytes>) -> bool {
        match self.tx.try_send(batch) {
            Ok(()) => true,
            Err(_) => {
                self.gave_up.store(true, Ordering::Release);
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn chains_across_feeds_in_order() {
        let parts: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i; 300_000 + i as usize]).collect();
        let mut md5 = RunningMd5::new();
        for part in &parts {
            let (feed, next) = md5.feed();
            for piece in part.chunks(70_000) {
                // Waits like a slow network would, so the chain never falls behind.
                while feed.tx.capacity() == 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                }
                assert!(feed.send(vec![Bytes::copy_from_slice(piece)]));
            }
            drop(feed);
            md5 = next;
        }
        let whole: Vec<u8> = parts.concat();
        assert_eq!(md5.resolve().await.unwrap().finalize(), vod_auth::md5sum::md5(&whole));
    }

    #[tokio::test]
    async fn a_chain_that_falls_behind_gives_up_for_good() {
        let (feed, next) = RunningMd5::new().feed();
        let batch = vec![Bytes::from(vec![7u8; 1 << 20])];
        // Far more than the queue without waiting: some batch is refused.
        let refused = (0..10 * QUEUE).any(|_| !feed.send(batch.clone()));
        assert!(refused, "a full queue refuses");
        drop(feed);
        let (feed, after) = next.feed();
        drop(feed);
        assert!(after.resolve().await.is_none(), "no MD5 from a chain that missed bytes");
    }

    #[tokio::test]
    async fn an_unfed_chain_is_the_empty_md5() {
        let (feed, next) = RunningMd5::new().feed();
        drop(feed);
        assert_eq!(next.resolve().await.unwrap().finalize(), vod_auth::md5sum::md5(b""));
    }
}
