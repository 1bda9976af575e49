use crate::helpers::{count, fast_settings, fresh};
use cielo_core::Timestamp;
use cielo_jobs::{ScheduleEntry, Scheduler};
use serde_json::json;

fn every_five_minutes() -> ScheduleEntry {
    ScheduleEntry {
        name: "payment-catch-up".into(),
        cron: "*/5 * * * *".into(),
        kind: "payments.catch_up".into(),
        queue: "default".into(),
        payload: json!({"window": 600}),
        max_attempts: 3,
        timezone: None,
    }
}

#[tokio::test]
async fn a_new_schedule_waits_for_its_next_tick_then_enqueues_it_once() {
    let t = fresh().await;
    let s = Scheduler::new(t.db.clone(), &[every_five_minutes()], &fast_settings()).unwrap();
    let t0 = Timestamp::parse_rfc3339("2026-11-21T10:02:00Z").unwrap();

    assert!(
        s.tick(t0).await.unwrap().is_empty(),
        "no tick fires when the schedule is first seen"
    );
    let fired = s.tick(t0.plus_seconds(180)).await.unwrap();
    assert_eq!(
        fired,
        vec![(
            "payment-catch-up".to_string(),
            Timestamp::parse_rfc3339("2026-11-21T10:05:00Z").unwrap()
        )]
    );
    assert!(
        s.tick(t0.plus_seconds(200)).await.unwrap().is_empty(),
        "the same tick does not fire twice"
    );

    let job = cielo_jobs::list_jobs(&t.db, &Default::default())
        .await
        .unwrap()
        .jobs
        .remove(0);
    assert_eq!(job.kind, "payments.catch_up");
    assert_eq!(
        job.payload,
        json!({"window": 600, "tick": "2026-11-21T10:05:00Z"})
    );
}

#[tokio::test]
async fn after_downtime_the_missed_ticks_run_once_not_once_each() {
    let t = fresh().await;
    let s = Scheduler::new(t.db.clone(), &[every_five_minutes()], &fast_settings()).unwrap();
    let t0 = Timestamp::parse_rfc3339("2026-11-21T10:02:00Z").unwrap();
    s.tick(t0).await.unwrap();

    // Twelve ticks pass while no scheduler runs.
    let fired = s.tick(t0.plus_seconds(3600)).await.unwrap();

    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].1.to_string(), "2026-11-21T11:00:00Z");
    assert_eq!(count(&t.db, "select count(*) from jobs_job").await, 1);
}

#[tokio::test]
async fn schedulers_ticking_at_the_same_moment_enqueue_the_tick_once() {
    let t = fresh().await;
    let make = || Scheduler::new(t.db.clone(), &[every_five_minutes()], &fast_settings()).unwrap();
    let (a, b, c) = (make(), make(), make());
    let t0 = Timestamp::parse_rfc3339("2026-11-21T10:02:00Z").unwrap();
    a.tick(t0).await.unwrap();

    let later = t0.plus_seconds(300);
    let (ra, rb, rc) = tokio::join!(a.tick(later), b.tick(later), c.tick(later));

    let fired = ra.unwrap().len() + rb.unwrap().len() + rc.unwrap().len();
    assert_eq!(fired, 1);
    assert_eq!(count(&t.db, "select count(*) from jobs_job").await, 1);
}
