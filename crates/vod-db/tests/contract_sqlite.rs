//! The `MetaStore` contract suite on SQLite (a fresh temp-dir file per case), plus restart
//! persistence and migration idempotence of the SQLite backend.

use vod_core::ports::{AppRepo, BackendKind, IdentityRepo, MetaStore, NonceRepo, SettingsRepo};
use vod_db::contract::{account, app};
use vod_db::testing::SqliteTestDb;

vod_db::contract_tests!(vod_db::testing::run_on_sqlite, vod_db::testing::run_pair_on_sqlite);

#[tokio::test]
async fn reopen_keeps_data_and_migrations_are_idempotent() {
    let db = SqliteTestDb::new().unwrap();
    assert!(!db.path().exists());
    let first = db.open_store().await.unwrap();
    assert_eq!(first.kind(), BackendKind::Sqlite);
    assert!(db.path().exists(), "open creates the file");
    let acct = account(1);
    first.create_account(&acct).await.unwrap();
    let a = app(&acct.id, "persisted", 2);
    first.create_app(&a).await.unwrap();
    assert_eq!(
        first.put_setting_if_absent("cluster_secret", "s3cr3t").await.unwrap(),
        "s3cr3t"
    );
    assert_eq!(
        first.record_nonces(&[("n-1".into(), i64::MAX)]).await.unwrap(),
        vec![true]
    );
    first.close().await;

    // A second open of the same file (a restart) runs the migrator again: a no-op.
    let second = db.open_store().await.unwrap();
    assert_eq!(second.get_account(&acct.id).await.unwrap(), Some(acct.clone()));
    assert_eq!(second.get_app(&acct.id, &a.app_id).await.unwrap(), Some(a));
    assert_eq!(
        second.get_setting("cluster_secret").await.unwrap().as_deref(),
        Some("s3cr3t")
    );
    assert_eq!(
        second.record_nonces(&[("n-1".into(), i64::MAX)]).await.unwrap(),
        vec![false]
    );
    vod_db::SQLITE_MIGRATOR
        .run(second.pool())
        .await
        .expect("re-running migrations is a no-op");
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(second.pool())
        .await
        .unwrap();
    assert_eq!(applied, vod_db::SQLITE_MIGRATOR.iter().count() as i64);
    second.close().await;

    // Opening through the trait-object entry point works on the existing file too.
    let third = vod_db::open(db.url()).await.unwrap();
    assert_eq!(third.first_account().await.unwrap(), Some(acct));
}

#[tokio::test]
async fn sqlite_connection_settings() {
    let db = SqliteTestDb::new().unwrap();
    let store = db.open_store().await.unwrap();
    let mut conn = store.pool().acquire().await.unwrap();
    let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(journal.to_lowercase(), "wal");
    let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(sync, 1, "synchronous=NORMAL");
    let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(fk, 1);
    let busy: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert!(busy >= 10_000, "busy_timeout {busy}");
}

#[tokio::test]
async fn open_creates_missing_directories_and_rejects_bad_urls() {
    let db = SqliteTestDb::new().unwrap();
    let nested = db.dir().join("a/b/meta.db");
    let store = vod_db::open(&format!("sqlite://{}", nested.display())).await.unwrap();
    store.ping().await.unwrap();
    assert!(nested.exists());
    for bad in [
        "mysql://root@localhost/vod",
        "sqlite::memory:",
        "file:///tmp/x.db",
        "nonsense",
    ] {
        match vod_db::open(bad).await {
            Err(vod_core::CoreError::InvalidArgument { field, reason }) => {
                assert_eq!(field, "database_url");
                assert!(reason.contains("sqlite://"), "{reason}");
            }
            Err(other) => panic!("{bad}: unexpected error {other}"),
            Ok(_) => panic!("{bad}: opened"),
        }
    }
}

#[tokio::test]
async fn foreign_keys_reject_orphans() {
    let db = SqliteTestDb::new().unwrap();
    let store = db.open().await.unwrap();
    let err = store.create_app(&app("acct-missing", "orphan", 1)).await.unwrap_err();
    assert!(matches!(err, vod_core::CoreError::InvalidArgument { .. }), "{err:?}");
}

/// Relative paths (`sqlite://dir/file.db`, `sqlite:dir/file.db`) and paths with spaces,
/// `#` and upper case reach the same file through every pooled connection.
#[tokio::test]
async fn relative_and_odd_paths() {
    let db = SqliteTestDb::new().unwrap();
    let odd = db.dir().join("Odd Dir #1").join("Meta DB.db");
    // From the current directory up to the root, then down to the temp dir.
    let cwd = std::env::current_dir().unwrap();
    let up = "../".repeat(cwd.components().count().saturating_sub(1));
    let relative = format!("{up}{}", odd.strip_prefix("/").unwrap().display());
    let acct = account(1);
    for (i, url) in [
        format!("sqlite://{relative}"),
        format!("sqlite:{relative}"),
        format!("sqlite://{}", odd.display()),
    ]
    .iter()
    .enumerate()
    {
        let store = vod_db::open_store(url).await.unwrap_or_else(|e| panic!("{url}: {e}"));
        if i == 0 {
            store.create_account(&acct).await.unwrap();
        }
        // Several connections held at once, all on the same file.
        let mut conns = Vec::new();
        for _ in 0..4 {
            conns.push(store.pool().acquire().await.unwrap());
        }
        for conn in &mut conns {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts")
                .fetch_one(&mut **conn)
                .await
                .unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!(n, 1, "{url}");
        }
        drop(conns);
        store.close().await;
    }
    assert!(odd.exists());
}
