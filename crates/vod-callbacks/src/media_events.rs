//! The media library's [`MediaEventPlanner`] over `vod-callbacks`: UserData is checked with
//! the callbacks' rules, and FileUploadComplete / DeleteMediaComplete become `callback.http`
//! delivery jobs (stored by the media library in the transaction of the state change).

use std::sync::Arc;

use crate::events::{self, MediaDeletion};
use crate::{CallbacksConfig, UserData};
use async_trait::async_trait;
use vod_core::CoreResult;
use vod_core::model::NewJob;
use vod_core::model::media::Media;
use vod_core::ports::MetaStore;
use vod_core::service::media::MediaEventPlanner;

/// Plans media events with the app's callback settings and the media's UserData.
pub struct CallbackPlanner {
    store: Arc<dyn MetaStore>,
    config: CallbacksConfig,
}

impl CallbackPlanner {
    pub fn new(store: Arc<dyn MetaStore>, config: CallbacksConfig) -> Self {
        Self { store, config }
    }

    async fn plan(&self, media: &Media, event: events::Event) -> CoreResult<Vec<NewJob>> {
        // Stored UserData passed the check when it was set; anything unreadable counts as none.
        let user_data = UserData::parse(&media.user_data).unwrap_or_default();
        let job = crate::plan(
            self.store.as_ref(),
            &self.config,
            &media.account_id,
            &media.app_id,
            Some(&user_data),
            event,
        )
        .await?;
        Ok(job.into_iter().collect())
    }
}

#[async_trait]
impl MediaEventPlanner for CallbackPlanner {
    fn check_user_data(&self, raw: &str) -> CoreResult<()> {
        UserData::parse(raw).map(|_| ()).map_err(Into::into)
    }

    async fn file_upload_complete(&self, media: &Media, size: i64, file_url: &str) -> CoreResult<Vec<NewJob>> {
        self.plan(media, events::file_upload_complete(&media.media_id, size, file_url))
            .await
    }

    async fn delete_media_complete(&self, media: &Media) -> CoreResult<Vec<NewJob>> {
        let deletion = MediaDeletion {
            media_id: media.media_id.clone(),
            media_type: "video".into(),
            delete_type: "all".into(),
            job_ids: Vec::new(),
            error: None,
        };
        self.plan(media, events::delete_media_complete(&deletion)).await
    }

    async fn delete_streams_complete(&self, media: &Media, job_ids: &[String]) -> CoreResult<Vec<NewJob>> {
        let deletion = MediaDeletion {
            media_id: media.media_id.clone(),
            media_type: "video".into(),
            delete_type: "stream".into(),
            job_ids: job_ids.to_vec(),
            error: None,
        };
        self.plan(media, events::delete_media_complete(&deletion)).await
    }
}
