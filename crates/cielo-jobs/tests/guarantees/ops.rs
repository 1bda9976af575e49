use crate::helpers::{count, fresh};
use cielo_jobs::cli::{run_cli, JobsCommand};
use cielo_jobs::{
    enqueue, list_jobs, retry_job, run_pending, Error, JobError, JobFilter, JobState, NewJob,
    Registry,
};
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[tokio::test]
async fn a_dead_job_retried_from_the_cli_runs_again() {
    // Arrange: a job that fails until the lab comes back.
    let t = fresh().await;
    let lab_up = Arc::new(AtomicBool::new(false));
    let mut registry = Registry::new();
    let up = lab_up.clone();
    registry.handle("submit", move |_, _| {
        let up = up.clone();
        async move {
            if up.load(Ordering::SeqCst) {
                Ok(())
            } else {
                Err(JobError::retry("lab down"))
            }
        }
    });
    let mut tx = t.db.begin_write().await.unwrap();
    let id = enqueue(
        &mut tx,
        NewJob::new("submit", json!({"order": "ord_9"})).max_attempts(1),
    )
    .await
    .unwrap()
    .id();
    tx.commit().await.unwrap();
    run_pending(&t.db, &registry).await.unwrap();
    assert_eq!(
        count(&t.db, "select count(*) from jobs_job where state = 'dead'").await,
        1
    );

    // Act
    run_cli(
        &t.db,
        JobsCommand::Dead {
            queue: None,
            cursor: None,
            limit: 50,
        },
    )
    .await
    .unwrap();
    run_cli(&t.db, JobsCommand::Show { id: id.to_string() })
        .await
        .unwrap();
    run_cli(&t.db, JobsCommand::Retry { id: id.to_string() })
        .await
        .unwrap();
    lab_up.store(true, Ordering::SeqCst);
    let ran = run_pending(&t.db, &registry).await.unwrap();

    // Assert
    assert_eq!(ran, 1);
    assert_eq!(count(&t.db, "select count(*) from jobs_job").await, 0);
    run_cli(&t.db, JobsCommand::Stats).await.unwrap();
}

#[tokio::test]
async fn only_a_dead_job_can_be_retried() {
    let t = fresh().await;
    let mut tx = t.db.begin_write().await.unwrap();
    let id = enqueue(&mut tx, NewJob::new("x", json!({})))
        .await
        .unwrap()
        .id();
    tx.commit().await.unwrap();
    assert!(matches!(
        retry_job(&t.db, &id).await,
        Err(Error::NotDead { .. })
    ));
    assert!(matches!(
        retry_job(&t.db, &cielo_jobs::JobId::new()).await,
        Err(Error::JobNotFound(_))
    ));
}

#[tokio::test]
async fn listing_filters_by_queue_and_state_and_pages_with_a_cursor() {
    let t = fresh().await;
    let mut tx = t.db.begin_write().await.unwrap();
    for i in 0..5 {
        enqueue(&mut tx, NewJob::new("mail", json!({"i": i})).queue("mail"))
            .await
            .unwrap();
    }
    enqueue(&mut tx, NewJob::new("render", json!({})).queue("render"))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let filter = JobFilter {
        queue: Some("mail".into()),
        state: Some(JobState::Pending),
        cursor: None,
        limit: Some(2),
    };
    let mut seen = Vec::new();
    let mut page = list_jobs(&t.db, &filter).await.unwrap();
    loop {
        seen.extend(page.jobs.iter().map(|j| j.payload["i"].as_i64().unwrap()));
        let Some(next) = page.next_cursor.clone() else {
            break;
        };
        page = list_jobs(
            &t.db,
            &JobFilter {
                cursor: Some(next),
                ..filter.clone()
            },
        )
        .await
        .unwrap();
    }

    assert_eq!(seen, vec![4, 3, 2, 1, 0], "newest first, each once");
    run_cli(
        &t.db,
        JobsCommand::List {
            queue: None,
            state: None,
            cursor: None,
            limit: 10,
        },
    )
    .await
    .unwrap();
}
