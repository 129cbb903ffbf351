//! `media.purge`: after DeleteVideo, deletes every object under the deleted media's key
//! prefix (its source, segments, streams and snapshots); after DeleteStream, the objects of
//! one transcode run (`<prefix>streams/<job>/`). A page at a time, so a
//! retry after a crash continues where the last attempt stopped (pages go by key, so an
//! object that cannot be deleted is not listed again by the same attempt).

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Value, json};
use vod_core::model::Job;
use vod_core::model::media::JOB_MEDIA_PURGE;
use vod_jobs::{JobContext, JobError, JobHandler};

use crate::Processing;

pub struct PurgeHandler(pub Arc<Processing>);

#[async_trait]
impl JobHandler for PurgeHandler {
    fn kind(&self) -> &'static str {
        JOB_MEDIA_PURGE
    }

    async fn run(&self, job: &Job, ctx: &JobContext) -> Result<Value, JobError> {
        let text = |k: &str| job.payload[k].as_str().unwrap_or_default().to_string();
        let (media_id, bucket, prefix) = (text("media_id"), text("bucket"), text("prefix"));
        if bucket.is_empty() || prefix.len() < 4 || !prefix.contains(&media_id) || media_id.is_empty() {
            return Err(JobError::abort(format!("refusing to purge {bucket}/{prefix}")));
        }
        let p = &self.0;
        let exists = p
            .store
            .get_media_by_id(&media_id)
            .await
            .map_err(|e| JobError::retry(e.to_string()))?
            .is_some();
        // A media that still exists only loses the objects of one deleted transcode run.
        let run_only = prefix.contains(&format!("{media_id}/streams/")) && prefix.ends_with('/');
        if exists && !run_only {
            return Err(JobError::abort("the media exists: nothing to purge"));
        }
        let mut deleted = 0u64;
        let mut after = String::new();
        loop {
            if ctx.cancelled.is_cancelled() {
                return Err(JobError::retry("cancelled"));
            }
            let page = p
                .store
                .list_objects(&bucket, &prefix, &after, 500)
                .await
                .map_err(|e| JobError::retry(e.to_string()))?;
            if page.is_empty() {
                break;
            }
            for object in page {
                p.objects
                    .delete_object(&object.bucket, &object.key)
                    .await
                    .map_err(|e| JobError::retry(e.to_string()))?;
                deleted += 1;
                after = object.key;
            }
        }
        Ok(json!({"deleted": deleted}))
    }
}
