//! Contract cases for `RefreshRepo`: submission of records, tasks and jobs all or nothing;
//! look-ups per account, job and batch in order; completion as a first-wins compare-and-set
//! that stores its jobs; task listing with every filter and paging; daily quotas that never
//! overshoot (also concurrently); the edge registry.

use std::sync::Arc;

use serde_json::json;
use vod_core::CoreError;
use vod_core::model::NewJob;
use vod_core::model::refresh::{
    MediaRefreshJob, MediaRefreshOutcome, MediaRefreshStatus, RefreshFilter, RefreshObjectType, RefreshTask,
    RefreshTaskQuery, RefreshTaskStatus, RefreshTaskType, TaskResult, new_task_id, refresh_job,
};
use vod_core::ports::MetaStore;

use super::unique;

fn record(account_id: &str, job_id: &str, seq: i64) -> MediaRefreshJob {
    MediaRefreshJob {
        job_id: job_id.into(),
        media_id: vod_core::ids::hex_id(),
        batch_id: vod_core::ids::hex_id(),
        account_id: account_id.into(),
        app_id: "app-1000000".into(),
        seq,
        task_type: RefreshTaskType::Preload,
        filter_policy: RefreshFilter::default().to_policy(),
        status: MediaRefreshStatus::Processing,
        success_play_urls: Vec::new(),
        task_ids: Vec::new(),
        error_code: String::new(),
        error_message: String::new(),
        user_data: r#"{"Extend":"x"}"#.into(),
        created_at: 1_000,
        modified_at: 1_000,
    }
}

fn task(account_id: &str, batch_id: &str, seq: i64, path: &str, kind: RefreshObjectType, at: i64) -> RefreshTask {
    RefreshTask {
        task_id: new_task_id(),
        account_id: account_id.into(),
        batch_id: batch_id.into(),
        seq,
        object_path: path.into(),
        domain: vod_core::model::refresh::domain_of(path),
        object_type: kind,
        status: RefreshTaskStatus::Refreshing,
        process: 0,
        description: String::new(),
        created_at: at,
        modified_at: at,
    }
}

