//! Per-domain migrations, embedded in the binary.
//!
//! Each domain owns a [`MigrationSet`] with SQL for both engines (column types
//! and indexes differ too much to share one file). Versions are timestamps, so
//! they are unique across domains; a test in each domain checks that both
//! engines list the same versions. Applied migrations are recorded with a
//! checksum and must never be edited.

use crate::{Backend, Db, Error};
use sha2::{Digest, Sha256};
use sqlx::Row;

/// One migration of one domain.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Version: a `YYYYMMDDHHMMSS` timestamp.
    pub version: i64,
    /// Short name.
    pub name: &'static str,
    /// SQL for SQLite.
    pub sqlite: &'static str,
    /// SQL for PostgreSQL.
    pub postgres: &'static str,
}

/// The migrations a domain owns, in order.
#[derive(Debug, Clone, Copy)]
pub struct MigrationSet {
    /// Domain name (`catalog`, `orders`, …).
    pub domain: &'static str,
    /// Its migrations, oldest first.
    pub migrations: &'static [Migration],
}

/// Whether the database is up to date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    /// Migrations embedded here but not applied yet: `(domain, version)`.
    pub pending: Vec<(String, i64)>,
}

/// Declares a [`Migration`] whose SQL lives in
/// `migrations/{sqlite,postgres}/<version>_<name>.sql` of the calling crate.
#[macro_export]
macro_rules! migration {
    ($version:literal, $name:literal) => {
        $crate::Migration {
            version: $version,
            name: $name,
            sqlite: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/migrations/sqlite/",
                $version,
                "_",
                $name,
                ".sql"
            )),
            postgres: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/migrations/postgres/",
                $version,
                "_",
                $name,
                ".sql"
            )),
        }
    };
}

const LEDGER: &str = "create table if not exists cielo_schema_migrations (
    domain text not null,
    version bigint not null,
    name text not null,
    checksum text not null,
    applied_at bigint not null,
    primary key (domain, version)
)";

/// A lock id shared by every Cielo process, so two processes starting at once
/// do not both apply the same migration on PostgreSQL.
const PG_MIGRATION_LOCK: i64 = 0x6369656c6f;

fn checksum(sql: &str) -> String {
    hex::encode(Sha256::digest(sql.as_bytes()))
}

impl Db {
    /// Applies every pending migration of `sets`, in order, each in its own
    /// transaction. Safe to run from several processes at once.
    pub async fn migrate(&self, sets: &[MigrationSet]) -> Result<Vec<(String, i64)>, Error> {
        let mut applied_now = Vec::new();
        let mut tx = self.begin_write().await?;
        if self.backend() == Backend::Postgres {
            sqlx::query("select pg_advisory_xact_lock($1)")
                .bind(PG_MIGRATION_LOCK)
                .execute(&mut **tx)
                .await?;
        }
        sqlx::query(LEDGER).execute(&mut **tx).await?;
        let rows = sqlx::query("select domain, version, checksum from cielo_schema_migrations")
            .fetch_all(&mut **tx)
            .await?;
        let mut applied = std::collections::HashMap::new();
        for r in rows {
            let domain: String = r.try_get("domain")?;
            let version: i64 = r.try_get("version")?;
            let sum: String = r.try_get("checksum")?;
            applied.insert((domain, version), sum);
        }
        for set in sets {
            for m in set.migrations {
                let sql = match self.backend() {
                    Backend::Sqlite => m.sqlite,
                    Backend::Postgres => m.postgres,
                };
                let sum = checksum(sql);
                match applied.get(&(set.domain.to_string(), m.version)) {
                    Some(existing) if *existing == sum => continue,
                    Some(_) => {
                        return Err(Error::MigrationEdited {
                            domain: set.domain.into(),
                            version: m.version,
                        })
                    }
                    None => {}
                }
                tracing::info!(
                    domain = set.domain,
                    version = m.version,
                    name = m.name,
                    "applying migration"
                );
                sqlx::raw_sql(sql).execute(&mut **tx).await?;
                sqlx::query("insert into cielo_schema_migrations (domain, version, name, checksum, applied_at) values ($1, $2, $3, $4, $5)")
                    .bind(set.domain)
                    .bind(m.version)
                    .bind(m.name)
                    .bind(&sum)
                    .bind(cielo_core::Timestamp::now().as_micros())
                    .execute(&mut **tx)
                    .await?;
                applied_now.push((set.domain.to_string(), m.version));
            }
        }
        for (domain, version) in applied.keys() {
            let known = sets
                .iter()
                .any(|s| s.domain == domain && s.migrations.iter().any(|m| m.version == *version));
            if !known && sets.iter().any(|s| s.domain == domain) {
                return Err(Error::UnknownMigration {
                    domain: domain.clone(),
                    version: *version,
                });
            }
        }
        tx.commit().await?;
        Ok(applied_now)
    }

    /// Which of `sets`' migrations are not applied yet (for `/readyz`).
    pub async fn migration_status(&self, sets: &[MigrationSet]) -> Result<MigrationStatus, Error> {
        let rows = match sqlx::query("select domain, version from cielo_schema_migrations")
            .fetch_all(self.pool())
            .await
        {
            Ok(rows) => rows,
            // No ledger yet: nothing is applied.
            Err(sqlx::Error::Database(_)) => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        let mut done = std::collections::HashSet::new();
        for r in rows {
            done.insert((
                r.try_get::<String, _>("domain")?,
                r.try_get::<i64, _>("version")?,
            ));
        }
        let pending = sets
            .iter()
            .flat_map(|s| {
                s.migrations
                    .iter()
                    .map(move |m| (s.domain.to_string(), m.version))
            })
            .filter(|k| !done.contains(k))
            .collect();
        Ok(MigrationStatus { pending })
    }
}

/// Checks a domain's migration set: versions ascending and unique, both engines
/// present. Domains call this from a unit test.
pub fn check_set(set: &MigrationSet) -> Result<(), String> {
    let mut last = 0;
    for m in set.migrations {
        if m.version <= last {
            return Err(format!(
                "{}: versions must ascend ({} after {})",
                set.domain, m.version, last
            ));
        }
        if m.sqlite.trim().is_empty() || m.postgres.trim().is_empty() {
            return Err(format!(
                "{}: migration {} lacks SQL for one engine",
                set.domain, m.version
            ));
        }
        last = m.version;
    }
    Ok(())
}
