//! Forward-only stages, the labs' status maps, and shipment merging.
//!
//! Labs deliver webhooks late, twice and out of order, and a poll can race a
//! webhook. Whatever arrives, a lab order's stage only moves forward and its
//! shipments only grow: see [`next_stage`] and [`merge_shipments`].

use crate::{LabStage, Shipment};

/// How far along the happy path a stage is (`None` for refused/cancelled).
fn rank(stage: LabStage) -> Option<u8> {
    Some(match stage {
        LabStage::Planned => 0,
        LabStage::Submitted | LabStage::OnHold => 1,
        LabStage::InProduction => 2,
        LabStage::Shipped => 3,
        LabStage::Delivered => 4,
        LabStage::Refused | LabStage::Cancelled => return None,
    })
}

/// The stage to move to when the lab says `proposed` while we are at
/// `current`, or `None` to stay (same stage, or a move backwards).
///
/// * delivered, refused and cancelled are final here (only an explicit
///   resubmission leaves refused/cancelled);
/// * refused and cancelled are taken until the first shipment;
/// * on hold is taken from submitted or in production, and left for any stage
///   from submitted on;
/// * otherwise only a higher stage is taken.
pub(crate) fn next_stage(current: LabStage, proposed: LabStage) -> Option<LabStage> {
    if current == proposed {
        return None;
    }
    let cur = rank(current)?; // final: refused / cancelled
    if current == LabStage::Delivered {
        return None;
    }
    let allowed = match proposed {
        LabStage::Refused | LabStage::Cancelled => cur < 3,
        LabStage::OnHold => matches!(
            current,
            LabStage::Planned | LabStage::Submitted | LabStage::InProduction
        ),
        _ => {
            let new = rank(proposed).unwrap_or(0);
            new > cur || (current == LabStage::OnHold && new >= 1)
        }
    };
    allowed.then_some(proposed)
}

/// Printful v1 order `status` → our stage; `None` for statuses that say
/// nothing about progress (`archived`, unknown values).
///
/// | Printful | ours |
/// |---|---|
/// | `draft` | on_hold (a confirmed order back in draft waits for its costs) |
/// | `inreview`, `pending` | submitted |
/// | `onhold` | on_hold |
/// | `inprocess` | in_production |
/// | `partial`, `fulfilled` | shipped |
/// | `failed` | refused |
/// | `canceled` | cancelled |
pub fn printful_stage(status: &str) -> Option<LabStage> {
    Some(match status.to_ascii_lowercase().as_str() {
        "draft" => LabStage::OnHold,
        "inreview" | "pending" => LabStage::Submitted,
        "onhold" => LabStage::OnHold,
        "inprocess" => LabStage::InProduction,
        "partial" | "fulfilled" => LabStage::Shipped,
        "failed" => LabStage::Refused,
        "canceled" | "cancelled" => LabStage::Cancelled,
        _ => return None,
    })
}

/// Prodigi v4 `status.stage` (and `status.details.inProduction`) → our
/// stage, compared case-insensitively. A paused order has no stage yet:
/// submitted.
///
/// | Prodigi | ours |
/// |---|---|
/// | no status (pause window) | submitted |
/// | `InProgress`, `inProduction` not started | submitted |
/// | `InProgress`, `inProduction` InProgress/Complete | in_production |
/// | `Complete` | shipped |
/// | `Cancelled` | cancelled |
/// | an issue `ItemUnavailable` / `FailedToDownloaded` | refused |
pub fn prodigi_stage(stage: Option<&str>, in_production: Option<&str>) -> Option<LabStage> {
    let producing = in_production
        .map(|s| s.eq_ignore_ascii_case("InProgress") || s.eq_ignore_ascii_case("Complete"))
        .unwrap_or(false);
    match stage.map(str::to_ascii_lowercase).as_deref() {
        None | Some("draft") | Some("awaitingpayment") => Some(LabStage::Submitted),
        Some("inprogress") if producing => Some(LabStage::InProduction),
        Some("inprogress") => Some(LabStage::Submitted),
        Some("complete") => Some(LabStage::Shipped),
        Some("cancelled") | Some("canceled") => Some(LabStage::Cancelled),
        Some(_) => None,
    }
}

/// A lab that lists a shipment has shipped, whatever its order status says
/// (Printful `partial`; a Prodigi shipment before the stage is `Complete`).
pub(crate) fn with_shipments(stage: Option<LabStage>, shipments: &[Shipment]) -> Option<LabStage> {
    match stage {
        None | Some(LabStage::Submitted | LabStage::OnHold | LabStage::InProduction)
            if !shipments.is_empty() =>
        {
            Some(LabStage::Shipped)
        }
        other => other,
    }
}

