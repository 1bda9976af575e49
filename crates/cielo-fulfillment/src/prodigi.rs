//! Prodigi, Print API v4 (PROVIDERS.md §3).
//!
//! Our key is `idempotencyKey` ([`crate::prodigi_idempotency_key`]), which
//! Prodigi checks forever: a create retried after a timeout or a 5xx answers
//! `AlreadyExists` with the order it already has, so asking first is the
//! create itself. `merchantReference` is our order id, for people and search.
//! Outcomes are compared case-insensitively (the docs write them both ways).

use crate::client::{send, str_field, Rejection};
use crate::lab::{parse_decimal, CancelOutcome, CreateOutcome, LabApi, LabError, LabSnapshot};
use crate::quote::QuoteItem;
use crate::store::StoredLabOrder;
use crate::{LabStage, Recipient, Shipment};
use cielo_core::{Currency, Money, Timestamp};
use serde_json::{json, Value};

pub(crate) struct Prodigi {
    pub http: reqwest::Client,
    pub base: String,
    pub api_key: String,
    pub shipping_method: String,
    /// `<public url>/webhooks/prodigi?token=<token>` when a callback token is set.
    pub callback_url: Option<String>,
}

/// Issue codes after which the order will not be made without a person.
const FATAL_ISSUES: [&str; 2] = ["itemunavailable", "failedtodownload"];

impl Prodigi {
    fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base.trim_end_matches('/')))
            .header("X-API-Key", &self.api_key)
    }
}

