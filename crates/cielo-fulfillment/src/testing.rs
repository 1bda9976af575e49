//! Fake Printful and Prodigi servers for tests (feature `testing`), built from
//! PROVIDERS.md §2 and §3: axum on a random loopback port, with the labs'
//! envelopes, idempotency rules and statuses, and injected faults.
//!
//! ```ignore
//! let printful = FakePrintful::start("pf-token").await;
//! printful.push_create_fault(Fault::LoseAnswer);   // creates the order, answers 500
//! // settings.printful_api_base = printful.url.clone()
//! assert_eq!(printful.orders_for("ord_…"), 1);
//! ```
//!
//! Test hooks (not part of either lab's API): move an order along with
//! [`FakePrintful::set_status`] / [`FakeProdigi::set_stage`], ship it, and
//! build the webhook body the lab would send ([`FakePrintful::webhook`],
//! [`FakeProdigi::callback`]).

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A fault injected into the next call of a kind.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Do the work (create the order), then answer 500: the answer is lost.
    LoseAnswer,
    /// Do the work, then wait this long before answering (longer than the
    /// client's timeout: the client gives up, the lab has the order).
    SlowAnswer(Duration),
    /// Answer 429 with `Retry-After: <secs>` without doing anything.
    RateLimit(u64),
    /// Answer 503 without doing anything.
    Unavailable,
}

/// Counts of calls the fake received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Calls {
    /// Create-order calls (including refused and faulted ones).
    pub create: usize,
    /// Get-order calls.
    pub get: usize,
    /// Cancel calls.
    pub cancel: usize,
    /// Shipping quote calls.
    pub quote: usize,
    /// Calls answered 401 (bad credentials).
    pub unauthorized: usize,
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
}

/// Applies a fault that answers before doing anything; returns the response.
fn early_fault(fault: &Option<Fault>) -> Option<Response> {
    match fault {
        Some(Fault::RateLimit(secs)) => Some(
            (
                StatusCode::TOO_MANY_REQUESTS,
                [("Retry-After", secs.to_string())],
                Json(json!({"code": 429, "result": "Too Many Requests", "error": {"reason": "TooManyRequests", "message": "rate limited"}})),
            )
                .into_response(),
        ),
        Some(Fault::Unavailable) => Some(
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"code": 503, "result": "unavailable"})),
            )
                .into_response(),
        ),
        _ => None,
    }
}

/// Applies a fault that comes after the work was done.
async fn late_fault(fault: &Option<Fault>, ok: Response) -> Response {
    match fault {
        Some(Fault::LoseAnswer) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"code": 500, "result": "Internal server error"})),
        )
            .into_response(),
        Some(Fault::SlowAnswer(d)) => {
            tokio::time::sleep(*d).await;
            ok
        }
        _ => ok,
    }
}

// ---------------------------------------------------------------- Printful

#[derive(Default)]
struct PfState {
    token: String,
    store: i64,
    next_id: u64,
    orders: Vec<Value>,
    calls: Calls,
    create_faults: VecDeque<Fault>,
    get_faults: VecDeque<Fault>,
    webhook_config: Option<Value>,
    rate: String,
    quote_delay: Option<Duration>,
    latency: Option<Duration>,
    store_headers: Vec<Option<String>>,
    created_at: Vec<(String, std::time::Instant)>,
}

/// A fake Printful v1 API.
#[derive(Clone)]
pub struct FakePrintful {
    /// Base URL (`http://127.0.0.1:<port>`), for `fulfillment.printful_api_base`.
    pub url: String,
    state: Arc<Mutex<PfState>>,
}

type Pf = Arc<Mutex<PfState>>;

fn pf_auth(s: &Pf, headers: &HeaderMap) -> Option<Response> {
    let mut st = s.lock().unwrap();
    let expected = format!("Bearer {}", st.token);
    let ok = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(|v| v == expected)
        .unwrap_or(false);
    if ok {
        return None;
    }
    st.calls.unauthorized += 1;
    Some(
        (
            StatusCode::UNAUTHORIZED,
            Json(json!({"code": 401, "result": "Unauthorized", "error": {"reason": "Unauthorized", "message": "Invalid token"}})),
        )
            .into_response(),
    )
}

