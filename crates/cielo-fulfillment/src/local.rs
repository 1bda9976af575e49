//! The built-in `local` lab: accepts every order, then walks it through
//! in production → shipped (a made-up carrier, tracking number and URL) →
//! delivered on the configured delays, one `fulfillment.local_step` job per
//! step, so a shop's whole order life is visible on a laptop.

use crate::lab::{CancelOutcome, CreateOutcome, LabApi, LabError, LabSnapshot};
use crate::quote::QuoteItem;
use crate::store::StoredLabOrder;
use crate::{LabStage, Recipient, Shipment};
use cielo_core::{Currency, Money, Timestamp};
use sha2::{Digest, Sha256};

/// The made-up carrier.
pub(crate) const CARRIER: &str = "Cielo Local Post";

pub(crate) struct Local;

/// The made-up shipment of a local lab order: stable per lab order, so a
/// repeated step merges into the same shipment.
pub(crate) fn shipment(order: &StoredLabOrder) -> Shipment {
    let digest = Sha256::digest(order.id.to_string().as_bytes());
    let digits: String = digest
        .iter()
        .take(10)
        .map(|b| char::from(b'0' + b % 10))
        .collect();
    let tracking = format!("CL{digits}");
    Shipment {
        carrier: CARRIER.into(),
        service: Some("Standard".into()),
        tracking_url: Some(format!("https://tracking.example/cielo-local/{tracking}")),
        tracking_number: tracking,
        shipped_at: Timestamp::now(),
        line_ids: order
            .request
            .items
            .iter()
            .map(|i| i.line_id.clone())
            .collect(),
        lab_shipment_id: format!("local-{}", order.id),
    }
}

/// What the local lab says when it reaches `stage`.
pub(crate) fn snapshot(order: &StoredLabOrder, stage: LabStage) -> LabSnapshot {
    LabSnapshot {
        lab_ref: format!("local-{}", order.id),
        raw_status: stage.as_str().to_string(),
        stage: Some(stage),
        reason: None,
        shipments: if matches!(stage, LabStage::Shipped | LabStage::Delivered) {
            vec![shipment(order)]
        } else {
            Vec::new()
        },
    }
}

/// The step after `stage` and its delay in seconds.
pub(crate) fn next_step(
    stage: LabStage,
    settings: &crate::LocalLabSettings,
) -> Option<(LabStage, u64)> {
    match stage {
        LabStage::Planned | LabStage::Submitted => {
            Some((LabStage::InProduction, settings.in_production_after_secs))
        }
        LabStage::InProduction => Some((LabStage::Shipped, settings.shipped_after_secs)),
        LabStage::Shipped => Some((LabStage::Delivered, settings.delivered_after_secs)),
        _ => None,
    }
}

#[async_trait::async_trait]
impl LabApi for Local {
    async fn find(&self, _order: &StoredLabOrder) -> Result<Option<LabSnapshot>, LabError> {
        Ok(None)
    }
    async fn create(&self, order: &StoredLabOrder) -> Result<CreateOutcome, LabError> {
        Ok(CreateOutcome::Accepted(snapshot(
            order,
            LabStage::Submitted,
        )))
    }
    async fn fetch(&self, order: &StoredLabOrder) -> Result<LabSnapshot, LabError> {
        Ok(snapshot(order, order.stage))
    }
    async fn cancel(&self, order: &StoredLabOrder) -> Result<CancelOutcome, LabError> {
        Ok(match order.stage {
            LabStage::Shipped | LabStage::Delivered => {
                CancelOutcome::NotPossible("already shipped".into())
            }
            _ => CancelOutcome::Cancelled,
        })
    }
    async fn update_recipient(
        &self,
        order: &StoredLabOrder,
        _recipient: &Recipient,
    ) -> Result<bool, LabError> {
        Ok(matches!(
            order.stage,
            LabStage::Planned | LabStage::Submitted | LabStage::InProduction | LabStage::OnHold
        ))
    }
    async fn quote(
        &self,
        _items: &[QuoteItem],
        _country: &str,
        _currency: Currency,
    ) -> Result<Option<Money>, LabError> {
        // The local lab has no prices: the shop's flat rate applies.
        Ok(None)
    }
}
