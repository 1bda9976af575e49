//! The canary: a synthetic buyer walking the store path of a running shop
//! over HTTP, the way a customer's browser does: list the products, put one
//! in a cart, check out, open the payment page. On the built-in `test`
//! payment provider it then cancels on the payment page, so the order
//! expires at once and nothing is ever paid, made or sent. On another
//! provider it stops at the payment page's link (a real provider would take
//! real money).
//!
//! `cielo canary --base-url URL` runs it once from a terminal; the job
//! `ops.canary` (off by default, `ops.canary.enabled`) runs it on a schedule
//! and raises the rules whose condition is `canary` when it fails or takes
//! longer than `ops.canary.slow_ms`.

use serde::Serialize;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// One step of the walk.
#[derive(Debug, Clone, Serialize)]
pub struct CanaryStep {
    /// `list`, `cart`, `checkout`, `payment_page`, `cancel`.
    pub step: String,
    /// Milliseconds it took.
    pub ms: u64,
    /// Whether it did what a buyer expects.
    pub ok: bool,
    /// What went wrong, when it did.
    pub error: Option<String>,
}

/// A walk's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct CanaryReport {
    /// The shop walked.
    pub base_url: String,
    /// Every step succeeded (slow or not).
    pub ok: bool,
    /// Total time, milliseconds.
    pub total_ms: u64,
    /// Slower than the threshold it was run with.
    pub slow: bool,
    /// The steps, in order (a failed step is the last).
    pub steps: Vec<CanaryStep>,
    /// The order the checkout created, if it got that far.
    pub order_id: Option<String>,
}

