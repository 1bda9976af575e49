//! Printful, v1 Orders API (PROVIDERS.md §2).
//!
//! Orders are created with `confirm=true` in one call: there is no draft
//! state of ours to lose between a create and a confirm, and Printful only
//! charges the store for confirmed orders. An order Printful puts back into
//! `draft` (costs not computable yet) is confirmed again when it is next read
//! ([`LabApi::nudge`]). Our key is `external_id` ([`crate::printful_external_id`]);
//! every read addresses the order as `@<external_id>`.

use crate::client::{send, str_field, Rejection};
use crate::lab::{parse_decimal, CancelOutcome, CreateOutcome, LabApi, LabError, LabSnapshot};
use crate::quote::QuoteItem;
use crate::store::StoredLabOrder;
use crate::{Recipient, Shipment};
use cielo_core::{Currency, Money, Timestamp};
use serde_json::{json, Value};

/// The Printful webhook event types we register and act on.
pub(crate) const WEBHOOK_TYPES: [&str; 6] = [
    "package_shipped",
    "order_failed",
    "order_canceled",
    "order_put_hold",
    "order_remove_hold",
    "order_updated",
];

pub(crate) struct Printful {
    pub http: reqwest::Client,
    pub base: String,
    pub token: String,
    pub store_id: Option<String>,
    pub shipping: String,
}

impl Printful {
    fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let mut r = self
            .http
            .request(method, format!("{}{path}", self.base.trim_end_matches('/')))
            .bearer_auth(&self.token);
        if let Some(store) = &self.store_id {
            r = r.header("X-PF-Store-Id", store);
        }
        r
    }

    /// Sends and unwraps Printful's envelope (`code` is checked as well as
    /// the HTTP status).
    async fn call(
        &self,
        req: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<Value, Result<Rejection, LabError>> {
        let body = send(req, what).await?;
        match body.get("code").and_then(Value::as_u64) {
            Some(code) if code >= 500 => Err(Err(LabError::Retry {
                message: format!("{what}: code {code}"),
                after: None,
            })),
            Some(404) => Err(Err(LabError::NotFound)),
            Some(code) if code >= 400 => Err(Ok(Rejection {
                status: code as u16,
                body,
            })),
            // The documented envelope; a bare object is taken as the result.
            _ => Ok(match body.get("result") {
                Some(result) => result.clone(),
                None => body,
            }),
        }
    }

    async fn get(&self, order: &StoredLabOrder) -> Result<LabSnapshot, LabError> {
        let path = format!("/orders/@{}", order.external_ref);
        match self
            .call(self.req(reqwest::Method::GET, &path), "printful get order")
            .await
        {
            Ok(result) => Ok(snapshot(&result)),
            Err(Err(e)) => Err(e),
            Err(Ok(rej)) => Err(LabError::Retry {
                message: format!(
                    "printful get order: HTTP {}: {}",
                    rej.status,
                    reason(&rej.body)
                ),
                after: None,
            }),
        }
    }

    /// Registers the webhook URL for the events we act on (`POST /webhooks`
    /// replaces the store's whole configuration).
    pub(crate) async fn register_webhooks(&self, url: &str) -> Result<(), LabError> {
        let body = json!({ "url": url, "types": WEBHOOK_TYPES });
        match self
            .call(
                self.req(reqwest::Method::POST, "/webhooks").json(&body),
                "printful register webhooks",
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(Err(e)) => Err(e),
            Err(Ok(rej)) => Err(LabError::Misconfigured(format!(
                "printful register webhooks: HTTP {}: {}",
                rej.status,
                reason(&rej.body)
            ))),
        }
    }
}

/// The lab's reason from an error envelope.
fn reason(body: &Value) -> String {
    body.pointer("/error/message")
        .and_then(Value::as_str)
        .or_else(|| body.get("result").and_then(Value::as_str))
        .unwrap_or("no reason given")
        .to_string()
}

