//! Catalog types: what the store and admin APIs read and write.

use cielo_core::{typed_id, FieldError, Money, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

typed_id!(ProductId, "prod", "A product.");
typed_id!(
    VariantId,
    "var",
    "A variant of a product: the thing a cart line buys."
);
typed_id!(CategoryId, "cat", "A product category.");
typed_id!(ImageId, "img", "A product image.");

/// Whether customers can see a product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProductStatus {
    /// Only admins see it.
    Draft,
    /// Listed in the store.
    Published,
}

impl ProductStatus {
    pub(crate) fn as_str(&self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Published => "published",
        }
    }
    pub(crate) fn parse(s: &str) -> Self {
        if s == "published" {
            Self::Published
        } else {
            Self::Draft
        }
    }
}

/// What happens when a variant with tracked stock runs out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum StockPolicy {
    /// Refuse to sell more than is in stock.
    #[default]
    Deny,
    /// Keep selling (made to order); stock may go negative.
    Continue,
}

impl StockPolicy {
    pub(crate) fn as_str(&self) -> &'static str {
        match self {
            Self::Deny => "deny",
            Self::Continue => "continue",
        }
    }
    pub(crate) fn parse(s: &str) -> Self {
        if s == "continue" {
            Self::Continue
        } else {
            Self::Deny
        }
    }
}

/// How a variant reaches its buyer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// Goods in a parcel: made by its print lab, or shipped by the shop.
    #[default]
    Physical,
    /// A digital download: the buyer gets the print files (PNG and PDF) of
    /// a personalised product through signed links. No lab, no parcel, no
    /// shipping address.
    Digital,
}

impl Delivery {
    /// The database and wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Physical => "physical",
            Self::Digital => "digital",
        }
    }
    /// Parses the database and wire name (anything unknown is physical, the
    /// column's default).
    pub fn parse(s: &str) -> Self {
        if s == "digital" {
            Self::Digital
        } else {
            Self::Physical
        }
    }
    /// True for a digital download.
    pub fn is_digital(&self) -> bool {
        *self == Self::Digital
    }
}

/// A product with its variants, images and categories.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Product {
    /// Id.
    pub id: ProductId,
    /// Unique URL-friendly name.
    pub handle: String,
    /// Title.
    pub title: String,
    /// Description (plain text or Markdown).
    pub description: String,
    /// Draft or published.
    pub status: ProductStatus,
    /// Free-form type, e.g. `starmap_poster`, `apparel`, `print`.
    pub product_type: String,
    /// Names of the options variants differ by, e.g. `["size", "colour"]`.
    pub option_names: Vec<String>,
    /// Variants, by position.
    pub variants: Vec<Variant>,
    /// Images, by position.
    pub images: Vec<Image>,
    /// Categories the product is in.
    pub category_ids: Vec<CategoryId>,
    /// Cheapest variant's price, when it has variants.
    pub price_from: Option<Money>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

/// A purchasable variant.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Variant {
    /// Id.
    pub id: VariantId,
    /// Owning product.
    pub product_id: ProductId,
    /// Unique stock-keeping unit.
    pub sku: String,
    /// Title, e.g. `A2 / Matte`.
    pub title: String,
    /// Option values keyed by the product's option names.
    pub option_values: BTreeMap<String, String>,
    /// Price.
    pub price: Money,
    /// Units in stock; `null` when stock is not tracked.
    pub stock: Option<i64>,
    /// What happens when stock runs out.
    pub stock_policy: StockPolicy,
    /// The print lab's product or variant id, for fulfilment.
    pub lab_product_id: Option<String>,
    /// The print lab that makes it: `local`, `printful`, `prodigi`; `null`
    /// when the shop ships it itself or it is a digital download.
    pub lab: Option<String>,
    /// `physical` (shipped) or `digital` (the buyer downloads the print files).
    pub delivery: Delivery,
    /// Sort position.
    pub position: i64,
}

/// A category; categories nest through `parent_id`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Category {
    /// Id.
    pub id: CategoryId,
    /// Parent category, if nested.
    pub parent_id: Option<CategoryId>,
    /// Unique URL-friendly name.
    pub handle: String,
    /// Display name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Sort position among siblings.
    pub position: i64,
}

