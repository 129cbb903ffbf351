//! The `cdn.refresh` job: one batch of URL tasks purged from (Refresh) or fetched into
//! (Preload) every live edge node, refreshes also sent to the purge hooks; then every task's
//! outcome, the media record's final state and its SubmitMediaRefreshComplete delivery are
//! written in one transaction.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use vod_callbacks::UserData;
use vod_callbacks::events::{self, EventError, MediaRefresh};
use vod_core::CoreResult;
use vod_core::model::refresh::{
    EdgeNode, JOB_CDN_REFRESH, MediaRefreshJob, MediaRefreshOutcome, MediaRefreshStatus, RefreshObjectType,
    RefreshTask, RefreshTaskStatus, RefreshTaskType, TaskResult, batch_result,
};
use vod_core::model::{Job, NewJob};
use vod_edge::{EdgeClientError, PathResult};
use vod_jobs::payload::{JobPayload, decode};
use vod_jobs::{JobContext, JobError, JobHandler};

use crate::hooks::HookOutcome;
use crate::{Cdn, derived_id};

/// `ErrorCode` of a media refresh whose filter selected no stream.
pub const NO_STREAM: &str = "InvalidVideo.NoneStream";
/// `ErrorCode` of a media refresh with URLs that failed on some edge or hook.
pub const REFRESH_FAILED: &str = "RefreshFailed";
pub const PRELOAD_FAILED: &str = "PreloadFailed";
/// Longest `ErrorMessage` / task `Description` stored.
const MAX_MESSAGE: usize = 1024;

/// The payload of a `cdn.refresh` job (written by `vod_core::model::refresh::refresh_job`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Payload {
    pub batch_id: String,
}

impl JobPayload for Payload {
    const KIND: &'static str = JOB_CDN_REFRESH;
    const VERSION: u32 = 1;
}

/// Runs `cdn.refresh` jobs.
pub struct RefreshHandler(pub Arc<Cdn>);

fn retry(e: impl std::fmt::Display) -> JobError {
    JobError::retry(e.to_string())
}

fn clip(mut s: String) -> String {
    if s.len() > MAX_MESSAGE {
        let mut cut = MAX_MESSAGE - 3;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str("...");
    }
    s
}

/// What the edges and hooks said about a batch.
#[derive(Default)]
struct Findings {
    /// Per task: why it failed somewhere (empty = succeeded everywhere).
    errors: Vec<Vec<String>>,
    /// Some failure is worth another attempt.
    transient: Option<String>,
}

impl Findings {
    fn new(n: usize) -> Self {
        Self {
            errors: vec![Vec::new(); n],
            transient: None,
        }
    }

    fn fail_all(&mut self, why: &str) {
        for e in &mut self.errors {
            e.push(why.to_string());
        }
    }

    fn transient(&mut self, why: &str) {
        self.fail_all(why);
        self.transient.get_or_insert_with(|| why.to_string());
    }
}

impl RefreshHandler {
    /// One edge's answer for the batch, in task order.
    async fn on_edge(
        &self,
        edge: &EdgeNode,
        tasks: &[RefreshTask],
        preload: bool,
    ) -> Result<Vec<PathResult>, EdgeClientError> {
        let cdn = &self.0;
        if preload {
            let files: Vec<String> = tasks.iter().map(|t| t.object_path.clone()).collect();
            return cdn.preload_client.preload(&edge.control_url, &files).await;
        }
        // The edge answers files first, then directories; put the answers back in task order.
        let is_dir = |t: &RefreshTask| t.object_type == RefreshObjectType::Directory;
        let files: Vec<usize> = (0..tasks.len()).filter(|&i| !is_dir(&tasks[i])).collect();
        let dirs: Vec<usize> = (0..tasks.len()).filter(|&i| is_dir(&tasks[i])).collect();
        let file_paths: Vec<String> = files.iter().map(|&i| tasks[i].object_path.clone()).collect();
        let dir_paths: Vec<String> = dirs.iter().map(|&i| tasks[i].object_path.clone()).collect();
        let answers = cdn
            .purge_client
            .purge(&edge.control_url, &file_paths, &dir_paths)
            .await?;
        let mut ordered = vec![PathResult::default(); tasks.len()];
        for (&i, r) in files.iter().chain(dirs.iter()).zip(answers) {
            ordered[i] = r;
        }
        Ok(ordered)
    }

