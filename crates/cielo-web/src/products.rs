//! The admin's products: create and edit a product and its variants (price
//! typed as money, status, categories, each variant's print lab and the
//! lab's product id) and upload its images.
//!
//! Each form is one API call, so a form with a mistake changes nothing: a
//! new product and its first variant are created together or not at all
//! (`POST /api/admin/products` is all or nothing), and each variant has its
//! own form. Mistakes are shown beside their fields, taken from the problem
//! document's pointers, with what was typed kept.

use crate::session::{Ctx, Upload};
use crate::store::enc;
use crate::views::{redirect, render_status};
use crate::Web;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::Extension;
use http::{Method, StatusCode};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The print labs a variant can name, and `none` (the shop ships it).
/// The "Print lab" choices of the variant form; `digital` is a digital
/// download (no lab: the buyer downloads the print files).
const LABS: [&str; 5] = ["none", "local", "printful", "prodigi", "digital"];

/// Which form of the edit page a submission came from, with what was typed
/// and what was wrong with it.
#[derive(Default)]
struct Attempt {
    /// `product`, `new-variant`, `variant:<id>` or `image`.
    form: String,
    values: Map<String, Value>,
    errors: Map<String, Value>,
}

impl Attempt {
    fn new(form: &str, values: Map<String, Value>) -> Self {
        Self {
            form: form.into(),
            values,
            errors: Map::new(),
        }
    }

    fn error(&mut self, field: &str, text: &str) {
        self.errors
            .entry(field.to_string())
            .or_insert_with(|| Value::String(text.into()));
    }
}

/// Money typed as `24`, `24.5` or `24.50` in a currency with `exponent`
/// decimals → minor units (zero allowed: a free variant).
pub(crate) fn parse_money(text: &str, exponent: u32) -> Option<i64> {
    let text = text.trim().trim_start_matches(['$', '€', '£']).trim();
    let (whole, frac) = text.split_once(['.', ',']).unwrap_or((text, ""));
    if frac.len() > exponent as usize
        || (whole.is_empty() && frac.is_empty())
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut f = frac.to_string();
    while f.len() < exponent as usize {
        f.push('0');
    }
    let frac: i64 = if f.is_empty() { 0 } else { f.parse().ok()? };
    whole.checked_mul(10i64.pow(exponent))?.checked_add(frac)
}

/// Minor units as a form shows them: `2450` → `24.50` (USD).
pub(crate) fn money_input(amount: i64, exponent: u32) -> String {
    if exponent == 0 {
        return amount.to_string();
    }
    let p = 10i64.pow(exponent);
    let sign = if amount < 0 { "-" } else { "" };
    let a = amount.abs();
    format!(
        "{sign}{}.{:0width$}",
        a / p,
        a % p,
        width = exponent as usize
    )
}

fn currency(web: &Web) -> cielo_core::Currency {
    web.config.pricing.currency
}

/// The problem's field errors, pointers mapped to the form's field names:
/// `variants/0/price/amount` → `price` (with `strip` = `variants/0/`).
fn api_errors(answer: &crate::api::Answer, strip: &str, into: &mut Attempt) {
    let errs = answer.field_errors();
    // A variant's form names its title `variant_title` (the new product's
    // form holds both titles).
    let variant_form = into.form.starts_with("variant:") || into.form == "new-variant";
    for (k, v) in &errs {
        let (k, of_variant) = match k.strip_prefix(strip).filter(|_| !strip.is_empty()) {
            Some(rest) => (rest, true),
            None => (k.as_str(), variant_form),
        };
        let k = match k {
            "title" if of_variant => "variant_title",
            "price/amount" | "price/currency" => "price",
            k if k.starts_with("option_values/") => k,
            k if k.starts_with("option_names") => "option_names",
            k if k.starts_with("category_ids") => "categories",
            k => k,
        };
        into.error(k, v.as_str().unwrap_or("invalid"));
    }
    if errs.is_empty() {
        into.error("_form", &answer.detail());
    }
}

