//! All catalog SQL. Portable SQL with `$N` placeholders, run on both engines.

use crate::model::*;
use crate::{Error, Result};
use base64::Engine as _;
use cielo_core::{Currency, Money, Timestamp};
use cielo_db::sqlx::{self, any::AnyRow, Any, AnyConnection, AnyPool, Row};
use cielo_db::Db;
use std::collections::HashMap;

/// Position in a listing: the sort value and id of the last product shown.
pub(crate) struct Cursor {
    value: i64,
    id: String,
}

impl Cursor {
    fn encode(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(format!("{}:{}", self.value, self.id))
    }
    pub(crate) fn decode(s: &str) -> Option<Self> {
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s)
            .ok()?;
        let text = String::from_utf8(raw).ok()?;
        let (value, id) = text.split_once(':')?;
        ProductId::parse(id).ok()?;
        Some(Self {
            value: value.parse().ok()?,
            id: id.to_string(),
        })
    }
}

const PRODUCT_COLUMNS: &str =
    "p.id, p.handle, p.title, p.description, p.status, p.product_type, p.option_names, p.min_price, p.created_at, p.updated_at";

struct ProductRow {
    id: ProductId,
    handle: String,
    title: String,
    description: String,
    status: ProductStatus,
    product_type: String,
    option_names: Vec<String>,
    min_price: i64,
    created_at: i64,
    updated_at: i64,
}

