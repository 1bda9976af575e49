//! The catalog of a Cielo shop: products, variants, nested categories and
//! images. The store API reads published products; the admin API writes.
//! Orders read prices and reserve stock through [`Catalog::variants_for_sale`]
//! and [`Catalog::reserve_stock`], inside the order's own transaction.
#![warn(missing_docs)]

mod model;
mod store;

pub use model::*;

use cielo_core::{error::Validation, ErrorKind, FieldError, HasErrorKind, Timestamp};
use cielo_db::{Db, MigrationSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The catalog's migrations.
pub const MIGRATIONS: MigrationSet = MigrationSet {
    domain: "catalog",
    migrations: &[
        cielo_db::migration!(20261121000100, "catalog"),
        cielo_db::migration!(20261129000100, "variant_lab"),
        cielo_db::migration!(20261129150000, "variant_delivery"),
    ],
};

/// Catalog errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input broke a rule; each field says which.
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    /// No such product.
    #[error("product not found")]
    ProductNotFound,
    /// No such variant.
    #[error("variant not found")]
    VariantNotFound,
    /// No such category.
    #[error("category not found")]
    CategoryNotFound,
    /// No such image.
    #[error("image not found")]
    ImageNotFound,
    /// The handle is taken.
    #[error("handle `{0}` is already used")]
    DuplicateHandle(String),
    /// The SKU is taken.
    #[error("SKU `{0}` is already used")]
    DuplicateSku(String),
    /// Not enough stock to sell.
    #[error("only {available} of variant {variant} in stock")]
    OutOfStock {
        /// The variant.
        variant: VariantId,
        /// How many are left.
        available: i64,
    },
    /// Unexpected failure.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<cielo_db::sqlx::Error> for Error {
    fn from(e: cielo_db::sqlx::Error) -> Self {
        Error::Internal(anyhow::Error::new(e).context("catalog query"))
    }
}
impl From<cielo_db::Error> for Error {
    fn from(e: cielo_db::Error) -> Self {
        Error::Internal(anyhow::Error::new(e).context("catalog database"))
    }
}

impl HasErrorKind for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Error::Invalid(_) => ErrorKind::Invalid,
            Error::ProductNotFound
            | Error::VariantNotFound
            | Error::CategoryNotFound
            | Error::ImageNotFound => ErrorKind::NotFound,
            Error::DuplicateHandle(_) | Error::DuplicateSku(_) | Error::OutOfStock { .. } => {
                ErrorKind::Conflict
            }
            Error::Internal(_) => ErrorKind::Internal,
        }
    }
    fn code(&self) -> &'static str {
        match self {
            Error::Invalid(_) => "validation-failed",
            Error::ProductNotFound => "product-not-found",
            Error::VariantNotFound => "variant-not-found",
            Error::CategoryNotFound => "category-not-found",
            Error::ImageNotFound => "image-not-found",
            Error::DuplicateHandle(_) => "duplicate-handle",
            Error::DuplicateSku(_) => "duplicate-sku",
            Error::OutOfStock { .. } => "out-of-stock",
            Error::Internal(_) => "internal",
        }
    }
    fn field_errors(&self) -> Vec<FieldError> {
        match self {
            Error::Invalid(errors) => errors.clone(),
            Error::DuplicateHandle(_) => vec![FieldError::new("handle", self.to_string())],
            Error::DuplicateSku(_) => vec![FieldError::new("sku", self.to_string())],
            _ => Vec::new(),
        }
    }
}

/// Result of catalog operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The catalog service.
#[derive(Clone)]
pub struct Catalog {
    db: Db,
    /// Bumped on every write, so readers can cache listings and notice change.
    generation: Arc<AtomicU64>,
    /// Product types whose print files Cielo makes: the only ones a digital
    /// download can be of (anything else would have nothing to download).
    downloadable: Arc<std::collections::BTreeSet<String>>,
}

impl Catalog {
    /// A catalog over `db`, with no product type sold as a download.
    pub fn new(db: Db) -> Self {
        Self {
            db,
            generation: Arc::new(AtomicU64::new(1)),
            downloadable: Arc::default(),
        }
    }

    /// The product types whose print files Cielo makes (the star-map
    /// poster's): variants of other products cannot be digital downloads (422
    /// at `delivery`).
    pub fn with_downloadable_types<S: Into<String>>(
        mut self,
        types: impl IntoIterator<Item = S>,
    ) -> Self {
        self.downloadable = Arc::new(types.into_iter().map(Into::into).collect());
        self
    }

