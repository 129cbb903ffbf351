//! The blob and object contract suite on the local filesystem (a fresh temp dir per case)
//! with SQLite metadata.

use std::future::Future;
use std::sync::Arc;

use vod_blob::BlobStore;
use vod_core::ports::MetaStore;

async fn run_on_fs<F, Fut>(_test: &str, case: F)
where
    F: FnOnce(BlobStore) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open("", &dir.path().join("objects")).unwrap();
    case(store).await;
}

async fn run_objects_on_fs<F, Fut>(_test: &str, case: F)
where
    F: FnOnce(BlobStore, Arc<dyn MetaStore>) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(
        &format!("fs://{}", dir.path().join("objects").display()),
        &dir.path().join("unused"),
    )
    .unwrap();
    let db = vod_db::testing::SqliteTestDb::new().unwrap();
    let meta = db.open().await.unwrap();
    case(store, meta).await;
}

vod_blob::blob_contract_tests!(run_on_fs, run_objects_on_fs);

#[test]
fn urls() {
    let dir = tempfile::tempdir().unwrap();
    let fs = BlobStore::open(&dir.path().display().to_string(), dir.path()).unwrap();
    assert_eq!(fs.kind(), vod_blob::BackendKind::Fs);
    for bad in [
        "ftp://x/y",
        "s3://",
        "s3://b?endpoint=127.0.0.1:1",
        "s3://b?bogus=1",
        "s3://b?access_key_id=a",
    ] {
        assert!(BlobStore::open(bad, dir.path()).is_err(), "{bad}");
    }
    let s3 = BlobStore::open(
        "s3://bkt/some/root?endpoint=http://127.0.0.1:1&region=r1&access_key_id=a&secret_access_key=SECRET",
        dir.path(),
    )
    .unwrap();
    assert_eq!(s3.kind(), vod_blob::BackendKind::S3);
    assert!(!s3.describe().contains("SECRET"), "{}", s3.describe());
    assert!(s3.describe().contains("bkt"));
    assert_eq!(
        vod_blob::mask("s3://b?access_key_id=a&secret_access_key=s&region=x"),
        "s3://b?access_key_id=a&secret_access_key=********&region=x"
    );
}

#[test]
fn blob_names_are_unique_and_spread() {
    let a = BlobStore::new_blob_name();
    let b = BlobStore::new_blob_name();
    assert_ne!(a, b);
    assert!(a.starts_with("blobs/") && a.len() == "blobs/xx/".len() + 32, "{a}");
}
