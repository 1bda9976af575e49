//! Background work through the app: housekeeping jobs, dead letters, the
//! admin jobs API, and a whole process running scheduled work by itself.

use crate::helpers::*;
use cielo::app::{KIND_EXPIRE_CARTS, KIND_EXPIRE_UNPAID};
use cielo_jobs::NewJob;
use serde_json::json;

#[tokio::test]
async fn an_unpaid_order_past_its_time_is_cancelled_by_a_job_and_its_stock_returns() {
    let app = spawn_app_with(false, |s| s.orders.unpaid_expiry_minutes = 0).await;
    let admin = app.admin_token().await;
    let p = app
        .post_as("/api/admin/products", &admin, &json!({"title": "Limited", "status": "published", "variants": [{"sku": "LTD-1", "price": {"amount": 1000, "currency": "USD"}, "stock": 5}]}))
        .await
        .body;
    let cart = app.new_cart(None).await;
    app.add_line(&cart, None, p["variants"][0]["id"].as_str().unwrap(), 2)
        .await;
    let order = app
        .checkout(&cart, None, None, &checkout_body("a@example.com"))
        .await
        .body["order_id"]
        .as_str()
        .unwrap()
        .to_string();
    let stock = || async {
        app.get_as(
            &format!("/api/admin/products/{}", p["id"].as_str().unwrap()),
            &admin,
        )
        .await
        .body["variants"][0]["stock"]
            .clone()
    };
    assert_eq!(stock().await, 3);

    app.enqueue(NewJob::new(KIND_EXPIRE_UNPAID, json!({})))
        .await;
    assert!(app.run_pending_jobs().await >= 1);

    let detail = app
        .get_as(&format!("/api/admin/orders/{order}"), &admin)
        .await
        .body;
    assert_eq!(detail["status"], "cancelled");
    assert_eq!(detail["history"][1]["cause"], "expired: not paid in time");
    assert_eq!(stock().await, 5, "the reserved stock is back");
}

#[tokio::test]
async fn abandoned_carts_are_deleted_by_a_job() {
    let app = spawn_app_with(false, |s| s.orders.stale_cart_days = 0).await;
    let cart = app.new_cart(None).await;
    app.enqueue(NewJob::new(KIND_EXPIRE_CARTS, json!({}))).await;
    app.run_pending_jobs().await;
    app.get(&format!("/api/store/carts/{cart}"))
        .await
        .assert_problem(404, "cart-not-found");
}

#[tokio::test]
async fn a_failing_job_lands_in_dead_letters_and_an_admin_retry_queues_it_again() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let id = app
        .enqueue(
            NewJob::new("test.no_such_handler", json!({"n": 1}))
                .queue("misc")
                .max_attempts(1),
        )
        .await;
    app.run_pending_jobs().await;

    let dead = app.get_as("/api/admin/jobs/dead", &admin).await;
    assert_eq!(dead.status, 200, "{}", dead.body);
    let jobs = dead.body["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0]["id"], id.as_str());
    assert!(
        jobs[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("no handler"),
        "{}",
        jobs[0]
    );

    let shown = app.get_as(&format!("/api/admin/jobs/{id}"), &admin).await;
    assert_eq!(shown.body["state"], "dead");
    let retried = app
        .post_as(&format!("/api/admin/jobs/{id}/retry"), &admin, &json!({}))
        .await;
    assert_eq!(retried.status, 200, "{}", retried.body);
    assert_eq!(retried.body["state"], "pending");
    app.post_as(&format!("/api/admin/jobs/{id}/retry"), &admin, &json!({}))
        .await
        .assert_problem(409, "job-not-dead");
    app.get_as(
        "/api/admin/jobs/job_0193a0b2c3d47e8f9a0b1c2d3e4f5a6b",
        &admin,
    )
    .await
    .assert_problem(404, "job-not-found");

    let stats = app.get_as("/api/admin/jobs/stats", &admin).await.body;
    assert!(
        stats["queues"]
            .as_array()
            .unwrap()
            .iter()
            .any(|q| q["queue"] == "misc"),
        "{stats}"
    );
    let metrics = app.get("/metrics").await.body;
    assert!(
        metrics.as_str().unwrap().contains("queue=\"misc\""),
        "job queue gauges are exported"
    );
    app.get_as("/api/admin/jobs", &app.register("c@example.com").await)
        .await
        .assert_problem(403, "forbidden");
}

#[tokio::test]
async fn a_whole_process_runs_its_scheduled_work_without_help() {
    let app = spawn_full_app_with(|s| {
        s.orders.unpaid_expiry_minutes = 0;
        s.jobs.scheduler_interval_ms = 100;
        s.schedule = vec![cielo_jobs::ScheduleEntry {
            name: "expire-every-second".into(),
            cron: "* * * * * *".into(),
            kind: KIND_EXPIRE_UNPAID.into(),
            queue: "maintenance".into(),
            payload: json!({}),
            max_attempts: 3,
            timezone: None,
        }];
    })
    .await;
    let admin = app.admin_token().await;
    let p = app.create_product(&admin, "Poster", &[("P-1", 1000)]).await;
    let cart = app.new_cart(None).await;
    app.add_line(&cart, None, p["variants"][0]["id"].as_str().unwrap(), 1)
        .await;
    let order = app
        .checkout(&cart, None, None, &checkout_body("a@example.com"))
        .await
        .body["order_id"]
        .as_str()
        .unwrap()
        .to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let status = app
            .get_as(&format!("/api/admin/orders/{order}"), &admin)
            .await
            .body["status"]
            .clone();
        if status == "cancelled" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the scheduler and worker never cancelled the order (status {status})"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
