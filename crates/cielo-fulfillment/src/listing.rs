//! Listing a lab's orders, for reconciliation: every order the lab holds on
//! the shop's account over a window, matched against our own submissions.
//! An order the lab holds that we never placed means someone else is using
//! the shop's key.

use crate::client::{send, str_field};
use crate::lab::LabError;
use crate::printful::Printful;
use crate::prodigi::Prodigi;
use crate::service::Fulfillment;
use crate::{store, Error, Lab, LabOrderView, LabStage, Result};
use cielo_core::Timestamp;
use serde::Serialize;
use serde_json::Value;

/// Most pages read from a lab in one listing (100 orders a page): a bound so
/// a huge account cannot keep a pass busy forever.
const MAX_PAGES: usize = 50;

/// One order as the lab lists it.
#[derive(Debug, Clone, Serialize)]
pub struct LabListing {
    /// The lab.
    pub lab: Lab,
    /// The lab's own id.
    pub lab_ref: String,
    /// Our key, when the order carries one (Printful `external_id`, Prodigi `idempotencyKey`).
    pub external_ref: Option<String>,
    /// The lab's status as given.
    pub raw_status: String,
    /// The status in our words (`None` for a status we do not map).
    pub stage: Option<LabStage>,
    /// When the lab created it, if it says.
    pub created: Option<Timestamp>,
    /// Who receives it (the lab's JSON).
    pub recipient: Value,
    /// What is in it (the lab's JSON).
    pub items: Value,
}

fn listing_error(e: std::result::Result<crate::client::Rejection, LabError>) -> Error {
    match e {
        Ok(rej) => Error::LabUnavailable(format!("list orders: HTTP {}", rej.status)),
        Err(e) => Error::LabUnavailable(e.to_string()),
    }
}

impl Printful {
    /// `GET /orders?offset=&limit=100`, newest first, until an order older than `since`.
    async fn list(&self, since: Timestamp) -> Result<Vec<LabListing>> {
        let since_secs = since.as_unix_seconds();
        let mut out = Vec::new();
        let mut offset = 0usize;
        for _ in 0..MAX_PAGES {
            let req = self
                .req(reqwest::Method::GET, "/orders")
                .query(&[("offset", offset.to_string()), ("limit", "100".into())]);
            let body = send(req, "printful list orders")
                .await
                .map_err(listing_error)?;
            let page = body
                .get("result")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let total = body["paging"]["total"].as_u64().unwrap_or(0) as usize;
            let mut older = false;
            for o in &page {
                let created = o.get("created").and_then(Value::as_i64);
                if created.is_some_and(|c| c < since_secs) {
                    older = true;
                    continue;
                }
                let snap = crate::printful::snapshot(o);
                out.push(LabListing {
                    lab: Lab::Printful,
                    lab_ref: snap.lab_ref,
                    external_ref: str_field(o, "external_id").filter(|s| !s.is_empty()),
                    raw_status: snap.raw_status,
                    stage: snap.stage,
                    created: created.map(|c| Timestamp::from_micros(c * 1_000_000)),
                    recipient: o.get("recipient").cloned().unwrap_or(Value::Null),
                    items: o.get("items").cloned().unwrap_or(Value::Null),
                });
            }
            offset += page.len();
            if page.is_empty() || older || offset >= total {
                break;
            }
        }
        Ok(out)
    }
}

impl Prodigi {
    /// `GET /v4.0/orders?top=100&skip=&createdFrom=`, following `hasMore`.
    async fn list(&self, since: Timestamp) -> Result<Vec<LabListing>> {
        let mut out = Vec::new();
        let mut skip = 0usize;
        for _ in 0..MAX_PAGES {
            let req = self.req(reqwest::Method::GET, "/orders").query(&[
                ("top", "100".to_string()),
                ("skip", skip.to_string()),
                ("createdFrom", since.to_string()),
            ]);
            let body = send(req, "prodigi list orders")
                .await
                .map_err(listing_error)?;
            let page = body
                .get("orders")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for o in &page {
                let snap = crate::prodigi::snapshot(o);
                out.push(LabListing {
                    lab: Lab::Prodigi,
                    lab_ref: snap.lab_ref,
                    external_ref: str_field(o, "idempotencyKey").filter(|s| !s.is_empty()),
                    raw_status: snap.raw_status,
                    stage: snap.stage,
                    created: o
                        .get("created")
                        .and_then(Value::as_str)
                        .and_then(|s| Timestamp::parse_rfc3339(s).ok()),
                    recipient: o.get("recipient").cloned().unwrap_or(Value::Null),
                    items: o.get("items").cloned().unwrap_or(Value::Null),
                });
            }
            skip += page.len();
            if page.is_empty() || body.get("hasMore").and_then(Value::as_bool) != Some(true) {
                break;
            }
        }
        Ok(out)
    }
}

impl Fulfillment {
    /// Lab orders the labs refused (bad address, bad file, item out of
    /// stock) whose refusal was recorded at or after `since`: each one is an
    /// order a person must change and resubmit.
    pub async fn refusals_since(&self, since: Timestamp) -> Result<i64> {
        let n: i64 = sqlx::query_scalar(
            "select count(*) from fulfillment_lab_order where stage = 'refused' and updated_at >= $1",
        )
        .bind(since.as_micros())
        .fetch_one(self.db().pool())
        .await?;
        Ok(n)
    }

    /// The remote labs with credentials (Printful, Prodigi): the ones whose
    /// accounts can be listed.
    pub fn listable_labs(&self) -> Vec<Lab> {
        [Lab::Printful, Lab::Prodigi]
            .into_iter()
            .filter(|l| self.is_configured(*l))
            .collect()
    }

    /// Every order `lab` holds on the shop's account created at or after
    /// `since` (the lab's list endpoint, paged).
    ///
    /// Errors: [`Error::NotConfigured`] for a lab without credentials (or
    /// the local lab), [`Error::LabUnavailable`] when the lab fails.
    pub async fn list_lab_orders(&self, lab: Lab, since: Timestamp) -> Result<Vec<LabListing>> {
        match lab {
            Lab::Printful => match self.inner_printful() {
                Some(p) => p.list(since).await,
                None => Err(Error::NotConfigured(lab)),
            },
            Lab::Prodigi => match self.inner_prodigi() {
                Some(p) => p.list(since).await,
                None => Err(Error::NotConfigured(lab)),
            },
            Lab::Local => Err(Error::NotConfigured(lab)),
        }
    }

    /// Our lab order for a listed one (by our key or the lab's id), or `None`
    /// when we never placed it.
    pub async fn match_listing(&self, listing: &LabListing) -> Result<Option<LabOrderView>> {
        let mut conn = self.db().pool().acquire().await?;
        let mut found = None;
        if let Some(ext) = &listing.external_ref {
            found = store::find_by_ref(&mut conn, listing.lab, ext).await?;
        }
        if found.is_none() && !listing.lab_ref.is_empty() {
            found = store::find_by_ref(&mut conn, listing.lab, &listing.lab_ref).await?;
        }
        drop(conn);
        match found {
            Some(id) => Ok(Some(self.lab_order(id).await?)),
            None => Ok(None),
        }
    }
}
