//! The order's life after payment, in one place.
//!
//! ```text
//! order.paid ──> flows.order_paid ──┬─ star-map lines without a print file ──> artwork.render (queue `render`)
//!                                   │                                              │
//!                                   └──────────────── advance <────────────────────┘
//! advance: one transaction: the lines grouped per lab -> cielo-fulfillment's plan_submission
//!          (sent after `fulfillment.hold_minutes`, the edit window), order -> in_production.
//!          Lines whose variant has no lab wait for the shop to mark them shipped.
//!          Digital-download lines never go to a lab: an order of them only goes on
//!          to `delivered` at once, and [`Flows::downloads`] hands out their files.
//! fulfillment.lab_order_updated ──> flows.lab_order_updated ──> settle:
//!          the lab orders' shipments merged into the order's `shipments[]`, then the order moves
//!          forward only: in_production -> shipped -> delivered, or needs_attention when a lab refused.
//! ```
//!
//! Every step reacts to a typed outbox event of the domain that owns it
//! ([`cielo_orders::OrderStatusChanged`], [`cielo_fulfillment::LabOrderUpdated`]),
//! is idempotent (events arrive at least once, late or reordered), and reads
//! what it decides on through its own transaction, so a pool of one
//! connection is enough.
//!
//! The shop's hands on it (admin API and CLI) are here too: mark shipped by
//! hand, mark delivered, resolve `needs_attention`, resubmit or cancel a lab
//! order, and the buyer's changes during the edit window ([`Flows::amend`]).
#![warn(missing_docs)]

pub mod downloads;
mod shipping;
mod timeline;
pub use downloads::{DownloadFile, DownloadSettings, DownloadState, Downloads};
pub use shipping::LabShipping;
pub use timeline::PaymentLine;

use cielo_core::{ErrorKind, FieldError, HasErrorKind, PostalAddress, Timestamp};
use cielo_db::sqlx::AnyConnection;
use cielo_db::Db;
use cielo_fulfillment::{
    Fulfillment, Lab, LabItem, LabOrderId, LabOrderUpdated, LabOrderView, LabStage, Recipient,
    SubmissionRequest, TOPIC_LAB_ORDER_UPDATED,
};
use cielo_jobs::{JobError, NewJob, Registry};
use cielo_orders::{
    Order, OrderAccess, OrderFilter, OrderId, OrderLineId, OrderStatus, OrderStatusChanged, Orders,
    Shipment,
};
use cielo_storage::Storage;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// Job kind: an order was paid (subscribed to `order.paid`).
pub const KIND_ORDER_PAID: &str = "flows.order_paid";
/// Job kind: render the print files of a paid order. Payload `{"order_id"}`.
pub const KIND_RENDER_ARTWORK: &str = "artwork.render";
/// Job kind: a lab order changed (subscribed to `fulfillment.lab_order_updated`).
pub const KIND_LAB_ORDER_UPDATED: &str = "flows.lab_order_updated";
/// Job kind: paid orders that did not move on (a lost job) are moved on.
pub const KIND_CATCH_UP: &str = "flows.catch_up";
/// Queue of render jobs, so they can be limited apart from quick jobs.
pub const RENDER_QUEUE: &str = "render";
/// `shipped_by` of a parcel the shop marked shipped by hand.
pub const SHIPPED_BY_SHOP: &str = "shop";

/// How long the print file link given to a lab stays valid: labs download
/// late and retry, so a month.
const PRINT_FILE_LINK: Duration = Duration::from_secs(30 * 24 * 3600);
/// A paid order still `paid` this long after its last change is looked at
/// again by the catch-up.
const STUCK_AFTER_SECS: i64 = 120;
/// Pages of 100 paid orders one catch-up pass looks at, at most.
const CATCH_UP_PAGES: usize = 20;

/// Errors of the lifecycle.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// From the orders domain (not found, invalid input, invalid transition…).
    #[error(transparent)]
    Orders(#[from] cielo_orders::Error),
    /// From the fulfillment domain.
    #[error(transparent)]
    Fulfillment(#[from] cielo_fulfillment::Error),
    /// The change is no longer possible (the lab has the order, or it shipped).
    #[error("too late: {0}")]
    TooLate(String),
    /// The action does not apply to the order as it is.
    #[error("{0}")]
    WrongState(String),
    /// Input broke a rule.
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    /// Unexpected failure.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<cielo_db::sqlx::Error> for Error {
    fn from(e: cielo_db::sqlx::Error) -> Self {
        Error::Internal(anyhow::Error::new(e).context("lifecycle query"))
    }
}
impl From<cielo_db::Error> for Error {
    fn from(e: cielo_db::Error) -> Self {
        Error::Internal(anyhow::Error::new(e).context("lifecycle database"))
    }
}
impl From<cielo_jobs::Error> for Error {
    fn from(e: cielo_jobs::Error) -> Self {
        Error::Internal(anyhow::Error::new(e).context("job queue"))
    }
}

impl HasErrorKind for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Error::Orders(e) => e.kind(),
            Error::Fulfillment(e) => e.kind(),
            Error::TooLate(_) | Error::WrongState(_) => ErrorKind::Conflict,
            Error::Invalid(_) => ErrorKind::Invalid,
            Error::Internal(_) => ErrorKind::Internal,
        }
    }
    fn code(&self) -> &'static str {
        match self {
            Error::Orders(e) => e.code(),
            Error::Fulfillment(e) => e.code(),
            Error::TooLate(_) => "order-too-late-to-change",
            Error::WrongState(_) => "order-wrong-state",
            Error::Invalid(_) => "validation-failed",
            Error::Internal(_) => "internal",
        }
    }
    fn field_errors(&self) -> Vec<FieldError> {
        match self {
            Error::Orders(e) => e.field_errors(),
            Error::Invalid(e) => e.clone(),
            _ => Vec::new(),
        }
    }
}

