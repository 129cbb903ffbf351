//! The `callback.http` job: one HTTP POST of one event.
//!
//! * Body: the event JSON (`Content-Type: application/json`), byte-identical on every attempt.
//! * Headers: `X-VOD-EVENT-ID` (the event's stable id) always; `X-VOD-TIMESTAMP` (unix
//!   seconds) and `X-VOD-SIGNATURE` = md5(`<url>|<timestamp>|<AuthKey>`) when the app has
//!   AuthSwitch on and an AuthKey (looked up at delivery, so a changed key applies to
//!   pending deliveries too; the URL signed is the one the request goes to).
//! * Success only on HTTP 200 within the attempt timeout (5 s). Anything else — another
//!   status, a timeout, a refused connection — is retried after 1 s, 2 s, 4 s, … (capped)
//!   until the job's `give_up_at`, after which the runtime records the last error as the
//!   job's final failure. An address the outbound policy refuses aborts at once.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use url::Url;
use vod_core::model::Job;
use vod_core::ports::CallbackConfigRepo;
use vod_jobs::{JobContext, JobError, JobHandler};

use crate::config::CallbacksConfig;
use crate::outbound::{OutboundClient, OutboundError, blocked_reason};

/// The job kind of HTTP callback deliveries.
pub const KIND: &str = "callback.http";

/// Header carrying the event id (also the body's `EventId`).
pub const HEADER_EVENT_ID: &str = "X-VOD-EVENT-ID";
pub const HEADER_TIMESTAMP: &str = "X-VOD-TIMESTAMP";
pub const HEADER_SIGNATURE: &str = "X-VOD-SIGNATURE";

/// The job payload (`{"v":1, ...}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryPayload {
    pub v: u32,
    /// Where the event goes (the UserData override or the app's CallbackURL).
    pub url: String,
    /// Whose signing key applies.
    pub account_id: String,
    pub app_id: String,
    pub event_id: String,
    pub event_type: String,
    /// The body, exactly as POSTed.
    pub event: Value,
}

impl DeliveryPayload {
    pub const VERSION: u32 = 1;

    pub fn from_job(job: &Job) -> Result<Self, JobError> {
        let p: Self = serde_json::from_value(job.payload.clone())
            .map_err(|e| JobError::abort(format!("unreadable {KIND} payload: {e}")))?;
        if p.v != Self::VERSION {
            return Err(JobError::abort(format!("unsupported {KIND} payload version {}", p.v)));
        }
        Ok(p)
    }
}

/// Runs `callback.http` jobs.
pub struct CallbackHandler {
    client: OutboundClient,
    keys: Arc<dyn CallbackConfigRepo>,
    config: CallbacksConfig,
}

impl std::fmt::Debug for CallbackHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackHandler")
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

impl CallbackHandler {
    /// `keys` is where AuthKeys are looked up (the metadata store).
    pub fn new(config: &CallbacksConfig, keys: Arc<dyn CallbackConfigRepo>) -> Result<Self, OutboundError> {
        let client = OutboundClient::new(config.policy()?, config.timeouts())?;
        Ok(Self {
            client,
            keys,
            config: config.clone(),
        })
    }

    pub fn client(&self) -> &OutboundClient {
        &self.client
    }

