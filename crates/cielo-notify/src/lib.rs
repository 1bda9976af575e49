//! Notifications: the buyer and the shop owner hear about every step of an
//! order, by email and SMS, once.
//!
//! The domain reacts to the orders domain's outbox events (no other domain
//! calls it to send), reads the order through [`cielo_orders::Orders`], and
//! records a [`Message`] per (order, kind, channel, and shipment where it
//! applies) under a unique key — a duplicated event inserts nothing. Each
//! message is sent by its own job, and every attempt is logged as a
//! [`Delivery`]:
//!
//! - the attempt is recorded `sending` (committed) before the provider call;
//! - a definite failure (nothing was taken) goes back to `queued` and the job
//!   retries with backoff, reusing the same idempotency key;
//! - an unknown outcome (the request left, no answer came back) is retried
//!   only with a provider that takes an idempotency key (Resend, the outbox);
//!   otherwise the message becomes `unknown`, is shown to the admin and is
//!   not retried alone. The same holds when a process stopped between the
//!   provider's answer and recording it: the next attempt finds the delivery
//!   still `sending`.
//! - an admin resend starts a new send intent (new key, its cause recorded).
#![warn(missing_docs)]

pub mod data;
pub mod email;
mod embedded;
pub mod format;
pub mod model;
/// E.164 phone numbers (shared with the domains where numbers enter).
pub use cielo_core::phone;
pub mod providers;
pub mod settings;
mod store;
pub mod templates;
pub mod webhooks;

pub use model::{
    Channel, Delivery, DeliveryId, DeliveryStatus, Kind, Message, MessageDetail, MessageFilter,
    MessageId, MessagePage, MessageStatus, Rendered, Suppression,
};
pub use settings::{NotifySecrets, NotifySettings};

use cielo_core::Timestamp;
use cielo_db::sqlx::AnyConnection;
use cielo_db::Db;
use cielo_jobs::{JobError, NewJob, Registry};
use cielo_orders::{Order, OrderAccess, OrderId, OrderStatus, Orders};
use email::{OutgoingEmail, SharedEmail};
use providers::{OutgoingSms, SendError, SmsProvider};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

/// The notifications migrations.
pub const MIGRATIONS: cielo_db::MigrationSet = cielo_db::MigrationSet {
    domain: "notify",
    migrations: &[
        cielo_db::migration!(20261129120000, "notify"),
        cielo_db::migration!(20261129161000, "bounces"),
    ],
};

/// Job kind: an order event, turned into messages (queue [`EVENT_QUEUE`]).
pub const KIND_ORDER_EVENT: &str = "notify.order_event";
/// Job kind: send one message (queue [`QUEUE`]).
pub const KIND_SEND: &str = "notify.send";
/// Queue of the sends: calls to the providers, which mostly wait on them
/// (a lane of many slots by default).
pub const QUEUE: &str = "notify";
/// Queue of the order and webhook events: short database work, in a lane of
/// its own so that it never waits behind sends holding the `notify` lane's
/// slots while a provider answers, nor crowds the shared slots.
pub const EVENT_QUEUE: &str = "notify_events";

/// The order statuses whose events this domain hears.
pub const STATUSES: &[OrderStatus] = &[
    OrderStatus::Paid,
    OrderStatus::InProduction,
    OrderStatus::Shipped,
    OrderStatus::Delivered,
    OrderStatus::Refunded,
    OrderStatus::PartiallyRefunded,
    OrderStatus::NeedsAttention,
];

/// Errors of the notifications domain.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No message has this id.
    #[error("no message {0}")]
    MessageNotFound(String),
    /// No order has this id.
    #[error("no order {0}")]
    OrderNotFound(String),
    /// The address is not on the suppression list.
    #[error("{0} is not on the suppression list")]
    SuppressionNotFound(String),
    /// The message is being handed to its provider right now.
    #[error("message {0} is being sent right now; try again when its attempt has ended")]
    Busy(String),
    /// The input is wrong.
    #[error("{field}: {detail}")]
    Invalid {
        /// Which field.
        field: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// A template failed to render.
    #[error(transparent)]
    Template(#[from] templates::TemplateError),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] cielo_db::Error),
    /// Anything else.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<cielo_db::sqlx::Error> for Error {
    fn from(e: cielo_db::sqlx::Error) -> Self {
        Error::Db(cielo_db::Error::Sqlx(e))
    }
}

impl From<cielo_jobs::Error> for Error {
    fn from(e: cielo_jobs::Error) -> Self {
        Error::Internal(anyhow::Error::new(e))
    }
}

impl cielo_core::HasErrorKind for Error {
    fn kind(&self) -> cielo_core::ErrorKind {
        use cielo_core::ErrorKind;
        match self {
            Error::MessageNotFound(_) | Error::OrderNotFound(_) | Error::SuppressionNotFound(_) => {
                ErrorKind::NotFound
            }
            Error::Busy(_) => ErrorKind::Conflict,
            Error::Invalid { .. } => ErrorKind::Invalid,
            Error::Template(_) | Error::Db(_) | Error::Internal(_) => ErrorKind::Internal,
        }
    }
    fn code(&self) -> &'static str {
        match self {
            Error::MessageNotFound(_) => "message-not-found",
            Error::OrderNotFound(_) => "order-not-found",
            Error::SuppressionNotFound(_) => "suppression-not-found",
            Error::Busy(_) => "message-busy",
            Error::Invalid { .. } => "invalid-input",
            Error::Template(_) => "template-error",
            Error::Db(_) => "database-error",
            Error::Internal(_) => "internal-error",
        }
    }
    fn field_errors(&self) -> Vec<cielo_core::FieldError> {
        match self {
            Error::Invalid { field, detail } => vec![cielo_core::FieldError::new(field, detail)],
            _ => Vec::new(),
        }
    }
}