    /// Asks every edge (and, for refreshes, every hook) about every task.
    async fn reach_everyone(&self, tasks: &[RefreshTask], preload: bool) -> CoreResult<(Findings, usize)> {
        let cdn = &self.0;
        let mut found = Findings::new(tasks.len());
        if tasks.is_empty() {
            return Ok((found, 0));
        }
        let live_ms = i64::try_from(cdn.config.edge_live_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        let edges = cdn
            .store
            .live_edge_nodes(vod_core::now_ms().saturating_sub(live_ms))
            .await?;
        if edges.is_empty() && preload {
            found.transient("no live edge node to preload into");
        }
        let answers = futures::future::join_all(edges.iter().map(|e| self.on_edge(e, tasks, preload))).await;
        for (edge, answer) in edges.iter().zip(answers) {
            match answer {
                Ok(results) if results.len() == tasks.len() => {
                    for (i, r) in results.into_iter().enumerate() {
                        if !r.ok {
                            let why = r.error.unwrap_or_else(|| "failed".into());
                            found.errors[i].push(format!("edge {}: {why}", edge.node_id));
                        }
                    }
                }
                Ok(results) => found.transient(&format!(
                    "edge {} answered {} results for {} paths",
                    edge.node_id,
                    results.len(),
                    tasks.len()
                )),
                Err(e) => found.transient(&format!("edge {}: {e}", edge.node_id)),
            }
        }
        if !preload && !cdn.hooks.is_empty() {
            let items: Vec<(String, bool)> = tasks
                .iter()
                .map(|t| (t.object_path.clone(), t.object_type == RefreshObjectType::Directory))
                .collect();
            for (i, outcomes) in cdn.hooks.purge(&items).await.into_iter().enumerate() {
                for o in outcomes {
                    match o {
                        HookOutcome::Ok => {}
                        HookOutcome::Transient(why) => {
                            found.errors[i].push(why.clone());
                            found.transient.get_or_insert(why);
                        }
                        HookOutcome::Failed(why) => found.errors[i].push(why),
                    }
                }
            }
        }
        Ok((found, edges.len()))
    }

    /// The delivery of SubmitMediaRefreshComplete for a finished media record.
    async fn event_jobs(&self, m: &MediaRefreshJob, outcome: &MediaRefreshOutcome) -> CoreResult<Vec<NewJob>> {
        let cdn = &self.0;
        // The call's UserData wins; the media's (set at upload) fills the gaps.
        let call = UserData::parse(&m.user_data).ok();
        let media_ud = match cdn.store.get_media_by_id(&m.media_id).await? {
            Some(media) => UserData::parse(&media.user_data).ok(),
            None => None,
        };
        let user_data = UserData::layered(call.as_ref(), media_ud.as_ref());
        let event = events::submit_media_refresh_complete(&MediaRefresh {
            media_refresh_job_id: m.job_id.clone(),
            media_id: m.media_id.clone(),
            // Alibaba's sample event shows the task type lower-cased.
            task_type: m.task_type.as_str().to_ascii_lowercase(),
            success_play_urls: outcome.success_play_urls.clone(),
            task_ids: outcome.task_ids.clone(),
            filter_policy: m.filter_policy.clone(),
            error: (!outcome.success).then(|| EventError::new(&outcome.error_code, &outcome.error_message)),
        })
        .with_id(derived_id(&[&m.batch_id, "SubmitMediaRefreshComplete"]));
        let job = vod_callbacks::plan(
            cdn.store.as_ref(),
            &cdn.callbacks,
            &m.account_id,
            &m.app_id,
            Some(&user_data),
            event,
        )
        .await?;
        Ok(job.into_iter().collect())
    }
}

/// The media record's final state from its tasks' results.
fn media_outcome(m: &MediaRefreshJob, tasks: &[RefreshTask], errors: &[Vec<String>]) -> MediaRefreshOutcome {
    let mut out = MediaRefreshOutcome::default();
    if tasks.is_empty() {
        out.error_code = NO_STREAM.into();
        out.error_message = "The media has no stream matching the filter policy.".into();
        return out;
    }
    let mut failures = Vec::new();
    for (t, e) in tasks.iter().zip(errors) {
        if e.is_empty() {
            out.success_play_urls.push(t.object_path.clone());
            out.task_ids.push(t.task_id.clone());
        } else {
            failures.push(format!("{}: {}", t.object_path, e.join("; ")));
        }
    }
    out.success = failures.is_empty();
    if !out.success {
        out.error_code = match m.task_type {
            RefreshTaskType::Refresh => REFRESH_FAILED.into(),
            RefreshTaskType::Preload => PRELOAD_FAILED.into(),
        };
        out.error_message = clip(format!(
            "{} of {} URLs failed: {}",
            failures.len(),
            tasks.len(),
            failures.join(" | ")
        ));
    }
    out
}

#[async_trait]
impl JobHandler for RefreshHandler {
    fn kind(&self) -> &'static str {
        JOB_CDN_REFRESH
    }

