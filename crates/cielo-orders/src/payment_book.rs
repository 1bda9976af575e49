//! The orders domain as the payments domain sees it: an
//! [`cielo_payments::OrderBook`] that reads and moves orders through the
//! caller's connection (so a payment event is decided and applied with one
//! connection, even with a pool of one).

use crate::{OrderFilter, OrderId, OrderStatus, Orders};
use cielo_core::Timestamp;
use cielo_db::sqlx::AnyConnection;
use cielo_payments::event::{Action, OrderFacts, OrderState};
use cielo_payments::OrderBook;

/// [`OrderBook`] over [`Orders`]; see [`Orders::payment_book`].
pub(crate) struct OrdersBook {
    pub(crate) orders: Orders,
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
    async fn facts(
        &self,
        conn: &mut AnyConnection,
        order_id: &str,
    ) -> anyhow::Result<Option<OrderFacts>> {
        let Ok(id) = order_id.parse::<OrderId>() else {
            return Ok(None);
        };
        match self.orders.order_in(conn, id).await {
            Ok(o) => Ok(Some(OrderFacts {
                state: state_of(o.status),
                total: o.totals.total.amount,
                currency: o.totals.total.currency.code().to_string(),
                session_id: o.payment.session_id,
            })),
            Err(crate::Error::OrderNotFound) => Ok(None),
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
                // Read in the transaction: it sees what this transaction did.
                let order = self.orders.order_in(&mut *conn, id).await?;
                if order.status != OrderStatus::PendingPayment {
                    anyhow::bail!("order {id} is {} now; deciding again", order.status);
                }
                let items: Vec<_> = order
                    .lines
                    .iter()
                    .map(|l| (l.variant_id, l.quantity))
                    .collect();
                self.orders.catalog.return_stock(conn, &items).await?;
                OrderStatus::Cancelled
            }
        };
        if let Action::Attention(_) = action {
            let order = self.orders.order_in(&mut *conn, id).await?;
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
