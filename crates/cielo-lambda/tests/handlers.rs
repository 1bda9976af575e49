//! The three Lambda handlers as plain async functions, fed with event
//! fixtures (`tests/fixtures/`), on the engine `CIELO_TEST_DATABASE_URL`
//! selects (unset: SQLite). The API is the real application's router, driven
//! through `lambda_http`'s own event conversion, as `lambda_http::run` does.
#![cfg(feature = "lambda")]

use base64::Engine;
use cielo_db::testing::TestDatabase;
use cielo_jobs::sqs::{SqsClient, SqsConfig, SqsTransport};
use cielo_jobs::{JobError, JobsSettings, Registry, ScheduleEntry};
use cielo_lambda::{api, scheduler, worker, Services};
use lambda_http::lambda_runtime::{Context, LambdaEvent};
use lambda_http::request::LambdaRequest;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use tower::ServiceExt;

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn schedule() -> Vec<ScheduleEntry> {
    let entry = |name: &str, cron: &str| ScheduleEntry {
        name: name.into(),
        cron: cron.into(),
        kind: "test.record".into(),
        queue: "maintenance".into(),
        payload: json!({"key": name}),
        max_attempts: 3,
        timezone: None,
    };
    vec![
        entry("every-five-minutes", "*/5 * * * *"),
        entry("hourly", "0 * * * *"),
    ]
}

struct Env {
    services: Services,
    recorded: Arc<Mutex<Vec<String>>>,
    _db: TestDatabase,
}

/// The application as the `api` function builds it, after the deploy's
/// migration step; job handlers `test.record` (records the payload's key)
/// and `test.fail` (always a retryable failure).
async fn env() -> Env {
    let tdb = TestDatabase::create().await;
    let mut settings = cielo::Settings::default();
    settings.database.url = Some(tdb.url.expose().to_string());
    settings.data_dir =
        std::env::temp_dir().join(format!("cielo-lambda-{}", uuid::Uuid::new_v4().simple()));
    settings.database.max_connections = 2;
    settings.schedule = schedule();
    // The deploy's `cielo migrate`; the function itself never migrates.
    cielo::app::connect_and_migrate(&settings)
        .await
        .unwrap()
        .close()
        .await;
    let app = cielo::Application::build_serverless(settings.clone())
        .await
        .unwrap();
    let recorded = Arc::new(Mutex::new(Vec::new()));
    let mut registry = Registry::new();
    let r = recorded.clone();
    registry
        .handle("test.record", move |_, p| {
            let r = r.clone();
            async move {
                r.lock()
                    .unwrap()
                    .push(p["key"].as_str().unwrap_or("").to_string());
                Ok::<(), JobError>(())
            }
        })
        .handle("test.fail", |_, _| async {
            Err(JobError::retry("the print lab is down"))
        });
    let services = Services::new(
        app.router(),
        app.state().db.clone(),
        Arc::new(registry),
        settings.jobs.clone(),
        settings.schedule.clone(),
    )
    .unwrap();
    Env {
        services,
        recorded,
        _db: tdb,
    }
}

/// An SQS transport whose endpoint refuses connections: the handlers' calls
/// to SQS (a retry's visibility change) fail fast and are only logged.
fn offline_transport() -> SqsTransport {
    let client = SqsClient::new(SqsConfig {
        endpoint: "http://127.0.0.1:9".into(),
        region: "us-east-1".into(),
        access_key_id: "test".into(),
        secret_access_key: "test".into(),
        session_token: None,
    });
    let mut jobs = JobsSettings::default();
    jobs.sqs.queue_url = Some("http://127.0.0.1:9/123456789012/cielo-jobs".into());
    SqsTransport::with_client(client, &jobs).unwrap()
}

/// Runs an API Gateway / function URL event through `lambda_http`'s
/// conversion and the `api` service; returns the event answer as JSON.
async fn invoke(s: &Services, event_json: &str) -> Value {
    let event: LambdaRequest = serde_json::from_str(event_json).expect("a valid event");
    let adapter = lambda_http::Adapter::from(api::service(s.clone()));
    let answer = adapter
        .oneshot(LambdaEvent::new(event, Context::default()))
        .await
        .unwrap();
    serde_json::to_value(answer).unwrap()
}

