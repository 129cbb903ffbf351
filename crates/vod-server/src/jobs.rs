//! Jobs in the binary: [`handlers`], the one list of job kinds a `vodstack serve` node runs,
//! and `vodstack jobs ...`, the operator's view of the queue (JSON output).

use std::path::PathBuf;
use std::sync::Arc;

use clap::Subcommand;
use serde_json::{Value, json};
use vod_core::model::{Job, JobStatus};
use vod_core::ports::MetaStore;
use vod_jobs::JobHandler;
use vod_jobs::payload::JobPayload as _;
use vod_jobs::probe::{ProbeAppend, ProbeHandler};
use vod_wire::timefmt::iso8601;

use crate::config::Config;
use crate::serve::open_store;

/// The job handlers of this node, one per kind. Every job kind is registered here.
pub fn handlers(config: &Config, store: &Arc<dyn MetaStore>, master_key: &[u8]) -> Vec<Arc<dyn JobHandler>> {
    let mut list: Vec<Arc<dyn JobHandler>> = Vec::new();
    // `cdn.refresh`: refresh / preload on every live edge and the purge hooks (see vod-cdn).
    list.extend(vod_cdn::handlers(vod_cdn::Cdn::new(
        store.clone(),
        config.gateway.upload.clone(),
        config.callbacks.clone(),
        config.cdn.clone(),
        &crate::edge::control_secret(master_key),
    )));
    // `callback.http`: HTTP event callbacks (AuthKeys are read from the store at delivery).
    match vod_callbacks::CallbackHandler::new(&config.callbacks, store.clone()) {
        Ok(h) => list.push(Arc::new(h)),
        Err(e) => tracing::error!(error = %e, "callbacks disabled: invalid [callbacks] settings"),
    }
    // `upload.url_pull`: UploadMediaByURL pulls (see `url_pull`).
    if let Some(h) = crate::url_pull::handler(config, store) {
        list.push(Arc::new(h));
    }
    // `media.probe`, `media.transcode`, `media.snapshot`, `media.purge` (see vod-processing).
    if let Some(p) = crate::processing::context(config, store) {
        list.extend(vod_processing::handlers(p));
    }
    if config.jobs.enable_probe {
        // Diagnostics only (see `vod_jobs::probe`).
        list.push(Arc::new(ProbeHandler));
    }
    list
}

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// List jobs, newest first.
    List {
        /// queued, running, succeeded, failed or cancelled.
        #[arg(long)]
        status: Option<String>,
        /// A job kind, e.g. callback.http.
        #[arg(long)]
        kind: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Show one job with its payload, result and last error.
    Show { id: String },
    /// Queue a failed or cancelled job again, with a fresh retry budget.
    Retry { id: String },
    /// Cancel a queued job (running jobs finish their attempt).
    Cancel { id: String },
    /// Diagnostics: enqueue `probe.append` jobs, each appending a start and an end line to
    /// FILE (run only by nodes with `jobs.enable_probe = true`).
    EnqueueProbe {
        #[arg(long)]
        file: PathBuf,
        #[arg(long, default_value_t = 1)]
        count: u32,
        /// How long each job sleeps between its two lines (milliseconds).
        #[arg(long, default_value_t = 0)]
        ms: u64,
        #[arg(long, default_value_t = 3)]
        max_attempts: i64,
    },
}

fn time(ms: Option<i64>) -> Value {
    ms.map_or(Value::Null, |ms| Value::from(iso8601(ms)))
}

fn summary(job: &Job) -> Value {
    json!({
        "Id": job.id,
        "Kind": job.kind,
        "Status": job.status.as_str(),
        "Attempts": job.attempts,
        "MaxAttempts": job.max_attempts,
        "Worker": job.lease_owner,
        "LastError": job.last_error,
        "CreatedAt": iso8601(job.created_at),
        "UpdatedAt": iso8601(job.updated_at),
        "FinishedAt": time(job.finished_at),
    })
}

fn detail(job: &Job) -> Value {
    let mut v = summary(job);
    if let Some(map) = v.as_object_mut() {
        map.insert("UniqueKey".into(), json!(job.unique_key));
        map.insert("NotBefore".into(), Value::from(iso8601(job.not_before)));
        map.insert("GiveUpAt".into(), time(job.give_up_at));
        map.insert("LeaseExpiresAt".into(), time(job.lease_expires_at));
        map.insert("Payload".into(), job.payload.clone());
        map.insert("Result".into(), job.result.clone().unwrap_or(Value::Null));
    }
    v
}

fn print(v: Value) {
    println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
}

async fn get(store: &dyn MetaStore, id: &str) -> anyhow::Result<Job> {
    store.get_job(id).await?.ok_or_else(|| anyhow::anyhow!("no job {id}"))
}

