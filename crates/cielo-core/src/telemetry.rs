//! Metrics through the maintained [`metrics`] facade.
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
