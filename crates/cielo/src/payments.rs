//! Payments wired to orders: the provider chosen by configuration, the
//! [`OrderBook`] over the orders domain, and the payment jobs.

use crate::settings::{Secrets, Settings};
use cielo_catalog::Catalog;
use cielo_core::Timestamp;
use cielo_db::sqlx::AnyConnection;
use cielo_db::Db;
use cielo_jobs::JobError;
use cielo_orders::{OrderAccess, OrderFilter, OrderId, OrderStatus, Orders};
use cielo_payments::event::{Action, OrderFacts, OrderState};
use cielo_payments::inbox::{Webhooks, KIND_PROCESS_EVENT};
use cielo_payments::stripe::{StripeConfig, StripeProvider};
use cielo_payments::{
    CatchUpSettings, Delivery, OrderBook, Payments, ProcessError, SharedProvider, TestProvider,
};
use std::sync::Arc;

/// Job kind: list missed provider events and ask about orders waiting too long.
pub const KIND_CATCH_UP: &str = "payments.catch_up";

/// [`OrderBook`] over the orders domain.
struct OrdersBook {
    orders: Orders,
    catalog: Catalog,
}

fn state_of(s: OrderStatus) -> OrderState {
    match s {
        OrderStatus::PendingPayment => OrderState::PendingPayment,
        OrderStatus::Paid
        | OrderStatus::InProduction
        | OrderStatus::Shipped
        | OrderStatus::Delivered => OrderState::Paid,
        OrderStatus::PartiallyRefunded => OrderState::PartiallyRefunded,
        OrderStatus::Refunded => OrderState::Refunded,
        OrderStatus::Cancelled => OrderState::Cancelled,
        OrderStatus::NeedsAttention => OrderState::NeedsAttention,
    }
}