fn pf_error(status: u16, message: &str) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        Json(json!({"code": status, "result": message, "error": {"reason": "BadRequest", "message": message}})),
    )
        .into_response()
}

fn pf_ok(result: Value) -> Response {
    Json(json!({"code": 200, "result": result})).into_response()
}

fn pf_find<'a>(orders: &'a mut [Value], id: &str) -> Option<&'a mut Value> {
    match id.strip_prefix('@') {
        Some(ext) => orders.iter_mut().find(|o| o["external_id"] == json!(ext)),
        None => orders
            .iter_mut()
            .find(|o| o["id"].as_u64().map(|n| n.to_string()).as_deref() == Some(id)),
    }
}

#[derive(serde::Deserialize)]
struct ConfirmQuery {
    #[serde(default)]
    confirm: Option<String>,
}

async fn pf_create(
    State(s): State<Pf>,
    headers: HeaderMap,
    Query(q): Query<ConfirmQuery>,
    Json(body): Json<Value>,
) -> Response {
    if let Some(r) = pf_auth(&s, &headers) {
        return r;
    }
    let (fault, latency) = {
        let mut st = s.lock().unwrap();
        st.calls.create += 1;
        st.store_headers.push(
            headers
                .get("x-pf-store-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
        );
        (st.create_faults.pop_front(), st.latency)
    };
    if let Some(d) = latency {
        tokio::time::sleep(d).await;
    }
    if let Some(r) = early_fault(&fault) {
        return r;
    }
    let ext = body["external_id"].as_str().unwrap_or("").to_string();
    if ext.len() > 32
        || !ext
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return pf_error(400, "Invalid external_id");
    }
    let r = &body["recipient"];
    for field in ["name", "address1", "city", "country_code", "zip"] {
        if r[field].as_str().map(str::is_empty).unwrap_or(true) {
            return pf_error(400, &format!("Recipient: {field} is required"));
        }
    }
    if r["address1"].as_str().unwrap_or("").contains("INVALID") {
        return pf_error(400, "Recipient address is invalid");
    }
    let Some(items) = body["items"].as_array().filter(|i| !i.is_empty()) else {
        return pf_error(400, "Items are required");
    };
    for item in items {
        if !item["variant_id"].is_u64() {
            return pf_error(400, "Item variant_id must be a catalog variant id");
        }
    }
    let confirm = q.confirm.as_deref() == Some("true") || q.confirm.as_deref() == Some("1");
    let order = {
        let mut st = s.lock().unwrap();
        if !ext.is_empty() && st.orders.iter().any(|o| o["external_id"] == json!(ext)) {
            return pf_error(400, "Order with this External ID already exists");
        }
        st.next_id += 1;
        let id = 100_000 + st.next_id;
        let items: Vec<Value> = items
            .iter()
            .enumerate()
            .map(|(n, i)| {
                let mut i = i.clone();
                i["id"] = json!(id * 10 + n as u64);
                i
            })
            .collect();
        let order = json!({
            "id": id,
            "external_id": ext,
            "store": st.store,
            "status": if confirm { "pending" } else { "draft" },
            "shipping": body["shipping"],
            "recipient": body["recipient"],
            "items": items,
            "shipments": [],
            "created": now_secs(),
            "updated": now_secs(),
        });
        st.orders.push(order.clone());
        st.created_at.push((ext.clone(), std::time::Instant::now()));
        order
    };
    late_fault(&fault, pf_ok(order)).await
}

