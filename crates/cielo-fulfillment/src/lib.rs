//! Print labs behind one trait: Printful (v1 Orders API), Prodigi (v4) and a
//! built-in `local` lab that walks an order to `delivered` on its own.
//!
//! The order lifecycle hands this domain a [`SubmissionRequest`] in its own
//! transaction ([`Fulfillment::plan_submission`]); from there a job submits it
//! to the lab **exactly once** (ARCHITECTURE.md guarantee 2):
//!
//! * the submission's state is stored before the call (`sending`) and after it
//!   (`accepted` / `refused`), in `fulfillment_lab_order`;
//! * the lab knows the order by a key derived from our order id (Printful
//!   `external_id`, Prodigi `idempotencyKey`), so a retry after a timeout, a 5xx
//!   or a crash reuses it, and where the outcome is unknown the lab is asked
//!   first (Printful `GET /orders/@{external_id}`; Prodigi answers
//!   `AlreadyExists` to the same key).
//!
//! What the lab says afterwards comes in as webhooks, treated as hints (the
//! order is re-read from the lab before anything changes), and through the
//! catch-up, which polls every open lab order. Stages only move forward and
//! shipments are merged, never overwritten. Every change is published as a
//! [`LabOrderUpdated`] event on [`TOPIC_LAB_ORDER_UPDATED`] in the same
//! transaction.
//!
//! This domain never reads the orders tables.
#![warn(missing_docs)]

mod client;
mod ids;
mod lab;
mod listing;
mod local;
mod printful;
mod prodigi;
mod quote;
mod service;
mod settings;
mod stage;
mod store;
mod webhook;

#[cfg(feature = "testing")]
pub mod testing;

pub use ids::{printful_external_id, prodigi_idempotency_key};
pub use listing::LabListing;
pub use quote::QuoteItem;
pub use service::{CatchUpReport, Fulfillment, PAID_TO_LAB_METRIC};
pub use settings::{FulfillmentSettings, LabSecrets, LocalLabSettings};
pub use stage::{merge_shipments, printful_stage, prodigi_stage};
pub use webhook::WebhookError;

use cielo_core::Timestamp;
use serde::{Deserialize, Serialize};

cielo_core::typed_id!(LabOrderId, "lbo", "One order's submission to one lab.");

/// The fulfillment domain's migrations; pass it to `Db::migrate` with the others.
pub const MIGRATIONS: cielo_db::MigrationSet = cielo_db::MigrationSet {
    domain: "fulfillment",
    migrations: &[cielo_db::migration!(20261129100000, "fulfillment")],
};

/// Registers the help text of the fulfillment series with the global
/// recorder: [`PAID_TO_LAB_METRIC`] (histogram, seconds, by `lab`).
pub fn describe_metrics() {
    metrics::describe_histogram!(
        PAID_TO_LAB_METRIC,
        metrics::Unit::Seconds,
        "From the order paid to its lab order accepted by the lab."
    );
}

/// The outbox topic of [`LabOrderUpdated`].
pub const TOPIC_LAB_ORDER_UPDATED: &str = "fulfillment.lab_order_updated";

/// Job kinds this domain registers (see [`Fulfillment::register`]).
pub mod jobs {
    /// Sends one planned submission to its lab. Payload `{"lab_order_id"}`.
    pub const SUBMIT: &str = "fulfillment.submit";
    /// Re-reads one lab order from its lab and applies it. Payload `{"lab_order_id", "cause"}`.
    pub const REFRESH: &str = "fulfillment.refresh";
    /// The local lab's next step. Payload `{"lab_order_id", "stage"}`.
    pub const LOCAL_STEP: &str = "fulfillment.local_step";
    /// Polls every open lab order and re-sends missing submissions. No payload.
    pub const CATCH_UP: &str = "fulfillment.catch_up";
    /// The job queue of the calls to a lab (submit, refresh): they spend
    /// their time waiting on the lab's answer, so the queue gets a lane of its
    /// own with many slots (`[jobs.queues.labs]`) rather than taking the
    /// slots quick jobs share.
    pub const LAB_QUEUE: &str = "labs";
}

/// A print lab.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
    PartialOrd,
    Ord,
)]
#[serde(rename_all = "snake_case")]
pub enum Lab {
    /// The built-in lab: accepts everything and walks it to `delivered` on its own.
    Local,
    /// Printful (v1 Orders API).
    Printful,
    /// Prodigi (Print API v4).
    Prodigi,
}

impl Lab {
    /// The wire and database form.
    pub fn as_str(&self) -> &'static str {
        match self {
            Lab::Local => "local",
            Lab::Printful => "printful",
            Lab::Prodigi => "prodigi",
        }
    }
    /// Parses the wire form (`local`, `printful`, `prodigi`).
    pub fn parse(s: &str) -> Option<Lab> {
        match s {
            "local" => Some(Lab::Local),
            "printful" => Some(Lab::Printful),
            "prodigi" => Some(Lab::Prodigi),
            _ => None,
        }
    }
}