pub async fn refresh_submit_complete_and_query(store: Arc<dyn MetaStore>) {
    let acct = unique("acct");
    let job_id = vod_core::ids::hex_id();
    let a = record(&acct, &job_id, 0);
    let b = record(&acct, &job_id, 1);
    let ta = vec![
        task(
            &acct,
            &a.batch_id,
            0,
            "http://e:1/b/a.m3u8",
            RefreshObjectType::Preload,
            1_000,
        ),
        task(
            &acct,
            &a.batch_id,
            1,
            "http://e:1/b/a-0.ts",
            RefreshObjectType::Preload,
            1_000,
        ),
    ];
    let jobs = vec![refresh_job(&a.batch_id, 3), refresh_job(&b.batch_id, 3)];
    store.submit_refresh(&[a.clone(), b.clone()], &ta, &jobs).await.unwrap();
    assert!(
        store.get_job(&a.batch_id).await.unwrap().is_some(),
        "jobs stored with the records"
    );

    // A clashing task id: nothing of the second submission is stored.
    let c = record(&acct, &vod_core::ids::hex_id(), 0);
    let mut dup = task(&acct, &c.batch_id, 0, "http://e/x", RefreshObjectType::File, 2_000);
    dup.task_id = ta[0].task_id.clone();
    let err = store
        .submit_refresh(std::slice::from_ref(&c), &[dup], &[refresh_job(&c.batch_id, 3)])
        .await
        .unwrap_err();
    assert!(matches!(err, CoreError::AlreadyExists { .. }), "{err:?}");
    assert!(store.media_refresh_of_batch(&c.batch_id).await.unwrap().is_none());
    assert!(store.get_job(&c.batch_id).await.unwrap().is_none());

    let all = store.media_refresh_jobs(&acct, &job_id, None).await.unwrap();
    assert_eq!(all, vec![a.clone(), b.clone()], "in MediaIds order");
    let one = store
        .media_refresh_jobs(&acct, &job_id, Some(&b.media_id))
        .await
        .unwrap();
    assert_eq!(one, vec![b.clone()]);
    assert!(
        store
            .media_refresh_jobs(&unique("other"), &job_id, None)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.media_refresh_of_batch(&a.batch_id).await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(store.refresh_tasks_of_batch(&a.batch_id).await.unwrap(), ta);

    // Completion: tasks, record and event job together; only the first completion wins.
    let outcome = MediaRefreshOutcome {
        success: false,
        success_play_urls: vec![ta[0].object_path.clone()],
        task_ids: vec![ta[0].task_id.clone()],
        error_code: "PreloadFailed".into(),
        error_message: "1 of 2 URLs failed".into(),
    };
    let results = vec![
        TaskResult {
            task_id: ta[0].task_id.clone(),
            status: RefreshTaskStatus::Complete,
            description: String::new(),
        },
        TaskResult {
            task_id: ta[1].task_id.clone(),
            status: RefreshTaskStatus::Failed,
            description: "no such object".into(),
        },
    ];
    let event = NewJob::new("callback.http", json!({"v": 1, "n": unique("e")}), 3);
    assert!(
        store
            .complete_refresh_batch(
                &a.batch_id,
                &results,
                Some(&outcome),
                5_000,
                std::slice::from_ref(&event)
            )
            .await
            .unwrap()
    );
    assert!(store.get_job(&event.id).await.unwrap().is_some());
    let done = store.media_refresh_of_batch(&a.batch_id).await.unwrap().unwrap();
    assert_eq!(done.status, MediaRefreshStatus::Fail);
    assert_eq!(done.success_play_urls, outcome.success_play_urls);
    assert_eq!(done.task_ids, outcome.task_ids);
    assert_eq!((done.error_code.as_str(), done.modified_at), ("PreloadFailed", 5_000));
    let tasks = store.refresh_tasks_of_batch(&a.batch_id).await.unwrap();
    assert_eq!(tasks[0].status, RefreshTaskStatus::Complete);
    assert_eq!((tasks[1].status, tasks[1].process), (RefreshTaskStatus::Failed, 100));
    assert_eq!(tasks[1].description, "no such object");
    let again = NewJob::new("callback.http", json!({"v": 1, "n": unique("e")}), 3);
    assert!(
        !store
            .complete_refresh_batch(
                &a.batch_id,
                &results,
                Some(&outcome),
                6_000,
                std::slice::from_ref(&again)
            )
            .await
            .unwrap(),
        "a second completion changes nothing"
    );
    assert!(store.get_job(&again.id).await.unwrap().is_none());

    // A batch without a media record: the first completion wins through its tasks.
    let batch = vod_core::ids::hex_id();
    let files = vec![
        task(&acct, &batch, 0, "http://cdn.a/b/x.mp4", RefreshObjectType::File, 3_000),
        task(
            &acct,
            &batch,
            1,
            "http://cdn.a/b/dir/",
            RefreshObjectType::Directory,
            3_000,
        ),
    ];
    store
        .submit_refresh(&[], &files, &[refresh_job(&batch, 3)])
        .await
        .unwrap();
    assert!(store.media_refresh_of_batch(&batch).await.unwrap().is_none());
    let ok: Vec<TaskResult> = files
        .iter()
        .map(|t| TaskResult {
            task_id: t.task_id.clone(),
            status: RefreshTaskStatus::Complete,
            description: String::new(),
        })
        .collect();
    assert!(
        store
            .complete_refresh_batch(&batch, &ok, None, 7_000, &[])
            .await
            .unwrap()
    );
    assert!(
        !store
            .complete_refresh_batch(&batch, &ok, None, 8_000, &[])
            .await
            .unwrap()
    );

    // Listing: newest first, filters, paging, scoped to the account.
    let q = |f: fn(&mut RefreshTaskQuery)| {
        let mut q = RefreshTaskQuery {
            page_no: 1,
            page_size: 20,
            ..RefreshTaskQuery::default()
        };
        f(&mut q);
        q
    };
    let (page, total) = store.list_refresh_tasks(&acct, &q(|_| {})).await.unwrap();
    assert_eq!(total, 4);
    assert_eq!(page[0].created_at, 3_000, "newest first");
    let (page, total) = store
        .list_refresh_tasks(
            &acct,
            &q(|q| {
                q.page_size = 3;
                q.page_no = 2;
            }),
        )
        .await
        .unwrap();
    assert_eq!((page.len(), total), (1, 4));
    let ids = RefreshTaskQuery {
        task_ids: vec![files[0].task_id.clone(), ta[1].task_id.clone(), "nope".into()],
        page_no: 1,
        page_size: 20,
        ..RefreshTaskQuery::default()
    };
    assert_eq!(store.list_refresh_tasks(&acct, &ids).await.unwrap().1, 2);
    let (found, _) = store
        .list_refresh_tasks(&acct, &q(|q| q.object_path = Some("http://cdn.a/b/dir/".into())))
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].object_type, RefreshObjectType::Directory);
    let count = |f: fn(&mut RefreshTaskQuery)| {
        let store = store.clone();
        let acct = acct.clone();
        async move { store.list_refresh_tasks(&acct, &q(f)).await.unwrap().1 }
    };
    assert_eq!(count(|q| q.object_type = Some(RefreshObjectType::Preload)).await, 2);
    assert_eq!(count(|q| q.status = Some(RefreshTaskStatus::Failed)).await, 1);
    assert_eq!(count(|q| q.domain = Some("cdn.a".into())).await, 2);
    assert_eq!(count(|q| q.start_ms = Some(2_000)).await, 2);
    assert_eq!(count(|q| q.end_ms = Some(2_000)).await, 2);
    assert_eq!(store.list_refresh_tasks(&unique("x"), &q(|_| {})).await.unwrap().1, 0);
}

