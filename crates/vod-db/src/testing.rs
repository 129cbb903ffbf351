//! Test support shared by this crate and later ones: a fresh SQLite file in a temp dir, an
//! isolated PostgreSQL schema (`vodtest_<random>`, selected through the connection's
//! `search_path`), the `VODSTACK_TEST_DATABASE_URL` / `CI` skip rules, and runners that give
//! a test case its own store(s) and clean up afterwards even when the case panics.

use std::future::Future;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sqlx::{AnyConnection, Connection, Executor};
use vod_core::ports::MetaStore;
use vod_core::{CoreError, CoreResult};

use crate::error::map;
use crate::open::{install_drivers, open_store};
use crate::store::SqlStore;

/// Environment variable naming the PostgreSQL server Postgres tests run against.
pub const TEST_DATABASE_URL_ENV: &str = "VODSTACK_TEST_DATABASE_URL";

/// The PostgreSQL URL for tests. When [`TEST_DATABASE_URL_ENV`] is unset this prints
/// `SKIPPED (no VODSTACK_TEST_DATABASE_URL): <test>` to stderr and returns `None` — unless
/// [`in_ci`], where nothing may be skipped: it panics.
pub fn postgres_test_url(test: &str) -> Option<String> {
    match std::env::var(TEST_DATABASE_URL_ENV) {
        Ok(url) if !url.trim().is_empty() => Some(url.trim().to_string()),
        _ => {
            if in_ci() {
                panic!(
                    "{TEST_DATABASE_URL_ENV} is not set but CI is: the Postgres test {test} must not be skipped in CI"
                );
            }
            // Straight to the stderr handle: libtest captures `eprintln!` of passing tests, and
            // a skip must be visible in a plain `cargo test` run.
            let _ = writeln!(std::io::stderr(), "\nSKIPPED (no {TEST_DATABASE_URL_ENV}): {test}");
            None
        }
    }
}

/// True when the `CI` environment variable says so (`1`, `true` or `yes`, any case), as
/// `scripts/test.sh` reads it.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
}

/// A fresh SQLite database file in its own temporary directory (removed on drop).
pub struct SqliteTestDb {
    dir: tempfile::TempDir,
    path: PathBuf,
    url: String,
}

impl SqliteTestDb {
    pub fn new() -> CoreResult<Self> {
        let dir = tempfile::Builder::new()
            .prefix("vodtest-")
            .tempdir()
            .map_err(|e| CoreError::Internal(format!("cannot create a temp dir: {e}")))?;
        let path = dir.path().join("meta.db");
        let url = format!("sqlite://{}", path.display());
        Ok(Self { dir, path, url })
    }

    /// `sqlite://<tempdir>/meta.db`; the file appears on the first open.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub async fn open(&self) -> CoreResult<Arc<dyn MetaStore>> {
        Ok(Arc::new(self.open_store().await?))
    }

    pub async fn open_store(&self) -> CoreResult<SqlStore> {
        open_store(&self.url).await
    }
}

/// An isolated schema `vodtest_<random>` on a PostgreSQL server. [`url`](Self::url) is the
/// base URL plus `options=-c search_path=<schema>`, so every connection opened from it (by
/// this crate or any other component under test) creates and finds its tables there.
/// Drop it with [`drop_schema`](Self::drop_schema).
pub struct PgTestSchema {
    base_url: String,
    schema: String,
    url: String,
}

