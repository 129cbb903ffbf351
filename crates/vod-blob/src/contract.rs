//! The backend-independent contract suite of [`BlobStore`] and of [`ObjectStore`] on top of
//! it: one async function per behaviour, each given a fresh, empty store. The crate's tests
//! run every case on the filesystem always and on the S3-compatible store named by
//! [`TEST_S3_URL_ENV`](crate::TEST_S3_URL_ENV) (skipped loudly when unset, a failure when
//! `CI` is set). The object cases also take a metadata store (any `MetaStore`).

use std::io::Write as _;
use std::sync::Arc;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use md5::{Digest as _, Md5};
use vod_core::ports::MetaStore;

use crate::objects::{MIN_PART_SIZE, ObjectError, ObjectStore, ObjectWrite};
use crate::store::{BlobError, BlobStore};
use crate::writer::Durability;

/// Deterministic pseudo-random bytes (xorshift), different per `seed`.
pub fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// `bytes` as a body stream of `frame`-sized chunks.
pub fn frames(
    bytes: &[u8],
    frame: usize,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    let chunks: Vec<Result<Bytes, std::io::Error>> = bytes
        .chunks(frame.max(1))
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    futures::stream::iter(chunks)
}

fn md5_of(b: &[u8]) -> [u8; 16] {
    Md5::digest(b).into()
}

async fn collect(s: crate::ByteStream) -> Vec<u8> {
    let parts: Vec<Bytes> = s.try_collect().await.expect("read stream");
    parts.concat()
}

/// True when `CI` says so (`1`, `true`, `yes`).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
}

/// The S3 test URL, or `None` after printing a SKIPPED line (a panic in CI).
pub fn s3_test_url(test: &str) -> Option<String> {
    match std::env::var(crate::TEST_S3_URL_ENV) {
        Ok(u) if !u.trim().is_empty() => Some(u.trim().to_string()),
        _ => {
            if in_ci() {
                panic!(
                    "{} is not set but CI is: the S3 test {test} must not be skipped in CI \
                     (scripts/start-seaweedfs.sh starts a local S3 server)",
                    crate::TEST_S3_URL_ENV
                );
            }
            let _ = writeln!(std::io::stderr(), "\nSKIPPED (no {}): {test}", crate::TEST_S3_URL_ENV);
            None
        }
    }
}

/// `s3://bucket[/root]?query` with `sub` appended to the root.
pub fn s3_url_with_root(url: &str, sub: &str) -> String {
    let (head, query) = url.split_once('?').unwrap_or((url, ""));
    let head = head.trim_end_matches('/');
    let q = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    format!("{head}/{sub}{q}")
}

pub async fn blobs_write_read_stat_delete(store: BlobStore) {
    let bytes = data(300_000, 1);
    let out = store
        .put_stream("blobs/x/one", frames(&bytes, 7_000), u64::MAX, None)
        .await
        .unwrap();
    assert_eq!(out.size, bytes.len() as u64);
    assert_eq!(out.md5, md5_of(&bytes));
    assert_eq!(out.crc64, vod_auth::crc64::checksum(&bytes));
    assert_eq!(
        store.stat("blobs/x/one").await.unwrap().map(|m| m.size),
        Some(bytes.len() as u64)
    );
    assert_eq!(store.read_all("blobs/x/one").await.unwrap(), bytes);

    // An empty blob.
    let out = store
        .put_stream("blobs/x/empty", frames(&[], 1), u64::MAX, None)
        .await
        .unwrap();
    assert_eq!((out.size, out.crc64), (0, 0));
    assert_eq!(out.md5, md5_of(b""));
    assert_eq!(store.stat("blobs/x/empty").await.unwrap().map(|m| m.size), Some(0));

    store.delete("blobs/x/one").await.unwrap();
    assert_eq!(store.stat("blobs/x/one").await.unwrap(), None);
    store
        .delete("blobs/x/one")
        .await
        .expect("deleting a missing blob succeeds");
    assert!(
        matches!(
            store.read("blobs/x/one", 0..10).await.map(|_| ()),
            Err(BlobError::NotFound(_))
        ) || store.read_all("blobs/x/one").await.is_err()
    );
}

