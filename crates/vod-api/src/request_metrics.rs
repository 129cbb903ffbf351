//! [`RequestMetrics`]: the gateway's per-request counter and latency histogram, with their
//! handles kept per action (and per action and code), so a request costs two map lookups
//! instead of building and hashing metric keys in the recorder's registry.

use std::borrow::Cow;

use dashmap::DashMap;
use metrics::{Counter, Histogram};

#[derive(Default)]
pub struct RequestMetrics {
    requests: DashMap<(&'static str, Cow<'static, str>), Counter>,
    durations: DashMap<&'static str, Histogram>,
}

impl RequestMetrics {
    /// Counts one request of `action` answered with `code` that took `seconds`.
    pub fn record(&self, action: &'static str, code: Cow<'static, str>, seconds: f64) {
        let key = (action, code);
        match self.requests.get(&key) {
            Some(c) => c.increment(1),
            None => {
                let (action, code) = key;
                let counter = metrics::counter!("vod_api_requests_total", "action" => action, "code" => code.clone());
                counter.increment(1);
                self.requests.insert((action, code), counter);
            }
        }
        match self.durations.get(action) {
            Some(h) => h.record(seconds),
            None => {
                let histogram = metrics::histogram!("vod_api_request_duration_seconds", "action" => action);
                histogram.record(seconds);
                self.durations.insert(action, histogram);
            }
        }
    }
}
