//! Benchmark: a burst of planned submissions to a fake Printful that answers
//! each create in `LATENCY_MS` (default 50), through the job queue and a
//! worker (default settings, concurrency 10), as a shop runs it.
//!
//! Prints one JSON line: time from each submission's commit to the lab
//! creating the order (p50, p99, max, ms), lab orders per order (must be
//! exactly 1), and the baseline: the same number of creates sent straight to
//! the fake, 10 at a time, without queue or database.
//!
//! ```sh
//! cargo run --release -p cielo-fulfillment --example submit_bench
//! CIELO_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!   cargo run --release -p cielo-fulfillment --example submit_bench
//! ORDERS=200 LATENCY_MS=50 …
//! ```

use cielo_core::Timestamp;
use cielo_db::testing::TestDatabase;
use cielo_db::{Db, PoolOptions};
use cielo_fulfillment::testing::FakePrintful;
use cielo_fulfillment::{
    printful_external_id, Fulfillment, FulfillmentSettings, Lab, LabItem, LabSecrets, Recipient,
    SubmissionRequest,
};
use cielo_jobs::{JobsSettings, Registry, Worker};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn request(order_id: &str) -> SubmissionRequest {
    SubmissionRequest {
        order_id: order_id.to_string(),
        lab: Lab::Printful,
        recipient: Recipient {
            name: "Ada Lovelace".into(),
            email: "ada@example.com".into(),
            phone: None,
            line1: "12 St James's Square".into(),
            line2: None,
            city: "London".into(),
            region: None,
            postal_code: "SW1Y 4JH".into(),
            country: "GB".into(),
        },
        items: vec![LabItem {
            line_id: "line_1".into(),
            lab_product_id: "4011".into(),
            quantity: 1,
            print_file_url: Some("https://files.shop.test/print/poster.png".into()),
            print_px: None,
        }],
        currency: "USD".into(),
        paid_at: None,
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() {
    let orders = env_num("ORDERS", 200) as usize;
    let latency = Duration::from_millis(env_num("LATENCY_MS", 50));

    // Baseline: the fake alone, 10 creates at a time, no queue, no database.
    let baseline_lab = FakePrintful::start("bench-token").await;
    baseline_lab.set_create_latency(Some(latency));
    let http = reqwest::Client::new();
    let started = Instant::now();
    let mut per_call = Vec::new();
    for chunk in (0..orders).collect::<Vec<_>>().chunks(10) {
        let calls = chunk.iter().map(|i| {
            let http = http.clone();
            let url = format!("{}/orders?confirm=true", baseline_lab.url);
            let body = serde_json::json!({
                "external_id": format!("base{i}"),
                "recipient": {"name": "A", "address1": "B", "city": "C", "country_code": "GB", "zip": "D"},
                "items": [{"variant_id": 4011, "quantity": 1}],
            });
            async move {
                let t = Instant::now();
                let r = http.post(url).bearer_auth("bench-token").json(&body).send().await.unwrap();
                assert!(r.status().is_success());
                t.elapsed().as_secs_f64() * 1000.0
            }
        });
        per_call.extend(futures::future::join_all(calls).await);
    }
    let baseline_total = started.elapsed();
    per_call.sort_by(f64::total_cmp);

    // The real path.
    let lab = FakePrintful::start("bench-token").await;
    lab.set_create_latency(Some(latency));
    let tdb = TestDatabase::create().await;
    let db = Db::connect(&tdb.url, &PoolOptions::default())
        .await
        .unwrap();
    db.migrate(&[cielo_jobs::MIGRATIONS, cielo_fulfillment::MIGRATIONS])
        .await
        .unwrap();
    let settings = FulfillmentSettings {
        printful_api_base: lab.url.clone(),
        hold_minutes: 0,
        ..Default::default()
    };
    let secrets = LabSecrets {
        printful_api_token: Some("bench-token".into()),
        ..Default::default()
    };
    let fulfillment = Fulfillment::new(db.clone(), settings, secrets, "http://shop.test").unwrap();
    let mut registry = Registry::new();
    fulfillment.register(&mut registry);
    let stop = CancellationToken::new();
    let worker = Worker::new(db.clone(), Arc::new(registry), JobsSettings::default());
    let worker_stop = stop.clone();
    let worker = tokio::spawn(async move { worker.run(worker_stop).await });

    let mut planned: HashMap<String, Instant> = HashMap::new();
    let burst = Instant::now();
    for n in 0..orders {
        let order_id = format!("ord_{:032x}", 0xbe7c_0000_0000u128 + n as u128);
        let mut tx = db.begin_write().await.unwrap();
        fulfillment
            .plan_submission(&mut tx, request(&order_id), Timestamp::now())
            .await
            .unwrap();
        tx.commit().await.unwrap();
        planned.insert(printful_external_id(&order_id, 0), Instant::now());
    }
    let burst_secs = burst.elapsed().as_secs_f64();
    let deadline = Instant::now() + Duration::from_secs(120);
    while lab.created_at().len() < orders {
        assert!(Instant::now() < deadline, "not every order reached the lab");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let all_done = burst.elapsed().as_secs_f64();
    stop.cancel();
    let _ = worker.await;

    let created = lab.created_at();
    let mut per_order: HashMap<&str, usize> = HashMap::new();
    for (ext, _) in &created {
        *per_order.entry(ext.as_str()).or_default() += 1;
    }
    let exactly_one = planned
        .keys()
        .all(|ext| per_order.get(ext.as_str()) == Some(&1));
    let mut lat: Vec<f64> = created
        .iter()
        .filter_map(|(ext, at)| {
            planned
                .get(ext)
                .map(|p| at.saturating_duration_since(*p).as_secs_f64() * 1000.0)
        })
        .collect();
    lat.sort_by(f64::total_cmp);
    println!(
        "{}",
        serde_json::json!({
            "engine": if TestDatabase::is_postgres() { "postgres" } else { "sqlite" },
            "orders": orders,
            "lab_latency_ms": latency.as_millis() as u64,
            "planning_burst_s": (burst_secs * 1000.0).round() / 1000.0,
            "all_at_lab_s": (all_done * 1000.0).round() / 1000.0,
            "commit_to_lab_p50_ms": percentile(&lat, 0.50).round(),
            "commit_to_lab_p99_ms": percentile(&lat, 0.99).round(),
            "commit_to_lab_max_ms": lat.last().copied().unwrap_or(0.0).round(),
            "lab_orders": created.len(),
            "exactly_one_per_order": exactly_one,
            "baseline_direct_c10_total_s": (baseline_total.as_secs_f64() * 1000.0).round() / 1000.0,
            "baseline_direct_p50_ms": percentile(&per_call, 0.50).round(),
            "baseline_direct_p99_ms": percentile(&per_call, 0.99).round(),
        })
    );
    assert!(exactly_one, "a lab order per order, exactly");
}