impl std::fmt::Display for Lab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a lab order stands, in our words (the lab's own status is kept raw
/// beside it). See docs/fulfillment.md for the map from each lab's
/// statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LabStage {
    /// Recorded, not sent yet (edit window, or waiting for its job).
    Planned,
    /// The lab has the order.
    Submitted,
    /// The lab paused the order (its own review, costs, a problem it must solve).
    OnHold,
    /// Being made.
    InProduction,
    /// At least one shipment left the lab.
    Shipped,
    /// Delivered to the recipient.
    Delivered,
    /// The lab refused or failed the order (bad address, bad file, item
    /// unavailable); `reason` says why. A person resubmits or cancels.
    Refused,
    /// Cancelled at the lab (or before it was sent).
    Cancelled,
}

impl LabStage {
    /// The wire and database form.
    pub fn as_str(&self) -> &'static str {
        match self {
            LabStage::Planned => "planned",
            LabStage::Submitted => "submitted",
            LabStage::OnHold => "on_hold",
            LabStage::InProduction => "in_production",
            LabStage::Shipped => "shipped",
            LabStage::Delivered => "delivered",
            LabStage::Refused => "refused",
            LabStage::Cancelled => "cancelled",
        }
    }
    /// Parses the database form.
    pub fn parse(s: &str) -> Option<LabStage> {
        Some(match s {
            "planned" => LabStage::Planned,
            "submitted" => LabStage::Submitted,
            "on_hold" => LabStage::OnHold,
            "in_production" => LabStage::InProduction,
            "shipped" => LabStage::Shipped,
            "delivered" => LabStage::Delivered,
            "refused" => LabStage::Refused,
            "cancelled" => LabStage::Cancelled,
            _ => return None,
        })
    }
    /// True when nothing more will happen at the lab without a person
    /// (delivered, refused, cancelled).
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            LabStage::Delivered | LabStage::Refused | LabStage::Cancelled
        )
    }
}

impl std::fmt::Display for LabStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who receives the parcel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Recipient {
    /// Full name.
    pub name: String,
    /// Email (couriers and customs use it).
    pub email: String,
    /// Phone, for the carrier.
    #[serde(default)]
    pub phone: Option<String>,
    /// First address line.
    pub line1: String,
    /// Second address line.
    #[serde(default)]
    pub line2: Option<String>,
    /// City or town.
    pub city: String,
    /// State, province or county (Printful needs it for US/CA/AU).
    #[serde(default)]
    pub region: Option<String>,
    /// Postal code.
    pub postal_code: String,
    /// ISO 3166-1 alpha-2 country code.
    pub country: String,
}

/// One order line going to a lab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LabItem {
    /// Our order line id (the lab's item external id / merchant reference).
    pub line_id: String,
    /// Printful's catalog variant id (digits) or Prodigi's SKU.
    pub lab_product_id: String,
    /// Copies.
    pub quantity: u32,
    /// The print file: a signed URL valid for at least 30 days (the lab
    /// retries downloads), or a public URL. `None` for products without one.
    #[serde(default)]
    pub print_file_url: Option<String>,
    /// The print file's size in pixels (width, height), for the record.
    #[serde(default)]
    pub print_px: Option<(u32, u32)>,
}

/// Everything a lab needs for one order. Given by the order lifecycle; this
/// domain never reads the orders tables.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SubmissionRequest {
    /// Our order id (`ord_…`).
    pub order_id: String,
    /// The lab.
    pub lab: Lab,
    /// Who receives it.
    pub recipient: Recipient,
    /// The lines for this lab.
    pub items: Vec<LabItem>,
    /// ISO 4217 currency of the order (for retail costs and quotes).
    pub currency: String,
    /// When the order was paid, if known: the lab's acceptance observes
    /// `cielo_order_paid_to_lab_seconds` from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid_at: Option<Timestamp>,
}

/// One parcel that left the lab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Shipment {
    /// Carrier (`USPS`, `Royal Mail`, …).
    pub carrier: String,
    /// The carrier's service, when known.
    #[serde(default)]
    pub service: Option<String>,
    /// Tracking number.
    pub tracking_number: String,
    /// Tracking page.
    #[serde(default)]
    pub tracking_url: Option<String>,
    /// When it left the lab.
    pub shipped_at: Timestamp,
    /// Our order line ids in the parcel (empty when the lab does not say).
    #[serde(default)]
    pub line_ids: Vec<String>,
    /// The lab's shipment id: shipments merge by it, else by tracking number.
    pub lab_shipment_id: String,
}