pub async fn run(config: &Config, cmd: JobsCommand) -> anyhow::Result<()> {
    if config.database_url.is_empty() {
        std::fs::create_dir_all(&config.data_dir)?;
    }
    let store = open_store(&config.effective_database_url()).await?;
    match cmd {
        JobsCommand::List { status, kind, limit } => {
            let status = status
                .map(|s| {
                    JobStatus::parse(&s).ok_or_else(|| {
                        anyhow::anyhow!("unknown status {s:?}; use queued, running, succeeded, failed or cancelled")
                    })
                })
                .transpose()?;
            let jobs = store.list_jobs(status, kind.as_deref(), limit).await?;
            print(Value::Array(jobs.iter().map(summary).collect()));
        }
        JobsCommand::Show { id } => print(detail(&get(store.as_ref(), &id).await?)),
        JobsCommand::Retry { id } => {
            if !store.retry_job(&id).await? {
                let job = get(store.as_ref(), &id).await?;
                anyhow::bail!(
                    "job {id} is {}; only failed or cancelled jobs can be retried",
                    job.status.as_str()
                );
            }
            print(summary(&get(store.as_ref(), &id).await?));
        }
        JobsCommand::Cancel { id } => {
            if !store.cancel_job(&id).await? {
                let job = get(store.as_ref(), &id).await?;
                anyhow::bail!("job {id} is {}; only queued jobs can be cancelled", job.status.as_str());
            }
            print(summary(&get(store.as_ref(), &id).await?));
        }
        JobsCommand::EnqueueProbe {
            file,
            count,
            ms,
            max_attempts,
        } => {
            // Nodes may run in other directories: hand them an absolute path.
            let file = if file.is_absolute() {
                file
            } else {
                std::env::current_dir()?.join(file)
            };
            let probe = ProbeAppend {
                file: file.display().to_string(),
                ms,
            };
            let jobs = (0..count)
                .map(|_| probe.to_job(max_attempts))
                .collect::<Result<Vec<_>, _>>()?;
            let ids = store.enqueue_many(&jobs).await?;
            print(json!({
                "Kind": "probe.append",
                "Enqueued": ids.len(),
                "File": probe.file,
                "Ids": ids.into_iter().map(|(id, _)| id).collect::<Vec<_>>(),
            }));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use crate::config::{Config, Overrides};

    #[test]
    #[allow(clippy::result_large_err)] // figment::Jail's closure signature is fixed
    fn jobs_section_from_file_and_env() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("v.toml");
        std::fs::write(
            &file,
            "[jobs]\nlease_secs = 7\npoll_ms = 250\n[jobs.concurrency]\n\"probe.append\" = 2\n",
        )
        .unwrap();
        figment::Jail::expect_with(|jail| {
            let cfg = Config::load(None, &Overrides::default()).unwrap();
            assert!(cfg.jobs.enabled, "workers are on by default");
            assert!(!cfg.jobs.enable_probe);
            assert_eq!(cfg.jobs.lease_secs, 30);

            jail.set_env("VODSTACK_JOBS__ENABLED", "false");
            jail.set_env("VODSTACK_JOBS__ENABLE_PROBE", "true");
            jail.set_env("VODSTACK_JOBS__WORKER_ID", "node-7");
            jail.set_env("VODSTACK_JOBS__LEASE_SECS", "2");
            let cfg = Config::load(Some(&file), &Overrides::default()).unwrap();
            assert!(!cfg.jobs.enabled);
            assert!(cfg.jobs.enable_probe);
            assert_eq!(cfg.jobs.worker_id, "node-7");
            assert_eq!(cfg.jobs.lease_secs, 2, "env over file");
            assert_eq!(cfg.jobs.poll_ms, 250);
            assert_eq!(cfg.jobs.concurrency, BTreeMap::from([("probe.append".to_string(), 2)]));
            assert!(cfg.dump().unwrap().contains("[jobs]"));
            Ok(())
        });
    }

    /// A dotted kind cannot be an env key (figment would nest at the dot): its `_` alias is.
    #[test]
    #[allow(clippy::result_large_err)] // figment::Jail's closure signature is fixed
    fn per_kind_concurrency_from_env() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("VODSTACK_JOBS__CONCURRENCY__CALLBACK_HTTP", "64");
            jail.set_env("VODSTACK_CALLBACKS__CONCURRENCY", "16");
            let cfg = Config::load(None, &Overrides::default()).unwrap();
            assert_eq!(cfg.jobs.concurrency_for("callback.http"), Some(64));
            assert_eq!(cfg.jobs.concurrency_for("probe.append"), None);
            assert_eq!(cfg.callbacks.concurrency, 16);
            Ok(())
        });
    }
}
