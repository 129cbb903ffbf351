//! Contract cases for `ObjectRepo` (objects, manifests, multipart uploads and parts).

use std::collections::HashSet;
use std::sync::Arc;

use vod_core::CoreError;
use vod_core::model::{ManifestPart, MultipartUpload, ObjectType, StoredObject, UploadPart};
use vod_core::ports::{MetaStore, UploadListQuery};

use super::unique;

pub fn stored_object(bucket: &str, key: &str, blob: &str) -> StoredObject {
    StoredObject {
        bucket: bucket.into(),
        key: key.into(),
        object_id: unique("obj"),
        account_id: "acct-objects".into(),
        size: 11,
        etag: "5EB63BBBE01EEED093CB22BB8F5ACDC3".into(),
        md5_hex: Some("5eb63bbbe01eeed093cb22bb8f5acdc3".into()),
        crc64: u64::MAX - 7,
        content_type: "video/mp4".into(),
        object_type: ObjectType::Normal,
        blob: Some(blob.into()),
        part_count: 0,
        media_id: Some("m-1".into()),
        created_at: 1_700_000_000_000,
        notified: false,
    }
}

pub fn multipart_upload(bucket: &str, key: &str) -> MultipartUpload {
    MultipartUpload {
        upload_id: unique("up").replace('-', ""),
        bucket: bucket.into(),
        key: key.into(),
        account_id: "acct-objects".into(),
        content_type: "video/mp4".into(),
        media_id: None,
        initiated_at: 1_700_000_000_000,
    }
}

pub fn upload_part(upload_id: &str, n: u32, blob: &str, size: u64) -> UploadPart {
    UploadPart {
        upload_id: upload_id.into(),
        part_number: n,
        blob: blob.into(),
        size,
        md5_hex: format!("{n:032x}"),
        crc64: u64::from(n) << 60,
        last_modified: 1_700_000_000_000 + i64::from(n),
    }
}

fn manifest_of(parts: &[&UploadPart]) -> Vec<ManifestPart> {
    let mut offset = 0;
    parts
        .iter()
        .map(|p| {
            let m = ManifestPart {
                part_number: p.part_number,
                blob: p.blob.clone(),
                size: p.size,
                offset,
            };
            offset += p.size;
            m
        })
        .collect()
}

fn multipart_object(bucket: &str, key: &str, manifest: &[ManifestPart]) -> StoredObject {
    StoredObject {
        object_type: ObjectType::Multipart,
        blob: None,
        part_count: manifest.len() as u32,
        size: manifest.iter().map(|p| p.size).sum(),
        etag: format!("ABCDEF-{}", manifest.len()),
        md5_hex: None,
        ..stored_object(bucket, key, "unused")
    }
}

pub async fn objects_put_replace_delete(store: Arc<dyn MetaStore>) {
    let b = unique("bkt");
    let o = stored_object(&b, "sv/a b/ü.mp4", "blobs/aa/1");
    assert_eq!(store.put_object(&o).await.unwrap(), Vec::<String>::new());
    assert_eq!(store.get_object(&b, &o.key).await.unwrap(), Some(o.clone()));
    assert_eq!(store.get_object(&b, "sv/a b/u.mp4").await.unwrap(), None);
    assert_eq!(store.get_object("other", &o.key).await.unwrap(), None);
    assert!(store.object_manifest(&o.object_id).await.unwrap().is_empty());

    let mut o2 = stored_object(&b, &o.key, "blobs/bb/2");
    o2.md5_hex = None;
    o2.media_id = None;
    o2.crc64 = 0;
    assert_eq!(store.put_object(&o2).await.unwrap(), vec!["blobs/aa/1".to_string()]);
    assert_eq!(store.get_object(&b, &o.key).await.unwrap(), Some(o2.clone()));

    assert_eq!(
        store.delete_object(&b, &o.key).await.unwrap(),
        Some(vec!["blobs/bb/2".to_string()])
    );
    assert_eq!(store.get_object(&b, &o.key).await.unwrap(), None);
    assert_eq!(store.delete_object(&b, &o.key).await.unwrap(), None);
}

