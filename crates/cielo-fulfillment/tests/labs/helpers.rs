#![allow(dead_code)]

use cielo_core::Timestamp;
use cielo_db::testing::TestDatabase;
use cielo_db::{Db, PoolOptions};
use cielo_fulfillment::{
    Fulfillment, FulfillmentSettings, Lab, LabItem, LabOrderId, LabOrderUpdated, LabSecrets,
    LocalLabSettings, Recipient, SubmissionRequest, TOPIC_LAB_ORDER_UPDATED,
};
use cielo_jobs::{JobsSettings, Registry};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Env {
    pub db: Db,
    pub tdb: TestDatabase,
    pub fulfillment: Fulfillment,
    pub registry: Registry,
    /// Every `fulfillment.lab_order_updated` event a subscriber received.
    pub events: Arc<Mutex<Vec<LabOrderUpdated>>>,
}

pub const PRINTFUL_WEBHOOK_TOKEN: &str = "pf-whk-0123456789abcdef0123456789abcdef";
pub const PRODIGI_WEBHOOK_TOKEN: &str = "pd-whk-0123456789abcdef0123456789abcdef";

/// Settings for tests: no edit window, short timeouts, an instant local lab.
pub fn settings() -> FulfillmentSettings {
    FulfillmentSettings {
        hold_minutes: 0,
        request_timeout_secs: 1,
        quote_timeout_ms: 2000,
        local: LocalLabSettings {
            in_production_after_secs: 0,
            shipped_after_secs: 0,
            delivered_after_secs: 0,
        },
        ..Default::default()
    }
}

pub async fn env(settings: FulfillmentSettings, secrets: LabSecrets) -> Env {
    let tdb = TestDatabase::create().await;
    let db = Db::connect(&tdb.url, &PoolOptions::default())
        .await
        .unwrap();
    db.migrate(&[cielo_jobs::MIGRATIONS, cielo_fulfillment::MIGRATIONS])
        .await
        .unwrap();
    let fulfillment = Fulfillment::new(db.clone(), settings, secrets, "http://shop.test").unwrap();
    let mut registry = Registry::new();
    fulfillment.register(&mut registry);
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    registry.handle_json("test.lab_order_updated", move |_ctx, e: LabOrderUpdated| {
        let sink = sink.clone();
        async move {
            sink.lock().unwrap().push(e);
            Ok(())
        }
    });
    registry.subscribe(TOPIC_LAB_ORDER_UPDATED, "test.lab_order_updated");
    Env {
        db,
        tdb,
        fulfillment,
        registry,
        events,
    }
}

/// Short backoffs so retried jobs come round quickly.
pub fn jobs_settings() -> JobsSettings {
    JobsSettings {
        backoff_base_ms: 20,
        backoff_max_ms: 200,
        lease_seconds: 30,
        ..Default::default()
    }
}

impl Env {
    /// Runs every runnable job now.
    pub async fn run_jobs(&self) -> usize {
        cielo_jobs::run_pending_with(&self.db, &self.registry, &jobs_settings())
            .await
            .unwrap()
    }

    /// Runs jobs until `check` holds (failing after `limit`).
    pub async fn run_until<F, Fut>(&self, limit: Duration, what: &str, mut check: F)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = bool>,
    {
        let deadline = Instant::now() + limit;
        loop {
            self.run_jobs().await;
            if check().await {
                return;
            }
            assert!(Instant::now() < deadline, "timed out waiting for: {what}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Plans a submission in its own transaction, as the lifecycle does.
    pub async fn plan(&self, req: SubmissionRequest) -> LabOrderId {
        let mut tx = self.db.begin_write().await.unwrap();
        let id = self
            .fulfillment
            .plan_submission(&mut tx, req, Timestamp::now())
            .await
            .unwrap();
        tx.commit().await.unwrap();
        id
    }

    pub async fn stage(&self, id: LabOrderId) -> cielo_fulfillment::LabStage {
        self.fulfillment.lab_order(id).await.unwrap().stage
    }

    pub fn events_for(&self, lab_order: LabOrderId) -> Vec<LabOrderUpdated> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.lab_order_id == lab_order.to_string())
            .cloned()
            .collect()
    }

    pub async fn count(&self, sql: &str) -> i64 {
        use sqlx::Row;
        sqlx::query(sql)
            .fetch_one(self.db.pool())
            .await
            .unwrap()
            .try_get::<i64, _>(0)
            .unwrap()
    }
}

pub fn order_id() -> String {
    format!("ord_{}", uuid_simple())
}

fn uuid_simple() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    format!("{t:016x}{:016x}", n ^ (std::process::id() as u64) << 32)
}

