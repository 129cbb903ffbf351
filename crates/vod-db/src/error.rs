//! Mapping of sqlx errors onto `CoreError`: unique violations → `AlreadyExists`, foreign-key
//! violations → `InvalidArgument`, connection / pool / busy / lock errors → `Unavailable`
//! (retryable), everything else → `Internal`.

use sqlx::error::{DatabaseError, ErrorKind};
use vod_core::CoreError;

/// Whether `e` is a unique / primary-key violation.
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.kind() == ErrorKind::UniqueViolation)
}

/// Constraint name (Postgres) and message (both; SQLite names the columns there), lowercased,
/// so callers can tell which unique constraint fired.
pub(crate) fn violation_text(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => format!("{} {}", db.constraint().unwrap_or_default(), db.message()).to_lowercase(),
        _ => String::new(),
    }
}

/// Maps a unique violation to `AlreadyExists { kind, id }` and anything else via [`map`].
pub(crate) fn exists_or(e: sqlx::Error, kind: &'static str, id: &str) -> CoreError {
    if is_unique_violation(&e) {
        CoreError::AlreadyExists {
            kind,
            id: id.to_string(),
        }
    } else {
        map(e)
    }
}

/// The general mapping; see the module doc.
pub(crate) fn map(e: sqlx::Error) -> CoreError {
    if is_unavailable(&e) {
        return CoreError::Unavailable(e.to_string());
    }
    match &e {
        sqlx::Error::Database(db) => match db.kind() {
            ErrorKind::UniqueViolation => CoreError::AlreadyExists {
                kind: "Record",
                id: db.message().to_string(),
            },
            ErrorKind::ForeignKeyViolation => CoreError::invalid(
                "reference",
                format!("refers to a record that does not exist ({})", db.message()),
            ),
            _ => CoreError::Internal(e.to_string()),
        },
        _ => CoreError::Internal(e.to_string()),
    }
}

/// Maps a migration failure; a connection problem while migrating stays retryable.
pub(crate) fn map_migrate(e: sqlx::migrate::MigrateError) -> CoreError {
    let retryable = matches!(&e, sqlx::migrate::MigrateError::Execute(inner) if is_unavailable(inner));
    let msg = format!("applying migrations: {e}");
    if retryable {
        CoreError::Unavailable(msg)
    } else {
        CoreError::Internal(msg)
    }
}

/// Connection, pool and busy errors: retrying later may succeed.
fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::BeginFailed
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => is_transient(db.as_ref()),
        sqlx::Error::Migrate(m) => {
            matches!(m.as_ref(), sqlx::migrate::MigrateError::Execute(inner) if is_unavailable(inner))
        }
        _ => false,
    }
}

/// Busy / locked SQLite databases; Postgres connection exceptions, shutdowns, too many
/// connections, serialization failures and deadlocks. Retrying later may succeed.
fn is_transient(db: &dyn DatabaseError) -> bool {
    let Some(code) = db.code() else { return false };
    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        // Extended result codes carry the primary code in their low byte.
        return code
            .parse::<i64>()
            .is_ok_and(|c| matches!(c & 0xff, 5 /* BUSY */ | 6 /* LOCKED */));
    }
    code.starts_with("08") // connection_exception
        || matches!(&*code, "57P01" | "57P02" | "57P03" | "53300" | "40001" | "40P01" | "55P03")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_errors_map() {
        assert!(matches!(map(sqlx::Error::PoolTimedOut), CoreError::Unavailable(_)));
        assert!(map(sqlx::Error::PoolClosed).is_retryable());
        assert!(matches!(map(sqlx::Error::RowNotFound), CoreError::Internal(_)));
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        assert!(map(sqlx::Error::Io(io)).is_retryable());
        assert!(matches!(
            exists_or(sqlx::Error::RowNotFound, "X", "1"),
            CoreError::Internal(_)
        ));
    }

    /// A real `SQLITE_BUSY` (a second writer with no busy timeout) maps to `Unavailable`,
    /// a real unique violation to `AlreadyExists`.
    #[tokio::test]
    async fn sqlite_busy_and_unique() {
        use sqlx::sqlite::SqliteConnectOptions;
        use sqlx::{ConnectOptions, Connection, Executor};
        let dir = tempfile::tempdir().unwrap();
        let opts = SqliteConnectOptions::new()
            .filename(dir.path().join("busy.db"))
            .create_if_missing(true);
        let mut one = opts.clone().connect().await.unwrap();
        let mut two = opts.busy_timeout(std::time::Duration::ZERO).connect().await.unwrap();
        one.execute("CREATE TABLE t (k TEXT PRIMARY KEY)").await.unwrap();
        one.execute("INSERT INTO t VALUES ('a')").await.unwrap();
        let dup = one.execute("INSERT INTO t VALUES ('a')").await.unwrap_err();
        assert!(matches!(
            exists_or(dup, "T", "a"),
            CoreError::AlreadyExists { kind: "T", .. }
        ));

        one.execute("BEGIN IMMEDIATE").await.unwrap();
        let busy = two.execute("BEGIN IMMEDIATE").await.unwrap_err();
        let mapped = map(busy);
        assert!(mapped.is_retryable(), "{mapped:?}");
        one.execute("ROLLBACK").await.unwrap();
        one.close().await.unwrap();
        two.close().await.unwrap();
    }
}
