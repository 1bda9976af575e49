//! The ceiling for `bench/notify.sh`: the SMTP provider alone, no shop. N
//! messages of a confirmation's size, sent through the same `SmtpEmail`
//! (same session pool, same STARTTLS and AUTH) from `--sessions` tasks at
//! once, all queued at the start; prints the p50, p99 and max time from the
//! start to each message accepted by the server. What is left of the shop's
//! figure above this is the shop's own work.
//!
//! usage: smtp_ceiling --smtp-url URL --ca-file PEM --password P
//!        [--messages 200] [--sessions 20]

use cielo_notify::email::{EmailProvider, OutgoingEmail, SmtpConfig, SmtpEmail};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let mut config = SmtpConfig::parse(&arg(&args, "--smtp-url").expect("--smtp-url URL"))?;
    config.password = arg(&args, "--password");
    if let Some(ca) = arg(&args, "--ca-file") {
        config.ca_pem = Some(std::fs::read(ca)?);
    }
    let n: usize = arg(&args, "--messages").map_or(Ok(200), |v| v.parse())?;
    let sessions: usize = arg(&args, "--sessions").map_or(Ok(20), |v| v.parse())?;
    config.max_sessions = sessions;
    let smtp = Arc::new(SmtpEmail::new(config));

    // About the size of an order confirmation (text and HTML, ~3.5 KB).
    let text = "Thank you for your order. ".repeat(40);
    let html = format!("<p>{}</p>", "Thank you for your order. ".repeat(80));
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for _ in 0..sessions {
        let (smtp, next, text, html) = (smtp.clone(), next.clone(), text.clone(), html.clone());
        tasks.spawn(async move {
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    return Ok::<_, anyhow::Error>(done);
                }
                let email = OutgoingEmail {
                    from: "Shop <orders@example.com>".into(),
                    reply_to: None,
                    to: format!("buyer{i}@example.com"),
                    subject: format!("Order confirmed: #{i:08X}"),
                    text: text.clone(),
                    html: html.clone(),
                    idempotency_key: format!("ceiling-{i}"),
                    list_unsubscribe: None,
                };
                smtp.send(&email)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
                done.push(start.elapsed());
            }
        });
    }
    let mut all: Vec<Duration> = Vec::with_capacity(n);
    while let Some(r) = tasks.join_next().await {
        all.extend(r??);
    }
    all.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let at = |q: f64| all[((all.len() as f64 * q).ceil() as usize).clamp(1, all.len()) - 1];
    println!(
        "messages {n}  sessions {sessions}  start → accepted by the SMTP server: p50 {:.0} ms  p99 {:.0} ms  max {:.0} ms",
        ms(at(0.5)),
        ms(at(0.99)),
        ms(all[all.len() - 1])
    );
    Ok(())
}