pub async fn blobs_ranged_reads(store: BlobStore) {
    let bytes = data(2_500_000, 2);
    store
        .put_stream("r/blob", frames(&bytes, 65_536), u64::MAX, None)
        .await
        .unwrap();
    for r in [
        0..1,
        0..2_500_000,
        1_048_575..1_048_577,
        2_499_999..2_500_000,
        123_456..2_000_001,
    ] {
        let got = collect(store.read("r/blob", r.clone()).await.unwrap()).await;
        assert_eq!(got, &bytes[r.start as usize..r.end as usize], "{r:?}");
    }
    assert!(collect(store.read("r/blob", 5..5).await.unwrap()).await.is_empty());
}

pub async fn blobs_large_streaming_write(store: BlobStore) {
    // Larger than the S3 backend's chunk, so its multipart path is used there. A running MD5
    // fed this fast may give up (it never slows the write); when it does not, it is right.
    let bytes = data(20 * 1024 * 1024 + 12_345, 3);
    let (feed, running) = crate::RunningMd5::new().feed();
    let out = store
        .put_stream("big/blob", frames(&bytes, 64 * 1024), u64::MAX, Some(feed))
        .await
        .unwrap();
    assert_eq!(out.size, bytes.len() as u64);
    assert_eq!(out.md5, md5_of(&bytes));
    if let Some(md5) = running.resolve().await {
        assert_eq!(
            md5.finalize(),
            md5_of(&bytes),
            "a running MD5 that kept up saw every byte"
        );
    }
    // A write the running MD5 cannot fall behind on (fewer batches than its queue holds):
    // it must continue over every byte, after what it held before.
    let small = data(3 * 1024 * 1024 + 777, 4);
    let mut prefix = vod_auth::md5sum::Md5::new();
    prefix.update(b"prefix");
    let (feed, running) = crate::RunningMd5::Ready(prefix).feed();
    store
        .put_stream("big/small", frames(&small, 64 * 1024), u64::MAX, Some(feed))
        .await
        .unwrap();
    assert_eq!(
        running.resolve().await.expect("the chain kept up").finalize(),
        md5_of(&[&b"prefix"[..], &small].concat()),
        "the caller's running MD5 continued over every byte"
    );
    let got = collect(store.read("big/blob", 0..bytes.len() as u64).await.unwrap()).await;
    assert!(got == bytes, "round trip of the large blob");
}

pub async fn blobs_failed_writes_leave_nothing(store: BlobStore) {
    let bytes = data(200_000, 4);
    let err = store
        .put_stream("f/too-large", frames(&bytes, 10_000), 150_000, None)
        .await
        .unwrap_err();
    assert!(matches!(err, BlobError::TooLarge(150_000)), "{err:?}");
    assert_eq!(store.stat("f/too-large").await.unwrap(), None);

    let broken = futures::stream::iter(vec![
        Ok(Bytes::from(bytes.clone())),
        Err(std::io::Error::other("client went away")),
    ]);
    let err = store.put_stream("f/broken", broken, u64::MAX, None).await.unwrap_err();
    assert!(matches!(err, BlobError::Source(_)), "{err:?}");
    assert_eq!(store.stat("f/broken").await.unwrap(), None);
    assert!(store.list("f/").await.unwrap().is_empty());
}