fn outcome(body: &Value) -> String {
    body.get("outcome")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// The lab's reason from an error body (`statusText` and the validation data).
fn reason(rej: &Rejection) -> String {
    let text = rej
        .body
        .get("statusText")
        .and_then(Value::as_str)
        .unwrap_or("refused");
    match rej.body.get("data") {
        Some(d) if !d.is_null() => format!("{text}: {d}"),
        _ => format!("{text} (HTTP {})", rej.status),
    }
}

fn recipient_json(r: &Recipient) -> Value {
    json!({
        "name": r.name,
        "email": r.email,
        "phoneNumber": r.phone,
        "address": {
            "line1": r.line1,
            "line2": r.line2,
            "postalOrZipCode": r.postal_code,
            "countryCode": r.country,
            "townOrCity": r.city,
            "stateOrCounty": r.region,
        }
    })
}

pub(crate) fn create_body(
    order: &StoredLabOrder,
    shipping_method: &str,
    callback_url: Option<&str>,
) -> Value {
    let items: Vec<Value> = order
        .request
        .items
        .iter()
        .map(|i| {
            let assets = match &i.print_file_url {
                Some(url) => json!([{ "printArea": "default", "url": url }]),
                None => json!([]),
            };
            json!({
                "merchantReference": i.line_id,
                "sku": i.lab_product_id,
                "copies": i.quantity,
                "sizing": "fillPrintArea",
                "assets": assets,
            })
        })
        .collect();
    let mut body = json!({
        "merchantReference": order.order_id,
        "idempotencyKey": order.external_ref,
        "shippingMethod": shipping_method,
        "recipient": recipient_json(&order.request.recipient),
        "items": items,
        "metadata": { "cielo_order_id": order.order_id, "lab_order_id": order.id.to_string() },
    });
    if let Some(url) = callback_url {
        body["callbackUrl"] = json!(url);
    }
    body
}

/// Prodigi's order object → our snapshot.
pub(crate) fn snapshot(order: &Value) -> LabSnapshot {
    let stage_raw = order.pointer("/status/stage").and_then(Value::as_str);
    let producing = order
        .pointer("/status/details/inProduction")
        .and_then(Value::as_str);
    let mut stage = crate::stage::prodigi_stage(stage_raw, producing);
    let mut reason = None;
    if let Some(issues) = order.pointer("/status/issues").and_then(Value::as_array) {
        for issue in issues {
            let code = issue
                .get("errorCode")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_ascii_lowercase();
            let description = issue
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or(&code)
                .to_string();
            if FATAL_ISSUES.iter().any(|f| code.contains(f)) {
                stage = Some(LabStage::Refused);
                reason = Some(description);
                break;
            }
            if code.contains("requirespaymentauthorisation") {
                stage = Some(LabStage::OnHold);
                reason = Some(description);
            }
        }
    }
    let line_of = |item_id: &str| -> Option<String> {
        order.get("items")?.as_array()?.iter().find_map(|it| {
            (str_field(it, "id").as_deref() == Some(item_id))
                .then(|| str_field(it, "merchantReference"))
                .flatten()
        })
    };
    let shipments: Vec<Shipment> = order
        .get("shipments")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter(|s| {
                    s.get("status")
                        .and_then(Value::as_str)
                        .map(|st| st.eq_ignore_ascii_case("Shipped"))
                        .unwrap_or(false)
                })
                .map(|s| Shipment {
                    carrier: s
                        .pointer("/carrier/name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    service: s
                        .pointer("/carrier/service")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    tracking_number: s
                        .pointer("/tracking/number")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    tracking_url: s
                        .pointer("/tracking/url")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    shipped_at: s
                        .get("dispatchDate")
                        .and_then(Value::as_str)
                        .and_then(|d| Timestamp::parse_rfc3339(d).ok())
                        .unwrap_or_else(Timestamp::now),
                    line_ids: s
                        .get("items")
                        .and_then(Value::as_array)
                        .map(|items| {
                            items
                                .iter()
                                .filter_map(|i| str_field(i, "itemId").and_then(|id| line_of(&id)))
                                .collect()
                        })
                        .unwrap_or_default(),
                    lab_shipment_id: str_field(s, "id").unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default();
    let stage = crate::stage::with_shipments(stage, &shipments);
    LabSnapshot {
        lab_ref: str_field(order, "id").unwrap_or_default(),
        raw_status: stage_raw.unwrap_or("").to_string(),
        stage,
        reason,
        shipments,
    }
}

#[async_trait::async_trait]
impl LabApi for Prodigi {
    async fn find(&self, _order: &StoredLabOrder) -> Result<Option<LabSnapshot>, LabError> {
        // Asking is creating again with the same idempotency key: Prodigi
        // answers AlreadyExists with the order it has.
        Ok(None)
    }

    async fn create(&self, order: &StoredLabOrder) -> Result<CreateOutcome, LabError> {
        let body = create_body(order, &self.shipping_method, self.callback_url.as_deref());
        match send(
            self.req(reqwest::Method::POST, "/orders").json(&body),
            "prodigi create order",
        )
        .await
        {
            Ok(reply) => match outcome(&reply).as_str() {
                "created" | "createdwithissues" | "onhold" | "alreadyexists" => {
                    let order = reply.get("order").cloned().unwrap_or(Value::Null);
                    let snap = snapshot(&order);
                    if snap.lab_ref.is_empty() {
                        return Err(LabError::Retry {
                            message: "prodigi create order: reply without an order id".into(),
                            after: None,
                        });
                    }
                    Ok(CreateOutcome::Accepted(snap))
                }
                other => Err(LabError::Retry {
                    message: format!("prodigi create order: unexpected outcome {other:?}"),
                    after: None,
                }),
            },
            Err(Ok(rej)) => Ok(CreateOutcome::Refused(reason(&rej))),
            Err(Err(LabError::NotFound)) => Err(LabError::Misconfigured(
                "prodigi create order: HTTP 404 (check prodigi_api_base)".into(),
            )),
            Err(Err(e)) => Err(e),
        }
    }

    async fn fetch(&self, order: &StoredLabOrder) -> Result<LabSnapshot, LabError> {
        let Some(id) = &order.lab_ref else {
            return Err(LabError::NotFound);
        };
        match send(
            self.req(reqwest::Method::GET, &format!("/orders/{id}")),
            "prodigi get order",
        )
        .await
        {
            // `{"outcome": "Ok", "order": {…}}`; a bare order is taken too.
            Ok(reply) => Ok(snapshot(reply.get("order").unwrap_or(&reply))),
            Err(Err(e)) => Err(e),
            Err(Ok(rej)) => Err(LabError::Retry {
                message: format!("prodigi get order: {}", reason(&rej)),
                after: None,
            }),
        }
    }

    async fn cancel(&self, order: &StoredLabOrder) -> Result<CancelOutcome, LabError> {
        let Some(id) = &order.lab_ref else {
            return Err(LabError::NotFound);
        };
        let path = format!("/orders/{id}/actions/cancel");
        match send(
            self.req(reqwest::Method::POST, &path).json(&json!({})),
            "prodigi cancel",
        )
        .await
        {
            Ok(reply) => match outcome(&reply).as_str() {
                "cancelled" => Ok(CancelOutcome::Cancelled),
                other => Ok(CancelOutcome::NotPossible(format!(
                    "Prodigi answered {other}"
                ))),
            },
            Err(Ok(rej)) => Ok(CancelOutcome::NotPossible(reason(&rej))),
            Err(Err(e)) => Err(e),
        }
    }

    async fn update_recipient(
        &self,
        order: &StoredLabOrder,
        recipient: &Recipient,
    ) -> Result<bool, LabError> {
        let Some(id) = &order.lab_ref else {
            return Err(LabError::NotFound);
        };
        let actions = match send(
            self.req(reqwest::Method::GET, &format!("/orders/{id}/actions")),
            "prodigi actions",
        )
        .await
        {
            Ok(a) => a,
            Err(Ok(_)) => return Ok(false),
            Err(Err(e)) => return Err(e),
        };
        let available = actions
            .pointer("/changeRecipientDetails/isAvailable")
            .and_then(Value::as_str)
            .map(|s| s.eq_ignore_ascii_case("yes"))
            .unwrap_or(false);
        if !available {
            return Ok(false);
        }
        let path = format!("/orders/{id}/actions/updateRecipient");
        match send(
            self.req(reqwest::Method::POST, &path)
                .json(&recipient_json(recipient)),
            "prodigi update recipient",
        )
        .await
        {
            Ok(reply) => {
                let o = outcome(&reply);
                Ok(!(o.contains("fail") || o.contains("notavailable")))
            }
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
            "shippingMethod": self.shipping_method,
            "destinationCountryCode": country,
            "currencyCode": currency.code(),
            "items": items.iter().map(|i| json!({
                "sku": i.lab_product_id,
                "copies": i.quantity,
                "attributes": {},
                "assets": [{ "printArea": "default" }],
            })).collect::<Vec<_>>(),
        });
        let reply = match send(
            self.req(reqwest::Method::POST, "/quotes").json(&body),
            "prodigi quote",
        )
        .await
        {
            Ok(r) => r,
            Err(Ok(_)) => return Ok(None),
            Err(Err(e)) => return Err(e),
        };
        // The quote's shape beyond `quotes[]` is not in our reference
        // (PROVIDERS.md marks it unverified): read costSummary.shipping.
        let shipping = reply.pointer("/quotes/0/costSummary/shipping");
        Ok(shipping.and_then(|s| {
            if let Some(c) = s.get("currency").and_then(Value::as_str) {
                if !c.eq_ignore_ascii_case(currency.code()) {
                    return None;
                }
            }
            parse_decimal(&str_field(s, "amount")?, currency)
        }))
    }
}