async fn pf_get(State(s): State<Pf>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Some(r) = pf_auth(&s, &headers) {
        return r;
    }
    let fault = {
        let mut st = s.lock().unwrap();
        st.calls.get += 1;
        st.get_faults.pop_front()
    };
    if let Some(r) = early_fault(&fault) {
        return r;
    }
    let found = {
        let mut st = s.lock().unwrap();
        pf_find(&mut st.orders, &id).cloned()
    };
    match found {
        Some(o) => late_fault(&fault, pf_ok(o)).await,
        None => pf_error(404, "Not found"),
    }
}

async fn pf_cancel(State(s): State<Pf>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Some(r) = pf_auth(&s, &headers) {
        return r;
    }
    let mut st = s.lock().unwrap();
    st.calls.cancel += 1;
    let Some(o) = pf_find(&mut st.orders, &id) else {
        return pf_error(404, "Not found");
    };
    match o["status"].as_str().unwrap_or("") {
        "draft" | "pending" | "failed" => {
            o["status"] = json!("canceled");
            pf_ok(o.clone())
        }
        other => pf_error(400, &format!("Order in status {other} cannot be canceled")),
    }
}

async fn pf_update(
    State(s): State<Pf>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    if let Some(r) = pf_auth(&s, &headers) {
        return r;
    }
    let mut st = s.lock().unwrap();
    let Some(o) = pf_find(&mut st.orders, &id) else {
        return pf_error(404, "Not found");
    };
    if o["status"] != json!("draft") {
        return pf_error(400, "Only draft orders can be updated");
    }
    if let Some(r) = body.get("recipient") {
        o["recipient"] = r.clone();
    }
    pf_ok(o.clone())
}

async fn pf_confirm(State(s): State<Pf>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Some(r) = pf_auth(&s, &headers) {
        return r;
    }
    let mut st = s.lock().unwrap();
    let Some(o) = pf_find(&mut st.orders, &id) else {
        return pf_error(404, "Not found");
    };
    if o["status"] != json!("draft") {
        return pf_error(400, "Only draft orders can be confirmed");
    }
    o["status"] = json!("pending");
    pf_ok(o.clone())
}

async fn pf_webhooks(State(s): State<Pf>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    if let Some(r) = pf_auth(&s, &headers) {
        return r;
    }
    let mut st = s.lock().unwrap();
    st.webhook_config = Some(body.clone());
    pf_ok(body)
}

async fn pf_rates(State(s): State<Pf>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    if let Some(r) = pf_auth(&s, &headers) {
        return r;
    }
    let (delay, rate) = {
        let mut st = s.lock().unwrap();
        st.calls.quote += 1;
        (st.quote_delay, st.rate.clone())
    };
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    let currency = body["currency"].as_str().unwrap_or("USD").to_string();
    pf_ok(json!([
        {"id": "EXPRESS", "name": "Express", "rate": "19.00", "currency": currency, "minDeliveryDays": 1, "maxDeliveryDays": 2},
        {"id": "STANDARD", "name": "Flat Rate", "rate": rate, "currency": currency, "minDeliveryDays": 4, "maxDeliveryDays": 7},
    ]))
}

impl FakePrintful {
    /// Starts a fake that accepts `Authorization: Bearer <token>`.
    pub async fn start(token: &str) -> Self {
        let state: Pf = Arc::new(Mutex::new(PfState {
            token: token.to_string(),
            store: 4242,
            rate: "4.99".into(),
            ..Default::default()
        }));
        let router = Router::new()
            .route("/orders", post(pf_create))
            .route("/orders/{id}", get(pf_get).delete(pf_cancel).put(pf_update))
            .route("/orders/{id}/confirm", post(pf_confirm))
            .route("/webhooks", post(pf_webhooks))
            .route("/shipping/rates", post(pf_rates))
            .with_state(state.clone());
        Self {
            url: serve(router).await,
            state,
        }
    }

