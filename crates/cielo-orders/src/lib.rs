//! Carts, checkout and orders.
//!
//! Prices always come from the catalog at the server. Checkout turns an open
//! cart into an order in `pending_payment` holding a snapshot of lines, prices
//! and address, takes stock, and asks the payment provider for a hosted payment
//! page; an `Idempotency-Key` makes a retried checkout answer exactly as the
//! first did. Order status only changes through [`Orders::transition`], which
//! checks the transition table and records the history.
#![warn(missing_docs)]

pub mod events;
mod jobs;
mod model;
mod payment_book;
pub mod personalisation;
pub mod shipping;
pub mod status;
mod store;

pub use cielo_catalog::Delivery;
pub use events::{
    status_topic, LabRefusal, OrderStatusChanged, ShipmentRecorded, TOPIC_SHIPMENT_RECORDED,
};
pub use jobs::{OrderSettings, KIND_EXPIRE_CARTS, KIND_EXPIRE_UNPAID};
pub use model::*;
pub use personalisation::{LineContext, LineOptionsValidator};
pub use shipping::{QuoteLine, ShippingQuoter};
pub use status::OrderStatus;

use cielo_accounts::CustomerId;
use cielo_catalog::{Catalog, StockPolicy};
use cielo_core::{ErrorKind, FieldError, HasErrorKind, Money, Timestamp, Validation};
use cielo_db::{Db, MigrationSet};
use cielo_payments::{CheckoutRequest, PaymentLine, SharedProvider};
use sha2::{Digest, Sha256};

/// The orders migrations.
pub const MIGRATIONS: MigrationSet = MigrationSet {
    domain: "orders",
    migrations: &[
        cielo_db::migration!(20261121000300, "orders"),
        cielo_db::migration!(20261121000400, "artwork"),
        cielo_db::migration!(20261129000500, "shipments"),
        cielo_db::migration!(20261129130000, "contact"),
        cielo_db::migration!(20261129150000, "line_delivery"),
    ],
};

/// Orders errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input broke a rule.
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    /// No such cart, or not yours.
    #[error("cart not found")]
    CartNotFound,
    /// No such line in this cart.
    #[error("cart line not found")]
    LineNotFound,
    /// The cart was checked out already.
    #[error("this cart has been checked out already")]
    CartCompleted,
    /// Nothing to check out.
    #[error("the cart is empty")]
    CartEmpty,
    /// A line's variant is gone or unpublished.
    #[error("a variant in the cart is no longer for sale")]
    Unavailable(Vec<FieldError>),
    /// Not enough stock.
    #[error("not enough stock: {0}")]
    OutOfStock(String),
    /// The idempotency key was used with a different request.
    #[error(
        "this Idempotency-Key was used with a different request; use a new key for a new request"
    )]
    IdempotencyKeyReused,
    /// No such order, or not yours.
    #[error("order not found")]
    OrderNotFound,
    /// A status change the table does not allow.
    #[error("an order cannot go from {from} to {to}")]
    InvalidTransition {
        /// Current status.
        from: OrderStatus,
        /// Requested status.
        to: OrderStatus,
    },
    /// Another request with the same idempotency key is in flight (retried internally).
    #[error("a request with this Idempotency-Key is in progress; retry shortly")]
    IdempotencyRace,
    /// No print file (yet) for this line.
    #[error("no artwork for this order line (yet)")]
    ArtworkNotFound,
    /// The order was cancelled or fully refunded: the buyer no longer gets
    /// its print files (as with digital downloads); an admin still does.
    #[error("the print file is available only for a paid order (not one cancelled or refunded)")]
    ArtworkUnavailable,
    /// The payment provider failed. The buyer reads a stable, generic
    /// message; the provider's own words go to the log only.
    #[error(
        "the payment could not be started; please try again in a few minutes or contact the shop"
    )]
    Payment(#[from] cielo_payments::PaymentError),
    /// The payment provider cannot take one of the order's amounts in its
    /// currency (checked before the order is created; nothing is written).
    #[error("{0}")]
    AmountNotPayable(String),
    /// Unexpected failure.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<cielo_db::sqlx::Error> for Error {
    fn from(e: cielo_db::sqlx::Error) -> Self {
        Error::Internal(anyhow::Error::new(e).context("orders query"))
    }
}
impl From<cielo_db::Error> for Error {
    fn from(e: cielo_db::Error) -> Self {
        Error::Internal(anyhow::Error::new(e).context("orders database"))
    }
}
impl From<cielo_catalog::Error> for Error {
    fn from(e: cielo_catalog::Error) -> Self {
        match e {
            cielo_catalog::Error::OutOfStock { variant, available } => {
                Error::OutOfStock(format!("only {available} of {variant} left"))
            }
            other => Error::Internal(anyhow::Error::new(other).context("catalog")),
        }
    }
}

impl HasErrorKind for Error {
    fn kind(&self) -> ErrorKind {
        use cielo_payments::PaymentError as P;
        match self {
            Error::Invalid(_) | Error::Unavailable(_) | Error::AmountNotPayable(_) => {
                ErrorKind::Invalid
            }
            Error::CartNotFound
            | Error::LineNotFound
            | Error::OrderNotFound
            | Error::ArtworkNotFound => ErrorKind::NotFound,
            Error::CartCompleted
            | Error::CartEmpty
            | Error::OutOfStock(_)
            | Error::IdempotencyKeyReused
            | Error::IdempotencyRace
            | Error::ArtworkUnavailable
            | Error::InvalidTransition { .. } => ErrorKind::Conflict,
            Error::Payment(P::Declined(_)) => ErrorKind::Conflict,
            Error::Payment(_) => ErrorKind::Unavailable,
            Error::Internal(_) => ErrorKind::Internal,
        }
    }
    fn code(&self) -> &'static str {
        match self {
            Error::Invalid(_) => "validation-failed",
            Error::Unavailable(_) => "variant-unavailable",
            Error::CartNotFound => "cart-not-found",
            Error::LineNotFound => "cart-line-not-found",
            Error::CartCompleted => "cart-completed",
            Error::CartEmpty => "cart-empty",
            Error::OutOfStock(_) => "out-of-stock",
            Error::IdempotencyKeyReused => "idempotency-key-reused",
            Error::IdempotencyRace => "idempotency-key-in-use",
            Error::OrderNotFound => "order-not-found",
            Error::ArtworkNotFound => "artwork-not-found",
            Error::ArtworkUnavailable => "artwork-unavailable",
            Error::InvalidTransition { .. } => "invalid-transition",
            Error::Payment(_) => "payment-provider-error",
            Error::AmountNotPayable(_) => "amount-not-payable",
            Error::Internal(_) => "internal",
        }
    }
    fn log_detail(&self) -> Option<String> {
        match self {
            Error::Payment(e) => Some(e.to_string()),
            _ => None,
        }
    }
    fn field_errors(&self) -> Vec<FieldError> {
        match self {
            Error::Invalid(e) | Error::Unavailable(e) => e.clone(),
            _ => Vec::new(),
        }
    }
}

