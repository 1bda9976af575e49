//! All orders SQL.

use crate::model::*;
use crate::status::OrderStatus;
use crate::{Error, Result};
use base64::Engine as _;
use cielo_accounts::CustomerId;
use cielo_catalog::{ProductId, SaleVariant, VariantId};
use cielo_core::{Currency, Money, PostalAddress, Timestamp};
use cielo_db::sqlx::{self, any::AnyRow, Any, AnyConnection, AnyPool, Row};
use cielo_payments::PaymentSession;

fn bad(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Internal(anyhow::anyhow!("bad {what} in database: {e}"))
}

fn currency(r: &AnyRow) -> Result<Currency> {
    Currency::parse(&r.try_get::<String, _>("currency")?).map_err(|e| bad("currency", e))
}

pub(crate) struct CartRow {
    pub id: CartId,
    pub customer_id: Option<CustomerId>,
    pub currency: Currency,
    pub status: CartStatus,
    pub order_id: Option<OrderId>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

pub(crate) struct LineRow {
    pub id: CartLineId,
    pub variant_id: VariantId,
    pub quantity: i64,
    pub options: Option<serde_json::Value>,
    /// Canonical JSON of the options, as stored ('' for none).
    pub options_key: String,
}

pub(crate) async fn insert_cart(
    c: &mut AnyConnection,
    id: CartId,
    owner: Option<CustomerId>,
    currency: Currency,
    now: Timestamp,
) -> Result<()> {
    sqlx::query("insert into orders_cart (id, customer_id, currency, status, created_at, updated_at) values ($1, $2, $3, 'open', $4, $4)")
        .bind(id.to_string())
        .bind(owner.map(|o| o.to_string()))
        .bind(currency.code().to_string())
        .bind(now.as_micros())
        .execute(c)
        .await?;
    Ok(())
}

pub(crate) async fn cart<'e, E: sqlx::Executor<'e, Database = Any>>(
    ex: E,
    id: CartId,
) -> Result<Option<CartRow>> {
    let Some(r) = sqlx::query("select * from orders_cart where id = $1")
        .bind(id.to_string())
        .fetch_optional(ex)
        .await?
    else {
        return Ok(None);
    };
    let customer: Option<String> = r.try_get("customer_id")?;
    let order: Option<String> = r.try_get("order_id")?;
    Ok(Some(CartRow {
        id,
        customer_id: customer
            .map(|c| CustomerId::parse(&c))
            .transpose()
            .map_err(|e| bad("customer id", e))?,
        currency: currency(&r)?,
        status: if r.try_get::<String, _>("status")? == "open" {
            CartStatus::Open
        } else {
            CartStatus::Completed
        },
        order_id: order
            .map(|o| OrderId::parse(&o))
            .transpose()
            .map_err(|e| bad("order id", e))?,
        created_at: Timestamp::from_micros(r.try_get("created_at")?),
        updated_at: Timestamp::from_micros(r.try_get("updated_at")?),
    }))
}

fn line_row(r: &AnyRow) -> Result<LineRow> {
    let options: String = r.try_get("options")?;
    Ok(LineRow {
        id: CartLineId::parse(&r.try_get::<String, _>("id")?).map_err(|e| bad("line id", e))?,
        variant_id: VariantId::parse(&r.try_get::<String, _>("variant_id")?)
            .map_err(|e| bad("variant id", e))?,
        quantity: r.try_get("quantity")?,
        options: if options.is_empty() {
            None
        } else {
            serde_json::from_str(&options).ok()
        },
        options_key: options,
    })
}

pub(crate) async fn cart_lines<'e, E: sqlx::Executor<'e, Database = Any>>(
    ex: E,
    cart: CartId,
) -> Result<Vec<LineRow>> {
    let rows =
        sqlx::query("select * from orders_cart_line where cart_id = $1 order by created_at, id")
            .bind(cart.to_string())
            .fetch_all(ex)
            .await?;
    rows.iter().map(line_row).collect()
}

pub(crate) async fn insert_line(
    c: &mut AnyConnection,
    cart: CartId,
    id: CartLineId,
    variant: VariantId,
    quantity: i64,
    options: &str,
    now: Timestamp,
) -> Result<()> {
    sqlx::query("insert into orders_cart_line (id, cart_id, variant_id, quantity, options, created_at, updated_at) values ($1, $2, $3, $4, $5, $6, $6)")
        .bind(id.to_string())
        .bind(cart.to_string())
        .bind(variant.to_string())
        .bind(quantity)
        .bind(options)
        .bind(now.as_micros())
        .execute(c)
        .await?;
    Ok(())
}

pub(crate) async fn set_line_quantity(
    c: &mut AnyConnection,
    cart: CartId,
    line: CartLineId,
    quantity: i64,
    now: Timestamp,
) -> Result<()> {
    sqlx::query(
        "update orders_cart_line set quantity = $3, updated_at = $4 where id = $2 and cart_id = $1",
    )
    .bind(cart.to_string())
    .bind(line.to_string())
    .bind(quantity)
    .bind(now.as_micros())
    .execute(c)
    .await?;
    Ok(())
}

pub(crate) async fn delete_line(
    c: &mut AnyConnection,
    cart: CartId,
    line: CartLineId,
) -> Result<bool> {
    let done = sqlx::query("delete from orders_cart_line where id = $2 and cart_id = $1")
        .bind(cart.to_string())
        .bind(line.to_string())
        .execute(c)
        .await?;
    Ok(done.rows_affected() > 0)
}

pub(crate) async fn touch_cart(c: &mut AnyConnection, cart: CartId, now: Timestamp) -> Result<()> {
    sqlx::query("update orders_cart set updated_at = $2 where id = $1")
        .bind(cart.to_string())
        .bind(now.as_micros())
        .execute(c)
        .await?;
    Ok(())
}

pub(crate) async fn complete_cart(
    c: &mut AnyConnection,
    cart: CartId,
    order: OrderId,
    now: Timestamp,
) -> Result<()> {
    sqlx::query(
        "update orders_cart set status = 'completed', order_id = $2, updated_at = $3 where id = $1",
    )
    .bind(cart.to_string())
    .bind(order.to_string())
    .bind(now.as_micros())
    .execute(c)
    .await?;
    Ok(())
}

pub(crate) struct IdemRow {
    pub request_hash: String,
    pub order_id: Option<OrderId>,
    pub secret: Option<String>,
    pub response: Option<String>,
}

pub(crate) async fn idempotency(
    c: &mut AnyConnection,
    cart: CartId,
    key: &str,
) -> Result<Option<IdemRow>> {
    let row = sqlx::query("select * from orders_idempotency where scope = $1 and idem_key = $2")
        .bind(cart.to_string())
        .bind(key)
        .fetch_optional(c)
        .await?;
    row.map(|r| {
        let order: Option<String> = r.try_get("order_id")?;
        Ok(IdemRow {
            request_hash: r.try_get("request_hash")?,
            order_id: order
                .map(|o| OrderId::parse(&o))
                .transpose()
                .map_err(|e| bad("order id", e))?,
            secret: r.try_get("secret")?,
            response: r.try_get("response")?,
        })
    })
    .transpose()
}

pub(crate) async fn insert_idempotency(
    c: &mut AnyConnection,
    cart: CartId,
    key: &str,
    hash: &str,
    now: Timestamp,
) -> Result<()> {
    sqlx::query("insert into orders_idempotency (scope, idem_key, request_hash, created_at, updated_at) values ($1, $2, $3, $4, $4)")
        .bind(cart.to_string())
        .bind(key)
        .bind(hash)
        .bind(now.as_micros())
        .execute(c)
        .await
        .map_err(|e| if cielo_db::is_unique_violation(&e) { Error::IdempotencyRace } else { e.into() })?;
    Ok(())
}

pub(crate) async fn idempotency_order(
    c: &mut AnyConnection,
    cart: CartId,
    key: &str,
    order: OrderId,
    secret: &str,
    now: Timestamp,
) -> Result<()> {
    sqlx::query("update orders_idempotency set order_id = $3, secret = $4, updated_at = $5 where scope = $1 and idem_key = $2")
        .bind(cart.to_string())
        .bind(key)
        .bind(order.to_string())
        .bind(secret)
        .bind(now.as_micros())
        .execute(c)
        .await?;
    Ok(())
}

pub(crate) async fn idempotency_response(
    c: &mut AnyConnection,
    cart: CartId,
    key: &str,
    response: &str,
    now: Timestamp,
) -> Result<()> {
    sqlx::query("update orders_idempotency set response = $3, updated_at = $4 where scope = $1 and idem_key = $2")
        .bind(cart.to_string())
        .bind(key)
        .bind(response)
        .bind(now.as_micros())
        .execute(c)
        .await?;
    Ok(())
}

pub(crate) struct NewOrderRow<'a> {
    pub id: OrderId,
    pub cart_id: CartId,
    pub customer_id: Option<CustomerId>,
    pub email: &'a str,
    pub totals: &'a Totals,
    pub shipping_address: Option<&'a PostalAddress>,
    pub access_token_hash: &'a str,
    pub language: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub sms_opt_in: bool,
    pub now: Timestamp,
}