/// Result of notification operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Payload of `order.<status>` events (what this domain reads of it).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct OrderEvent {
    /// The order.
    pub order_id: OrderId,
    /// The status it entered.
    #[serde(default)]
    pub to: Option<OrderStatus>,
    /// Why (`checkout`, an event id, a job id, `admin:<id>`, a reason).
    #[serde(default)]
    pub cause: Option<String>,
    /// The parcel, on `order.shipment_recorded`.
    #[serde(default)]
    pub shipment: Option<cielo_orders::Shipment>,
    /// On `order.needs_attention`: the lab's refusal that caused it. Only
    /// then does the buyer hear that the order needs a change.
    #[serde(default)]
    pub refusal: Option<cielo_orders::LabRefusal>,
}

/// The slot of a parcel: one "shipped" message each.
fn shipment_slot(s: &cielo_orders::Shipment) -> String {
    match (&s.lab_shipment_id, s.tracking_number.trim()) {
        (Some(id), _) if !id.trim().is_empty() => format!("shipment:{id}"),
        (_, t) if !t.is_empty() => format!("tracking:{t}"),
        _ => format!("shipped:{}", s.shipped_at.as_micros()),
    }
}

fn shipment_data(s: &cielo_orders::Shipment) -> serde_json::Value {
    serde_json::json!({
        "carrier": s.carrier,
        "service": s.service,
        "tracking_number": s.tracking_number,
        "tracking_url": s.tracking_url,
    })
}

/// For the admin's preview of a past message only (the history keeps the
/// cause text, not the event): the lab's refusal read back from a
/// `needs_attention` cause, `(lab order, reason)`. The lifecycle writes such
/// causes as `…: <lab> refused lab order <id>: <reason>`. What is sent is
/// decided by the event's typed [`OrderEvent::refusal`], never by this.
fn lab_refusal(cause: &str) -> Option<(String, String)> {
    let rest = &cause[cause.find(" refused lab order ")? + " refused lab order ".len()..];
    let (id, reason) = rest.split_once(": ").unwrap_or((rest, ""));
    Some((id.trim().to_string(), reason.trim().to_string()))
}

/// Payload of a webhook processing job.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct WebhookJob {
    provider: String,
    event_ids: Vec<String>,
}

/// Payload of a send job.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct SendJob {
    message_id: MessageId,
    /// Why this send intent exists (the event, an admin resend).
    cause: String,
}

/// A file in the outbox.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct OutboxFile {
    /// File name (`<send key>.eml` or `<send key>.sms.txt`).
    pub name: String,
    /// The message it holds.
    pub message_id: Option<String>,
    /// Size in bytes.
    pub bytes: u64,
    /// Last written.
    pub modified_at: Option<Timestamp>,
}

/// A message the domain decided to send (before it is stored).
struct Planned {
    kind: Kind,
    channel: Channel,
    recipient: String,
    language: String,
    /// The shipment, the refund kind… where one order may get several.
    slot: Option<String>,
    data: serde_json::Value,
}

struct Inner {
    db: Db,
    orders: Orders,
    settings: NotifySettings,
    email: SharedEmail,
    sms: Arc<dyn SmsProvider>,
    templates: templates::Templates,
    shop: data::Shop,
    outbox_dir: PathBuf,
    /// Svix keys of the Resend webhook endpoint (none: not accepted).
    resend_webhook_keys: Vec<Vec<u8>>,
    /// SendGrid's Event Webhook key (none: not accepted).
    sendgrid_webhook_key: Option<p256::ecdsa::VerifyingKey>,
    /// The accounts, for the name of a buyer whose order gave none (set
    /// once at wiring; without it such buyers are greeted neutrally).
    accounts: std::sync::OnceLock<cielo_accounts::Accounts>,
}

/// The notifications service. Cheap to clone.
#[derive(Clone)]
pub struct Notify {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Notify {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notify")
            .field("email", &self.inner.email.name())
            .field("sms", &self.inner.sms.name())
            .finish()
    }
}

fn need(v: &Option<String>, var: &str, what: &str) -> anyhow::Result<String> {
    v.clone()
        .ok_or_else(|| anyhow::anyhow!("{what} needs the environment variable {var}"))
}

