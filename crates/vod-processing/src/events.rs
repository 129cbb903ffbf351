//! The callback events of processing runs, planned as delivery jobs that are stored with the
//! run's publication. Event ids derive from the run, so a re-run plans the same ids (and the
//! delivery jobs' unique keys keep them single).

use vod_callbacks::events::{self, SnapshotResult, StreamInfo};
use vod_callbacks::{Event, UserData};
use vod_core::CoreResult;
use vod_core::model::{Media, NewJob};

use crate::{Processing, derived_id};

/// Plans `event` for `media` with `user_data` (the call's own UserData, else the media's).
pub async fn plan(p: &Processing, media: &Media, user_data: Option<&str>, event: Event) -> CoreResult<Vec<NewJob>> {
    let raw = user_data.filter(|u| !u.trim().is_empty()).unwrap_or(&media.user_data);
    // Stored UserData passed the check when it was set; anything unreadable counts as none.
    let parsed = UserData::parse(raw).unwrap_or_default();
    let job = vod_callbacks::plan(
        p.store.as_ref(),
        &p.callbacks,
        &media.account_id,
        &media.app_id,
        Some(&parsed),
        event,
    )
    .await?;
    Ok(job.into_iter().collect())
}

/// StreamTranscodeComplete per stream, then TranscodeComplete, for run `run`.
pub async fn transcode_events(
    p: &Processing,
    media: &Media,
    user_data: Option<&str>,
    run: &str,
    streams: &[StreamInfo],
) -> CoreResult<Vec<NewJob>> {
    let mut jobs = Vec::new();
    for s in streams {
        let event = events::stream_transcode_complete(&media.media_id, s).with_id(derived_id(&[
            run,
            "stream",
            &s.definition,
            &s.format,
        ]));
        jobs.extend(plan(p, media, user_data, event).await?);
    }
    let done = events::transcode_complete(&media.media_id, streams).with_id(derived_id(&[run, "transcode"]));
    jobs.extend(plan(p, media, user_data, done).await?);
    Ok(jobs)
}

/// SnapshotComplete for run `run`.
pub async fn snapshot_event(
    p: &Processing,
    media: &Media,
    user_data: Option<&str>,
    run: &str,
    result: &SnapshotResult,
) -> CoreResult<Vec<NewJob>> {
    let event = events::snapshot_complete(result).with_id(derived_id(&[run, "snapshot"]));
    plan(p, media, user_data, event).await
}
