//! The providers of the chaos run (bench/chaos.sh), as one process: a fake
//! Printful (the fulfillment crate's `testing` fake) and a fake Resend (the
//! API tests' fake), each failing about `--fault-rate` of its calls: lab
//! orders created but answered 500 (the answer lost after the work was
//! done), created but answered after the client gave up, or refused with
//! 503; emails taken but never answered, or refused with 503.
//!
//! Prints one JSON line `{"printful": URL, "resend": URL, "records": URL}`
//! and serves until killed. `GET <records>` returns what the providers hold,
//! for the checker: `{"printful_orders": [...], "emails": [{"key", "to",
//! "subject"}] (one per idempotency key), "emails_accepted": N, "faults": {...}}`;
//! `POST <records base>/lab-counts` with a JSON list of our order ids returns
//! how many lab orders the fake holds for each.
//!
//! usage: chaos_peers [--fault-rate 0.2] [--slow-secs 3] [--token TOKEN]

#[allow(dead_code)]
#[path = "../tests/api/fake_mail.rs"]
mod fake_mail;

use cielo_fulfillment::testing::{FakePrintful, Fault};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A small deterministic generator (xorshift): the run is reproducible from its seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[derive(Default)]
struct Injected {
    lab_lost_answer: AtomicU64,
    lab_slow_answer: AtomicU64,
    lab_unavailable: AtomicU64,
    lab_get_unavailable: AtomicU64,
    email_unanswered: AtomicU64,
    email_unavailable: AtomicU64,
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main]
async fn main() {
    let rate: f64 = arg("--fault-rate")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.2);
    let slow = Duration::from_secs(arg("--slow-secs").and_then(|v| v.parse().ok()).unwrap_or(3));
    let token = arg("--token").unwrap_or_else(|| "pf-chaos-token".into());
    let seed: u64 = arg("--seed").and_then(|v| v.parse().ok()).unwrap_or(42);

    let printful = FakePrintful::start(&token).await;
    let resend = fake_mail::resend().await;
    let injected = Arc::new(Injected::default());

    // The fakes take faults for their next call from a queue; this loop
    // watches their call counts and, after each call, arms a fault for the
    // next one with probability `rate` (so about `rate` of calls fail).
    {
        let (printful, resend, injected) = (printful.clone(), resend.clone(), injected.clone());
        tokio::spawn(async move {
            let mut rng = Rng(seed.max(1));
            let (mut creates, mut gets, mut emails) = (usize::MAX, usize::MAX, usize::MAX);
            loop {
                let calls = printful.calls();
                if calls.create != creates {
                    creates = calls.create;
                    if rng.next() < rate {
                        let pick = rng.next();
                        let (fault, counter) = if pick < 0.4 {
                            (Fault::LoseAnswer, &injected.lab_lost_answer)
                        } else if pick < 0.7 {
                            (Fault::SlowAnswer(slow), &injected.lab_slow_answer)
                        } else {
                            (Fault::Unavailable, &injected.lab_unavailable)
                        };
                        printful.push_create_fault(fault);
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                }
                if calls.get != gets {
                    gets = calls.get;
                    if rng.next() < rate {
                        printful.push_get_fault(Fault::Unavailable);
                        injected.lab_get_unavailable.fetch_add(1, Ordering::Relaxed);
                    }
                }
                let n = resend.received().len();
                if n != emails {
                    emails = n;
                    if rng.next() < rate {
                        if rng.next() < 0.5 {
                            resend.stall_next(1);
                            injected.email_unanswered.fetch_add(1, Ordering::Relaxed);
                        } else {
                            resend.fail_next(1, 503);
                            injected.email_unavailable.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        });
    }

    let records = {
        let (printful, resend, injected) = (printful.clone(), resend.clone(), injected.clone());
        axum::Router::new().route(
            "/records",
            axum::routing::get(move || {
                let (printful, resend, injected) =
                    (printful.clone(), resend.clone(), injected.clone());
                async move {
                    let mut seen = std::collections::BTreeMap::new();
                    for r in resend.received() {
                        let Some(key) = r.header("idempotency-key") else {
                            continue;
                        };
                        let body = r.json();
                        seen.entry(key.clone()).or_insert_with(
                            || json!({"key": key, "to": body["to"], "subject": body["subject"]}),
                        );
                    }
                    let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
                    axum::Json(json!({
                        "printful_orders": printful.orders(),
                        "emails": seen.into_values().collect::<Vec<Value>>(),
                        "emails_accepted": resend.accepted(),
                        "faults": {
                            "lab_lost_answer": n(&injected.lab_lost_answer),
                            "lab_slow_answer": n(&injected.lab_slow_answer),
                            "lab_unavailable": n(&injected.lab_unavailable),
                            "lab_get_unavailable": n(&injected.lab_get_unavailable),
                            "email_unanswered": n(&injected.email_unanswered),
                            "email_unavailable": n(&injected.email_unavailable),
                        },
                    }))
                }
            }),
        )
    };
    // For each of our order ids, how many orders the lab holds for it.
    let records = {
        let printful = printful.clone();
        records.route(
            "/lab-counts",
            axum::routing::post(move |axum::Json(ids): axum::Json<Vec<String>>| {
                let printful = printful.clone();
                async move {
                    let counts: serde_json::Map<String, Value> = ids
                        .into_iter()
                        .map(|id| {
                            let n = printful.orders_for(&id);
                            (id, json!(n))
                        })
                        .collect();
                    axum::Json(Value::Object(counts))
                }
            }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let records_url = format!("http://{}/records", listener.local_addr().unwrap());
    println!(
        "{}",
        json!({"printful": printful.url, "resend": resend.base, "records": records_url})
    );
    axum::serve(listener, records).await.unwrap();
}