pub(crate) async fn insert_order(c: &mut AnyConnection, o: &NewOrderRow<'_>) -> Result<()> {
    sqlx::query(
        "insert into orders_order (id, cart_id, customer_id, email, status, currency, subtotal_minor, shipping_minor, tax_minor, total_minor,
         shipping_address, access_token_hash, created_at, updated_at, language, phone, sms_opt_in)
         values ($1, $2, $3, $4, 'pending_payment', $5, $6, $7, $8, $9, $10, $11, $12, $12, $13, $14, $15)",
    )
    .bind(o.id.to_string())
    .bind(o.cart_id.to_string())
    .bind(o.customer_id.map(|c| c.to_string()))
    .bind(o.email)
    .bind(o.totals.total.currency.code().to_string())
    .bind(o.totals.subtotal.amount)
    .bind(o.totals.shipping.amount)
    .bind(o.totals.tax.amount)
    .bind(o.totals.total.amount)
    // JSON `null` for an order of downloads bought without an address.
    .bind(serde_json::to_string(&o.shipping_address).map_err(anyhow::Error::from)?)
    .bind(o.access_token_hash)
    .bind(o.now.as_micros())
    .bind(o.language)
    .bind(o.phone)
    .bind(o.sms_opt_in as i64)
    .execute(c)
    .await
    .map_err(|e| if cielo_db::is_unique_violation(&e) { Error::CartCompleted } else { e.into() })?;
    Ok(())
}

