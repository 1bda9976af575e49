//! The Stripe provider against a fake Stripe server (localstripe) for what it
//! implements: PaymentIntents, refunds, the events list, customers and their
//! card PaymentMethods (saved cards). Set
//! `STRIPE_API_BASE` (and optionally `STRIPE_SECRET_KEY`) to run these; unset,
//! they print a note and pass.

use cielo_payments::stripe::{StripeConfig, StripeProvider};
use cielo_payments::{PaymentProvider, RefundRequest};
use serde_json::Value;

fn server() -> Option<(String, String)> {
    match std::env::var("STRIPE_API_BASE") {
        Ok(base) if !base.is_empty() => Some((
            base,
            std::env::var("STRIPE_SECRET_KEY").unwrap_or_else(|_| "sk_test_ci".into()),
        )),
        _ => {
            eprintln!(
                "note: STRIPE_API_BASE is unset; skipping the tests against a fake Stripe server"
            );
            None
        }
    }
}

async fn paid_intent(base: &str, key: &str, amount: i64, order: &str) -> Value {
    let form = [
        ("amount", amount.to_string()),
        ("currency", "eur".to_string()),
        ("payment_method", "pm_card_visa".to_string()),
        ("confirm", "true".to_string()),
        ("metadata[order_id]", order.to_string()),
    ];
    let r = reqwest::Client::new()
        .post(format!("{base}/v1/payment_intents"))
        .bearer_auth(key)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    r.json().await.unwrap()
}

fn provider(base: &str, key: &str) -> StripeProvider {
    // Two per page, so listing a handful of events crosses pages.
    StripeProvider::new(StripeConfig {
        api_base: base.into(),
        secret_key: key.into(),
        session_ttl_secs: 3600,
        page_size: 2,
    })
}

#[tokio::test]
async fn partial_then_full_refunds_of_a_real_payment_intent() {
    let Some((base, key)) = server() else { return };
    let order = format!("ord_{}", std::process::id());
    let pi = paid_intent(&base, &key, 2500, &order).await;
    assert_eq!(pi["status"], "succeeded");
    let stripe = provider(&base, &key);
    let request = |amount: Option<i64>, already: i64| RefundRequest {
        order_id: order.clone(),
        payment_intent: pi["id"].as_str().unwrap().to_string(),
        amount,
        already_refunded: already,
        paid: 2500,
        currency: "eur".into(),
        idempotency_key: format!("refund:{order}:{already}"),
    };
    let part = stripe.refund(&request(Some(1000), 0)).await.unwrap();
    assert_eq!((part.amount, part.status.as_str()), (1000, "succeeded"));
    assert!(part.id.starts_with("re_"));
    let rest = stripe.refund(&request(None, 1000)).await.unwrap();
    assert_eq!(rest.amount, 1500);
}

#[tokio::test]
async fn the_events_list_is_followed_across_pages_and_comes_back_oldest_first() {
    let Some((base, key)) = server() else { return };
    let since = cielo_core::Timestamp::now().as_unix_seconds() - 1;
    for i in 0..3 {
        paid_intent(&base, &key, 100 + i, &format!("ord_list_{i}")).await;
    }
    let events = provider(&base, &key).list_events(since).await.unwrap();
    let ours: Vec<&Value> = events
        .iter()
        .filter(|e| {
            e["type"] == "payment_intent.succeeded"
                && e["data"]["object"]["metadata"]["order_id"]
                    .as_str()
                    .is_some_and(|o| o.starts_with("ord_list_"))
        })
        .collect();
    assert!(ours.len() >= 3, "{events:?}");
    let created: Vec<i64> = events
        .iter()
        .map(|e| e["created"].as_i64().unwrap())
        .collect();
    assert!(created.windows(2).all(|w| w[0] <= w[1]), "oldest first");
}

#[tokio::test]
async fn a_refused_key_is_a_configuration_error() {
    let Some((base, _)) = server() else { return };
    let err = provider(&base, "nope").list_events(0).await.unwrap_err();
    assert!(
        matches!(err, cielo_payments::PaymentError::Misconfigured(_)),
        "{err:?}"
    );
}