fn recipient_json(r: &Recipient) -> Value {
    json!({
        "name": r.name,
        "address1": r.line1,
        "address2": r.line2,
        "city": r.city,
        "state_code": r.region,
        "country_code": r.country,
        "zip": r.postal_code,
        "phone": r.phone,
        "email": r.email,
    })
}

pub(crate) fn create_body(order: &StoredLabOrder, shipping: &str) -> Value {
    let items: Vec<Value> = order
        .request
        .items
        .iter()
        .map(|i| {
            let variant: Value = i
                .lab_product_id
                .trim()
                .parse::<u64>()
                .map(Value::from)
                .unwrap_or_else(|_| Value::from(i.lab_product_id.clone()));
            let mut item = json!({
                "variant_id": variant,
                "quantity": i.quantity,
                "external_id": i.line_id,
            });
            if let Some(url) = &i.print_file_url {
                item["files"] = json!([{ "type": "default", "url": url }]);
            }
            item
        })
        .collect();
    json!({
        "external_id": order.external_ref,
        "shipping": shipping,
        "recipient": recipient_json(&order.request.recipient),
        "items": items,
        "packing_slip": { "custom_order_id": order.order_id },
    })
}

/// Printful's order object → our snapshot.
pub(crate) fn snapshot(order: &Value) -> LabSnapshot {
    let status = order
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    // Printful item id → our line id (the item's external_id).
    let line_of = |item_id: &str| -> Option<String> {
        order.get("items")?.as_array()?.iter().find_map(|it| {
            (str_field(it, "id").as_deref() == Some(item_id))
                .then(|| str_field(it, "external_id"))
                .flatten()
        })
    };
    let shipments: Vec<Shipment> = order
        .get("shipments")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|s| {
                    let tracking = str_field(s, "tracking_number").unwrap_or_default();
                    let id = str_field(s, "id").unwrap_or_default();
                    if tracking.is_empty() && id.is_empty() {
                        return None;
                    }
                    let shipped_at = s
                        .get("shipped_at")
                        .and_then(Value::as_i64)
                        .map(|secs| Timestamp::from_micros(secs * 1_000_000))
                        .or_else(|| {
                            let d = s.get("ship_date")?.as_str()?;
                            Timestamp::parse_rfc3339(&format!("{d}T00:00:00Z")).ok()
                        })
                        .unwrap_or_else(Timestamp::now);
                    let line_ids = s
                        .get("items")
                        .and_then(Value::as_array)
                        .map(|items| {
                            items
                                .iter()
                                .filter_map(|i| str_field(i, "item_id").and_then(|id| line_of(&id)))
                                .collect()
                        })
                        .unwrap_or_default();
                    Some(Shipment {
                        carrier: str_field(s, "carrier").unwrap_or_default(),
                        service: str_field(s, "service"),
                        tracking_number: tracking,
                        tracking_url: str_field(s, "tracking_url"),
                        shipped_at,
                        line_ids,
                        lab_shipment_id: id,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let stage = crate::stage::with_shipments(crate::stage::printful_stage(&status), &shipments);
    LabSnapshot {
        lab_ref: str_field(order, "id").unwrap_or_default(),
        raw_status: status,
        stage,
        reason: None,
        shipments,
    }
}

#[async_trait::async_trait]
impl LabApi for Printful {
    async fn find(&self, order: &StoredLabOrder) -> Result<Option<LabSnapshot>, LabError> {
        match self.get(order).await {
            Ok(s) => Ok(Some(s)),
            Err(LabError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn create(&self, order: &StoredLabOrder) -> Result<CreateOutcome, LabError> {
        let body = create_body(order, &self.shipping);
        let req = self
            .req(reqwest::Method::POST, "/orders")
            .query(&[("confirm", "true")])
            .json(&body);
        match self.call(req, "printful create order").await {
            Ok(result) => Ok(CreateOutcome::Accepted(snapshot(&result))),
            Err(Err(LabError::NotFound)) => Err(LabError::Misconfigured(
                "printful create order: HTTP 404 (check printful_api_base)".into(),
            )),
            Err(Err(e)) => Err(e),
            Err(Ok(rej)) => {
                // The external id may already be taken by our own earlier
                // attempt: ask before calling it a refusal.
                if let Some(existing) = self.find(order).await? {
                    return Ok(CreateOutcome::Accepted(existing));
                }
                Ok(CreateOutcome::Refused(reason(&rej.body)))
            }
        }
    }

    async fn fetch(&self, order: &StoredLabOrder) -> Result<LabSnapshot, LabError> {
        self.get(order).await
    }

    async fn nudge(
        &self,
        order: &StoredLabOrder,
        snapshot: &LabSnapshot,
    ) -> Result<Option<LabSnapshot>, LabError> {
        if !snapshot.raw_status.eq_ignore_ascii_case("draft") {
            return Ok(None);
        }
        let path = format!("/orders/@{}/confirm", order.external_ref);
        match self
            .call(
                self.req(reqwest::Method::POST, &path),
                "printful confirm order",
            )
            .await
        {
            Ok(result) => Ok(Some(self::snapshot(&result))),
            // Still not confirmable (costs pending): leave it on hold.
            Err(Ok(_)) => Ok(None),
            Err(Err(e)) => Err(e),
        }
    }

    async fn cancel(&self, order: &StoredLabOrder) -> Result<CancelOutcome, LabError> {
        let path = format!("/orders/@{}", order.external_ref);
        match self
            .call(
                self.req(reqwest::Method::DELETE, &path),
                "printful cancel order",
            )
            .await
        {
            Ok(_) => Ok(CancelOutcome::Cancelled),
            Err(Ok(rej)) => Ok(CancelOutcome::NotPossible(reason(&rej.body))),
            Err(Err(e)) => Err(e),
        }
    }

    async fn update_recipient(
        &self,
        order: &StoredLabOrder,
        recipient: &Recipient,
    ) -> Result<bool, LabError> {
        // Printful updates unsubmitted (draft) orders only.
        let current = self.get(order).await?;
        if !current.raw_status.eq_ignore_ascii_case("draft") {
            return Ok(false);
        }
        let path = format!("/orders/@{}", order.external_ref);
        let body = json!({ "recipient": recipient_json(recipient) });
        match self
            .call(
                self.req(reqwest::Method::PUT, &path).json(&body),
                "printful update order",
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(Ok(_)) => Ok(false),
            Err(Err(e)) => Err(e),
        }
    }

    async fn quote(
        &self,
        items: &[QuoteItem],
        country: &str,
        currency: Currency,
    ) -> Result<Option<Money>, LabError> {
        let body = json!({
            "recipient": { "country_code": country },
            "items": items.iter().map(|i| json!({
                "variant_id": i.lab_product_id.trim().parse::<u64>().map(Value::from)
                    .unwrap_or_else(|_| Value::from(i.lab_product_id.clone())),
                "quantity": i.quantity,
            })).collect::<Vec<_>>(),
            "currency": currency.code(),
        });
        let result = match self
            .call(
                self.req(reqwest::Method::POST, "/shipping/rates")
                    .json(&body),
                "printful shipping rates",
            )
            .await
        {
            Ok(r) => r,
            Err(Ok(_)) => return Ok(None),
            Err(Err(e)) => return Err(e),
        };
        let rates = result.as_array().cloned().unwrap_or_default();
        let chosen = rates
            .iter()
            .find(|r| str_field(r, "id").as_deref() == Some(self.shipping.as_str()))
            .or_else(|| rates.first());
        Ok(chosen.and_then(|r| {
            // A rate in another currency than asked is no answer.
            if let Some(c) = r.get("currency").and_then(Value::as_str) {
                if !c.eq_ignore_ascii_case(currency.code()) {
                    return None;
                }
            }
            parse_decimal(&str_field(r, "rate")?, currency)
        }))
    }
}