pub async fn objects_list_md5_and_notified(store: Arc<dyn MetaStore>) {
    let b = unique("bkt");
    let keys = ["a/1", "a/2", "a_/x", "a%/y", "ab", "b", "a/中"];
    for (i, k) in keys.iter().enumerate() {
        let mut o = stored_object(&b, k, &format!("blob-{i}"));
        o.created_at = 1_000 + i as i64;
        store.put_object(&o).await.unwrap();
    }
    let names = |v: Vec<StoredObject>| v.into_iter().map(|o| o.key).collect::<Vec<_>>();
    assert_eq!(
        names(store.list_objects(&b, "a/", "", 0).await.unwrap()),
        vec!["a/1", "a/2", "a/中"]
    );
    assert_eq!(
        names(store.list_objects(&b, "a/", "a/1", 1).await.unwrap()),
        vec!["a/2"]
    );
    assert_eq!(
        names(store.list_objects(&b, "a_", "", 10).await.unwrap()),
        vec!["a_/x"],
        "no LIKE wildcards"
    );
    assert_eq!(names(store.list_objects(&b, "a%", "", 10).await.unwrap()), vec!["a%/y"]);
    assert_eq!(store.list_objects(&b, "", "", 100).await.unwrap().len(), keys.len());
    assert!(
        store
            .list_objects(&unique("empty"), "", "", 10)
            .await
            .unwrap()
            .is_empty()
    );

    let first = store.get_object(&b, "a/1").await.unwrap().unwrap();
    assert!(store.set_object_md5(&first.object_id, "00ff").await.unwrap());
    assert_eq!(
        store.get_object(&b, "a/1").await.unwrap().unwrap().md5_hex.as_deref(),
        Some("00ff")
    );
    assert!(!store.set_object_md5("missing", "00").await.unwrap());

    let pending = store.unnotified_objects(1_003, 100).await.unwrap();
    let mine: Vec<_> = pending
        .iter()
        .filter(|o| o.bucket == b)
        .map(|o| o.key.as_str())
        .collect();
    assert_eq!(
        mine,
        vec!["a/1", "a/2", "a_/x"],
        "oldest first, created before the cut-off"
    );
    assert!(store.mark_object_notified(&first.object_id).await.unwrap());
    assert!(store.get_object(&b, "a/1").await.unwrap().unwrap().notified);
    let pending = store.unnotified_objects(i64::MAX, 100).await.unwrap();
    assert!(!pending.iter().any(|o| o.object_id == first.object_id));
    assert!(!store.mark_object_notified("missing").await.unwrap());
}

pub async fn multipart_parts_replace_and_list(store: Arc<dyn MetaStore>) {
    let b = unique("bkt");
    let u = multipart_upload(&b, "k");
    store.create_multipart_upload(&u).await.unwrap();
    super::assert_already_exists(store.create_multipart_upload(&u).await, "Upload");
    assert_eq!(store.get_multipart_upload(&u.upload_id).await.unwrap(), Some(u.clone()));
    assert_eq!(store.get_multipart_upload("nope").await.unwrap(), None);

    for n in [3, 1, 2] {
        assert_eq!(
            store
                .put_upload_part(&upload_part(&u.upload_id, n, &format!("p{n}"), 100))
                .await
                .unwrap(),
            None
        );
    }
    let replaced = upload_part(&u.upload_id, 2, "p2-new", 50);
    assert_eq!(store.put_upload_part(&replaced).await.unwrap(), Some("p2".to_string()));
    let all = store.list_upload_parts(&u.upload_id, 0, 0).await.unwrap();
    assert_eq!(all.iter().map(|p| p.part_number).collect::<Vec<_>>(), vec![1, 2, 3]);
    assert_eq!(all[1], replaced);
    let page = store.list_upload_parts(&u.upload_id, 1, 1).await.unwrap();
    assert_eq!(page.iter().map(|p| p.part_number).collect::<Vec<_>>(), vec![2]);
    assert!(store.list_upload_parts(&u.upload_id, 3, 10).await.unwrap().is_empty());

    match store.put_upload_part(&upload_part("no-such-upload", 1, "x", 1)).await {
        Err(CoreError::NotFound { kind: "Upload", .. }) => {}
        other => panic!("expected NotFound(Upload), got {other:?}"),
    }
}

