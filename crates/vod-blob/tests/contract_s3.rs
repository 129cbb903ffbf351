//! The blob and object contract suite on a real S3-compatible server named by
//! `VODSTACK_TEST_S3_URL` (e.g. SeaweedFS from scripts/start-seaweedfs.sh); each case works
//! under its own root prefix, removed afterwards. Without the variable every case prints a
//! SKIPPED line (and panics when `CI` is set).

use std::future::Future;
use std::sync::Arc;

use vod_blob::BlobStore;
use vod_blob::contract::{s3_test_url, s3_url_with_root};
use vod_core::ports::MetaStore;

async fn open(test: &str) -> Option<BlobStore> {
    let url = s3_test_url(test)?;
    let root = format!("vodtest-{}", uuid::Uuid::new_v4().simple());
    let store = BlobStore::open(&s3_url_with_root(&url, &root), std::path::Path::new("/nonexistent"))
        .unwrap_or_else(|e| panic!("{test}: {e}"));
    store
        .check()
        .await
        .unwrap_or_else(|e| panic!("{test}: the S3 server does not answer: {e}"));
    Some(store)
}

async fn cleanup(store: &BlobStore) {
    for p in store.list("").await.unwrap_or_default() {
        let _ = store.delete(&p).await;
    }
}

async fn run_on_s3<F, Fut>(test: &str, case: F)
where
    F: FnOnce(BlobStore) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(store) = open(test).await else {
        return;
    };
    case(store.clone()).await;
    cleanup(&store).await;
}

async fn run_objects_on_s3<F, Fut>(test: &str, case: F)
where
    F: FnOnce(BlobStore, Arc<dyn MetaStore>) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(store) = open(test).await else {
        return;
    };
    let db = vod_db::testing::SqliteTestDb::new().unwrap();
    let meta = db.open().await.unwrap();
    case(store.clone(), meta).await;
    cleanup(&store).await;
}

vod_blob::blob_contract_tests!(run_on_s3, run_objects_on_s3);
