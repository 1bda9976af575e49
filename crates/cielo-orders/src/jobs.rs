//! The orders domain's housekeeping jobs, registered by [`Orders::register`].

use crate::Orders;
use cielo_core::Timestamp;
use cielo_jobs::JobError;
use serde::{Deserialize, Serialize};

/// Job kind: cancel orders left unpaid too long.
pub const KIND_EXPIRE_UNPAID: &str = "orders.expire_unpaid";
/// Job kind: delete abandoned carts.
pub const KIND_EXPIRE_CARTS: &str = "carts.expire_stale";

/// The `[orders]` settings section.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OrderSettings {
    /// Orders still unpaid this long after checkout are cancelled (their stock returns).
    pub unpaid_expiry_minutes: i64,
    /// Open carts untouched this long are deleted.
    pub stale_cart_days: i64,
}

impl Default for OrderSettings {
    fn default() -> Self {
        Self {
            unpaid_expiry_minutes: 24 * 60,
            stale_cart_days: 30,
        }
    }
}

impl Orders {
    /// Registers the orders housekeeping jobs (`orders.expire_unpaid`,
    /// `carts.expire_stale`); the schedule says when they run.
    pub fn register(&self, r: &mut cielo_jobs::Registry, settings: &OrderSettings) {
        let (o, minutes) = (self.clone(), settings.unpaid_expiry_minutes);
        r.handle(KIND_EXPIRE_UNPAID, move |_ctx, _payload| {
            let o = o.clone();
            async move {
                let cutoff = Timestamp::now().plus_seconds(-minutes * 60);
                let n = o.expire_unpaid(cutoff).await.map_err(JobError::retry)?;
                if n > 0 {
                    tracing::info!(cancelled = n, "expired unpaid orders");
                }
                Ok(())
            }
        });
        let (o, days) = (self.clone(), settings.stale_cart_days);
        r.handle(KIND_EXPIRE_CARTS, move |_ctx, _payload| {
            let o = o.clone();
            async move {
                let cutoff = Timestamp::now().plus_seconds(-days * 86_400);
                let n = o
                    .expire_stale_carts(cutoff)
                    .await
                    .map_err(JobError::retry)?;
                if n > 0 {
                    tracing::info!(deleted = n, "deleted stale carts");
                }
                Ok(())
            }
        });
    }
}