/// A product image in object storage.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Image {
    /// Id.
    pub id: ImageId,
    /// Object-storage key.
    pub object_key: String,
    /// Public URL.
    pub url: String,
    /// Alternative text.
    pub alt: String,
    /// Sort position.
    pub position: i64,
}

/// A page of products.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProductPage {
    /// The products.
    pub products: Vec<Product>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// How to order a product listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum ProductSort {
    /// Most recently created first.
    #[default]
    Newest,
    /// Cheapest first.
    PriceAsc,
    /// Dearest first.
    PriceDesc,
}

/// A product listing query.
#[derive(Debug, Clone, Default)]
pub struct ProductQuery {
    /// Page size, 1 to 100.
    pub limit: Option<i64>,
    /// Opaque cursor from the previous page.
    pub cursor: Option<String>,
    /// Category id or handle; products in its subcategories are included.
    pub category: Option<String>,
    /// Text to find in titles (case-insensitive).
    pub q: Option<String>,
    /// Order.
    pub sort: ProductSort,
    /// Include drafts (admin only).
    pub include_drafts: bool,
}

/// Default and largest page sizes.
pub const DEFAULT_LIMIT: i64 = 20;
/// Largest page size.
pub const MAX_LIMIT: i64 = 100;

/// A new product, with optional inline variants.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProduct {
    /// Title (1–200 characters).
    pub title: String,
    /// Unique handle (lowercase letters, digits, dashes); derived from the title when absent.
    pub handle: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Status; draft by default.
    #[serde(default = "default_status")]
    pub status: ProductStatus,
    /// Free-form product type.
    #[serde(default)]
    pub product_type: String,
    /// Option names.
    #[serde(default)]
    pub option_names: Vec<String>,
    /// Categories.
    #[serde(default)]
    pub category_ids: Vec<CategoryId>,
    /// Variants to create with the product.
    #[serde(default)]
    pub variants: Vec<NewVariant>,
}

fn default_status() -> ProductStatus {
    ProductStatus::Draft
}

/// Changes to a product; absent fields stay as they are.
#[derive(Debug, Clone, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ProductPatch {
    /// New title.
    pub title: Option<String>,
    /// New handle.
    pub handle: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New status.
    pub status: Option<ProductStatus>,
    /// New product type.
    pub product_type: Option<String>,
    /// New option names.
    pub option_names: Option<Vec<String>>,
    /// New set of categories.
    pub category_ids: Option<Vec<CategoryId>>,
}

/// A new variant.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewVariant {
    /// Unique SKU (1–64 characters: letters, digits, `-`, `_`, `.`).
    pub sku: String,
    /// Title; derived from the option values when absent.
    pub title: Option<String>,
    /// Option values keyed by the product's option names.
    #[serde(default)]
    pub option_values: BTreeMap<String, String>,
    /// Price (non-negative).
    pub price: Money,
    /// Units in stock; omit to not track stock.
    pub stock: Option<i64>,
    /// Policy when stock runs out.
    #[serde(default)]
    pub stock_policy: StockPolicy,
    /// The print lab's product id.
    pub lab_product_id: Option<String>,
    /// The print lab (`local`, `printful`, `prodigi`); omit or `null` when
    /// the shop ships it itself.
    #[serde(default)]
    pub lab: Option<String>,
    /// `physical` (default) or `digital`: a digital download has no lab.
    #[serde(default)]
    pub delivery: Delivery,
    /// Sort position.
    #[serde(default)]
    pub position: i64,
}

/// Changes to a variant.
#[derive(Debug, Clone, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct VariantPatch {
    /// New SKU.
    pub sku: Option<String>,
    /// New title.
    pub title: Option<String>,
    /// New option values.
    pub option_values: Option<BTreeMap<String, String>>,
    /// New price.
    pub price: Option<Money>,
    /// New stock; `null` stops tracking. Absent leaves it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub stock: Option<Option<i64>>,
    /// New policy.
    pub stock_policy: Option<StockPolicy>,
    /// New lab product id; `null` clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub lab_product_id: Option<Option<String>>,
    /// New print lab (`local`, `printful`, `prodigi`); `null`: the shop ships it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub lab: Option<Option<String>>,
    /// New delivery (`physical` or `digital`; a digital download has no lab).
    pub delivery: Option<Delivery>,
    /// New position.
    pub position: Option<i64>,
}

fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// A new category.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCategory {
    /// Display name.
    pub name: String,
    /// Unique handle; derived from the name when absent.
    pub handle: Option<String>,
    /// Parent category.
    pub parent_id: Option<CategoryId>,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Sort position.
    #[serde(default)]
    pub position: i64,
}

/// Changes to a category.
#[derive(Debug, Clone, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct CategoryPatch {
    /// New name.
    pub name: Option<String>,
    /// New handle.
    pub handle: Option<String>,
    /// New parent; `null` makes it top-level.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<CategoryId>)]
    pub parent_id: Option<Option<CategoryId>>,
    /// New description.
    pub description: Option<String>,
    /// New position.
    pub position: Option<i64>,
}

/// An image to attach, already uploaded to object storage.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NewImage {
    /// Object-storage key the upload went to.
    pub object_key: String,
    /// Public URL of the object (filled in by the edge).
    #[serde(skip)]
    pub url: String,
    /// Alternative text.
    #[serde(default)]
    pub alt: String,
    /// Sort position.
    #[serde(default)]
    pub position: i64,
}

/// What checkout needs to know about a variant, read at the server so prices
/// never come from the client.
#[derive(Debug, Clone)]
pub struct SaleVariant {
    /// Variant.
    pub id: VariantId,
    /// Its product.
    pub product_id: ProductId,
    /// Product title.
    pub product_title: String,
    /// Product type (personalised products are validated by type).
    pub product_type: String,
    /// Variant title.
    pub title: String,
    /// SKU.
    pub sku: String,
    /// Option values, e.g. `{"size": "A3"}` (personalised products check them).
    pub option_values: BTreeMap<String, String>,
    /// Current price.
    pub price: Money,
    /// Stock, when tracked.
    pub stock: Option<i64>,
    /// Policy.
    pub stock_policy: StockPolicy,
    /// Lab product id.
    pub lab_product_id: Option<String>,
    /// Print lab; `None`: the shop ships it (or it is a digital download).
    pub lab: Option<String>,
    /// Shipped, or downloaded.
    pub delivery: Delivery,
    /// Whether the product is published.
    pub published: bool,
}

/// The print labs a variant can name in `lab`.
pub const LABS: [&str; 3] = ["local", "printful", "prodigi"];

pub(crate) fn validate_lab(
    v: &mut cielo_core::error::Validation,
    field: &str,
    lab: &Option<String>,
) {
    if let Some(l) = lab {
        if !LABS.contains(&l.as_str()) {
            v.add(
                field,
                "must be one of `local`, `printful`, `prodigi`, or null",
            );
        }
    }
}

/// A digital download is never made by a lab: `lab` must be null.
pub(crate) fn validate_delivery(
    v: &mut cielo_core::error::Validation,
    field: &str,
    delivery: Delivery,
    lab: &Option<String>,
) {
    if delivery.is_digital() && lab.is_some() {
        v.add(
            field,
            "must be null for a digital download (`delivery: \"digital\"`): no lab makes it",
        );
    }
}

pub(crate) fn validate_handle(handle: &str) -> Result<(), String> {
    let ok = !handle.is_empty()
        && handle.len() <= 100
        && handle
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !handle.starts_with('-')
        && !handle.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(
            "must be 1–100 lowercase letters, digits or dashes, not starting or ending with a dash"
                .into(),
        )
    }
}

