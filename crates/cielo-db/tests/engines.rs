//! The portable-SQL assumptions every domain builds on, checked on the engine
//! `CIELO_TEST_DATABASE_URL` selects.

use cielo_db::testing::TestDatabase;
use cielo_db::{Db, Migration, MigrationSet, PoolOptions};
use sqlx::Row;

static MIGRATIONS: &[Migration] = &[Migration {
    version: 20260101000000,
    name: "things",
    sqlite: "create table thing (id text primary key, n bigint not null, note text, created_at bigint not null);",
    postgres: "create table thing (id text primary key, n bigint not null, note text, created_at bigint not null);",
}];
const SET: MigrationSet = MigrationSet {
    domain: "test",
    migrations: MIGRATIONS,
};

async fn fresh() -> (TestDatabase, Db) {
    let tdb = TestDatabase::create().await;
    let db = Db::connect(&tdb.url, &PoolOptions::default())
        .await
        .unwrap();
    db.migrate(&[SET]).await.unwrap();
    (tdb, db)
}

#[tokio::test]
async fn dollar_placeholders_bind_by_number_even_out_of_order_and_repeated() {
    let (_t, db) = fresh().await;
    let mut tx = db.begin_write().await.unwrap();
    sqlx::query("insert into thing (note, n, id, created_at) values ($3, $2, $1, $2)")
        .bind("a")
        .bind(42i64)
        .bind(Option::<String>::None)
        .execute(&mut **tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let row = sqlx::query("select id, n, note, created_at from thing where id = $1")
        .bind("a")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(row.try_get::<String, _>("id").unwrap(), "a");
    assert_eq!(row.try_get::<i64, _>("n").unwrap(), 42);
    assert_eq!(row.try_get::<i64, _>("created_at").unwrap(), 42);
    assert_eq!(row.try_get::<Option<String>, _>("note").unwrap(), None);
    let count: i64 = sqlx::query("select count(*) as c from thing")
        .fetch_one(db.pool())
        .await
        .unwrap()
        .try_get("c")
        .unwrap();
    assert_eq!(count, 1);
    let sum: i64 = sqlx::query("select cast(coalesce(sum(n), 0) as bigint) as s from thing")
        .fetch_one(db.pool())
        .await
        .unwrap()
        .try_get("s")
        .unwrap();
    assert_eq!(sum, 42);
}

#[tokio::test]
async fn migrations_apply_once_and_report_status() {
    let (_t, db) = fresh().await;
    assert!(
        db.migrate(&[SET]).await.unwrap().is_empty(),
        "second run applies nothing"
    );
    assert!(db
        .migration_status(&[SET])
        .await
        .unwrap()
        .pending
        .is_empty());
}

#[tokio::test]
async fn a_unique_violation_is_recognised_on_both_engines() {
    let (_t, db) = fresh().await;
    let insert = || sqlx::query("insert into thing (id, n, created_at) values ('x', 1, 1)");
    insert().execute(db.pool()).await.unwrap();
    let err = insert().execute(db.pool()).await.unwrap_err();
    assert!(cielo_db::is_unique_violation(&err), "{err}");
}

#[tokio::test]
async fn a_rolled_back_write_leaves_nothing() {
    let (_t, db) = fresh().await;
    let mut tx = db.begin_write().await.unwrap();
    sqlx::query("insert into thing (id, n, created_at) values ('y', 1, 1)")
        .execute(&mut **tx)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    let n: i64 = sqlx::query("select count(*) as c from thing")
        .fetch_one(db.pool())
        .await
        .unwrap()
        .try_get("c")
        .unwrap();
    assert_eq!(n, 0);
}
