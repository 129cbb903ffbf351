//! Test harness: a real object store (filesystem blobs + SQLite metadata), real edges
//! listening on 127.0.0.1 over it, registered in the edge registry, and the refresh handler
//! run directly on stored jobs.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;
use vod_blob::{BlobStore, ObjectStore, ObjectWrite};
use vod_callbacks::CallbacksConfig;
use vod_cdn::refresh::RefreshHandler;
use vod_cdn::{Cdn, CdnConfig};
use vod_core::model::Job;
use vod_core::model::refresh::{MediaRefreshRequest, RefreshFilter, RefreshTaskType};
use vod_core::ports::MetaStore;
use vod_core::service::media::MediaConfig;
use vod_edge::{Edge, EdgeConfig, ObjectStoreOrigin};
use vod_jobs::handler::tokio_util_like::CancelFlag;
use vod_jobs::{JobContext, JobError, JobHandler};

pub const BUCKET: &str = "outin-cdn";
pub const SECRET: &str = "control-secret";
pub const ACCOUNT: &str = "acct-cdn";

pub struct RunningEdge {
    pub node_id: String,
    pub base: String,
    pub edge: Arc<Edge>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

pub struct World {
    pub dir: tempfile::TempDir,
    _db: vod_db::testing::SqliteTestDb,
    pub store: Arc<dyn MetaStore>,
    pub objects: Arc<ObjectStore>,
    pub edges: Vec<RunningEdge>,
    pub media: MediaConfig,
    pub http: reqwest::Client,
}

impl World {
    /// A store and `n` edges, all registered as live.
    pub async fn new(n: usize) -> Self {
        vod_edge::client::install_tls_provider();
        let dir = tempfile::tempdir().unwrap();
        let db = vod_db::testing::SqliteTestDb::new().unwrap();
        let store = db.open().await.unwrap();
        let blobs = BlobStore::fs(&dir.path().join("objects")).unwrap();
        let objects = Arc::new(ObjectStore::new(blobs, store.clone()));
        let mut w = Self {
            dir,
            _db: db,
            store,
            objects,
            edges: Vec::new(),
            media: MediaConfig::default(),
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
        };
        for i in 0..n {
            w.start_edge(&format!("edge-{i}")).await;
        }
        // Play URLs name the first edge, as a single public URL in front of the edges does.
        w.media.play_base_url = w.edges.first().map(|e| e.base.clone()).unwrap_or_default();
        w.media.bucket = BUCKET.into();
        w
    }

    pub async fn start_edge(&mut self, node_id: &str) {
        let cfg = EdgeConfig {
            cache_dir: self.dir.path().join(format!("cache-{node_id}")),
            max_bytes: 64 << 20,
            control_secret: SECRET.into(),
            ..EdgeConfig::default()
        };
        let origin = Arc::new(ObjectStoreOrigin::new(self.objects.clone()));
        let edge = Edge::open(cfg, origin).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(vod_edge::serve_edge(listener, edge.clone(), async move {
            let _ = rx.await;
        }));
        vod_cdn::heartbeat::register(self.store.as_ref(), node_id, &base)
            .await
            .unwrap();
        self.edges.push(RunningEdge {
            node_id: node_id.into(),
            base,
            edge,
            stop: Some(tx),
        });
    }

    pub fn cdn(&self, tweak: impl FnOnce(&mut CdnConfig)) -> Arc<Cdn> {
        let mut config = CdnConfig {
            retry_delay_ms: 10,
            ..CdnConfig::default()
        };
        tweak(&mut config);
        Cdn::new(
            self.store.clone(),
            self.media.clone(),
            CallbacksConfig::default(),
            config,
            SECRET,
        )
    }

    pub async fn put(&self, key: &str, body: impl Into<Bytes>) {
        let w = ObjectWrite {
            bucket: BUCKET.into(),
            key: key.into(),
            account_id: ACCOUNT.into(),
            content_type: "application/octet-stream".into(),
            media_id: None,
        };
        let body: Bytes = body.into();
        let stream = futures::stream::iter([Ok::<_, std::io::Error>(body)]);
        self.objects.put_object(&w, None, stream).await.unwrap();
    }

    /// The play URL of a key (on the first edge).
    pub fn url(&self, key: &str) -> String {
        self.media.play_url(BUCKET, key)
    }

    /// GET `key` from edge `i`: (`X-Cache`, body). Waits for the fill to be committed.
    pub async fn fetch(&self, i: usize, key: &str) -> (String, Bytes) {
        let r = self
            .http
            .get(format!("{}/{BUCKET}/{key}", self.edges[i].base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "GET {key} on edge {i}");
        let cache = r
            .headers()
            .get("x-cache")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let body = r.bytes().await.unwrap();
        self.idle(i).await;
        (cache, body)
    }

    /// Waits until edge `i` has no fill running.
    pub async fn idle(&self, i: usize) {
        for _ in 0..500 {
            if self.edges[i].edge.stats().filling_bytes == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("fills did not finish on edge {i}");
    }

    /// Stores a RefreshMediaPlayUrls record for `urls` as the gateway does; returns the
    /// (MediaRefreshJobId, batch id).
    pub async fn submit_media(&self, task_type: RefreshTaskType, urls: &[String], user_data: &str) -> (String, String) {
        let req = MediaRefreshRequest {
            job_id: vod_core::ids::hex_id(),
            account_id: ACCOUNT.into(),
            task_type,
            filter: RefreshFilter::default(),
            user_data: user_data.into(),
            now_ms: vod_core::now_ms(),
        };
        let media_id = vod_core::ids::hex_id();
        let (record, tasks, job) = req.plan(0, &media_id, "app-1000000", urls);
        self.store
            .submit_refresh(std::slice::from_ref(&record), &tasks, &[job])
            .await
            .unwrap();
        (req.job_id, record.batch_id)
    }

    /// Runs attempt `attempt` of the batch's job with `cdn`.
    pub async fn run(&self, cdn: &Arc<Cdn>, batch_id: &str, attempt: i64) -> Result<Value, JobError> {
        let mut job: Job = self.store.get_job(batch_id).await.unwrap().expect("the batch job");
        job.attempts = attempt;
        let ctx = JobContext {
            worker_id: "test".into(),
            attempt,
            cancelled: CancelFlag::default(),
        };
        RefreshHandler(cdn.clone()).run(&job, &ctx).await
    }
}

impl Drop for World {
    fn drop(&mut self) {
        for e in &mut self.edges {
            if let Some(stop) = e.stop.take() {
                let _ = stop.send(());
            }
        }
    }
}

/// Deterministic pseudo-random bytes (the blob contract suite's generator).
pub fn bytes(n: usize, seed: u8) -> Vec<u8> {
    vod_blob::contract::data(n, u64::from(seed))
}
