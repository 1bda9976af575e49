//! Digital downloads: the print files (PNG and PDF) of an order's digital
//! lines, handed to the buyer through short-lived signed links.
//!
//! Links are made fresh each time the order is read (the order page, the
//! order API), each valid for `downloads.link_secs` at most, and only within
//! the download period (`downloads.period_secs`, counted from when the line's
//! files were ready). Nothing here is stored: the period is read off the
//! line's artwork record, the links are signatures.

use cielo_core::Timestamp;
use cielo_orders::{Order, OrderLine, OrderLineId, OrderStatus};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Settings of digital downloads (`[downloads]`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DownloadSettings {
    /// How long a buyer can download the files, in seconds from when they
    /// were ready (default 30 days).
    pub period_secs: u64,
    /// How long one download link works, in seconds (default 15 minutes);
    /// never past the end of the period.
    pub link_secs: u64,
}

impl Default for DownloadSettings {
    fn default() -> Self {
        Self {
            period_secs: 30 * 24 * 3600,
            link_secs: 15 * 60,
        }
    }
}

impl DownloadSettings {
    /// Refuses a period or link lifetime of zero.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(self.period_secs > 0, "downloads.period_secs must be > 0");
        anyhow::ensure!(self.link_secs > 0, "downloads.link_secs must be > 0");
        Ok(())
    }
}

/// Where an order's downloads stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DownloadState {
    /// Paid; the files are being made.
    Preparing,
    /// The links in `files` work.
    Available,
    /// The download period is over: no links.
    Expired,
    /// Not paid, cancelled or refunded: no links.
    Unavailable,
}

/// One file to download.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DownloadFile {
    /// The order line.
    pub line_id: OrderLineId,
    /// `png` or `pdf`.
    pub format: String,
    /// The name the file is saved under.
    pub filename: String,
    /// Signed link serving the file until `expires_at`.
    pub url: String,
    /// When this link stops working (ask for the order again for a new one).
    pub expires_at: Timestamp,
}

/// The downloads of an order with digital lines.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Downloads {
    /// Where they stand.
    pub state: DownloadState,
    /// When the files were ready (the earliest line's), once they are.
    pub ready_at: Option<Timestamp>,
    /// When the download period ends (the latest line's), once ready.
    pub available_until: Option<Timestamp>,
    /// Links per digital line, PNG and PDF; empty unless `available`.
    pub files: Vec<DownloadFile>,
}

/// The period's end for a line whose files were ready at `ready`.
pub(crate) fn period_end(ready: Timestamp, settings: &DownloadSettings) -> Timestamp {
    ready.plus_seconds(i64::try_from(settings.period_secs).unwrap_or(i64::MAX / 2))
}

/// How long a link made at `now` lives: the configured lifetime, cut at the
/// end of the period. `None` once the period is over.
pub(crate) fn link_ttl(
    now: Timestamp,
    end: Timestamp,
    settings: &DownloadSettings,
) -> Option<Duration> {
    let left = end.as_unix_seconds() - now.as_unix_seconds();
    (left > 0).then(|| Duration::from_secs(settings.link_secs.min(left as u64)))
}

/// The state of an order's downloads, from its status and its digital
/// lines' files. `None` when the order has no digital line.
pub(crate) fn state_of(
    order: &Order,
    now: Timestamp,
    settings: &DownloadSettings,
) -> Option<(DownloadState, Option<Timestamp>, Option<Timestamp>)> {
    let lines: Vec<&OrderLine> = order
        .lines
        .iter()
        .filter(|l| l.delivery.is_digital())
        .collect();
    if lines.is_empty() {
        return None;
    }
    let ready_at = lines
        .iter()
        .filter_map(|l| l.artwork.as_ref().map(|a| a.created_at))
        .min();
    let until = lines
        .iter()
        .filter_map(|l| {
            l.artwork
                .as_ref()
                .map(|a| period_end(a.created_at, settings))
        })
        .max();
    let paid = matches!(
        order.status,
        OrderStatus::Paid
            | OrderStatus::InProduction
            | OrderStatus::Shipped
            | OrderStatus::Delivered
            | OrderStatus::PartiallyRefunded
            | OrderStatus::NeedsAttention
    );
    let state = if !paid {
        DownloadState::Unavailable
    } else if lines.iter().any(|l| l.artwork.is_none()) {
        DownloadState::Preparing
    } else if until.is_some_and(|u| u.as_unix_seconds() > now.as_unix_seconds()) {
        DownloadState::Available
    } else {
        DownloadState::Expired
    };
    Some((state, ready_at, until))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_live_their_lifetime_but_never_past_the_period() {
        let s = DownloadSettings {
            period_secs: 3600,
            link_secs: 900,
        };
        let ready = Timestamp::from_micros(1_700_000_000_000_000);
        let end = period_end(ready, &s);
        assert_eq!(end.as_unix_seconds(), 1_700_003_600);
        assert_eq!(link_ttl(ready, end, &s), Some(Duration::from_secs(900)));
        let late = Timestamp::from_micros(1_700_003_500_000_000);
        assert_eq!(link_ttl(late, end, &s), Some(Duration::from_secs(100)));
        assert_eq!(link_ttl(end, end, &s), None);
        assert_eq!(link_ttl(end.plus_seconds(1), end, &s), None);
    }

    #[test]
    fn the_default_period_is_thirty_days_and_zero_is_refused() {
        let d = DownloadSettings::default();
        assert_eq!(d.period_secs, 2_592_000);
        assert!(d.validate().is_ok());
        assert!(DownloadSettings {
            period_secs: 0,
            ..d.clone()
        }
        .validate()
        .is_err());
    }
}