pub async fn refresh_daily_quota_and_edges(store: Arc<dyn MetaStore>) {
    let name = unique("cdn.file");
    assert_eq!(store.daily_counter(&name, "20240101").await.unwrap(), 0);
    assert_eq!(store.take_daily_quota(&name, "20240101", 7, 10).await.unwrap(), Some(7));
    assert_eq!(
        store.take_daily_quota(&name, "20240101", 4, 10).await.unwrap(),
        None,
        "would overshoot"
    );
    assert_eq!(
        store.take_daily_quota(&name, "20240101", 3, 10).await.unwrap(),
        Some(10)
    );
    assert_eq!(store.take_daily_quota(&name, "20240102", 11, 10).await.unwrap(), None);
    assert_eq!(
        store.daily_counter(&name, "20240102").await.unwrap(),
        0,
        "a refused first use stores nothing"
    );
    assert_eq!(store.daily_counter(&name, "20240101").await.unwrap(), 10);
    // The same table as bump_daily_counter.
    assert_eq!(store.bump_daily_counter(&name, "20240101").await.unwrap(), 11);

    // Concurrent takers never exceed the limit.
    let racing = unique("cdn.preload");
    let mut handles = Vec::new();
    for _ in 0..8 {
        let (store, racing) = (store.clone(), racing.clone());
        handles.push(tokio::spawn(async move {
            store.take_daily_quota(&racing, "20240101", 3, 10).await.unwrap()
        }));
    }
    let mut granted = 0;
    for h in handles {
        granted += i32::from(h.await.unwrap().is_some());
    }
    assert_eq!(granted, 3);
    assert_eq!(store.daily_counter(&racing, "20240101").await.unwrap(), 9);

    let (a, b) = (unique("node"), unique("node"));
    store.upsert_edge_node(&a, "http://127.0.0.1:1", 1_000).await.unwrap();
    store.upsert_edge_node(&b, "http://127.0.0.1:2", 5_000).await.unwrap();
    store.upsert_edge_node(&a, "http://127.0.0.1:3", 6_000).await.unwrap();
    let live = store.live_edge_nodes(5_000).await.unwrap();
    let mine: Vec<_> = live.iter().filter(|n| n.node_id == a || n.node_id == b).collect();
    assert_eq!(mine.len(), 2);
    let na = mine.iter().find(|n| n.node_id == a).unwrap();
    assert_eq!(
        (na.control_url.as_str(), na.last_seen_at),
        ("http://127.0.0.1:3", 6_000)
    );
    assert!(
        !store
            .live_edge_nodes(5_500)
            .await
            .unwrap()
            .iter()
            .any(|n| n.node_id == b)
    );
    assert!(store.remove_edge_node(&a).await.unwrap());
    assert!(!store.remove_edge_node(&a).await.unwrap());
    assert!(!store.live_edge_nodes(0).await.unwrap().iter().any(|n| n.node_id == a));
}