fn product_row(r: &AnyRow) -> Result<ProductRow> {
    let id: String = r.try_get("id")?;
    let options: String = r.try_get("option_names")?;
    Ok(ProductRow {
        id: ProductId::parse(&id)
            .map_err(|e| anyhow::anyhow!("bad product id in database: {e}"))?,
        handle: r.try_get("handle")?,
        title: r.try_get("title")?,
        description: r.try_get("description")?,
        status: ProductStatus::parse(&r.try_get::<String, _>("status")?),
        product_type: r.try_get("product_type")?,
        option_names: serde_json::from_str(&options).unwrap_or_default(),
        min_price: r.try_get("min_price")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn variant_row(r: &AnyRow) -> Result<Variant> {
    let id: String = r.try_get("id")?;
    let product_id: String = r.try_get("product_id")?;
    let values: String = r.try_get("option_values")?;
    let currency: String = r.try_get("price_currency")?;
    Ok(Variant {
        id: VariantId::parse(&id).map_err(|e| anyhow::anyhow!("bad variant id: {e}"))?,
        product_id: ProductId::parse(&product_id)
            .map_err(|e| anyhow::anyhow!("bad product id: {e}"))?,
        sku: r.try_get("sku")?,
        title: r.try_get("title")?,
        option_values: serde_json::from_str(&values).unwrap_or_default(),
        price: Money::new(
            r.try_get("price_amount")?,
            Currency::parse(&currency)
                .map_err(|e| anyhow::anyhow!("bad currency in database: {e}"))?,
        ),
        stock: r.try_get("stock")?,
        stock_policy: StockPolicy::parse(&r.try_get::<String, _>("stock_policy")?),
        lab_product_id: r.try_get("lab_product_id")?,
        lab: r.try_get("lab")?,
        delivery: Delivery::parse(&r.try_get::<String, _>("delivery")?),
        position: r.try_get("position")?,
    })
}

fn image_row(r: &AnyRow) -> Result<(ProductId, Image)> {
    let id: String = r.try_get("id")?;
    let product_id: String = r.try_get("product_id")?;
    Ok((
        ProductId::parse(&product_id).map_err(|e| anyhow::anyhow!("bad product id: {e}"))?,
        Image {
            id: ImageId::parse(&id).map_err(|e| anyhow::anyhow!("bad image id: {e}"))?,
            object_key: r.try_get("object_key")?,
            url: r.try_get("url")?,
            alt: r.try_get("alt")?,
            position: r.try_get("position")?,
        },
    ))
}

/// Folds `text` like the stored `title_search` ([`crate::model::search_fold`])
/// and escapes `%`, `_` and `\` for a LIKE pattern with `escape '\'`.
fn like_pattern(text: &str) -> String {
    let mut out = String::from("%");
    for c in crate::model::search_fold(text).chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

pub(crate) async fn list_products(
    db: &Db,
    query: &ProductQuery,
    limit: i64,
    cursor: Option<Cursor>,
    categories: Option<&[CategoryId]>,
) -> Result<ProductPage> {
    let mut sql = format!("select {PRODUCT_COLUMNS} from catalog_product p where 1 = 1");
    let mut binds: Vec<Bind> = Vec::new();
    if !query.include_drafts {
        sql.push_str(" and p.status = 'published'");
    }
    if let Some(cats) = categories {
        let start = binds.len() + 1;
        sql.push_str(&format!(
            " and p.id in (select product_id from catalog_product_category where category_id in ({}))",
            cielo_db::placeholders(start, cats.len())
        ));
        binds.extend(cats.iter().map(|c| Bind::Text(c.to_string())));
    }
    if let Some(q) = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        binds.push(Bind::Text(like_pattern(q)));
        sql.push_str(&format!(
            " and p.title_search like ${} escape '\\'",
            binds.len()
        ));
    }
    let (column, asc) = match query.sort {
        ProductSort::Newest => ("p.created_at", false),
        ProductSort::PriceAsc => ("p.min_price", true),
        ProductSort::PriceDesc => ("p.min_price", false),
    };
    if let Some(c) = &cursor {
        binds.push(Bind::Int(c.value));
        let v = binds.len();
        binds.push(Bind::Text(c.id.clone()));
        let i = binds.len();
        let op = if asc { ">" } else { "<" };
        sql.push_str(&format!(
            " and ({column} {op} ${v} or ({column} = ${v} and p.id {op} ${i}))"
        ));
    }
    let dir = if asc { "asc" } else { "desc" };
    binds.push(Bind::Int(limit + 1));
    sql.push_str(&format!(
        " order by {column} {dir}, p.id {dir} limit ${}",
        binds.len()
    ));

    let mut q = sqlx::query(&sql);
    for b in &binds {
        q = match b {
            Bind::Text(s) => q.bind(s.clone()),
            Bind::Int(n) => q.bind(*n),
        };
    }
    let rows = q.fetch_all(db.pool()).await?;
    let mut products = rows.iter().map(product_row).collect::<Result<Vec<_>>>()?;
    let next_cursor = if products.len() as i64 > limit {
        products.truncate(limit as usize);
        products.last().map(|p| {
            let value = match query.sort {
                ProductSort::Newest => p.created_at,
                _ => p.min_price,
            };
            Cursor {
                value,
                id: p.id.to_string(),
            }
            .encode()
        })
    } else {
        None
    };
    let products = hydrate(db.pool(), products).await?;
    Ok(ProductPage {
        products,
        next_cursor,
    })
}

enum Bind {
    Text(String),
    Int(i64),
}

/// Loads variants, images and categories of `rows` with one query each.
async fn hydrate(pool: &AnyPool, rows: Vec<ProductRow>) -> Result<Vec<Product>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = rows.iter().map(|r| r.id.to_string()).collect();
    let list = cielo_db::placeholders(1, ids.len());

    let sql = format!("select * from catalog_variant where product_id in ({list}) order by position, created_at, id");
    let mut q = sqlx::query(&sql);
    for id in &ids {
        q = q.bind(id.clone());
    }
    let mut variants: HashMap<ProductId, Vec<Variant>> = HashMap::new();
    for r in q.fetch_all(pool).await? {
        let v = variant_row(&r)?;
        variants.entry(v.product_id).or_default().push(v);
    }

    let sql = format!("select * from catalog_image where product_id in ({list}) order by position, created_at, id");
    let mut q = sqlx::query(&sql);
    for id in &ids {
        q = q.bind(id.clone());
    }
    let mut images: HashMap<ProductId, Vec<Image>> = HashMap::new();
    for r in q.fetch_all(pool).await? {
        let (p, img) = image_row(&r)?;
        images.entry(p).or_default().push(img);
    }

    let sql = format!("select product_id, category_id from catalog_product_category where product_id in ({list}) order by category_id");
    let mut q = sqlx::query(&sql);
    for id in &ids {
        q = q.bind(id.clone());
    }
    let mut cats: HashMap<String, Vec<CategoryId>> = HashMap::new();
    for r in q.fetch_all(pool).await? {
        let p: String = r.try_get("product_id")?;
        let c: String = r.try_get("category_id")?;
        if let Ok(c) = CategoryId::parse(&c) {
            cats.entry(p).or_default().push(c);
        }
    }

    Ok(rows
        .into_iter()
        .map(|r| {
            let variants = variants.remove(&r.id).unwrap_or_default();
            let price_from = variants.iter().map(|v| v.price).min_by_key(|m| m.amount);
            Product {
                handle: r.handle,
                title: r.title,
                description: r.description,
                status: r.status,
                product_type: r.product_type,
                option_names: r.option_names,
                images: images.remove(&r.id).unwrap_or_default(),
                category_ids: cats.remove(&r.id.to_string()).unwrap_or_default(),
                price_from,
                variants,
                created_at: Timestamp::from_micros(r.created_at),
                updated_at: Timestamp::from_micros(r.updated_at),
                id: r.id,
            }
        })
        .collect())
}

pub(crate) async fn find_product(pool: &AnyPool, id_or_handle: &str) -> Result<Option<Product>> {
    let sql =
        format!("select {PRODUCT_COLUMNS} from catalog_product p where p.id = $1 or p.handle = $1");
    let Some(row) = sqlx::query(&sql)
        .bind(id_or_handle)
        .fetch_optional(pool)
        .await?
    else {
        return Ok(None);
    };
    let row = product_row(&row)?;
    Ok(hydrate(pool, vec![row]).await?.pop())
}

pub(crate) async fn product_exists(c: &mut AnyConnection, id: ProductId) -> Result<bool> {
    Ok(sqlx::query("select 1 from catalog_product where id = $1")
        .bind(id.to_string())
        .fetch_optional(c)
        .await?
        .is_some())
}

pub(crate) async fn option_names(
    c: &mut AnyConnection,
    id: ProductId,
) -> Result<Option<Vec<String>>> {
    let row = sqlx::query("select option_names from catalog_product where id = $1")
        .bind(id.to_string())
        .fetch_optional(c)
        .await?;
    Ok(row.map(|r| serde_json::from_str(&r.get::<String, _>("option_names")).unwrap_or_default()))
}

/// A product's type, if the product exists.
pub(crate) async fn product_type(c: &mut AnyConnection, id: ProductId) -> Result<Option<String>> {
    let row = sqlx::query("select product_type from catalog_product where id = $1")
        .bind(id.to_string())
        .fetch_optional(c)
        .await?;
    Ok(row.map(|r| r.get::<String, _>("product_type")))
}

pub(crate) async fn all_categories<'e, E>(ex: E) -> Result<Vec<Category>>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let rows = sqlx::query("select * from catalog_category order by position, name, id")
        .fetch_all(ex)
        .await?;
    rows.iter()
        .map(|r| {
            let id: String = r.try_get("id")?;
            let parent: Option<String> = r.try_get("parent_id")?;
            Ok(Category {
                id: CategoryId::parse(&id).map_err(|e| anyhow::anyhow!("bad category id: {e}"))?,
                parent_id: parent.and_then(|p| CategoryId::parse(&p).ok()),
                handle: r.try_get("handle")?,
                name: r.try_get("name")?,
                description: r.try_get("description")?,
                position: r.try_get("position")?,
            })
        })
        .collect()
}

fn unique_error(e: sqlx::Error, on_conflict: impl FnOnce(&str) -> Error) -> Error {
    if cielo_db::is_unique_violation(&e) {
        let msg = match &e {
            sqlx::Error::Database(d) => d.message().to_string() + d.constraint().unwrap_or(""),
            _ => String::new(),
        };
        on_conflict(&msg)
    } else {
        e.into()
    }
}

pub(crate) async fn insert_product(
    c: &mut AnyConnection,
    id: ProductId,
    handle: &str,
    p: &NewProduct,
    now: Timestamp,
) -> Result<()> {
    sqlx::query(
        "insert into catalog_product (id, handle, title, title_search, description, status, product_type, option_names, min_price, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $9)",
    )
    .bind(id.to_string())
    .bind(handle)
    .bind(p.title.trim())
    .bind(crate::model::search_fold(p.title.trim()))
    .bind(&p.description)
    .bind(p.status.as_str())
    .bind(&p.product_type)
    .bind(serde_json::to_string(&p.option_names).expect("strings serialise"))
    .bind(now.as_micros())
    .execute(&mut *c)
    .await
    .map_err(|e| unique_error(e, |_| Error::DuplicateHandle(handle.to_string())))?;
    set_categories(c, id, &p.category_ids).await
}

async fn set_categories(
    c: &mut AnyConnection,
    id: ProductId,
    categories: &[CategoryId],
) -> Result<()> {
    sqlx::query("delete from catalog_product_category where product_id = $1")
        .bind(id.to_string())
        .execute(&mut *c)
        .await?;
    let mut seen = std::collections::HashSet::new();
    for cat in categories.iter().filter(|c| seen.insert(**c)) {
        sqlx::query(
            "insert into catalog_product_category (product_id, category_id) values ($1, $2)",
        )
        .bind(id.to_string())
        .bind(cat.to_string())
        .execute(&mut *c)
        .await?;
    }
    Ok(())
}

pub(crate) async fn update_product(
    c: &mut AnyConnection,
    id: ProductId,
    p: &ProductPatch,
    now: Timestamp,
) -> Result<()> {
    let current = sqlx::query("select handle, title, description, status, product_type, option_names from catalog_product where id = $1")
        .bind(id.to_string())
        .fetch_one(&mut *c)
        .await?;
    let title = p.title.clone().unwrap_or_else(|| current.get("title"));
    let handle = p.handle.clone().unwrap_or_else(|| current.get("handle"));
    let description = p
        .description
        .clone()
        .unwrap_or_else(|| current.get("description"));
    let status = p
        .status
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|| current.get("status"));
    let product_type = p
        .product_type
        .clone()
        .unwrap_or_else(|| current.get("product_type"));
    let options = match &p.option_names {
        Some(o) => serde_json::to_string(o).expect("strings serialise"),
        None => current.get("option_names"),
    };
    sqlx::query(
        "update catalog_product set handle = $2, title = $3, title_search = $4, description = $5, status = $6,
         product_type = $7, option_names = $8, updated_at = $9 where id = $1",
    )
    .bind(id.to_string())
    .bind(&handle)
    .bind(title.trim())
    .bind(crate::model::search_fold(title.trim()))
    .bind(description)
    .bind(status)
    .bind(product_type)
    .bind(options)
    .bind(now.as_micros())
    .execute(&mut *c)
    .await
    .map_err(|e| unique_error(e, |_| Error::DuplicateHandle(handle.clone())))?;
    if let Some(cats) = &p.category_ids {
        set_categories(c, id, cats).await?;
    }
    Ok(())
}

