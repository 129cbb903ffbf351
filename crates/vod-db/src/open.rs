//! Opening a metadata store from a database URL: scheme detection, SQLite file preparation
//! (create, WAL), per-connection settings, the connection pool and the embedded migrations.

use std::str::FromStr;
use std::sync::{Arc, Once};
use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{AnyPool, ConnectOptions, Connection, Executor};
use vod_core::ports::{BackendKind, MetaStore};
use vod_core::{CoreError, CoreResult};

use crate::error::{map, map_migrate};
use crate::nonce_journal::NonceJournal;
use crate::store::SqlStore;

/// Migrations of the SQLite backend (`migrations/sqlite`), embedded at compile time.
pub static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");
/// Migrations of the PostgreSQL backend (`migrations/postgres`), embedded at compile time.
pub static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// How long a SQLite connection waits for a lock before failing with `SQLITE_BUSY`.
pub const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

const SQLITE_MAX_CONNECTIONS: u32 = 8;
const POSTGRES_MAX_CONNECTIONS: u32 = 10;
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(20);

/// Opens (creating when needed) the metadata database at `database_url` and applies the
/// pending migrations.
///
/// * `sqlite://<path>` (or `sqlite:<path>`): the file and its parent directories are created
///   when missing; WAL journal, `synchronous=NORMAL`, 10 s busy timeout, foreign keys on.
///   `sqlite:///abs/path.db` is an absolute path, `sqlite://data/meta.db` a relative one.
/// * `postgres://…` / `postgresql://…`: the database must exist; tables go into the first
///   schema of the connection's `search_path` (see `options=-c search_path=…`).
pub async fn open(database_url: &str) -> CoreResult<Arc<dyn MetaStore>> {
    Ok(Arc::new(open_store(database_url).await?))
}

/// Like [`open`] but returns the concrete store (for `close()` and pool access).
pub async fn open_store(database_url: &str) -> CoreResult<SqlStore> {
    let kind = backend_of(database_url)?;
    install_drivers();
    let (pool, migrator, file) = match kind {
        BackendKind::Sqlite => {
            let (pool, file) = connect_sqlite(database_url).await?;
            (pool, &SQLITE_MIGRATOR, Some(file))
        }
        BackendKind::Postgres => (connect_postgres(database_url).await?, &POSTGRES_MIGRATOR, None),
    };
    if let Err(e) = migrator.run(&pool).await {
        pool.close().await;
        return Err(map_migrate(e));
    }
    let journal = match file {
        None => None,
        Some(file) => match tokio::task::spawn_blocking(move || NonceJournal::open(&file)).await {
            Ok(Ok(journal)) => Some(journal),
            Ok(Err(e)) => {
                pool.close().await;
                return Err(e);
            }
            Err(e) => {
                pool.close().await;
                return Err(CoreError::Internal(format!("opening the nonce journal: {e}")));
            }
        },
    };
    if kind == BackendKind::Sqlite {
        tokio::spawn(checkpointer(pool.clone()));
    }
    Ok(SqlStore::new(pool, kind, journal))
}

/// Which backend `database_url` names; `InvalidArgument` for anything unsupported.
pub fn backend_of(database_url: &str) -> CoreResult<BackendKind> {
    let url = database_url.trim();
    if url.starts_with("sqlite:") {
        let rest = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
        let path = rest.split('?').next().unwrap_or_default();
        if path.is_empty() || path == ":memory:" || rest.contains("mode=memory") {
            return Err(CoreError::invalid(
                "database_url",
                "SQLite needs a file path (e.g. sqlite://data/vodstack.db or sqlite:///var/lib/vodstack/meta.db); \
                 in-memory databases are not supported because every pooled connection would see a different one",
            ));
        }
        return Ok(BackendKind::Sqlite);
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(BackendKind::Postgres);
    }
    let scheme = url
        .split_once(':')
        .map(|(s, _)| s)
        .filter(|s| !s.is_empty() && !s.contains('/'));
    Err(CoreError::invalid(
        "database_url",
        match scheme {
            Some(s) => format!(
                "unsupported scheme `{s}:`; use sqlite://<path> (e.g. sqlite://data/vodstack.db) \
                 or postgres://user:password@host:5432/dbname"
            ),
            None => "not a URL; use sqlite://<path> (e.g. sqlite://data/vodstack.db) \
                     or postgres://user:password@host:5432/dbname"
                .to_string(),
        },
    ))
}

/// Registers the sqlx Any drivers (idempotent).
pub(crate) fn install_drivers() {
    static ONCE: Once = Once::new();
    ONCE.call_once(sqlx::any::install_default_drivers);
}