pub async fn blobs_deferred_durability(store: BlobStore) {
    // Written without waiting for the disk, readable at once, then made durable.
    let bytes = data(9 * 1024 * 1024 + 7, 5);
    let out = store
        .put_stream_with("d/later", frames(&bytes, 64 * 1024), u64::MAX, None, Durability::Later)
        .await
        .unwrap();
    assert_eq!((out.size, out.md5), (bytes.len() as u64, md5_of(&bytes)));
    let got = collect(store.read("d/later", 0..bytes.len() as u64).await.unwrap()).await;
    assert!(got == bytes, "a deferred blob reads back before its sync");
    let empty = store
        .put_stream_with("d/empty", frames(&[], 1), u64::MAX, None, Durability::Later)
        .await
        .unwrap();
    assert_eq!(empty.size, 0);
    store
        .sync(&[("d/later".into(), bytes.len() as u64), ("d/empty".into(), 0)])
        .await
        .unwrap();
    assert_eq!(store.stat("d/empty").await.unwrap().map(|m| m.size), Some(0));
    // A failed deferred write leaves nothing either.
    let err = store
        .put_stream_with("d/too-large", frames(&bytes, 10_000), 1000, None, Durability::Later)
        .await
        .unwrap_err();
    assert!(matches!(err, BlobError::TooLarge(1000)), "{err:?}");
    assert_eq!(store.stat("d/too-large").await.unwrap(), None);
    if store.kind() == crate::BackendKind::Fs {
        let err = store.sync(&[("d/missing".into(), 1)]).await.unwrap_err();
        assert!(matches!(err, BlobError::NotFound(_)), "{err:?}");
        // A blob cut short (a power cut before its sync) is refused, not made durable.
        let err = store
            .sync(&[("d/later".into(), bytes.len() as u64 + 1)])
            .await
            .unwrap_err();
        assert!(matches!(err, BlobError::Backend(_)), "{err:?}");
    }
}

pub async fn blobs_list_prefix(store: BlobStore) {
    for p in ["l/a/1", "l/a/2", "l/b/1", "m/1"] {
        store.put_stream(p, frames(b"x", 1), u64::MAX, None).await.unwrap();
    }
    assert_eq!(store.list("l/a/").await.unwrap(), vec!["l/a/1", "l/a/2"]);
    assert_eq!(store.list("l/").await.unwrap().len(), 3);
    assert!(store.list("none/").await.unwrap().is_empty());
}

fn write(key: &str) -> ObjectWrite {
    ObjectWrite {
        bucket: "bkt".into(),
        key: key.into(),
        account_id: "acct".into(),
        content_type: "video/mp4".into(),
        media_id: Some("m1".into()),
    }
}

pub async fn objects_put_overwrite_and_read(store: BlobStore, meta: Arc<dyn MetaStore>) {
    let objects = ObjectStore::new(store.clone(), meta);
    let first = data(150_000, 5);
    let o1 = objects
        .put_object(&write("a/b c.mp4"), None, frames(&first, 4096))
        .await
        .unwrap();
    assert_eq!(o1.etag, hex::encode_upper(md5_of(&first)));
    assert_eq!(o1.crc64, vod_auth::crc64::checksum(&first));
    let second = data(1000, 6);
    let o2 = objects
        .put_object(&write("a/b c.mp4"), Some(md5_of(&second)), frames(&second, 100))
        .await
        .unwrap();
    let got = objects.get("bkt", "a/b c.mp4").await.unwrap().unwrap();
    assert_eq!(got, o2);
    assert_eq!(collect(objects.read(&got, 0..got.size).await.unwrap()).await, second);
    assert_eq!(
        collect(objects.read(&got, 10..20).await.unwrap()).await,
        &second[10..20]
    );
    assert_eq!(
        store.list("blobs/").await.unwrap(),
        vec![got.blob.clone().unwrap()],
        "the replaced blob is deleted"
    );

    let err = objects
        .put_object(&write("bad"), Some([0; 16]), frames(&second, 100))
        .await
        .unwrap_err();
    assert!(matches!(err, ObjectError::BadDigest), "{err:?}");
    assert!(objects.get("bkt", "bad").await.unwrap().is_none());
    assert_eq!(store.list("blobs/").await.unwrap().len(), 1);

    assert!(objects.delete_object("bkt", "a/b c.mp4").await.unwrap());
    assert!(!objects.delete_object("bkt", "a/b c.mp4").await.unwrap());
    assert!(store.list("blobs/").await.unwrap().is_empty());
}

