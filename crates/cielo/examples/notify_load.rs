//! Load generator for `bench/notify.sh`: N orders paid in one burst, each
//! buyer's order confirmation sent by SMTP to a real SMTP server on loopback;
//! how long from the payment webhook's 2xx to the confirmation accepted by
//! the server, and how many messages each order got (must be exactly 1).
//!
//! The SMTP server runs apart (aiosmtpd, see bench/notify.sh) and writes each
//! message it accepts to `MAIL_DIR/NNNNNN.eml` before answering `250`: the
//! file's modification time is when it accepted the message. Each order has
//! its own buyer address (`buyer<i>@example.com`), so the `To:` header names
//! the order. The shop (API, worker, scheduler) runs in this process with
//! `notify.email = "smtp"`.
//!
//! Without `--smtp-url` the shop writes its email to its outbox
//! (`notify.email = "outbox"`, `<data_dir>/outbox/*.eml`), timed the same
//! way: the baseline, everything but the SMTP conversation.
//!
//! usage: notify_load --database URL [--smtp-url URL --mail-dir DIR
//!        [--ca-file PEM] [--password P] [--smtp-sessions N]] [--orders 200]
//!        [--trace FILTER]

#[path = "support/burst.rs"]
mod burst;

use burst::{arg, Shop};
use cielo::settings::Secrets;
use serde_json::json;
use std::collections::HashMap;
use std::time::{Duration, SystemTime};

/// Every `.eml` in `dir`: its `To:` address and when it was written.
fn accepted_messages(dir: &str) -> anyhow::Result<Vec<(String, String, SystemTime)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("eml") {
            continue;
        }
        let at = entry.metadata()?.modified()?;
        let text = std::fs::read_to_string(&path)?;
        let header = |name: &str| {
            text.lines()
                .take_while(|l| !l.is_empty())
                .find_map(|l| {
                    l.strip_prefix(name)
                        .map(|v| v.trim().trim_matches(['<', '>']).to_string())
                })
                .unwrap_or_default()
        };
        out.push((header("To:"), header("Subject:"), at));
    }
    Ok(out)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let database = arg(&args, "--database").expect("--database URL");
    let smtp_url = arg(&args, "--smtp-url");
    let ca_file = arg(&args, "--ca-file");
    // The SMTP sessions the shop may open (default: `notify.smtp_max_sessions`).
    let sessions: Option<usize> = arg(&args, "--smtp-sessions")
        .map(|v| v.parse())
        .transpose()?;
    let n: usize = arg(&args, "--orders")
        .unwrap_or_else(|| "200".into())
        .parse()?;
    burst::trace_from_args(&args);

    let secrets = Secrets {
        notify: cielo_notify::NotifySecrets {
            smtp_password: arg(&args, "--password"),
            ..Default::default()
        },
        ..Default::default()
    };
    let smtp = smtp_url.is_some();
    let shop = Shop::start(database, secrets, |s| {
        s.notify.owner_email = None;
        if let Some(url) = smtp_url {
            s.notify.email = "smtp".into();
            s.notify.smtp_url = url;
            s.notify.smtp_ca_file = ca_file.map(Into::into);
            if let Some(n) = sessions {
                s.notify.smtp_max_sessions = n;
            }
        } else {
            s.notify.email = "outbox".into();
        }
    })
    .await?;
    let mail_dir = match arg(&args, "--mail-dir") {
        Some(d) if smtp => d,
        _ => {
            let d = shop.data_dir().join("outbox");
            std::fs::create_dir_all(&d)?;
            d.display().to_string()
        }
    };
    let before = accepted_messages(&mail_dir)?.len();
    // Goods the shop ships itself: the confirmation is the order's only message.
    let variant = shop
        .product(json!({"sku": "BENCH-MUG", "price": {"amount": 1500, "currency": "USD"}}))
        .await?;
    let client = burst::client()?;
    let orders = shop.pending_orders(&client, &variant, n).await?;

    let (acked, burst) = shop.pay_all(&client, &orders).await?;

    // Wait for every confirmation (60 s at most), then a little for extras.
    let mail = mail_dir.clone();
    burst::wait_for(Duration::from_secs(60), || {
        accepted_messages(&mail).map_or(0, |m| m.len()) >= before + n
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let messages = accepted_messages(&mail_dir)?;
    let mut by_buyer: HashMap<String, Vec<(String, SystemTime)>> = HashMap::new();
    for (to, subject, at) in messages {
        by_buyer.entry(to).or_default().push((subject, at));
    }
    let mut latencies = Vec::new();
    let mut missing = 0;
    let mut per_order = HashMap::<usize, usize>::new();
    let mut subject = String::new();
    for (i, o) in orders.iter().enumerate() {
        let got = by_buyer
            .get(&format!("buyer{i}@example.com"))
            .cloned()
            .unwrap_or_default();
        *per_order.entry(got.len()).or_default() += 1;
        match (acked.get(&o.id), got.iter().map(|(_, at)| *at).min()) {
            (Some(a), Some(at)) => {
                subject = got[0].0.clone();
                // Before the 2xx (the message beat the answer): 0.
                let d = at.duration_since(a.wall).unwrap_or_default();
                latencies.push(d.as_secs_f64() * 1000.0);
            }
            _ => missing += 1,
        }
    }
    let mut counts: Vec<_> = per_order.into_iter().collect();
    counts.sort();
    println!(
        "orders {n}  webhooks acked {}  burst sent in {:.0} ms  webhook-2xx → confirmation accepted by {}: {}  (missing {missing})  messages per order: {}  (subject: {subject})",
        acked.len(),
        burst.as_secs_f64() * 1000.0,
        if smtp { "the SMTP server" } else { "the outbox" },
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