/// A variant form's fields → the API's variant JSON (`None` fields left
/// out when `patch` is false, sent as `null` when it is true, so a patch
/// clears them). Price mistakes are recorded in `at`.
fn variant_json(web: &Web, ctx: &Ctx, options: &[String], patch: bool, at: &mut Attempt) -> Value {
    let cur = currency(web);
    let mut v = json!({ "sku": ctx.text("sku").unwrap_or_default() });
    if let Some(t) = ctx.text("variant_title") {
        v["title"] = json!(t);
    }
    match ctx.text("price") {
        None => at.error("price", "enter a price, such as 24.00"),
        Some(p) => match parse_money(&p, cur.exponent()) {
            Some(a) => v["price"] = json!({"amount": a, "currency": cur.code()}),
            None => at.error(
                "price",
                &format!(
                    "must be an amount in {} such as 24.00 (at most {} decimals)",
                    cur.code(),
                    cur.exponent()
                ),
            ),
        },
    }
    match ctx.text("stock") {
        None if patch => v["stock"] = Value::Null,
        None => {}
        Some(s) => match s.parse::<i64>() {
            Ok(n) => v["stock"] = json!(n),
            Err(_) => at.error(
                "stock",
                "must be a whole number, or empty to not track stock",
            ),
        },
    }
    let lab = ctx.text("lab").unwrap_or_else(|| "none".into());
    v["lab"] = if lab == "none" || lab == "digital" {
        Value::Null
    } else {
        json!(lab)
    };
    v["delivery"] = json!(if lab == "digital" {
        "digital"
    } else {
        "physical"
    });
    match ctx.text("lab_product_id") {
        Some(id) => v["lab_product_id"] = json!(id),
        None if patch => v["lab_product_id"] = Value::Null,
        None => {}
    }
    let mut values = Map::new();
    for name in options {
        if let Some(x) = ctx.text(&format!("option_values/{name}")) {
            values.insert(name.clone(), json!(x));
        }
    }
    if !values.is_empty() || patch {
        v["option_values"] = Value::Object(values);
    }
    v
}

/// The typed fields of a form, to show them again.
fn typed(ctx: &Ctx) -> Map<String, Value> {
    let mut m = Map::new();
    for (k, v) in &ctx.form {
        if k != "_csrf" && k != "category" {
            m.insert(k.clone(), json!(v));
        }
    }
    m.insert("categories".into(), json!(ctx.all("category")));
    m
}