    /// Refuses a digital variant of a product Cielo makes no files for.
    fn check_downloadable(
        &self,
        v: &mut Validation,
        field: &str,
        delivery: model::Delivery,
        product_type: &str,
    ) {
        if delivery.is_digital() && !self.downloadable.contains(product_type) {
            let kinds: Vec<&str> = self.downloadable.iter().map(String::as_str).collect();
            v.add(
                field,
                format!(
                    "a digital download is the print files Cielo makes, and it makes none for products of type `{product_type}` (downloadable types: {})",
                    if kinds.is_empty() { "none".to_string() } else { kinds.join(", ") }
                ),
            );
        }
    }

    /// Changes every time this process writes to the catalog.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn changed(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Lists products, newest or by price, a page at a time.
    #[tracing::instrument(skip_all)]
    pub async fn list_products(&self, query: &ProductQuery) -> Result<ProductPage> {
        let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(Error::Invalid(vec![FieldError::new(
                "limit",
                format!("must be between 1 and {MAX_LIMIT}"),
            )]));
        }
        let cursor = match &query.cursor {
            Some(c) => Some(
                store::Cursor::decode(c)
                    .ok_or_else(|| model::field("cursor", "is not a cursor this API gave out"))?,
            ),
            None => None,
        };
        let categories = match &query.category {
            Some(c) => {
                let all = store::all_categories(self.db.pool()).await?;
                let root = all
                    .iter()
                    .find(|k| k.id.to_string() == *c || k.handle == *c)
                    .ok_or_else(|| model::field("category", "no such category"))?;
                Some(descendants(&all, root.id))
            }
            None => None,
        };
        store::list_products(&self.db, query, limit, cursor, categories.as_deref()).await
    }

    /// One product by id (`prod_…`) or handle.
    pub async fn get_product(&self, id_or_handle: &str, include_drafts: bool) -> Result<Product> {
        let product = store::find_product(self.db.pool(), id_or_handle)
            .await?
            .ok_or(Error::ProductNotFound)?;
        if !include_drafts && product.status != ProductStatus::Published {
            return Err(Error::ProductNotFound);
        }
        Ok(product)
    }

    /// Every category (a shop has tens, not thousands), by position.
    pub async fn list_categories(&self) -> Result<Vec<Category>> {
        store::all_categories(self.db.pool()).await
    }

    /// One category.
    pub async fn get_category(&self, id: CategoryId) -> Result<Category> {
        store::all_categories(self.db.pool())
            .await?
            .into_iter()
            .find(|c| c.id == id)
            .ok_or(Error::CategoryNotFound)
    }

    /// Creates a product and its inline variants, all or nothing.
    #[tracing::instrument(skip_all)]
    pub async fn create_product(&self, input: NewProduct) -> Result<Product> {
        let mut v = Validation::new();
        model::validate_text(&mut v, "title", &input.title, 1, 200);
        let handle = input
            .handle
            .clone()
            .unwrap_or_else(|| slugify(&input.title));
        // A handle derived from an empty title is not a second mistake to report.
        if input.handle.is_some() || !input.title.trim().is_empty() {
            v.check("handle", model::validate_handle(&handle));
        }
        model::validate_text(&mut v, "description", &input.description, 0, 20_000);
        model::validate_text(&mut v, "product_type", &input.product_type, 0, 64);
        validate_option_names(&mut v, &input.option_names);
        for (i, variant) in input.variants.iter().enumerate() {
            validate_new_variant(
                &mut v,
                &format!("variants/{i}/"),
                variant,
                &input.option_names,
            );
            self.check_downloadable(
                &mut v,
                &format!("variants/{i}/delivery"),
                variant.delivery,
                &input.product_type,
            );
        }
        let mut seen = std::collections::HashSet::new();
        for (i, variant) in input.variants.iter().enumerate() {
            if !seen.insert(variant.sku.as_str()) {
                v.add(
                    &format!("variants/{i}/sku"),
                    "repeats another variant's SKU",
                );
            }
        }
        model::finish(v)?;
        let mut tx = self.db.begin_write().await?;
        let categories = store::all_categories(&mut **tx).await?;
        check_categories(&categories, &input.category_ids)?;
        let id = ProductId::new();
        let now = Timestamp::now();
        store::insert_product(&mut tx, id, &handle, &input, now).await?;
        for variant in &input.variants {
            store::insert_variant(&mut tx, id, VariantId::new(), variant, now).await?;
        }
        store::refresh_min_price(&mut tx, id).await?;
        tx.commit().await?;
        self.changed();
        self.get_product(&id.to_string(), true).await
    }

    /// Updates a product's fields.
    pub async fn update_product(&self, id: ProductId, patch: ProductPatch) -> Result<Product> {
        let mut v = Validation::new();
        if let Some(t) = &patch.title {
            model::validate_text(&mut v, "title", t, 1, 200);
        }
        if let Some(h) = &patch.handle {
            v.check("handle", model::validate_handle(h));
        }
        if let Some(d) = &patch.description {
            model::validate_text(&mut v, "description", d, 0, 20_000);
        }
        if let Some(t) = &patch.product_type {
            model::validate_text(&mut v, "product_type", t, 0, 64);
        }
        if let Some(o) = &patch.option_names {
            validate_option_names(&mut v, o);
        }
        model::finish(v)?;
        let mut tx = self.db.begin_write().await?;
        if !store::product_exists(&mut tx, id).await? {
            return Err(Error::ProductNotFound);
        }
        if let Some(ids) = &patch.category_ids {
            let categories = store::all_categories(&mut **tx).await?;
            check_categories(&categories, ids)?;
        }
        store::update_product(&mut tx, id, &patch, Timestamp::now()).await?;
        tx.commit().await?;
        self.changed();
        self.get_product(&id.to_string(), true).await
    }

    /// Deletes a product with its variants and images. Orders keep their snapshots.
    pub async fn delete_product(&self, id: ProductId) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        if !store::delete_product(&mut tx, id).await? {
            return Err(Error::ProductNotFound);
        }
        tx.commit().await?;
        self.changed();
        Ok(())
    }

    /// Adds a variant to a product.
    pub async fn add_variant(&self, product: ProductId, input: NewVariant) -> Result<Variant> {
        let mut tx = self.db.begin_write().await?;
        let option_names = store::option_names(&mut tx, product)
            .await?
            .ok_or(Error::ProductNotFound)?;
        let product_type = store::product_type(&mut tx, product)
            .await?
            .unwrap_or_default();
        let mut v = Validation::new();
        validate_new_variant(&mut v, "", &input, &option_names);
        self.check_downloadable(&mut v, "delivery", input.delivery, &product_type);
        model::finish(v)?;
        let id = VariantId::new();
        store::insert_variant(&mut tx, product, id, &input, Timestamp::now()).await?;
        store::refresh_min_price(&mut tx, product).await?;
        tx.commit().await?;
        self.changed();
        self.get_variant(id).await
    }

    /// One variant.
    pub async fn get_variant(&self, id: VariantId) -> Result<Variant> {
        store::find_variant(self.db.pool(), id)
            .await?
            .ok_or(Error::VariantNotFound)
    }

    /// Updates a variant.
    pub async fn update_variant(&self, id: VariantId, patch: VariantPatch) -> Result<Variant> {
        let mut v = Validation::new();
        if let Some(sku) = &patch.sku {
            v.check("sku", model::validate_sku(sku));
        }
        if let Some(t) = &patch.title {
            model::validate_text(&mut v, "title", t, 1, 200);
        }
        if let Some(p) = &patch.price {
            model::validate_price(&mut v, "price/amount", p);
        }
        if let Some(Some(s)) = patch.stock {
            if !(0..=1_000_000_000).contains(&s) {
                v.add("stock", "must be between 0 and 1000000000");
            }
        }
        if let Some(lab) = &patch.lab {
            model::validate_lab(&mut v, "lab", lab);
        }
        model::finish(v)?;
        let mut tx = self.db.begin_write().await?;
        let existing = store::find_variant(&mut **tx, id)
            .await?
            .ok_or(Error::VariantNotFound)?;
        if let Some(values) = &patch.option_values {
            let names = store::option_names(&mut tx, existing.product_id)
                .await?
                .unwrap_or_default();
            let mut v = Validation::new();
            validate_option_values(&mut v, "option_values", values, &names);
            model::finish(v)?;
        }
        // The variant as it will be: a digital download has no lab.
        let mut v = Validation::new();
        model::validate_delivery(
            &mut v,
            "lab",
            patch.delivery.unwrap_or(existing.delivery),
            patch.lab.as_ref().unwrap_or(&existing.lab),
        );
        if patch.delivery.is_some() {
            let product_type = store::product_type(&mut tx, existing.product_id)
                .await?
                .unwrap_or_default();
            self.check_downloadable(
                &mut v,
                "delivery",
                patch.delivery.unwrap_or(existing.delivery),
                &product_type,
            );
        }
        model::finish(v)?;
        store::update_variant(&mut tx, id, &patch, Timestamp::now()).await?;
        store::refresh_min_price(&mut tx, existing.product_id).await?;
        tx.commit().await?;
        self.changed();
        self.get_variant(id).await
    }

    /// Deletes a variant.
    pub async fn delete_variant(&self, id: VariantId) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        let existing = store::find_variant(&mut **tx, id)
            .await?
            .ok_or(Error::VariantNotFound)?;
        store::delete_variant(&mut tx, id).await?;
        store::refresh_min_price(&mut tx, existing.product_id).await?;
        tx.commit().await?;
        self.changed();
        Ok(())
    }

    /// Creates a category.
    pub async fn create_category(&self, input: NewCategory) -> Result<Category> {
        let mut v = Validation::new();
        model::validate_text(&mut v, "name", &input.name, 1, 100);
        let handle = input.handle.clone().unwrap_or_else(|| slugify(&input.name));
        v.check("handle", model::validate_handle(&handle));
        model::validate_text(&mut v, "description", &input.description, 0, 5_000);
        model::finish(v)?;
        let mut tx = self.db.begin_write().await?;
        if let Some(parent) = input.parent_id {
            let all = store::all_categories(&mut **tx).await?;
            if !all.iter().any(|c| c.id == parent) {
                return Err(model::field("parent_id", "no such category"));
            }
        }
        let id = CategoryId::new();
        store::insert_category(&mut tx, id, &handle, &input, Timestamp::now()).await?;
        tx.commit().await?;
        self.changed();
        self.get_category(id).await
    }

    /// Updates a category; refuses to make a category its own ancestor.
    pub async fn update_category(&self, id: CategoryId, patch: CategoryPatch) -> Result<Category> {
        let mut v = Validation::new();
        if let Some(n) = &patch.name {
            model::validate_text(&mut v, "name", n, 1, 100);
        }
        if let Some(h) = &patch.handle {
            v.check("handle", model::validate_handle(h));
        }
        model::finish(v)?;
        let mut tx = self.db.begin_write().await?;
        let all = store::all_categories(&mut **tx).await?;
        if !all.iter().any(|c| c.id == id) {
            return Err(Error::CategoryNotFound);
        }
        if let Some(Some(parent)) = patch.parent_id {
            if !all.iter().any(|c| c.id == parent) {
                return Err(model::field("parent_id", "no such category"));
            }
            if descendants(&all, id).contains(&parent) {
                return Err(model::field(
                    "parent_id",
                    "would put the category inside itself",
                ));
            }
        }
        store::update_category(&mut tx, id, &patch, Timestamp::now()).await?;
        tx.commit().await?;
        self.changed();
        self.get_category(id).await
    }

    /// Deletes a category and its subcategories; products stay.
    pub async fn delete_category(&self, id: CategoryId) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        if !store::delete_category(&mut tx, id).await? {
            return Err(Error::CategoryNotFound);
        }
        tx.commit().await?;
        self.changed();
        Ok(())
    }

    /// Records an uploaded image on a product.
    pub async fn add_image(&self, product: ProductId, image: NewImage) -> Result<Image> {
        let mut v = Validation::new();
        model::validate_text(&mut v, "alt", &image.alt, 0, 500);
        if image.object_key.is_empty() || image.object_key.len() > 500 {
            v.add("object_key", "must be 1–500 characters");
        }
        model::finish(v)?;
        let mut tx = self.db.begin_write().await?;
        if !store::product_exists(&mut tx, product).await? {
            return Err(Error::ProductNotFound);
        }
        let id = ImageId::new();
        let created = store::insert_image(&mut tx, product, id, &image, Timestamp::now()).await?;
        tx.commit().await?;
        self.changed();
        Ok(created)
    }

    /// Removes an image from a product.
    pub async fn delete_image(&self, product: ProductId, id: ImageId) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        if !store::delete_image(&mut tx, product, id).await? {
            return Err(Error::ImageNotFound);
        }
        tx.commit().await?;
        self.changed();
        Ok(())
    }

    /// Prices and stock of `ids`, read inside the caller's transaction.
    pub async fn variants_for_sale(
        &self,
        conn: &mut cielo_db::sqlx::AnyConnection,
        ids: &[VariantId],
    ) -> Result<std::collections::HashMap<VariantId, SaleVariant>> {
        store::sale_variants(conn, ids).await
    }

    /// Takes `quantity` of each variant out of stock (variants that track stock
    /// with the `deny` policy refuse to go below zero), in the caller's transaction.
    pub async fn reserve_stock(
        &self,
        conn: &mut cielo_db::sqlx::AnyConnection,
        items: &[(VariantId, i64)],
    ) -> Result<()> {
        for (variant, quantity) in items {
            store::take_stock(conn, *variant, *quantity).await?;
        }
        self.changed();
        Ok(())
    }

    /// Puts `quantity` of each variant back into stock (a cancelled order), in
    /// the caller's transaction. Variants that do not track stock, or no longer
    /// exist, are skipped.
    pub async fn return_stock(
        &self,
        conn: &mut cielo_db::sqlx::AnyConnection,
        items: &[(VariantId, i64)],
    ) -> Result<()> {
        for (variant, quantity) in items {
            store::put_back_stock(conn, *variant, *quantity).await?;
        }
        self.changed();
        Ok(())
    }

    /// Number of products (for seeding and health output).
    pub async fn count_products(&self) -> Result<i64> {
        store::count_products(self.db.pool()).await
    }

    /// Recomputes the folded search form of every title whose stored form is
    /// out of date (rows written before search folded accents). Cheap when
    /// nothing changed; returns how many rows it fixed.
    pub async fn refresh_search_titles(&self) -> Result<usize> {
        use cielo_db::sqlx::{self, Row};
        let rows = sqlx::query("select id, title, title_search from catalog_product")
            .fetch_all(self.db.pool())
            .await?;
        let mut fixed = 0;
        for r in rows {
            let (id, title, stored): (String, String, String) = (
                r.try_get("id")?,
                r.try_get("title")?,
                r.try_get("title_search")?,
            );
            let folded = model::search_fold(&title);
            if folded != stored {
                sqlx::query("update catalog_product set title_search = $1 where id = $2")
                    .bind(folded)
                    .bind(id)
                    .execute(self.db.pool())
                    .await?;
                fixed += 1;
            }
        }
        if fixed > 0 {
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
        Ok(fixed)
    }
}