    /// The fake store's id (`store` in webhooks).
    pub fn store_id(&self) -> i64 {
        self.state.lock().unwrap().store
    }
    /// Injects a fault into the next create call(s), in order.
    pub fn push_create_fault(&self, fault: Fault) {
        self.state.lock().unwrap().create_faults.push_back(fault);
    }
    /// Makes every create call take this long (a lab on a network).
    pub fn set_create_latency(&self, latency: Option<Duration>) {
        self.state.lock().unwrap().latency = latency;
    }
    /// Injects a fault into the next get call(s), in order.
    pub fn push_get_fault(&self, fault: Fault) {
        self.state.lock().unwrap().get_faults.push_back(fault);
    }
    /// Calls received so far.
    pub fn calls(&self) -> Calls {
        self.state.lock().unwrap().calls.clone()
    }
    /// When each order was created (external id, instant), for benchmarks.
    pub fn created_at(&self) -> Vec<(String, std::time::Instant)> {
        self.state.lock().unwrap().created_at.clone()
    }
    /// The `X-PF-Store-Id` header of each create call, in order.
    pub fn store_headers(&self) -> Vec<Option<String>> {
        self.state.lock().unwrap().store_headers.clone()
    }
    /// Every order the fake holds.
    pub fn orders(&self) -> Vec<Value> {
        self.state.lock().unwrap().orders.clone()
    }
    /// How many orders the fake holds for our order id (its `external_id`s
    /// all derive from it: `printful_external_id(order_id, n)`).
    pub fn orders_for(&self, order_id: &str) -> usize {
        let ids: Vec<String> = (0..20)
            .map(|g| crate::printful_external_id(order_id, g))
            .collect();
        self.orders()
            .iter()
            .filter(|o| ids.iter().any(|id| o["external_id"] == json!(id)))
            .count()
    }
    /// One order by external id.
    pub fn order(&self, external_id: &str) -> Option<Value> {
        self.orders()
            .into_iter()
            .find(|o| o["external_id"] == json!(external_id))
    }
    /// The webhook configuration last posted to `/webhooks`.
    pub fn webhook_config(&self) -> Option<Value> {
        self.state.lock().unwrap().webhook_config.clone()
    }
    /// Sets the shipping rate `/shipping/rates` answers for STANDARD, and a
    /// delay before answering.
    pub fn set_rate(&self, rate: &str, delay: Option<Duration>) {
        let mut st = self.state.lock().unwrap();
        st.rate = rate.to_string();
        st.quote_delay = delay;
    }
    /// Test hook: sets an order's status.
    pub fn set_status(&self, external_id: &str, status: &str) {
        let mut st = self.state.lock().unwrap();
        if let Some(o) = pf_find(&mut st.orders, &format!("@{external_id}")) {
            o["status"] = json!(status);
            o["updated"] = json!(now_secs());
        }
    }
    /// Test hook: ships all the order's items in a new shipment and returns
    /// the shipment object (status `fulfilled`, or `partial` when `partial`).
    pub fn ship(
        &self,
        external_id: &str,
        shipment_id: u64,
        tracking: &str,
        partial: bool,
    ) -> Value {
        let mut st = self.state.lock().unwrap();
        let o = pf_find(&mut st.orders, &format!("@{external_id}")).expect("no such order");
        let items: Vec<Value> = o["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| json!({"item_id": i["id"], "quantity": i["quantity"]}))
            .collect();
        let shipment = json!({
            "id": shipment_id,
            "carrier": "USPS",
            "service": "USPS First Class Mail",
            "tracking_number": tracking,
            "tracking_url": format!("https://tools.usps.com/go/TrackConfirmAction?tLabels={tracking}"),
            "created": now_secs(),
            "ship_date": "2026-11-29",
            "shipped_at": now_secs(),
            "reshipment": false,
            "items": items,
        });
        o["shipments"]
            .as_array_mut()
            .unwrap()
            .push(shipment.clone());
        o["status"] = json!(if partial { "partial" } else { "fulfilled" });
        shipment
    }
    /// The body Printful would POST for event `kind` about the order as it is
    /// now (with `reason` for failure/hold events).
    pub fn webhook(&self, kind: &str, external_id: &str, reason: Option<&str>) -> Vec<u8> {
        let st = self.state.lock().unwrap();
        let order = st
            .orders
            .iter()
            .find(|o| o["external_id"] == json!(external_id))
            .cloned()
            .unwrap_or_else(|| json!({"external_id": external_id}));
        let mut data = json!({ "order": order });
        if let Some(r) = reason {
            data["reason"] = json!(r);
        }
        if kind == "package_shipped" {
            data["shipment"] = order["shipments"]
                .as_array()
                .and_then(|s| s.last().cloned())
                .unwrap_or(Value::Null);
        }
        serde_json::to_vec(&json!({
            "type": kind,
            "created": now_secs(),
            "retries": 0,
            "store": st.store,
            "data": data,
        }))
        .unwrap()
    }
}

// ---------------------------------------------------------------- Prodigi

#[derive(Default)]
struct PdState {
    key: String,
    next_id: u64,
    orders: Vec<Value>,
    calls: Calls,
    create_faults: VecDeque<Fault>,
    get_faults: VecDeque<Fault>,
    next_event: u64,
    shipping: String,
    quote_delay: Option<Duration>,
    /// Answer outcomes in camelCase (`created`) as the docs' tables do.
    camel_case_outcomes: bool,
    by_key: HashMap<String, usize>,
    latency: Option<Duration>,
}

type Pd = Arc<Mutex<PdState>>;

/// A fake Prodigi Print API v4.
#[derive(Clone)]
pub struct FakeProdigi {
    /// Base URL with the version (`http://127.0.0.1:<port>/v4.0`), for
    /// `fulfillment.prodigi_api_base`.
    pub url: String,
    state: Pd,
}

fn pd_auth(s: &Pd, headers: &HeaderMap) -> Option<Response> {
    let mut st = s.lock().unwrap();
    let ok = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(|v| v == st.key)
        .unwrap_or(false);
    if ok {
        return None;
    }
    st.calls.unauthorized += 1;
    Some(StatusCode::UNAUTHORIZED.into_response())
}

fn pd_outcome(st: &PdState, pascal: &str) -> String {
    if st.camel_case_outcomes {
        let mut c = pascal.chars();
        c.next()
            .map(|f| f.to_ascii_lowercase().to_string() + c.as_str())
            .unwrap_or_default()
    } else {
        pascal.to_string()
    }
}

fn pd_error(status: u16, text: &str, data: Value) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        Json(json!({"statusText": text, "statusCode": status, "data": data, "traceParent": "00-fake-trace-01"})),
    )
        .into_response()
}