pub(crate) async fn insert_order_line(
    c: &mut AnyConnection,
    order: OrderId,
    position: i64,
    line: &LineRow,
    v: &SaleVariant,
    line_total: Money,
    now: Timestamp,
) -> Result<()> {
    sqlx::query(
        "insert into orders_order_line (id, order_id, position, variant_id, product_id, product_title, variant_title, sku, product_type,
         lab_product_id, unit_price_minor, quantity, line_total_minor, options, created_at, updated_at, lab, delivery)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15, $16, $17)",
    )
    .bind(OrderLineId::new().to_string())
    .bind(order.to_string())
    .bind(position)
    .bind(v.id.to_string())
    .bind(v.product_id.to_string())
    .bind(&v.product_title)
    .bind(&v.title)
    .bind(&v.sku)
    .bind(&v.product_type)
    .bind(v.lab_product_id.clone())
    .bind(v.price.amount)
    .bind(line.quantity)
    .bind(line_total.amount)
    .bind(line.options.as_ref().map(|o| o.to_string()))
    .bind(now.as_micros())
    .bind(v.lab.clone())
    .bind(v.delivery.as_str())
    .execute(c)
    .await?;
    Ok(())
}

pub(crate) async fn insert_history(
    c: &mut AnyConnection,
    order: OrderId,
    from: Option<OrderStatus>,
    to: OrderStatus,
    cause: &str,
    now: Timestamp,
) -> Result<()> {
    sqlx::query("insert into orders_order_history (id, order_id, from_status, to_status, cause, at) values ($1, $2, $3, $4, $5, $6)")
        .bind(HistoryId::new().to_string())
        .bind(order.to_string())
        .bind(from.map(|f| f.as_str()))
        .bind(to.as_str())
        .bind(cause)
        .bind(now.as_micros())
        .execute(c)
        .await?;
    Ok(())
}

