//! With the `otel` feature: one checkout is one trace. The real binary runs
//! with `OTEL_EXPORTER_OTLP_ENDPOINT` pointing at a fake OTLP/HTTP collector
//! (JSON protocol); a buyer pays on the test provider's page; the collector
//! must receive the page's HTTP span, the webhook it caused, the jobs, the
//! lab submission and the confirmation email's send, all in one trace and
//! each linked to its parent up to the buyer's click.
//!
//! `cargo test -p cielo --features otel --test traces` (SQLite; PostgreSQL
//! with `CIELO_TEST_DATABASE_URL`).

use axum::routing::post;
use axum::Router;
use cielo_db::testing::TestDatabase;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One exported span, as the test needs it.
#[derive(Debug, Clone)]
struct Span {
    trace_id: String,
    span_id: String,
    parent: String,
    name: String,
    attributes: HashMap<String, String>,
}

type Spans = Arc<Mutex<Vec<Span>>>;

fn attribute_value(v: &Value) -> String {
    for key in ["stringValue", "intValue", "boolValue", "doubleValue"] {
        if let Some(x) = v.get(key) {
            return x
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| x.to_string());
        }
    }
    v.to_string()
}

/// The spans of an OTLP/JSON `ExportTraceServiceRequest`.
fn spans_of(body: &Value) -> Vec<Span> {
    let mut out = Vec::new();
    let none = Vec::new();
    for rs in body["resourceSpans"].as_array().unwrap_or(&none) {
        let service = rs["resource"]["attributes"]
            .as_array()
            .unwrap_or(&none)
            .iter()
            .find(|a| a["key"] == "service.name")
            .map(|a| attribute_value(&a["value"]));
        assert_eq!(
            service.as_deref(),
            Some("cielo"),
            "the default service name"
        );
        for ss in rs["scopeSpans"].as_array().unwrap_or(&none) {
            for s in ss["spans"].as_array().unwrap_or(&none) {
                out.push(Span {
                    trace_id: s["traceId"].as_str().unwrap_or_default().to_string(),
                    span_id: s["spanId"].as_str().unwrap_or_default().to_string(),
                    parent: s["parentSpanId"].as_str().unwrap_or_default().to_string(),
                    name: s["name"].as_str().unwrap_or_default().to_string(),
                    attributes: s["attributes"]
                        .as_array()
                        .unwrap_or(&none)
                        .iter()
                        .map(|a| {
                            (
                                a["key"].as_str().unwrap_or_default().to_string(),
                                attribute_value(&a["value"]),
                            )
                        })
                        .collect(),
                });
            }
        }
    }
    out
}