/// Result of orders operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Who may read an order.
#[derive(Debug, Clone)]
pub enum OrderAccess {
    /// The signed-in customer (only their own orders).
    Customer(CustomerId),
    /// A guest holding the order's access token.
    Token(String),
    /// An admin: any order.
    Admin,
}

/// Where a payment page sends the buyer back ([`Orders::return_urls`]).
#[derive(Debug, Clone)]
pub struct ReturnUrls {
    /// After paying.
    pub success: String,
    /// After giving up.
    pub cancel: String,
}

/// Who is checking out.
#[derive(Debug, Clone)]
pub struct Buyer {
    /// The account, when signed in.
    pub customer_id: Option<CustomerId>,
    /// The account's email, used when the request gives none.
    pub account_email: Option<String>,
}

/// The orders service.
#[derive(Clone)]
pub struct Orders {
    db: Db,
    catalog: Catalog,
    payments: SharedProvider,
    pricing: std::sync::Arc<Pricing>,
    public_url: String,
    /// Options validators by product type (see [`personalisation`]).
    line_options:
        std::sync::Arc<std::collections::HashMap<String, std::sync::Arc<dyn LineOptionsValidator>>>,
    /// Quotes shipping at checkout instead of the flat rates, when set.
    shipping_quoter: Option<std::sync::Arc<dyn ShippingQuoter>>,
}