/// OSS-sized parts (100 KB, far below S3's 5 MiB minimum) are stored as separate blobs and
/// read back across part boundaries; nothing is concatenated.
pub async fn objects_multipart_small_parts(store: BlobStore, meta: Arc<dyn MetaStore>) {
    let objects = ObjectStore::new(store.clone(), meta);
    let sizes = [
        MIN_PART_SIZE as usize,
        MIN_PART_SIZE as usize + 1,
        MIN_PART_SIZE as usize,
        777,
    ];
    let whole = data(sizes.iter().sum(), 7);
    let up = objects.initiate_multipart(&write("sv/multi.mp4")).await.unwrap();
    let mut requested = Vec::new();
    let mut md5s = Vec::new();
    let mut offset = 0;
    for (i, size) in sizes.iter().enumerate() {
        let bytes = &whole[offset..offset + size];
        offset += size;
        let part = objects
            .upload_part(&up, i as u32 + 1, Some(md5_of(bytes)), frames(bytes, 16_384))
            .await
            .unwrap();
        assert_eq!(part.md5_hex, hex::encode(md5_of(bytes)));
        requested.push((part.part_number, format!("\"{}\"", part.md5_hex.to_uppercase())));
        md5s.extend_from_slice(&md5_of(bytes));
    }
    let (listed, truncated) = objects.list_parts(&up.upload_id, 0, 2).await.unwrap();
    assert_eq!((listed.len(), truncated), (2, true));
    let (listed, truncated) = objects.list_parts(&up.upload_id, 2, 1000).await.unwrap();
    assert_eq!((listed.len(), truncated), (2, false));

    let mut obj = objects.complete_multipart(&up, &requested).await.unwrap();
    assert_eq!(obj.size, whole.len() as u64);
    assert_eq!(
        obj.etag,
        format!("{}-{}", hex::encode_upper(md5_of(&md5s)), sizes.len())
    );
    assert_eq!(obj.crc64, vod_auth::crc64::checksum(&whole));
    assert_eq!(
        obj.md5_hex.as_deref(),
        Some(hex::encode(md5_of(&whole)).as_str()),
        "hashed in order"
    );
    assert_eq!(objects.ensure_md5(&mut obj).await.unwrap(), hex::encode(md5_of(&whole)));
    assert_eq!(
        store.list("blobs/").await.unwrap().len(),
        sizes.len(),
        "one blob per part"
    );

    let got = objects.get("bkt", "sv/multi.mp4").await.unwrap().unwrap();
    assert_eq!(collect(objects.read(&got, 0..got.size).await.unwrap()).await, whole);
    let b1 = MIN_PART_SIZE;
    for r in [
        0..b1,
        b1 - 3..b1 + 3,
        b1 - 1..3 * b1 + 2,
        got.size - 1..got.size,
        5..got.size + 100,
    ] {
        let end = r.end.min(got.size) as usize;
        assert_eq!(
            collect(objects.read(&got, r.clone()).await.unwrap()).await,
            &whole[r.start as usize..end],
            "{r:?}"
        );
    }
    assert!(matches!(
        objects.upload(&up.upload_id).await,
        Err(ObjectError::NoSuchUpload)
    ));
}