async fn pd_create(State(s): State<Pd>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    if let Some(r) = pd_auth(&s, &headers) {
        return r;
    }
    let is_json = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.starts_with("application/json"))
        .unwrap_or(false);
    if !is_json {
        return pd_error(415, "InvalidContentType", Value::Null);
    }
    let (fault, latency) = {
        let mut st = s.lock().unwrap();
        st.calls.create += 1;
        (st.create_faults.pop_front(), st.latency)
    };
    if let Some(d) = latency {
        tokio::time::sleep(d).await;
    }
    if let Some(r) = early_fault(&fault) {
        return r;
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return pd_error(400, "ValidationFailed", json!({"body": "not JSON"}));
    };
    let mut failures = Vec::new();
    for (path, v) in [
        ("shippingMethod", &body["shippingMethod"]),
        ("recipient.name", &body["recipient"]["name"]),
        (
            "recipient.address.line1",
            &body["recipient"]["address"]["line1"],
        ),
        (
            "recipient.address.postalOrZipCode",
            &body["recipient"]["address"]["postalOrZipCode"],
        ),
        (
            "recipient.address.countryCode",
            &body["recipient"]["address"]["countryCode"],
        ),
        (
            "recipient.address.townOrCity",
            &body["recipient"]["address"]["townOrCity"],
        ),
    ] {
        if v.as_str().map(str::is_empty).unwrap_or(true) {
            failures.push(json!({"path": path, "message": "required"}));
        }
    }
    if body["recipient"]["address"]["line1"]
        .as_str()
        .unwrap_or("")
        .contains("INVALID")
    {
        failures
            .push(json!({"path": "recipient.address", "message": "Address is not deliverable"}));
    }
    if !failures.is_empty() {
        return pd_error(400, "ValidationFailed", json!({"failures": failures}));
    }
    let key = body["idempotencyKey"].as_str().map(str::to_string);
    let (outcome, order) = {
        let mut st = s.lock().unwrap();
        if let Some(i) = key.as_ref().and_then(|k| st.by_key.get(k).copied()) {
            let order = st.orders[i].clone();
            (pd_outcome(&st, "AlreadyExists"), order)
        } else {
            st.next_id += 1;
            let id = format!("ord_{}", 800_000 + st.next_id);
            let mut issues = Vec::new();
            let items: Vec<Value> = body["items"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .enumerate()
                .map(|(n, i)| {
                    let item_id = format!("ori_{}{n}", 800_000 + st.next_id);
                    if i["sku"].as_str().unwrap_or("").contains("UNAVAILABLE") {
                        issues.push(json!({"objectId": item_id, "errorCode": "order.items.ItemUnavailable", "description": format!("{} is not available", i["sku"].as_str().unwrap_or(""))}));
                    }
                    json!({"id": item_id, "status": "Ok", "merchantReference": i["merchantReference"], "sku": i["sku"], "copies": i["copies"], "assets": i["assets"]})
                })
                .collect();
            let order = json!({
                "id": id,
                "created": "2026-11-29T10:00:00Z",
                "lastUpdated": "2026-11-29T10:00:00Z",
                "callbackUrl": body["callbackUrl"],
                "merchantReference": body["merchantReference"],
                "shippingMethod": body["shippingMethod"],
                "idempotencyKey": body["idempotencyKey"],
                "status": {
                    "stage": "InProgress",
                    "issues": issues,
                    "details": {"downloadAssets": "NotStarted", "printReadyAssetsPrepared": "NotStarted",
                                "allocateProductionLocation": "NotStarted", "inProduction": "NotStarted", "shipping": "NotStarted"}
                },
                "charges": [],
                "shipments": [],
                "recipient": body["recipient"],
                "items": items,
                "metadata": body["metadata"],
            });
            st.orders.push(order.clone());
            let n = st.orders.len() - 1;
            if let Some(k) = key {
                st.by_key.insert(k, n);
            }
            let outcome = if issues.is_empty() {
                "Created"
            } else {
                "CreatedWithIssues"
            };
            (pd_outcome(&st, outcome), order)
        }
    };
    let ok = Json(json!({"outcome": outcome, "order": order, "traceParent": "00-fake-trace-01"}))
        .into_response();
    late_fault(&fault, ok).await
}