pub(crate) async fn delete_product(c: &mut AnyConnection, id: ProductId) -> Result<bool> {
    // Children first: SQLite only cascades with the foreign_keys pragma on, and
    // being explicit keeps both engines doing the same thing.
    for table in [
        "catalog_variant",
        "catalog_image",
        "catalog_product_category",
    ] {
        sqlx::query(&format!("delete from {table} where product_id = $1"))
            .bind(id.to_string())
            .execute(&mut *c)
            .await?;
    }
    let done = sqlx::query("delete from catalog_product where id = $1")
        .bind(id.to_string())
        .execute(&mut *c)
        .await?;
    Ok(done.rows_affected() > 0)
}

fn variant_title(v: &NewVariant) -> String {
    match &v.title {
        Some(t) => t.trim().to_string(),
        None if v.option_values.is_empty() => "Default".to_string(),
        None => v
            .option_values
            .values()
            .cloned()
            .collect::<Vec<_>>()
            .join(" / "),
    }
}

pub(crate) async fn insert_variant(
    c: &mut AnyConnection,
    product: ProductId,
    id: VariantId,
    v: &NewVariant,
    now: Timestamp,
) -> Result<()> {
    sqlx::query(
        "insert into catalog_variant (id, product_id, sku, title, option_values, price_amount, price_currency, stock, stock_policy, lab_product_id, position, created_at, updated_at, lab, delivery)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13, $14)",
    )
    .bind(id.to_string())
    .bind(product.to_string())
    .bind(&v.sku)
    .bind(variant_title(v))
    .bind(serde_json::to_string(&v.option_values).expect("strings serialise"))
    .bind(v.price.amount)
    .bind(v.price.currency.code().to_string())
    .bind(v.stock)
    .bind(v.stock_policy.as_str())
    .bind(v.lab_product_id.clone())
    .bind(v.position)
    .bind(now.as_micros())
    .bind(v.lab.clone())
    .bind(v.delivery.as_str())
    .execute(c)
    .await
    .map_err(|e| unique_error(e, |_| Error::DuplicateSku(v.sku.clone())))?;
    Ok(())
}

