//! From an event to the delivery job(s) that carry it.
//!
//! The target of an event of app `A` with UserData `U`:
//! 1. `U.MessageCallback.CallbackURL` (HTTP) when set, else the app's CallbackURL when the
//!    app's callback type is HTTP; neither → no delivery.
//! 2. When the app has settings, its `EventTypeList` filters: `ALL` or the listed types
//!    (empty list: nothing). An override URL on an app without settings receives every
//!    event type (Alibaba requires app settings for overrides; we don't).
//!
//! [`plan`] returns the job so a state change can enqueue it in its own transaction;
//! [`emit_now`] enqueues it directly.

use serde_json::Value;
use vod_core::CoreResult;
use vod_core::model::NewJob;
use vod_core::ports::{CallbackConfigRepo, MetaStore};

use crate::config::CallbacksConfig;
use crate::delivery::{DeliveryPayload, KIND};
use crate::events::Event;
use crate::userdata::UserData;

/// Attempts are bounded by the deadline (`give_up_at`), not by a count.
pub const MAX_ATTEMPTS: i64 = 1_000_000;

/// Where an event of `event_type` for `(account_id, app_id)` goes, if anywhere.
pub async fn resolve_target<S: CallbackConfigRepo + ?Sized>(
    store: &S,
    account_id: &str,
    app_id: &str,
    user_data: Option<&UserData>,
    event_type: &str,
) -> CoreResult<Option<String>> {
    let settings = store.get_message_callback(account_id, app_id).await?;
    if let Some(s) = &settings
        && !s.accepts(event_type)
    {
        return Ok(None);
    }
    let url = user_data
        .and_then(UserData::callback_url)
        .or_else(|| settings.as_ref().and_then(|s| s.http_url()))
        .map(str::to_string);
    Ok(url)
}

