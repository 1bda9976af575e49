//! The database of Cielo: SQLite (default, one file in the data directory) or
//! PostgreSQL (`postgres://…`), behind one handle.
//!
//! Queries are written once in portable SQL with `$1`-style placeholders and run
//! through sqlx's `Any` driver on both engines (SQLite accepts `$N` too).
//! Values cross as the types both engines share: `i64`, `String`, `Option<…>`;
//! timestamps are `i64` microseconds ([`cielo_core::Timestamp`]), ids are their
//! prefixed text form, JSON is text. Where the engines really differ (locking,
//! upserts, notifications), callers branch on [`Db::backend`] in small, named
//! functions.
#![warn(missing_docs)]

mod migrate;
pub mod testing;

pub use migrate::{check_set, Migration, MigrationSet, MigrationStatus};
pub use sqlx;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, Executor, Transaction};
use std::sync::Arc;
use std::time::Duration;

/// The engine behind a [`Db`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite in WAL mode: one process writes at a time.
    Sqlite,
    /// PostgreSQL 15+.
    Postgres,
}

/// Database errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The URL is neither `sqlite:` nor `postgres:`.
    #[error("unsupported database URL (expected sqlite://PATH or postgres://…)")]
    UnsupportedUrl,
    /// An applied migration's text no longer matches the embedded one.
    #[error("migration {domain}/{version} was changed after it was applied; never edit an applied migration")]
    MigrationEdited {
        /// Owning domain.
        domain: String,
        /// Version.
        version: i64,
    },
    /// The database reports migrations this binary does not know (a newer binary ran).
    #[error("the database has migration {domain}/{version} that this binary does not know; upgrade Cielo")]
    UnknownMigration {
        /// Owning domain.
        domain: String,
        /// Version.
        version: i64,
    },
    /// Any failure from the driver.
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
}

/// A database URL whose `Debug` and `Display` hide the password.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// Wraps a URL.
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }
    /// The URL with its password, for the driver only.
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// The file a SQLite URL names (`None` for PostgreSQL and in-memory
    /// databases), e.g. to tell a missing database from an empty one before
    /// connecting creates it.
    pub fn sqlite_file(&self) -> Option<std::path::PathBuf> {
        if !self.0.starts_with("sqlite:") {
            return None;
        }
        let path = sqlite_path(&self.0);
        (!path.is_empty() && path != ":memory:").then(|| path.into())
    }
    /// The engine this URL names.
    pub fn backend(&self) -> Result<Backend, Error> {
        if self.0.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if self.0.starts_with("postgres:") || self.0.starts_with("postgresql:") {
            Ok(Backend::Postgres)
        } else {
            Err(Error::UnsupportedUrl)
        }
    }
    /// The URL with any password replaced by `***`.
    pub fn redacted(&self) -> String {
        let Some(scheme_end) = self.0.find("://") else {
            return self.0.clone();
        };
        let rest = &self.0[scheme_end + 3..];
        let Some(at) = rest.find('@') else {
            return self.0.clone();
        };
        let creds = &rest[..at];
        match creds.find(':') {
            Some(colon) => format!(
                "{}://{}:***{}",
                &self.0[..scheme_end],
                &creds[..colon],
                &rest[at..]
            ),
            None => self.0.clone(),
        }
    }
}
impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}
impl std::fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Pool settings.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// Most connections held open.
    pub max_connections: u32,
    /// How long to wait for a free connection.
    pub acquire_timeout: Duration,
    /// PostgreSQL: open no connection until the first query (a serverless
    /// function's cold start does not wait for the database, and an instance
    /// that is never invoked holds no connection). SQLite ignores it.
    pub lazy: bool,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(10),
            lazy: false,
        }
    }
}

/// A handle on the database, cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    url: DatabaseUrl,
    /// SQLite allows one writer: in-process writers queue here instead of
    /// failing with SQLITE_BUSY when a read transaction upgrades to a write.
    write_lock: Option<Arc<tokio::sync::Mutex<()>>>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("backend", &self.backend)
            .field("url", &self.url)
            .finish()
    }
}

/// A write transaction. On SQLite it also holds the process's writer lock.
pub struct WriteTx {
    tx: Transaction<'static, Any>,
    _guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl WriteTx {
    /// Commits the transaction.
    pub async fn commit(self) -> Result<(), Error> {
        self.tx.commit().await?;
        Ok(())
    }
    /// Rolls back explicitly (dropping does the same).
    pub async fn rollback(self) -> Result<(), Error> {
        self.tx.rollback().await?;
        Ok(())
    }
}

impl std::ops::Deref for WriteTx {
    type Target = Transaction<'static, Any>;
    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}
impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}

