//! The `MetaStore` contract suite on PostgreSQL: every case gets a fresh schema
//! `vodtest_<random>` on the server named by `VODSTACK_TEST_DATABASE_URL`, dropped afterwards.
//! Without that variable each test prints a SKIPPED line (and panics when `CI` is set).

use vod_core::ports::{AppRepo, BackendKind, IdentityRepo, MetaStore};
use vod_db::contract::{account, app};
use vod_db::testing::{PgTestSchema, postgres_test_url};

vod_db::contract_tests!(vod_db::testing::run_on_postgres, vod_db::testing::run_pair_on_postgres);

#[tokio::test]
async fn reopen_keeps_data_and_migrations_are_idempotent() {
    let Some(base) = postgres_test_url("contract_postgres::reopen_keeps_data_and_migrations_are_idempotent") else {
        return;
    };
    let schema = PgTestSchema::create(&base).await.unwrap();
    let outcome = tokio::spawn({
        let url = schema.url().to_string();
        async move {
            let first = vod_db::open_store(&url).await.unwrap();
            assert_eq!(first.kind(), BackendKind::Postgres);
            let acct = account(1);
            first.create_account(&acct).await.unwrap();
            let a = app(&acct.id, "persisted", 2);
            first.create_app(&a).await.unwrap();
            first.close().await;

            let second = vod_db::open_store(&url).await.unwrap();
            assert_eq!(second.get_account(&acct.id).await.unwrap(), Some(acct));
            assert_eq!(second.get_app(&a.account_id, &a.app_id).await.unwrap(), Some(a));
            vod_db::POSTGRES_MIGRATOR
                .run(second.pool())
                .await
                .expect("re-running migrations is a no-op");
            let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
                .fetch_one(second.pool())
                .await
                .unwrap();
            assert_eq!(applied, vod_db::POSTGRES_MIGRATOR.iter().count() as i64);
            second.close().await;
        }
    })
    .await;
    schema.drop_schema().await.unwrap();
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// The schema helper really isolates: tables land in the test schema, not in `public`,
/// and dropping the schema removes them.
#[tokio::test]
async fn schemas_are_isolated_and_dropped() {
    let Some(base) = postgres_test_url("contract_postgres::schemas_are_isolated_and_dropped") else {
        return;
    };
    let (one, s1) = vod_db::testing::open_postgres_schema(&base).await.unwrap();
    let (two, s2) = vod_db::testing::open_postgres_schema(&base).await.unwrap();
    assert_ne!(s1.schema(), s2.schema());
    assert!(s1.schema().starts_with("vodtest_"));
    let acct = account(1);
    one.create_account(&acct).await.unwrap();
    assert_eq!(two.get_account(&acct.id).await.unwrap(), None);
    assert_eq!(one.get_account(&acct.id).await.unwrap(), Some(acct));
    drop((one, two));

    let name = s1.schema().to_string();
    s1.drop_schema().await.unwrap();
    s2.drop_schema().await.unwrap();
    let pool = sqlx::AnyPool::connect(&base).await.unwrap();
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = $1")
        .bind(name)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
    pool.close().await;
}

#[tokio::test]
async fn foreign_keys_reject_orphans() {
    vod_db::testing::run_on_postgres("contract_postgres::foreign_keys_reject_orphans", |store| async move {
        let err = store.create_app(&app("acct-missing", "orphan", 1)).await.unwrap_err();
        assert!(matches!(err, vod_core::CoreError::InvalidArgument { .. }), "{err:?}");
    })
    .await;
}
