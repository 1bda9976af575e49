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
//! usage: fulfillment_load --database URL [--orders 200] [--lab-ms 50]

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use cielo::app::{Application, BuildOptions, Role};
use cielo::settings::Secrets;
use cielo::Settings;
use cielo_fulfillment::testing::FakePrintful;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

const SECRET: &str = "whsec_bench_fulfillment";
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

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
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

    // The shop, as `cielo serve --role all` builds it.
    let dir = std::env::temp_dir().join(format!("cielo-bench-{}", uuid::Uuid::new_v4().simple()));
    let mut settings = Settings::default();
    settings.data_dir = dir.clone();
    settings.database.url = Some(database);
    settings.http.bind = "127.0.0.1:0".into();
    settings.log.level = "warn".into();
    settings.payments.catch_up_on_start = false;
    settings.fulfillment.hold_minutes = 0;
    // One client drives every checkout from one address: per-IP limits off
    // (0), or the benchmark would measure the limiter.
    settings.limits.cart_creations_per_minute = 0;
    settings.limits.checkouts_per_minute = 0;
    settings.limits.webhooks_per_minute = 0;
    settings.fulfillment.printful_api_base = lab_url;
    let secrets = Secrets {
        test_webhook_secret: Some(SECRET.into()),
        labs: cielo_fulfillment::LabSecrets {
            printful_api_token: Some(LAB_TOKEN.into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let app = Application::build_with_secrets(
        settings,
        BuildOptions {
            seed_demo: false,
            role: Role::All,
        },
        secrets,
    )
    .await?;
    let base = format!("http://127.0.0.1:{}", app.port());
    let state = app.state().clone();
    tokio::spawn(async move {
        let _ = app.run_until_stopped(std::future::pending()).await;
    });

    let product: cielo_catalog::NewProduct = serde_json::from_value(json!({
        "title": "Bench tee", "status": "published",
        "variants": [{"sku": "BENCH-TEE", "price": {"amount": 2000, "currency": "USD"},
                      "lab": "printful", "lab_product_id": "4012"}]}))?;
    let product = state.catalog.create_product(product).await?;
    let variant = product.variants[0].id.to_string();

    // N orders waiting for payment.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .timeout(Duration::from_secs(30))
        .build()?;
    let mut orders = Vec::with_capacity(n);
    for _ in 0..n {
        let cart: Value = client
            .post(format!("{base}/api/store/carts"))
            .send()
            .await?
            .json()
            .await?;
        let cart = cart["id"].as_str().expect("cart id").to_string();
        client
            .post(format!("{base}/api/store/carts/{cart}/lines"))
            .json(&json!({"variant_id": variant, "quantity": 1}))
            .send()
            .await?
            .error_for_status()?;
        let r: Value = client
            .post(format!("{base}/api/store/carts/{cart}/checkout"))
            .json(&json!({"email": "bench@example.com", "shipping_address": {"name": "Ada Lovelace", "line1": "12 St James's Square", "city": "London", "postal_code": "SW1Y 4JH", "country": "GB"}}))
            .send()
            .await?
            .json()
            .await?;
        let id = r["order_id"].as_str().expect("order id").to_string();
        let o = state
            .orders
            .get_order(id.parse()?, &cielo_orders::OrderAccess::Admin)
            .await?;
        orders.push((
            id,
            o.payment.session_id.expect("a payment session"),
            o.totals.total.amount,
        ));
    }

    // The burst: every payment webhook at once.
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (i, (order, session, amount)) in orders.iter().cloned().enumerate() {
        let (client, url) = (client.clone(), format!("{base}/webhooks/test"));
        tasks.spawn(async move {
            let now = cielo_core::Timestamp::now().as_unix_seconds();
            let body = json!({
                "id": format!("evt_bench_{i}_{}", uuid::Uuid::new_v4().simple()), "object": "event",
                "api_version": "2024-06-20", "created": now, "type": "checkout.session.completed",
                "livemode": false, "pending_webhooks": 1, "request": {"id": null, "idempotency_key": null},
                "data": {"object": {"id": session, "object": "checkout.session", "amount_total": amount,
                    "currency": "usd", "client_reference_id": order, "metadata": {"order_id": order},
                    "payment_intent": format!("pi_bench_{i}"), "payment_status": "paid", "status": "complete",
                    "mode": "payment"}},
            })
            .to_string();
            let header = cielo_payments::signature::sign(&[SECRET], now, body.as_bytes());
            let r = client
                .post(url)
                .header("content-type", "application/json")
                .header("stripe-signature", header)
                .body(body)
                .send()
                .await;
            let ok = matches!(&r, Ok(r) if r.status().is_success());
            (order, ok, Instant::now())
        });
    }
    let mut acked = HashMap::new();
    while let Some(done) = tasks.join_next().await {
        let (order, ok, at) = done?;
        if ok {
            acked.insert(order, at);
        }
    }
    let burst = started.elapsed();

    // Wait for every lab order (60 s at most).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let have = created.lock().unwrap().len();
        if have >= n || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let created = created.lock().unwrap().clone();
    let mut latencies = Vec::new();
    let mut missing = 0;
    let mut per_order = HashMap::<usize, usize>::new();
    for (order, _, _) in &orders {
        let ext = cielo_fulfillment::printful_external_id(order, 0);
        *per_order.entry(fake.orders_for(order)).or_default() += 1;
        match (acked.get(order), created.get(&ext)) {
            (Some(a), Some(c)) => {
                latencies.push(c.saturating_duration_since(*a).as_secs_f64() * 1000.0)
            }
            _ => missing += 1,
        }
    }
    latencies.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let mut counts: Vec<_> = per_order.into_iter().collect();
    counts.sort();
    println!(
        "orders {n}  webhooks acked {}  burst sent in {:.0} ms  lab latency {lab_ms} ms  webhook-2xx → lab order created: p50 {:.0} ms  p99 {:.0} ms  max {:.0} ms  (missing {missing})  lab orders per order: {}",
        acked.len(),
        burst.as_secs_f64() * 1000.0,
        pct(&latencies, 0.50),
        pct(&latencies, 0.99),
        latencies.last().copied().unwrap_or(0.0),
        counts
            .iter()
            .map(|(k, v)| format!("{k}×{v}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let _ = std::fs::remove_dir_all(&dir);
    if missing > 0 || counts.iter().any(|(k, _)| *k != 1) {
        std::process::exit(1);
    }
    Ok(())
}
