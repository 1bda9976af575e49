//! Fresh databases for tests, on the engine `CIELO_TEST_DATABASE_URL` names.
//!
//! Unset: a new SQLite file in a new temporary directory. Set to
//! `postgres://user@host:port/any_db`: a new database `test_<uuid>` on that
//! server, dropped again when the [`TestDatabase`] is dropped.

use crate::DatabaseUrl;

/// A database that exists for one test.
pub struct TestDatabase {
    /// Its URL.
    pub url: DatabaseUrl,
    cleanup: Cleanup,
}

enum Cleanup {
    Dir(std::path::PathBuf),
    Postgres { admin_url: String, name: String },
}

/// The environment variable that picks the test engine.
pub const TEST_DATABASE_ENV: &str = "CIELO_TEST_DATABASE_URL";

impl TestDatabase {
    /// Creates a fresh, empty database.
    pub async fn create() -> Self {
        match std::env::var(TEST_DATABASE_ENV) {
            Ok(url) if url.starts_with("postgres") => Self::create_postgres(url).await,
            _ => Self::create_sqlite(),
        }
    }

    fn create_sqlite() -> Self {
        let dir =
            std::env::temp_dir().join(format!("cielo-test-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        let url = DatabaseUrl::new(format!("sqlite://{}", dir.join("cielo.db").display()));
        Self {
            url,
            cleanup: Cleanup::Dir(dir),
        }
    }

    async fn create_postgres(admin_url: String) -> Self {
        use sqlx::Connection;
        let name = format!("test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(&admin_url)
            .await
            .expect("connect to the test PostgreSQL server");
        sqlx::Executor::execute(&mut conn, format!("create database {name}").as_str())
            .await
            .expect("create test database");
        let _ = conn.close().await;
        let base = admin_url
            .rsplit_once('/')
            .map(|(b, _)| b.to_string())
            .unwrap_or(admin_url.clone());
        let url = DatabaseUrl::new(format!("{base}/{name}"));
        Self {
            url,
            cleanup: Cleanup::Postgres { admin_url, name },
        }
    }

    /// True when tests run on PostgreSQL.
    pub fn is_postgres() -> bool {
        std::env::var(TEST_DATABASE_ENV)
            .map(|u| u.starts_with("postgres"))
            .unwrap_or(false)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Dir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Postgres { admin_url, name } => {
                let (admin_url, name) = (admin_url.clone(), name.clone());
                // Drop runs inside the test's runtime; a short-lived runtime on
                // another thread does the async cleanup without blocking it.
                let _ = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .ok()?;
                    rt.block_on(async {
                        use sqlx::Connection;
                        let mut conn = sqlx::PgConnection::connect(&admin_url).await.ok()?;
                        sqlx::Executor::execute(
                            &mut conn,
                            format!("drop database if exists {name} with (force)").as_str(),
                        )
                        .await
                        .ok()?;
                        Some(())
                    })
                })
                .join();
            }
        }
    }
}
