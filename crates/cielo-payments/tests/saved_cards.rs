//! Saved cards over the built-in test provider, on the engine the tests
//! run on (SQLite, or PostgreSQL with `CIELO_TEST_DATABASE_URL`).

use cielo_db::testing::TestDatabase;
use cielo_db::{Db, PoolOptions};
use cielo_payments::test_provider::TestCard;
use cielo_payments::{Delivery, PaymentError, SavedCards, TestProvider};
use std::sync::Arc;

async fn setup() -> (TestDatabase, Db, Arc<TestProvider>, SavedCards) {
    let tdb = TestDatabase::create().await;
    let db = Db::connect(&tdb.url, &PoolOptions::default())
        .await
        .unwrap();
    db.migrate(&[cielo_payments::MIGRATIONS]).await.unwrap();
    let test = Arc::new(TestProvider::new("http://127.0.0.1:9", 3600).with_events(
        db.clone(),
        "whsec_test",
        Delivery::Never,
    ));
    let cards = SavedCards::new(db.clone(), test.clone());
    (tdb, db, test, cards)
}

async fn count(db: &Db, sql: &str) -> i64 {
    use cielo_db::sqlx::Row;
    cielo_db::sqlx::query(sql)
        .fetch_one(db.pool())
        .await
        .unwrap()
        .try_get::<i64, _>(0)
        .unwrap()
}

async fn race(cards: &SavedCards, account: &str) -> Vec<Result<String, PaymentError>> {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (cards, account) = (cards.clone(), account.to_string());
        set.spawn(async move { cards.customer_for(&account, "a@example.com").await });
    }
    set.join_all().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_checkouts_create_one_customer_per_account() {
    let (_tdb, db, _test, cards) = setup().await;
    assert_eq!(cards.customer_of("acct_a").await.unwrap(), None);
    let ids = race(&cards, "acct_a").await;
    let first = ids[0].as_ref().unwrap().clone();
    assert!(first.starts_with("tcus_"), "{first}");
    assert!(
        ids.iter().all(|id| id.as_ref().unwrap() == &first),
        "{ids:?}"
    );
    // One row here, and one customer at the provider (the idempotency key).
    assert_eq!(
        count(&db, "select count(*) from payments_customer").await,
        1
    );
    assert_eq!(
        count(&db, "select count(*) from payments_test_customer").await,
        1
    );
    // Another account gets its own.
    let other = cards.customer_for("acct_b", "b@example.com").await.unwrap();
    assert_ne!(other, first);
}

#[tokio::test]
async fn an_account_lists_and_removes_only_its_own_cards() {
    let (_tdb, _db, test, cards) = setup().await;
    let alice = cards
        .customer_for("acct_alice", "a@example.com")
        .await
        .unwrap();
    cards
        .customer_for("acct_bob", "b@example.com")
        .await
        .unwrap();
    assert!(cards.list("acct_alice").await.unwrap().is_empty());
    assert!(cards.list("acct_nobody").await.unwrap().is_empty());

    let card = TestCard::parse("5555 5555 5555 4444", "07/30").unwrap();
    let saved = test.save_card("tcs_one", &alice, &card).await.unwrap();
    // Pressing Pay twice on one session saves one card.
    let again = test.save_card("tcs_one", &alice, &card).await.unwrap();
    assert_eq!(saved.id, again.id);
    let listed = cards.list("acct_alice").await.unwrap();
    assert_eq!(listed.len(), 1);
    let c = &listed[0];
    assert_eq!(
        (c.brand.as_str(), c.last4.as_str(), c.exp_month, c.exp_year),
        ("mastercard", "4444", 7, 2030)
    );

    assert!(cards.list("acct_bob").await.unwrap().is_empty());
    assert!(!cards.remove("acct_bob", &saved.id).await.unwrap());
    assert!(!cards.remove("acct_nobody", &saved.id).await.unwrap());
    assert!(!cards.remove("acct_alice", "pm_test_unknown").await.unwrap());
    assert_eq!(cards.list("acct_alice").await.unwrap().len(), 1);
    assert!(cards.remove("acct_alice", &saved.id).await.unwrap());
    assert!(cards.list("acct_alice").await.unwrap().is_empty());
    assert!(!cards.remove("acct_alice", &saved.id).await.unwrap());
}