    /// One delivery attempt (`attempt` is 1-based; it sets the back-off of a retry).
    pub async fn deliver(&self, p: &DeliveryPayload, attempt: i64) -> Result<Value, JobError> {
        let retry = |message: String| JobError::Retry {
            message,
            after: Some(self.config.backoff(attempt)),
        };
        let url = Url::parse(&p.url).map_err(|e| JobError::abort(format!("invalid callback URL {}: {e}", p.url)))?;
        self.client
            .check_url(&url)
            .map_err(|e| JobError::abort(format!("callback to {} refused: {e}", p.url)))?;
        let key = match self.keys.get_message_callback(&p.account_id, &p.app_id).await {
            Ok(cfg) => cfg.and_then(|c| c.signing_key().map(str::to_string)),
            Err(e) => return Err(retry(format!("cannot read the callback settings: {e}"))),
        };
        let body = serde_json::to_vec(&p.event).map_err(|e| JobError::abort(format!("unserializable event: {e}")))?;
        let mut req = self
            .client
            .request(reqwest::Method::POST, &url)
            .map_err(|e| JobError::abort(format!("callback to {} refused: {e}", p.url)))?
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(HEADER_EVENT_ID, p.event_id.as_str());
        if let Some(key) = key {
            let ts = vod_core::now_ms().div_euclid(1000);
            req = req.header(HEADER_TIMESTAMP, ts.to_string()).header(
                HEADER_SIGNATURE,
                vod_auth::callback::vod_callback_signature(&p.url, ts, &key),
            );
        }
        let timeout_secs = self.client.timeouts().total.as_secs();
        match req.body(body).send().await {
            Ok(resp) if resp.status() == reqwest::StatusCode::OK => {
                tracing::info!(event_id = %p.event_id, event_type = %p.event_type, url = %p.url, attempt, "callback delivered");
                Ok(json!({"Status": 200, "Attempt": attempt, "URL": p.url}))
            }
            Ok(resp) => {
                let status = resp.status().as_u16();
                tracing::warn!(event_id = %p.event_id, url = %p.url, attempt, status, "callback answered without 200");
                Err(retry(format!(
                    "HTTP {status} from {} (only 200 counts as delivered)",
                    p.url
                )))
            }
            Err(e) => {
                if let Some(blocked) = blocked_reason(&e).filter(OutboundError::is_permanent) {
                    tracing::warn!(event_id = %p.event_id, url = %p.url, error = %blocked, "callback refused by the outbound policy");
                    return Err(JobError::abort(format!("callback to {} refused: {blocked}", p.url)));
                }
                let what = if e.is_timeout() {
                    format!("no answer from {} within {timeout_secs} s", p.url)
                } else if let Some(resolve) = blocked_reason(&e) {
                    resolve.to_string()
                } else {
                    format!("cannot reach {}: {}", p.url, error_chain(&e))
                };
                tracing::warn!(event_id = %p.event_id, url = %p.url, attempt, error = %what, "callback attempt failed");
                Err(retry(what))
            }
        }
    }
}

/// An error and its causes, `a: b: c`.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[async_trait]
impl JobHandler for CallbackHandler {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn concurrency(&self) -> usize {
        self.config.concurrency.max(1)
    }

    async fn run(&self, job: &Job, ctx: &JobContext) -> Result<Value, JobError> {
        let payload = DeliveryPayload::from_job(job)?;
        self.deliver(&payload, ctx.attempt).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_vector() {
        // protocol.md §4.3, Alibaba's documented example.
        let sig = vod_auth::callback::vod_callback_signature(
            "https://www.example.com/your/callback",
            1_519_375_990,
            "test123",
        );
        assert_eq!(sig, "c72b60894140fa98920f1279219b7ed4");
    }

    #[test]
    fn payload_versions() {
        let p = DeliveryPayload {
            v: 1,
            url: "http://x/".into(),
            account_id: "a".into(),
            app_id: "app-1000000".into(),
            event_id: "e".into(),
            event_type: "FileUploadComplete".into(),
            event: json!({"EventType": "FileUploadComplete"}),
        };
        let mut job_payload = serde_json::to_value(&p).unwrap();
        assert_eq!(job_payload["v"], 1);
        let job = |payload: Value| Job {
            id: "j".into(),
            kind: KIND.into(),
            payload,
            status: vod_core::model::JobStatus::Running,
            unique_key: None,
            attempts: 1,
            max_attempts: 3,
            not_before: 0,
            give_up_at: None,
            lease_owner: None,
            lease_expires_at: None,
            last_error: None,
            result: None,
            created_at: 0,
            updated_at: 0,
            finished_at: None,
        };
        assert_eq!(DeliveryPayload::from_job(&job(job_payload.clone())).unwrap(), p);
        job_payload["v"] = json!(2);
        assert!(matches!(
            DeliveryPayload::from_job(&job(job_payload)),
            Err(JobError::Abort(_))
        ));
        assert!(matches!(
            DeliveryPayload::from_job(&job(json!({"v": 1}))),
            Err(JobError::Abort(_))
        ));
    }
}
