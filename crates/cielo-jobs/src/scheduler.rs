//! Periodic jobs from cron expressions. Each tick is enqueued exactly once,
//! whatever the number of scheduler processes: a process enqueues a tick only
//! if its compare-and-set of the schedule's `last_tick` wins, in the same
//! transaction. One process at a time holds the `scheduler` lease and does
//! the checking; the others stand by and take over when it expires.

use crate::queue::NewJob;
use crate::settings::ScheduleEntry;
use crate::store;
use crate::{Error, JobsSettings};
use cielo_core::Timestamp;
use cielo_db::Db;
use croner::Cron;
use jiff::tz::TimeZone;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const LEASE_NAME: &str = "scheduler";

struct Entry {
    config: ScheduleEntry,
    cron: Cron,
    tz: TimeZone,
}

/// Enqueues the jobs of the `[[schedule]]` entries at their ticks.
pub struct Scheduler {
    db: Db,
    entries: Vec<Entry>,
    holder: String,
    interval: Duration,
}

impl Scheduler {
    /// Parses the entries; fails on a bad expression or time zone.
    pub fn new(db: Db, entries: &[ScheduleEntry], settings: &JobsSettings) -> Result<Self, Error> {
        let entries = entries
            .iter()
            .map(parse_entry)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            db,
            entries,
            holder: format!("scheduler-{}", uuid::Uuid::new_v4().simple()),
            interval: Duration::from_millis(settings.scheduler_interval_ms.max(10)),
        })
    }

    /// This process's name in the lease table.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Runs until `shutdown`: every interval, take or renew the lease and, if
    /// held, enqueue the ticks that are due. Gives the lease up on shutdown.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), Error> {
        let lease_micros = (self.interval.as_micros() as i64 * 5).max(2_000_000);
        let mut failures = 0u32;
        while !shutdown.is_cancelled() {
            let round: Result<(), Error> = async {
                let now = Timestamp::now().as_micros();
                let mut tx = self.db.begin_write().await?;
                let leader =
                    store::try_lease(&mut tx, LEASE_NAME, &self.holder, now + lease_micros, now)
                        .await?;
                tx.commit().await?;
                if leader {
                    self.tick(Timestamp::now()).await?;
                }
                Ok(())
            }
            .await;
            match round {
                Ok(()) => failures = 0,
                Err(e) => {
                    failures += 1;
                    tracing::error!(error = %e, failures, "scheduler round failed");
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(self.interval) => {}
                _ = shutdown.cancelled() => {}
            }
        }
        let mut tx = self.db.begin_write().await?;
        store::drop_lease(&mut tx, LEASE_NAME, &self.holder).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Enqueues, for each entry, its latest tick at or before `now` if that
    /// tick has not been enqueued yet. Ticks missed while no scheduler ran
    /// collapse into that one. Returns `(entry name, tick)` of what this call
    /// enqueued. Safe to call from any number of processes at once.
    pub async fn tick(&self, now: Timestamp) -> Result<Vec<(String, Timestamp)>, Error> {
        let mut fired = Vec::new();
        for e in &self.entries {
            if let Some(due) = self.tick_one(e, now).await? {
                fired.push((e.config.name.clone(), due));
            }
        }
        Ok(fired)
    }

    /// [`Scheduler::tick`] for the entry named `name` only (an external
    /// scheduler, e.g. EventBridge Scheduler, invoking one entry at its
    /// time). Returns the tick it enqueued, or `None` when that tick was
    /// already enqueued. Errors when no entry has this name.
    pub async fn tick_entry(&self, name: &str, now: Timestamp) -> Result<Option<Timestamp>, Error> {
        let e = self
            .entries
            .iter()
            .find(|e| e.config.name == name)
            .ok_or_else(|| Error::InvalidSchedule {
                name: name.to_string(),
                detail: "no [[schedule]] entry has this name".into(),
            })?;
        self.tick_one(e, now).await
    }

    /// The names of the entries.
    pub fn entry_names(&self) -> Vec<&str> {
        self.entries
            .iter()
            .map(|e| e.config.name.as_str())
            .collect()
    }

    async fn tick_one(&self, e: &Entry, now: Timestamp) -> Result<Option<Timestamp>, Error> {
        let Some(due) = latest_tick(e, now)? else {
            return Ok(None);
        };
        let mut tx = self.db.begin_write().await?;
        store::ensure_schedule(
            &mut tx,
            &e.config.name,
            &e.config.cron,
            due.as_micros(),
            now.as_micros(),
        )
        .await?;
        let last = store::schedule_last_tick(&mut tx, &e.config.name)
            .await?
            .unwrap_or(i64::MAX);
        if due.as_micros() <= last
            || !store::advance_schedule(&mut tx, &e.config.name, due.as_micros(), now.as_micros())
                .await?
        {
            tx.commit().await?;
            return Ok(None);
        }
        let mut payload = e.config.payload.clone();
        if let Some(obj) = payload.as_object_mut() {
            obj.insert("tick".into(), serde_json::Value::String(due.to_string()));
        }
        let job = NewJob::new(e.config.kind.clone(), payload)
            .queue(e.config.queue.clone())
            .max_attempts(e.config.max_attempts)
            .unique_key(format!("schedule:{}:{}", e.config.name, due.as_micros()));
        crate::enqueue(&mut tx, job).await?;
        tx.commit().await?;
        tracing::info!(schedule = %e.config.name, tick = %due, "enqueued scheduled job");
        Ok(Some(due))
    }
}

