//! Test harness: a real object store (filesystem blobs + SQLite metadata) behind a real
//! edge listening on 127.0.0.1, with an origin wrapper that counts reads.

#![allow(dead_code)]

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use vod_blob::{BlobStore, ByteStream, ObjectStore, ObjectWrite};
use vod_edge::{Edge, EdgeConfig, ObjectStoreOrigin, Origin, OriginError, OriginMeta};

pub const BUCKET: &str = "outin-edge";
pub const SECRET: &str = "control-secret";

/// Counts origin reads (fills and pass-through streams) and stats.
pub struct Counting {
    inner: ObjectStoreOrigin,
    pub reads: AtomicU64,
    pub read_bytes: AtomicU64,
    pub stats: AtomicU64,
}

#[async_trait]
impl Origin for Counting {
    async fn stat(&self, bucket: &str, key: &str) -> Result<Option<OriginMeta>, OriginError> {
        self.stats.fetch_add(1, Ordering::SeqCst);
        self.inner.stat(bucket, key).await
    }

    async fn read(
        &self,
        bucket: &str,
        key: &str,
        meta: &OriginMeta,
        range: Range<u64>,
    ) -> Result<ByteStream, OriginError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.read_bytes.fetch_add(range.end - range.start, Ordering::SeqCst);
        self.inner.read(bucket, key, meta, range).await
    }
}

pub struct Harness {
    pub dir: tempfile::TempDir,
    pub objects: Arc<ObjectStore>,
    pub origin: Arc<Counting>,
    edge: Option<Arc<Edge>>,
    pub base: String,
    pub http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _db: vod_db::testing::SqliteTestDb,
}

pub fn config(cache_dir: &Path) -> EdgeConfig {
    EdgeConfig {
        cache_dir: cache_dir.to_path_buf(),
        max_bytes: 64 << 20,
        control_secret: SECRET.into(),
        ..EdgeConfig::default()
    }
}

impl Harness {
    pub async fn new() -> Self {
        Self::with(|_| {}).await
    }

    /// A harness whose edge config is adjusted by `tweak`.
    pub async fn with(tweak: impl FnOnce(&mut EdgeConfig)) -> Self {
        vod_edge::client::install_tls_provider();
        let dir = tempfile::tempdir().unwrap();
        let db = vod_db::testing::SqliteTestDb::new().unwrap();
        let meta = db.open().await.unwrap();
        let blobs = BlobStore::fs(&dir.path().join("objects")).unwrap();
        let objects = Arc::new(ObjectStore::new(blobs, meta));
        let mut cfg = config(&dir.path().join("edge-cache"));
        tweak(&mut cfg);
        let mut h = Self {
            origin: counting(&objects),
            edge: None,
            objects,
            dir,
            base: String::new(),
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
            stop: None,
            server: None,
            _db: db,
        };
        h.start(cfg).await;
        h
    }

    /// (Re)starts the edge on `cfg` with a fresh origin counter.
    pub async fn start(&mut self, cfg: EdgeConfig) {
        self.shutdown().await;
        self.edge = None;
        self.origin = counting(&self.objects);
        // The previous edge must be gone before its directory lock can be taken again.
        let mut tries = 0;
        let edge = loop {
            match Edge::open(cfg.clone(), self.origin.clone()).await {
                Ok(e) => break e,
                Err(e) if tries < 100 => {
                    tries += 1;
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("cannot reopen the edge: {e}"),
            }
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        self.base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.edge = Some(edge.clone());
        self.server = Some(tokio::spawn(vod_edge::serve_edge(listener, edge, async move {
            let _ = rx.await;
        })));
        self.stop = Some(tx);
    }

    /// Stops the listener and lets go of the edge (its directory lock goes with it).
    pub async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
        // New client: pooled connections would keep the old router (and edge) alive.
        self.http = reqwest::Client::builder().no_proxy().build().unwrap();
    }

    /// Stops the listener and drops the edge.
    pub async fn stop(&mut self) {
        self.shutdown().await;
        self.edge = None;
    }

    pub fn edge(&self) -> &Arc<Edge> {
        self.edge.as_ref().expect("the edge is running")
    }

    pub fn cache_dir(&self) -> PathBuf {
        self.dir.path().join("edge-cache")
    }

    pub async fn put(&self, key: &str, body: impl Into<Bytes>) {
        self.put_typed(key, body, "application/octet-stream").await;
    }

    pub async fn put_typed(&self, key: &str, body: impl Into<Bytes>, content_type: &str) {
        let w = ObjectWrite {
            bucket: BUCKET.into(),
            key: key.into(),
            account_id: "acct".into(),
            content_type: content_type.into(),
            media_id: None,
        };
        let body: Bytes = body.into();
        let stream = futures::stream::iter([Ok::<_, std::io::Error>(body)]);
        self.objects.put_object(&w, None, stream).await.unwrap();
    }

    pub fn url(&self, key: &str) -> String {
        format!("{}/{BUCKET}/{key}", self.base)
    }

    pub async fn get(&self, key: &str) -> reqwest::Response {
        self.http.get(self.url(key)).send().await.unwrap()
    }

    /// GET and the whole body; asserts 200.
    pub async fn fetch(&self, key: &str) -> (String, Bytes) {
        let r = self.get(key).await;
        assert_eq!(r.status(), 200, "GET {key}");
        let cache = header(&r, "x-cache");
        (cache, r.bytes().await.unwrap())
    }

    /// Waits until no fill is running (commits are done).
    pub async fn idle(&self) {
        for _ in 0..500 {
            if self.edge().stats().filling_bytes == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("fills did not finish: {:?}", self.edge().stats());
    }

    /// Origin read calls (a fill of more than 1 MiB reads several ranges).
    pub fn reads(&self) -> u64 {
        self.origin.reads.load(Ordering::SeqCst)
    }

    /// Bytes read from the origin.
    pub fn read_bytes(&self) -> u64 {
        self.origin.read_bytes.load(Ordering::SeqCst)
    }

    pub fn client(&self) -> vod_edge::EdgeClient {
        vod_edge::EdgeClient::new(SECRET, Duration::from_secs(30))
    }
}

fn counting(objects: &Arc<ObjectStore>) -> Arc<Counting> {
    Arc::new(Counting {
        inner: ObjectStoreOrigin::new(objects.clone()),
        reads: AtomicU64::new(0),
        read_bytes: AtomicU64::new(0),
        stats: AtomicU64::new(0),
    })
}

pub fn header(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// Deterministic pseudo-random bytes (the blob contract suite's generator).
pub fn bytes(n: usize, seed: u8) -> Vec<u8> {
    vod_blob::contract::data(n, u64::from(seed))
}

/// Bytes of the cache files on disk (data directory).
pub fn disk_usage(cache_dir: &Path) -> (usize, u64) {
    let mut files = 0;
    let mut total = 0;
    let data = cache_dir.join("data");
    for sub in std::fs::read_dir(&data).unwrap() {
        let sub = sub.unwrap().path();
        for f in std::fs::read_dir(&sub).unwrap() {
            let f = f.unwrap();
            files += 1;
            total += f.metadata().unwrap().len();
        }
    }
    (files, total)
}

/// Waits (up to 2 s) until the cache holds `n` data files (files are deleted in the
/// background after a purge or an eviction); returns the count seen last.
pub async fn settle_files(cache_dir: &Path, n: usize) -> usize {
    let mut seen = disk_usage(cache_dir).0;
    for _ in 0..200 {
        if seen == n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        seen = disk_usage(cache_dir).0;
    }
    seen
}
