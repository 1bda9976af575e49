//! Cart and order types.

use crate::status::OrderStatus;
use cielo_accounts::CustomerId;
use cielo_catalog::{Delivery, ProductId, VariantId};
use cielo_core::{typed_id, Currency, Money, PostalAddress, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

typed_id!(CartId, "cart", "A shopping cart.");
typed_id!(CartLineId, "cli", "A line in a cart.");
typed_id!(OrderId, "ord", "An order.");
typed_id!(OrderLineId, "oli", "A line of an order.");
typed_id!(HistoryId, "ohi", "An entry in an order's status history.");
typed_id!(ShipmentId, "shp", "A parcel recorded on an order.");

/// Hex digits of an order id that make its number.
const NUMBER_DIGITS: usize = 8;

impl OrderId {
    /// The order's number for people, the one emails, pages and the admin
    /// show and the admin order search finds: `#` and the id's last 8 hex
    /// digits in capitals (`#3F3CBECF`). Derived from the id, never stored.
    pub fn number(&self) -> String {
        let id = self.to_string();
        format!("#{}", id[id.len() - NUMBER_DIGITS..].to_ascii_uppercase())
    }
}

/// Reads an order number as a person types it (`#3F3CBECF`, `3f3cbecf`, with
/// spaces around) into the lowercase id tail it stands for; a whole order id
/// (`ord_…`) gives its own tail. `None` when it is neither.
pub fn parse_order_number(s: &str) -> Option<String> {
    let s = s.trim();
    if let Ok(id) = OrderId::parse(s) {
        let id = id.to_string();
        return Some(id[id.len() - NUMBER_DIGITS..].to_string());
    }
    let digits = s.strip_prefix('#').unwrap_or(s).trim();
    (digits.len() == NUMBER_DIGITS && digits.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| digits.to_ascii_lowercase())
}

/// Largest quantity on one line.
pub const MAX_QUANTITY: i64 = 99;
/// Most lines in one cart.
pub const MAX_LINES: usize = 50;
/// Largest per-line options object, serialised.
pub const MAX_OPTIONS_BYTES: usize = 4096;

/// Totals of a cart or order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct Totals {
    /// Sum of line totals.
    pub subtotal: Money,
    /// Shipping charge.
    pub shipping: Money,
    /// Tax (modelled; zero unless configured).
    pub tax: Money,
    /// What the customer pays.
    pub total: Money,
}

/// Whether a cart can still change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CartStatus {
    /// Being filled.
    Open,
    /// Checked out into an order.
    Completed,
}

/// A cart, priced from the catalog at the moment it is read.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Cart {
    /// Id.
    pub id: CartId,
    /// Owner; `null` for a guest cart.
    pub customer_id: Option<CustomerId>,
    /// Currency every line must be priced in.
    pub currency: Currency,
    /// Open or completed.
    pub status: CartStatus,
    /// The order it became, once checked out.
    pub order_id: Option<OrderId>,
    /// Lines.
    pub lines: Vec<CartLine>,
    /// Totals; shipping is the default rate until checkout knows the country.
    pub totals: Totals,
    /// Created.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
}

/// A cart line.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CartLine {
    /// Id.
    pub id: CartLineId,
    /// What is bought.
    pub variant_id: VariantId,
    /// Its product.
    pub product_id: ProductId,
    /// Product title.
    pub product_title: String,
    /// Variant title.
    pub variant_title: String,
    /// SKU.
    pub sku: String,
    /// How many.
    pub quantity: i64,
    /// Current catalog price.
    pub unit_price: Money,
    /// `unit_price × quantity`.
    pub line_total: Money,
    /// Personalisation (e.g. a star map's place and date).
    pub options: Option<serde_json::Value>,
    /// False when the variant left the catalog; checkout then refuses.
    pub available: bool,
    /// `physical` (shipped) or `digital` (downloaded: needs no shipping
    /// address and adds no shipping).
    pub delivery: Delivery,
}

/// A new cart.
#[derive(Debug, Clone, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct NewCart {
    /// Currency; the shop's currency when absent.
    #[schema(value_type = Option<String>, example = "USD")]
    pub currency: Option<Currency>,
}

