//! What the burst load generators share (`fulfillment_load`, `notify_load`):
//! the whole application in this process as `cielo serve` builds it, N orders
//! waiting for payment, every payment webhook sent at once, and the
//! percentiles of a latency measured from each webhook's 2xx.
// Each load generator uses its own part of this module.
#![allow(dead_code)]

use cielo::app::{Application, BuildOptions, Role};
use cielo::settings::Secrets;
use cielo::Settings;
use cielo_http::AppState;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

/// The test payment provider's webhook secret.
pub const SECRET: &str = "whsec_bench_burst";

/// `--name VALUE` from the command line.
pub fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

/// The `p` quantile (0–1) of sorted values, nearest rank.
pub fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// `p50 … ms  p99 … ms  max … ms` of unsorted latencies in milliseconds.
pub fn summary(mut latencies: Vec<f64>) -> String {
    latencies.sort_by(|a, b| a.partial_cmp(b).unwrap());
    format!(
        "p50 {:.0} ms  p99 {:.0} ms  max {:.0} ms",
        pct(&latencies, 0.50),
        pct(&latencies, 0.99),
        latencies.last().copied().unwrap_or(0.0)
    )
}

/// `--trace FILTER`: log lines (JSON, stderr), e.g. `cielo_jobs::timing=debug`
/// for where each job's time goes.
pub fn trace_from_args(args: &[String]) {
    if let Some(filter) = arg(args, "--trace") {
        cielo::telemetry::init("json", &filter);
    }
}

/// The running shop.
pub struct Shop {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Its services, to seed the catalog and read orders.
    pub state: AppState,
    dir: PathBuf,
}

impl Shop {
    /// Builds and starts the whole application (`--role all`: API, worker,
    /// scheduler) on `database`, with the settings a burst needs and what
    /// `configure` adds.
    pub async fn start(
        database: String,
        secrets: Secrets,
        configure: impl FnOnce(&mut Settings),
    ) -> anyhow::Result<Self> {
        let dir =
            std::env::temp_dir().join(format!("cielo-bench-{}", uuid::Uuid::new_v4().simple()));
        let mut settings = Settings {
            data_dir: dir.clone(),
            ..Default::default()
        };
        settings.database.url = Some(database);
        settings.http.bind = "127.0.0.1:0".into();
        settings.log.level = "warn".into();
        settings.payments.catch_up_on_start = false;
        // One client drives every checkout from one address: per-IP limits off
        // (0), or the benchmark would measure the limiter.
        settings.limits.cart_creations_per_minute = 0;
        settings.limits.checkouts_per_minute = 0;
        settings.limits.webhooks_per_minute = 0;
        configure(&mut settings);
        let secrets = Secrets {
            test_webhook_secret: Some(SECRET.into()),
            ..secrets
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
        Ok(Self { base, state, dir })
    }

    /// A published product of one variant (`variant` is its JSON: sku,
    /// price, lab…); returns the variant's id.
    pub async fn product(&self, variant: Value) -> anyhow::Result<String> {
        let product: cielo_catalog::NewProduct = serde_json::from_value(json!({
            "title": "Bench product", "status": "published", "variants": [variant]}))?;
        let product = self.state.catalog.create_product(product).await?;
        Ok(product.variants[0].id.to_string())
    }

    /// `n` orders of one `variant` each, waiting for payment.
    pub async fn pending_orders(
        &self,
        client: &reqwest::Client,
        variant: &str,
        n: usize,
    ) -> anyhow::Result<Vec<PendingOrder>> {
        let base = &self.base;
        let mut orders = Vec::with_capacity(n);
        for i in 0..n {
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
                .json(&json!({"email": format!("buyer{i}@example.com"), "shipping_address": {"name": "Ada Lovelace", "line1": "12 St James's Square", "city": "London", "postal_code": "SW1Y 4JH", "country": "GB"}}))
                .send()
                .await?
                .json()
                .await?;
            let id = r["order_id"].as_str().expect("order id").to_string();
            let o = self
                .state
                .orders
                .get_order(id.parse()?, &cielo_orders::OrderAccess::Admin)
                .await?;
            orders.push(PendingOrder {
                id,
                session: o.payment.session_id.expect("a payment session"),
                amount: o.totals.total.amount,
            });
        }
        Ok(orders)
    }

    /// Every order's payment webhook at once (signed
    /// `checkout.session.completed` to `/webhooks/test`). Returns when each
    /// order's webhook was answered with a 2xx, and how long sending took.
    pub async fn pay_all(
        &self,
        client: &reqwest::Client,
        orders: &[PendingOrder],
    ) -> anyhow::Result<(HashMap<String, Acked>, Duration)> {
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for (i, o) in orders.iter().cloned().enumerate() {
            let (client, url) = (client.clone(), format!("{}/webhooks/test", self.base));
            tasks.spawn(async move {
                let now = cielo_core::Timestamp::now().as_unix_seconds();
                let body = json!({
                    "id": format!("evt_bench_{i}_{}", uuid::Uuid::new_v4().simple()), "object": "event",
                    "api_version": "2024-06-20", "created": now, "type": "checkout.session.completed",
                    "livemode": false, "pending_webhooks": 1, "request": {"id": null, "idempotency_key": null},
                    "data": {"object": {"id": o.session, "object": "checkout.session", "amount_total": o.amount,
                        "currency": "usd", "client_reference_id": o.id, "metadata": {"order_id": o.id},
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
                let at = Acked {
                    instant: Instant::now(),
                    wall: SystemTime::now(),
                };
                (o.id, ok, at)
            });
        }
        let mut acked = HashMap::new();
        while let Some(done) = tasks.join_next().await {
            let (order, ok, at) = done?;
            if ok {
                acked.insert(order, at);
            }
        }
        Ok((acked, started.elapsed()))
    }
}

impl Shop {
    /// Its data directory (removed when the shop is dropped).
    pub fn data_dir(&self) -> &std::path::Path {
        &self.dir
    }
}

impl Drop for Shop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An order waiting for its payment.
#[derive(Clone)]
pub struct PendingOrder {
    /// `ord_…`.
    pub id: String,
    /// The payment session the webhook completes.
    pub session: String,
    /// Its total, minor units.
    pub amount: i64,
}

/// When a webhook was answered: on this process's clock, and the wall clock
/// (to compare with times another process wrote, e.g. a file's mtime).
#[derive(Clone, Copy)]
pub struct Acked {
    /// Monotonic.
    pub instant: Instant,
    /// Wall clock.
    pub wall: SystemTime,
}

/// A client for many requests at once to one host.
pub fn client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .timeout(Duration::from_secs(30))
        .build()?)
}

/// Waits until `done()` or `limit` passes, checking every 20 ms.
pub async fn wait_for(limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