/// Merges `incoming` shipments into `existing`: a shipment is the same when
/// its lab shipment id, or else its tracking number, matches. A match only
/// fills blanks (a late event never overwrites a tracking number); new ones
/// are appended; none is ever removed. Returns the merged list and whether
/// anything changed.
pub fn merge_shipments(existing: &[Shipment], incoming: &[Shipment]) -> (Vec<Shipment>, bool) {
    let mut merged = existing.to_vec();
    let mut changed = false;
    for new in incoming {
        let found = merged.iter_mut().find(|s| {
            (!new.lab_shipment_id.is_empty() && s.lab_shipment_id == new.lab_shipment_id)
                || (!new.tracking_number.is_empty() && s.tracking_number == new.tracking_number)
        });
        match found {
            Some(s) => {
                if s.tracking_number.is_empty() && !new.tracking_number.is_empty() {
                    s.tracking_number = new.tracking_number.clone();
                    changed = true;
                }
                if s.carrier.is_empty() && !new.carrier.is_empty() {
                    s.carrier = new.carrier.clone();
                    changed = true;
                }
                if s.service.is_none() && new.service.is_some() {
                    s.service = new.service.clone();
                    changed = true;
                }
                if s.tracking_url.is_none() && new.tracking_url.is_some() {
                    s.tracking_url = new.tracking_url.clone();
                    changed = true;
                }
                if s.line_ids.is_empty() && !new.line_ids.is_empty() {
                    s.line_ids = new.line_ids.clone();
                    changed = true;
                }
            }
            None => {
                merged.push(new.clone());
                changed = true;
            }
        }
    }
    (merged, changed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cielo_core::Timestamp;
    use LabStage::*;

    #[test]
    fn stages_only_move_forward() {
        assert_eq!(next_stage(Submitted, InProduction), Some(InProduction));
        assert_eq!(next_stage(InProduction, Shipped), Some(Shipped));
        assert_eq!(next_stage(Shipped, Delivered), Some(Delivered));
        assert_eq!(next_stage(Shipped, InProduction), None);
        assert_eq!(next_stage(Delivered, Shipped), None);
        assert_eq!(next_stage(Shipped, Shipped), None);
        assert_eq!(next_stage(Planned, Shipped), Some(Shipped));
    }

    #[test]
    fn refusal_and_cancellation_stop_at_the_first_shipment() {
        assert_eq!(next_stage(Submitted, Refused), Some(Refused));
        assert_eq!(next_stage(InProduction, Cancelled), Some(Cancelled));
        assert_eq!(next_stage(Shipped, Cancelled), None);
        assert_eq!(next_stage(Delivered, Refused), None);
        assert_eq!(next_stage(Refused, InProduction), None);
        assert_eq!(next_stage(Cancelled, Shipped), None);
    }

    #[test]
    fn hold_comes_and_goes_but_never_after_shipping() {
        assert_eq!(next_stage(Submitted, OnHold), Some(OnHold));
        assert_eq!(next_stage(InProduction, OnHold), Some(OnHold));
        assert_eq!(next_stage(OnHold, Submitted), Some(Submitted));
        assert_eq!(next_stage(OnHold, InProduction), Some(InProduction));
        assert_eq!(next_stage(Shipped, OnHold), None);
    }

    #[test]
    fn printful_and_prodigi_statuses_map_as_documented() {
        assert_eq!(printful_stage("pending"), Some(Submitted));
        assert_eq!(printful_stage("inprocess"), Some(InProduction));
        assert_eq!(printful_stage("partial"), Some(Shipped));
        assert_eq!(printful_stage("fulfilled"), Some(Shipped));
        assert_eq!(printful_stage("failed"), Some(Refused));
        assert_eq!(printful_stage("canceled"), Some(Cancelled));
        assert_eq!(printful_stage("onhold"), Some(OnHold));
        assert_eq!(printful_stage("archived"), None);
        assert_eq!(
            prodigi_stage(Some("InProgress"), Some("NotStarted")),
            Some(Submitted)
        );
        assert_eq!(
            prodigi_stage(Some("inProgress"), Some("inProgress")),
            Some(InProduction)
        );
        assert_eq!(prodigi_stage(Some("COMPLETE"), None), Some(Shipped));
        assert_eq!(prodigi_stage(Some("cancelled"), None), Some(Cancelled));
        assert_eq!(prodigi_stage(None, None), Some(Submitted));
    }

    fn ship(id: &str, tracking: &str, url: Option<&str>) -> Shipment {
        Shipment {
            carrier: "UPS".into(),
            service: None,
            tracking_number: tracking.into(),
            tracking_url: url.map(str::to_string),
            shipped_at: Timestamp::from_micros(1_700_000_000_000_000),
            line_ids: vec![],
            lab_shipment_id: id.into(),
        }
    }

    #[test]
    fn shipments_merge_and_are_never_overwritten() {
        let first = vec![ship("s1", "1Z1", Some("https://t/1Z1"))];
        // The same shipment again, late, with a different (stale) tracking: kept as it was.
        let (m, changed) = merge_shipments(&first, &[ship("s1", "OLD", None)]);
        assert!(!changed);
        assert_eq!(m, first);
        // A reshipment is added beside it.
        let (m, changed) = merge_shipments(&m, &[ship("s2", "1Z2", None)]);
        assert!(changed);
        assert_eq!(m.len(), 2);
        // Matched by tracking number when the id differs; fills the missing URL.
        let (m, changed) = merge_shipments(&m, &[ship("", "1Z2", Some("https://t/1Z2"))]);
        assert!(changed);
        assert_eq!(m.len(), 2);
        assert_eq!(m[1].tracking_url.as_deref(), Some("https://t/1Z2"));
        // An event that lists nothing removes nothing.
        let (m2, changed) = merge_shipments(&m, &[]);
        assert!(!changed);
        assert_eq!(m2, m);
    }
}