/// The pool and the absolute path of the database file.
async fn connect_sqlite(url: &str) -> CoreResult<(AnyPool, std::path::PathBuf)> {
    // Prepare the file with a native connection: create it (and its directory) and switch
    // it to WAL, which is persistent; changing the journal mode needs an exclusive lock,
    // so it is done once here rather than on every pooled connection.
    let opts = SqliteConnectOptions::from_str(url)
        .map_err(|e| CoreError::invalid("database_url", format!("bad SQLite URL: {e}")))?;
    let file = opts.get_filename().to_path_buf();
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            CoreError::Unavailable(format!(
                "cannot create directory {} for the database: {e}",
                dir.display()
            ))
        })?;
    }
    let prep = opts
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
        .foreign_keys(true);
    let conn = prep
        .connect()
        .await
        .map_err(|e| CoreError::Unavailable(format!("cannot open SQLite database {}: {e}", file.display())))?;
    conn.close().await.map_err(map)?;

    // The Any driver re-parses its URL as a generic URL, which would read the first segment
    // of a relative `sqlite://dir/file.db` as a host name; hand it the absolute,
    // percent-encoded path instead (keeping any query parameters).
    let absolute = std::fs::canonicalize(&file)
        .map_err(|e| CoreError::Unavailable(format!("cannot resolve {}: {e}", file.display())))?;
    let query = url.split_once('?').map(|(_, q)| format!("?{q}")).unwrap_or_default();
    let any_url = format!("sqlite://{}{query}", encode_path(&absolute));

    // Commits never checkpoint (a checkpoint inside a commit stalls it for its fsyncs):
    // [`checkpointer`] does it in the background.
    let pragmas = format!(
        "PRAGMA busy_timeout = {}; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
         PRAGMA wal_autocheckpoint = 0;",
        SQLITE_BUSY_TIMEOUT.as_millis()
    );
    let pragmas: Arc<str> = pragmas.into();
    let pool = AnyPoolOptions::new()
        .max_connections(SQLITE_MAX_CONNECTIONS)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .after_connect(move |conn, _meta| {
            let pragmas = pragmas.clone();
            Box::pin(async move {
                conn.execute(sqlx::AssertSqlSafe(pragmas)).await?;
                Ok(())
            })
        })
        .connect(&any_url)
        .await
        .map_err(map)?;
    Ok((pool, absolute))
}

/// How often the background checkpoint runs.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// Copies committed WAL frames into the database file in the background, off the commit path
/// (PASSIVE: never waits for, nor blocks, readers and writers), until the pool closes. Once
/// a checkpoint has copied everything, the next writer starts the WAL over from its start,
/// so the WAL stays as small as with SQLite's own auto-checkpoint.
async fn checkpointer(pool: AnyPool) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if pool.is_closed() {
            return;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await {
            if pool.is_closed() {
                return;
            }
            tracing::warn!(error = %e, "SQLite checkpoint failed");
        }
    }
}

/// Percent-encodes a path for a `sqlite://` URL (everything but unreserved characters and `/`).
fn encode_path(path: &std::path::Path) -> String {
    let mut out = String::new();
    for &b in path.as_os_str().as_encoded_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

async fn connect_postgres(url: &str) -> CoreResult<AnyPool> {
    AnyPoolOptions::new()
        .max_connections(POSTGRES_MAX_CONNECTIONS)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect(url)
        .await
        .map_err(|e| match e {
            sqlx::Error::Configuration(e) => CoreError::invalid("database_url", format!("bad PostgreSQL URL: {e}")),
            sqlx::Error::PoolTimedOut => CoreError::Unavailable(format!(
                "no connection to PostgreSQL within {} s (is the server running and reachable?)",
                ACQUIRE_TIMEOUT.as_secs()
            )),
            e => map(e),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes() {
        assert_eq!(backend_of("sqlite://data/x.db").unwrap(), BackendKind::Sqlite);
        assert_eq!(backend_of("sqlite:///abs/x.db?mode=rwc").unwrap(), BackendKind::Sqlite);
        assert_eq!(backend_of("sqlite:x.db").unwrap(), BackendKind::Sqlite);
        assert_eq!(backend_of("postgres://u@h/db").unwrap(), BackendKind::Postgres);
        assert_eq!(backend_of("postgresql://u@h/db").unwrap(), BackendKind::Postgres);
        for bad in [
            "mysql://u@h/db",
            "sqlite::memory:",
            "sqlite://",
            "/tmp/x.db",
            "",
            "redis://h",
        ] {
            let err = backend_of(bad).unwrap_err();
            assert!(
                matches!(
                    err,
                    CoreError::InvalidArgument {
                        field: "database_url",
                        ..
                    }
                ),
                "{bad}: {err}"
            );
        }
        let msg = backend_of("mysql://u:secret@h/db").unwrap_err().to_string();
        assert!(
            msg.contains("mysql") && msg.contains("sqlite://") && !msg.contains("secret"),
            "{msg}"
        );
    }

    #[tokio::test]
    async fn bad_postgres_url_is_invalid_argument() {
        let err = open("postgres://u@127.0.0.1:notaport/db")
            .await
            .err()
            .expect("must fail");
        assert!(
            matches!(
                err,
                CoreError::InvalidArgument {
                    field: "database_url",
                    ..
                }
            ),
            "{err:?}"
        );
    }
}