pub async fn multipart_complete_builds_manifest(store: Arc<dyn MetaStore>) {
    let b = unique("bkt");
    // An existing single-blob object at the key is replaced by the multipart one.
    store
        .put_object(&stored_object(&b, "movie.mp4", "old-blob"))
        .await
        .unwrap();
    let u = multipart_upload(&b, "movie.mp4");
    store.create_multipart_upload(&u).await.unwrap();
    let parts: Vec<UploadPart> = (1..=4)
        .map(|n| upload_part(&u.upload_id, n, &format!("part-{n}"), 100 * u64::from(n)))
        .collect();
    for p in &parts {
        store.put_upload_part(p).await.unwrap();
    }
    // Parts 1, 2 and 4 are chosen; 3 is left out.
    let manifest = manifest_of(&[&parts[0], &parts[1], &parts[3]]);
    assert_eq!(manifest[2].offset, 300);
    let obj = multipart_object(&b, "movie.mp4", &manifest);

    // A manifest naming a blob that is not the recorded one is refused, nothing changes.
    let mut stale = manifest.clone();
    stale[1].blob = "part-2-old".into();
    assert!(matches!(
        store.complete_multipart_upload(&u.upload_id, &obj, &stale).await,
        Err(CoreError::InvalidState(_))
    ));
    assert!(store.get_multipart_upload(&u.upload_id).await.unwrap().is_some());

    let unreferenced = store
        .complete_multipart_upload(&u.upload_id, &obj, &manifest)
        .await
        .unwrap();
    let got: HashSet<_> = unreferenced.into_iter().collect();
    assert_eq!(got, HashSet::from(["part-3".to_string(), "old-blob".to_string()]));
    assert_eq!(store.get_object(&b, "movie.mp4").await.unwrap(), Some(obj.clone()));
    assert_eq!(store.object_manifest(&obj.object_id).await.unwrap(), manifest);
    assert_eq!(store.get_multipart_upload(&u.upload_id).await.unwrap(), None);
    assert!(store.list_upload_parts(&u.upload_id, 0, 0).await.unwrap().is_empty());

    // The finished upload takes no more parts and cannot complete again.
    assert!(matches!(
        store.put_upload_part(&upload_part(&u.upload_id, 5, "late", 1)).await,
        Err(CoreError::NotFound { kind: "Upload", .. })
    ));
    assert!(matches!(
        store.complete_multipart_upload(&u.upload_id, &obj, &manifest).await,
        Err(CoreError::NotFound { kind: "Upload", .. })
    ));

    // Overwriting the multipart object returns its part blobs; the manifest rows go too.
    let blobs = store
        .put_object(&stored_object(&b, "movie.mp4", "new-blob"))
        .await
        .unwrap();
    assert_eq!(
        blobs,
        vec!["part-1".to_string(), "part-2".to_string(), "part-4".to_string()]
    );
    assert!(store.object_manifest(&obj.object_id).await.unwrap().is_empty());
}

