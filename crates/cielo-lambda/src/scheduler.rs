//! The `scheduler` function: runs `[[schedule]]` entries when EventBridge
//! invokes it.
//!
//! The event is either EventBridge Scheduler's payload (the schedule's
//! `Input`, e.g. `{"task": "payments-catch-up"}`) or an EventBridge rule's
//! "Scheduled Event" envelope, whose `detail` holds the task (or nothing).
//! The task names one entry; no task, or `"due"`, runs every entry whose
//! tick is due. Each tick is enqueued once however often EventBridge
//! invokes (its delivery is at least once): the scheduler's compare-and-set
//! on the tick decides, as with scheduler processes.
//!
//! The envelope's `time` is the tick's reference time when present (a late
//! retry enqueues the tick it was meant for); otherwise now.

use crate::{HandlerError, Services};
use cielo_core::Timestamp;
use cielo_jobs::Scheduler;
use serde_json::{json, Value};

/// What one invocation asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// One entry by name, or `None` for every due entry.
    pub entry: Option<String>,
    /// The reference time.
    pub at: Timestamp,
}

/// Reads the task and time from either event shape.
pub fn parse(event: &Value, now: Timestamp) -> Invocation {
    let task = event
        .pointer("/detail/task")
        .or_else(|| event.get("task"))
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|t| !t.is_empty() && !matches!(*t, "due" | "all" | "*"))
        .map(str::to_string);
    let at = event
        .get("time")
        .and_then(Value::as_str)
        .and_then(|t| Timestamp::parse_rfc3339(t).ok())
        .unwrap_or(now);
    Invocation { entry: task, at }
}

/// Handles one invocation; answers which ticks it enqueued and how many jobs
/// it relayed to SQS.
pub async fn handle(s: &Services, event: Value) -> Result<Value, HandlerError> {
    let inv = parse(&event, Timestamp::now());
    let scheduler = Scheduler::new(s.db.clone(), &s.schedule, &s.jobs)
        .map_err(|e| HandlerError(e.to_string()))?;
    let enqueued: Vec<(String, Timestamp)> = match &inv.entry {
        Some(name) => scheduler
            .tick_entry(name, inv.at)
            .await
            .map_err(|e| HandlerError(e.to_string()))?
            .map(|tick| vec![(name.clone(), tick)])
            .unwrap_or_default(),
        None => scheduler
            .tick(inv.at)
            .await
            .map_err(|e| HandlerError(e.to_string()))?,
    };
    // Also sends jobs that became due since (retries, delayed jobs).
    let relayed = s.relay().await;
    Ok(json!({
        "enqueued": enqueued
            .iter()
            .map(|(name, tick)| json!({"schedule": name, "tick": tick.to_string()}))
            .collect::<Vec<_>>(),
        "relayed": relayed,
    }))
}
