//! `SqlStore`: the one `MetaStore` implementation, over a sqlx `AnyPool` (SQLite or
//! PostgreSQL), plus the small helpers the repository files share.

use std::sync::Arc;

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::{Any, AnyPool, Row, Transaction};
use vod_core::ports::{BackendKind, MetaStore};
use vod_core::{CoreError, CoreResult};

use crate::error::map;
use crate::nonce_journal::NonceJournal;

/// Metadata store over SQLite or PostgreSQL. All SQL is shared between the backends
/// (`$n` placeholders, `ON CONFLICT`, `RETURNING` work on both); `kind` only picks how a
/// write transaction starts, and where nonces go (SQLite: the [`NonceJournal`] beside the
/// database file; PostgreSQL: the `nonces` table).
pub struct SqlStore {
    pub(crate) pool: AnyPool,
    pub(crate) kind: BackendKind,
    pub(crate) journal: Option<Arc<NonceJournal>>,
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl SqlStore {
    pub(crate) fn new(pool: AnyPool, kind: BackendKind, journal: Option<Arc<NonceJournal>>) -> Self {
        Self { pool, kind, journal }
    }

    /// The connection pool (for tests and diagnostics; prefer the repository methods).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Closes the pool and waits for its connections to finish.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Starts a transaction that will write. SQLite gets `BEGIN IMMEDIATE` so the write lock
    /// is taken (waiting up to the busy timeout) before anything is read; a deferred
    /// transaction upgrading later could fail with `SQLITE_BUSY` without waiting.
    pub(crate) async fn begin_write(&self) -> CoreResult<Transaction<'static, Any>> {
        match self.kind {
            BackendKind::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            BackendKind::Postgres => self.pool.begin().await,
        }
        .map_err(map)
    }
}

#[async_trait]
impl MetaStore for SqlStore {
    fn kind(&self) -> BackendKind {
        self.kind
    }

    async fn ping(&self) -> CoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(map)?;
        Ok(())
    }
}

/// Reads column `col` of `row`.
pub(crate) fn get<'r, T>(row: &'r AnyRow, col: &str) -> CoreResult<T>
where
    T: sqlx::Decode<'r, Any> + sqlx::Type<Any>,
{
    row.try_get(col).map_err(map)
}

/// Reads an enum stored as TEXT.
pub(crate) fn get_enum<T>(row: &AnyRow, col: &str, parse: fn(&str) -> Option<T>) -> CoreResult<T> {
    let s: String = get(row, col)?;
    parse(&s).ok_or_else(|| CoreError::Internal(format!("unexpected value {s:?} in column {col}")))
}

/// Builds `SELECT <cols> FROM <table> <rest>` from constants (no user input).
macro_rules! select {
    ($cols:expr, $table:literal, $rest:literal) => {
        sqlx::AssertSqlSafe(format!("SELECT {} FROM {} {}", $cols, $table, $rest))
    };
}
pub(crate) use select;