fn pd_find<'a>(orders: &'a mut [Value], id: &str) -> Option<&'a mut Value> {
    orders.iter_mut().find(|o| o["id"] == json!(id))
}

async fn pd_get(State(s): State<Pd>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Some(r) = pd_auth(&s, &headers) {
        return r;
    }
    let fault = {
        let mut st = s.lock().unwrap();
        st.calls.get += 1;
        st.get_faults.pop_front()
    };
    if let Some(r) = early_fault(&fault) {
        return r;
    }
    let found = pd_find(&mut s.lock().unwrap().orders, &id).cloned();
    match found {
        Some(o) => {
            late_fault(
                &fault,
                Json(json!({"outcome": "Ok", "order": o})).into_response(),
            )
            .await
        }
        None => pd_error(404, "EntityNotFound", Value::Null),
    }
}

fn pd_producing(o: &Value) -> bool {
    o["status"]["details"]["inProduction"] != json!("NotStarted")
        || o["status"]["stage"] != json!("InProgress")
}

async fn pd_actions(State(s): State<Pd>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Some(r) = pd_auth(&s, &headers) {
        return r;
    }
    let found = pd_find(&mut s.lock().unwrap().orders, &id).cloned();
    let Some(o) = found else {
        return pd_error(404, "EntityNotFound", Value::Null);
    };
    let yes = if pd_producing(&o) { "No" } else { "Yes" };
    Json(json!({
        "outcome": "Ok",
        "cancel": {"isAvailable": yes},
        "changeRecipientDetails": {"isAvailable": yes},
        "changeShippingMethod": {"isAvailable": yes},
        "changeMetaData": {"isAvailable": "Yes"},
    }))
    .into_response()
}

