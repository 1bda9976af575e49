use cielo_db::testing::TestDatabase;
use cielo_db::{Db, PoolOptions};
use cielo_jobs::JobsSettings;
use std::future::Future;
use std::time::{Duration, Instant};

pub struct TestDb {
    pub db: Db,
    pub tdb: TestDatabase,
}

/// A fresh, migrated database with the test-only tables the handlers write.
pub async fn fresh() -> TestDb {
    let tdb = TestDatabase::create().await;
    let db = Db::connect(&tdb.url, &PoolOptions::default())
        .await
        .unwrap();
    db.migrate(&[cielo_jobs::MIGRATIONS]).await.unwrap();
    for ddl in [
        "create table if not exists jobs_test_effect (key text primary key, job_id text not null)",
        "create table if not exists jobs_test_run (job_id text not null, attempt bigint not null, node text not null, started_at bigint not null, finished_at bigint not null)",
        "create table if not exists jobs_test_enqueued (key text primary key)",
    ] {
        sqlx::query(ddl).execute(db.pool()).await.unwrap();
    }
    TestDb { db, tdb }
}

/// Short timings so tests finish quickly.
pub fn fast_settings() -> JobsSettings {
    JobsSettings {
        poll_interval_ms: 50,
        reap_interval_ms: 100,
        backoff_base_ms: 20,
        backoff_max_ms: 200,
        lease_seconds: 5,
        shutdown_timeout_seconds: 5,
        scheduler_interval_ms: 100,
        ..Default::default()
    }
}

pub async fn count(db: &Db, sql: &str) -> i64 {
    use sqlx::Row;
    sqlx::query(sql)
        .fetch_one(db.pool())
        .await
        .unwrap()
        .try_get::<i64, _>(0)
        .unwrap()
}

/// Polls `check` until it holds, failing the test after `limit`.
pub async fn wait_until<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    loop {
        if check().await {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// True on PostgreSQL; on SQLite prints why the test is skipped.
pub fn postgres_only(test: &str) -> bool {
    if TestDatabase::is_postgres() {
        return true;
    }
    eprintln!("skipped on SQLite: `{test}` needs several processes sharing one queue, which only PostgreSQL supports");
    false
}

/// A `jobs-test-node` process, killed when dropped.
pub struct Node {
    pub child: std::process::Child,
}

impl Node {
    pub fn start(db: &TestDb, role: &str, name: &str, lease_seconds: u64) -> Node {
        Self::start_with(db, role, name, lease_seconds, &[])
    }

    pub fn start_with(
        db: &TestDb,
        role: &str,
        name: &str,
        lease_seconds: u64,
        extra: &[&str],
    ) -> Node {
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_jobs-test-node"))
            .args([
                "--database-url",
                db.tdb.url.expose(),
                "--role",
                role,
                "--name",
                name,
            ])
            .args(["--lease-seconds", &lease_seconds.to_string()])
            .args(extra)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start jobs-test-node");
        Node { child }
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait for a clean exit.
    pub fn stop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}