pub(crate) async fn set_payment(
    c: &mut AnyConnection,
    order: OrderId,
    s: &PaymentSession,
    now: Timestamp,
) -> Result<()> {
    sqlx::query(
        "update orders_order set payment_provider = $2, payment_session_id = $3, payment_url = $4, payment_expires_at = $5, updated_at = $6 where id = $1",
    )
    .bind(order.to_string())
    .bind(&s.provider)
    .bind(&s.session_id)
    .bind(&s.redirect_url)
    .bind(s.expires_at.as_micros())
    .bind(now.as_micros())
    .execute(c)
    .await?;
    Ok(())
}

fn status_of(r: &AnyRow, col: &str) -> Result<OrderStatus> {
    let s: String = r.try_get(col)?;
    OrderStatus::parse(&s).ok_or_else(|| bad("status", s))
}

pub(crate) async fn order_status(
    c: &mut AnyConnection,
    id: OrderId,
) -> Result<Option<OrderStatus>> {
    let row = sqlx::query("select status from orders_order where id = $1")
        .bind(id.to_string())
        .fetch_optional(c)
        .await?;
    row.map(|r| status_of(&r, "status")).transpose()
}

pub(crate) async fn set_status(
    c: &mut AnyConnection,
    id: OrderId,
    from: OrderStatus,
    to: OrderStatus,
    now: Timestamp,
) -> Result<bool> {
    let done = sqlx::query(
        "update orders_order set status = $3, updated_at = $4 where id = $1 and status = $2",
    )
    .bind(id.to_string())
    .bind(from.as_str())
    .bind(to.as_str())
    .bind(now.as_micros())
    .execute(c)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// An order read through `c`: inside a transaction it sees the
/// transaction's own writes and takes no second connection.
pub(crate) async fn order(c: &mut AnyConnection, id: OrderId) -> Result<Option<Order>> {
    Ok(order_with_token(c, id).await?.map(|(o, _)| o))
}

pub(crate) async fn order_with_token(
    c: &mut AnyConnection,
    id: OrderId,
) -> Result<Option<(Order, String)>> {
    let Some(r) = sqlx::query("select * from orders_order where id = $1")
        .bind(id.to_string())
        .fetch_optional(&mut *c)
        .await?
    else {
        return Ok(None);
    };
    let cur = currency(&r)?;
    let customer: Option<String> = r.try_get("customer_id")?;
    let lines =
        sqlx::query("select * from orders_order_line where order_id = $1 order by position")
            .bind(id.to_string())
            .fetch_all(&mut *c)
            .await?
            .iter()
            .map(|l| {
                let options: Option<String> = l.try_get("options")?;
                Ok(OrderLine {
                    id: OrderLineId::parse(&l.try_get::<String, _>("id")?)
                        .map_err(|e| bad("line id", e))?,
                    variant_id: VariantId::parse(&l.try_get::<String, _>("variant_id")?)
                        .map_err(|e| bad("variant id", e))?,
                    product_id: ProductId::parse(&l.try_get::<String, _>("product_id")?)
                        .map_err(|e| bad("product id", e))?,
                    product_title: l.try_get("product_title")?,
                    variant_title: l.try_get("variant_title")?,
                    sku: l.try_get("sku")?,
                    product_type: l.try_get("product_type")?,
                    lab_product_id: l.try_get("lab_product_id")?,
                    lab: l.try_get("lab")?,
                    delivery: cielo_catalog::Delivery::parse(&l.try_get::<String, _>("delivery")?),
                    unit_price: Money::new(l.try_get("unit_price_minor")?, cur),
                    quantity: l.try_get("quantity")?,
                    line_total: Money::new(l.try_get("line_total_minor")?, cur),
                    options: options.and_then(|o| serde_json::from_str(&o).ok()),
                    artwork: None,
                })
            })
            .collect::<Result<Vec<_>>>()?;
    let mut lines = lines;
    for a in sqlx::query("select * from orders_line_artwork where order_id = $1")
        .bind(id.to_string())
        .fetch_all(&mut *c)
        .await?
    {
        let line: String = a.try_get("order_line_id")?;
        if let Some(l) = lines.iter_mut().find(|l| l.id.to_string() == line) {
            l.artwork = Some(artwork_row(&a)?);
        }
    }
    let history =
        sqlx::query("select * from orders_order_history where order_id = $1 order by at, id")
            .bind(id.to_string())
            .fetch_all(&mut *c)
            .await?
            .iter()
            .map(|h| {
                let from: Option<String> = h.try_get("from_status")?;
                Ok(HistoryEntry {
                    from: from.and_then(|f| OrderStatus::parse(&f)),
                    to: status_of(h, "to_status")?,
                    cause: h.try_get("cause")?,
                    at: Timestamp::from_micros(h.try_get("at")?),
                })
            })
            .collect::<Result<Vec<_>>>()?;
    let shipments = shipments(&mut *c, id).await?;
    let address: String = r.try_get("shipping_address")?;
    let expires: Option<i64> = r.try_get("payment_expires_at")?;
    let order = Order {
        id,
        number: id.number(),
        customer_id: customer
            .map(|c| CustomerId::parse(&c))
            .transpose()
            .map_err(|e| bad("customer id", e))?,
        email: r.try_get("email")?,
        status: status_of(&r, "status")?,
        lines,
        totals: Totals {
            subtotal: Money::new(r.try_get("subtotal_minor")?, cur),
            shipping: Money::new(r.try_get("shipping_minor")?, cur),
            tax: Money::new(r.try_get("tax_minor")?, cur),
            total: Money::new(r.try_get("total_minor")?, cur),
        },
        shipping_address: serde_json::from_str(&address).map_err(|e| bad("address", e))?,
        payment: PaymentInfo {
            provider: r.try_get("payment_provider")?,
            session_id: r.try_get("payment_session_id")?,
            url: r.try_get("payment_url")?,
            expires_at: expires.map(Timestamp::from_micros),
        },
        history,
        shipments,
        language: r.try_get("language")?,
        phone: r.try_get("phone")?,
        sms_opt_in: r.try_get::<i64, _>("sms_opt_in")? != 0,
        created_at: Timestamp::from_micros(r.try_get("created_at")?),
        updated_at: Timestamp::from_micros(r.try_get("updated_at")?),
    };
    Ok(Some((order, r.try_get("access_token_hash")?)))
}

pub(crate) struct OrderCursor {
    created_at: i64,
    id: String,
}

impl OrderCursor {
    fn encode(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(format!("{}:{}", self.created_at, self.id))
    }
    pub(crate) fn decode(s: &str) -> Option<Self> {
        let raw = String::from_utf8(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(s)
                .ok()?,
        )
        .ok()?;
        let (at, id) = raw.split_once(':')?;
        OrderId::parse(id).ok()?;
        Some(Self {
            created_at: at.parse().ok()?,
            id: id.to_string(),
        })
    }
}

pub(crate) async fn list_orders(
    pool: &AnyPool,
    f: &OrderFilter,
    limit: i64,
    cursor: Option<OrderCursor>,
) -> Result<OrderPage> {
    let mut sql = String::from(
        "select o.id, o.email, o.status, o.currency, o.total_minor, o.created_at,
         (select cast(coalesce(sum(l.quantity), 0) as bigint) from orders_order_line l where l.order_id = o.id) as item_count
         from orders_order o where 1 = 1",
    );
    enum B {
        T(String),
        I(i64),
    }
    let mut binds = Vec::new();
    let mut push = |sql: &mut String, clause: &str, b: B| {
        binds.push(b);
        sql.push_str(&clause.replace("$?", &format!("${}", binds.len())));
    };
    if let Some(s) = f.status {
        push(&mut sql, " and o.status = $?", B::T(s.as_str().into()));
    }
    if let Some(t) = f.from {
        push(&mut sql, " and o.created_at >= $?", B::I(t.as_micros()));
    }
    if let Some(t) = f.to {
        push(&mut sql, " and o.created_at < $?", B::I(t.as_micros()));
    }
    if let Some(e) = &f.email {
        push(&mut sql, " and o.email = $?", B::T(e.trim().to_lowercase()));
    }
    if let Some(n) = &f.number {
        // Ids are lowercase hex, so the tail is matched as written.
        push(&mut sql, " and o.id like $?", B::T(format!("%{n}")));
    }
    if let Some(c) = f.customer_id {
        push(&mut sql, " and o.customer_id = $?", B::T(c.to_string()));
    }
    match f.lab.as_deref() {
        None => {}
        // `none`: a parcel the shop ships itself, so a physical line without
        // a lab; downloads have no lab either but are nobody's parcel.
        Some("none") => sql.push_str(
            " and exists (select 1 from orders_order_line ll where ll.order_id = o.id and ll.lab is null and ll.delivery <> 'digital')",
        ),
        Some("digital") => sql.push_str(
            " and exists (select 1 from orders_order_line ll where ll.order_id = o.id and ll.delivery = 'digital')",
        ),
        Some(lab) => push(
            &mut sql,
            " and exists (select 1 from orders_order_line ll where ll.order_id = o.id and ll.lab = $?)",
            B::T(lab.to_string()),
        ),
    }
    if let Some(c) = &cursor {
        // The timestamp is bound twice rather than referenced twice, so the
        // closure can keep numbering placeholders.
        push(&mut sql, " and (o.created_at < $?", B::I(c.created_at));
        push(&mut sql, " or (o.created_at = $?", B::I(c.created_at));
        push(&mut sql, " and o.id < $?))", B::T(c.id.clone()));
    }
    push(
        &mut sql,
        " order by o.created_at desc, o.id desc limit $?",
        B::I(limit + 1),
    );
    let mut q = sqlx::query(&sql);
    for b in binds {
        q = match b {
            B::T(s) => q.bind(s),
            B::I(i) => q.bind(i),
        };
    }
    let rows = q.fetch_all(pool).await?;
    let mut orders = rows
        .iter()
        .map(|r| {
            let id =
                OrderId::parse(&r.try_get::<String, _>("id")?).map_err(|e| bad("order id", e))?;
            Ok(OrderSummary {
                id,
                number: id.number(),
                email: r.try_get("email")?,
                status: status_of(r, "status")?,
                total: Money::new(r.try_get("total_minor")?, currency(r)?),
                item_count: r.try_get("item_count")?,
                created_at: Timestamp::from_micros(r.try_get("created_at")?),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let next_cursor = if orders.len() as i64 > limit {
        orders.truncate(limit as usize);
        orders.last().map(|o| {
            OrderCursor {
                created_at: o.created_at.as_micros(),
                id: o.id.to_string(),
            }
            .encode()
        })
    } else {
        None
    };
    Ok(OrderPage {
        orders,
        next_cursor,
    })
}

fn shipment_row(r: &AnyRow) -> Result<(String, Shipment)> {
    let lines: String = r.try_get("line_ids")?;
    Ok((
        r.try_get("id")?,
        Shipment {
            carrier: r.try_get("carrier")?,
            service: r.try_get("service")?,
            tracking_number: r.try_get("tracking_number")?,
            tracking_url: r.try_get("tracking_url")?,
            shipped_at: Timestamp::from_micros(r.try_get("shipped_at")?),
            line_ids: serde_json::from_str(&lines).map_err(|e| bad("shipment lines", e))?,
            shipped_by: r.try_get("shipped_by")?,
            lab_shipment_id: r.try_get("lab_shipment_id")?,
        },
    ))
}

async fn shipment_rows(c: &mut AnyConnection, order: OrderId) -> Result<Vec<(String, Shipment)>> {
    sqlx::query(
        "select * from orders_shipment where order_id = $1 order by shipped_at, created_at, id",
    )
    .bind(order.to_string())
    .fetch_all(c)
    .await?
    .iter()
    .map(shipment_row)
    .collect()
}

pub(crate) async fn shipments(c: &mut AnyConnection, order: OrderId) -> Result<Vec<Shipment>> {
    Ok(shipment_rows(c, order)
        .await?
        .into_iter()
        .map(|(_, s)| s)
        .collect())
}

/// Whether `a` and `b` are reports of the same parcel.
fn same_parcel(a: &Shipment, b: &Shipment) -> bool {
    match (&a.lab_shipment_id, &b.lab_shipment_id) {
        (Some(x), Some(y)) if a.shipped_by == b.shipped_by => x == y,
        _ => {
            a.carrier.eq_ignore_ascii_case(&b.carrier)
                && a.tracking_number.trim() == b.tracking_number.trim()
        }
    }
}

/// What [`merge_shipment`] did.
pub(crate) enum Merged {
    /// A new parcel, stored.
    New,
    /// A known parcel; missing details were filled in.
    Updated,
    /// A known parcel with nothing new.
    Same,
}

/// Stores `s` unless it is a known parcel; a known parcel only gains what
/// it lacked (a tracking URL, a service, more lines), never loses anything.
pub(crate) async fn merge_shipment(
    c: &mut AnyConnection,
    order: OrderId,
    s: &Shipment,
    now: Timestamp,
) -> Result<Merged> {
    let known = shipment_rows(&mut *c, order).await?;
    if let Some((id, old)) = known.iter().find(|(_, k)| same_parcel(k, s)) {
        let mut merged = old.clone();
        if merged.service.is_none() {
            merged.service = s.service.clone();
        }
        if merged.tracking_url.is_none() {
            merged.tracking_url = s.tracking_url.clone();
        }
        if merged.lab_shipment_id.is_none() {
            merged.lab_shipment_id = s.lab_shipment_id.clone();
        }
        for l in &s.line_ids {
            if !merged.line_ids.contains(l) {
                merged.line_ids.push(*l);
            }
        }
        if &merged == old {
            return Ok(Merged::Same);
        }
        sqlx::query("update orders_shipment set service = $2, tracking_url = $3, lab_shipment_id = $4, line_ids = $5, updated_at = $6 where id = $1")
            .bind(id)
            .bind(merged.service)
            .bind(merged.tracking_url)
            .bind(merged.lab_shipment_id)
            .bind(serde_json::to_string(&merged.line_ids).map_err(anyhow::Error::from)?)
            .bind(now.as_micros())
            .execute(c)
            .await?;
        return Ok(Merged::Updated);
    }
    sqlx::query(
        "insert into orders_shipment (id, order_id, shipped_by, lab_shipment_id, carrier, service, tracking_number, tracking_url, shipped_at, line_ids, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
    )
    .bind(ShipmentId::new().to_string())
    .bind(order.to_string())
    .bind(&s.shipped_by)
    .bind(s.lab_shipment_id.clone())
    .bind(&s.carrier)
    .bind(s.service.clone())
    .bind(&s.tracking_number)
    .bind(s.tracking_url.clone())
    .bind(s.shipped_at.as_micros())
    .bind(serde_json::to_string(&s.line_ids).map_err(anyhow::Error::from)?)
    .bind(now.as_micros())
    .execute(c)
    .await?;
    Ok(Merged::New)
}

pub(crate) async fn set_shipping_address(
    c: &mut AnyConnection,
    order: OrderId,
    address: &PostalAddress,
    now: Timestamp,
) -> Result<()> {
    sqlx::query("update orders_order set shipping_address = $2, updated_at = $3 where id = $1")
        .bind(order.to_string())
        .bind(serde_json::to_string(address).map_err(anyhow::Error::from)?)
        .bind(now.as_micros())
        .execute(c)
        .await?;
    Ok(())
}

pub(crate) async fn set_line_options(
    c: &mut AnyConnection,
    order: OrderId,
    line: OrderLineId,
    options: &serde_json::Value,
    now: Timestamp,
) -> Result<bool> {
    let done = sqlx::query(
        "update orders_order_line set options = $3, updated_at = $4 where order_id = $1 and id = $2",
    )
    .bind(order.to_string())
    .bind(line.to_string())
    .bind(options.to_string())
    .bind(now.as_micros())
    .execute(c)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn delete_artwork(c: &mut AnyConnection, line: OrderLineId) -> Result<()> {
    sqlx::query("delete from orders_line_artwork where order_line_id = $1")
        .bind(line.to_string())
        .execute(c)
        .await?;
    Ok(())
}

pub(crate) async fn unpaid_before(pool: &AnyPool, cutoff: Timestamp) -> Result<Vec<OrderId>> {
    let rows = sqlx::query("select id from orders_order where status = 'pending_payment' and created_at < $1 order by created_at limit 1000")
        .bind(cutoff.as_micros())
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|r| OrderId::parse(&r.try_get::<String, _>("id")?).map_err(|e| bad("order id", e)))
        .collect()
}

pub(crate) async fn delete_open_carts_before(
    c: &mut AnyConnection,
    cutoff: Timestamp,
) -> Result<usize> {
    sqlx::query("delete from orders_cart_line where cart_id in (select id from orders_cart where status = 'open' and updated_at < $1)")
        .bind(cutoff.as_micros())
        .execute(&mut *c)
        .await?;
    let done = sqlx::query("delete from orders_cart where status = 'open' and updated_at < $1")
        .bind(cutoff.as_micros())
        .execute(c)
        .await?;
    Ok(done.rows_affected() as usize)
}

fn artwork_row(r: &AnyRow) -> Result<Artwork> {
    Ok(Artwork {
        sha256: r.try_get("sha256")?,
        width_px: r.try_get("width_px")?,
        height_px: r.try_get("height_px")?,
        format: r.try_get("format")?,
        created_at: Timestamp::from_micros(r.try_get("created_at")?),
    })
}

pub(crate) async fn upsert_artwork(
    c: &mut AnyConnection,
    order: OrderId,
    line: OrderLineId,
    a: &NewArtwork,
    now: Timestamp,
) -> Result<()> {
    sqlx::query("delete from orders_line_artwork where order_line_id = $1")
        .bind(line.to_string())
        .execute(&mut *c)
        .await?;
    sqlx::query(
        "insert into orders_line_artwork (order_line_id, order_id, object_key, sha256, width_px, height_px, format, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(line.to_string())
    .bind(order.to_string())
    .bind(&a.object_key)
    .bind(&a.sha256)
    .bind(a.width_px)
    .bind(a.height_px)
    .bind(&a.format)
    .bind(now.as_micros())
    .execute(c)
    .await?;
    Ok(())
}

pub(crate) async fn artwork_with_key(
    pool: &AnyPool,
    order: OrderId,
    line: OrderLineId,
) -> Result<Option<(Artwork, String)>> {
    let row =
        sqlx::query("select * from orders_line_artwork where order_id = $1 and order_line_id = $2")
            .bind(order.to_string())
            .bind(line.to_string())
            .fetch_optional(pool)
            .await?;
    row.map(|r| Ok((artwork_row(&r)?, r.try_get("object_key")?)))
        .transpose()
}

/// Records another token that may read the order (hash only).
pub(crate) async fn insert_access_link(
    c: &mut AnyConnection,
    order: OrderId,
    token_hash: &str,
    now: Timestamp,
) -> Result<()> {
    sqlx::query(
        "insert into orders_access_link (token_hash, order_id, created_at) values ($1, $2, $3)",
    )
    .bind(token_hash)
    .bind(order.to_string())
    .bind(now.as_micros())
    .execute(c)
    .await?;
    Ok(())
}

/// True when `token_hash` is an access link of `order`.
pub(crate) async fn has_access_link(
    c: &mut AnyConnection,
    order: OrderId,
    token_hash: &str,
) -> Result<bool> {
    Ok(
        sqlx::query("select 1 from orders_access_link where token_hash = $1 and order_id = $2")
            .bind(token_hash)
            .bind(order.to_string())
            .fetch_optional(c)
            .await?
            .is_some(),
    )
}