/// A fake collector: accepts `POST /v1/traces` (OTLP/JSON) and keeps the spans.
async fn collector() -> (String, Spans) {
    let spans: Spans = Arc::default();
    let kept = spans.clone();
    let app = Router::new().route(
        "/v1/traces",
        post(move |body: String| {
            let kept = kept.clone();
            async move {
                let parsed: Value = serde_json::from_str(&body).expect("OTLP/JSON");
                kept.lock().unwrap().extend(spans_of(&parsed));
                axum::Json(json!({}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, spans)
}

/// The binary, serving; killed on drop.
struct Shop {
    child: Child,
    url: String,
    _dir: tempdir::Dir,
}

impl Drop for Shop {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

mod tempdir {
    /// A directory removed on drop.
    pub struct Dir(pub std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_shop(database_url: &str, collector: &str) -> Shop {
    let dir = std::env::temp_dir().join(format!("cielo-traces-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    // The catch-ups start traces of their own (a scheduled job has no
    // request behind it): one that ran while this order waited in the queue
    // (the fulfillment catch-up runs at every tenth minute) would submit it
    // in its own trace. Only the event path is under test: no catch-ups.
    let config = dir.join("shop.toml");
    std::fs::write(
        &config,
        "[[schedule]]\nname = \"expire-stale-carts\"\ncron = \"17 3 * * *\"\nkind = \"carts.expire_stale\"\nqueue = \"maintenance\"\n",
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_cielo"))
        .args(["--config", config.to_str().unwrap()])
        .args(["--data-dir", dir.to_str().unwrap(), "serve"])
        .args(["--bind", &format!("127.0.0.1:{port}")])
        .env("CIELO_DATABASE_URL", database_url)
        .env("CIELO_FULFILLMENT_HOLD_MINUTES", "0")
        .env("CIELO_PAYMENTS_CATCH_UP_ON_START", "false")
        .env("CIELO_OPS_RECONCILE_ON_START", "false")
        .env("CIELO_LOG_LEVEL", "info")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", collector)
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
        // Batches every 200 ms instead of 5 s: the test waits less.
        .env("OTEL_BSP_SCHEDULE_DELAY", "200")
        .env_remove("OTEL_SERVICE_NAME")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(if std::env::var_os("TEST_LOG").is_some() {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .spawn()
        .expect("the binary starts");
    let shop = Shop {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _dir: tempdir::Dir(dir),
    };
    let client = reqwest::Client::new();
    for _ in 0..600 {
        if let Ok(r) = client.get(format!("{}/readyz", shop.url)).send().await {
            if r.status().is_success() {
                return shop;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the shop never became ready");
}

/// Checks out one demo mug as a guest; returns (order id, payment page URL).
async fn checkout(http: &reqwest::Client, base: &str) -> (String, String) {
    let product: Value = http
        .get(format!("{base}/api/store/products/star-chart-mug"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let variant = product["variants"][0]["id"].as_str().unwrap().to_string();
    let cart: Value = http
        .post(format!("{base}/api/store/carts"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cart = cart["id"].as_str().unwrap().to_string();
    let r = http
        .post(format!("{base}/api/store/carts/{cart}/lines"))
        .json(&json!({"variant_id": variant, "quantity": 1}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let r = http
        .post(format!("{base}/api/store/carts/{cart}/checkout"))
        .json(&json!({
            "email": "ana@example.com",
            "shipping_address": {"name": "Ada Lovelace", "line1": "12 St James's Square", "city": "London", "postal_code": "SW1Y 4JH", "country": "GB"}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.unwrap();
    let order = body["order_id"].as_str().unwrap().to_string();
    let page = body["payment_url"]
        .as_str()
        .unwrap_or_else(|| panic!("no payment page in {body}"))
        .to_string();
    (order, page)
}

fn find<'a>(spans: &'a [Span], name: &str, attr: (&str, &str)) -> Option<&'a Span> {
    spans
        .iter()
        .find(|s| s.name == name && s.attributes.get(attr.0).map(String::as_str) == Some(attr.1))
}

/// True when every ancestor of `span` up to a root has been received.
fn reaches_root(spans: &[Span], span: &Span) -> bool {
    let mut at = span;
    for _ in 0..64 {
        if at.parent.is_empty() {
            return true;
        }
        match spans.iter().find(|s| s.span_id == at.parent) {
            Some(parent) => at = parent,
            None => return false,
        }
    }
    false
}

/// The names of `span`'s ancestors, nearest first, up to the trace's root
/// (every link must lead to a received span of the same trace).
fn ancestors(spans: &[Span], span: &Span) -> Vec<Span> {
    let by_id: HashMap<&str, &Span> = spans.iter().map(|s| (s.span_id.as_str(), s)).collect();
    let mut chain = Vec::new();
    let mut at = span;
    while !at.parent.is_empty() {
        let parent = by_id
            .get(at.parent.as_str())
            .unwrap_or_else(|| panic!("the parent of {at:?} was not exported"));
        assert_eq!(parent.trace_id, at.trace_id, "a parent in another trace");
        chain.push((*parent).clone());
        at = parent;
    }
    chain
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkout_is_one_trace_from_the_buyers_click_to_the_lab_and_the_email() {
    let db = TestDatabase::create().await;
    let (collector, spans) = collector().await;
    let shop = start_shop(db.url.expose(), &collector).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let (order, page) = checkout(&http, &shop.url).await;
    let r = http
        .post(&page)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("action=pay")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);

    // Until the lab accepted the order and the confirmation email was sent.
    let mut got = Vec::new();
    for _ in 0..600 {
        got = spans.lock().unwrap().clone();
        let lab = find(&got, "lab.submit", ("order_id", &order));
        let sent = got.iter().any(|s| {
            s.name == "notify.send"
                && s.attributes.get("kind").map(String::as_str) == Some("order_confirmation")
        });
        // A parent ends after its children: it may come in a later batch.
        let whole = |s: &Span| reaches_root(&got, s);
        let email = got.iter().find(|s| {
            s.name == "notify.send"
                && s.attributes.get("kind").map(String::as_str) == Some("order_confirmation")
        });
        if sent && lab.is_some_and(whole) && email.is_some_and(whole) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let names: Vec<&str> = got.iter().map(|s| s.name.as_str()).collect();
    if std::env::var_os("TRACES_DEBUG").is_some() {
        for s in &got {
            eprintln!(
                "{} {} {} {} {:?}",
                &s.trace_id[..6],
                s.span_id,
                s.parent,
                s.name,
                s.attributes.get("kind").or(s.attributes.get("route"))
            );
        }
    }

    let click = got
        .iter()
        .find(|s| {
            s.name == "http.request"
                && s.attributes.get("route").map(String::as_str)
                    == Some("/checkout/test/{session_id}")
                && s.attributes.get("method").map(String::as_str) == Some("POST")
        })
        .unwrap_or_else(|| panic!("no span of the buyer's click among {names:?}"));
    assert_eq!(
        click.attributes.get("status").map(String::as_str),
        Some("303")
    );
    assert!(click.parent.is_empty(), "the click starts the trace");
    let trace = click.trace_id.clone();

    let lab = find(&got, "lab.submit", ("order_id", &order))
        .unwrap_or_else(|| panic!("no lab submission span among {names:?}"));
    assert_eq!(lab.attributes.get("lab").map(String::as_str), Some("local"));
    assert_eq!(
        lab.attributes.get("outcome").map(String::as_str),
        Some("created")
    );
    assert_eq!(
        lab.trace_id, trace,
        "the lab submission is in the checkout's trace"
    );
    let up = ancestors(&got, lab);
    assert_eq!(up[0].name, "job.run", "{up:?}");
    assert_eq!(
        up[0].attributes.get("kind").map(String::as_str),
        Some("fulfillment.submit")
    );
    assert!(up[0].attributes.contains_key("job_id") && up[0].attributes.contains_key("attempt"));
    assert_eq!(up.last().unwrap().span_id, click.span_id, "{up:?}");
    // The click, the webhook it caused, then jobs.
    let webhook = &up[up.len() - 2];
    assert_eq!(webhook.name, "http.request", "{up:?}");
    assert_eq!(
        webhook.attributes.get("route").map(String::as_str),
        Some("/webhooks/{provider}")
    );
    assert!(up[..up.len() - 2]
        .iter()
        .all(|s| s.name == "job.run" || !s.name.starts_with("http.")));
    assert!(
        up.iter().filter(|s| s.name == "job.run").count() >= 2,
        "the payment's job and the submission's job: {up:?}"
    );

    let email = got
        .iter()
        .find(|s| {
            s.name == "notify.send"
                && s.attributes.get("kind").map(String::as_str) == Some("order_confirmation")
        })
        .unwrap_or_else(|| panic!("no email span among {names:?}"));
    assert_eq!(
        email.attributes.get("channel").map(String::as_str),
        Some("email")
    );
    assert_eq!(
        email.attributes.get("outcome").map(String::as_str),
        Some("sent")
    );
    assert_eq!(
        email.trace_id, trace,
        "the email is in the checkout's trace"
    );
    let up = ancestors(&got, email);
    assert_eq!(up[0].name, "job.run", "{up:?}");
    assert_eq!(up.last().unwrap().span_id, click.span_id, "{up:?}");

    // No secret or address reached an attribute.
    for s in &got {
        for (k, v) in &s.attributes {
            assert!(
                !v.contains("ana@example.com") && !v.contains("St James"),
                "{} {k}={v}",
                s.name
            );
        }
    }
    drop(shop);
}