/// Results of the lifecycle.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A parcel the shop sent itself (`POST /api/admin/orders/{id}/shipments`).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ManualShipment {
    /// Carrier (`USPS`, `Correos`…).
    pub carrier: String,
    /// Carrier service, if any.
    #[serde(default)]
    pub service: Option<String>,
    /// Tracking number.
    pub tracking_number: String,
    /// Tracking page.
    #[serde(default)]
    pub tracking_url: Option<String>,
    /// When it left; default now.
    #[serde(default)]
    pub shipped_at: Option<Timestamp>,
    /// The lines in the parcel (lines the shop ships itself, i.e. whose
    /// variant has no lab); default: every such line not shipped yet.
    #[serde(default)]
    pub line_ids: Option<Vec<OrderLineId>>,
}

/// The buyer's changes during the edit window (`PATCH /api/store/orders/{id}`).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderAmendment {
    /// A corrected shipping address.
    #[serde(default)]
    pub shipping_address: Option<PostalAddress>,
    /// Corrected personalisation of lines (e.g. a poster's title): the whole
    /// options object of each line, validated as at checkout.
    #[serde(default)]
    pub lines: Vec<LineAmendment>,
}

/// New options for one line.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineAmendment {
    /// The order line.
    pub line_id: OrderLineId,
    /// Its options, complete.
    pub options: serde_json::Value,
}

/// Everything known about one order's life, for a person.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Timeline {
    /// The order (history, payment, shipments).
    pub order: Order,
    /// Its lab orders, with their raw status and history.
    pub lab_orders: Vec<LabOrderView>,
}

/// The lifecycle service; cheap to clone.
#[derive(Clone)]
pub struct Flows {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    orders: Orders,
    storage: Storage,
    fulfillment: Fulfillment,
    downloads: DownloadSettings,
}

#[derive(Deserialize)]
struct OrderRef {
    order_id: OrderId,
}

fn retry(e: impl std::fmt::Display) -> JobError {
    JobError::retry(e)
}

/// How far along an order is, for moving forward only.
fn rank_of_status(s: OrderStatus) -> Option<u8> {
    match s {
        OrderStatus::Paid => Some(0),
        OrderStatus::InProduction => Some(1),
        OrderStatus::Shipped => Some(2),
        OrderStatus::Delivered => Some(3),
        _ => None,
    }
}

fn rank_of_stage(s: LabStage) -> Option<u8> {
    match s {
        LabStage::Planned => Some(0),
        LabStage::Submitted | LabStage::OnHold | LabStage::InProduction => Some(1),
        LabStage::Shipped => Some(2),
        LabStage::Delivered => Some(3),
        LabStage::Refused | LabStage::Cancelled => None,
    }
}

const FORWARD: [OrderStatus; 4] = [
    OrderStatus::Paid,
    OrderStatus::InProduction,
    OrderStatus::Shipped,
    OrderStatus::Delivered,
];

fn needs_artwork(order: &Order) -> bool {
    order
        .lines
        .iter()
        .any(|l| l.product_type == cielo_starmap_product::PRODUCT_TYPE && l.artwork.is_none())
}

/// Lines that go in a parcel the shop sends itself (no lab, not a download).
fn shop_ships(l: &cielo_orders::OrderLine) -> bool {
    l.lab.is_none() && !l.delivery.is_digital()
}

/// True when every line of the order is a digital download.
fn all_digital(order: &Order) -> bool {
    !order.lines.is_empty() && order.lines.iter().all(|l| l.delivery.is_digital())
}

fn recipient(order: &Order) -> Option<Recipient> {
    let a = order.shipping_address.as_ref()?;
    Some(Recipient {
        name: a.name.clone(),
        email: order.email.clone(),
        phone: a.phone.clone(),
        line1: a.line1.clone(),
        line2: a.line2.clone(),
        city: a.city.clone(),
        region: a.region.clone(),
        postal_code: a.postal_code.clone(),
        country: a.country.clone(),
    })
}