impl Notify {
    /// Builds the service with the providers `settings` choose. Fails when a
    /// chosen provider's secret is missing.
    pub fn new(
        db: Db,
        orders: Orders,
        settings: &NotifySettings,
        secrets: &NotifySecrets,
        data_dir: &Path,
        shop: data::Shop,
    ) -> anyhow::Result<Self> {
        settings.validate()?;
        let outbox_dir = settings
            .outbox_dir
            .clone()
            .unwrap_or_else(|| data_dir.join("outbox"));
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(settings.http_timeout_secs))
            .user_agent(concat!("cielo/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let email: SharedEmail = match settings.email.as_str() {
            "smtp" => {
                let mut c = email::SmtpConfig::parse(&settings.smtp_url)?;
                c.password = secrets.smtp_password.clone();
                c.timeout = Duration::from_secs(settings.smtp_timeout_secs.max(1));
                c.max_sessions = settings.smtp_max_sessions.max(1);
                if let Some(f) = &settings.smtp_ca_file {
                    c.ca_pem = Some(std::fs::read(f).map_err(|e| {
                        anyhow::anyhow!("notify.smtp_ca_file {}: {e}", f.display())
                    })?);
                }
                if c.user.is_some() && c.password.is_none() {
                    anyhow::bail!("notify.smtp_url names a user: set CIELO_SMTP_PASSWORD");
                }
                Arc::new(email::SmtpEmail::new(c))
            }
            "resend" => Arc::new(email::ResendEmail::new(
                client.clone(),
                &settings.resend_api_base,
                need(
                    &secrets.resend_api_key,
                    "CIELO_RESEND_API_KEY",
                    "notify.email = resend",
                )?,
            )),
            "sendgrid" => Arc::new(email::SendgridEmail::new(
                client.clone(),
                &settings.sendgrid_api_base,
                need(
                    &secrets.sendgrid_api_key,
                    "CIELO_SENDGRID_API_KEY",
                    "notify.email = sendgrid",
                )?,
            )),
            "ses" => {
                let creds = secrets.aws.clone().ok_or_else(|| {
                    anyhow::anyhow!(
                        "notify.email = ses needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
                    )
                })?;
                let base = settings.ses_api_base.clone().unwrap_or_else(|| {
                    format!("https://email.{}.amazonaws.com", settings.ses_region)
                });
                Arc::new(email::SesEmail::new(
                    client.clone(),
                    &base,
                    &settings.ses_region,
                    creds,
                    settings.ses_configuration_set.clone(),
                ))
            }
            _ => Arc::new(email::OutboxEmail::new(outbox_dir.clone())),
        };
        let sms: Arc<dyn SmsProvider> = match settings.sms.as_str() {
            "twilio" => Arc::new(providers::TwilioSms::new(
                client,
                &settings.twilio_api_base,
                need(
                    &secrets.twilio_account_sid,
                    "CIELO_TWILIO_ACCOUNT_SID",
                    "notify.sms = twilio",
                )?,
                need(
                    &secrets.twilio_auth_token,
                    "CIELO_TWILIO_AUTH_TOKEN",
                    "notify.sms = twilio",
                )?,
            )),
            _ => Arc::new(providers::OutboxSms::new(outbox_dir.clone())),
        };
        let resend_webhook_keys = match &secrets.resend_webhook_secret {
            Some(s) => webhooks::svix_keys(s)
                .map_err(|e| anyhow::anyhow!("CIELO_RESEND_WEBHOOK_SECRET: {e}"))?,
            None => Vec::new(),
        };
        let sendgrid_webhook_key = match &settings.sendgrid_webhook_public_key {
            Some(k) => Some(
                webhooks::sendgrid_key(k)
                    .map_err(|e| anyhow::anyhow!("notify.sendgrid_webhook_public_key: {e}"))?,
            ),
            None => None,
        };
        let mut n = Self::with_providers(db, orders, settings, email, sms, outbox_dir, shop);
        let inner = Arc::get_mut(&mut n.inner).expect("not shared yet");
        inner.resend_webhook_keys = resend_webhook_keys;
        inner.sendgrid_webhook_key = sendgrid_webhook_key;
        Ok(n)
    }

