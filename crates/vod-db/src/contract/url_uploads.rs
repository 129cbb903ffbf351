//! Contract cases for `UrlUploadRepo`: submission with its jobs in one transaction, the
//! SessionId window, look-ups by id and URL (per account, newest first), and status changes
//! as a compare-and-set that stores their jobs.

use std::sync::Arc;

use serde_json::json;
use vod_core::model::NewJob;
use vod_core::model::url_upload::{UrlMediaMeta, UrlUpload, UrlUploadStatus, UrlUploadUpdate};
use vod_core::ports::MetaStore;

use super::unique;

fn upload(account_id: &str, url: &str, created_at: i64) -> UrlUpload {
    UrlUpload {
        job_id: vod_core::ids::hex_id(),
        account_id: account_id.into(),
        app_id: "app-1000000".into(),
        upload_url: url.into(),
        status: UrlUploadStatus::Pending,
        media_id: vod_core::ids::hex_id(),
        media_created: false,
        file_size: None,
        error_code: String::new(),
        error_message: String::new(),
        user_data: r#"{"Extend":"x"}"#.into(),
        meta: UrlMediaMeta {
            title: "t".into(),
            cate_id: Some(7),
            file_extension: "mp4".into(),
            extra: json!({"GenerateThumbnail": true}),
            ..Default::default()
        },
        created_at,
        completed_at: None,
    }
}

pub async fn url_uploads_submit_query_and_update(store: Arc<dyn MetaStore>) {
    let acct = unique("acct");
    let url = "http://o/a b ü.mp4?x=1,2";
    let a = upload(&acct, url, 1_000);
    let b = upload(&acct, url, 2_000);
    let c = upload(&acct, "http://o/c.mp4", 3_000);
    let jobs: Vec<NewJob> = [&a, &b, &c]
        .iter()
        .map(|u| {
            let mut j = NewJob::new("upload.url_pull", json!({"v": 1, "job_id": u.job_id}), 3);
            j.id = u.job_id.clone();
            j
        })
        .collect();
    let uploads = [a.clone(), b.clone(), c.clone()];
    assert!(
        store
            .create_url_uploads(&acct, Some(("s1", 600_000)), 10_000, &uploads, &jobs)
            .await
            .unwrap()
    );
    assert!(
        store.get_job(&a.job_id).await.unwrap().is_some(),
        "jobs stored with the uploads"
    );
    // The session again within the window: refused, nothing stored.
    let d = upload(&acct, "http://o/d.mp4", 4_000);
    assert!(
        !store
            .create_url_uploads(&acct, Some(("s1", 600_000)), 20_000, std::slice::from_ref(&d), &[])
            .await
            .unwrap()
    );
    assert!(store.get_url_upload(&d.job_id).await.unwrap().is_none());
    // Another account may use the same session id; after the window it is free again.
    assert!(
        store
            .create_url_uploads(&unique("acct"), Some(("s1", 600_000)), 20_000, &[], &[])
            .await
            .unwrap()
    );
    assert!(
        store
            .create_url_uploads(&acct, Some(("s1", 600_000)), 700_000, &[], &[])
            .await
            .unwrap()
    );

    assert_eq!(store.get_url_upload(&a.job_id).await.unwrap().unwrap(), a);
    let by_ids = store
        .url_uploads_by_ids(&acct, &[a.job_id.clone(), c.job_id.clone(), "nope".into()])
        .await
        .unwrap();
    assert_eq!(by_ids.len(), 2);
    assert!(
        store
            .url_uploads_by_ids(&unique("other"), std::slice::from_ref(&a.job_id))
            .await
            .unwrap()
            .is_empty(),
        "scoped to the account"
    );
    let by_url = store.url_uploads_by_urls(&acct, &[url.to_string()], 100).await.unwrap();
    assert_eq!(
        by_url.iter().map(|u| u.job_id.clone()).collect::<Vec<_>>(),
        vec![b.job_id.clone(), a.job_id.clone()],
        "both jobs of one URL, newest first"
    );
    assert_eq!(
        store
            .url_uploads_by_urls(&acct, &[url.to_string()], 1)
            .await
            .unwrap()
            .len(),
        1
    );

    // Status changes: compare-and-set on the current status, jobs with the change.
    let up = UrlUploadUpdate {
        media_created: Some(true),
        file_size: Some(42),
        ..Default::default()
    };
    assert!(
        store
            .update_url_upload(&a.job_id, &[], UrlUploadStatus::Downloading, &up, &[])
            .await
            .unwrap()
    );
    assert!(
        !store
            .update_url_upload(
                &a.job_id,
                &[UrlUploadStatus::Pending],
                UrlUploadStatus::Uploading,
                &UrlUploadUpdate::default(),
                &[]
            )
            .await
            .unwrap(),
        "not in a `from` status"
    );
    let event = NewJob::new("callback.http", json!({"v": 1}), 1);
    let done = UrlUploadUpdate {
        error_code: Some("URLInvalidError".into()),
        error_message: Some("404".into()),
        completed_at: Some(99),
        ..Default::default()
    };
    assert!(
        store
            .update_url_upload(
                &a.job_id,
                &[],
                UrlUploadStatus::DownloadFail,
                &done,
                std::slice::from_ref(&event)
            )
            .await
            .unwrap()
    );
    assert!(store.get_job(&event.id).await.unwrap().is_some());
    let got = store.get_url_upload(&a.job_id).await.unwrap().unwrap();
    assert_eq!(got.status, UrlUploadStatus::DownloadFail);
    assert!(got.media_created);
    assert_eq!(got.file_size, Some(42), "kept: the update left it unset");
    assert_eq!(
        (got.error_code.as_str(), got.completed_at),
        ("URLInvalidError", Some(99))
    );
    // A finished upload changes no more (an empty `from` means "any unfinished").
    let late = NewJob::new("callback.http", json!({"v": 1}), 1);
    assert!(
        !store
            .update_url_upload(
                &a.job_id,
                &[],
                UrlUploadStatus::Canceled,
                &UrlUploadUpdate::default(),
                std::slice::from_ref(&late)
            )
            .await
            .unwrap()
    );
    assert!(
        store.get_job(&late.id).await.unwrap().is_none(),
        "no jobs without the change"
    );
}