/// Turns a title into a handle: `Star Map — Año Nuevo` → `star-map-ano-nuevo`.
pub fn slugify(title: &str) -> String {
    let mut out = String::new();
    let mut dash = false;
    for c in title.chars() {
        let c = fold_accent(c);
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
            dash = false;
        } else if !dash && !out.is_empty() {
            out.push('-');
            dash = true;
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out.truncate(100);
    out.trim_end_matches('-').to_string()
}

/// The form of a title that product search compares: lower case without
/// accents (`Noche Estrellada Póster` → `noche estrellada poster`), so buyers
/// who type without accents find accented titles, on SQLite and PostgreSQL
/// alike (the folding happens here, not in either database's collation).
pub fn search_fold(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    s.nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

fn fold_accent(c: char) -> char {
    match c {
        'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' | 'Á' | 'À' | 'Â' | 'Ä' | 'Ã' | 'Å' => 'a',
        'é' | 'è' | 'ê' | 'ë' | 'É' | 'È' | 'Ê' | 'Ë' => 'e',
        'í' | 'ì' | 'î' | 'ï' | 'Í' | 'Ì' | 'Î' | 'Ï' => 'i',
        'ó' | 'ò' | 'ô' | 'ö' | 'õ' | 'Ó' | 'Ò' | 'Ô' | 'Ö' | 'Õ' => 'o',
        'ú' | 'ù' | 'û' | 'ü' | 'Ú' | 'Ù' | 'Û' | 'Ü' => 'u',
        'ñ' | 'Ñ' => 'n',
        'ç' | 'Ç' => 'c',
        _ => c,
    }
}

pub(crate) fn validate_text(
    v: &mut cielo_core::error::Validation,
    field: &str,
    value: &str,
    min: usize,
    max: usize,
) {
    let n = value.trim().chars().count();
    if n < min || value.chars().count() > max {
        if min > 0 && n == 0 {
            v.add(field, "must not be empty");
        } else {
            v.add(field, format!("must be {min}–{max} characters"));
        }
    }
}

pub(crate) fn validate_sku(sku: &str) -> Result<(), String> {
    let ok = !sku.is_empty()
        && sku.len() <= 64
        && sku
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err("must be 1–64 letters, digits, `-`, `_` or `.`".into())
    }
}

pub(crate) fn validate_price(v: &mut cielo_core::error::Validation, field: &str, price: &Money) {
    if price.amount < 0 {
        v.add(field, "must not be negative");
    } else if price.amount > 10_000_000_000 {
        // 10^10 minor units: 100 million in a two-decimal currency.
        v.add(field, "is absurdly large");
    }
}

/// Collapses field errors from a validation into one error.
pub(crate) fn finish(v: cielo_core::error::Validation) -> Result<(), crate::Error> {
    v.finish().map_err(crate::Error::Invalid)
}

pub(crate) fn field(field: &str, detail: &str) -> crate::Error {
    crate::Error::Invalid(vec![FieldError::new(field, detail)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_slugify_to_handles() {
        assert_eq!(slugify("Star Map — Año Nuevo!"), "star-map-ano-nuevo");
        assert_eq!(slugify("  Tee  "), "tee");
        assert!(validate_handle(&slugify("Crème Brûlée Poster")).is_ok());
    }

    #[test]
    fn a_digital_download_names_no_lab() {
        let check = |d, lab: Option<&str>| {
            let mut v = cielo_core::error::Validation::new();
            validate_delivery(&mut v, "lab", d, &lab.map(str::to_string));
            v.finish().is_ok()
        };
        assert!(check(Delivery::Digital, None));
        assert!(!check(Delivery::Digital, Some("local")));
        assert!(check(Delivery::Physical, Some("local")));
        assert!(check(Delivery::Physical, None));
        assert_eq!(Delivery::parse("digital"), Delivery::Digital);
        assert_eq!(
            Delivery::parse(Delivery::Physical.as_str()),
            Delivery::Physical
        );
        assert_eq!(Delivery::default(), Delivery::Physical);
    }

    #[test]
    fn handles_and_skus_are_checked() {
        assert!(validate_handle("good-handle-2").is_ok());
        assert!(validate_handle("Bad Handle").is_err());
        assert!(validate_handle("-x").is_err());
        assert!(validate_sku("TEE-BLK-M").is_ok());
        assert!(validate_sku("no spaces").is_err());
    }
}