async fn pd_cancel(State(s): State<Pd>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Some(r) = pd_auth(&s, &headers) {
        return r;
    }
    let mut st = s.lock().unwrap();
    st.calls.cancel += 1;
    let camel = st.camel_case_outcomes;
    let Some(o) = pd_find(&mut st.orders, &id) else {
        return pd_error(404, "EntityNotFound", Value::Null);
    };
    let outcome = if pd_producing(o) {
        "FailedToCancel"
    } else {
        o["status"]["stage"] = json!("Cancelled");
        "Cancelled"
    };
    let outcome = if camel {
        outcome[..1].to_ascii_lowercase() + &outcome[1..]
    } else {
        outcome.to_string()
    };
    Json(json!({"outcome": outcome, "order": o.clone()})).into_response()
}

async fn pd_update_recipient(
    State(s): State<Pd>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    if let Some(r) = pd_auth(&s, &headers) {
        return r;
    }
    let mut st = s.lock().unwrap();
    let Some(o) = pd_find(&mut st.orders, &id) else {
        return pd_error(404, "EntityNotFound", Value::Null);
    };
    if pd_producing(o) {
        return Json(json!({"outcome": "FailedToUpdate", "order": o.clone()})).into_response();
    }
    o["recipient"] = body;
    Json(json!({"outcome": "Updated", "order": o.clone()})).into_response()
}

async fn pd_quote(State(s): State<Pd>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    if let Some(r) = pd_auth(&s, &headers) {
        return r;
    }
    let (delay, shipping) = {
        let mut st = s.lock().unwrap();
        st.calls.quote += 1;
        (st.quote_delay, st.shipping.clone())
    };
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    let currency = body["currencyCode"].as_str().unwrap_or("USD");
    Json(json!({
        "outcome": "Created",
        "quotes": [{
            "shipmentMethod": body["shippingMethod"],
            "costSummary": {
                "items": {"amount": "20.00", "currency": currency},
                "shipping": {"amount": shipping, "currency": currency},
            },
            "shipments": [],
            "items": [],
        }],
        "traceParent": "00-fake-trace-01",
    }))
    .into_response()
}

impl FakeProdigi {
    /// Starts a fake that accepts `X-API-Key: <key>`.
    pub async fn start(key: &str) -> Self {
        let state: Pd = Arc::new(Mutex::new(PdState {
            key: key.to_string(),
            shipping: "5.50".into(),
            ..Default::default()
        }));
        let router = Router::new()
            .route("/v4.0/orders", post(pd_create))
            .route("/v4.0/orders/{id}", get(pd_get))
            .route("/v4.0/orders/{id}/actions", get(pd_actions))
            .route("/v4.0/orders/{id}/actions/cancel", post(pd_cancel))
            .route(
                "/v4.0/orders/{id}/actions/updateRecipient",
                post(pd_update_recipient),
            )
            .route("/v4.0/quotes", post(pd_quote))
            .with_state(state.clone());
        let base = serve(router).await;
        Self {
            url: format!("{base}/v4.0"),
            state,
        }
    }