#[async_trait::async_trait]
impl OrderBook for OrdersBook {
    async fn facts(&self, order_id: &str) -> anyhow::Result<Option<OrderFacts>> {
        let Ok(id) = order_id.parse::<OrderId>() else {
            return Ok(None);
        };
        match self.orders.get_order(id, &OrderAccess::Admin).await {
            Ok(o) => Ok(Some(OrderFacts {
                state: state_of(o.status),
                total: o.totals.total.amount,
                currency: o.totals.total.currency.code().to_string(),
                session_id: o.payment.session_id,
            })),
            Err(cielo_orders::Error::OrderNotFound) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn apply(
        &self,
        conn: &mut AnyConnection,
        order_id: &str,
        action: &Action,
        cause: &str,
    ) -> anyhow::Result<bool> {
        let id: OrderId = order_id
            .parse()
            .map_err(|_| anyhow::anyhow!("bad order id {order_id}"))?;
        let to = match action {
            Action::Nothing(_) => return Ok(false),
            Action::MarkPaid => OrderStatus::Paid,
            Action::Refunded => OrderStatus::Refunded,
            Action::PartiallyRefunded => OrderStatus::PartiallyRefunded,
            Action::Attention(_) => OrderStatus::NeedsAttention,
            Action::Cancel => {
                let order = self.orders.get_order(id, &OrderAccess::Admin).await?;
                if order.status != OrderStatus::PendingPayment {
                    anyhow::bail!("order {id} is {} now; deciding again", order.status);
                }
                let items: Vec<_> = order
                    .lines
                    .iter()
                    .map(|l| (l.variant_id, l.quantity))
                    .collect();
                self.catalog.return_stock(conn, &items).await?;
                OrderStatus::Cancelled
            }
        };
        if let Action::Attention(_) = action {
            let order = self.orders.get_order(id, &OrderAccess::Admin).await?;
            // A refunded order cannot need attention; the alert still goes out.
            if order.status != OrderStatus::NeedsAttention
                && !order.status.can_become(OrderStatus::NeedsAttention)
            {
                return Ok(false);
            }
        }
        // A refusal means the order moved since the decision: the job runs
        // again and decides on the new status.
        Ok(self.orders.transition(conn, id, to, cause).await?)
    }

    async fn awaiting_payment(&self, before: Timestamp) -> anyhow::Result<Vec<String>> {
        let page = self
            .orders
            .list_orders(OrderFilter {
                status: Some(OrderStatus::PendingPayment),
                to: Some(before),
                limit: Some(100),
                ..Default::default()
            })
            .await?;
        Ok(page.orders.into_iter().map(|o| o.id.to_string()).collect())
    }
}

/// The test provider's webhook secret: `CIELO_TEST_WEBHOOK_SECRET`, or one
/// generated once and kept in the data directory.
fn test_secret(settings: &Settings, secrets: &Secrets) -> anyhow::Result<String> {
    if let Some(s) = &secrets.test_webhook_secret {
        return Ok(s.clone());
    }
    let path = settings.data_dir.join("test-webhook-secret");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        if existing.trim().starts_with("whsec_") {
            return Ok(existing.trim().to_string());
        }
    }
    let secret = format!("whsec_{}", hex::encode(rand::random::<[u8; 24]>()));
    std::fs::write(&path, &secret)?;
    Ok(secret)
}

/// The configured provider and the payments service.
pub fn build(
    db: &Db,
    settings: &Settings,
    secrets: &Secrets,
    public_url: &str,
) -> anyhow::Result<(SharedProvider, Option<Arc<TestProvider>>, Webhooks)> {
    let p = &settings.payments;
    let ttl = p.session_ttl_minutes * 60;
    let test_secret = test_secret(settings, secrets)?;
    let delivery = Delivery::parse(&p.test_delivery).unwrap_or_default();
    let test = Arc::new(TestProvider::new(public_url, ttl).with_events(
        db.clone(),
        &test_secret,
        delivery,
    ));
    let mut webhooks = Webhooks::new(db.clone(), p.webhook_tolerance_secs);
    if !secrets.stripe_webhook_secrets.is_empty() {
        webhooks = webhooks.accept("stripe", secrets.stripe_webhook_secrets.clone());
    }
    match p.provider.as_str() {
        "stripe" => {
            let key = secrets
                .stripe_secret_key
                .clone()
                .ok_or_else(|| anyhow::anyhow!("payments.provider = \"stripe\" needs CIELO_STRIPE_SECRET_KEY (sk_test_… or sk_live_…)"))?;
            if secrets.stripe_webhook_secrets.is_empty() {
                tracing::warn!("CIELO_STRIPE_WEBHOOK_SECRETS is not set: /webhooks/stripe refuses everything; only the catch-up sees payments");
            }
            let provider = StripeProvider::new(StripeConfig {
                api_base: p.stripe_api_base.clone(),
                secret_key: key,
                session_ttl_secs: ttl,
                page_size: 100,
            });
            Ok((Arc::new(provider), None, webhooks))
        }
        _ => {
            webhooks = webhooks.accept("test", vec![test_secret]);
            Ok((test.clone(), Some(test), webhooks))
        }
    }
}

/// The payments service over the orders domain.
pub fn service(
    db: &Db,
    settings: &Settings,
    orders: &Orders,
    catalog: &Catalog,
    provider: SharedProvider,
    test: Option<Arc<TestProvider>>,
    webhooks: Webhooks,
) -> Payments {
    let p = &settings.payments;
    let book = Arc::new(OrdersBook {
        orders: orders.clone(),
        catalog: catalog.clone(),
    });
    let catch_up = CatchUpSettings {
        overlap_secs: p.catch_up_overlap_secs,
        initial_secs: p.catch_up_initial_secs,
        recover_after_secs: p.recover_after_minutes * 60,
    };
    Payments::new(db.clone(), provider, test, webhooks, book, catch_up)
}

/// Registers the payment jobs.
pub fn register(r: &mut cielo_jobs::Registry, payments: &Payments) {
    #[derive(serde::Deserialize)]
    struct Process {
        provider: String,
        #[serde(default)]
        event_id: Option<String>,
        #[serde(default)]
        event_ids: Vec<String>,
    }
    let p = payments.clone();
    r.handle_json(KIND_PROCESS_EVENT, move |_ctx, args: Process| {
        let p = p.clone();
        async move {
            let mut ids = args.event_ids;
            ids.extend(args.event_id);
            match p.process_events(&args.provider, &ids).await {
                Ok(_) => Ok(()),
                Err(ProcessError::Retry(e)) => Err(JobError::retry(format!("{e:#}"))),
                Err(ProcessError::Permanent(e)) => Err(JobError::permanent(e)),
            }
        }
    });
    let p = payments.clone();
    r.handle(KIND_CATCH_UP, move |_ctx, _payload| {
        let p = p.clone();
        async move {
            p.catch_up()
                .await
                .map_err(|e| JobError::retry(format!("{e:#}")))?;
            Ok(())
        }
    });
}