/// A line to add.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLine {
    /// The variant to buy.
    pub variant_id: VariantId,
    /// How many (1–100).
    pub quantity: i64,
    /// Per-line options for personalised products (a JSON object, at most 4 KiB).
    #[serde(default)]
    pub options: Option<serde_json::Value>,
}

/// A change to a line.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinePatch {
    /// New quantity, 1 to [`MAX_QUANTITY`] (99): 0 or more than 99 is a 422 at
    /// `quantity`, never cut down silently (remove a line with `DELETE`). The
    /// pages say the same number ("at most 99 of one item").
    pub quantity: i64,
}

/// What the buyer sends to check out.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutInput {
    /// Where receipts go; the account's email when signed in and absent.
    #[serde(default)]
    pub email: Option<String>,
    /// Where to ship. Required when the cart has a physical line; a cart of
    /// digital downloads only needs none (when given, its country sets the tax).
    #[serde(default)]
    pub shipping_address: Option<PostalAddress>,
    /// Language of the shop's messages about this order (`en`, `es`, …);
    /// when absent the storefront's `Accept-Language` decides.
    #[serde(default)]
    pub language: Option<String>,
    /// A mobile number in E.164 (`+34600123456`), for SMS about the order.
    #[serde(default)]
    pub phone: Option<String>,
    /// The buyer agrees to SMS about this order (needs `phone`).
    #[serde(default)]
    pub sms_opt_in: bool,
}

/// The answer to a checkout.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CheckoutResult {
    /// The new order.
    #[schema(value_type = String, example = "ord_0193a0b2c3d47e8f9a0b1c2d3e4f5a6b")]
    pub order_id: String,
    /// The number people quote (`#3F3CBECF`), as emails and pages show it.
    /// (Answers stored for an Idempotency-Key before it existed replay
    /// without it.)
    #[schema(example = "#3F3CBECF")]
    #[serde(default)]
    pub number: String,
    /// Its status (`pending_payment`).
    pub status: OrderStatus,
    /// Where to send the buyer to pay.
    pub payment_url: String,
    /// Lets a guest read the order: pass as `X-Order-Token` or `?token=`.
    pub access_token: String,
    /// What will be charged.
    pub total: cielo_core::Money,
}

/// An order: a snapshot of what was bought.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Order {
    /// Id.
    pub id: OrderId,
    /// The number people quote (`#3F3CBECF`): what emails and pages show,
    /// and what the admin order list's `number` filter finds.
    #[schema(example = "#3F3CBECF")]
    pub number: String,
    /// Buyer's account; `null` for a guest.
    pub customer_id: Option<CustomerId>,
    /// Buyer's email.
    pub email: String,
    /// Status.
    pub status: OrderStatus,
    /// Lines as bought.
    pub lines: Vec<OrderLine>,
    /// Totals as charged.
    pub totals: Totals,
    /// Shipping address; `null` for an order of digital downloads bought
    /// without one.
    pub shipping_address: Option<PostalAddress>,
    /// Payment details.
    pub payment: PaymentInfo,
    /// Status history, oldest first.
    pub history: Vec<HistoryEntry>,
    /// Parcels sent, oldest first (several for split parcels or reshipments).
    pub shipments: Vec<Shipment>,
    /// Language of the shop's messages about it, as given at checkout.
    pub language: Option<String>,
    /// Buyer's mobile number (E.164), if given.
    pub phone: Option<String>,
    /// The buyer agreed to SMS about this order.
    pub sms_opt_in: bool,
    /// Created.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
}

/// Payment details of an order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PaymentInfo {
    /// Provider name.
    pub provider: Option<String>,
    /// Provider's session id.
    pub session_id: Option<String>,
    /// Where to pay, while unpaid.
    pub url: Option<String>,
    /// When the payment page expires.
    pub expires_at: Option<Timestamp>,
}