    fn concurrency(&self) -> usize {
        self.0.config.concurrency.max(1)
    }

    async fn run(&self, job: &Job, ctx: &JobContext) -> Result<Value, JobError> {
        let cdn = &self.0;
        let p: Payload = decode(job)?;
        let media = cdn.store.media_refresh_of_batch(&p.batch_id).await.map_err(retry)?;
        let tasks = cdn.store.refresh_tasks_of_batch(&p.batch_id).await.map_err(retry)?;
        let pending = match &media {
            Some(m) => m.status == MediaRefreshStatus::Processing,
            None => tasks.iter().any(|t| t.status == RefreshTaskStatus::Refreshing),
        };
        if !pending {
            return Ok(json!({"already_finished": true}));
        }
        let preload = match &media {
            Some(m) => m.task_type == RefreshTaskType::Preload,
            None => tasks.iter().any(|t| t.object_type == RefreshObjectType::Preload),
        };
        let kind = if preload { "preload" } else { "refresh" };
        let (found, edges) = self.reach_everyone(&tasks, preload).await.map_err(retry)?;
        if let Some(why) = &found.transient
            && (ctx.attempt < job.max_attempts || ctx.cancelled.is_cancelled())
        {
            return Err(JobError::Retry {
                message: why.clone(),
                after: Some(Duration::from_millis(cdn.config.retry_delay_ms)),
            });
        }
        let results: Vec<TaskResult> = tasks
            .iter()
            .zip(&found.errors)
            .map(|(t, e)| TaskResult {
                task_id: t.task_id.clone(),
                status: if e.is_empty() {
                    RefreshTaskStatus::Complete
                } else {
                    RefreshTaskStatus::Failed
                },
                description: clip(e.join("; ")),
            })
            .collect();
        let ok = found.errors.iter().filter(|e| e.is_empty()).count();
        let (outcome, jobs) = match &media {
            Some(m) => {
                let o = media_outcome(m, &tasks, &found.errors);
                let jobs = self.event_jobs(m, &o).await.map_err(retry)?;
                (Some(o), jobs)
            }
            None => (None, Vec::new()),
        };
        let stored = cdn
            .store
            .complete_refresh_batch(&p.batch_id, &results, outcome.as_ref(), vod_core::now_ms(), &jobs)
            .await
            .map_err(retry)?;
        if stored {
            let batch_outcome = if ok == tasks.len() && outcome.as_ref().is_none_or(|o| o.success) {
                "success"
            } else {
                "fail"
            };
            metrics::counter!("vod_cdn_batches_total", "kind" => kind, "outcome" => batch_outcome).increment(1);
            metrics::counter!("vod_cdn_urls_total", "kind" => kind, "outcome" => "ok").increment(ok as u64);
            metrics::counter!("vod_cdn_urls_total", "kind" => kind, "outcome" => "failed")
                .increment((tasks.len() - ok) as u64);
        }
        Ok(batch_result(tasks.len(), ok, edges))
    }
}
