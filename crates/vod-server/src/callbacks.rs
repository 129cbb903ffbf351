//! `vodstack callbacks ...`: diagnostics of event callbacks.
//!
//! `vodstack callbacks emit-test --count N [--app APP] [--url URL]` is a **diagnostic**: it
//! enqueues N `callback.http` deliveries of *synthetic* FileUploadComplete events (VideoId
//! `diag-<n>`, `FileUrl` `http://diag.invalid/diag-<n>.mp4`, Size `n`) for an app of the
//! account. Nothing is uploaded and no media exists; only the callback path is exercised,
//! and exactly the production one: each event is planned by `vod_callbacks::plan` (the
//! app's `EventTypeList` filter, the app's CallbackURL or the `--url` override given as
//! UserData `MessageCallback`, the retry deadline, the unique key) and the jobs are stored
//! with `JobRepo::enqueue_many` in batches. A running `vodstack serve` node delivers them
//! (signed with the app's AuthKey when one is set) within its poll interval. It is used by
//! the `callbacks` bench case and the kill -9 no-loss test; receivers see real deliveries,
//! so point it only at receivers that expect test events.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use async_trait::async_trait;
use clap::Subcommand;
use serde_json::json;
use vod_callbacks::{UserData, events};
use vod_core::CoreResult;
use vod_core::model::MessageCallbackConfig;
use vod_core::model::app::DEFAULT_APP_ID;
use vod_core::ports::{CallbackConfigRepo, MetaStore};

use crate::config::Config;
use crate::serve::open_store;

#[derive(Debug, Subcommand)]
pub enum CallbacksCommand {
    /// Diagnostics: enqueue COUNT `callback.http` deliveries of synthetic FileUploadComplete
    /// events (VideoId diag-<n>) through the production planning path. Receivers get real
    /// POSTs; a running `vodstack serve` delivers them.
    EmitTest {
        /// How many events (one delivery job each).
        #[arg(long, default_value_t = 1)]
        count: u64,
        /// The app whose callback settings (URL, EventTypeList, AuthKey) apply.
        #[arg(long, default_value = DEFAULT_APP_ID)]
        app: String,
        /// Deliver to this URL instead of the app's CallbackURL (a UserData
        /// MessageCallback override; the app's EventTypeList and AuthKey still apply).
        #[arg(long)]
        url: Option<String>,
        /// The first n (VideoIds run from diag-<first> to diag-<first + count - 1>).
        #[arg(long, default_value_t = 0)]
        first: u64,
        /// Jobs per enqueue transaction.
        #[arg(long, default_value_t = 500)]
        batch: usize,
    },
}

/// The store's callback settings, read once: every synthetic event of one run goes to the
/// same app, so planning N events costs one lookup instead of N.
struct ReadOnce {
    store: Arc<dyn MetaStore>,
    memo: Mutex<Option<Option<MessageCallbackConfig>>>,
}

#[async_trait]
impl CallbackConfigRepo for ReadOnce {
    async fn get_message_callback(&self, account_id: &str, app_id: &str) -> CoreResult<Option<MessageCallbackConfig>> {
        if let Some(found) = self.memo.lock().unwrap_or_else(PoisonError::into_inner).clone() {
            return Ok(found);
        }
        let found = self.store.get_message_callback(account_id, app_id).await?;
        *self.memo.lock().unwrap_or_else(PoisonError::into_inner) = Some(found.clone());
        Ok(found)
    }

    async fn put_message_callback(&self, c: &MessageCallbackConfig) -> CoreResult<()> {
        self.store.put_message_callback(c).await
    }

    async fn delete_message_callback(&self, account_id: &str, app_id: &str) -> CoreResult<bool> {
        self.store.delete_message_callback(account_id, app_id).await
    }
}

/// The synthetic event number `n`.
pub fn diag_event(n: u64) -> events::Event {
    let video_id = format!("diag-{n}");
    let size = i64::try_from(n).unwrap_or(i64::MAX);
    events::file_upload_complete(&video_id, size, &format!("http://diag.invalid/{video_id}.mp4"))
}

pub async fn run(config: &Config, cmd: CallbacksCommand) -> anyhow::Result<()> {
    match cmd {
        CallbacksCommand::EmitTest {
            count,
            app,
            url,
            first,
            batch,
        } => emit_test(config, count, &app, url.as_deref(), first, batch).await,
    }
}

async fn emit_test(
    config: &Config,
    count: u64,
    app: &str,
    url: Option<&str>,
    first: u64,
    batch: usize,
) -> anyhow::Result<()> {
    let started = Instant::now();
    if config.database_url.is_empty() {
        std::fs::create_dir_all(&config.data_dir)?;
    }
    let store = open_store(&config.effective_database_url()).await?;
    let account = store
        .first_account()
        .await?
        .ok_or_else(|| anyhow::anyhow!("no account yet: start `vodstack serve` once on this database"))?;
    if store.get_app(&account.id, app).await?.is_none() {
        anyhow::bail!("app {app} does not exist");
    }
    let user_data = match url {
        Some(u) => Some(
            UserData::parse(&json!({"MessageCallback": {"CallbackURL": u}}).to_string())
                .map_err(|e| anyhow::anyhow!("--url: {e}"))?,
        ),
        None => None,
    };
    let settings = ReadOnce {
        store: store.clone(),
        memo: Mutex::new(None),
    };
    let batch = batch.clamp(1, 5_000);
    let (mut enqueued, mut deduplicated, mut target) = (0u64, 0u64, None::<String>);
    let mut pending = Vec::with_capacity(batch);
    for n in first..first.saturating_add(count) {
        let job = vod_callbacks::plan(
            &settings,
            &config.callbacks,
            &account.id,
            app,
            user_data.as_ref(),
            diag_event(n),
        )
        .await?;
        let Some(job) = job else {
            anyhow::bail!(
                "events of app {app} go nowhere: it has no HTTP CallbackURL accepting \
                 FileUploadComplete (SetMessageCallback first) and no --url was given"
            );
        };
        if target.is_none() {
            target = job.payload["url"].as_str().map(str::to_string);
        }
        pending.push(job);
        if pending.len() == batch {
            let done = store.enqueue_many(&pending).await?;
            enqueued += done.iter().filter(|(_, new)| *new).count() as u64;
            deduplicated += done.iter().filter(|(_, new)| !*new).count() as u64;
            pending.clear();
        }
    }
    if !pending.is_empty() {
        let done = store.enqueue_many(&pending).await?;
        enqueued += done.iter().filter(|(_, new)| *new).count() as u64;
        deduplicated += done.iter().filter(|(_, new)| !*new).count() as u64;
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "Kind": vod_callbacks::KIND,
            "Diagnostic": true,
            "AppId": app,
            "URL": target,
            "Enqueued": enqueued,
            "Deduplicated": deduplicated,
            "FirstVideoId": (count > 0).then(|| format!("diag-{first}")),
            "LastVideoId": (count > 0).then(|| format!("diag-{}", first + count - 1)),
            "Seconds": started.elapsed().as_secs_f64(),
        }))?
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_events() {
        let e = diag_event(7).to_json();
        assert_eq!(e["EventType"], "FileUploadComplete");
        assert_eq!(e["VideoId"], "diag-7");
        assert_eq!(e["Size"], 7);
        assert_eq!(e["FileUrl"], "http://diag.invalid/diag-7.mp4");
        assert_eq!(e["EventId"].as_str().map(str::len), Some(32));
        assert_ne!(diag_event(7).id(), diag_event(7).id(), "every event has its own id");
    }
}
