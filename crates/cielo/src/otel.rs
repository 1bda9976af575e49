//! OpenTelemetry traces (the `otel` feature): every `tracing` span of the
//! process becomes an OpenTelemetry span, exported in batches over OTLP/HTTP
//! to the collector the standard `OTEL_EXPORTER_OTLP_*` variables name.
//!
//! The context crosses the places where the work leaves the process's call
//! stack as a W3C `traceparent` value, through the hook in
//! [`cielo_core::telemetry::TracePropagation`] that this module installs: the
//! jobs store it with each job and outbox event, the HTTP edge reads it from
//! a request's `traceparent` header, and the test payment provider sends it
//! with its webhooks.

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_otlp::{SpanExporter, WithHttpConfig};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use opentelemetry_sdk::Resource;
use std::collections::HashMap;
use std::sync::OnceLock;
use tracing::Subscriber;
use tracing_opentelemetry::{OpenTelemetryLayer, OpenTelemetrySpanExt};
use tracing_subscriber::registry::LookupSpan;

/// The service name when `OTEL_SERVICE_NAME` does not give one.
pub const DEFAULT_SERVICE_NAME: &str = "cielo";

static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

fn env_set(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| !v.trim().is_empty())
}

/// Whether traces are exported for the `log.traces` setting: `on`, `off`, or
/// `auto` (when `OTEL_EXPORTER_OTLP_ENDPOINT` or
/// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set).
pub fn wanted(traces: &str) -> bool {
    match traces {
        "on" => true,
        "off" => false,
        _ => {
            env_set("OTEL_EXPORTER_OTLP_ENDPOINT") || env_set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        }
    }
}

/// The layer that turns spans into OpenTelemetry spans, when traces are
/// wanted; also installs the trace propagation. `None` (and a message on
/// stderr) when the exporter cannot be built: the process runs untraced.
pub fn layer<S>(traces: &str) -> Option<OpenTelemetryLayer<S, SdkTracer>>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    if !wanted(traces) {
        return None;
    }
    let exporter = match SpanExporter::builder()
        .with_http()
        .with_http_client(ExportClient::new())
        .build()
    {
        Ok(e) => e,
        Err(e) => {
            // The subscriber is not installed yet: nowhere else to say it.
            eprintln!("warning: traces are not exported: {e}");
            return None;
        }
    };
    let mut resource = Resource::builder();
    // OTEL_SERVICE_NAME (read by the builder) wins over ours.
    if !env_set("OTEL_SERVICE_NAME") {
        resource = resource.with_service_name(DEFAULT_SERVICE_NAME);
    }
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource.build())
        .build();
    let tracer = provider.tracer("cielo");
    if PROVIDER.set(provider).is_err() {
        return None; // installed already (a second init in one process)
    }
    cielo_core::telemetry::install_trace_propagation(cielo_core::telemetry::TracePropagation {
        current,
        set_parent,
    });
    Some(tracing_opentelemetry::layer().with_tracer(tracer))
}

/// Sends the spans still buffered and stops the exporter. Call once, at the
/// end of `main`, outside the async runtime (it blocks until the last batch
/// is sent or times out).
pub fn shutdown() {
    if let Some(provider) = PROVIDER.get() {
        if let Err(e) = provider.shutdown() {
            eprintln!("warning: the last traces were not exported: {e}");
        }
    }
}

/// The current span's context as a `traceparent` value.
fn current() -> Option<String> {
    let cx = tracing::Span::current().context();
    if !cx.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = HashMap::with_capacity(2);
    TraceContextPropagator::new().inject_context(&cx, &mut carrier);
    carrier.remove("traceparent")
}

/// Makes the `traceparent` value the parent of `span`.
fn set_parent(span: &tracing::Span, traceparent: &str) {
    let carrier = HashMap::from([("traceparent".to_string(), traceparent.to_string())]);
    let cx = TraceContextPropagator::new().extract(&carrier);
    if cx.span().span_context().is_valid() {
        // An error means the span is disabled or already started: it keeps
        // its own trace.
        let _ = span.set_parent(cx);
    }
}

/// The exporter's HTTP client: the shop's reqwest client (no second HTTP
/// stack to compile), run on a small runtime of its own, because the batch
/// processor exports from its own thread, outside the application's runtime,
/// and the last batch is sent after that runtime has stopped.
#[derive(Debug)]
struct ExportClient {
    http: reqwest::Client,
}

fn export_runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("otel-export")
            .enable_all()
            .build()
            .expect("the trace exporter's runtime starts")
    })
}

impl ExportClient {
    fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .user_agent(concat!("cielo/", env!("CARGO_PKG_VERSION")))
                .build()
                .unwrap_or_default(),
        }
    }
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for ExportClient {
    async fn send_bytes(
        &self,
        request: axum::http::Request<bytes::Bytes>,
    ) -> Result<axum::http::Response<bytes::Bytes>, opentelemetry_http::HttpError> {
        let (parts, body) = request.into_parts();
        let http = self.http.clone();
        let sent = export_runtime().spawn(async move {
            let res = http
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .send()
                .await?;
            let status = res.status();
            let headers = res.headers().clone();
            let body = res.bytes().await?;
            Ok::<_, reqwest::Error>((status, headers, body))
        });
        let (status, headers, body) = sent.await??;
        let mut res = axum::http::Response::new(body);
        *res.status_mut() = status;
        *res.headers_mut() = headers;
        Ok(res)
    }
}