pub async fn multipart_abort_and_list_uploads(store: Arc<dyn MetaStore>) {
    let b = unique("bkt");
    let mut ups = Vec::new();
    for key in ["a/1", "a/1", "a/2", "b/1"] {
        let u = multipart_upload(&b, key);
        store.create_multipart_upload(&u).await.unwrap();
        ups.push(u);
    }
    let mut a1: Vec<_> = ups
        .iter()
        .filter(|u| u.key == "a/1")
        .map(|u| u.upload_id.clone())
        .collect();
    a1.sort();
    let list = |q: UploadListQuery| {
        let store = store.clone();
        let b = b.clone();
        async move {
            store
                .list_multipart_uploads(&b, &q)
                .await
                .unwrap()
                .into_iter()
                .map(|u| (u.key, u.upload_id))
                .collect::<Vec<_>>()
        }
    };
    let all = list(UploadListQuery::default()).await;
    assert_eq!(all.len(), 4);
    assert_eq!(all[0], ("a/1".to_string(), a1[0].clone()), "by key, then upload id");
    assert_eq!(all[1], ("a/1".to_string(), a1[1].clone()));
    let a = list(UploadListQuery {
        prefix: "a/".into(),
        ..Default::default()
    })
    .await;
    assert_eq!(a.len(), 3);
    let after = list(UploadListQuery {
        key_marker: "a/1".into(),
        upload_id_marker: a1[0].clone(),
        limit: 2,
        ..Default::default()
    })
    .await;
    assert_eq!(
        after,
        vec![
            ("a/1".to_string(), a1[1].clone()),
            ("a/2".to_string(), after[1].1.clone())
        ]
    );
    let after_key = list(UploadListQuery {
        key_marker: "a/2".into(),
        ..Default::default()
    })
    .await;
    assert_eq!(after_key.iter().map(|x| x.0.as_str()).collect::<Vec<_>>(), vec!["b/1"]);

    let target = &ups[3];
    store
        .put_upload_part(&upload_part(&target.upload_id, 1, "x1", 1))
        .await
        .unwrap();
    store
        .put_upload_part(&upload_part(&target.upload_id, 2, "x2", 1))
        .await
        .unwrap();
    assert_eq!(
        store.abort_multipart_upload(&target.upload_id).await.unwrap(),
        Some(vec!["x1".to_string(), "x2".to_string()])
    );
    assert_eq!(store.abort_multipart_upload(&target.upload_id).await.unwrap(), None);
    assert_eq!(store.get_multipart_upload(&target.upload_id).await.unwrap(), None);
    assert_eq!(list(UploadListQuery::default()).await.len(), 3);
}

/// Parts uploaded while the upload completes either land in the upload before completion
/// (and come back as unreferenced blobs) or are refused; none is lost track of.
pub async fn multipart_parts_racing_completion(store: Arc<dyn MetaStore>) {
    let b = unique("bkt");
    let u = multipart_upload(&b, "race");
    store.create_multipart_upload(&u).await.unwrap();
    let first = upload_part(&u.upload_id, 1, "r-1", 10);
    store.put_upload_part(&first).await.unwrap();
    let manifest = manifest_of(&[&first]);
    let obj = multipart_object(&b, "race", &manifest);

    let mut tasks = Vec::new();
    for n in 2..=21u32 {
        let store = store.clone();
        let id = u.upload_id.clone();
        tasks.push(tokio::spawn(async move {
            match store.put_upload_part(&upload_part(&id, n, &format!("r-{n}"), 10)).await {
                Ok(_) => Some(format!("r-{n}")),
                Err(CoreError::NotFound { .. }) => None,
                Err(e) => panic!("part {n}: {e}"),
            }
        }));
    }
    tokio::task::yield_now().await;
    let unreferenced: HashSet<String> = store
        .complete_multipart_upload(&u.upload_id, &obj, &manifest)
        .await
        .unwrap()
        .into_iter()
        .collect();
    let mut landed = HashSet::new();
    for t in tasks {
        if let Some(blob) = t.await.unwrap() {
            landed.insert(blob);
        }
    }
    assert_eq!(unreferenced, landed, "every accepted part is handed back for deletion");
    assert_eq!(store.object_manifest(&obj.object_id).await.unwrap(), manifest);
}