impl Db {
    /// Connects to the database the URL names. For SQLite the file and its
    /// directory are created when missing and WAL mode is switched on.
    pub async fn connect(url: &DatabaseUrl, options: &PoolOptions) -> Result<Self, Error> {
        sqlx::any::install_default_drivers();
        let backend = url.backend()?;
        let mut driver_url = url.expose().to_string();
        if backend == Backend::Sqlite {
            let path = sqlite_path(&driver_url);
            if let Some(parent) = std::path::Path::new(&path).parent() {
                if !parent.as_os_str().is_empty() {
                    let _ = std::fs::create_dir_all(parent);
                }
            }
            if !driver_url.contains("mode=") && path != ":memory:" {
                driver_url.push_str(if driver_url.contains('?') {
                    "&mode=rwc"
                } else {
                    "?mode=rwc"
                });
            }
        }
        let pool_options = AnyPoolOptions::new()
            .max_connections(options.max_connections)
            .min_connections(if backend == Backend::Sqlite { 1 } else { 0 })
            .acquire_timeout(options.acquire_timeout)
            // No ping before each checkout: it costs a round trip per
            // transaction, and a dead connection fails its first query anyway
            // (the pool then drops it); idle ones are recycled below.
            .test_before_acquire(false)
            .idle_timeout(Some(Duration::from_secs(300)))
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    if conn.backend_name() == "SQLite" {
                        // WAL lets readers run beside the writer; NORMAL syncs at
                        // checkpoints, which in WAL mode is still crash-safe for the
                        // database (the last commits may roll back on power loss).
                        conn.execute("pragma journal_mode = wal; pragma synchronous = normal; pragma foreign_keys = on; pragma busy_timeout = 10000;").await?;
                    }
                    Ok(())
                })
            });
        let pool = if options.lazy && backend == Backend::Postgres {
            pool_options.connect_lazy(&driver_url)?
        } else {
            pool_options.connect(&driver_url).await?
        };
        let write_lock =
            (backend == Backend::Sqlite).then(|| Arc::new(tokio::sync::Mutex::new(())));
        Ok(Self {
            pool,
            backend,
            url: url.clone(),
            write_lock,
        })
    }

    /// The engine.
    pub fn backend(&self) -> Backend {
        self.backend
    }
    /// The URL (redacted in logs).
    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }
    /// The pool, for reads and single statements.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }
    /// Begins a write transaction (queued behind other writers on SQLite).
    pub async fn begin_write(&self) -> Result<WriteTx, Error> {
        let guard = match &self.write_lock {
            Some(lock) => Some(lock.clone().lock_owned().await),
            None => None,
        };
        let tx = self.pool.begin().await?;
        Ok(WriteTx { tx, _guard: guard })
    }
    /// True when the database answers.
    pub async fn ping(&self) -> bool {
        sqlx::query("select 1").fetch_one(&self.pool).await.is_ok()
    }
    /// Closes the pool, waiting for connections to be returned.
    pub async fn close(&self) {
        self.pool.close().await
    }
}

fn sqlite_path(url: &str) -> String {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    rest.split('?').next().unwrap_or("").to_string()
}

/// `$first, $first+1, …`: `n` bind placeholders for an `in (…)` list, in the
/// `$N` form both engines accept.
pub fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// True when `err` is a unique-constraint violation (both engines), so callers
/// can turn it into a domain error where the query runs.
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => {
            db.is_unique_violation()
                || db.code().as_deref() == Some("23505")
                || db.message().contains("UNIQUE constraint failed")
        }
        _ => false,
    }
}

/// Reads a column, mapping a decode failure to a sqlx error.
pub fn col<T>(row: &AnyRow, name: &str) -> Result<T, sqlx::Error>
where
    T: for<'r> sqlx::Decode<'r, Any> + sqlx::Type<Any>,
{
    use sqlx::Row;
    row.try_get(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_hide_their_password() {
        let u = DatabaseUrl::new("postgres://shop:s3cret@db.example:5432/cielo");
        assert_eq!(
            format!("{u:?}"),
            "postgres://shop:***@db.example:5432/cielo"
        );
        assert!(!u.to_string().contains("s3cret"));
        assert_eq!(
            DatabaseUrl::new("sqlite://data/cielo.db").to_string(),
            "sqlite://data/cielo.db"
        );
    }

    #[test]
    fn the_url_names_the_backend() {
        assert_eq!(
            DatabaseUrl::new("sqlite://x.db").backend().unwrap(),
            Backend::Sqlite
        );
        assert_eq!(
            DatabaseUrl::new("postgresql://h/db").backend().unwrap(),
            Backend::Postgres
        );
        assert!(DatabaseUrl::new("mysql://h/db").backend().is_err());
    }
}