/// A card PaymentMethod created through the API and attached to `customer`:
/// what Checkout leaves behind when the buyer ticks "save" (localstripe has
/// no Checkout).
async fn saved_card_at_stripe(base: &str, key: &str, customer: &str, number: &str) -> String {
    let client = reqwest::Client::new();
    let pm: Value = client
        .post(format!("{base}/v1/payment_methods"))
        .bearer_auth(key)
        .form(&[
            ("type", "card"),
            ("card[number]", number),
            ("card[exp_month]", "11"),
            ("card[exp_year]", "2031"),
            ("card[cvc]", "123"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = pm["id"].as_str().unwrap().to_string();
    let r = client
        .post(format!("{base}/v1/payment_methods/{id}/attach"))
        .bearer_auth(key)
        .form(&[("customer", customer)])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    id
}

#[tokio::test]
async fn a_customers_saved_cards_are_listed_and_only_that_customer_can_detach_them() {
    let Some((base, key)) = server() else { return };
    let stripe = provider(&base, &key);
    let new = |account: &str| cielo_payments::NewCustomer {
        account_id: account.into(),
        email: format!("{account}@example.com"),
        idempotency_key: format!("cielo-customer-{account}-{}", std::process::id()),
    };
    let alice = stripe.create_customer(&new("alice")).await.unwrap();
    let bob = stripe.create_customer(&new("bob")).await.unwrap();
    assert!(alice.starts_with("cus_") && alice != bob, "{alice} {bob}");
    let customer: Value = reqwest::Client::new()
        .get(format!("{base}/v1/customers/{alice}"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(customer["email"], "alice@example.com");
    assert_eq!(customer["metadata"]["account_id"], "alice");

    let visa = saved_card_at_stripe(&base, &key, &alice, "4242424242424242").await;
    // localstripe calls every card a Visa, so two Visas.
    let debit = saved_card_at_stripe(&base, &key, &alice, "4000056655665556").await;
    let cards = stripe.list_cards(&alice).await.unwrap();
    let mut seen: Vec<(&str, &str, &str, u32, u32)> = cards
        .iter()
        .map(|c| {
            (
                c.id.as_str(),
                c.brand.as_str(),
                c.last4.as_str(),
                c.exp_month,
                c.exp_year,
            )
        })
        .collect();
    seen.sort();
    let mut want = vec![
        (visa.as_str(), "visa", "4242", 11, 2031),
        (debit.as_str(), "visa", "5556", 11, 2031),
    ];
    want.sort();
    assert_eq!(seen, want);
    assert!(stripe.list_cards(&bob).await.unwrap().is_empty());

    // Bob cannot detach Alice's card, nor an unknown one.
    assert!(!stripe.detach_card(&bob, &visa).await.unwrap());
    assert!(!stripe.detach_card(&alice, "pm_unknown0000").await.unwrap());
    assert_eq!(stripe.list_cards(&alice).await.unwrap().len(), 2);
    // Alice can.
    assert!(stripe.detach_card(&alice, &visa).await.unwrap());
    let left: Vec<String> = stripe
        .list_cards(&alice)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(left, vec![debit]);
}

/// Six first checkouts of one account at once: the customer id each gets.
async fn race(
    cards: &cielo_payments::SavedCards,
    account: &str,
) -> Vec<Result<String, cielo_payments::PaymentError>> {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let (cards, account) = (cards.clone(), account.to_string());
        set.spawn(async move { cards.customer_for(&account, "race@example.com").await });
    }
    set.join_all().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_first_checkouts_of_one_account_keep_one_stripe_customer() {
    let Some((base, key)) = server() else { return };
    let tdb = cielo_db::testing::TestDatabase::create().await;
    let db = cielo_db::Db::connect(&tdb.url, &cielo_db::PoolOptions::default())
        .await
        .unwrap();
    db.migrate(&[cielo_payments::MIGRATIONS]).await.unwrap();
    let cards =
        cielo_payments::SavedCards::new(db.clone(), std::sync::Arc::new(provider(&base, &key)));
    let account = format!("acct_race_{}", std::process::id());
    // localstripe ignores idempotency keys, so each racer may create a
    // customer there: the row per (account, provider) still keeps one.
    let ids = race(&cards, &account).await;
    let first = ids[0].as_ref().unwrap().clone();
    assert!(first.starts_with("cus_"));
    for id in &ids {
        assert_eq!(id.as_ref().unwrap(), &first);
    }
    assert_eq!(
        cards.customer_of(&account).await.unwrap(),
        Some(first.clone())
    );
    let visa = saved_card_at_stripe(&base, &key, &first, "4242424242424242").await;
    assert_eq!(cards.list(&account).await.unwrap()[0].id, visa);
    assert!(!cards.remove("acct_someone_else", &visa).await.unwrap());
    assert!(!cards
        .remove(&account, "pm_1/../../customers")
        .await
        .unwrap());
    assert!(cards.remove(&account, &visa).await.unwrap());
    assert!(cards.list(&account).await.unwrap().is_empty());
}