pub async fn objects_multipart_out_of_order_and_errors(store: BlobStore, meta: Arc<dyn MetaStore>) {
    let objects = ObjectStore::new(store.clone(), meta);
    let up = objects.initiate_multipart(&write("ooo")).await.unwrap();
    let p1 = data(MIN_PART_SIZE as usize, 8);
    let p2 = data(10, 9);
    let small = data(1000, 10);
    // Part 2 first: the in-order MD5 cannot be kept.
    let e2 = objects.upload_part(&up, 2, None, frames(&p2, 3)).await.unwrap();
    let e1 = objects.upload_part(&up, 1, None, frames(&p1, 4096)).await.unwrap();
    for bad in [0, 10_001] {
        let err = objects.upload_part(&up, bad, None, frames(&p2, 3)).await.unwrap_err();
        assert!(matches!(err, ObjectError::InvalidArgument(_)), "{err:?}");
    }
    let err = objects
        .upload_part(&up, 3, Some([1; 16]), frames(&p2, 3))
        .await
        .unwrap_err();
    assert!(matches!(err, ObjectError::BadDigest), "{err:?}");

    let tag = |p: &vod_core::model::UploadPart| p.md5_hex.to_uppercase();
    let err = objects
        .complete_multipart(&up, &[(2, tag(&e2)), (1, tag(&e1))])
        .await
        .unwrap_err();
    assert!(matches!(err, ObjectError::InvalidPartOrder), "{err:?}");
    let err = objects
        .complete_multipart(&up, &[(1, tag(&e2)), (2, tag(&e2))])
        .await
        .unwrap_err();
    assert!(matches!(err, ObjectError::InvalidPart(_)), "{err:?}");
    let err = objects
        .complete_multipart(&up, &[(1, tag(&e1)), (5, tag(&e1))])
        .await
        .unwrap_err();
    assert!(matches!(err, ObjectError::InvalidPart(_)), "{err:?}");

    // A small part that is not the last one.
    let e3 = objects.upload_part(&up, 3, None, frames(&small, 100)).await.unwrap();
    let err = objects
        .complete_multipart(&up, &[(1, tag(&e1)), (2, tag(&e2)), (3, tag(&e3))])
        .await
        .unwrap_err();
    assert!(
        matches!(err, ObjectError::EntityTooSmall { part_number: 2, .. }),
        "{err:?}"
    );

    // Parts 1 and 3 only (2 is left out and deleted).
    let mut obj = objects
        .complete_multipart(&up, &[(1, tag(&e1)), (3, format!("\"{}\"", tag(&e3)))])
        .await
        .unwrap();
    let whole = [p1.clone(), small.clone()].concat();
    assert_eq!(obj.md5_hex, None, "parts were not uploaded in order");
    assert_eq!(objects.ensure_md5(&mut obj).await.unwrap(), hex::encode(md5_of(&whole)));
    let stored = objects.get("bkt", "ooo").await.unwrap().unwrap();
    assert_eq!(stored.md5_hex.as_deref(), Some(hex::encode(md5_of(&whole)).as_str()));
    assert_eq!(stored.crc64, vod_auth::crc64::checksum(&whole));
    assert_eq!(store.list("blobs/").await.unwrap().len(), 2);

    // Finished: no more parts, no second completion, no abort.
    assert!(matches!(
        objects.upload_part(&up, 4, None, frames(&p2, 3)).await,
        Err(ObjectError::NoSuchUpload)
    ));
    assert!(matches!(
        objects.abort_multipart(&up.upload_id).await,
        Err(ObjectError::NoSuchUpload)
    ));
    assert_eq!(store.list("blobs/").await.unwrap().len(), 2);

    // Abort deletes the part blobs.
    let up2 = objects.initiate_multipart(&write("aborted")).await.unwrap();
    objects.upload_part(&up2, 1, None, frames(&p2, 3)).await.unwrap();
    assert_eq!(store.list("blobs/").await.unwrap().len(), 3);
    objects.abort_multipart(&up2.upload_id).await.unwrap();
    assert_eq!(store.list("blobs/").await.unwrap().len(), 2);
    let _ = StreamExt::boxed(frames(b"", 1));
}

/// Expands to one `#[tokio::test]` per blob case and per object case for `$runner` /
/// `$object_runner` (see the crate's tests).
#[macro_export]
macro_rules! blob_contract_tests {
    ($runner:path, $object_runner:path) => {
        $crate::blob_contract_tests!(@cases $runner;
            blobs_write_read_stat_delete,
            blobs_ranged_reads,
            blobs_large_streaming_write,
            blobs_failed_writes_leave_nothing,
            blobs_deferred_durability,
            blobs_list_prefix,
        );
        $crate::blob_contract_tests!(@cases $object_runner;
            objects_put_overwrite_and_read,
            objects_multipart_small_parts,
            objects_multipart_out_of_order_and_errors,
        );
    };
    (@cases $runner:path; $($case:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $case() {
            $runner(concat!(module_path!(), "::", stringify!($case)), $crate::contract::$case).await;
        }
    )*};
}