pub(crate) async fn find_variant<'e, E>(ex: E, id: VariantId) -> Result<Option<Variant>>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let row = sqlx::query("select * from catalog_variant where id = $1")
        .bind(id.to_string())
        .fetch_optional(ex)
        .await?;
    row.as_ref().map(variant_row).transpose()
}

pub(crate) async fn update_variant(
    c: &mut AnyConnection,
    id: VariantId,
    p: &VariantPatch,
    now: Timestamp,
) -> Result<()> {
    let cur = find_variant(&mut *c, id)
        .await?
        .ok_or(Error::VariantNotFound)?;
    let sku = p.sku.clone().unwrap_or(cur.sku);
    sqlx::query(
        "update catalog_variant set sku = $2, title = $3, option_values = $4, price_amount = $5, price_currency = $6,
         stock = $7, stock_policy = $8, lab_product_id = $9, position = $10, updated_at = $11, lab = $12, delivery = $13 where id = $1",
    )
    .bind(id.to_string())
    .bind(&sku)
    .bind(p.title.clone().unwrap_or(cur.title))
    .bind(serde_json::to_string(p.option_values.as_ref().unwrap_or(&cur.option_values)).expect("strings serialise"))
    .bind(p.price.map(|m| m.amount).unwrap_or(cur.price.amount))
    .bind(p.price.map(|m| m.currency).unwrap_or(cur.price.currency).code().to_string())
    .bind(p.stock.unwrap_or(cur.stock))
    .bind(p.stock_policy.unwrap_or(cur.stock_policy).as_str())
    .bind(p.lab_product_id.clone().unwrap_or(cur.lab_product_id))
    .bind(p.position.unwrap_or(cur.position))
    .bind(now.as_micros())
    .bind(p.lab.clone().unwrap_or(cur.lab))
    .bind(p.delivery.unwrap_or(cur.delivery).as_str())
    .execute(c)
    .await
    .map_err(|e| unique_error(e, |_| Error::DuplicateSku(sku.clone())))?;
    Ok(())
}

