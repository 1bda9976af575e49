//! Metrics through the maintained [`metrics`] facade, and the hook that
//! carries trace context across jobs and requests ([`TracePropagation`]).
//!
//! Domains record with the facade's macros (`metrics::counter!(…)`), which go
//! to the process's global recorder: the binary installs a Prometheus one and
//! `/metrics` renders it; with none installed they cost nothing. Code on a hot
//! path (every HTTP request, every job attempt) registers its handles once
//! through a [`MetricsSink`] and keeps them, so recording is one atomic add;
//! a test hands the sink its own recorder and reads back only what it did.

use metrics::{Counter, Gauge, Histogram, Key, Label, Metadata, Recorder};
use std::sync::Arc;

static METADATA: Metadata<'static> =
    Metadata::new("cielo", metrics::Level::INFO, Some(module_path!()));

/// Where handles are registered: the global recorder (the default), or a
/// given one.
#[derive(Clone, Default)]
pub enum MetricsSink {
    /// The process's global recorder (or nothing, when none is installed).
    #[default]
    Global,
    /// A recorder of the caller's: tests, or an embedding program.
    Recorder(Arc<dyn Recorder + Send + Sync>),
}

impl std::fmt::Debug for MetricsSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Global => "MetricsSink::Global",
            Self::Recorder(_) => "MetricsSink::Recorder",
        })
    }
}

impl MetricsSink {
    fn with<T>(&self, f: impl FnOnce(&dyn Recorder) -> T) -> T {
        match self {
            Self::Global => metrics::with_recorder(f),
            Self::Recorder(r) => f(r.as_ref()),
        }
    }

    /// A counter handle for `name` with these labels.
    pub fn counter(&self, name: &'static str, labels: Vec<Label>) -> Counter {
        let key = Key::from_parts(name, labels);
        self.with(|r| r.register_counter(&key, &METADATA))
    }

    /// A gauge handle for `name` with these labels.
    pub fn gauge(&self, name: &'static str, labels: Vec<Label>) -> Gauge {
        let key = Key::from_parts(name, labels);
        self.with(|r| r.register_gauge(&key, &METADATA))
    }

    /// A histogram handle for `name` with these labels (observations in the
    /// unit the name ends with, e.g. `_seconds`).
    pub fn histogram(&self, name: &'static str, labels: Vec<Label>) -> Histogram {
        let key = Key::from_parts(name, labels);
        self.with(|r| r.register_histogram(&key, &METADATA))
    }
}

/// Trace context propagation: how a span's context is written down (a W3C
/// `traceparent` value, e.g. `00-<trace id>-<span id>-01`) and how a span is
/// made the child of one. Installed once by the binary when it exports traces
/// (the `otel` feature); without it [`current_trace_context`] is `None` and
/// [`set_trace_parent`] does nothing, for the cost of one atomic load. The
/// domains stay free of any tracing backend: the jobs store the text with a
/// job, the HTTP edge reads it from a request's `traceparent` header.
#[derive(Debug, Clone, Copy)]
pub struct TracePropagation {
    /// The current span's context as a `traceparent` value, or `None` when
    /// the current span is not traced.
    pub current: fn() -> Option<String>,
    /// Makes the context `traceparent` the parent of `span` (a span just
    /// created, not yet entered). An unreadable value is ignored.
    pub set_parent: fn(&tracing::Span, &str),
}

static PROPAGATION: std::sync::OnceLock<TracePropagation> = std::sync::OnceLock::new();

/// Installs the process's trace propagation; false when one was installed
/// already (the first one stays).
pub fn install_trace_propagation(p: TracePropagation) -> bool {
    PROPAGATION.set(p).is_ok()
}

/// True when traces are exported (a propagation is installed): the jobs then
/// read the trace context back with each claimed job.
pub fn traces_exported() -> bool {
    PROPAGATION.get().is_some()
}

/// The current span's context as a W3C `traceparent` value, when traces are
/// exported and the current span is traced.
pub fn current_trace_context() -> Option<String> {
    PROPAGATION.get().and_then(|p| (p.current)())
}

/// Makes `traceparent` the parent of `span` when traces are exported.
pub fn set_trace_parent(span: &tracing::Span, traceparent: &str) {
    if let Some(p) = PROPAGATION.get() {
        (p.set_parent)(span, traceparent);
    }
}