/// An order line.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderLine {
    /// Id.
    pub id: OrderLineId,
    /// Variant bought.
    pub variant_id: VariantId,
    /// Its product.
    pub product_id: ProductId,
    /// Product title at checkout.
    pub product_title: String,
    /// Variant title at checkout.
    pub variant_title: String,
    /// SKU at checkout.
    pub sku: String,
    /// Product type at checkout.
    pub product_type: String,
    /// The print lab's product id at checkout.
    pub lab_product_id: Option<String>,
    /// The print lab making this line, as at checkout (`local`, `printful`,
    /// `prodigi`); `null` when the shop ships it itself or it is a digital
    /// download.
    pub lab: Option<String>,
    /// `physical` (shipped) or `digital` (the buyer downloads the print
    /// files), as at checkout.
    pub delivery: Delivery,
    /// Unit price charged.
    pub unit_price: Money,
    /// Quantity.
    pub quantity: i64,
    /// Line total charged.
    pub line_total: Money,
    /// Personalisation.
    pub options: Option<serde_json::Value>,
    /// The print file made for this line, once rendered.
    pub artwork: Option<Artwork>,
}

/// A print file made for an order line.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Artwork {
    /// SHA-256 of the file, hex.
    pub sha256: String,
    /// Width in pixels.
    pub width_px: i64,
    /// Height in pixels.
    pub height_px: i64,
    /// `png`, `pdf` or `svg`.
    pub format: String,
    /// When it was made.
    pub created_at: Timestamp,
}

/// A print file to record.
#[derive(Debug, Clone)]
pub struct NewArtwork {
    /// Object-storage key.
    pub object_key: String,
    /// SHA-256, hex.
    pub sha256: String,
    /// Width in pixels.
    pub width_px: i64,
    /// Height in pixels.
    pub height_px: i64,
    /// `png`, `pdf` or `svg`.
    pub format: String,
}

/// A parcel handed to a carrier: by a print lab, or by the shop itself.
///
/// Shipments are merged, never overwritten: one with a known
/// `(shipped_by, lab_shipment_id)` or `(carrier, tracking_number)` is the
/// same shipment, and a late or repeated report of it changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Shipment {
    /// Carrier name as the lab or the shop gave it (`USPS`, `DHL`…).
    pub carrier: String,
    /// Carrier service (`Ground`, `Express`…), when known.
    pub service: Option<String>,
    /// Tracking number.
    pub tracking_number: String,
    /// Tracking page, when known.
    pub tracking_url: Option<String>,
    /// When it left.
    pub shipped_at: Timestamp,
    /// The order lines in this parcel.
    pub line_ids: Vec<OrderLineId>,
    /// Who shipped it: `local`, `printful`, `prodigi`, or `shop` (marked by hand).
    pub shipped_by: String,
    /// The lab's own id of the shipment, when it has one.
    pub lab_shipment_id: Option<String>,
}

/// One status change.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HistoryEntry {
    /// Previous status; `null` at creation.
    pub from: Option<OrderStatus>,
    /// New status.
    pub to: OrderStatus,
    /// Why: `checkout`, an event id, a job id, `admin:<id>`.
    pub cause: String,
    /// When.
    pub at: Timestamp,
}

/// A short order, for listings.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderSummary {
    /// Id.
    pub id: OrderId,
    /// The number people quote (`#3F3CBECF`).
    #[schema(example = "#3F3CBECF")]
    pub number: String,
    /// Buyer's email.
    pub email: String,
    /// Status.
    pub status: OrderStatus,
    /// Total charged.
    pub total: Money,
    /// Number of items.
    pub item_count: i64,
    /// Created.
    pub created_at: Timestamp,
}

/// A page of orders.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderPage {
    /// Orders, newest first.
    pub orders: Vec<OrderSummary>,
    /// Cursor for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// Filters for the admin order list.
#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    /// Only this status.
    pub status: Option<OrderStatus>,
    /// Created at or after.
    pub from: Option<Timestamp>,
    /// Created before.
    pub to: Option<Timestamp>,
    /// Buyer's email (exact, case-insensitive).
    pub email: Option<String>,
    /// The order whose number this is: the lowercase id tail from
    /// [`parse_order_number`].
    pub number: Option<String>,
    /// Only this customer's.
    pub customer_id: Option<CustomerId>,
    /// Only orders with a line made by this print lab (`local`, `printful`,
    /// `prodigi`), with a physical line the shop ships itself (`none`), or
    /// with a digital download (`digital`).
    pub lab: Option<String>,
    /// Page size (1–100, default 20).
    pub limit: Option<i64>,
    /// Cursor from the previous page.
    pub cursor: Option<String>,
}