pub(crate) async fn delete_variant(c: &mut AnyConnection, id: VariantId) -> Result<()> {
    sqlx::query("delete from catalog_variant where id = $1")
        .bind(id.to_string())
        .execute(c)
        .await?;
    Ok(())
}

pub(crate) async fn refresh_min_price(c: &mut AnyConnection, product: ProductId) -> Result<()> {
    sqlx::query(
        "update catalog_product set min_price = coalesce((select min(price_amount) from catalog_variant where product_id = $1), 0) where id = $1",
    )
    .bind(product.to_string())
    .execute(c)
    .await?;
    Ok(())
}

pub(crate) async fn insert_category(
    c: &mut AnyConnection,
    id: CategoryId,
    handle: &str,
    k: &NewCategory,
    now: Timestamp,
) -> Result<()> {
    sqlx::query(
        "insert into catalog_category (id, parent_id, handle, name, description, position, created_at, updated_at) values ($1, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(id.to_string())
    .bind(k.parent_id.map(|p| p.to_string()))
    .bind(handle)
    .bind(k.name.trim())
    .bind(&k.description)
    .bind(k.position)
    .bind(now.as_micros())
    .execute(c)
    .await
    .map_err(|e| unique_error(e, |_| Error::DuplicateHandle(handle.to_string())))?;
    Ok(())
}

pub(crate) async fn update_category(
    c: &mut AnyConnection,
    id: CategoryId,
    p: &CategoryPatch,
    now: Timestamp,
) -> Result<()> {
    let cur = all_categories(&mut *c)
        .await?
        .into_iter()
        .find(|k| k.id == id)
        .ok_or(Error::CategoryNotFound)?;
    let handle = p.handle.clone().unwrap_or(cur.handle);
    sqlx::query("update catalog_category set parent_id = $2, handle = $3, name = $4, description = $5, position = $6, updated_at = $7 where id = $1")
        .bind(id.to_string())
        .bind(p.parent_id.unwrap_or(cur.parent_id).map(|x| x.to_string()))
        .bind(&handle)
        .bind(p.name.clone().unwrap_or(cur.name))
        .bind(p.description.clone().unwrap_or(cur.description))
        .bind(p.position.unwrap_or(cur.position))
        .bind(now.as_micros())
        .execute(c)
        .await
        .map_err(|e| unique_error(e, |_| Error::DuplicateHandle(handle.clone())))?;
    Ok(())
}

pub(crate) async fn delete_category(c: &mut AnyConnection, id: CategoryId) -> Result<bool> {
    let all = all_categories(&mut *c).await?;
    if !all.iter().any(|k| k.id == id) {
        return Ok(false);
    }
    // Deepest first, so no row ever points at a deleted parent.
    let mut doomed = crate::descendants(&all, id);
    doomed.reverse();
    for cat in doomed {
        sqlx::query("delete from catalog_product_category where category_id = $1")
            .bind(cat.to_string())
            .execute(&mut *c)
            .await?;
        sqlx::query("delete from catalog_category where id = $1")
            .bind(cat.to_string())
            .execute(&mut *c)
            .await?;
    }
    Ok(true)
}

pub(crate) async fn insert_image(
    c: &mut AnyConnection,
    product: ProductId,
    id: ImageId,
    img: &NewImage,
    now: Timestamp,
) -> Result<Image> {
    sqlx::query("insert into catalog_image (id, product_id, object_key, url, alt, position, created_at, updated_at) values ($1, $2, $3, $4, $5, $6, $7, $7)")
        .bind(id.to_string())
        .bind(product.to_string())
        .bind(&img.object_key)
        .bind(&img.url)
        .bind(&img.alt)
        .bind(img.position)
        .bind(now.as_micros())
        .execute(c)
        .await?;
    Ok(Image {
        id,
        object_key: img.object_key.clone(),
        url: img.url.clone(),
        alt: img.alt.clone(),
        position: img.position,
    })
}

pub(crate) async fn delete_image(
    c: &mut AnyConnection,
    product: ProductId,
    id: ImageId,
) -> Result<bool> {
    let done = sqlx::query("delete from catalog_image where id = $1 and product_id = $2")
        .bind(id.to_string())
        .bind(product.to_string())
        .execute(c)
        .await?;
    Ok(done.rows_affected() > 0)
}

pub(crate) async fn sale_variants(
    c: &mut AnyConnection,
    ids: &[VariantId],
) -> Result<HashMap<VariantId, SaleVariant>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let sql = format!(
        "select v.*, p.title as product_title, p.product_type, p.status from catalog_variant v
         join catalog_product p on p.id = v.product_id where v.id in ({})",
        cielo_db::placeholders(1, ids.len())
    );
    let mut q = sqlx::query(&sql);
    for id in ids {
        q = q.bind(id.to_string());
    }
    let mut out = HashMap::new();
    for r in q.fetch_all(c).await? {
        let v = variant_row(&r)?;
        out.insert(
            v.id,
            SaleVariant {
                id: v.id,
                product_id: v.product_id,
                product_title: r.try_get("product_title")?,
                product_type: r.try_get("product_type")?,
                title: v.title,
                sku: v.sku,
                option_values: v.option_values,
                price: v.price,
                stock: v.stock,
                stock_policy: v.stock_policy,
                lab_product_id: v.lab_product_id,
                lab: v.lab,
                delivery: v.delivery,
                published: r.try_get::<String, _>("status")? == "published",
            },
        );
    }
    Ok(out)
}

