//! Replay protection with group commit: a nonce is accepted once. Every nonce is recorded in
//! the shared store (PostgreSQL's `nonces` table, SQLite's nonce journal), in batches, before
//! the request proceeds; the store alone decides, so replays are refused within a process,
//! across restarts and across nodes sharing one database alike.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use vod_core::ports::{BackendKind, MetaStore};
use vod_core::{CoreError, now_ms};

type Reply = oneshot::Sender<Result<bool, String>>;

/// Accepts each nonce once within its lifetime.
#[derive(Clone)]
pub struct NonceGuard {
    tx: mpsc::Sender<(String, i64, Reply)>,
}

const MAX_BATCH: usize = 512;

impl NonceGuard {
    /// Starts the batch writer and the purger on the current tokio runtime.
    pub fn start(store: Arc<dyn MetaStore>) -> Self {
        let (tx, rx) = mpsc::channel(8192);
        tokio::spawn(writer(store.clone(), rx));
        tokio::spawn(purger(store));
        Self { tx }
    }

    /// `Ok(true)` when `key` is new (and now recorded durably), `Ok(false)` on a replay.
    pub async fn check(&self, key: String, expires_at_ms: i64) -> Result<bool, CoreError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send((key, expires_at_ms, reply))
            .await
            .map_err(|_| CoreError::Unavailable("nonce writer stopped".into()))?;
        match rx.await {
            Ok(Ok(new)) => Ok(new),
            Ok(Err(e)) => Err(CoreError::Unavailable(e)),
            Err(_) => Err(CoreError::Unavailable("nonce writer dropped the request".into())),
        }
    }
}

/// Batches waiting requests and records each batch at once. On PostgreSQL up to four batches
/// are written at once, so a slow commit does not stall the next batch; SQLite's nonce journal
/// takes one batch at a time under its lock, so there one batch in flight collects everything
/// that waits meanwhile (concurrent small batches would only queue on the lock).
async fn writer(store: Arc<dyn MetaStore>, mut rx: mpsc::Receiver<(String, i64, Reply)>) {
    let in_flight = match store.kind() {
        BackendKind::Sqlite => 1,
        BackendKind::Postgres => 4,
    };
    let slots = Arc::new(tokio::sync::Semaphore::new(in_flight));
    while let Some(first) = rx.recv().await {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        // Let the requests that are ready to run reach this point too: one write then
        // records all of them (a batch per wake-up would cost a write per request).
        tokio::task::yield_now().await;
        let mut batch = Vec::with_capacity(64);
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(item) => batch.push(item),
                Err(_) => break,
            }
        }
        if in_flight == 1 {
            // One batch at a time anyway: written right here, no task per batch.
            write_batch(store.as_ref(), batch).await;
            drop(permit);
            continue;
        }
        let store = store.clone();
        tokio::spawn(async move {
            write_batch(store.as_ref(), batch).await;
            drop(permit);
        });
    }
}

async fn write_batch(store: &dyn MetaStore, batch: Vec<(String, i64, Reply)>) {
    // The keys move into the store's batch; the replies wait beside it.
    let (items, replies): (Vec<(String, i64)>, Vec<Reply>) = batch.into_iter().map(|(k, e, r)| ((k, e), r)).unzip();
    match store.record_nonces(&items).await {
        Ok(results) => {
            for (reply, new) in replies.into_iter().zip(results) {
                let _ = reply.send(Ok(new));
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "recording nonces failed");
            for reply in replies {
                let _ = reply.send(Err(e.to_string()));
            }
        }
    }
}

async fn purger(store: Arc<dyn MetaStore>) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        if let Err(e) = store.purge_nonces(now_ms()).await {
            tracing::warn!(error = %e, "purging expired nonces failed");
        }
    }
}