fn descendants(all: &[Category], root: CategoryId) -> Vec<CategoryId> {
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        let parent = out[i];
        out.extend(
            all.iter()
                .filter(|c| c.parent_id == Some(parent))
                .map(|c| c.id),
        );
        i += 1;
    }
    out
}

fn check_categories(all: &[Category], ids: &[CategoryId]) -> Result<()> {
    for (i, id) in ids.iter().enumerate() {
        if !all.iter().any(|c| c.id == *id) {
            return Err(model::field(
                &format!("category_ids/{i}"),
                "no such category",
            ));
        }
    }
    Ok(())
}

fn validate_option_names(v: &mut Validation, names: &[String]) {
    if names.len() > 5 {
        v.add("option_names", "at most 5 options");
    }
    for (i, n) in names.iter().enumerate() {
        model::validate_text(v, &format!("option_names/{i}"), n, 1, 40);
    }
}

fn validate_option_values(
    v: &mut Validation,
    field: &str,
    values: &std::collections::BTreeMap<String, String>,
    names: &[String],
) {
    for (k, val) in values {
        if !names.iter().any(|n| n == k) {
            v.add(
                &format!("{field}/{k}"),
                "is not one of the product's option names",
            );
        }
        model::validate_text(v, &format!("{field}/{k}"), val, 1, 100);
    }
}

fn validate_new_variant(
    v: &mut Validation,
    prefix: &str,
    input: &NewVariant,
    option_names: &[String],
) {
    v.check(&format!("{prefix}sku"), model::validate_sku(&input.sku));
    if let Some(t) = &input.title {
        model::validate_text(v, &format!("{prefix}title"), t, 1, 200);
    }
    model::validate_price(v, &format!("{prefix}price/amount"), &input.price);
    if let Some(s) = input.stock {
        if !(0..=1_000_000_000).contains(&s) {
            v.add(
                &format!("{prefix}stock"),
                "must be between 0 and 1000000000",
            );
        }
    }
    validate_option_values(
        v,
        &format!("{prefix}option_values"),
        &input.option_values,
        option_names,
    );
    model::validate_lab(v, &format!("{prefix}lab"), &input.lab);
    model::validate_delivery(v, &format!("{prefix}lab"), input.delivery, &input.lab);
}

#[cfg(test)]
mod tests {
    #[test]
    fn both_engines_list_the_same_migrations() {
        cielo_db::check_set(&super::MIGRATIONS).unwrap();
    }
}