/// Published on [`TOPIC_LAB_ORDER_UPDATED`] whenever a lab order's stage
/// changes or it gains a shipment, in the same transaction as the change.
/// Consumers must be idempotent and never move an order backwards: events can
/// be duplicated, late or reordered; `shipments` is always the full merged
/// list known at the time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LabOrderUpdated {
    /// Our order id.
    pub order_id: String,
    /// The lab order (`lbo_…`).
    pub lab_order_id: String,
    /// The lab.
    pub lab: Lab,
    /// The new stage.
    pub stage: LabStage,
    /// The lab's reason, for `refused` (and `on_hold` when given).
    #[serde(default)]
    pub reason: Option<String>,
    /// Every shipment known so far.
    #[serde(default)]
    pub shipments: Vec<Shipment>,
    /// What caused it (`submit`, `webhook:package_shipped`, `catch_up`, `local_lab`, `admin:…`).
    pub cause: String,
}

/// A lab order as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LabOrderView {
    /// The lab order.
    pub id: LabOrderId,
    /// Our order id.
    pub order_id: String,
    /// The lab.
    pub lab: Lab,
    /// Our stage.
    pub stage: LabStage,
    /// The lab's own status, as it gave it (`inprocess`, `InProgress`, …).
    pub raw_status: Option<String>,
    /// The lab's reason, when it refused or put the order on hold.
    pub reason: Option<String>,
    /// Submission state: `planned`, `sending` (outcome not known yet), `accepted`, `refused`, `cancelled`.
    pub submit_state: String,
    /// What the lab knows us by (Printful `external_id`, Prodigi `idempotencyKey`).
    pub external_ref: String,
    /// The lab's own id, once known.
    pub lab_ref: Option<String>,
    /// Resubmissions so far.
    pub generation: i64,
    /// Not sent before this time (the edit window).
    pub hold_until: Timestamp,
    /// When the lab accepted it.
    pub submitted_at: Option<Timestamp>,
    /// Shipments, merged.
    pub shipments: Vec<Shipment>,
    /// The lines and recipient sent (or to be sent).
    pub request: SubmissionRequest,
    /// What happened, oldest first.
    pub history: Vec<LabHistoryEntry>,
}

/// One step of a lab order's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LabHistoryEntry {
    /// When.
    pub at: Timestamp,
    /// Our stage after it.
    pub stage: LabStage,
    /// The lab's raw status then.
    pub raw_status: Option<String>,
    /// Why.
    pub cause: String,
}

/// Errors of the fulfillment domain.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No such lab order.
    #[error("no lab order {0}")]
    NotFound(String),
    /// The change is no longer possible: the lab has the order and offers no
    /// way to change it (or it has shipped).
    #[error("too late to change lab order {lab_order_id}: {detail}")]
    TooLate {
        /// The lab order.
        lab_order_id: String,
        /// Why.
        detail: String,
    },
    /// The action does not apply to the lab order's state (e.g. resubmitting
    /// one that was not refused).
    #[error("lab order {lab_order_id} is {stage}: {detail}")]
    WrongState {
        /// The lab order.
        lab_order_id: String,
        /// Its stage.
        stage: LabStage,
        /// What was asked.
        detail: String,
    },
    /// The lab is not configured (no API token).
    #[error("lab {0} is not configured")]
    NotConfigured(Lab),
    /// The lab failed or could not be reached; retrying later may work.
    #[error("lab unavailable: {0}")]
    LabUnavailable(String),
    /// A stored row is malformed.
    #[error("malformed stored data: {0}")]
    Malformed(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] cielo_db::Error),
    /// The job queue failed.
    #[error(transparent)]
    Jobs(#[from] cielo_jobs::Error),
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Db(cielo_db::Error::Sqlx(e))
    }
}

impl cielo_core::HasErrorKind for Error {
    fn kind(&self) -> cielo_core::ErrorKind {
        use cielo_core::ErrorKind;
        match self {
            Error::NotFound(_) => ErrorKind::NotFound,
            Error::TooLate { .. } | Error::WrongState { .. } => ErrorKind::Conflict,
            Error::NotConfigured(_) | Error::LabUnavailable(_) => ErrorKind::Unavailable,
            Error::Malformed(_) | Error::Db(_) | Error::Jobs(_) => ErrorKind::Internal,
        }
    }
    fn code(&self) -> &'static str {
        match self {
            Error::NotFound(_) => "lab-order-not-found",
            Error::TooLate { .. } => "lab-order-too-late",
            Error::WrongState { .. } => "lab-order-wrong-state",
            Error::NotConfigured(_) => "lab-not-configured",
            Error::LabUnavailable(_) => "lab-unavailable",
            Error::Malformed(_) => "lab-order-malformed",
            Error::Db(_) => "database-error",
            Error::Jobs(_) => "jobs-error",
        }
    }
}

/// Results of this domain.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    #[test]
    fn both_engines_list_the_same_migrations() {
        cielo_db::check_set(&super::MIGRATIONS).unwrap();
    }
}