    /// Answers outcomes in camelCase (`created`, `alreadyExists`).
    pub fn camel_case_outcomes(&self, on: bool) {
        self.state.lock().unwrap().camel_case_outcomes = on;
    }
    /// Injects a fault into the next create call(s), in order.
    pub fn push_create_fault(&self, fault: Fault) {
        self.state.lock().unwrap().create_faults.push_back(fault);
    }
    /// Makes every create call take this long (a lab on a network).
    pub fn set_create_latency(&self, latency: Option<Duration>) {
        self.state.lock().unwrap().latency = latency;
    }
    /// Injects a fault into the next get call(s), in order.
    pub fn push_get_fault(&self, fault: Fault) {
        self.state.lock().unwrap().get_faults.push_back(fault);
    }
    /// Calls received so far.
    pub fn calls(&self) -> Calls {
        self.state.lock().unwrap().calls.clone()
    }
    /// Every order the fake holds.
    pub fn orders(&self) -> Vec<Value> {
        self.state.lock().unwrap().orders.clone()
    }
    /// How many orders the fake holds with `merchantReference` = our order id.
    pub fn orders_for(&self, order_id: &str) -> usize {
        self.orders()
            .iter()
            .filter(|o| o["merchantReference"] == json!(order_id))
            .count()
    }
    /// The order with this idempotency key.
    pub fn order_by_key(&self, key: &str) -> Option<Value> {
        self.orders()
            .into_iter()
            .find(|o| o["idempotencyKey"] == json!(key))
    }
    /// Sets the shipping amount quotes answer, and a delay before answering.
    pub fn set_shipping(&self, amount: &str, delay: Option<Duration>) {
        let mut st = self.state.lock().unwrap();
        st.shipping = amount.to_string();
        st.quote_delay = delay;
    }
    /// Test hook: sets an order's `status.stage` and `details.inProduction`.
    pub fn set_stage(&self, id: &str, stage: &str, in_production: &str) {
        let mut st = self.state.lock().unwrap();
        if let Some(o) = pd_find(&mut st.orders, id) {
            o["status"]["stage"] = json!(stage);
            o["status"]["details"]["inProduction"] = json!(in_production);
        }
    }
    /// Test hook: adds a shipment (status `Shipped`) with all the order's items.
    pub fn ship(&self, id: &str, shipment_id: &str, tracking: &str) {
        let mut st = self.state.lock().unwrap();
        let o = pd_find(&mut st.orders, id).expect("no such order");
        let items: Vec<Value> = o["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| json!({"itemId": i["id"]}))
            .collect();
        o["shipments"].as_array_mut().unwrap().push(json!({
            "id": shipment_id,
            "status": "Shipped",
            "carrier": {"name": "Royal Mail", "service": "Tracked 48"},
            "tracking": {"number": tracking, "url": format!("https://track.example/{tracking}")},
            "dispatchDate": "2026-11-29T12:00:00Z",
            "items": items,
            "fulfillmentLocation": {"countryCode": "GB", "labCode": "uk1"},
        }));
        o["status"]["details"]["shipping"] = json!("Complete");
    }
    /// The CloudEvents callback Prodigi would POST about the order as it is
    /// now, with a fresh event id (`evt_…`) unless `event_id` is given.
    pub fn callback(&self, id: &str, event_id: Option<&str>) -> Vec<u8> {
        let mut st = self.state.lock().unwrap();
        st.next_event += 1;
        let evt = event_id
            .map(str::to_string)
            .unwrap_or_else(|| format!("evt_{}", 300_000 + st.next_event));
        let order = st
            .orders
            .iter()
            .find(|o| o["id"] == json!(id))
            .cloned()
            .unwrap_or_else(|| json!({"id": id}));
        let stage = order["status"]["stage"]
            .as_str()
            .unwrap_or("InProgress")
            .to_string();
        serde_json::to_vec(&json!({
            "specversion": "1.0",
            "type": format!("com.prodigi.order.status.stage.changed#{stage}"),
            "source": "https://api.prodigi.com/v4.0/Orders/",
            "id": evt,
            "time": "2026-11-29T12:00:00.00Z",
            "datacontenttype": "application/json",
            "subject": id,
            "data": {"order": order},
        }))
        .unwrap()
    }
}