    /// Builds the service around given providers (tests, custom providers).
    pub fn with_providers(
        db: Db,
        orders: Orders,
        settings: &NotifySettings,
        email: SharedEmail,
        sms: Arc<dyn SmsProvider>,
        outbox_dir: PathBuf,
        shop: data::Shop,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                orders,
                settings: settings.clone(),
                email,
                sms,
                templates: templates::Templates::new(settings.templates_dir.clone()),
                shop,
                outbox_dir,
                resend_webhook_keys: Vec::new(),
                sendgrid_webhook_key: None,
                accounts: std::sync::OnceLock::new(),
            }),
        }
    }

    /// Lets greetings use the buyer's account name when the order gives no
    /// name (an order of downloads without an address).
    pub fn with_accounts(self, accounts: cielo_accounts::Accounts) -> Self {
        let _ = self.inner.accounts.set(accounts);
        self
    }

    /// The name on the buyer's account, when the order has one and it is
    /// readable (a failure only makes the greeting neutral).
    async fn account_name(&self, order: &Order) -> Option<String> {
        let accounts = self.inner.accounts.get()?;
        match accounts.customer(order.customer_id?).await {
            Ok(c) => Some(c.name),
            Err(e) => {
                tracing::warn!(order = %order.id, error = %e, "buyer's account name unreadable; greeting without it");
                None
            }
        }
    }

    /// The email provider's name.
    pub fn email_provider(&self) -> &'static str {
        self.inner.email.name()
    }

    /// Registers this domain's jobs and its subscriptions to the order events.
    pub fn register(&self, registry: &mut Registry) {
        for s in STATUSES {
            registry.subscribe_with(
                &cielo_orders::status_topic(*s),
                KIND_ORDER_EVENT,
                EVENT_QUEUE,
                10,
            );
        }
        let n = self.clone();
        registry.handle_json(KIND_ORDER_EVENT, move |ctx, event: OrderEvent| {
            let n = n.clone();
            async move {
                let cause = match &ctx.event_id {
                    Some(e) => format!("event {e}"),
                    None => format!("job {}", ctx.id),
                };
                n.on_order_event(&event, &cause)
                    .await
                    .map_err(|e| JobError::retry(format!("{e:#}")))?;
                Ok(())
            }
        });
        let n = self.clone();
        registry.handle_json(KIND_SEND, move |ctx, job: SendJob| {
            let n = n.clone();
            async move {
                let cause = if ctx.attempt > 1 {
                    format!("{} (attempt {})", job.cause, ctx.attempt)
                } else {
                    job.cause
                };
                n.send(job.message_id, &cause, ctx.is_last_attempt()).await
            }
        });
        let n = self.clone();
        registry.handle_json(
            webhooks::KIND_WEBHOOK_EVENT,
            move |_ctx, job: WebhookJob| {
                let n = n.clone();
                async move {
                    for id in &job.event_ids {
                        n.process_webhook_event(&job.provider, id)
                            .await
                            .map_err(|e| JobError::retry(format!("{e:#}")))?;
                    }
                    Ok(())
                }
            },
        );
    }

    /// Turns an order event into its messages (none when they exist already)
    /// and enqueues their sending. Returns how many messages are new.
    pub async fn on_order_event(&self, event: &OrderEvent, cause: &str) -> Result<usize> {
        let order = match self
            .inner
            .orders
            .get_order(event.order_id, &OrderAccess::Admin)
            .await
        {
            Ok(o) => o,
            Err(cielo_orders::Error::OrderNotFound) => {
                return Err(Error::OrderNotFound(event.order_id.to_string()))
            }
            Err(e) => return Err(Error::Internal(anyhow::Error::new(e))),
        };
        let account_name = self.account_name(&order).await;
        // One transaction for the buyer's link and the messages: a
        // duplicated event (nothing new) rolls back and leaves no link.
        let mut tx = self.inner.db.begin_write().await?;
        let planned = match &event.shipment {
            Some(s) => self.plan_shipped(&mut tx, &order, &[Some(s)]).await?,
            None => {
                let status = event.to.unwrap_or(order.status);
                self.plan(
                    &mut tx,
                    &order,
                    status,
                    event.cause.as_deref(),
                    event.refusal.as_ref(),
                )
                .await?
            }
        };
        if planned.is_empty() {
            return Ok(0);
        }
        let mut planned = planned;
        for p in &mut planned {
            data::set_account_name(&mut p.data, account_name.as_deref());
        }
        let n = self
            .store_and_enqueue(&mut tx, Some(&order.id.to_string()), planned, cause)
            .await?;
        if n == 0 {
            tx.rollback().await?;
        } else {
            tx.commit().await?;
        }
        Ok(n)
    }

    /// Raises an alert to the shop owner (email and SMS where configured), in
    /// the caller's transaction. `key` names the alert: one message per key
    /// and channel, so raising it again does nothing.
    pub async fn raise_alert(
        &self,
        conn: &mut AnyConnection,
        key: &str,
        title: &str,
        detail: &str,
    ) -> Result<usize> {
        self.raise_alert_on(conn, key, title, detail, &[Channel::Email, Channel::Sms])
            .await
    }

    /// [`Notify::raise_alert`] on the given channels only (an owner without
    /// an email address or phone gets nothing on that channel). Returns the
    /// messages created: 0 when `key` was raised before on those channels.
    pub async fn raise_alert_on(
        &self,
        conn: &mut AnyConnection,
        key: &str,
        title: &str,
        detail: &str,
        channels: &[Channel],
    ) -> Result<usize> {
        let lang = self.inner.settings.default_language.clone();
        let data = serde_json::json!({
            "lang": lang,
            "shop": {"name": self.inner.shop.name, "url": self.inner.shop.url},
            "t": format::words(&lang),
            "alert": {"title": title, "detail": detail,
                      "raised": format::date(Timestamp::now(), &lang)},
        });
        let mut planned = Vec::new();
        self.plan_owner(&mut planned, Kind::OwnerAlert, &lang, &data);
        planned.retain(|p| channels.contains(&p.channel));
        for p in &mut planned {
            p.slot = Some(key.to_string());
        }
        self.store_and_enqueue(conn, None, planned, &format!("alert {key}"))
            .await
    }

    fn plan_owner(&self, out: &mut Vec<Planned>, kind: Kind, lang: &str, data: &serde_json::Value) {
        let s = &self.inner.settings;
        if let Some(e) = &s.owner_email {
            out.push(Planned {
                kind,
                channel: Channel::Email,
                recipient: e.clone(),
                language: lang.to_string(),
                slot: None,
                data: data.clone(),
            });
        }
        if let Some(p) = &s.owner_phone {
            if self.inner.templates.has_sms(kind) {
                out.push(Planned {
                    kind,
                    channel: Channel::Sms,
                    recipient: p.clone(),
                    language: lang.to_string(),
                    slot: None,
                    data: data.clone(),
                });
            }
        }
    }

    /// The buyer's language: the order's when the templates speak it, else
    /// the shop's default.
    fn order_language(&self, order: &Order) -> String {
        order
            .language
            .as_deref()
            .and_then(format::supported)
            .unwrap_or(&self.inner.settings.default_language)
            .to_string()
    }

    /// The buyer's phone, when they opted in to SMS.
    fn sms_phone(&self, order: &Order) -> Option<String> {
        order.phone.clone().filter(|_| order.sms_opt_in)
    }

    /// The order page link for the buyer, with a token of its own that lets a
    /// guest read the order (the orders domain keeps only its hash).
    async fn buyer_link(&self, conn: &mut AnyConnection, order: &Order) -> Result<String> {
        let token = self
            .inner
            .orders
            .access_link_token_in(conn, order.id)
            .await
            .map_err(|e| Error::Internal(anyhow::Error::new(e)))?;
        Ok(data::order_link(
            &self.inner.shop,
            &order.id.to_string(),
            Some(&token),
        ))
    }

    /// Which messages an order entering `status` gets.
    async fn plan(
        &self,
        conn: &mut AnyConnection,
        order: &Order,
        status: OrderStatus,
        reason: Option<&str>,
        refusal: Option<&cielo_orders::LabRefusal>,
    ) -> Result<Vec<Planned>> {
        let digital = |l: &cielo_orders::OrderLine| l.delivery.is_digital();
        let all_digital = !order.lines.is_empty() && order.lines.iter().all(digital);
        let (buyer, slot): (Option<Kind>, Option<String>) = match status {
            OrderStatus::Paid => (Some(Kind::OrderConfirmation), None),
            // Entering production is the artwork-ready step for orders whose
            // print file Cielo makes; other orders have nothing to show yet.
            // Downloads are ready then too (once per order: the message key);
            // a poster to print gets its own message beside it.
            OrderStatus::InProduction
                if order
                    .lines
                    .iter()
                    .any(|l| digital(l) && l.artwork.is_some()) =>
            {
                let mut out = self
                    .plan_buyer(conn, order, Kind::DownloadReady, None, refusal)
                    .await?;
                if order
                    .lines
                    .iter()
                    .any(|l| !digital(l) && l.artwork.is_some())
                {
                    out.extend(
                        self.plan_buyer(conn, order, Kind::PrintFileReady, None, refusal)
                            .await?,
                    );
                }
                return Ok(out);
            }
            OrderStatus::InProduction if order.lines.iter().any(|l| l.artwork.is_some()) => {
                (Some(Kind::PrintFileReady), None)
            }
            // Downloads only: "your download is ready" was the delivery.
            OrderStatus::Delivered if all_digital => (None, None),
            OrderStatus::Shipped => {
                let parcels: Vec<Option<&cielo_orders::Shipment>> = if order.shipments.is_empty() {
                    vec![None]
                } else {
                    order.shipments.iter().map(Some).collect()
                };
                let mut out = self.plan_shipped(conn, order, &parcels).await?;
                out.retain(|p| p.kind == Kind::Shipped);
                return Ok(out);
            }
            OrderStatus::NeedsAttention => match refusal {
                Some(r) => (Some(Kind::NeedsChange), Some(r.lab_order_id.clone())),
                None => (None, None),
            },
            OrderStatus::Delivered => (Some(Kind::Delivered), None),
            OrderStatus::Refunded => (Some(Kind::RefundIssued), Some("full".into())),
            OrderStatus::PartiallyRefunded => (Some(Kind::RefundIssued), Some("partial".into())),
            _ => (None, None),
        };
        let mut out = Vec::new();
        if let Some(kind) = buyer {
            out = self.plan_buyer(conn, order, kind, slot, refusal).await?;
        }
        let owner = match status {
            OrderStatus::Paid => Some(Kind::OwnerNewOrder),
            OrderStatus::NeedsAttention => Some(Kind::OwnerNeedsAttention),
            _ => None,
        };
        if let Some(kind) = owner {
            let lang = self.inner.settings.default_language.clone();
            let link = data::order_link(&self.inner.shop, &order.id.to_string(), None);
            let mut data = data::order_data(order, &lang, &self.inner.shop, &link);
            if let Some(r) = reason {
                data["reason"] = serde_json::json!(r);
            }
            self.plan_owner(&mut out, kind, &lang, &data);
        }
        Ok(out)
    }

    /// The buyer's message of `kind` (email, and SMS where the buyer opted
    /// in and the kind has an SMS text).
    async fn plan_buyer(
        &self,
        conn: &mut AnyConnection,
        order: &Order,
        kind: Kind,
        slot: Option<String>,
        refusal: Option<&cielo_orders::LabRefusal>,
    ) -> Result<Vec<Planned>> {
        let mut out = Vec::new();
        let lang = self.order_language(order);
        let link = self.buyer_link(conn, order).await?;
        let mut data = data::order_data(order, &lang, &self.inner.shop, &link);
        if kind == Kind::RefundIssued {
            data["refund"] = serde_json::json!({"partial": slot.as_deref() == Some("partial")});
        }
        if kind == Kind::NeedsChange {
            if let Some(r) = refusal {
                data["reason"] = serde_json::json!(r.reason);
            }
        }
        out.push(Planned {
            kind,
            channel: Channel::Email,
            recipient: order.email.clone(),
            language: lang.clone(),
            slot: slot.clone(),
            data: data.clone(),
        });
        if let Some(phone) = self.sms_phone(order) {
            if self.inner.templates.has_sms(kind) {
                out.push(Planned {
                    kind,
                    channel: Channel::Sms,
                    recipient: phone,
                    language: lang,
                    slot,
                    data,
                });
            }
        }
        Ok(out)
    }

    /// One "shipped" message per parcel (`None`: shipped without a parcel
    /// on record).
    async fn plan_shipped(
        &self,
        conn: &mut AnyConnection,
        order: &Order,
        parcels: &[Option<&cielo_orders::Shipment>],
    ) -> Result<Vec<Planned>> {
        let lang = self.order_language(order);
        let link = self.buyer_link(conn, order).await?;
        let base = data::order_data(order, &lang, &self.inner.shop, &link);
        let phone = self.sms_phone(order);
        let mut out = Vec::new();
        for p in parcels {
            let mut data = base.clone();
            data["shipment"] = p
                .map(shipment_data)
                .unwrap_or_else(|| serde_json::json!({}));
            let slot = p.map(shipment_slot);
            out.push(Planned {
                kind: Kind::Shipped,
                channel: Channel::Email,
                recipient: order.email.clone(),
                language: lang.clone(),
                slot: slot.clone(),
                data: data.clone(),
            });
            if let Some(phone) = &phone {
                out.push(Planned {
                    kind: Kind::Shipped,
                    channel: Channel::Sms,
                    recipient: phone.clone(),
                    language: lang.clone(),
                    slot,
                    data,
                });
            }
        }
        Ok(out)
    }

    async fn store_and_enqueue(
        &self,
        conn: &mut AnyConnection,
        order_id: Option<&str>,
        planned: Vec<Planned>,
        cause: &str,
    ) -> Result<usize> {
        let now = Timestamp::now();
        let mut created = 0;
        for p in planned {
            let mut key = format!(
                "{}/{}/{}",
                order_id.unwrap_or("alert"),
                p.kind.as_str(),
                p.channel.as_str()
            );
            if let Some(s) = &p.slot {
                key.push('/');
                key.push_str(s);
            }
            let id = MessageId::new();
            let inserted = store::insert_message(
                conn,
                &store::NewMessage {
                    id,
                    dedupe_key: &key,
                    order_id,
                    kind: p.kind,
                    channel: p.channel,
                    recipient: &p.recipient,
                    language: &p.language,
                    data: &p.data,
                    now,
                },
            )
            .await?;
            if inserted {
                self.enqueue_send(conn, id, &id.to_string(), cause).await?;
                created += 1;
            }
        }
        Ok(created)
    }

    async fn enqueue_send(
        &self,
        conn: &mut AnyConnection,
        id: MessageId,
        send_key: &str,
        cause: &str,
    ) -> Result<()> {
        let job = NewJob::new(
            KIND_SEND,
            serde_json::to_value(SendJob {
                message_id: id,
                cause: cause.to_string(),
            })
            .map_err(anyhow::Error::from)?,
        )
        .queue(QUEUE)
        .max_attempts(self.inner.settings.max_attempts)
        .unique_key(format!("{KIND_SEND}:{send_key}"));
        cielo_jobs::enqueue(conn, job).await?;
        Ok(())
    }

    /// Renders a stored message.
    pub fn render_message(&self, m: &Message) -> Result<Rendered> {
        Ok(self
            .inner
            .templates
            .render(m.kind, m.channel, &m.language, &m.data)?)
    }

    /// One attempt to send a message (the send job's body). See the crate
    /// documentation for what each outcome does.
    pub async fn send(
        &self,
        id: MessageId,
        cause: &str,
        last_attempt: bool,
    ) -> Result<(), JobError> {
        let db = &self.inner.db;
        let began = std::time::Instant::now();
        let Some(msg) = store::message(db.pool(), id)
            .await
            .map_err(JobError::from)?
        else {
            return Err(JobError::permanent(format!("no message {id}")));
        };
        let (provider, idempotent) = match msg.channel {
            Channel::Email => (self.inner.email.name(), self.inner.email.idempotent()),
            Channel::Sms => (self.inner.sms.name(), self.inner.sms.idempotent()),
        };
        let now = Timestamp::now();
        match msg.status {
            MessageStatus::Sent
            | MessageStatus::Failed
            | MessageStatus::Unknown
            | MessageStatus::Delivered
            | MessageStatus::Bounced
            | MessageStatus::Complained
            | MessageStatus::Suppressed => return Ok(()),
            MessageStatus::Queued => {
                if msg.channel == Channel::Email && !msg.kind.essential() {
                    let address = msg.recipient.trim().to_ascii_lowercase();
                    if let Some(s) = store::suppression(db.pool(), &address)
                        .await
                        .map_err(JobError::from)?
                    {
                        let why = format!(
                            "not sent: {} is on the suppression list ({} reported by {})",
                            s.address, s.reason, s.provider
                        );
                        let mut tx = db.begin_write().await.map_err(JobError::from)?;
                        store::set_status(
                            &mut tx,
                            id,
                            &[MessageStatus::Queued],
                            MessageStatus::Suppressed,
                            None,
                            Some(&why),
                            now,
                        )
                        .await
                        .map_err(JobError::from)?;
                        tx.commit().await.map_err(JobError::from)?;
                        tracing::info!(message_id = %id, kind = %msg.kind, "message suppressed");
                        return Ok(());
                    }
                }
            }
            MessageStatus::Sending => {
                // A process stopped between handing the message over and
                // recording the answer.
                let open = store::open_delivery(db.pool(), id)
                    .await
                    .map_err(JobError::from)?;
                let mut tx = db.begin_write().await.map_err(JobError::from)?;
                if idempotent {
                    if let Some(d) = open {
                        store::finish_delivery(&mut tx, d.id, DeliveryStatus::Failed, None,
                            Some("interrupted before the answer was recorded; asking again with the same idempotency key"), now)
                            .await.map_err(JobError::from)?;
                    }
                    store::set_status(
                        &mut tx,
                        id,
                        &[MessageStatus::Sending],
                        MessageStatus::Queued,
                        None,
                        None,
                        now,
                    )
                    .await
                    .map_err(JobError::from)?;
                } else {
                    let why = "interrupted after the message was handed to the provider and before its answer was recorded; the provider takes no idempotency key, so it is not sent again without a person";
                    if let Some(d) = open {
                        store::finish_delivery(
                            &mut tx,
                            d.id,
                            DeliveryStatus::Unknown,
                            None,
                            Some(why),
                            now,
                        )
                        .await
                        .map_err(JobError::from)?;
                    }
                    store::set_status(
                        &mut tx,
                        id,
                        &[MessageStatus::Sending],
                        MessageStatus::Unknown,
                        None,
                        Some(why),
                        now,
                    )
                    .await
                    .map_err(JobError::from)?;
                    tx.commit().await.map_err(JobError::from)?;
                    tracing::warn!(message_id = %id, provider, "delivery outcome unknown after an interruption");
                    return Ok(());
                }
                tx.commit().await.map_err(JobError::from)?;
            }
        }
        let rendered = self
            .render_message(&msg)
            .map_err(|e| JobError::permanent(format!("{e}")))?;

        // Record the attempt before the call, so an interruption is seen.
        let delivery = Delivery {
            id: DeliveryId::new(),
            message_id: id,
            cause: cause.to_string(),
            provider: provider.to_string(),
            idempotency_key: idempotent.then(|| msg.send_key.clone()),
            status: DeliveryStatus::Sending,
            provider_message_id: None,
            error: None,
            started_at: now,
            finished_at: None,
        };
        let mut tx = db.begin_write().await.map_err(JobError::from)?;
        let claimed = store::set_status(
            &mut tx,
            id,
            &[MessageStatus::Queued],
            MessageStatus::Sending,
            None,
            None,
            now,
        )
        .await
        .map_err(JobError::from)?;
        if !claimed {
            return Ok(()); // another attempt got there first
        }
        store::insert_delivery(&mut tx, &delivery)
            .await
            .map_err(JobError::from)?;
        tx.commit().await.map_err(JobError::from)?;
        let before = began.elapsed();

        // The recipient and the text stay out of the span: only what names
        // the message.
        let span = tracing::info_span!(
            "notify.send",
            channel = msg.channel.as_str(),
            kind = msg.kind.as_str(),
            provider = %provider,
            message_id = %id,
            outcome = tracing::field::Empty,
        );
        let result = async {
            match msg.channel {
                Channel::Email => {
                    let email = OutgoingEmail {
                        from: self.inner.settings.from.clone(),
                        reply_to: self.inner.settings.reply_to.clone(),
                        to: msg.recipient.clone(),
                        subject: rendered.subject,
                        text: rendered.text,
                        html: rendered.html.unwrap_or_default(),
                        idempotency_key: msg.send_key.clone(),
                        // Every kind today is transactional: nothing to unsubscribe from.
                        list_unsubscribe: None,
                    };
                    self.inner.email.send(&email).await
                }
                Channel::Sms => {
                    let sms = OutgoingSms {
                        to: msg.recipient.clone(),
                        from: self
                            .inner
                            .settings
                            .sms_from
                            .clone()
                            .unwrap_or_else(|| self.inner.shop.name.clone()),
                        body: rendered.text,
                        idempotency_key: msg.send_key.clone(),
                    };
                    self.inner.sms.send(&sms).await
                }
            }
        }
        .instrument(span.clone())
        .await;
        let handed = began.elapsed();
        span.record("outcome", if result.is_ok() { "sent" } else { "failed" });
        let recorded = self
            .record(&msg, &delivery, result, idempotent, last_attempt)
            .await;
        // Where a send's time goes, for profiling a burst: the reads, render
        // and the attempt's commit before the call; the provider; the record.
        tracing::debug!(
            target: "cielo_notify::timing",
            kind = %msg.kind,
            before_ms = before.as_secs_f64() * 1000.0,
            provider_ms = (handed - before).as_secs_f64() * 1000.0,
            record_ms = (began.elapsed() - handed).as_secs_f64() * 1000.0,
            "send timed"
        );
        recorded
    }

    async fn record(
        &self,
        msg: &Message,
        delivery: &Delivery,
        result: Result<providers::Accepted, SendError>,
        idempotent: bool,
        last_attempt: bool,
    ) -> Result<(), JobError> {
        let now = Timestamp::now();
        let id = msg.id;
        let counted = match &result {
            Ok(_) => "sent",
            Err(SendError::Unknown(_)) if !idempotent => "unknown",
            Err(_) => "failed",
        };
        let mut tx = self.inner.db.begin_write().await.map_err(JobError::from)?;
        let outcome = match result {
            Ok(a) => {
                store::finish_delivery(
                    &mut tx,
                    delivery.id,
                    DeliveryStatus::Sent,
                    Some(&a.provider_message_id),
                    None,
                    now,
                )
                .await
                .map_err(JobError::from)?;
                store::set_status(
                    &mut tx,
                    id,
                    &[MessageStatus::Sending, MessageStatus::Unknown],
                    MessageStatus::Sent,
                    Some(&a.provider_message_id),
                    None,
                    now,
                )
                .await
                .map_err(JobError::from)?;
                tracing::info!(message_id = %id, kind = %msg.kind, provider = %delivery.provider, "message sent");
                Ok(())
            }
            Err(SendError::Unknown(reason)) if !idempotent => {
                store::finish_delivery(
                    &mut tx,
                    delivery.id,
                    DeliveryStatus::Unknown,
                    None,
                    Some(&reason),
                    now,
                )
                .await
                .map_err(JobError::from)?;
                store::set_status(
                    &mut tx,
                    id,
                    &[MessageStatus::Sending],
                    MessageStatus::Unknown,
                    None,
                    Some(&reason),
                    now,
                )
                .await
                .map_err(JobError::from)?;
                tracing::warn!(message_id = %id, provider = %delivery.provider, reason, "delivery outcome unknown; not retried");
                Ok(())
            }
            Err(e) => {
                let (retryable, after) = match &e {
                    SendError::Definite {
                        retryable,
                        retry_after,
                        ..
                    } => (*retryable, *retry_after),
                    // Unknown with an idempotency key: asking again is safe.
                    SendError::Unknown(_) => (true, None),
                };
                let reason = e.to_string();
                store::finish_delivery(
                    &mut tx,
                    delivery.id,
                    DeliveryStatus::Failed,
                    None,
                    Some(&reason),
                    now,
                )
                .await
                .map_err(JobError::from)?;
                if retryable && !last_attempt {
                    store::set_status(
                        &mut tx,
                        id,
                        &[MessageStatus::Sending],
                        MessageStatus::Queued,
                        None,
                        Some(&reason),
                        now,
                    )
                    .await
                    .map_err(JobError::from)?;
                    Err(match after {
                        Some(d) => JobError::retry_after(reason, d),
                        None => JobError::retry(reason),
                    })
                } else {
                    store::set_status(
                        &mut tx,
                        id,
                        &[MessageStatus::Sending],
                        MessageStatus::Failed,
                        None,
                        Some(&reason),
                        now,
                    )
                    .await
                    .map_err(JobError::from)?;
                    tracing::error!(message_id = %id, provider = %delivery.provider, reason, "message failed");
                    Ok(())
                }
            }
        };
        tx.commit().await.map_err(JobError::from)?;
        metrics::counter!("cielo_notifications_total", "channel" => msg.channel.as_str(), "kind" => msg.kind.as_str(), "outcome" => counted)
            .increment(1);
        outcome
    }

    /// A message with its delivery log.
    pub async fn message(&self, id: MessageId) -> Result<MessageDetail> {
        let pool = self.inner.db.pool();
        let message = store::message(pool, id)
            .await?
            .ok_or_else(|| Error::MessageNotFound(id.to_string()))?;
        let deliveries = store::deliveries(pool, id).await?;
        Ok(MessageDetail {
            message,
            deliveries,
        })
    }

    /// Messages, newest first.
    pub async fn list(&self, f: &MessageFilter) -> Result<MessagePage> {
        let limit = f.limit.unwrap_or(50);
        if !(1..=100).contains(&limit) {
            return Err(Error::Invalid {
                field: "limit",
                detail: "must be between 1 and 100".into(),
            });
        }
        if let Some(s) = &f.status {
            if MessageStatus::parse(s).is_none() {
                return Err(Error::Invalid {
                    field: "status",
                    detail: "must be queued, sending, sent, failed, unknown, delivered, bounced, complained or suppressed".into(),
                });
            }
        }
        if let Some(k) = &f.kind {
            if Kind::parse(k).is_none() {
                return Err(Error::Invalid {
                    field: "kind",
                    detail: "is not a message kind".into(),
                });
            }
        }
        let cursor = match &f.cursor {
            Some(c) => Some(decode_cursor(c).ok_or(Error::Invalid {
                field: "cursor",
                detail: "is not a cursor this API gave out".into(),
            })?),
            None => None,
        };
        let mut messages = store::list_messages(
            self.inner.db.pool(),
            f.order_id.as_deref(),
            f.status.as_deref(),
            f.kind.as_deref(),
            cursor,
            limit + 1,
        )
        .await?;
        let next_cursor = if messages.len() as i64 > limit {
            messages.truncate(limit as usize);
            messages
                .last()
                .map(|m| format!("{}.{}", m.created_at.as_micros(), m.id))
        } else {
            None
        };
        Ok(MessagePage {
            messages,
            next_cursor,
        })
    }

    /// Sends a message again: a new send intent (new idempotency key), its
    /// cause recorded on the delivery. Refused while an attempt is running.
    pub async fn resend(&self, id: MessageId, cause: &str) -> Result<MessageDetail> {
        let msg = store::message(self.inner.db.pool(), id)
            .await?
            .ok_or_else(|| Error::MessageNotFound(id.to_string()))?;
        let key = format!("{}.r{}", id, msg.resends + 1);
        let mut tx = self.inner.db.begin_write().await?;
        if !store::restart(&mut tx, id, &key, Timestamp::now()).await? {
            return Err(Error::Busy(id.to_string()));
        }
        self.enqueue_send(&mut tx, id, &key, cause).await?;
        tx.commit().await?;
        self.message(id).await
    }

    /// Renders `kind` for an order as it would be sent now, without sending
    /// or storing anything (admin preview). `lang` defaults to the order's.
    pub async fn preview(
        &self,
        order_id: OrderId,
        kind: Kind,
        channel: Channel,
        lang: Option<&str>,
    ) -> Result<Rendered> {
        if kind == Kind::OwnerAlert {
            return Err(Error::Invalid {
                field: "kind",
                detail: "owner_alert is not about an order".into(),
            });
        }
        let order = self
            .inner
            .orders
            .get_order(order_id, &OrderAccess::Admin)
            .await
            .map_err(|e| match e {
                cielo_orders::Error::OrderNotFound => Error::OrderNotFound(order_id.to_string()),
                e => Error::Internal(anyhow::Error::new(e)),
            })?;
        let lang = match lang {
            Some(l) => format::supported(l).ok_or(Error::Invalid {
                field: "lang",
                detail: format!("must be one of {:?}", format::LANGUAGES),
            })?,
            None => {
                if kind.to_owner() {
                    format::supported(&self.inner.settings.default_language).unwrap_or("en")
                } else {
                    format::supported(&self.order_language(&order)).unwrap_or("en")
                }
            }
        };
        let link = data::order_link(&self.inner.shop, &order.id.to_string(), None);
        let mut data = data::order_data(&order, lang, &self.inner.shop, &link);
        data::set_account_name(&mut data, self.account_name(&order).await.as_deref());
        data["shipment"] = order
            .shipments
            .last()
            .map(shipment_data)
            .unwrap_or_else(|| serde_json::json!({}));
        if let Some((_, why)) = order
            .history
            .iter()
            .rev()
            .find_map(|h| lab_refusal(&h.cause))
        {
            data["reason"] = serde_json::json!(why);
        }
        data["refund"] =
            serde_json::json!({"partial": order.status == OrderStatus::PartiallyRefunded});
        if channel == Channel::Sms && !self.inner.templates.has_sms(kind) {
            return Err(Error::Invalid {
                field: "channel",
                detail: format!("{kind} has no SMS text"),
            });
        }
        Ok(self.inner.templates.render(kind, channel, lang, &data)?)
    }

    /// The files in the outbox, newest first.
    pub async fn outbox(&self) -> Result<Vec<OutboxFile>> {
        let mut out = Vec::new();
        let mut dir = match tokio::fs::read_dir(&self.inner.outbox_dir).await {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(Error::Internal(e.into())),
        };
        while let Some(entry) = dir.next_entry().await.map_err(anyhow::Error::from)? {
            let name = entry.file_name().to_string_lossy().to_string();
            if name.starts_with('.') {
                continue;
            }
            let meta = entry.metadata().await.map_err(anyhow::Error::from)?;
            let message_id = name
                .split('.')
                .next()
                .filter(|s| s.starts_with("msg_"))
                .map(str::to_string);
            let modified_at = meta
                .modified()
                .ok()
                .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| Timestamp::from_micros(d.as_micros() as i64));
            out.push(OutboxFile {
                name,
                message_id,
                bytes: meta.len(),
                modified_at,
            });
        }
        out.sort_by(|a, b| {
            b.modified_at
                .map(|t| t.as_micros())
                .cmp(&a.modified_at.map(|t| t.as_micros()))
                .then(b.name.cmp(&a.name))
        });
        Ok(out)
    }

    /// The raw bytes of an outbox file (`.eml` or `.sms.txt`).
    pub async fn outbox_file(&self, name: &str) -> Result<Vec<u8>> {
        if name.contains('/') || name.contains('\\') || name.starts_with('.') {
            return Err(Error::MessageNotFound(name.to_string()));
        }
        tokio::fs::read(self.inner.outbox_dir.join(name))
            .await
            .map_err(|_| Error::MessageNotFound(name.to_string()))
    }
}

fn decode_cursor(c: &str) -> Option<(i64, String)> {
    let (at, id) = c.split_once('.')?;
    let at = at.parse().ok()?;
    MessageId::parse(id).ok()?;
    Some((at, id.to_string()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_migration_set_is_well_formed() {
        cielo_db::check_set(&super::MIGRATIONS).unwrap();
    }
}
