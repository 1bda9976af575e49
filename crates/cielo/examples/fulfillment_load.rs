//! Load generator for `bench/fulfillment.sh`: N orders paid in one burst,
//! each going to a print lab that answers in 50 ms; how long from the
//! payment webhook's 2xx to the lab order created at the lab, and how many
//! lab orders each order got (must be exactly 1).
//!
//! Everything runs in this process: a fake Printful (PROVIDERS.md §2) behind
//! a proxy that adds the lab's latency and notes when each order was created,
//! and the whole application (`--role all`: API, worker, scheduler) as
//! `cielo serve` builds it, with `fulfillment.hold_minutes = 0`.
//!
//! usage: fulfillment_load --database URL [--orders 200] [--lab-ms 50] [--trace FILTER]

#[path = "support/burst.rs"]
mod burst;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use burst::{arg, Shop};
use cielo::settings::Secrets;
use cielo_fulfillment::testing::FakePrintful;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const LAB_TOKEN: &str = "pf-bench-token";

#[derive(Clone)]
struct Proxy {
    upstream: String,
    delay: Duration,
    client: reqwest::Client,
    /// external_id -> when the lab answered the create call with success.
    created: Arc<Mutex<HashMap<String, Instant>>>,
}

/// The lab's latency, then the fake's answer; created orders are timed.
async fn forward(
    State(p): State<Proxy>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    tokio::time::sleep(p.delay).await;
    let url = format!(
        "{}{}",
        p.upstream,
        uri.path_and_query().map(|q| q.as_str()).unwrap_or("/")
    );
    let mut rb = p.client.request(method.clone(), url).body(body);
    for (k, v) in &headers {
        if k != "host" && k != "content-length" {
            rb = rb.header(k, v);
        }
    }
    let Ok(r) = rb.send().await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let status = StatusCode::from_u16(r.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let bytes = r.bytes().await.unwrap_or_default();
    if method == Method::POST && uri.path() == "/orders" && status.is_success() {
        if let Ok(v) = serde_json::from_slice::<Value>(&bytes) {
            if let Some(ext) = v["result"]["external_id"].as_str() {
                p.created
                    .lock()
                    .unwrap()
                    .entry(ext.to_string())
                    .or_insert_with(Instant::now);
            }
        }
    }
    (status, [("content-type", "application/json")], bytes).into_response()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let database = arg(&args, "--database").expect("--database URL");
    let n: usize = arg(&args, "--orders")
        .unwrap_or_else(|| "200".into())
        .parse()?;
    let lab_ms: u64 = arg(&args, "--lab-ms")
        .unwrap_or_else(|| "50".into())
        .parse()?;
    burst::trace_from_args(&args);

    // The lab: a fake Printful behind a proxy adding its latency.
    let fake = FakePrintful::start(LAB_TOKEN).await;
    let proxy = Proxy {
        upstream: fake.url.clone(),
        delay: Duration::from_millis(lab_ms),
        client: reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .build()?,
        created: Default::default(),
    };
    let created = proxy.created.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let lab_url = format!("http://{}", listener.local_addr()?);
    let router = axum::Router::new().fallback(forward).with_state(proxy);
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });

    // The shop, every order going to the lab at once.
    let secrets = Secrets {
        labs: cielo_fulfillment::LabSecrets {
            printful_api_token: Some(LAB_TOKEN.into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let shop = Shop::start(database, secrets, |s| {
        s.fulfillment.hold_minutes = 0;
        s.fulfillment.printful_api_base = lab_url;
    })
    .await?;
    let variant = shop
        .product(
            json!({"sku": "BENCH-TEE", "price": {"amount": 2000, "currency": "USD"},
                        "lab": "printful", "lab_product_id": "4012"}),
        )
        .await?;
    let client = burst::client()?;
    let orders = shop.pending_orders(&client, &variant, n).await?;

    // The burst: every payment webhook at once.
    let (acked, burst) = shop.pay_all(&client, &orders).await?;

    // Wait for every lab order (60 s at most).
    burst::wait_for(Duration::from_secs(60), || {
        created.lock().unwrap().len() >= n
    })
    .await;
    let created = created.lock().unwrap().clone();
    let mut latencies = Vec::new();
    let mut missing = 0;
    let mut per_order = HashMap::<usize, usize>::new();
    for o in &orders {
        let ext = cielo_fulfillment::printful_external_id(&o.id, 0);
        *per_order.entry(fake.orders_for(&o.id)).or_default() += 1;
        match (acked.get(&o.id), created.get(&ext)) {
            (Some(a), Some(c)) => {
                latencies.push(c.saturating_duration_since(a.instant).as_secs_f64() * 1000.0)
            }
            _ => missing += 1,
        }
    }
    let mut counts: Vec<_> = per_order.into_iter().collect();
    counts.sort();
    println!(
        "orders {n}  webhooks acked {}  burst sent in {:.0} ms  lab latency {lab_ms} ms  webhook-2xx → lab order created: {}  (missing {missing})  lab orders per order: {}",
        acked.len(),
        burst.as_secs_f64() * 1000.0,
        burst::summary(latencies),
        counts
            .iter()
            .map(|(k, v)| format!("{k}×{v}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    drop(shop);
    if missing > 0 || counts.iter().any(|(k, _)| *k != 1) {
        std::process::exit(1);
    }
    Ok(())
}