/// The `callback.http` job delivering `event` to `url`. Its unique key is the event id, so
/// enqueuing the same event twice while it is pending is a no-op.
pub fn delivery_job(config: &CallbacksConfig, url: &str, account_id: &str, app_id: &str, event: &Event) -> NewJob {
    let payload = DeliveryPayload {
        v: DeliveryPayload::VERSION,
        url: url.to_string(),
        account_id: account_id.to_string(),
        app_id: app_id.to_string(),
        event_id: event.id().to_string(),
        event_type: event.event_type().to_string(),
        event: event.to_json(),
    };
    let mut job = NewJob::new(
        KIND,
        serde_json::to_value(&payload).unwrap_or(Value::Null),
        MAX_ATTEMPTS,
    );
    job.unique_key = Some(format!("{KIND}:{}", event.id()));
    let retry_ms = i64::try_from(config.retry_for_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    job.give_up_at = Some(job.not_before.saturating_add(retry_ms));
    job
}

/// The delivery job for `event` (with UserData's `Extend` added), or None when the event
/// goes nowhere.
pub async fn plan<S: CallbackConfigRepo + ?Sized>(
    store: &S,
    config: &CallbacksConfig,
    account_id: &str,
    app_id: &str,
    user_data: Option<&UserData>,
    event: Event,
) -> CoreResult<Option<NewJob>> {
    let Some(url) = resolve_target(store, account_id, app_id, user_data, event.event_type()).await? else {
        return Ok(None);
    };
    let event = match user_data.and_then(|u| u.extend.as_deref()) {
        Some(extend) if !event.body().contains_key("Extend") => event.with_extend(Some(extend)),
        _ => event,
    };
    Ok(Some(delivery_job(config, &url, account_id, app_id, &event)))
}

/// Plans and enqueues the delivery of `event`; returns the job id, or None when the event
/// goes nowhere.
pub async fn emit_now(
    store: &dyn MetaStore,
    config: &CallbacksConfig,
    account_id: &str,
    app_id: &str,
    user_data: Option<&UserData>,
    event: Event,
) -> CoreResult<Option<String>> {
    match plan(store, config, account_id, app_id, user_data, event).await? {
        Some(job) => Ok(Some(store.enqueue(&job).await?.0)),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;
    use vod_core::model::{CallbackType, MessageCallbackConfig};

    use super::*;
    use crate::events;

    #[derive(Default)]
    struct Fake(Mutex<Option<MessageCallbackConfig>>);

    #[async_trait]
    impl CallbackConfigRepo for Fake {
        async fn get_message_callback(&self, _: &str, _: &str) -> CoreResult<Option<MessageCallbackConfig>> {
            Ok(self.0.lock().unwrap().clone())
        }
        async fn put_message_callback(&self, c: &MessageCallbackConfig) -> CoreResult<()> {
            *self.0.lock().unwrap() = Some(c.clone());
            Ok(())
        }
        async fn delete_message_callback(&self, _: &str, _: &str) -> CoreResult<bool> {
            Ok(self.0.lock().unwrap().take().is_some())
        }
    }

    fn settings(url: &str, types: &str) -> MessageCallbackConfig {
        MessageCallbackConfig {
            account_id: "acct".into(),
            app_id: "app-1000000".into(),
            callback_type: CallbackType::Http,
            callback_url: url.into(),
            event_type_list: types.into(),
            auth_switch: false,
            auth_key: String::new(),
            mns_endpoint: String::new(),
            mns_queue_name: String::new(),
            created_at: 0,
            modified_at: 0,
        }
    }

    async fn target(store: &Fake, ud: Option<&str>, event_type: &str) -> Option<String> {
        let ud = ud.map(|s| UserData::parse(s).unwrap());
        resolve_target(store, "acct", "app-1000000", ud.as_ref(), event_type)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn targets() {
        let store = Fake::default();
        let over = Some(r#"{"MessageCallback":{"CallbackURL":"http://override/cb"}}"#);
        assert_eq!(
            target(&store, None, "FileUploadComplete").await,
            None,
            "no settings, no override"
        );
        assert_eq!(
            target(&store, over, "FileUploadComplete").await.as_deref(),
            Some("http://override/cb")
        );

        store
            .put_message_callback(&settings("http://app/cb", "FileUploadComplete"))
            .await
            .unwrap();
        assert_eq!(
            target(&store, None, "FileUploadComplete").await.as_deref(),
            Some("http://app/cb")
        );
        assert_eq!(
            target(&store, over, "FileUploadComplete").await.as_deref(),
            Some("http://override/cb")
        );
        assert_eq!(
            target(&store, None, "TranscodeComplete").await,
            None,
            "filtered by EventTypeList"
        );
        assert_eq!(
            target(&store, over, "TranscodeComplete").await,
            None,
            "the filter applies to overrides too"
        );

        store
            .put_message_callback(&settings("http://app/cb", ""))
            .await
            .unwrap();
        assert_eq!(
            target(&store, None, "FileUploadComplete").await,
            None,
            "empty list: all notifications off"
        );

        let mut mns = settings("", "ALL");
        mns.callback_type = CallbackType::Mns;
        mns.mns_endpoint = "https://x.mns".into();
        store.put_message_callback(&mns).await.unwrap();
        assert_eq!(
            target(&store, None, "FileUploadComplete").await,
            None,
            "MNS settings do not deliver"
        );
        assert_eq!(
            target(&store, over, "FileUploadComplete").await.as_deref(),
            Some("http://override/cb")
        );
    }

    #[tokio::test]
    async fn planned_job() {
        let store = Fake::default();
        store
            .put_message_callback(&settings("http://app/cb", "ALL"))
            .await
            .unwrap();
        let config = CallbacksConfig::default();
        let ud = UserData::parse(r#"{"Extend":{"localId":"x"}}"#).unwrap();
        let event = events::file_upload_complete("vid", 10, "http://f").with_id("e1");
        let job = plan(&store, &config, "acct", "app-1000000", Some(&ud), event)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(job.kind, KIND);
        assert_eq!(job.unique_key.as_deref(), Some("callback.http:e1"));
        assert_eq!(job.give_up_at, Some(job.not_before + 86_400_000));
        assert_eq!(job.max_attempts, MAX_ATTEMPTS);
        let p: DeliveryPayload = serde_json::from_value(job.payload).unwrap();
        assert_eq!(p.v, 1);
        assert_eq!(p.url, "http://app/cb");
        assert_eq!(p.event_id, "e1");
        assert_eq!(p.event["Extend"], r#"{"localId":"x"}"#);
        assert_eq!(p.event["EventId"], "e1");

        // An event that already carries Extend keeps it.
        let event = events::file_upload_complete("vid", 10, "http://f").with_extend(Some("own"));
        let job = plan(&store, &config, "acct", "app-1000000", Some(&ud), event)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(job.payload["event"]["Extend"], "own");

        store.delete_message_callback("acct", "app-1000000").await.unwrap();
        let event = events::file_upload_complete("vid", 10, "http://f");
        assert!(
            plan(&store, &config, "acct", "app-1000000", Some(&ud), event)
                .await
                .unwrap()
                .is_none()
        );
    }
}