impl PgTestSchema {
    /// Creates a new empty schema on the server at `base_url`.
    pub async fn create(base_url: &str) -> CoreResult<Self> {
        install_drivers();
        let schema = format!("vodtest_{}", uuid::Uuid::new_v4().simple());
        let mut conn = AnyConnection::connect(base_url).await.map_err(map)?;
        conn.execute(sqlx::AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\"")))
            .await
            .map_err(map)?;
        conn.close().await.map_err(map)?;
        let sep = if base_url.contains('?') { '&' } else { '?' };
        let url = format!("{base_url}{sep}options=-c%20search_path%3D{schema}");
        Ok(Self {
            base_url: base_url.to_string(),
            schema,
            url,
        })
    }

    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// The base URL with the schema selected through `search_path`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Opens a store in this schema (migrations are applied on the first open).
    pub async fn open(&self) -> CoreResult<Arc<dyn MetaStore>> {
        Ok(Arc::new(self.open_store().await?))
    }

    pub async fn open_store(&self) -> CoreResult<SqlStore> {
        open_store(&self.url).await
    }

    /// Drops the schema and everything in it. Close the stores opened on it first.
    pub async fn drop_schema(self) -> CoreResult<()> {
        let mut conn = AnyConnection::connect(&self.base_url).await.map_err(map)?;
        conn.execute(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS \"{}\" CASCADE",
            self.schema
        )))
        .await
        .map_err(map)?;
        conn.close().await.map_err(map)?;
        Ok(())
    }
}

/// Opens a store in a fresh schema of `base_url`; drop the schema afterwards.
pub async fn open_postgres_schema(base_url: &str) -> CoreResult<(Arc<dyn MetaStore>, PgTestSchema)> {
    let schema = PgTestSchema::create(base_url).await?;
    match schema.open().await {
        Ok(store) => Ok((store, schema)),
        Err(e) => {
            let _ = schema.drop_schema().await;
            Err(e)
        }
    }
}

/// Runs `case` on a fresh SQLite file.
pub async fn run_on_sqlite<F, Fut>(test: &str, case: F)
where
    F: FnOnce(Arc<dyn MetaStore>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    run_pair_on_sqlite(test, |a, _b| case(a)).await
}

/// Runs `case` with two independently opened stores (two pools) on one fresh SQLite file.
pub async fn run_pair_on_sqlite<F, Fut>(test: &str, case: F)
where
    F: FnOnce(Arc<dyn MetaStore>, Arc<dyn MetaStore>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let db = SqliteTestDb::new().unwrap_or_else(|e| panic!("{test}: {e}"));
    let a = Arc::new(db.open_store().await.unwrap_or_else(|e| panic!("{test}: open: {e}")));
    let b = Arc::new(
        db.open_store()
            .await
            .unwrap_or_else(|e| panic!("{test}: second open: {e}")),
    );
    let outcome = tokio::spawn(case(a.clone(), b.clone())).await;
    a.close().await;
    b.close().await;
    drop(db);
    finish(test, outcome);
}

/// Runs `case` on a fresh schema of the server named by [`TEST_DATABASE_URL_ENV`], dropping
/// the schema afterwards; skips (or panics in CI) when the variable is unset.
pub async fn run_on_postgres<F, Fut>(test: &str, case: F)
where
    F: FnOnce(Arc<dyn MetaStore>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    run_pair_on_postgres(test, |a, _b| case(a)).await
}

/// Like [`run_on_postgres`] with two independently opened stores (two pools) on one schema.
pub async fn run_pair_on_postgres<F, Fut>(test: &str, case: F)
where
    F: FnOnce(Arc<dyn MetaStore>, Arc<dyn MetaStore>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(base) = postgres_test_url(test) else {
        return;
    };
    let schema = PgTestSchema::create(&base)
        .await
        .unwrap_or_else(|e| panic!("{test}: create schema: {e}"));
    let opened = async { Ok::<_, CoreError>((schema.open_store().await?, schema.open_store().await?)) }.await;
    let (a, b) = match opened {
        Ok((a, b)) => (Arc::new(a), Arc::new(b)),
        Err(e) => {
            let _ = schema.drop_schema().await;
            panic!("{test}: open: {e}");
        }
    };
    let outcome = tokio::spawn(case(a.clone(), b.clone())).await;
    a.close().await;
    b.close().await;
    schema
        .drop_schema()
        .await
        .unwrap_or_else(|e| panic!("{test}: drop schema: {e}"));
    finish(test, outcome);
}

fn finish(test: &str, outcome: Result<(), tokio::task::JoinError>) {
    match outcome {
        Ok(()) => {}
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => panic!("{test}: {e}"),
    }
}
