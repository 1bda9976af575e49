//! The trait each lab's client implements. Vendor types never cross it.

use crate::quote::QuoteItem;
use crate::store::StoredLabOrder;
use crate::{LabStage, Recipient, Shipment};
use cielo_core::{Currency, Money};
use std::time::Duration;

/// What a lab says about one of our orders, in our words.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LabSnapshot {
    /// The lab's id for it.
    pub lab_ref: String,
    /// The lab's status, raw.
    pub raw_status: String,
    /// Our stage for it; `None` when the status says nothing about progress.
    pub stage: Option<LabStage>,
    /// The lab's reason (refusal, hold), when it gives one.
    pub reason: Option<String>,
    /// Shipments that left the lab.
    pub shipments: Vec<Shipment>,
}

/// The outcome of a create call.
#[derive(Debug)]
pub(crate) enum CreateOutcome {
    /// The lab has the order (new, or the one it already had under our key).
    Accepted(LabSnapshot),
    /// The lab refused it for a reason retrying cannot fix.
    Refused(String),
}

/// The outcome of a cancel call.
#[derive(Debug)]
pub(crate) enum CancelOutcome {
    /// Cancelled at the lab.
    Cancelled,
    /// The lab will not cancel it (already in production, …).
    NotPossible(String),
}

/// A failed call.
#[derive(Debug)]
pub(crate) enum LabError {
    /// No answer, a 5xx or a 429: retry (with the same key), after `after`
    /// when the lab said. The lab may or may not have acted.
    Retry {
        message: String,
        after: Option<Duration>,
    },
    /// The lab does not know the order.
    NotFound,
    /// Keys or settings are wrong; retrying later (after a fix) may work.
    Misconfigured(String),
}

impl std::fmt::Display for LabError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LabError::Retry { message, .. } => f.write_str(message),
            LabError::NotFound => f.write_str("the lab does not know this order"),
            LabError::Misconfigured(m) => write!(f, "misconfigured: {m}"),
        }
    }
}

/// One lab's API.
#[async_trait::async_trait]
pub(crate) trait LabApi: Send + Sync {
    /// Asks the lab whether it already has the order under our key; used
    /// before re-sending a submission whose outcome is unknown.
    async fn find(&self, order: &StoredLabOrder) -> Result<Option<LabSnapshot>, LabError>;
    /// Creates the order under our key.
    async fn create(&self, order: &StoredLabOrder) -> Result<CreateOutcome, LabError>;
    /// Re-reads the order (after a webhook, or when polling).
    async fn fetch(&self, order: &StoredLabOrder) -> Result<LabSnapshot, LabError>;
    /// What to do about a fetched state that needs our action (Printful: an
    /// order back in `draft` must be confirmed again). Returns the state
    /// after acting, or `None` when nothing was needed.
    async fn nudge(
        &self,
        _order: &StoredLabOrder,
        _snapshot: &LabSnapshot,
    ) -> Result<Option<LabSnapshot>, LabError> {
        Ok(None)
    }
    /// Cancels at the lab.
    async fn cancel(&self, order: &StoredLabOrder) -> Result<CancelOutcome, LabError>;
    /// Changes the recipient of a submitted order where the lab allows it;
    /// `Ok(false)` when it does not.
    async fn update_recipient(
        &self,
        order: &StoredLabOrder,
        recipient: &Recipient,
    ) -> Result<bool, LabError>;
    /// The shipping cost for these items to `country`, in `currency`.
    async fn quote(
        &self,
        items: &[QuoteItem],
        country: &str,
        currency: Currency,
    ) -> Result<Option<Money>, LabError>;
}

/// Parses a decimal amount (`"4.99"`) into minor units of `currency`.
pub(crate) fn parse_decimal(amount: &str, currency: Currency) -> Option<Money> {
    let amount = amount.trim();
    let exp = currency.exponent() as usize;
    let (int, frac) = amount.split_once('.').unwrap_or((amount, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut frac = frac.to_string();
    if frac.len() > exp {
        // Round half up on the first dropped digit.
        let round_up = frac.as_bytes()[exp] >= b'5';
        frac.truncate(exp);
        let minor: i64 = format!("{int}{frac}").parse().ok()?;
        return Some(Money::new(minor + i64::from(round_up), currency));
    }
    while frac.len() < exp {
        frac.push('0');
    }
    let minor: i64 = format!("{}{frac}", if int.is_empty() { "0" } else { int })
        .parse()
        .ok()?;
    Some(Money::new(minor, currency))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_amounts_become_minor_units() {
        let usd = Currency::parse("USD").unwrap();
        let jpy = Currency::parse("JPY").unwrap();
        assert_eq!(parse_decimal("4.99", usd), Some(Money::new(499, usd)));
        assert_eq!(parse_decimal("12", usd), Some(Money::new(1200, usd)));
        assert_eq!(parse_decimal("3.5", usd), Some(Money::new(350, usd)));
        assert_eq!(parse_decimal("1.005", usd), Some(Money::new(101, usd)));
        assert_eq!(parse_decimal("700", jpy), Some(Money::new(700, jpy)));
        assert_eq!(parse_decimal("abc", usd), None);
        assert_eq!(parse_decimal("", usd), None);
    }
}