pub fn recipient() -> Recipient {
    Recipient {
        name: "Ada Lovelace".into(),
        email: "ada@example.com".into(),
        phone: Some("+44 20 7946 0000".into()),
        line1: "12 St James's Square".into(),
        line2: None,
        city: "London".into(),
        region: None,
        postal_code: "SW1Y 4JH".into(),
        country: "GB".into(),
    }
}

pub fn request(lab: Lab, order_id: &str, product: &str) -> SubmissionRequest {
    SubmissionRequest {
        order_id: order_id.to_string(),
        lab,
        recipient: recipient(),
        items: vec![LabItem {
            line_id: "line_1".into(),
            lab_product_id: product.into(),
            quantity: 1,
            print_file_url: Some("https://files.shop.test/print/poster.png?sig=abc".into()),
            print_px: Some((5400, 7200)),
        }],
        currency: "USD".into(),
        paid_at: None,
    }
}

pub const PRINTFUL_TOKEN: &str = "pf-api-token-for-tests";
pub const PRODIGI_KEY: &str = "pd-api-key-for-tests";

pub fn secrets() -> LabSecrets {
    LabSecrets {
        printful_api_token: Some(PRINTFUL_TOKEN.into()),
        printful_store_id: None,
        prodigi_api_key: Some(PRODIGI_KEY.into()),
        printful_webhook_token: Some(PRINTFUL_WEBHOOK_TOKEN.into()),
        prodigi_webhook_token: Some(PRODIGI_WEBHOOK_TOKEN.into()),
    }
}

/// An environment whose labs are the fakes.
pub async fn env_with_fakes(
    mut s: FulfillmentSettings,
) -> (
    Env,
    cielo_fulfillment::testing::FakePrintful,
    cielo_fulfillment::testing::FakeProdigi,
) {
    let printful = cielo_fulfillment::testing::FakePrintful::start(PRINTFUL_TOKEN).await;
    let prodigi = cielo_fulfillment::testing::FakeProdigi::start(PRODIGI_KEY).await;
    s.printful_api_base = printful.url.clone();
    s.prodigi_api_base = prodigi.url.clone();
    (env(s, secrets()).await, printful, prodigi)
}

/// A worker in a task of its own, to be killed (aborted) mid-job.
pub fn spawn_worker(env: &Env, lease_seconds: u64) -> tokio::task::JoinHandle<()> {
    let worker = cielo_jobs::Worker::new(
        env.db.clone(),
        Arc::new(env.registry.clone()),
        JobsSettings {
            lease_seconds,
            reap_interval_ms: 100,
            poll_interval_ms: 50,
            backoff_base_ms: 20,
            backoff_max_ms: 200,
            ..Default::default()
        },
    );
    tokio::spawn(async move {
        let _ = worker.run(tokio_util::sync::CancellationToken::new()).await;
    })
}

/// Polls `check` (without running jobs: a worker does) until it holds.
pub async fn wait_until<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The process dies between the lab's answer and its record: a worker runs
/// the submit job against a lab that creates the order at once and answers
/// late (the caller injected that), and is killed once the lab has it. Then
/// a new worker reaps the dead lease and runs the job again, until the
/// submission is recorded. `at_lab` counts the orders the lab holds.
pub async fn kill_between_answer_and_record(env: &Env, id: LabOrderId, at_lab: impl Fn() -> usize) {
    let worker = spawn_worker(env, 2);
    wait_until(Duration::from_secs(10), "the lab has the order", || async {
        at_lab() > 0
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    worker.abort();
    let _ = worker.await;
    assert_eq!(
        env.fulfillment.lab_order(id).await.unwrap().submit_state,
        "sending",
        "the outcome is unknown here"
    );
    let worker = spawn_worker(env, 2);
    wait_until(Duration::from_secs(20), "recorded as accepted", || async {
        env.fulfillment.lab_order(id).await.unwrap().submit_state == "accepted"
    })
    .await;
    worker.abort();
}