/// Option names typed as `size, colour`.
fn option_names(text: Option<String>) -> Vec<String> {
    text.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

async fn categories(web: &Web, ctx: &Ctx) -> Value {
    let c = web.api.get(&ctx.caller, "/api/admin/categories").await;
    c.body.get("categories").cloned().unwrap_or(json!([]))
}

/// `GET /admin/products/new`: the form for a product and its first variant.
pub(crate) async fn new_page(State(web): State<Web>, Extension(ctx): Extension<Ctx>) -> Response {
    let mut values = Map::new();
    values.insert("status".into(), json!("draft"));
    values.insert("lab".into(), json!("none"));
    new_form(&web, &ctx, StatusCode::OK, values, Map::new()).await
}

async fn new_form(
    web: &Web,
    ctx: &Ctx,
    status: StatusCode,
    values: Map<String, Value>,
    errors: Map<String, Value>,
) -> Response {
    let cats = web.api.get(&ctx.caller, "/api/admin/categories").await;
    if !cats.ok() {
        return crate::admin::refuse(web, ctx, cats.status).await;
    }
    render_status(
        web,
        ctx,
        status,
        "admin_product_new.html",
        json!({
            "section": "products",
            "categories": cats.body["categories"].clone(),
            "values": values,
            "errors": errors,
            "labs": LABS,
            "currency": currency(web).code(),
            "error": errors.get("_form"),
        }),
    )
    .await
}

/// `POST /admin/products/new`: one call creates the product with its first
/// variant; nothing is written when a field is wrong.
pub(crate) async fn create(State(web): State<Web>, Extension(ctx): Extension<Ctx>) -> Response {
    let mut at = Attempt::new("new", typed(&ctx));
    let title = ctx.text("title").unwrap_or_default();
    let options = option_names(ctx.text("option_names"));
    let mut body = json!({
        "title": title,
        "description": ctx.field("description").unwrap_or("").trim(),
        "status": ctx.text("status").unwrap_or_else(|| "draft".into()),
        "product_type": ctx.text("product_type").unwrap_or_default(),
        "option_names": options,
        "category_ids": ctx.all("category"),
    });
    if let Some(h) = ctx.text("handle") {
        body["handle"] = json!(h);
    }
    // The first variant is optional: a product can get its variants later.
    let has_variant = ["sku", "price", "lab_product_id", "stock"]
        .iter()
        .any(|f| ctx.text(f).is_some());
    if has_variant {
        let v = variant_json(&web, &ctx, &options, false, &mut at);
        body["variants"] = json!([v]);
    }
    if !at.errors.is_empty() {
        return new_form(
            &web,
            &ctx,
            StatusCode::UNPROCESSABLE_ENTITY,
            at.values,
            at.errors,
        )
        .await;
    }
    let r = web
        .api
        .call(
            &ctx.caller,
            Method::POST,
            "/api/admin/products",
            Some(&body),
            &[],
        )
        .await;
    if r.status == StatusCode::UNAUTHORIZED || r.status == StatusCode::FORBIDDEN {
        return crate::admin::refuse(&web, &ctx, r.status).await;
    }
    if r.ok() {
        let id = r.body["id"].as_str().unwrap_or("");
        return redirect(
            &format!(
                "/admin/products/{}?notice={}",
                enc(id),
                enc("Product created.")
            ),
            &[],
        );
    }
    api_errors(&r, "variants/0/", &mut at);
    new_form(
        &web,
        &ctx,
        StatusCode::UNPROCESSABLE_ENTITY,
        at.values,
        at.errors,
    )
    .await
}

/// `GET /admin/products/{id}`: the product's form, one form per variant, a
/// form for a new variant, and its images with an upload form.
pub(crate) async fn edit_page(
    State(web): State<Web>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    edit_form(&web, &ctx, &id, StatusCode::OK, Attempt::default(), &q).await
}

async fn edit_form(
    web: &Web,
    ctx: &Ctx,
    id: &str,
    status: StatusCode,
    at: Attempt,
    q: &BTreeMap<String, String>,
) -> Response {
    let p = web
        .api
        .get(&ctx.caller, &format!("/api/admin/products/{}", enc(id)))
        .await;
    if p.status == StatusCode::UNAUTHORIZED || p.status == StatusCode::FORBIDDEN {
        return crate::admin::refuse(web, ctx, p.status).await;
    }
    if !p.ok() {
        return crate::views::message(web, ctx, StatusCode::NOT_FOUND, "Product", &p.detail())
            .await;
    }
    let cur = currency(web);
    let product = &p.body;
    // What each form shows: the stored values, or what was just typed.
    let mut pvalues = Map::new();
    for k in ["title", "handle", "description", "status", "product_type"] {
        pvalues.insert(k.into(), product[k].clone());
    }
    pvalues.insert(
        "option_names".into(),
        json!(product["option_names"]
            .as_array()
            .map(|a| a
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", "))
            .unwrap_or_default()),
    );
    pvalues.insert("categories".into(), product["category_ids"].clone());
    let mut variants = Vec::new();
    for v in product["variants"].as_array().cloned().unwrap_or_default() {
        let vid = v["id"].as_str().unwrap_or("").to_string();
        let exp = v["price"]["currency"]
            .as_str()
            .and_then(|c| cielo_core::Currency::parse(c).ok())
            .map_or(cur.exponent(), |c| c.exponent());
        let mut values = json!({
            "sku": v["sku"], "variant_title": v["title"],
            "price": money_input(v["price"]["amount"].as_i64().unwrap_or(0), exp),
            "stock": v["stock"].as_i64().map(|s| s.to_string()).unwrap_or_default(),
            "lab": if v["delivery"] == "digital" { "digital" } else { v["lab"].as_str().unwrap_or("none") },
            "lab_product_id": v["lab_product_id"].as_str().unwrap_or(""),
        });
        if let Some(ov) = v["option_values"].as_object() {
            for (k, x) in ov {
                values[format!("option_values/{k}")] = x.clone();
            }
        }
        let mut errors = json!({});
        if at.form == format!("variant:{vid}") {
            values = Value::Object(at.values.clone());
            errors = Value::Object(at.errors.clone());
        }
        variants.push(json!({"v": v, "values": values, "errors": errors}));
    }
    let empty = Map::new();
    let (pv, pe) = if at.form == "product" {
        (&at.values, &at.errors)
    } else {
        (&pvalues, &empty)
    };
    let mut newv = json!({"lab": "none"});
    let mut newe = json!({});
    if at.form == "new-variant" {
        newv = Value::Object(at.values.clone());
        newe = Value::Object(at.errors.clone());
    }
    let image_errors = if at.form == "image" {
        Value::Object(at.errors.clone())
    } else {
        json!({})
    };
    let form_error = at.errors.get("_form").cloned();
    render_status(
        web,
        ctx,
        status,
        "admin_product.html",
        json!({
            "section": "products",
            "product": product,
            "values": pv,
            "errors": pe,
            "variants": variants,
            "new_values": newv,
            "new_errors": newe,
            "image_errors": image_errors,
            "image_values": if at.form == "image" { Value::Object(at.values.clone()) } else { json!({}) },
            "categories": categories(web, ctx).await,
            "labs": LABS,
            "currency": cur.code(),
            "notice": q.get("notice"),
            "error": form_error.or_else(|| q.get("error").map(|e| json!(e))),
        }),
    )
    .await
}

