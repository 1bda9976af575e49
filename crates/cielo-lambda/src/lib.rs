//! Cielo on AWS Lambda: one binary, deployed as three functions.
//!
//! When the Lambda runtime starts the `cielo` binary (`AWS_LAMBDA_RUNTIME_API`
//! is set), `CIELO_LAMBDA_ROLE` says which function it is:
//!
//! - `api` ([`api`]): the shop's axum router behind API Gateway (HTTP APIs,
//!   payload 2.0; REST APIs, payload 1.0; function URLs; ALB), stage prefixes
//!   removed from the path, binary bodies (PNG previews) base64-encoded by
//!   `lambda_http`, and no response above Lambda's 6 MB limit;
//! - `worker` ([`worker`]): SQS batches of jobs, answered with partial batch
//!   failures (only failed messages return to the queue);
//! - `scheduler` ([`scheduler`]): EventBridge Scheduler (or an EventBridge
//!   rule's "Scheduled Event") runs one named `[[schedule]]` entry or all
//!   due ones.
//!
//! Nothing runs at cold start but building the services: migrations are the
//! deploy's `cielo migrate` step, catch-ups come from the schedule, and the
//! PostgreSQL pool (one or two connections, for RDS Proxy) connects on first
//! use. Jobs travel through SQS (`jobs.transport = "sqs"`): after a request,
//! a batch or a schedule run, jobs committed by it are relayed to the queue
//! before the function returns (a frozen instance relays nothing).
//!
//! The handlers are plain async functions over event types, tested with event
//! fixtures in `tests/fixtures/`.
//!
//! The crate is empty unless built with the `lambda` feature.
#![cfg(feature = "lambda")]
#![warn(missing_docs)]

pub mod api;
pub mod scheduler;
pub mod worker;

use cielo_db::Db;
use cielo_jobs::sqs::SqsTransport;
use cielo_jobs::{JobsSettings, Registry, ScheduleEntry, Transport};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The environment variable naming the function's role.
pub const ROLE_ENV: &str = "CIELO_LAMBDA_ROLE";

/// True when the process was started by the Lambda runtime.
pub fn is_lambda() -> bool {
    std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some()
}

/// Which function this deployment of the binary is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FunctionRole {
    /// The HTTP API.
    Api,
    /// The SQS job consumer.
    Worker,
    /// The schedule runner.
    Scheduler,
}

impl FunctionRole {
    /// From `CIELO_LAMBDA_ROLE` (`api`, `worker` or `scheduler`).
    pub fn from_env() -> Result<Self, String> {
        let v = std::env::var(ROLE_ENV).unwrap_or_default();
        Self::parse(&v)
    }

    /// Parses `api`, `worker` or `scheduler`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim() {
            "api" => Ok(Self::Api),
            "worker" => Ok(Self::Worker),
            "scheduler" => Ok(Self::Scheduler),
            other => Err(format!(
                "{ROLE_ENV} must be api, worker or scheduler (got {other:?})"
            )),
        }
    }
}

/// What the handlers share, built once per instance (at cold start).
#[derive(Clone)]
pub struct Services {
    /// The shop's HTTP router.
    pub router: axum::Router,
    /// The database (a lazily connecting pool).
    pub db: Db,
    /// The job handlers.
    pub registry: Arc<Registry>,
    /// The `[jobs]` settings.
    pub jobs: JobsSettings,
    /// The `[[schedule]]` entries.
    pub schedule: Vec<ScheduleEntry>,
    transport: Option<SqsTransport>,
    /// [`cielo_jobs::local_write_count`] at the last relay.
    relayed_at_writes: Arc<AtomicU64>,
}

impl Services {
    /// Bundles the services; with `jobs.transport = "sqs"` it also builds the
    /// SQS transport (credentials from the function's environment).
    pub fn new(
        router: axum::Router,
        db: Db,
        registry: Arc<Registry>,
        jobs: JobsSettings,
        schedule: Vec<ScheduleEntry>,
    ) -> Result<Self, cielo_jobs::Error> {
        let transport = match jobs.transport {
            Transport::Sqs => Some(SqsTransport::from_settings(&jobs)?),
            Transport::Database => None,
        };
        Ok(Self {
            router,
            db,
            registry,
            jobs,
            schedule,
            transport,
            relayed_at_writes: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Uses this transport (tests: a client pointed at an emulator).
    pub fn with_transport(mut self, transport: SqsTransport) -> Self {
        self.transport = Some(transport);
        self
    }

    /// The SQS transport, if jobs go through SQS.
    pub fn transport(&self) -> Option<&SqsTransport> {
        self.transport.as_ref()
    }

    /// Sends jobs committed in this instance to SQS (no-op on the database
    /// transport). Errors are logged: the jobs stay in the outbox and the
    /// next invocation (or the scheduler's) relays them.
    pub async fn relay(&self) -> usize {
        let Some(t) = &self.transport else {
            return 0;
        };
        self.relayed_at_writes
            .store(cielo_jobs::local_write_count(), Ordering::Release);
        match t.relay(&self.db, &self.registry).await {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(error = %e, "relaying jobs to SQS failed; they stay in the outbox");
                0
            }
        }
    }
}

impl Services {
    /// [`Services::relay`], only when this instance enqueued a job or
    /// published an event since the last relay: a request that wrote no job
    /// costs no query. (Jobs due later are relayed by the scheduler's runs.)
    pub async fn relay_if_written(&self) -> usize {
        if self.transport.is_none()
            || cielo_jobs::local_write_count() == self.relayed_at_writes.load(Ordering::Acquire)
        {
            return 0;
        }
        self.relay().await
    }
}

/// A handler's failure, reported to Lambda with a readable error type.
#[derive(Debug)]
pub struct HandlerError(pub String);

impl std::fmt::Display for HandlerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HandlerError {}

impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(e: HandlerError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: "CieloError".into(),
            error_message: e.0,
        }
    }
}

/// Serves invocations of `role` until the runtime stops the instance.
pub async fn run(role: FunctionRole, services: Services) -> Result<(), lambda_runtime::Error> {
    tracing::info!(role = ?role, transport = ?services.jobs.transport, "cielo Lambda function ready");
    match role {
        FunctionRole::Api => lambda_http::run(api::service(services)).await,
        FunctionRole::Worker => {
            if services.transport.is_none() {
                return Err("the worker function needs jobs.transport = \"sqs\"".into());
            }
            lambda_runtime::run(lambda_runtime::service_fn(
                move |event: lambda_runtime::LambdaEvent<aws_lambda_events::sqs::SqsEvent>| {
                    let s = services.clone();
                    async move { worker::handle(&s, event.payload).await }
                },
            ))
            .await
        }
        FunctionRole::Scheduler => {
            lambda_runtime::run(lambda_runtime::service_fn(
                move |event: lambda_runtime::LambdaEvent<serde_json::Value>| {
                    let s = services.clone();
                    async move { scheduler::handle(&s, event.payload).await }
                },
            ))
            .await
        }
    }
}