fn header(answer: &Value, name: &str) -> Option<String> {
    answer["headers"][name]
        .as_str()
        .map(str::to_string)
        .or_else(|| {
            answer["multiValueHeaders"][name][0]
                .as_str()
                .map(str::to_string)
        })
}

fn json_body(answer: &Value) -> Value {
    let body = answer["body"].as_str().expect("a body");
    let text = if answer["isBase64Encoded"] == json!(true) {
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(body)
                .unwrap(),
        )
        .unwrap()
    } else {
        body.to_string()
    };
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

// ---- api ----

#[tokio::test]
async fn every_api_event_shape_reaches_the_same_route() {
    let e = env().await;
    for name in [
        "apigw_v2_default_stage.json",
        "apigw_v2_named_stage.json",
        "apigw_v2_custom_domain.json",
        "function_url.json",
        "apigw_v1_with_stage.json",
        "apigw_v1_without_stage.json",
    ] {
        // Act
        let answer = invoke(&e.services, &fixture(name)).await;

        // Assert: the product listing, not a 404 for `/prod/api/…`.
        assert_eq!(answer["statusCode"], 200, "{name}: {answer}");
        assert_eq!(answer["isBase64Encoded"], false, "{name}");
        assert!(
            header(&answer, "content-type")
                .unwrap_or_default()
                .starts_with("application/json"),
            "{name}: {answer}"
        );
        let body = json_body(&answer);
        assert!(body["products"].is_array(), "{name}: {body}");
    }
}

#[tokio::test]
async fn an_unknown_route_under_a_stage_is_a_problem_naming_the_routed_path() {
    let e = env().await;
    let answer = invoke(&e.services, &fixture("apigw_v2_unknown_route.json")).await;
    assert_eq!(answer["statusCode"], 404, "{answer}");
    assert_eq!(
        header(&answer, "content-type").as_deref(),
        Some("application/problem+json")
    );
    assert_eq!(json_body(&answer)["instance"], "/api/store/nowhere");
}

#[tokio::test]
async fn a_png_preview_comes_back_base64_encoded() {
    let e = env().await;

    // Act
    let answer = invoke(&e.services, &fixture("apigw_v2_png_preview.json")).await;

    // Assert
    assert_eq!(answer["statusCode"], 200, "{answer}");
    assert_eq!(
        header(&answer, "content-type").as_deref(),
        Some("image/png")
    );
    assert_eq!(answer["isBase64Encoded"], true);
    let png = base64::engine::general_purpose::STANDARD
        .decode(answer["body"].as_str().unwrap())
        .unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG, byte for byte");
}

#[tokio::test]
async fn a_json_post_and_a_base64_body_are_read_and_the_client_address_is_known() {
    let e = env().await;

    // Act: register (plain JSON body), then sign in (API Gateway sent the body
    // base64-encoded; the sign-in route also reads the client address).
    let registered = invoke(&e.services, &fixture("apigw_v2_register.json")).await;
    let login = invoke(&e.services, &fixture("apigw_v2_login_base64_body.json")).await;

    // Assert
    assert_eq!(registered["statusCode"], 201, "{registered}");
    assert_eq!(login["statusCode"], 200, "{login}");
    assert!(json_body(&login)["token"].is_string(), "{login}");
}

#[tokio::test]
async fn no_response_above_lambda_s_limit_is_sent() {
    // Arrange: a router with a body just under and one just over the limit.
    let e = env().await;
    let router = axum::Router::new()
        .route(
            "/under",
            axum::routing::get(|| async {
                (
                    [("content-type", "application/octet-stream")],
                    vec![7u8; api::MAX_BODY_BYTES],
                )
            }),
        )
        .route(
            "/over",
            axum::routing::get(|| async {
                (
                    [("content-type", "application/octet-stream")],
                    vec![7u8; api::MAX_BODY_BYTES + 1],
                )
            }),
        );
    let s = Services::new(
        router,
        e.services.db.clone(),
        e.services.registry.clone(),
        e.services.jobs.clone(),
        vec![],
    )
    .unwrap();
    let event = |path: &str| {
        let mut v: Value = serde_json::from_str(&fixture("function_url.json")).unwrap();
        v["rawPath"] = json!(path);
        v["rawQueryString"] = json!("");
        v["requestContext"]["http"]["path"] = json!(path);
        v.to_string()
    };

    // Act
    let under = invoke(&s, &event("/under")).await;
    let over = invoke(&s, &event("/over")).await;

    // Assert: base64 of the largest body sent stays under 6 MB.
    assert_eq!(under["statusCode"], 200);
    let sent = under["body"].as_str().unwrap().len();
    assert!(sent < 6 * 1024 * 1024 - 64 * 1024, "{sent} bytes of base64");
    assert_eq!(over["statusCode"], 500);
    assert_eq!(
        header(&over, "content-type").as_deref(),
        Some("application/problem+json")
    );
    assert_eq!(
        json_body(&over)["type"],
        "urn:cielo:problem:response-too-large"
    );
}