/// What to do after a form's API call: back to the page with a notice, or
/// the page again with the mistakes beside their fields.
async fn after(
    web: &Web,
    ctx: &Ctx,
    id: &str,
    r: crate::api::Answer,
    mut at: Attempt,
    strip: &str,
    done: &str,
) -> Response {
    if r.status == StatusCode::UNAUTHORIZED || r.status == StatusCode::FORBIDDEN {
        return crate::admin::refuse(web, ctx, r.status).await;
    }
    if r.ok() {
        return redirect(
            &format!("/admin/products/{}?notice={}", enc(id), enc(done)),
            &[],
        );
    }
    api_errors(&r, strip, &mut at);
    edit_form(
        web,
        ctx,
        id,
        StatusCode::UNPROCESSABLE_ENTITY,
        at,
        &BTreeMap::new(),
    )
    .await
}

/// `POST /admin/products/{id}`: the product's own fields.
pub(crate) async fn update(
    State(web): State<Web>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> Response {
    let at = Attempt::new("product", typed(&ctx));
    let mut body = json!({
        "title": ctx.text("title").unwrap_or_default(),
        "description": ctx.field("description").unwrap_or("").trim(),
        "status": ctx.text("status").unwrap_or_else(|| "draft".into()),
        "product_type": ctx.text("product_type").unwrap_or_default(),
        "option_names": option_names(ctx.text("option_names")),
        "category_ids": ctx.all("category"),
    });
    if let Some(h) = ctx.text("handle") {
        body["handle"] = json!(h);
    }
    let r = web
        .api
        .call(
            &ctx.caller,
            Method::PATCH,
            &format!("/api/admin/products/{}", enc(&id)),
            Some(&body),
            &[],
        )
        .await;
    after(&web, &ctx, &id, r, at, "", "Product saved.").await
}

async fn product_options(web: &Web, ctx: &Ctx, id: &str) -> Vec<String> {
    let p = web
        .api
        .get(&ctx.caller, &format!("/api/admin/products/{}", enc(id)))
        .await;
    p.body["option_names"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// `POST /admin/products/{id}/variants`: a new variant.
pub(crate) async fn add_variant(
    State(web): State<Web>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> Response {
    let mut at = Attempt::new("new-variant", typed(&ctx));
    let options = product_options(&web, &ctx, &id).await;
    let body = variant_json(&web, &ctx, &options, false, &mut at);
    if !at.errors.is_empty() {
        return edit_form(
            &web,
            &ctx,
            &id,
            StatusCode::UNPROCESSABLE_ENTITY,
            at,
            &BTreeMap::new(),
        )
        .await;
    }
    let r = web
        .api
        .call(
            &ctx.caller,
            Method::POST,
            &format!("/api/admin/products/{}/variants", enc(&id)),
            Some(&body),
            &[],
        )
        .await;
    after(&web, &ctx, &id, r, at, "", "Variant added.").await
}

/// `POST /admin/products/{id}/variants/{variant}`: one variant's fields;
/// `.../delete` removes it.
pub(crate) async fn update_variant(
    State(web): State<Web>,
    Extension(ctx): Extension<Ctx>,
    Path((id, variant)): Path<(String, String)>,
) -> Response {
    let mut at = Attempt::new(&format!("variant:{variant}"), typed(&ctx));
    let options = product_options(&web, &ctx, &id).await;
    let body = variant_json(&web, &ctx, &options, true, &mut at);
    if !at.errors.is_empty() {
        return edit_form(
            &web,
            &ctx,
            &id,
            StatusCode::UNPROCESSABLE_ENTITY,
            at,
            &BTreeMap::new(),
        )
        .await;
    }
    let r = web
        .api
        .call(
            &ctx.caller,
            Method::PATCH,
            &format!("/api/admin/variants/{}", enc(&variant)),
            Some(&body),
            &[],
        )
        .await;
    after(&web, &ctx, &id, r, at, "", "Variant saved.").await
}

/// `POST /admin/products/{id}/variants/{variant}/delete`.
pub(crate) async fn delete_variant(
    State(web): State<Web>,
    Extension(ctx): Extension<Ctx>,
    Path((id, variant)): Path<(String, String)>,
) -> Response {
    let r = web
        .api
        .call(
            &ctx.caller,
            Method::DELETE,
            &format!("/api/admin/variants/{}", enc(&variant)),
            None,
            &[],
        )
        .await;
    let at = Attempt::new("", Map::new());
    after(&web, &ctx, &id, r, at, "", "Variant deleted.").await
}

/// `POST /admin/products/{id}/images/{image}/delete`.
pub(crate) async fn delete_image(
    State(web): State<Web>,
    Extension(ctx): Extension<Ctx>,
    Path((id, image)): Path<(String, String)>,
) -> Response {
    let r = web
        .api
        .call(
            &ctx.caller,
            Method::DELETE,
            &format!("/api/admin/products/{}/images/{}", enc(&id), enc(&image)),
            None,
            &[],
        )
        .await;
    let at = Attempt::new("", Map::new());
    after(&web, &ctx, &id, r, at, "", "Image removed.").await
}

/// `POST /admin/products/{id}/images` (a `multipart/form-data` form): the
/// file goes through the API's signed upload URL, then is attached to the
/// product, exactly as a script calling the API would do it.
pub(crate) async fn upload_image(
    State(web): State<Web>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> Response {
    let mut at = Attempt::new("image", typed(&ctx));
    let Some(file) = ctx.file("image").cloned() else {
        at.error(
            "image",
            "choose an image file (PNG, JPEG, WebP, GIF or SVG)",
        );
        return edit_form(
            &web,
            &ctx,
            &id,
            StatusCode::UNPROCESSABLE_ENTITY,
            at,
            &BTreeMap::new(),
        )
        .await;
    };
    let ticket = web
        .api
        .call(
            &ctx.caller,
            Method::POST,
            "/api/admin/uploads",
            Some(&json!({"filename": file.filename, "content_type": file.content_type})),
            &[],
        )
        .await;
    if !ticket.ok() {
        // `content_type` and `filename` are the file's: say so on the file.
        let mut inner = Attempt::default();
        api_errors(&ticket, "", &mut inner);
        for (_, v) in inner.errors {
            at.error("image", v.as_str().unwrap_or("invalid"));
        }
        return after(&web, &ctx, &id, ticket, at, "", "").await;
    }
    let url = ticket.body["upload_url"].as_str().unwrap_or("").to_string();
    let headers: Vec<(String, String)> = ticket.body["headers"]
        .as_object()
        .map(|h| {
            h.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default();
    if let Err(why) = put_upload(&web, &ctx, &url, &headers, &file).await {
        at.error("image", &why);
        return edit_form(
            &web,
            &ctx,
            &id,
            StatusCode::BAD_GATEWAY,
            at,
            &BTreeMap::new(),
        )
        .await;
    }
    let key = ticket.body["object_key"].as_str().unwrap_or("");
    let r = web
        .api
        .call(
            &ctx.caller,
            Method::POST,
            &format!("/api/admin/products/{}/images", enc(&id)),
            Some(&json!({"object_key": key, "alt": ctx.text("alt").unwrap_or_default()})),
            &[],
        )
        .await;
    if !r.ok() {
        let mut inner = Attempt::default();
        api_errors(&r, "", &mut inner);
        for (k, v) in inner.errors {
            let k = if k == "object_key" { "image" } else { &k };
            at.error(k, v.as_str().unwrap_or("invalid"));
        }
    }
    after(&web, &ctx, &id, r, at, "", "Image uploaded.").await
}

/// PUTs the file to its signed URL with the ticket's headers: through this
/// process when the URL is the shop's own storage route, over the network
/// otherwise (S3, where the headers are part of the signature).
async fn put_upload(
    web: &Web,
    ctx: &Ctx,
    url: &str,
    headers: &[(String, String)],
    file: &Upload,
) -> Result<(), String> {
    let base = web.config.public_url.trim_end_matches('/');
    let local = url
        .strip_prefix(base)
        .filter(|p| p.starts_with("/storage/"))
        .or_else(|| url.starts_with("/storage/").then_some(url));
    if let Some(path) = local {
        let r = web
            .api
            .put_bytes(&ctx.caller, path, &file.content_type, file.bytes.clone())
            .await;
        return if r.ok() {
            Ok(())
        } else {
            Err(format!("the upload failed: {}", r.detail()))
        };
    }
    let mut req = reqwest::Client::new()
        .put(url)
        .header(reqwest::header::CONTENT_TYPE, &file.content_type);
    for (name, value) in headers {
        req = req.header(name, value);
    }
    let res = req
        .body(file.bytes.clone())
        .send()
        .await
        .map_err(|e| format!("the upload failed: {e}"))?;
    if res.status().is_success() {
        Ok(())
    } else {
        Err(format!("the storage refused the upload ({})", res.status()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_typed_as_money_become_minor_units() {
        assert_eq!(parse_money("24", 2), Some(2400));
        assert_eq!(parse_money("24.5", 2), Some(2450));
        assert_eq!(parse_money("$24.50", 2), Some(2450));
        assert_eq!(parse_money("24,50", 2), Some(2450));
        assert_eq!(parse_money("0", 2), Some(0));
        assert_eq!(parse_money("1200", 0), Some(1200));
        assert_eq!(parse_money("24.505", 2), None);
        assert_eq!(parse_money("-3", 2), None);
        assert_eq!(parse_money("24 dollars", 2), None);
        assert_eq!(parse_money("", 2), None);
    }

    #[test]
    fn minor_units_show_as_the_amount_typed() {
        assert_eq!(money_input(2450, 2), "24.50");
        assert_eq!(money_input(5, 2), "0.05");
        assert_eq!(money_input(1200, 0), "1200");
        assert_eq!(parse_money(&money_input(99_999, 2), 2), Some(99_999));
    }
}
