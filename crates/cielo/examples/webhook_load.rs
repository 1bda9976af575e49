//! Load generator for `bench/webhooks.sh`: posts signed, unique
//! `checkout.session.completed` webhooks at a fixed rate (open loop) and
//! reports how many were acknowledged per second and the latency
//! percentiles. With `--acked FILE` it writes the ids of acknowledged events;
//! `--verify-db URL --acked FILE` then checks each of them is in the inbox.
//!
//! `--timeline FILE` writes, per second of the run, the webhooks sent in it
//! and their p50, p99 and max latency, to see when a tail happens.
//!
//! usage: webhook_load --url URL --secret S --rate R --seconds N [--acked FILE] [--prefix P] [--timeline FILE]
//!        webhook_load --verify-db DATABASE_URL --acked FILE

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if let Some(db_url) = arg(&args, "--verify-db") {
        return verify(&db_url, &arg(&args, "--acked").expect("--acked FILE")).await;
    }
    let url = arg(&args, "--url").expect("--url");
    let secret = arg(&args, "--secret").expect("--secret");
    let rate: f64 = arg(&args, "--rate").expect("--rate").parse()?;
    let seconds: f64 = arg(&args, "--seconds")
        .unwrap_or_else(|| "10".into())
        .parse()?;
    let prefix = arg(&args, "--prefix").unwrap_or_else(|| format!("{}", std::process::id()));
    let acked_path = arg(&args, "--acked");
    let max_in_flight: usize = arg(&args, "--max-in-flight")
        .unwrap_or_else(|| "512".into())
        .parse()?;

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(max_in_flight)
        .timeout(Duration::from_secs(5))
        .build()?;
    let timeline_path = arg(&args, "--timeline");
    // (second of the run the request was sent in, latency in µs)
    let latencies = Arc::new(Mutex::new(Vec::<(u32, u32)>::new()));
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let (ok, failed, skipped) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let in_flight = Arc::new(tokio::sync::Semaphore::new(max_in_flight));
    let total = (rate * seconds) as u64;
    let interval = Duration::from_secs_f64(1.0 / rate);
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..total {
        let due = start + interval.mul_f64(n as f64);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            tokio::time::sleep(wait).await;
        }
        let Ok(permit) = in_flight.clone().try_acquire_owned() else {
            // The server is not keeping up: count it as a miss instead of queueing in the client.
            skipped.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let id = format!("evt_bench_{prefix}_{n}");
        let now = cielo_core::Timestamp::now().as_unix_seconds();
        let body = format!(
            r#"{{"id":"{id}","object":"event","api_version":"2024-06-20","created":{now},"type":"checkout.session.completed","livemode":false,"pending_webhooks":1,"request":{{"id":null,"idempotency_key":null}},"data":{{"object":{{"id":"cs_test_{n}","object":"checkout.session","amount_total":4599,"currency":"usd","client_reference_id":"ord_0193a0b2c3d47e8f9a0b1c2d3e4f5a6b","metadata":{{"order_id":"ord_0193a0b2c3d47e8f9a0b1c2d3e4f5a6b"}},"payment_intent":"pi_{n}","payment_status":"paid","status":"complete","mode":"payment"}}}}}}"#
        );
        let header = cielo_payments::signature::sign(&[&secret], now, body.as_bytes());
        let (client, url, latencies, acked, ok, failed) = (
            client.clone(),
            url.clone(),
            latencies.clone(),
            acked.clone(),
            ok.clone(),
            failed.clone(),
        );
        tasks.spawn(async move {
            let sent = Instant::now();
            let second = (sent - start).as_secs() as u32;
            let r = client
                .post(&url)
                .header("content-type", "application/json")
                .header("stripe-signature", header)
                .body(body)
                .send()
                .await;
            let micros = sent.elapsed().as_micros() as u32;
            match r {
                Ok(r) if r.status().is_success() => {
                    ok.fetch_add(1, Ordering::Relaxed);
                    latencies.lock().unwrap().push((second, micros));
                    acked.lock().unwrap().push(id);
                }
                _ => {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
            drop(permit);
        });
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    let elapsed = start.elapsed().as_secs_f64();
    let samples = latencies.lock().unwrap().clone();
    if let Some(path) = &timeline_path {
        write_timeline(path, &samples)?;
    }
    let mut l: Vec<u32> = samples.iter().map(|(_, micros)| *micros).collect();
    l.sort_unstable();
    let pct = |p: f64| {
        if l.is_empty() {
            0.0
        } else {
            l[((l.len() as f64 * p) as usize).min(l.len() - 1)] as f64 / 1000.0
        }
    };
    let ok = ok.load(Ordering::Relaxed);
    println!(
        "offered {:>6.0}/s  stored {:>7.0}/s  p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms  2xx {}  failed {}  not-sent {}",
        rate,
        ok as f64 / elapsed,
        pct(0.50),
        pct(0.99),
        l.last().copied().unwrap_or(0) as f64 / 1000.0,
        ok,
        failed.load(Ordering::Relaxed),
        skipped.load(Ordering::Relaxed)
    );
    if let Some(path) = acked_path {
        let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
        for id in acked.lock().unwrap().iter() {
            writeln!(f, "{id}")?;
        }
    }
    Ok(())
}

/// Per second: sent, p50, p99, max (ms).
fn write_timeline(path: &str, samples: &[(u32, u32)]) -> anyhow::Result<()> {
    let mut by_second: std::collections::BTreeMap<u32, Vec<u32>> = Default::default();
    for (second, micros) in samples {
        by_second.entry(*second).or_default().push(*micros);
    }
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(f, "second\tsent\tp50_ms\tp99_ms\tmax_ms")?;
    for (second, mut l) in by_second {
        l.sort_unstable();
        let pct = |p: f64| l[((l.len() as f64 * p) as usize).min(l.len() - 1)] as f64 / 1000.0;
        writeln!(
            f,
            "{second}\t{}\t{:.2}\t{:.2}\t{:.2}",
            l.len(),
            pct(0.5),
            pct(0.99),
            l[l.len() - 1] as f64 / 1000.0
        )?;
    }
    Ok(())
}

async fn verify(db_url: &str, acked: &str) -> anyhow::Result<()> {
    use cielo_db::sqlx::{self, Row};
    let db = cielo_db::Db::connect(
        &cielo_db::DatabaseUrl::new(db_url),
        &cielo_db::PoolOptions::default(),
    )
    .await?;
    let ids: Vec<String> = std::fs::read_to_string(acked)?
        .lines()
        .map(str::to_string)
        .collect();
    let stored: std::collections::HashSet<String> =
        sqlx::query("select event_id from payments_inbox")
            .fetch_all(db.pool())
            .await?
            .iter()
            .map(|r| r.try_get::<String, _>("event_id"))
            .collect::<Result<_, _>>()?;
    let missing = ids.iter().filter(|id| !stored.contains(*id)).count();
    println!(
        "acknowledged {}  in the inbox {}  missing {}",
        ids.len(),
        ids.len() - missing,
        missing
    );
    if missing > 0 {
        anyhow::bail!("{missing} acknowledged webhooks are not in the inbox");
    }
    Ok(())
}