fn parse_entry(c: &ScheduleEntry) -> Result<Entry, Error> {
    let invalid = |detail: String| Error::InvalidSchedule {
        name: c.name.clone(),
        detail,
    };
    let cron: Cron = c
        .cron
        .parse()
        .map_err(|e| invalid(format!("bad cron expression {:?}: {e}", c.cron)))?;
    let tz = match &c.timezone {
        None => TimeZone::UTC,
        Some(name) => {
            TimeZone::get(name).map_err(|e| invalid(format!("unknown time zone {name:?}: {e}")))?
        }
    };
    Ok(Entry {
        config: c.clone(),
        cron,
        tz,
    })
}

fn latest_tick(e: &Entry, now: Timestamp) -> Result<Option<Timestamp>, Error> {
    let zoned = now.as_jiff().to_zoned(e.tz.clone());
    match e.cron.find_previous_occurrence(&zoned, true) {
        Ok(z) => Ok(Some(Timestamp::from_micros(z.timestamp().as_microsecond()))),
        Err(err) => {
            tracing::debug!(schedule = %e.config.name, error = %err, "no earlier tick");
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(cron: &str) -> Entry {
        parse_entry(&ScheduleEntry {
            name: "t".into(),
            cron: cron.into(),
            kind: "k".into(),
            queue: "default".into(),
            payload: serde_json::json!({}),
            max_attempts: 3,
            timezone: None,
        })
        .unwrap()
    }

    #[test]
    fn the_latest_tick_is_at_or_before_now() {
        let e = entry("*/5 * * * *");
        let now = Timestamp::parse_rfc3339("2026-11-21T17:13:20Z").unwrap();
        assert_eq!(
            latest_tick(&e, now).unwrap().unwrap().to_string(),
            "2026-11-21T17:10:00Z"
        );
        let on_tick = Timestamp::parse_rfc3339("2026-11-21T17:15:00Z").unwrap();
        assert_eq!(latest_tick(&e, on_tick).unwrap().unwrap(), on_tick);
    }

    #[test]
    fn an_entry_reads_its_expression_in_its_time_zone() {
        let mut e = entry("0 9 * * *");
        e.tz = TimeZone::get("Europe/Paris").unwrap();
        let now = Timestamp::parse_rfc3339("2026-11-21T12:00:00Z").unwrap();
        assert_eq!(
            latest_tick(&e, now).unwrap().unwrap().to_string(),
            "2026-11-21T08:00:00Z",
            "09:00 in Paris is 08:00 UTC in winter"
        );
    }

    #[test]
    fn a_bad_expression_is_rejected_with_the_entry_name() {
        let bad = ScheduleEntry {
            name: "broken".into(),
            cron: "61 * * * *".into(),
            kind: "k".into(),
            queue: "default".into(),
            payload: serde_json::json!({}),
            max_attempts: 3,
            timezone: None,
        };
        let err = parse_entry(&bad).err().unwrap();
        assert!(err.to_string().contains("broken"), "{err}");
    }
}