fn digest(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

fn new_access_token() -> String {
    use base64::Engine as _;
    let bytes: [u8; 32] = rand::random();
    format!(
        "oat_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

fn validate_options(v: &mut Validation, options: &Option<serde_json::Value>) {
    if let Some(o) = options {
        if !o.is_object() {
            v.add("options", "must be a JSON object");
        } else if serde_json::to_string(o)
            .map(|s| s.len())
            .unwrap_or(usize::MAX)
            > MAX_OPTIONS_BYTES
        {
            v.add(
                "options",
                format!("must be at most {MAX_OPTIONS_BYTES} bytes"),
            );
        }
    }
}

/// The buyer's contact choices at checkout: a language tag reduced to its
/// primary subtag (`es-MX` → `es`), a phone in E.164 (spaces and dashes
/// removed), and SMS only with a phone.
fn validate_contact(v: &mut Validation, input: &mut CheckoutInput) {
    if let Some(l) = input.language.take() {
        let primary = l
            .trim()
            .split(['-', '_'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        if (2..=3).contains(&primary.len()) && primary.bytes().all(|b| b.is_ascii_lowercase()) {
            input.language = Some(primary);
        } else {
            v.add("language", "must be a language tag such as `en` or `es-MX`");
        }
    }
    if let Some(p) = input.phone.take().filter(|p| !p.trim().is_empty()) {
        match cielo_core::phone::normalise(&p) {
            Some(n) => input.phone = Some(n),
            None => v.add(
                "phone",
                "must be a mobile number in international form, e.g. +34600123456",
            ),
        }
    }
    if input.sms_opt_in && input.phone.is_none() {
        v.add("sms_opt_in", "needs a phone number");
    }
}

fn validate_quantity(v: &mut Validation, q: i64) {
    if !(1..=MAX_QUANTITY).contains(&q) {
        v.add("quantity", format!("must be between 1 and {MAX_QUANTITY}"));
    }
}

impl Orders {
    /// The orders service. `public_url` is the shop's base URL, for the return
    /// links of payment pages.
    pub fn new(
        db: Db,
        catalog: Catalog,
        payments: SharedProvider,
        pricing: Pricing,
        public_url: &str,
    ) -> Self {
        Self {
            db,
            catalog,
            payments,
            pricing: std::sync::Arc::new(pricing),
            public_url: public_url.trim_end_matches('/').into(),
            line_options: Default::default(),
            shipping_quoter: None,
        }
    }

    /// Charges shipping at checkout as `quoter` says (the flat rates when it
    /// has no answer); carts before checkout show the flat rate.
    pub fn with_shipping_quoter(mut self, quoter: std::sync::Arc<dyn ShippingQuoter>) -> Self {
        self.shipping_quoter = Some(quoter);
        self
    }

    /// A shipping quote for the cart's lines as they are now, asked with no
    /// connection held: (the lines it is for, the amount).
    async fn quote_shipping(
        &self,
        quoter: &dyn ShippingQuoter,
        id: CartId,
        country: &str,
    ) -> Result<Option<(Vec<(cielo_catalog::VariantId, i64)>, Money)>> {
        let (row, lines, sale) = {
            let mut conn = self.db.pool().acquire().await?;
            let Some(row) = store::cart(&mut *conn, id).await? else {
                return Ok(None);
            };
            let lines = store::cart_lines(&mut *conn, id).await?;
            let ids: Vec<_> = lines.iter().map(|l| l.variant_id).collect();
            let sale = self.catalog.variants_for_sale(&mut conn, &ids).await?;
            (row, lines, sale)
        };
        let mut quote_lines = Vec::with_capacity(lines.len());
        for l in &lines {
            let Some(v) = sale.get(&l.variant_id) else {
                return Ok(None);
            };
            if v.delivery.is_digital() {
                // Downloads are not shipped: the parcel is the other lines.
                continue;
            }
            quote_lines.push(QuoteLine {
                lab: v.lab.clone(),
                lab_product_id: v.lab_product_id.clone(),
                sku: v.sku.clone(),
                quantity: l.quantity,
            });
        }
        if quote_lines.is_empty() {
            return Ok(None);
        }
        let key = lines.iter().map(|l| (l.variant_id, l.quantity)).collect();
        Ok(quoter
            .quote(&quote_lines, country, row.currency)
            .await
            .filter(|m| m.currency == row.currency && m.amount > 0)
            .map(|m| (key, m)))
    }

    /// Validates (and normalises) the options of lines whose product is of
    /// `product_type` with `validator`; such lines then need options that pass it.
    pub fn with_line_options_validator(
        mut self,
        product_type: &str,
        validator: std::sync::Arc<dyn LineOptionsValidator>,
    ) -> Self {
        std::sync::Arc::make_mut(&mut self.line_options)
            .insert(product_type.to_string(), validator);
        self
    }

    /// This domain as the payments domain needs it: order facts and status
    /// changes, read and written through the payment processing's own
    /// connection.
    pub fn payment_book(&self) -> std::sync::Arc<dyn cielo_payments::OrderBook> {
        std::sync::Arc::new(payment_book::OrdersBook {
            orders: self.clone(),
        })
    }

    /// The pricing rules in force.
    pub fn pricing(&self) -> &Pricing {
        &self.pricing
    }

    /// Opens a cart, owned by `owner` when signed in.
    pub async fn create_cart(&self, owner: Option<CustomerId>, input: NewCart) -> Result<Cart> {
        let currency = input.currency.unwrap_or(self.pricing.currency);
        let id = CartId::new();
        let now = Timestamp::now();
        // One statement, so no transaction: the cheapest durable write there is.
        store::insert_cart(
            &mut *self.db.pool().acquire().await?,
            id,
            owner,
            currency,
            now,
        )
        .await?;
        let row = store::CartRow {
            id,
            customer_id: owner,
            currency,
            status: CartStatus::Open,
            order_id: None,
            created_at: now,
            updated_at: now,
        };
        self.priced(row, Vec::new(), &Default::default())
    }

    /// A cart with current prices. Someone else's cart is "not found".
    pub async fn get_cart(&self, id: CartId, caller: Option<CustomerId>) -> Result<Cart> {
        let row = store::cart(self.db.pool(), id)
            .await?
            .ok_or(Error::CartNotFound)?;
        check_owner(&row, caller)?;
        self.price_cart(row).await
    }

    async fn price_cart(&self, row: store::CartRow) -> Result<Cart> {
        let lines = store::cart_lines(self.db.pool(), row.id).await?;
        let ids: Vec<_> = lines.iter().map(|l| l.variant_id).collect();
        let mut conn = self.db.pool().acquire().await?;
        let sale = self.catalog.variants_for_sale(&mut conn, &ids).await?;
        drop(conn);
        self.priced(row, lines, &sale)
    }

    /// Prices `lines` with catalog data already read.
    fn priced(
        &self,
        row: store::CartRow,
        lines: Vec<store::LineRow>,
        sale: &std::collections::HashMap<cielo_catalog::VariantId, cielo_catalog::SaleVariant>,
    ) -> Result<Cart> {
        let mut priced = Vec::with_capacity(lines.len());
        let mut subtotal = Money::zero(row.currency);
        let mut ships = false;
        for l in lines {
            let v = sale.get(&l.variant_id);
            let available = v.is_some_and(|v| v.published && v.price.currency == row.currency);
            let unit_price = v.map(|v| v.price).unwrap_or(Money::zero(row.currency));
            let line_total = unit_price
                .checked_mul(l.quantity)
                .map_err(anyhow::Error::from)?;
            if available {
                subtotal = subtotal
                    .checked_add(line_total)
                    .map_err(anyhow::Error::from)?;
            }
            priced.push(CartLine {
                id: l.id,
                variant_id: l.variant_id,
                product_id: v.map(|v| v.product_id).unwrap_or_default(),
                product_title: v.map(|v| v.product_title.clone()).unwrap_or_default(),
                variant_title: v.map(|v| v.title.clone()).unwrap_or_default(),
                sku: v.map(|v| v.sku.clone()).unwrap_or_default(),
                quantity: l.quantity,
                unit_price,
                line_total,
                options: l.options,
                available,
                delivery: v.map(|v| v.delivery).unwrap_or_default(),
            });
            ships |= !v.is_some_and(|v| v.delivery.is_digital());
        }
        // Shipping only when something ships: downloads travel free.
        let totals = self.totals(subtotal, ships, None, None)?;
        Ok(Cart {
            id: row.id,
            customer_id: row.customer_id,
            currency: row.currency,
            status: row.status,
            order_id: row.order_id,
            lines: priced,
            totals,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }

    /// The totals; `ships`: some line goes in a parcel (else no shipping).
    fn totals(
        &self,
        subtotal: Money,
        ships: bool,
        country: Option<&str>,
        region: Option<&str>,
    ) -> Result<Totals> {
        let currency = subtotal.currency;
        let shipping = if ships {
            self.pricing.shipping(currency, country, region)
        } else {
            Money::zero(currency)
        };
        // Tax is on goods only; shops that tax shipping configure it into the rate.
        let tax = subtotal
            .percentage_bp(self.pricing.tax_bp(country))
            .map_err(anyhow::Error::from)?;
        let total = subtotal
            .checked_add(shipping)
            .and_then(|t| t.checked_add(tax))
            .map_err(anyhow::Error::from)?;
        Ok(Totals {
            subtotal,
            shipping,
            tax,
            total,
        })
    }

    /// Adds a line (or raises the quantity of an identical one).
    #[tracing::instrument(skip_all, fields(cart_id = %id))]
    pub async fn add_line(
        &self,
        id: CartId,
        caller: Option<CustomerId>,
        input: NewLine,
    ) -> Result<Cart> {
        let mut v = Validation::new();
        validate_quantity(&mut v, input.quantity);
        validate_options(&mut v, &input.options);
        v.finish().map_err(Error::Invalid)?;
        let mut tx = self.db.begin_write().await?;
        let row = open_cart(&mut tx, id, caller).await?;
        // Read every line and price them all in this transaction, so the answer
        // needs no second round of reads after the commit.
        let mut lines = store::cart_lines(&mut **tx, id).await?;
        let mut ids: Vec<_> = lines.iter().map(|l| l.variant_id).collect();
        ids.push(input.variant_id);
        let sale = self.catalog.variants_for_sale(&mut tx, &ids).await?;
        let variant = sale
            .get(&input.variant_id)
            .filter(|v| v.published)
            .ok_or_else(|| {
                Error::Invalid(vec![FieldError::new(
                    "variant_id",
                    "no such variant for sale",
                )])
            })?;
        if variant.price.currency != row.currency {
            return Err(Error::Invalid(vec![FieldError::new(
                "variant_id",
                format!(
                    "is priced in {}, but this cart is in {}",
                    variant.price.currency, row.currency
                ),
            )]));
        }
        // Personalised products: their validator decides what is stored.
        let options = match self.line_options.get(&variant.product_type) {
            // A product that takes no personalisation takes no options: stored
            // as given they would reach pages and labs that expect none.
            None => match input.options {
                Some(o) if o.as_object().is_some_and(|m| m.is_empty()) => None,
                Some(_) => {
                    return Err(Error::Invalid(vec![FieldError::new(
                        "options",
                        "this product takes no personalisation; send no options",
                    )]))
                }
                None => None,
            },
            Some(validator) => {
                let line = LineContext {
                    product_type: &variant.product_type,
                    sku: &variant.sku,
                    option_values: &variant.option_values,
                };
                let normalised = validator
                    .validate(&line, input.options.as_ref())
                    .map_err(|e| Error::Invalid(personalisation::under_options(e)))?;
                let normalised = Some(normalised);
                let mut v = Validation::new();
                validate_options(&mut v, &normalised);
                v.finish().map_err(Error::Invalid)?;
                normalised
            }
        };
        let options_key = canonical_options(&options);
        let existing = lines
            .iter()
            .position(|l| l.variant_id == input.variant_id && l.options_key == options_key);
        let quantity = existing.map(|i| lines[i].quantity).unwrap_or(0) + input.quantity;
        if quantity > MAX_QUANTITY {
            return Err(Error::Invalid(vec![FieldError::new(
                "quantity",
                format!("a line holds at most {MAX_QUANTITY}"),
            )]));
        }
        check_stock(variant, quantity)?;
        let now = Timestamp::now();
        match existing {
            Some(i) => {
                store::set_line_quantity(&mut tx, id, lines[i].id, quantity, now).await?;
                lines[i].quantity = quantity;
            }
            None => {
                if lines.len() >= MAX_LINES {
                    return Err(Error::Invalid(vec![FieldError::new(
                        "",
                        format!("a cart holds at most {MAX_LINES} lines"),
                    )]));
                }
                let line_id = CartLineId::new();
                store::insert_line(
                    &mut tx,
                    id,
                    line_id,
                    input.variant_id,
                    input.quantity,
                    &options_key,
                    now,
                )
                .await?;
                lines.push(store::LineRow {
                    id: line_id,
                    variant_id: input.variant_id,
                    quantity,
                    options,
                    options_key,
                });
            }
        };
        store::touch_cart(&mut tx, id, now).await?;
        tx.commit().await?;
        self.priced(
            store::CartRow {
                updated_at: now,
                ..row
            },
            lines,
            &sale,
        )
    }

    /// Sets a line's quantity.
    pub async fn update_line(
        &self,
        id: CartId,
        line: CartLineId,
        caller: Option<CustomerId>,
        patch: LinePatch,
    ) -> Result<Cart> {
        let mut v = Validation::new();
        validate_quantity(&mut v, patch.quantity);
        v.finish().map_err(Error::Invalid)?;
        let mut tx = self.db.begin_write().await?;
        open_cart(&mut tx, id, caller).await?;
        let existing = store::cart_lines(&mut **tx, id)
            .await?
            .into_iter()
            .find(|l| l.id == line)
            .ok_or(Error::LineNotFound)?;
        let sale = self
            .catalog
            .variants_for_sale(&mut tx, &[existing.variant_id])
            .await?;
        if let Some(variant) = sale.get(&existing.variant_id) {
            check_stock(variant, patch.quantity)?;
        }
        let now = Timestamp::now();
        store::set_line_quantity(&mut tx, id, line, patch.quantity, now).await?;
        store::touch_cart(&mut tx, id, now).await?;
        tx.commit().await?;
        self.get_cart(id, caller).await
    }

    /// Removes a line.
    pub async fn remove_line(
        &self,
        id: CartId,
        line: CartLineId,
        caller: Option<CustomerId>,
    ) -> Result<Cart> {
        let mut tx = self.db.begin_write().await?;
        open_cart(&mut tx, id, caller).await?;
        let now = Timestamp::now();
        if !store::delete_line(&mut tx, id, line).await? {
            return Err(Error::LineNotFound);
        }
        store::touch_cart(&mut tx, id, now).await?;
        tx.commit().await?;
        self.get_cart(id, caller).await
    }

    /// Checks a cart out into an order and opens its payment.
    ///
    /// With an idempotency key, the same key and body answer with the same
    /// result (even after a crash half-way), and the same key with another
    /// body is refused.
    #[tracing::instrument(skip_all, fields(cart_id = %id))]
    pub async fn checkout(
        &self,
        id: CartId,
        buyer: Buyer,
        key: Option<String>,
        input: CheckoutInput,
    ) -> Result<CheckoutResult> {
        // Two requests with one key race to insert its record; on PostgreSQL the
        // loser waits for the winner's commit and then sees a unique violation.
        // Running again reads the winner's record and answers as it did.
        let mut attempt = 0;
        loop {
            match self
                .checkout_once(id, buyer.clone(), key.clone(), input.clone())
                .await
            {
                Err(Error::IdempotencyRace) if attempt < 3 => attempt += 1,
                other => return other,
            }
        }
    }

    async fn checkout_once(
        &self,
        id: CartId,
        buyer: Buyer,
        key: Option<String>,
        mut input: CheckoutInput,
    ) -> Result<CheckoutResult> {
        // Validate before touching the database: bad input writes nothing.
        let mut v = Validation::new();
        let email = match input.email.as_deref().or(buyer.account_email.as_deref()) {
            Some(e) => v.check("email", cielo_accounts::parse_email(e)),
            None => {
                v.add("email", "is required to check out as a guest");
                None
            }
        };
        if let Some(a) = input.shipping_address.as_mut() {
            a.validate(&mut v, "shipping_address/");
            self.pricing
                .check_ships_to(&mut v, "shipping_address/", &a.country);
        }
        validate_contact(&mut v, &mut input);
        if let Some(k) = &key {
            if k.is_empty() || k.len() > 255 || !k.bytes().all(|b| (0x21..0x7f).contains(&b)) {
                v.add("Idempotency-Key", "must be 1–255 visible ASCII characters");
            }
        }
        v.finish().map_err(Error::Invalid)?;
        let email = email.expect("validated");
        let quoted = match (&self.shipping_quoter, &input.shipping_address) {
            (Some(q), Some(a)) => self.quote_shipping(q.as_ref(), id, &a.country).await?,
            _ => None,
        };
        let request_hash = digest(
            &serde_json::to_string(&(&input, &email, buyer.customer_id))
                .map_err(anyhow::Error::from)?,
        );

        let mut tx = self.db.begin_write().await?;
        if let Some(k) = &key {
            match store::idempotency(&mut tx, id, k).await? {
                Some(rec) if rec.request_hash != request_hash => {
                    return Err(Error::IdempotencyKeyReused)
                }
                Some(rec) => {
                    drop(tx);
                    return match (rec.response, rec.order_id, rec.secret) {
                        (Some(resp), _, _) => {
                            Ok(serde_json::from_str(&resp).map_err(anyhow::Error::from)?)
                        }
                        // The first attempt created the order and stopped before the
                        // payment step: finish that step now.
                        (None, Some(order_id), Some(secret)) => {
                            self.open_payment(order_id, secret, Some(k.clone()), id)
                                .await
                        }
                        _ => Err(Error::Internal(anyhow::anyhow!(
                            "idempotency record without order"
                        ))),
                    };
                }
                None => {
                    store::insert_idempotency(&mut tx, id, k, &request_hash, Timestamp::now())
                        .await?
                }
            }
        }

        let row = open_cart(&mut tx, id, buyer.customer_id).await?;
        let lines = store::cart_lines(&mut **tx, id).await?;
        if lines.is_empty() {
            return Err(Error::CartEmpty);
        }
        let ids: Vec<_> = lines.iter().map(|l| l.variant_id).collect();
        let sale = self.catalog.variants_for_sale(&mut tx, &ids).await?;
        let mut gone = Vec::new();
        let mut snapshot = Vec::new();
        let mut subtotal = Money::zero(row.currency);
        for (i, l) in lines.iter().enumerate() {
            match sale
                .get(&l.variant_id)
                .filter(|v| v.published && v.price.currency == row.currency)
            {
                None => gone.push(FieldError::new(
                    &format!("lines/{i}/variant_id"),
                    "is no longer for sale",
                )),
                Some(v) => {
                    let line_total = v
                        .price
                        .checked_mul(l.quantity)
                        .map_err(anyhow::Error::from)?;
                    subtotal = subtotal
                        .checked_add(line_total)
                        .map_err(anyhow::Error::from)?;
                    snapshot.push((l, v.clone(), line_total));
                }
            }
        }
        if !gone.is_empty() {
            return Err(Error::Unavailable(gone));
        }
        // Physical lines need somewhere to go; a cart of downloads only does not.
        let ships = snapshot.iter().any(|(_, v, _)| !v.delivery.is_digital());
        if ships && input.shipping_address.is_none() {
            return Err(Error::Invalid(vec![FieldError::new(
                "shipping_address",
                "is required: the cart has goods to ship (only a cart of digital downloads needs none)",
            )]));
        }
        let stock: Vec<_> = snapshot
            .iter()
            .filter(|(_, v, _)| v.stock.is_some())
            .map(|(l, v, _)| (v.id, l.quantity))
            .collect();
        self.catalog.reserve_stock(&mut tx, &stock).await?;

        let address = input.shipping_address.as_ref();
        let mut totals = self.totals(
            subtotal,
            ships,
            address.map(|a| a.country.as_str()),
            address.and_then(|a| a.region.as_deref()),
        )?;
        // The quote counts only for the lines it was asked for.
        let priced_lines: Vec<_> = lines.iter().map(|l| (l.variant_id, l.quantity)).collect();
        if let Some((_, shipping)) = quoted.filter(|(k, _)| ships && *k == priced_lines) {
            totals.total = totals
                .subtotal
                .checked_add(shipping)
                .and_then(|t| t.checked_add(totals.tax))
                .map_err(anyhow::Error::from)?;
            totals.shipping = shipping;
        }
        // Every amount the provider will be sent must be one it can take;
        // otherwise refuse now, before an order exists (the transaction,
        // with its stock reservation, is dropped).
        let amounts = snapshot.iter().map(|(_, v, _)| v.price).chain([
            totals.shipping,
            totals.tax,
            totals.total,
        ]);
        for amount in amounts {
            if let Err(e) = self.payments.provider_amount(amount) {
                return Err(Error::AmountNotPayable(e.to_string()));
            }
        }
        let order_id = OrderId::new();
        let secret = new_access_token();
        let now = Timestamp::now();
        let order = store::NewOrderRow {
            id: order_id,
            cart_id: id,
            customer_id: buyer.customer_id,
            email: &email,
            totals: &totals,
            shipping_address: address,
            access_token_hash: &digest(&secret),
            language: input.language.as_deref(),
            phone: input.phone.as_deref(),
            sms_opt_in: input.sms_opt_in,
            now,
        };
        store::insert_order(&mut tx, &order).await?;
        for (pos, (l, v, line_total)) in snapshot.iter().enumerate() {
            store::insert_order_line(&mut tx, order_id, pos as i64, l, v, *line_total, now).await?;
        }
        store::insert_history(
            &mut tx,
            order_id,
            None,
            OrderStatus::PendingPayment,
            "checkout",
            now,
        )
        .await?;
        publish_status(
            &mut tx,
            order_id,
            None,
            OrderStatus::PendingPayment,
            "checkout",
            None,
        )
        .await?;
        store::complete_cart(&mut tx, id, order_id, now).await?;
        if let Some(k) = &key {
            store::idempotency_order(&mut tx, id, k, order_id, &secret, now).await?;
        }
        tx.commit().await?;
        tracing::info!(order_id = %order_id, total = %totals.total, "order created");
        self.open_payment(order_id, secret, key, id).await
    }

    /// Asks the provider for the order's payment page (the provider keys it by
    /// order id, so asking twice opens one payment) and records the answer.
    async fn open_payment(
        &self,
        order_id: OrderId,
        secret: String,
        key: Option<String>,
        cart: CartId,
    ) -> Result<CheckoutResult> {
        let order = store::order(&mut *self.db.pool().acquire().await?, order_id)
            .await?
            .ok_or(Error::OrderNotFound)?;
        let returns = self.return_urls(order_id).await?;
        let request = CheckoutRequest {
            order_id: order_id.to_string(),
            email: order.email.clone(),
            lines: order
                .lines
                .iter()
                .map(|l| PaymentLine {
                    name: format!("{} — {}", l.product_title, l.variant_title),
                    unit_price: l.unit_price,
                    quantity: l.quantity,
                })
                .collect(),
            shipping: order.totals.shipping,
            tax: order.totals.tax,
            total: order.totals.total,
            success_url: returns.success,
            cancel_url: returns.cancel,
            account_id: order.customer_id.map(|c| c.to_string()),
            customer: None,
        };
        let session = self.payments.create_checkout(&request).await?;
        let result = CheckoutResult {
            order_id: order_id.to_string(),
            number: order_id.number(),
            status: order.status,
            payment_url: session.redirect_url.clone(),
            access_token: secret,
            total: order.totals.total,
        };
        let now = Timestamp::now();
        let mut tx = self.db.begin_write().await?;
        store::set_payment(&mut tx, order_id, &session, now).await?;
        if let Some(k) = &key {
            store::idempotency_response(
                &mut tx,
                cart,
                k,
                &serde_json::to_string(&result).map_err(anyhow::Error::from)?,
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(result)
    }

    /// An order, if `access` may read it; otherwise "not found".
    pub async fn get_order(&self, id: OrderId, access: &OrderAccess) -> Result<Order> {
        let (order, token_hash) =
            store::order_with_token(&mut *self.db.pool().acquire().await?, id)
                .await?
                .ok_or(Error::OrderNotFound)?;
        let allowed = match access {
            OrderAccess::Admin => true,
            OrderAccess::Customer(c) => order.customer_id == Some(*c),
            OrderAccess::Token(t) => {
                use subtle_eq::ct_eq;
                ct_eq(digest(t).as_bytes(), token_hash.as_bytes())
                    || store::has_access_link(&mut *self.db.pool().acquire().await?, id, &digest(t))
                        .await?
            }
        };
        if allowed {
            Ok(order)
        } else {
            Err(Error::OrderNotFound)
        }
    }

    /// A new token that lets whoever holds it read the order (as the one
    /// returned at checkout does), for links in messages to the buyer. Only
    /// its hash is kept.
    pub async fn access_link_token(&self, id: OrderId) -> Result<String> {
        let mut tx = self.db.begin_write().await?;
        let token = self.access_link_token_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(token)
    }

    /// [`Orders::access_link_token`] in the caller's transaction: the link
    /// exists only if the caller commits (a message that is not stored
    /// leaves no link behind), and it costs the caller no commit of its own.
    pub async fn access_link_token_in(
        &self,
        conn: &mut cielo_db::sqlx::AnyConnection,
        id: OrderId,
    ) -> Result<String> {
        let token = new_access_token();
        if store::order_status(&mut *conn, id).await?.is_none() {
            return Err(Error::OrderNotFound);
        }
        store::insert_access_link(&mut *conn, id, &digest(&token), Timestamp::now()).await?;
        Ok(token)
    }

    /// Where the payment page sends the buyer back, paid or not: the order
    /// page's link with a new access token (as in the order's emails), so
    /// the order shows in any browser, not only the one that checked out.
    ///
    /// Shapes: `{public_url}/?order=ord_…&token=oat_…&paid=1` and
    /// `…&cancelled=1`. Errors: [`Error::OrderNotFound`].
    pub async fn return_urls(&self, id: OrderId) -> Result<ReturnUrls> {
        let token = self.access_link_token(id).await?;
        let base = format!("{}/?order={id}&token={token}", self.public_url);
        Ok(ReturnUrls {
            success: format!("{base}&paid=1"),
            cancel: format!("{base}&cancelled=1"),
        })
    }

    /// A customer's own orders, newest first.
    pub async fn customer_orders(
        &self,
        customer: CustomerId,
        limit: Option<i64>,
        cursor: Option<String>,
    ) -> Result<OrderPage> {
        self.list_orders(OrderFilter {
            customer_id: Some(customer),
            limit,
            cursor,
            ..Default::default()
        })
        .await
    }

    /// Orders matching `filter`, newest first (admin).
    pub async fn list_orders(&self, filter: OrderFilter) -> Result<OrderPage> {
        let limit = filter.limit.unwrap_or(20);
        if !(1..=100).contains(&limit) {
            return Err(Error::Invalid(vec![FieldError::new(
                "limit",
                "must be between 1 and 100",
            )]));
        }
        let cursor = match &filter.cursor {
            Some(c) => Some(store::OrderCursor::decode(c).ok_or_else(|| {
                Error::Invalid(vec![FieldError::new(
                    "cursor",
                    "is not a cursor this API gave out",
                )])
            })?),
            None => None,
        };
        store::list_orders(self.db.pool(), &filter, limit, cursor).await
    }

    /// How many orders are in each status, as `(status, count)` pairs, for
    /// the metrics (`cielo_orders{status}`).
    pub async fn status_counts(&self) -> Result<Vec<(String, i64)>> {
        let rows = cielo_db::sqlx::query(
            "select status, cast(count(*) as bigint) as n from orders_order group by status",
        )
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|r| {
                use cielo_db::sqlx::Row as _;
                Ok((r.try_get("status")?, r.try_get("n")?))
            })
            .collect()
    }

    /// Moves an order to `to`, if the transition table allows it, recording the
    /// cause, inside the caller's transaction. Moving to the status it already
    /// has is a no-op returning `false`, so replayed events change nothing.
    pub async fn transition(
        &self,
        conn: &mut cielo_db::sqlx::AnyConnection,
        id: OrderId,
        to: OrderStatus,
        cause: &str,
    ) -> Result<bool> {
        self.transition_with(conn, id, to, cause, None).await
    }

    /// [`Orders::transition`] carrying a lab's refusal on the event (see
    /// [`LabRefusal`]): the `needs_attention` a refused lab order causes.
    pub async fn transition_with(
        &self,
        conn: &mut cielo_db::sqlx::AnyConnection,
        id: OrderId,
        to: OrderStatus,
        cause: &str,
        refusal: Option<LabRefusal>,
    ) -> Result<bool> {
        let from = store::order_status(&mut *conn, id)
            .await?
            .ok_or(Error::OrderNotFound)?;
        if from == to && to != OrderStatus::PartiallyRefunded {
            return Ok(false);
        }
        if !from.can_become(to) {
            return Err(Error::InvalidTransition { from, to });
        }
        let now = Timestamp::now();
        // Compare-and-set on the status: a concurrent transition loses cleanly.
        if !store::set_status(&mut *conn, id, from, to, now).await? {
            return Err(Error::Internal(anyhow::anyhow!(
                "order {id} changed status concurrently"
            )));
        }
        store::insert_history(&mut *conn, id, Some(from), to, cause, now).await?;
        // Announced in the same transaction: subscribers (artwork, the print
        // lab, notifications) hear of it exactly when it really happened.
        publish_status(conn, id, Some(from), to, cause, refusal).await?;
        Ok(true)
    }

    /// [`Orders::transition`] in its own transaction.
    pub async fn transition_now(&self, id: OrderId, to: OrderStatus, cause: &str) -> Result<bool> {
        let mut tx = self.db.begin_write().await?;
        let changed = self.transition(&mut tx, id, to, cause).await?;
        tx.commit().await?;
        Ok(changed)
    }

    /// An order read through the caller's connection (admin access): inside a
    /// transaction it sees that transaction's writes and needs no second
    /// connection from the pool.
    pub async fn order_in(
        &self,
        conn: &mut cielo_db::sqlx::AnyConnection,
        id: OrderId,
    ) -> Result<Order> {
        store::order(conn, id).await?.ok_or(Error::OrderNotFound)
    }

    /// Checks that `access` may read order `id` (else "not found").
    pub async fn authorize(&self, id: OrderId, access: &OrderAccess) -> Result<()> {
        self.get_order(id, access).await.map(|_| ())
    }

    /// Records a parcel on the order in the caller's transaction, merged with
    /// what is known: a parcel already recorded (same lab shipment id, or same
    /// carrier and tracking number) only gains missing details. Publishes
    /// [`ShipmentRecorded`] for a new parcel. Returns whether it was new.
    pub async fn record_shipment(
        &self,
        conn: &mut cielo_db::sqlx::AnyConnection,
        id: OrderId,
        shipment: &Shipment,
        cause: &str,
    ) -> Result<bool> {
        let mut v = Validation::new();
        if shipment.carrier.trim().is_empty() || shipment.carrier.len() > 100 {
            v.add("carrier", "must be 1–100 characters");
        }
        if shipment.tracking_number.trim().is_empty() || shipment.tracking_number.len() > 100 {
            v.add("tracking_number", "must be 1–100 characters");
        }
        if let Some(u) = &shipment.tracking_url {
            if !(u.starts_with("https://") || u.starts_with("http://")) || u.len() > 2000 {
                v.add(
                    "tracking_url",
                    "must be an http(s) URL of at most 2000 characters",
                );
            }
        }
        v.finish().map_err(Error::Invalid)?;
        let order = self.order_in(&mut *conn, id).await?;
        if let Some(l) = shipment
            .line_ids
            .iter()
            .find(|l| !order.lines.iter().any(|ol| ol.id == **l))
        {
            return Err(Error::Invalid(vec![FieldError::new(
                "line_ids",
                format!("order {id} has no line {l}"),
            )]));
        }
        let now = Timestamp::now();
        match store::merge_shipment(&mut *conn, id, shipment, now).await? {
            store::Merged::New => {
                let event = ShipmentRecorded {
                    order_id: id,
                    shipment: shipment.clone(),
                    cause: cause.to_string(),
                };
                events::publish(conn, event.topic(), &event).await?;
                Ok(true)
            }
            store::Merged::Updated | store::Merged::Same => Ok(false),
        }
    }

    /// Replaces the order's shipping address in the caller's transaction
    /// (edit window; the caller checked the lab has not taken the order yet).
    /// Returns the address as stored (normalised).
    pub async fn set_shipping_address(
        &self,
        conn: &mut cielo_db::sqlx::AnyConnection,
        id: OrderId,
        address: &cielo_core::PostalAddress,
    ) -> Result<cielo_core::PostalAddress> {
        let mut address = address.clone();
        let mut v = Validation::new();
        address.validate(&mut v, "shipping_address/");
        self.pricing
            .check_ships_to(&mut v, "shipping_address/", &address.country);
        v.finish().map_err(Error::Invalid)?;
        self.order_in(&mut *conn, id).await?;
        store::set_shipping_address(conn, id, &address, Timestamp::now()).await?;
        Ok(address)
    }

    /// Replaces a line's personalisation in the caller's transaction (edit
    /// window), validated as at checkout; its print file, if any, is dropped
    /// so the line is rendered again. Returns the stored options.
    pub async fn set_line_options(
        &self,
        conn: &mut cielo_db::sqlx::AnyConnection,
        id: OrderId,
        line: OrderLineId,
        options: serde_json::Value,
    ) -> Result<serde_json::Value> {
        let options = self
            .check_line_options(&mut *conn, id, line, options)
            .await?;
        store::set_line_options(&mut *conn, id, line, &options, Timestamp::now()).await?;
        store::delete_artwork(conn, line).await?;
        Ok(options)
    }

    /// Checks a line's new personalisation as [`Orders::set_line_options`]
    /// would, writing nothing: the options as they would be stored, or the
    /// 422 problems ([`Error::Invalid`], pointers under `options/`). Callers
    /// that change other domains in the same request check first, so a
    /// refused change leaves nothing written anywhere.
    pub async fn check_line_options(
        &self,
        conn: &mut cielo_db::sqlx::AnyConnection,
        id: OrderId,
        line: OrderLineId,
        options: serde_json::Value,
    ) -> Result<serde_json::Value> {
        let order = self.order_in(&mut *conn, id).await?;
        let l = order
            .lines
            .iter()
            .find(|l| l.id == line)
            .ok_or(Error::LineNotFound)?;
        let options = match self.line_options.get(&l.product_type) {
            None => options,
            Some(validator) => {
                let values = self
                    .catalog
                    .variants_for_sale(&mut *conn, &[l.variant_id])
                    .await?
                    .get(&l.variant_id)
                    .map(|v| v.option_values.clone())
                    .unwrap_or_default();
                let ctx = LineContext {
                    product_type: &l.product_type,
                    sku: &l.sku,
                    option_values: &values,
                };
                validator
                    .validate(&ctx, Some(&options))
                    .map_err(|e| Error::Invalid(personalisation::under_options(e)))?
            }
        };
        let mut v = Validation::new();
        validate_options(&mut v, &Some(options.clone()));
        v.finish().map_err(Error::Invalid)?;
        Ok(options)
    }
}

impl Orders {
    /// Records the print file made for one line of an order. Recording the
    /// same line again replaces the record (a re-render makes the same file).
    pub async fn record_artwork(
        &self,
        order: OrderId,
        line: OrderLineId,
        artwork: &NewArtwork,
    ) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        let known = store::order(&mut tx, order)
            .await?
            .ok_or(Error::OrderNotFound)?;
        if !known.lines.iter().any(|l| l.id == line) {
            return Err(Error::Internal(anyhow::anyhow!(
                "order {order} has no line {line}"
            )));
        }
        store::upsert_artwork(&mut tx, order, line, artwork, Timestamp::now()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Where a line's print file is, if `access` may read the order.
    ///
    /// Errors: [`Error::OrderNotFound`] (no such order, or not `access`'s),
    /// [`Error::ArtworkUnavailable`] (the order is cancelled or fully
    /// refunded and `access` is not an admin), [`Error::ArtworkNotFound`].
    pub async fn artwork(
        &self,
        order: OrderId,
        line: OrderLineId,
        access: &OrderAccess,
    ) -> Result<(Artwork, String)> {
        let o = self.get_order(order, access).await?;
        // What was paid back is not the buyer's to keep; the shop keeps
        // its files (reprints, disputes).
        if !matches!(access, OrderAccess::Admin)
            && matches!(o.status, OrderStatus::Cancelled | OrderStatus::Refunded)
        {
            return Err(Error::ArtworkUnavailable);
        }
        store::artwork_with_key(self.db.pool(), order, line)
            .await?
            .ok_or(Error::ArtworkNotFound)
    }
}

async fn publish_status(
    conn: &mut cielo_db::sqlx::AnyConnection,
    id: OrderId,
    from: Option<OrderStatus>,
    to: OrderStatus,
    cause: &str,
    refusal: Option<LabRefusal>,
) -> Result<()> {
    let event = OrderStatusChanged {
        order_id: id,
        from,
        to,
        cause: cause.to_string(),
        refusal,
    };
    events::publish(conn, &event.topic(), &event).await
}

impl Orders {
    /// Cancels orders still waiting for payment that were created before
    /// `cutoff`, and puts their stock back. Each order is its own transaction,
    /// so one failure does not hold the others. Returns how many were cancelled.
    ///
    /// A payment that arrives later for a cancelled order is never dropped: the
    /// transition table sends it to `needs_attention`.
    pub async fn expire_unpaid(&self, cutoff: Timestamp) -> Result<usize> {
        let ids = store::unpaid_before(self.db.pool(), cutoff).await?;
        let mut cancelled = 0;
        for id in ids {
            let mut tx = self.db.begin_write().await?;
            // Re-checked inside the transaction: a payment may have just landed.
            if store::order_status(&mut tx, id).await? != Some(OrderStatus::PendingPayment) {
                continue;
            }
            let order = store::order(&mut tx, id)
                .await?
                .ok_or(Error::OrderNotFound)?;
            let items: Vec<_> = order
                .lines
                .iter()
                .map(|l| (l.variant_id, l.quantity))
                .collect();
            self.catalog.return_stock(&mut tx, &items).await?;
            self.transition(
                &mut tx,
                id,
                OrderStatus::Cancelled,
                "expired: not paid in time",
            )
            .await?;
            tx.commit().await?;
            cancelled += 1;
        }
        Ok(cancelled)
    }

    /// Deletes open carts untouched since `cutoff`. Returns how many.
    pub async fn expire_stale_carts(&self, cutoff: Timestamp) -> Result<usize> {
        let mut tx = self.db.begin_write().await?;
        let n = store::delete_open_carts_before(&mut tx, cutoff).await?;
        tx.commit().await?;
        Ok(n)
    }
}

/// The cart `caller` may change: someone else's is "not found", a checked-out
/// one is a conflict.
async fn open_cart(
    conn: &mut cielo_db::sqlx::AnyConnection,
    id: CartId,
    caller: Option<CustomerId>,
) -> Result<store::CartRow> {
    let row = store::cart(&mut *conn, id)
        .await?
        .ok_or(Error::CartNotFound)?;
    check_owner(&row, caller)?;
    if row.status != CartStatus::Open {
        return Err(Error::CartCompleted);
    }
    Ok(row)
}

fn check_owner(row: &store::CartRow, caller: Option<CustomerId>) -> Result<()> {
    match row.customer_id {
        Some(owner) if Some(owner) != caller => Err(Error::CartNotFound),
        _ => Ok(()),
    }
}

fn check_stock(v: &cielo_catalog::SaleVariant, quantity: i64) -> Result<()> {
    match (v.stock, v.stock_policy) {
        (Some(stock), StockPolicy::Deny) if stock < quantity => Err(Error::OutOfStock(format!(
            "only {} of {} left",
            stock.max(0),
            v.sku
        ))),
        _ => Ok(()),
    }
}

/// Options as canonical JSON (object keys sorted), so equal options compare equal.
fn canonical_options(options: &Option<serde_json::Value>) -> String {
    fn sort(v: &serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(m) => {
                let sorted: std::collections::BTreeMap<_, _> =
                    m.iter().map(|(k, v)| (k.clone(), sort(v))).collect();
                serde_json::to_value(sorted).expect("maps serialise")
            }
            serde_json::Value::Array(a) => serde_json::Value::Array(a.iter().map(sort).collect()),
            other => other.clone(),
        }
    }
    match options {
        None => String::new(),
        Some(v) => sort(v).to_string(),
    }
}

mod subtle_eq {
    /// Constant-time equality, so token checks leak no timing.
    pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
        if a.len() != b.len() {
            return false;
        }
        a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_compare_by_content_not_key_order() {
        let a = Some(serde_json::json!({"b": 1, "a": {"y": 2, "x": 1}}));
        let b = Some(serde_json::json!({"a": {"x": 1, "y": 2}, "b": 1}));
        assert_eq!(canonical_options(&a), canonical_options(&b));
        assert_eq!(canonical_options(&None), "");
    }

    #[test]
    fn both_engines_list_the_same_migrations() {
        cielo_db::check_set(&MIGRATIONS).unwrap();
    }

    #[test]
    fn shipping_prefers_region_then_country_then_default() {
        let usd = cielo_core::Currency::parse("USD").unwrap();
        let p = Pricing {
            currency: usd,
            default_shipping: 1500,
            shipping_by_country: [("US".to_string(), 500), ("US-AK".to_string(), 2000)].into(),
            default_tax_bp: 0,
            tax_by_country: Default::default(),
            ships_to: default_ships_to(),
        };
        assert_eq!(p.shipping(usd, Some("US"), Some("ak")).amount, 2000);
        assert_eq!(p.shipping(usd, Some("US"), Some("CA")).amount, 500);
        assert_eq!(p.shipping(usd, Some("FR"), None).amount, 1500);
    }
}