impl CanaryReport {
    /// One line for a person.
    pub fn summary(&self) -> String {
        match self.steps.iter().find(|s| !s.ok) {
            Some(s) => format!(
                "the store path of {} fails at `{}`: {}",
                self.base_url,
                s.step,
                s.error.as_deref().unwrap_or("?")
            ),
            None if self.slow => format!(
                "the store path of {} is slow: {} ms ({})",
                self.base_url,
                self.total_ms,
                self.steps
                    .iter()
                    .map(|s| format!("{} {} ms", s.step, s.ms))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => format!(
                "the store path of {} works: {} ms",
                self.base_url, self.total_ms
            ),
        }
    }
}

/// A buyer's request failed: (what, why).
type StepResult<T> = Result<T, String>;

async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> StepResult<(u16, Value)> {
    let mut rb = client.request(method, url);
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let r = rb.send().await.map_err(|e| format!("{url}: {e}"))?;
    let status = r.status().as_u16();
    let text = r.text().await.map_err(|e| format!("{url}: {e}"))?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

/// Walks the store path of the shop at `base_url` once. `slow_ms`: the
/// walk counts as slow above it; `timeout`: each request's limit.
pub async fn walk(base_url: &str, slow_ms: u64, timeout: Duration) -> CanaryReport {
    let base = base_url.trim_end_matches('/').to_string();
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("cielo-canary")
        .build()
        .expect("HTTP client");
    let started = Instant::now();
    let mut steps = Vec::new();
    let mut order_id = None;

    macro_rules! step {
        ($name:expr, $body:expr) => {{
            let t = Instant::now();
            let r: StepResult<_> = $body;
            steps.push(CanaryStep {
                step: $name.to_string(),
                ms: t.elapsed().as_millis() as u64,
                ok: r.is_ok(),
                error: r.as_ref().err().cloned(),
            });
            r
        }};
    }

    let outcome: StepResult<()> = async {
        let products = step!(
            "list",
            async {
                let (s, b) = call(
                    &client,
                    reqwest::Method::GET,
                    &format!("{base}/api/store/products?limit=20"),
                    None,
                )
                .await?;
                if s != 200 {
                    return Err(format!("product list answered HTTP {s}"));
                }
                let list = b["products"].as_array().cloned().unwrap_or_default();
                if list.is_empty() {
                    return Err("no published product to buy".into());
                }
                Ok(list)
            }
            .await
        )?;

        let cart = step!(
            "cart",
            async {
                let (s, b) = call(
                    &client,
                    reqwest::Method::POST,
                    &format!("{base}/api/store/carts"),
                    Some(json!({})),
                )
                .await?;
                if s != 201 {
                    return Err(format!("cart creation answered HTTP {s}"));
                }
                let cart = b["id"].as_str().ok_or("the cart has no id")?.to_string();
                // The first variant a plain line can take (a product that needs
                // options, such as a star map, answers 4xx: try the next one).
                let mut last = String::from("no product takes a plain line");
                for p in &products {
                    for v in p["variants"].as_array().into_iter().flatten() {
                        if v["stock"].as_i64().is_some_and(|n| n <= 0) {
                            continue;
                        }
                        let Some(id) = v["id"].as_str() else { continue };
                        let (s, b) = call(
                            &client,
                            reqwest::Method::POST,
                            &format!("{base}/api/store/carts/{cart}/lines"),
                            Some(json!({"variant_id": id, "quantity": 1})),
                        )
                        .await?;
                        if s == 200 {
                            return Ok(cart);
                        }
                        last = format!(
                            "adding {id} answered HTTP {s}: {}",
                            b["detail"].as_str().unwrap_or("")
                        );
                        break;
                    }
                }
                Err(last)
            }
            .await
        )?;

        let payment_url = step!(
            "checkout",
            async {
                let (s, b) = call(
                    &client,
                    reqwest::Method::POST,
                    &format!("{base}/api/store/carts/{cart}/checkout"),
                    Some(
                        json!({"email": "canary@example.invalid", "shipping_address": {
                    "name": "Cielo Canary", "line1": "1 Canary Wharf", "city": "London",
                    "postal_code": "E14 5AB", "country": "GB"}}),
                    ),
                )
                .await?;
                if s != 201 && s != 200 {
                    return Err(format!(
                        "checkout answered HTTP {s}: {}",
                        b["detail"].as_str().unwrap_or("")
                    ));
                }
                order_id = b["order_id"].as_str().map(str::to_string);
                b["payment_url"]
                    .as_str()
                    .map(str::to_string)
                    .ok_or_else(|| "the checkout gave no payment link".to_string())
            }
            .await
        )?;

        // Only the built-in test provider's page is opened: its path is ours.
        let Some(page) = payment_url
            .find("/checkout/test/")
            .map(|i| format!("{base}{}", &payment_url[i..]))
        else {
            return Ok(());
        };
        step!(
            "payment_page",
            async {
                let (s, _) = call(&client, reqwest::Method::GET, &page, None).await?;
                if s != 200 {
                    return Err(format!("the payment page answered HTTP {s}"));
                }
                Ok(())
            }
            .await
        )?;
        step!(
            "cancel",
            async {
                let r = client
                    .post(&page)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body("action=cancel")
                    .send()
                    .await
                    .map_err(|e| format!("{page}: {e}"))?;
                let s = r.status().as_u16();
                if !(200..400).contains(&s) {
                    return Err(format!("cancelling on the payment page answered HTTP {s}"));
                }
                Ok(())
            }
            .await
        )?;
        Ok(())
    }
    .await;

    let total_ms = started.elapsed().as_millis() as u64;
    CanaryReport {
        base_url: base,
        ok: outcome.is_ok(),
        total_ms,
        slow: total_ms > slow_ms,
        steps,
        order_id,
    }
}

impl crate::Ops {
    /// Walks the shop's store path (`ops.canary.base_url`, else `public_url`)
    /// and moves the alerts of the rules whose condition is `canary`: firing
    /// while the walk fails or is slow, resolved when it works again.
    pub async fn canary(&self, public_url: &str) -> anyhow::Result<CanaryReport> {
        let c = &self.settings.canary;
        let base = c.base_url.clone().unwrap_or_else(|| public_url.to_string());
        let report = walk(&base, c.slow_ms, Duration::from_secs(c.timeout_secs.max(1))).await;
        let value = i64::from(!report.ok || report.slow);
        metrics::histogram!("cielo_canary_seconds").record(report.total_ms as f64 / 1000.0);
        let details = serde_json::to_value(&report)?;
        for rule in self
            .settings
            .alerts
            .iter()
            .filter(|r| matches!(r.condition, crate::Condition::Canary))
        {
            metrics::gauge!("cielo_alerts_firing", "rule" => rule.name.clone())
                .set(if value >= rule.threshold { 1.0 } else { 0.0 });
            if let Some(message) = self
                .apply(rule, value, report.summary(), details.clone())
                .await?
            {
                self.send_outside(rule, &message).await;
            }
        }
        Ok(report)
    }
}