fn recipient_of(address: &PostalAddress, email: &str) -> Recipient {
    let mut o = Recipient {
        name: address.name.clone(),
        email: email.to_string(),
        phone: address.phone.clone(),
        line1: address.line1.clone(),
        line2: address.line2.clone(),
        city: address.city.clone(),
        region: address.region.clone(),
        postal_code: address.postal_code.clone(),
        country: address.country.clone(),
    };
    o.country = o.country.to_ascii_uppercase();
    o
}

/// The effective status for moving forward: a partly refunded order goes on
/// from where it was before the refund.
fn forward_rank(order: &Order) -> Option<u8> {
    match order.status {
        OrderStatus::PartiallyRefunded => order
            .history
            .iter()
            .rev()
            .find_map(|h| rank_of_status(h.to)),
        s => rank_of_status(s),
    }
}

impl Flows {
    /// The lifecycle over the domains it drives.
    pub fn new(db: Db, orders: Orders, storage: Storage, fulfillment: Fulfillment) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                orders,
                storage,
                fulfillment,
                downloads: DownloadSettings::default(),
            }),
        }
    }

    /// The download period and link lifetime of digital downloads. Call at
    /// wiring time, before the service is cloned (panics otherwise).
    pub fn with_downloads(mut self, settings: DownloadSettings) -> Self {
        Arc::get_mut(&mut self.inner)
            .expect("with_downloads is called before the service is shared")
            .downloads = settings;
        self
    }

    /// The downloads of an order with digital lines (`None` without any):
    /// while the download period lasts, fresh signed links to each digital
    /// line's PNG and PDF, each living `downloads.link_secs` at most (never
    /// past the period); after it, the state says so and there are no links.
    /// The caller has already checked the reader may see `order`.
    pub async fn downloads(&self, order: &Order) -> Result<Option<Downloads>> {
        let settings = &self.inner.downloads;
        let now = Timestamp::now();
        let Some((state, ready_at, available_until)) = downloads::state_of(order, now, settings)
        else {
            return Ok(None);
        };
        let mut files = Vec::new();
        if state == DownloadState::Available {
            for l in order.lines.iter().filter(|l| l.delivery.is_digital()) {
                let Some(art) = &l.artwork else { continue };
                let end = downloads::period_end(art.created_at, settings);
                let Some(ttl) = downloads::link_ttl(now, end, settings) else {
                    continue;
                };
                let (_, png) = self
                    .inner
                    .orders
                    .artwork(order.id, l.id, &OrderAccess::Admin)
                    .await?;
                let pdf = cielo_starmap_product::artwork::pdf_key_for(&png);
                for (format, key) in [("png", Some(png.clone())), ("pdf", pdf)] {
                    let Some(key) = key else { continue };
                    let link = self
                        .inner
                        .storage
                        .download_url(&key, ttl)
                        .await
                        .map_err(anyhow::Error::from)?;
                    files.push(DownloadFile {
                        line_id: l.id,
                        format: format.into(),
                        filename: cielo_starmap_product::artwork::file_name(&key).to_string(),
                        url: link.url,
                        expires_at: Timestamp::from_micros(link.expires_at * 1_000_000),
                    });
                }
            }
        }
        Ok(Some(Downloads {
            state,
            ready_at,
            available_until,
            files,
        }))
    }

    /// The fulfillment domain (webhooks, quotes).
    pub fn fulfillment(&self) -> &Fulfillment {
        &self.inner.fulfillment
    }

    /// Registers the lifecycle's job kinds and subscriptions, and the
    /// fulfillment domain's own jobs.
    pub fn register(&self, r: &mut Registry) {
        self.inner.fulfillment.register(r);
        r.subscribe(
            &cielo_orders::status_topic(OrderStatus::Paid),
            KIND_ORDER_PAID,
        );
        // The paid order's next step is on the way to the lab (and the
        // customer's poster): ahead of bookkeeping jobs in the shared slots.
        r.prioritise(KIND_ORDER_PAID, 10);
        let me = self.clone();
        r.handle_json(KIND_ORDER_PAID, move |ctx, e: OrderStatusChanged| {
            let me = me.clone();
            async move {
                me.on_paid(e.order_id, &format!("job {}", ctx.id))
                    .await
                    .map_err(retry)
            }
        });
        let me = self.clone();
        r.handle_json(KIND_RENDER_ARTWORK, move |ctx, args: OrderRef| {
            let me = me.clone();
            async move {
                me.render(args.order_id, &format!("artwork ready (job {})", ctx.id))
                    .await
                    .map_err(|e| retry(format!("{e:#}")))
            }
        });
        r.subscribe(TOPIC_LAB_ORDER_UPDATED, KIND_LAB_ORDER_UPDATED);
        let me = self.clone();
        r.handle_json(KIND_LAB_ORDER_UPDATED, move |_ctx, e: LabOrderUpdated| {
            let me = me.clone();
            async move {
                let Ok(id) = OrderId::parse(&e.order_id) else {
                    tracing::warn!(order_id = %e.order_id, "lab order for an id that is not ours");
                    return Ok(());
                };
                let cause = format!("lab order {} ({}): {}", e.lab_order_id, e.lab, e.cause);
                match me.settle(id, &cause).await {
                    Ok(()) | Err(Error::Orders(cielo_orders::Error::OrderNotFound)) => Ok(()),
                    Err(e) => Err(retry(format!("{e:#}"))),
                }
            }
        });
        let me = self.clone();
        r.handle(KIND_CATCH_UP, move |_ctx, _payload| {
            let me = me.clone();
            async move {
                let n = me.catch_up().await.map_err(|e| retry(format!("{e:#}")))?;
                if n > 0 {
                    tracing::info!(orders = n, "moved on paid orders left behind");
                }
                Ok(())
            }
        });
    }

    /// A paid order's next step: its print files if it has star-map lines
    /// without one (on the render queue), else the lab step ([`Flows::advance`]).
    /// Does nothing unless the order is `paid`.
    pub async fn on_paid(&self, id: OrderId, cause: &str) -> Result<()> {
        let order = self.inner.orders.get_order(id, &OrderAccess::Admin).await?;
        if order.status != OrderStatus::Paid {
            return Ok(());
        }
        if needs_artwork(&order) {
            let mut tx = self.inner.db.begin_write().await?;
            let job = NewJob::new(KIND_RENDER_ARTWORK, serde_json::json!({ "order_id": id }))
                .queue(RENDER_QUEUE)
                .max_attempts(5)
                .unique_key(format!("{KIND_RENDER_ARTWORK}:{id}"));
            cielo_jobs::enqueue(&mut tx, job).await?;
            tx.commit().await?;
            return Ok(());
        }
        self.advance(id, cause).await.map(|_| ())
    }

    /// Renders the star-map lines that have no print file (a re-run renders
    /// nothing), then takes a `paid` order to the lab step.
    pub async fn render(&self, id: OrderId, cause: &str) -> anyhow::Result<()> {
        let done = cielo_starmap_product::artwork::render_order(
            &self.inner.orders,
            &self.inner.storage,
            id,
        )
        .await?;
        let moved = self.advance(id, cause).await?;
        tracing::info!(
            rendered = done.rendered,
            moved_on = moved,
            "artwork job done"
        );
        Ok(())
    }

    /// The lab step, in one transaction: a `paid` order whose print files
    /// exist gets one lab submission per lab among its lines (sent once the
    /// edit window has passed) and moves to `in_production`. Lines whose
    /// variant has no lab wait for the shop to mark them shipped (an order
    /// of such lines only, with nothing rendered, stays `paid`). A line that
    /// cannot go to its lab (no lab product id) sends the order to
    /// `needs_attention` instead. Returns whether the order moved.
    pub async fn advance(&self, id: OrderId, cause: &str) -> Result<bool> {
        // The print file links first: storage calls, with no connection held.
        let order = self.inner.orders.get_order(id, &OrderAccess::Admin).await?;
        if order.status != OrderStatus::Paid || needs_artwork(&order) {
            return Ok(false);
        }
        let mut links = HashMap::new();
        for l in order
            .lines
            .iter()
            .filter(|l| l.lab.is_some() && l.artwork.is_some())
        {
            let (_, key) = self
                .inner
                .orders
                .artwork(id, l.id, &OrderAccess::Admin)
                .await?;
            links.insert(l.id, self.print_file_url(&key).await?);
        }

        let mut tx = self.inner.db.begin_write().await?;
        // Decided on what this transaction reads: nothing moves behind it.
        let order = self.inner.orders.order_in(&mut tx, id).await?;
        if order.status != OrderStatus::Paid || needs_artwork(&order) {
            return Ok(false);
        }
        let mut groups: BTreeMap<Lab, Vec<LabItem>> = BTreeMap::new();
        let mut problems = Vec::new();
        for l in &order.lines {
            if l.delivery.is_digital() && l.product_type != cielo_starmap_product::PRODUCT_TYPE {
                problems.push(format!(
                    "line {} ({}) is a digital download of a product Cielo makes no print files for",
                    l.id, l.sku
                ));
                continue;
            }
            let Some(name) = &l.lab else { continue };
            let Some(lab) = Lab::parse(name) else {
                problems.push(format!("line {} names an unknown lab `{name}`", l.id));
                continue;
            };
            let product = match (&l.lab_product_id, lab) {
                (Some(p), _) if !p.trim().is_empty() => p.clone(),
                (_, Lab::Local) => l.sku.clone(),
                _ => {
                    problems.push(format!(
                        "line {} ({}) has no lab product id for {lab}",
                        l.id, l.sku
                    ));
                    continue;
                }
            };
            groups.entry(lab).or_default().push(LabItem {
                line_id: l.id.to_string(),
                lab_product_id: product,
                quantity: u32::try_from(l.quantity).unwrap_or(u32::MAX),
                print_file_url: links.get(&l.id).cloned(),
                print_px: l
                    .artwork
                    .as_ref()
                    .map(|a| (a.width_px as u32, a.height_px as u32)),
            });
        }
        let recipient = recipient(&order);
        if !groups.is_empty() && recipient.is_none() {
            problems.push("the order has no shipping address".into());
        }
        if !problems.is_empty() {
            let why = format!("cannot send to the lab: {}", problems.join("; "));
            self.inner
                .orders
                .transition(&mut tx, id, OrderStatus::NeedsAttention, &why)
                .await?;
            tx.commit().await?;
            tracing::warn!(order_id = %id, reason = %why, "order needs attention");
            return Ok(true);
        }
        let rendered = order
            .lines
            .iter()
            .any(|l| l.product_type == cielo_starmap_product::PRODUCT_TYPE);
        if groups.is_empty() && !rendered {
            // Goods the shop ships itself, nothing made for this order: it
            // stays `paid` until the shop marks it shipped.
            return Ok(false);
        }
        let hold_until = self
            .inner
            .fulfillment
            .settings()
            .hold_until(Timestamp::now());
        // The latest move to `paid` (an order paid once has one).
        let paid_at = order
            .history
            .iter()
            .rev()
            .find(|h| h.to == OrderStatus::Paid)
            .map(|h| h.at);
        for (lab, items) in groups {
            let Some(recipient) = recipient.clone() else {
                break;
            };
            let req = SubmissionRequest {
                order_id: id.to_string(),
                lab,
                recipient,
                items,
                currency: order.totals.total.currency.code().to_string(),
                paid_at,
            };
            self.inner
                .fulfillment
                .plan_submission(&mut tx, req, hold_until)
                .await?;
        }
        let moved = self
            .inner
            .orders
            .transition(&mut tx, id, OrderStatus::InProduction, cause)
            .await?;
        if moved && all_digital(&order) {
            // Downloads only: the files are ready, so the order has reached
            // its buyer (the download links live on the order page).
            self.inner
                .orders
                .transition(
                    &mut tx,
                    id,
                    OrderStatus::Delivered,
                    &format!("downloads ready: {cause}"),
                )
                .await?;
        }
        tx.commit().await?;
        Ok(moved)
    }

    async fn print_file_url(&self, key: &str) -> Result<String> {
        let storage = &self.inner.storage;
        let url = if storage.is_local() {
            storage
                .download_url(key, PRINT_FILE_LINK)
                .await
                .map_err(anyhow::Error::from)?
                .url
        } else {
            // Presigned S3 links live a week at most: the public URL (a CDN
            // in front of the bucket when configured) outlives the lab's retries.
            storage.public_url(key).await.map_err(anyhow::Error::from)?
        };
        Ok(url)
    }

    /// Brings the order in line with its lab orders: their parcels merged
    /// into `shipments[]`, then forward only to `shipped` (every part of the
    /// order shipped: each lab order, and the lines the shop ships itself)
    /// and `delivered` (every lab order delivered, nothing shipped by the
    /// shop), or to `needs_attention` when a lab refused. Duplicated, late or
    /// reordered lab events change nothing: this reads the lab orders as they
    /// are now.
    pub async fn settle(&self, id: OrderId, cause: &str) -> Result<()> {
        let labs = self
            .inner
            .fulfillment
            .lab_orders_for(&id.to_string())
            .await?;
        let mut tx = self.inner.db.begin_write().await?;
        self.settle_in(&mut tx, id, &labs, cause).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn settle_in(
        &self,
        conn: &mut AnyConnection,
        id: OrderId,
        labs: &[LabOrderView],
        cause: &str,
    ) -> Result<()> {
        let orders = &self.inner.orders;
        let order = orders.order_in(&mut *conn, id).await?;
        for lo in labs {
            let lab_lines: Vec<OrderLineId> = lo
                .request
                .items
                .iter()
                .filter_map(|i| OrderLineId::parse(&i.line_id).ok())
                .collect();
            for s in &lo.shipments {
                let mut line_ids: Vec<OrderLineId> = s
                    .line_ids
                    .iter()
                    .filter_map(|l| OrderLineId::parse(l).ok())
                    .filter(|l| order.lines.iter().any(|ol| ol.id == *l))
                    .collect();
                if line_ids.is_empty() {
                    line_ids = lab_lines.clone();
                }
                let shipment = Shipment {
                    carrier: s.carrier.clone(),
                    service: s.service.clone(),
                    tracking_number: s.tracking_number.clone(),
                    tracking_url: s.tracking_url.clone(),
                    shipped_at: s.shipped_at,
                    line_ids,
                    shipped_by: lo.lab.to_string(),
                    lab_shipment_id: Some(s.lab_shipment_id.clone()),
                };
                match orders
                    .record_shipment(&mut *conn, id, &shipment, cause)
                    .await
                {
                    Ok(_) => {}
                    // A parcel the lab describes badly is kept at the lab
                    // (admin API); the order's own record stays clean.
                    Err(cielo_orders::Error::Invalid(e)) => {
                        tracing::warn!(order_id = %id, lab_order = %lo.id, errors = ?e, "lab shipment not recorded on the order");
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        let order = orders.order_in(&mut *conn, id).await?;

        if let Some(refused) = labs.iter().find(|l| l.stage == LabStage::Refused) {
            if order.status != OrderStatus::NeedsAttention
                && order.status.can_become(OrderStatus::NeedsAttention)
                && order.status != OrderStatus::Delivered
            {
                let why = format!(
                    "{cause}: {} refused lab order {}: {}",
                    refused.lab,
                    refused.id,
                    refused.reason.as_deref().unwrap_or("no reason given")
                );
                let refusal = cielo_orders::LabRefusal {
                    lab: refused.lab.to_string(),
                    lab_order_id: refused.id.to_string(),
                    reason: refused
                        .reason
                        .clone()
                        .unwrap_or_else(|| "no reason given".into()),
                };
                orders
                    .transition_with(
                        &mut *conn,
                        id,
                        OrderStatus::NeedsAttention,
                        &why,
                        Some(refusal),
                    )
                    .await?;
            }
            return Ok(());
        }

        // Forward only, and only once the order is past the lab step (or has
        // no lab step at all: goods the shop ships itself).
        let Some(current) = forward_rank(&order) else {
            return Ok(());
        };
        let own_only = labs.is_empty() && order.lines.iter().all(|l| l.lab.is_none())
            // Downloads only: the lab step itself delivers them.
            && !all_digital(&order);
        if current == 0 && !own_only {
            return Ok(());
        }
        let mut parts: Vec<u8> = labs.iter().filter_map(|l| rank_of_stage(l.stage)).collect();
        let own: Vec<&cielo_orders::OrderLine> =
            order.lines.iter().filter(|l| shop_ships(l)).collect();
        if !own.is_empty() {
            let shipped = own.iter().all(|l| {
                order
                    .shipments
                    .iter()
                    .any(|s| s.shipped_by == SHIPPED_BY_SHOP && s.line_ids.contains(&l.id))
            });
            // The shop says when its own parcels arrive (mark delivered).
            parts.push(if shipped { 2 } else { 1 });
        }
        let Some(target) = parts.iter().copied().min() else {
            return Ok(());
        };
        // Download lines wait for nothing: they were delivered with their
        // files, so the order follows its shipped parts alone.
        let target = target.min(3);
        if target <= current {
            return Ok(());
        }
        let last = FORWARD[target as usize];
        // `in_production -> delivered` is for downloads only: a parcel
        // reported delivered is recorded shipped first.
        let direct = !(order.status == OrderStatus::InProduction && last == OrderStatus::Delivered);
        if direct && order.status.can_become(last) {
            orders.transition(&mut *conn, id, last, cause).await?;
            return Ok(());
        }
        // Through each step (a missed `shipped` is still recorded before `delivered`).
        let mut from = order.status;
        for rank in (current + 1)..=target {
            let to = FORWARD[rank as usize];
            if !from.can_become(to) {
                break;
            }
            orders.transition(&mut *conn, id, to, cause).await?;
            from = to;
        }
        Ok(())
    }

    /// Records a parcel the shop sent itself and moves the order on
    /// (`shipped` once every part has shipped). Only lines whose variant has
    /// no lab can be marked; by default every such line not shipped yet.
    pub async fn mark_shipped(
        &self,
        id: OrderId,
        input: ManualShipment,
        cause: &str,
    ) -> Result<Order> {
        let labs = self
            .inner
            .fulfillment
            .lab_orders_for(&id.to_string())
            .await?;
        let mut tx = self.inner.db.begin_write().await?;
        let order = self.inner.orders.order_in(&mut tx, id).await?;
        if !matches!(
            order.status,
            OrderStatus::Paid
                | OrderStatus::InProduction
                | OrderStatus::Shipped
                | OrderStatus::PartiallyRefunded
                | OrderStatus::NeedsAttention
        ) {
            return Err(Error::WrongState(format!(
                "order {id} is {}: only a paid order can ship",
                order.status
            )));
        }
        let own: Vec<OrderLineId> = order
            .lines
            .iter()
            .filter(|l| shop_ships(l))
            .map(|l| l.id)
            .collect();
        let lines = match input.line_ids {
            Some(ids) => {
                if let Some(bad) = ids.iter().find(|l| !own.contains(l)) {
                    return Err(Error::Invalid(vec![FieldError::new(
                        "line_ids",
                        format!("line {bad} is not a line of this order that the shop ships itself (a lab ships it, or it is a download)"),
                    )]));
                }
                ids
            }
            None => own
                .iter()
                .copied()
                .filter(|l| !order.shipments.iter().any(|s| s.line_ids.contains(l)))
                .collect(),
        };
        if lines.is_empty() {
            return Err(Error::Invalid(vec![FieldError::new(
                "line_ids",
                "no line of this order is left for the shop to ship",
            )]));
        }
        let shipment = Shipment {
            carrier: input.carrier.trim().to_string(),
            service: input.service,
            tracking_number: input.tracking_number.trim().to_string(),
            tracking_url: input.tracking_url,
            shipped_at: input.shipped_at.unwrap_or_else(Timestamp::now),
            line_ids: lines,
            shipped_by: SHIPPED_BY_SHOP.into(),
            lab_shipment_id: None,
        };
        self.inner
            .orders
            .record_shipment(&mut tx, id, &shipment, cause)
            .await?;
        self.settle_in(&mut tx, id, &labs, cause).await?;
        let order = self.inner.orders.order_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(order)
    }

    /// Marks a shipped order delivered (parcels the shop sent itself).
    pub async fn mark_delivered(&self, id: OrderId, cause: &str) -> Result<Order> {
        let mut tx = self.inner.db.begin_write().await?;
        let order = self.inner.orders.order_in(&mut tx, id).await?;
        if order.shipments.is_empty() {
            return Err(Error::WrongState(format!(
                "order {id} has no shipment: mark it shipped first"
            )));
        }
        self.inner
            .orders
            .transition(&mut tx, id, OrderStatus::Delivered, cause)
            .await?;
        let order = self.inner.orders.order_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(order)
    }

    /// Resolves an order in `needs_attention` to `to` (where a person decided
    /// it should be).
    pub async fn resolve(&self, id: OrderId, to: OrderStatus, cause: &str) -> Result<Order> {
        let mut tx = self.inner.db.begin_write().await?;
        let order = self.inner.orders.order_in(&mut tx, id).await?;
        if order.status != OrderStatus::NeedsAttention {
            return Err(Error::WrongState(format!(
                "order {id} is {}, not needs_attention",
                order.status
            )));
        }
        self.inner.orders.transition(&mut tx, id, to, cause).await?;
        let order = self.inner.orders.order_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(order)
    }

    /// The order and its lab orders, for the admin API and `cielo orders show`.
    pub async fn timeline(&self, id: OrderId) -> Result<Timeline> {
        let order = self.inner.orders.get_order(id, &OrderAccess::Admin).await?;
        let lab_orders = self
            .inner
            .fulfillment
            .lab_orders_for(&id.to_string())
            .await?;
        Ok(Timeline { order, lab_orders })
    }

    async fn lab_order_of(&self, id: OrderId, lab_order: LabOrderId) -> Result<LabOrderView> {
        self.inner
            .fulfillment
            .lab_orders_for(&id.to_string())
            .await?
            .into_iter()
            .find(|l| l.id == lab_order)
            .ok_or_else(|| {
                Error::Fulfillment(cielo_fulfillment::Error::NotFound(lab_order.to_string()))
            })
    }

    /// Sends a refused or cancelled lab order again (with a corrected address
    /// when given, which also becomes the order's); an order waiting in
    /// `needs_attention` goes back to `in_production`.
    pub async fn resubmit(
        &self,
        id: OrderId,
        lab_order: LabOrderId,
        address: Option<PostalAddress>,
        cause: &str,
    ) -> Result<Timeline> {
        self.lab_order_of(id, lab_order).await?;
        let order = self.inner.orders.get_order(id, &OrderAccess::Admin).await?;
        let mut tx = self.inner.db.begin_write().await?;
        let recipient = match &address {
            Some(a) => {
                let stored = self
                    .inner
                    .orders
                    .set_shipping_address(&mut tx, id, a)
                    .await?;
                Some(recipient_of(&stored, &order.email))
            }
            None => None,
        };
        tx.commit().await?;
        self.inner
            .fulfillment
            .resubmit(lab_order, recipient, cause)
            .await?;
        if order.status == OrderStatus::NeedsAttention {
            self.inner
                .orders
                .transition_now(
                    id,
                    OrderStatus::InProduction,
                    &format!("resubmitted: {cause}"),
                )
                .await?;
        }
        self.timeline(id).await
    }

    /// Cancels a lab order at its lab (refused by the lab when it has shipped
    /// or it cannot cancel any more).
    pub async fn cancel_lab_order(
        &self,
        id: OrderId,
        lab_order: LabOrderId,
        cause: &str,
    ) -> Result<Timeline> {
        self.lab_order_of(id, lab_order).await?;
        self.inner.fulfillment.cancel(lab_order, cause).await?;
        self.timeline(id).await
    }

    /// The buyer's corrections during the edit window: the shipping address
    /// and lines' personalisation. Refused with [`Error::TooLate`] once a lab
    /// has the order and offers no way to change it, or once it has shipped.
    /// A changed star-map line is rendered again (same print file location,
    /// so a planned submission picks up the new file).
    pub async fn amend(
        &self,
        id: OrderId,
        access: &OrderAccess,
        change: OrderAmendment,
    ) -> Result<Order> {
        let order = self.inner.orders.get_order(id, access).await?;
        if !matches!(
            order.status,
            OrderStatus::Paid | OrderStatus::InProduction | OrderStatus::PendingPayment
        ) || !order.shipments.is_empty()
        {
            return Err(Error::TooLate(format!(
                "order {id} is {} and can no longer be changed",
                order.status
            )));
        }
        if change.shipping_address.is_none() && change.lines.is_empty() {
            return Err(Error::Invalid(vec![FieldError::new(
                "",
                "nothing to change: give shipping_address and/or lines",
            )]));
        }
        let labs = self
            .inner
            .fulfillment
            .lab_orders_for(&id.to_string())
            .await?;
        for l in &change.lines {
            if !order.lines.iter().any(|ol| ol.id == l.line_id) {
                return Err(Error::Invalid(vec![FieldError::new(
                    "lines",
                    format!("order {id} has no line {}", l.line_id),
                )]));
            }
            let taken = labs.iter().find(|lo| {
                lo.stage != LabStage::Planned
                    && lo.stage != LabStage::Cancelled
                    && lo
                        .request
                        .items
                        .iter()
                        .any(|i| i.line_id == l.line_id.to_string())
            });
            if let Some(lo) = taken {
                return Err(Error::TooLate(format!(
                    "the lab ({}) has line {} already ({}): its personalisation can no longer change",
                    lo.lab, l.line_id, lo.stage
                )));
            }
        }
        // The address as it would be stored, kept only when it says
        // something other than the order's (not spacing, not a code's case).
        let mut new_address = None;
        if let Some(a) = &change.shipping_address {
            let mut checked = a.clone();
            let mut v = cielo_core::Validation::new();
            checked.validate(&mut v, "shipping_address/");
            v.finish().map_err(Error::Invalid)?;
            let changed = match &order.shipping_address {
                Some(old) => !checked.changes_from(old).is_empty(),
                None => true,
            };
            if changed {
                new_address = Some(checked);
            }
        }
        // Every change is checked before anything is written: the lab's copy
        // of the address is changed next, in its own domain, and a refused
        // title must not leave the lab with an address the order never took.
        // A line whose options come out as they are is no change.
        let mut new_lines = Vec::new();
        if !change.lines.is_empty() {
            let mut conn = self.inner.db.pool().acquire().await?;
            for l in &change.lines {
                let options = self
                    .inner
                    .orders
                    .check_line_options(&mut conn, id, l.line_id, l.options.clone())
                    .await?;
                let current = order
                    .lines
                    .iter()
                    .find(|ol| ol.id == l.line_id)
                    .and_then(|ol| ol.options.as_ref());
                if current != Some(&options) {
                    new_lines.push(l.clone());
                }
            }
        }
        // Nothing changes: nothing is written, sent to a lab or recorded.
        if new_address.is_none() && new_lines.is_empty() {
            return Ok(order);
        }
        if let Some(checked) = &new_address {
            match self
                .inner
                .fulfillment
                .amend(&id.to_string(), recipient_of(checked, &order.email))
                .await
            {
                Ok(()) => {}
                Err(cielo_fulfillment::Error::TooLate { detail, .. }) => {
                    return Err(Error::TooLate(format!(
                        "the address can no longer change: {detail}"
                    )))
                }
                Err(e) => return Err(e.into()),
            }
        }
        let mut tx = self.inner.db.begin_write().await?;
        if let Some(a) = &new_address {
            self.inner
                .orders
                .set_shipping_address(&mut tx, id, a)
                .await?;
        }
        let mut rerender = false;
        for l in new_lines {
            self.inner
                .orders
                .set_line_options(&mut tx, id, l.line_id, l.options)
                .await?;
            rerender |= order.lines.iter().any(|ol| {
                ol.id == l.line_id && ol.product_type == cielo_starmap_product::PRODUCT_TYPE
            });
        }
        if rerender && order.status != OrderStatus::PendingPayment {
            let job = NewJob::new(KIND_RENDER_ARTWORK, serde_json::json!({ "order_id": id }))
                .queue(RENDER_QUEUE)
                .max_attempts(5);
            cielo_jobs::enqueue(&mut tx, job).await?;
        }
        let order = self.inner.orders.order_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(order)
    }

    /// Paid orders that did not move on for a while (a job lost, a process
    /// killed at the wrong instruction) are moved on now. Returns how many
    /// were looked at.
    pub async fn catch_up(&self) -> Result<usize> {
        self.catch_up_before(Timestamp::now().plus_seconds(-STUCK_AFTER_SECS))
            .await
    }

    /// [`Flows::catch_up`] for the paid orders created before `before`.
    pub async fn catch_up_before(&self, before: Timestamp) -> Result<usize> {
        let mut n = 0;
        let mut cursor = None;
        // Orders the shop ships itself wait in `paid` for as long as it takes:
        // page through them rather than stop at the newest hundred.
        for _ in 0..CATCH_UP_PAGES {
            let page = self
                .inner
                .orders
                .list_orders(OrderFilter {
                    status: Some(OrderStatus::Paid),
                    to: Some(before),
                    limit: Some(100),
                    cursor: cursor.take(),
                    ..Default::default()
                })
                .await?;
            n += page.orders.len();
            for o in page.orders {
                if let Err(e) = self.on_paid(o.id, "catch-up").await {
                    tracing::warn!(order_id = %o.id, error = %format!("{e:#}"), "catch-up could not move the order on");
                }
            }
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        Ok(n)
    }
}