pub(crate) async fn take_stock(
    c: &mut AnyConnection,
    variant: VariantId,
    quantity: i64,
) -> Result<()> {
    // One conditional update: the check and the decrement cannot be split by a
    // concurrent checkout on either engine.
    let done = sqlx::query(
        "update catalog_variant set stock = stock - $2
         where id = $1 and stock is not null and (stock_policy = 'continue' or stock >= $2)",
    )
    .bind(variant.to_string())
    .bind(quantity)
    .execute(&mut *c)
    .await?;
    if done.rows_affected() > 0 {
        return Ok(());
    }
    let row = sqlx::query("select stock from catalog_variant where id = $1")
        .bind(variant.to_string())
        .fetch_optional(&mut *c)
        .await?;
    match row {
        None => Err(Error::VariantNotFound),
        Some(r) => match r.try_get::<Option<i64>, _>("stock")? {
            None => Ok(()), // stock not tracked
            Some(available) => Err(Error::OutOfStock { variant, available }),
        },
    }
}

pub(crate) async fn count_products(pool: &AnyPool) -> Result<i64> {
    Ok(sqlx::query("select count(*) as n from catalog_product")
        .fetch_one(pool)
        .await?
        .try_get("n")?)
}

pub(crate) async fn put_back_stock(
    c: &mut AnyConnection,
    variant: VariantId,
    quantity: i64,
) -> Result<()> {
    sqlx::query(
        "update catalog_variant set stock = stock + $2 where id = $1 and stock is not null",
    )
    .bind(variant.to_string())
    .bind(quantity)
    .execute(c)
    .await?;
    Ok(())
}