// ---- worker ----

fn failures(answer: &Value) -> Vec<String> {
    let mut ids: Vec<String> = answer["batchItemFailures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

async fn invoke_worker(s: &Services, name: &str) -> Value {
    let event = serde_json::from_str(&fixture(name)).expect("an SQS event");
    let answer = worker::handle(s, event).await.unwrap();
    serde_json::to_value(answer).unwrap()
}

#[tokio::test]
async fn a_batch_reports_only_the_failing_and_the_unreadable_message() {
    let e = env().await;
    let s = e.services.clone().with_transport(offline_transport());

    // Act
    let answer = invoke_worker(&s, "sqs_batch.json").await;

    // Assert
    assert_eq!(failures(&answer), vec!["m-bad-3", "m-fail-2"], "{answer}");
    assert_eq!(
        *e.recorded.lock().unwrap(),
        vec!["ok-1"],
        "the good job ran once"
    );
}

#[tokio::test]
async fn a_job_failing_its_last_attempt_is_a_dead_letter_not_a_batch_failure() {
    let e = env().await;
    let s = e.services.clone().with_transport(offline_transport());

    // Act
    let answer = invoke_worker(&s, "sqs_last_attempt.json").await;

    // Assert
    assert_eq!(failures(&answer), Vec::<String>::new(), "{answer}");
    let dead = cielo_jobs::dead_letters(&s.db, None, None, None)
        .await
        .unwrap()
        .jobs;
    assert_eq!(dead.len(), 1);
    assert_eq!(
        dead[0].id.to_string(),
        "job_01938a3c5b2e7c4d8e9f0a1b2c3d4e53"
    );
    assert_eq!(dead[0].attempts, 3);
    assert_eq!(dead[0].last_error.as_deref(), Some("the print lab is down"));
}

#[tokio::test]
async fn in_a_fifo_batch_nothing_overtakes_a_failed_job() {
    let e = env().await;
    let s = e.services.clone().with_transport(offline_transport());

    // Act
    let answer = invoke_worker(&s, "sqs_fifo_batch.json").await;

    // Assert: f-2 failed, f-3 goes back unrun behind it.
    assert_eq!(failures(&answer), vec!["f-2", "f-3"], "{answer}");
    assert_eq!(*e.recorded.lock().unwrap(), vec!["f-1"]);
}

#[tokio::test]
async fn the_worker_refuses_to_run_without_the_sqs_transport() {
    let e = env().await;
    let event = serde_json::from_str(&fixture("sqs_batch.json")).unwrap();
    assert!(worker::handle(&e.services, event).await.is_err());
}

// ---- scheduler ----

async fn jobs_of(s: &Services) -> Vec<(String, Value)> {
    let page = cielo_jobs::list_jobs(&s.db, &cielo_jobs::JobFilter::default())
        .await
        .unwrap();
    let mut jobs: Vec<(String, Value)> = page
        .jobs
        .into_iter()
        .map(|j| {
            (
                j.payload["key"].as_str().unwrap_or("").to_string(),
                j.payload["tick"].clone(),
            )
        })
        .collect();
    jobs.sort_by(|a, b| a.1.to_string().cmp(&b.1.to_string()));
    jobs
}

#[tokio::test]
async fn a_scheduled_event_envelope_runs_every_due_entry_once() {
    let e = env().await;
    let envelope: Value =
        serde_json::from_str(&fixture("eventbridge_scheduled_event.json")).unwrap();
    let at = |time: &str| {
        let mut v = envelope.clone();
        v["time"] = json!(time);
        v
    };

    // Act: the first run only records the entries (a new entry waits for its
    // next tick); then 10:05 and 11:00 are due; a duplicate delivery of 11:00.
    let first = scheduler::handle(&e.services, at("2026-11-29T10:04:00Z"))
        .await
        .unwrap();
    let five = scheduler::handle(&e.services, envelope.clone())
        .await
        .unwrap();
    let eleven = scheduler::handle(&e.services, at("2026-11-29T11:00:30Z"))
        .await
        .unwrap();
    let again = scheduler::handle(&e.services, at("2026-11-29T11:00:40Z"))
        .await
        .unwrap();

    // Assert
    assert_eq!(first["enqueued"], json!([]));
    assert_eq!(
        five["enqueued"],
        json!([{"schedule": "every-five-minutes", "tick": "2026-11-29T10:05:00Z"}])
    );
    assert_eq!(
        eleven["enqueued"],
        json!([
            {"schedule": "every-five-minutes", "tick": "2026-11-29T11:00:00Z"},
            {"schedule": "hourly", "tick": "2026-11-29T11:00:00Z"}
        ])
    );
    assert_eq!(again["enqueued"], json!([]), "each tick once");
    assert_eq!(jobs_of(&e.services).await.len(), 3);
}

#[tokio::test]
async fn a_scheduler_payload_runs_its_named_entry_or_all_due_ones() {
    let e = env().await;
    let named: Value = serde_json::from_str(&fixture("scheduler_named_entry.json")).unwrap();
    let due: Value = serde_json::from_str(&fixture("scheduler_all_due.json")).unwrap();
    let mut earlier = named.clone();
    earlier["time"] = json!("2026-11-29T10:09:00Z");

    // Act
    let record = scheduler::handle(&e.services, earlier).await.unwrap();
    let ten = scheduler::handle(&e.services, named.clone()).await.unwrap();
    let ten_again = scheduler::handle(&e.services, named).await.unwrap();
    let quarter = scheduler::handle(&e.services, due).await.unwrap();
    let unknown = scheduler::handle(&e.services, json!({"task": "no-such-entry"})).await;

    // Assert: only the named entry ran at 10:10 (the hourly one was not asked).
    assert_eq!(record["enqueued"], json!([]));
    assert_eq!(
        ten["enqueued"],
        json!([{"schedule": "every-five-minutes", "tick": "2026-11-29T10:10:00Z"}])
    );
    assert_eq!(ten_again["enqueued"], json!([]));
    assert_eq!(
        quarter["enqueued"],
        json!([{"schedule": "every-five-minutes", "tick": "2026-11-29T10:15:00Z"}]),
        "`due`: every entry whose tick is due; the hourly entry is new and waits"
    );
    assert!(unknown.is_err());
    assert_eq!(
        jobs_of(&e.services).await,
        vec![
            (
                "every-five-minutes".to_string(),
                json!("2026-11-29T10:10:00Z")
            ),
            (
                "every-five-minutes".to_string(),
                json!("2026-11-29T10:15:00Z")
            ),
        ]
    );
}

#[test]
fn both_scheduler_event_shapes_are_read() {
    let now = cielo_core::Timestamp::parse_rfc3339("2026-11-29T12:00:00Z").unwrap();
    let envelope: Value =
        serde_json::from_str(&fixture("eventbridge_scheduled_event.json")).unwrap();
    let inv = scheduler::parse(&envelope, now);
    assert_eq!(inv.entry, None);
    assert_eq!(inv.at.to_string(), "2026-11-29T10:05:00Z");
    let mut with_detail = envelope.clone();
    with_detail["detail"] = json!({"task": "hourly"});
    assert_eq!(
        scheduler::parse(&with_detail, now).entry.as_deref(),
        Some("hourly")
    );
    let named: Value = serde_json::from_str(&fixture("scheduler_named_entry.json")).unwrap();
    assert_eq!(
        scheduler::parse(&named, now).entry.as_deref(),
        Some("every-five-minutes")
    );
    assert_eq!(
        scheduler::parse(&json!({}), now),
        scheduler::Invocation {
            entry: None,
            at: now
        }
    );
    assert_eq!(scheduler::parse(&json!({"task": "due"}), now).entry, None);
}