/// Flat shipping rates and tax rates, in the shop's currency.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Pricing {
    /// The shop's currency, used for new carts.
    pub currency: Currency,
    /// Shipping for countries not listed, in minor units.
    pub default_shipping: i64,
    /// Shipping by ISO country code (or `US-CA`-style region), in minor units.
    pub shipping_by_country: BTreeMap<String, i64>,
    /// Tax in basis points for countries not listed (0 = none).
    pub default_tax_bp: u32,
    /// Tax by country, in basis points.
    pub tax_by_country: BTreeMap<String, u32>,
    /// The countries the shop ships to (ISO 3166-1 alpha-2, upper case): a
    /// checkout or an address change to any other country is refused.
    #[serde(default = "default_ships_to")]
    pub ships_to: Vec<String>,
}

/// The countries a shop ships to unless `shipping.countries` says otherwise.
pub const DEFAULT_SHIPS_TO: &[&str] = &[
    "US", "CA", "MX", "ES", "AR", "CL", "CO", "PE", "BR", "GB", "IE", "FR", "DE", "IT", "PT", "NL",
    "AU", "NZ", "JP",
];

/// [`DEFAULT_SHIPS_TO`] as owned strings.
pub fn default_ships_to() -> Vec<String> {
    DEFAULT_SHIPS_TO.iter().map(|c| c.to_string()).collect()
}

impl Pricing {
    /// Whether the shop ships to `country` (an ISO 3166-1 alpha-2 code, any case).
    pub fn ships_to(&self, country: &str) -> bool {
        let country = country.trim();
        self.ships_to
            .iter()
            .any(|c| c.eq_ignore_ascii_case(country))
    }

    /// Adds a field error at `{prefix}country` when the shop does not ship to
    /// `country` (an unknown code has its own error from the address).
    pub(crate) fn check_ships_to(
        &self,
        v: &mut cielo_core::Validation,
        prefix: &str,
        country: &str,
    ) {
        cielo_core::address::check_ships_to(
            v,
            &format!("{prefix}country"),
            country,
            &self.ships_to,
        );
    }

    /// Shipping to `country` (and optional `region`), in `currency`.
    pub fn shipping(
        &self,
        currency: Currency,
        country: Option<&str>,
        region: Option<&str>,
    ) -> Money {
        let by_region = match (country, region) {
            (Some(c), Some(r)) => self
                .shipping_by_country
                .get(&format!("{c}-{}", r.to_ascii_uppercase())),
            _ => None,
        };
        let amount = by_region
            .or_else(|| country.and_then(|c| self.shipping_by_country.get(c)))
            .copied()
            .unwrap_or(self.default_shipping);
        Money::new(amount, currency)
    }

    /// Tax rate for `country`, in basis points.
    pub fn tax_bp(&self, country: Option<&str>) -> u32 {
        country
            .and_then(|c| self.tax_by_country.get(c))
            .copied()
            .unwrap_or(self.default_tax_bp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_number_is_read_however_a_person_types_it() {
        let id = OrderId::parse("ord_0193a0b2c3d47e8f9a0b1c2d3f3cbecf").unwrap();
        assert_eq!(id.number(), "#3F3CBECF");
        for typed in [
            "#3F3CBECF",
            "3f3cbecf",
            " #3f3CBecf ",
            "# 3F3CBECF",
            &id.to_string(),
        ] {
            assert_eq!(
                parse_order_number(typed).as_deref(),
                Some("3f3cbecf"),
                "{typed}"
            );
        }
        for bad in ["", "#", "3F3CBEC", "3F3CBECF0", "#ZZZZZZZZ", "ord_123"] {
            assert_eq!(parse_order_number(bad), None, "{bad}");
        }
    }
}
