//! The storefront: home, catalog, product and designer, cart, checkout, and
//! the order page a buyer comes back to.

use crate::session::{cookie, Ctx, CART, LANG, ORDER_PREFIX};
use crate::views::{message, redirect, render, render_status};
use crate::Web;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::Extension;
use http::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Percent-encodes a query value.
pub(crate) fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A query string from pairs, empty values left out.
pub(crate) fn query_string(pairs: &[(&str, Option<&str>)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            s.append_pair(k, v);
        }
    }
    s.finish()
}

/// A path on this site to go back to (never another site).
pub(crate) fn local_path(p: Option<&str>) -> String {
    match p {
        Some(p) if p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') => p.to_string(),
        _ => "/".to_string(),
    }
}

/// Home: featured products and categories. The payment provider sends the
/// buyer back to `/?order=…`: that goes on to the order page.
pub(crate) async fn home(
    State(web): State<Web>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    if let Some(order) = q.get("order").filter(|o| o.starts_with("ord_")) {
        // A link from an email carries the order's access token: keep it.
        let to = match q.get("token").filter(|t| !t.is_empty()) {
            Some(token) => format!("/orders/{}?token={}", enc(order), enc(token)),
            None => format!("/orders/{}", enc(order)),
        };
        return redirect(&to, &[]);
    }
    let products = web
        .api
        .get(&ctx.caller, "/api/store/products?limit=8")
        .await;
    let categories = web.api.get(&ctx.caller, "/api/store/categories").await;
    render(
        &web,
        &ctx,
        "home.html",
        json!({
            "products": products.body.get("products").cloned().unwrap_or(json!([])),
            "categories": top_categories(&categories.body),
            "poster": products.body.get("products").and_then(Value::as_array)
                .and_then(|p| p.iter().find(|p| p["product_type"] == "starmap_poster")).cloned(),
        }),
    )
    .await
}

fn top_categories(body: &Value) -> Value {
    Value::Array(
        body.get("categories")
            .and_then(Value::as_array)
            .map(|c| {
                c.iter()
                    .filter(|c| c["parent_id"].is_null())
                    .cloned()
                    .collect()
            })
            .unwrap_or_default(),
    )
}

/// Catalog filters, as the form sends them.
#[derive(Debug, Deserialize, Default)]
pub(crate) struct CatalogQuery {
    q: Option<String>,
    category: Option<String>,
    sort: Option<String>,
    cursor: Option<String>,
}

/// The catalog: search, category, sort, pages.
pub(crate) async fn catalog(
    State(web): State<Web>,
    Extension(ctx): Extension<Ctx>,
    Query(f): Query<CatalogQuery>,
) -> Response {
    let sort = f
        .sort
        .as_deref()
        .filter(|s| matches!(*s, "newest" | "price_asc" | "price_desc"));
    let qs = query_string(&[
        ("limit", Some("12")),
        ("q", f.q.as_deref().map(str::trim)),
        ("category", f.category.as_deref()),
        ("sort", sort),
        ("cursor", f.cursor.as_deref()),
    ]);
    let mut products = web
        .api
        .get(&ctx.caller, &format!("/api/store/products?{qs}"))
        .await;
    if !products.ok() {
        // A stale cursor or an unknown category: show the first page instead
        // of an error.
        products = web
            .api
            .get(&ctx.caller, "/api/store/products?limit=12")
            .await;
    }
    let categories = web.api.get(&ctx.caller, "/api/store/categories").await;
    let next = products
        .body
        .get("next_cursor")
        .and_then(Value::as_str)
        .map(|c| {
            format!(
                "/shop?{}",
                query_string(&[
                    ("q", f.q.as_deref()),
                    ("category", f.category.as_deref()),
                    ("sort", sort),
                    ("cursor", Some(c)),
                ])
            )
        });
    render(
        &web,
        &ctx,
        "catalog.html",
        json!({
            "products": products.body.get("products").cloned().unwrap_or(json!([])),
            "categories": categories.body.get("categories").cloned().unwrap_or(json!([])),
            "q": f.q.unwrap_or_default(),
            "category": f.category.unwrap_or_default(),
            "sort": sort.unwrap_or("newest"),
            "next": next,
            "paged": f.cursor.is_some(),
        }),
    )
    .await
}

/// The designer's choices, from the preview's own options endpoint: every
/// list there (themes, languages, and whatever is added later) becomes a
/// picker named by its singular (`themes` → `theme`). Sizes come from the
/// product's variants instead, since the variant fixes the size.
fn designer_choices(options: &Value, lang: crate::i18n::Lang) -> Value {
    let mut out = Vec::new();
    if let Some(obj) = options.as_object() {
        for (key, v) in obj {
            let Some(list) = v.as_array() else { continue };
            if key == "sizes" || list.is_empty() {
                continue;
            }
            let name = key.strip_suffix('s').unwrap_or(key);
            let items: Vec<Value> = list
                .iter()
                .filter_map(|i| match i {
                    Value::String(s) => {
                        Some(json!({"id": s, "name": language_name(s).unwrap_or(s)}))
                    }
                    // A layout of two skies needs a second place and date
                    // this form does not ask for: not offered here (the API
                    // still draws it).
                    Value::Object(o) if o.get("skies").and_then(Value::as_u64) > Some(1) => None,
                    Value::Object(o) => {
                        let id = o.get("id").and_then(Value::as_str)?;
                        let own = lang.t(&format!("{name}_{id}"));
                        let label = if own.is_empty() {
                            o.get("name").and_then(Value::as_str).unwrap_or(id)
                        } else {
                            own
                        };
                        Some(json!({"id": id, "name": label, "swatch": o.get("background")}))
                    }
                    _ => None,
                })
                .collect();
            if items.is_empty() {
                continue;
            }
            let label = match name {
                "language" => lang.t("poster_language"),
                other => lang.t(other),
            };
            let label = if label.is_empty() {
                let mut l = name.replace('_', " ");
                if let Some(f) = l.get_mut(0..1) {
                    f.make_ascii_uppercase();
                }
                l
            } else {
                label.to_string()
            };
            out.push(json!({"name": name, "label": label, "items": items}));
        }
    }
    Value::Array(out)
}

fn language_name(code: &str) -> Option<&'static str> {
    Some(match code {
        "en" => "English",
        "es" => "Español",
        "fr" => "Français",
        "de" => "Deutsch",
        "it" => "Italiano",
        "pt" => "Português",
        _ => return None,
    })
}

/// The designer's (and product form's) fields in the order they are shown:
/// the first at fault gets the focus.
const FORM_ORDER: &[&str] = &[
    "variant", "place", "date", "time", "fold", "theme", "language", "title", "message", "quantity",
];

/// The API's field errors (`options/time: must be…`) as sentences for people,
/// keyed by the form field they belong to (`time`), and those fields in the
/// order of the form. Paths and field names never reach the page.
fn human_errors(
    raw: &Map<String, Value>,
    lang: crate::i18n::Lang,
    limits: &Value,
    designer: bool,
) -> (Map<String, Value>, Vec<String>) {
    let mut out = Map::new();
    for (path, detail) in raw {
        let detail = detail.as_str().unwrap_or_default();
        let name = path.strip_prefix("options/").unwrap_or(path);
        let name = name.split('/').next().unwrap_or(name);
        let (field, text) = match name {
            "place_id" | "lat" | "lon" | "tz" | "place" | "place_query" => {
                let key = if detail == lang.t("place_unknown") {
                    "place_unknown"
                } else {
                    "err_place"
                };
                ("place", lang.t(key).to_string())
            }
            "date" | "at" => (
                "date",
                lang.t("err_date")
                    .replace("{min}", limits["min_date"].as_str().unwrap_or("1800-01-01"))
                    .replace("{max}", limits["max_date"].as_str().unwrap_or("2200-12-31")),
            ),
            "time" | "fold" => {
                // A local time the clocks skipped: the API names the one meant.
                let meant = detail
                    .split_once("did you mean ")
                    .map(|(_, r)| r.trim_end_matches('?').trim().to_string());
                match meant {
                    Some(m) if detail.contains("does not exist") => {
                        ("time", lang.t("err_time_gap").replace("{time}", &m))
                    }
                    _ => ("time", lang.t("err_time").to_string()),
                }
            }
            "title" | "message" if detail.contains("no glyph for") => (
                name,
                crate::sentences::glyph_sentence(lang, lang.t(&format!("glyph_{name}")), detail),
            ),
            "title" | "message" if !detail.contains("at most") => {
                (name, crate::sentences::field_sentence(lang, name, detail))
            }
            "second" => ("form", lang.t("err_second").to_string()),
            "title" | "message" => (
                name,
                lang.t(if name == "title" {
                    "err_title"
                } else {
                    "err_message"
                })
                .replace(
                    "{n}",
                    &limits[if name == "title" {
                        "max_title_chars"
                    } else {
                        "max_message_chars"
                    }]
                    .as_u64()
                    .unwrap_or(80)
                    .to_string(),
                ),
            ),
            "variant_id" | "size" => ("variant", lang.t("err_choice").to_string()),
            "quantity" if !designer => ("quantity", lang.t("err_quantity").to_string()),
            "theme" | "language" => (name, lang.t("err_choice").to_string()),
            "form" if !detail.is_empty() && !detail.contains(':') => ("form", detail.to_string()),
            _ => ("form", lang.t("err_add").to_string()),
        };
        out.entry(field.to_string()).or_insert(Value::String(text));
    }
    let mut order: Vec<String> = FORM_ORDER
        .iter()
        .filter(|f| out.contains_key(**f))
        .map(|f| f.to_string())
        .collect();
    order.extend(
        out.keys()
            .filter(|k| !FORM_ORDER.contains(&k.as_str()) && *k != "form")
            .cloned(),
    );
    (out, order)
}

/// The place a refused designer form had chosen (`optn_place_id`), found
/// again by its label among the suggestions: `{id, label, lat, lon, tz}`;
/// null when none was chosen.
async fn chosen_place(web: &Web, ctx: &Ctx, values: &Map<String, Value>) -> Value {
    let id = values.get("optn_place_id").and_then(|v| match v {
        Value::String(s) => s.trim().parse::<u64>().ok(),
        other => other.as_u64(),
    });
    let Some(id) = id else { return Value::Null };
    let label = values
        .get("opt_place_query")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .trim()
        .to_string();
    let city = label.split(',').next().unwrap_or("").trim().to_string();
    for q in [label, city] {
        if q.is_empty() {
            continue;
        }
        let r = web
            .api
            .get(
                &ctx.caller,
                &format!("/api/store/starmap/places?limit=20&q={}", enc(&q)),
            )
            .await;
        if let Some(p) = r.body["places"]
            .as_array()
            .and_then(|l| l.iter().find(|p| p["id"].as_u64() == Some(id)))
        {
            let label = p["label"].as_str().map(str::to_string).unwrap_or_else(|| {
                format!(
                    "{}, {}",
                    p["name"].as_str().unwrap_or(""),
                    p["country"].as_str().unwrap_or("")
                )
            });
            return json!({
                "id": id,
                "label": label,
                "lat": format!("{:.3}", p["lat"].as_f64().unwrap_or(0.0)),
                "lon": format!("{:.3}", p["lon"].as_f64().unwrap_or(0.0)),
                "tz": p["tz"],
            });
        }
    }
    json!({"id": id})
}

/// The preview of a refused designer form, drawn from what it chose; none
/// when the date or time is at fault (there is no sky at a time that is not).
fn redraw_url(values: &Map<String, Value>, product: &Value, fault: &[String]) -> Option<String> {
    if fault
        .iter()
        .any(|f| f == "date" || f == "time" || f == "place")
    {
        return None;
    }
    let mut o = Map::new();
    for (k, v) in values {
        let Some(v) = v.as_str() else { continue };
        let v = v.trim();
        if let Some(name) = k.strip_prefix("optb_") {
            o.insert(name.into(), json!(v == "true" || v == "on"));
        } else if let Some(name) = k.strip_prefix("opt_").or_else(|| k.strip_prefix("optn_")) {
            if name != "place_query" && !v.is_empty() && !fault.iter().any(|f| f == name) {
                o.insert(name.into(), json!(v));
            }
        }
    }
    let variant = values.get("variant_id").and_then(Value::as_str);
    if let Some(size) = product["variants"].as_array().and_then(|vs| {
        vs.iter()
            .find(|v| v["id"].as_str() == variant)
            .and_then(|v| v["option_values"]["size"].as_str())
    }) {
        o.insert("size".into(), json!(size.to_lowercase()));
    }
    // Every choice of the form (layout, shape, font… too), as the designer's
    // script asks for its previews.
    o.get("date")?;
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in &o {
        match v {
            Value::String(v) => q.append_pair(k, v),
            Value::Bool(b) => q.append_pair(k, if *b { "true" } else { "false" }),
            other => q.append_pair(k, &other.to_string()),
        };
    }
    q.append_pair("px", "700");
    Some(format!("/api/store/starmap/preview?{}", q.finish()))
}

/// The product page; for a star-map poster, the designer.
pub(crate) async fn product(
    State(web): State<Web>,
    Extension(ctx): Extension<Ctx>,
    Path(handle): Path<String>,
) -> Response {
    product_view(&web, &ctx, &handle, Map::new(), Map::new(), StatusCode::OK).await
}

async fn product_view(
    web: &Web,
    ctx: &Ctx,
    handle: &str,
    errors: Map<String, Value>,
    values: Map<String, Value>,
    status: StatusCode,
) -> Response {
    let p = web
        .api
        .get(&ctx.caller, &format!("/api/store/products/{}", enc(handle)))
        .await;
    if !p.ok() {
        let t = ctx.lang;
        return message(
            web,
            ctx,
            StatusCode::NOT_FOUND,
            t.t("not_found"),
            t.t("no_results_hint"),
        )
        .await;
    }
    let designer = p.body["product_type"] == "starmap_poster";
    let (choices, limits) = if designer {
        let o = web.api.get(&ctx.caller, "/api/store/starmap/options").await;
        (designer_choices(&o.body, ctx.lang), o.body)
    } else {
        (json!([]), json!({}))
    };
    let (errors, fault) = human_errors(&errors, ctx.lang, &limits, designer);
    // Back after a refusal: the place chosen (its coordinates and zone) and
    // the sky drawn from everything chosen, so nothing is to be picked again.
    let place = if designer {
        chosen_place(web, ctx, &values).await
    } else {
        Value::Null
    };
    let preview = if place.is_null() {
        None
    } else {
        redraw_url(&values, &p.body, &fault)
    };
    let today = cielo_core::Timestamp::now().to_string();
    render_status(
        web,
        ctx,
        status,
        "product.html",
        json!({
            "product": p.body,
            "designer": designer,
            "choices": choices,
            "limits": limits,
            "errors": errors,
            "fault": fault,
            "focus": fault.first(),
            "place": place,
            "preview": preview,
            "values": values,
            "today": today.get(..10).unwrap_or("2026-01-01"),
            "ships_to": shipping_countries(web, ctx.lang),
        }),
    )
    .await
}

/// Opens a cart when the visitor has none open; returns its id and the cookie
/// to set when it is new.
async fn open_cart(web: &Web, ctx: &Ctx) -> Result<(String, Option<String>), String> {
    if let Some(id) = &ctx.cart {
        let c = web
            .api
            .get(&ctx.caller, &format!("/api/store/carts/{id}"))
            .await;
        if c.ok() && c.body["status"] == "open" {
            return Ok((id.clone(), None));
        }
    }
    let c = web
        .api
        .call(&ctx.caller, Method::POST, "/api/store/carts", None, &[])
        .await;
    let id = c
        .body
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| c.detail())?
        .to_string();
    let set = cookie(CART, &id, Some(30 * 86400), web.secure_cookies);
    Ok((id, Some(set)))
}

/// Personalisation from the designer's form: fields `opt_<name>` are text,
/// `optb_<name>` yes/no (a hidden `false` precedes each checkbox),
/// `optn_<name>` numbers; empty fields are left out.
fn line_options(ctx: &Ctx) -> Option<Value> {
    let mut out = Map::new();
    for (k, _) in &ctx.form {
        let Some(v) = ctx.field(k) else { continue };
        let v = v.trim();
        if let Some(name) = k.strip_prefix("opt_") {
            if !v.is_empty() {
                out.insert(name.to_string(), Value::String(v.to_string()));
            }
        } else if let Some(name) = k.strip_prefix("optb_") {
            out.insert(name.to_string(), Value::Bool(v == "true" || v == "on"));
        } else if let Some(name) = k.strip_prefix("optn_") {
            if let Ok(n) = v.parse::<f64>() {
                let n = if n.fract() == 0.0 && n.abs() < 1e15 {
                    json!(n as i64)
                } else {
                    json!(n)
                };
                out.insert(name.to_string(), n);
            }
        }
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

/// Adds a product (with its personalisation) to the cart.
pub(crate) async fn cart_add(State(web): State<Web>, Extension(ctx): Extension<Ctx>) -> Response {
    let handle = ctx.text("handle").unwrap_or_default();
    let variant = ctx.text("variant_id").unwrap_or_default();
    // No number (or not a whole one) is said beside the box, never taken as 1.
    let quantity: i64 = match ctx.text("quantity").map(|q| q.parse::<i64>()) {
        None => 1,
        Some(Ok(q)) => q,
        Some(Err(_)) => {
            let mut errors = Map::new();
            errors.insert("quantity".into(), json!("not a number"));
            return product_view(
                &web,
                &ctx,
                &handle,
                errors,
                form_values(&ctx),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let mut options = line_options(&ctx);
    // Without JavaScript there are no suggestions: take the biggest city
    // whose name starts with what was typed.
    if let Some(Value::Object(o)) = options.as_mut() {
        if !o.contains_key("place_id") && !o.contains_key("lat") {
            if let Some(Value::String(typed)) = o.remove("place_query") {
                // What was typed, then its part before a comma: the label the
                // suggestions show ("Madrid, Spain") names the city first.
                let mut found = None;
                let city = typed.split(',').next().unwrap_or("").trim().to_string();
                for q in [typed.trim().to_string(), city] {
                    if q.is_empty() || found.is_some() {
                        continue;
                    }
                    let r = web
                        .api
                        .get(
                            &ctx.caller,
                            &format!("/api/store/starmap/places?limit=1&q={}", enc(&q)),
                        )
                        .await;
                    found = r.body["places"].get(0).and_then(|p| p["id"].as_u64());
                }
                match found {
                    Some(id) => {
                        o.insert("place_id".into(), json!(id));
                    }
                    None => {
                        let mut errors = Map::new();
                        errors.insert(
                            "options/place_id".into(),
                            json!(ctx.lang.t("place_unknown")),
                        );
                        return product_view(
                            &web,
                            &ctx,
                            &handle,
                            errors,
                            form_values(&ctx),
                            StatusCode::UNPROCESSABLE_ENTITY,
                        )
                        .await;
                    }
                }
            }
        } else {
            o.remove("place_query");
        }
    }
    let (cart, set) = match open_cart(&web, &ctx).await {
        Ok(c) => c,
        Err(e) => {
            return message(
                &web,
                &ctx,
                StatusCode::SERVICE_UNAVAILABLE,
                ctx.lang.t("cart"),
                &e,
            )
            .await
        }
    };
    let mut body = json!({"variant_id": variant, "quantity": quantity});
    if let Some(o) = options {
        body["options"] = o;
    }
    let r = web
        .api
        .call(
            &ctx.caller,
            Method::POST,
            &format!("/api/store/carts/{cart}/lines"),
            Some(&body),
            &[],
        )
        .await;
    if r.ok() {
        let cookies: Vec<String> = set.into_iter().collect();
        return redirect("/cart", &cookies);
    }
    let mut errors = r.field_errors();
    if errors.is_empty() {
        errors.insert("form".into(), json!(r.detail()));
    }
    let mut values = form_values(&ctx);
    // The place found from what was typed (without JavaScript) stays chosen.
    if let Some(id) = body["options"]["place_id"].as_u64() {
        values.insert("optn_place_id".into(), json!(id.to_string()));
    }
    let mut res = product_view(
        &web,
        &ctx,
        &handle,
        errors,
        values,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    if let Some(c) = set.and_then(|c| c.parse().ok()) {
        res.headers_mut().append(http::header::SET_COOKIE, c);
    }
    res
}

fn form_values(ctx: &Ctx) -> Map<String, Value> {
    ctx.form
        .iter()
        .filter(|(k, _)| k != "_csrf")
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect()
}

/// Keys a cart line's stored poster options share with the preview.
const PREVIEW_KEYS: &[&str] = &[
    "place_id",
    "lat",
    "lon",
    "date",
    "time",
    "tz",
    "theme",
    "size",
    "title",
    "message",
    "place",
    "language",
    "constellation_names",
    "grid",
];

fn preview_url(options: &Value, px: u32) -> Option<String> {
    let o = options.as_object()?;
    o.get("date")?;
    let mut s = form_urlencoded::Serializer::new(String::new());
    for k in PREVIEW_KEYS {
        match o.get(*k) {
            Some(Value::String(v)) => {
                s.append_pair(k, v);
            }
            Some(Value::Number(n)) => {
                s.append_pair(k, &n.to_string());
            }
            Some(Value::Bool(b)) => {
                s.append_pair(k, if *b { "true" } else { "false" });
            }
            _ => {}
        }
    }
    s.append_pair("px", &px.to_string());
    Some(format!("/api/store/starmap/preview?{}", s.finish()))
}

/// Destination chosen on the cart page for its shipping line.
#[derive(Debug, Deserialize, Default)]
pub(crate) struct Destination {
    country: Option<String>,
    region: Option<String>,
    /// What the last quantity change did, said above the lines: `capped`
    /// (more than the most asked for: set to the most) or `removed`.
    notice: Option<String>,
    /// With `notice=refused`: the line whose typed quantity was refused,
    /// and what was typed (shown again beside its box).
    line: Option<String>,
    typed: Option<String>,
}

/// The cart: quantities, removal, thumbnails, and shipping to a chosen country
/// at the rates checkout will charge.
pub(crate) async fn cart(
    State(web): State<Web>,
    Extension(ctx): Extension<Ctx>,
    Query(d): Query<Destination>,
) -> Response {
    // A refused quantity comes back here (post, redirect, get): said beside
    // its box with what was typed.
    let mut errors = Map::new();
    if let (Some("refused"), Some(line)) = (d.notice.as_deref(), d.line.as_deref()) {
        errors.insert(
            line.to_string(),
            json!({
                "text": ctx.lang.t("err_cart_quantity").replace("{n}", &MAX_QUANTITY.to_string()),
                "typed": d.typed.clone().unwrap_or_default(),
            }),
        );
    }
    let d = Destination {
        notice: d.notice.filter(|n| n != "refused"),
        line: None,
        typed: None,
        ..d
    };
    cart_view(&web, &ctx, d, errors, StatusCode::OK).await
}

/// The cart page; `errors` maps a line id to what is wrong with the quantity
/// typed for it (`typed` keeps that text in the box).
async fn cart_view(
    web: &Web,
    ctx: &Ctx,
    d: Destination,
    errors: Map<String, Value>,
    status: StatusCode,
) -> Response {
    let notice = match d.notice.as_deref() {
        Some("capped") => Some(
            ctx.lang
                .t("qty_capped")
                .replace("{n}", &MAX_QUANTITY.to_string()),
        ),
        Some("removed") => Some(ctx.lang.t("qty_removed").to_string()),
        _ => None,
    };
    let cart = match &ctx.cart {
        Some(id) => {
            let c = web
                .api
                .get(&ctx.caller, &format!("/api/store/carts/{id}"))
                .await;
            (c.ok() && c.body["status"] == "open").then_some(c.body)
        }
        None => None,
    };
    let country = d
        .country
        .as_deref()
        .map(|c| c.trim().to_ascii_uppercase())
        .filter(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()));
    let region = d
        .region
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty() && r.len() <= 10)
        .map(str::to_ascii_uppercase);
    let mut lines = Vec::new();
    let mut totals = Value::Null;
    if let Some(c) = &cart {
        for l in c["lines"].as_array().cloned().unwrap_or_default() {
            let mut l = l;
            let thumb = match l.get("options").and_then(|o| preview_url(o, 240)) {
                Some(u) => Some(u),
                None => {
                    let p = web
                        .api
                        .get(
                            &ctx.caller,
                            &format!(
                                "/api/store/products/{}",
                                l["product_id"].as_str().unwrap_or("")
                            ),
                        )
                        .await;
                    l["handle"] = p.body["handle"].clone();
                    p.body["images"][0]["url"].as_str().map(str::to_string)
                }
            };
            l["thumb"] = json!(thumb);
            lines.push(l);
        }
        totals = c["totals"].clone();
        if let (Some(country), Some(currency)) = (
            country.as_deref(),
            c["currency"]
                .as_str()
                .and_then(|c| cielo_core::Currency::parse(c).ok()),
        ) {
            let p = &web.config.pricing;
            let shipping = if lines.is_empty() {
                cielo_core::Money::zero(currency)
            } else {
                p.shipping(currency, Some(country), region.as_deref())
            };
            let subtotal = cielo_core::Money::new(
                c["totals"]["subtotal"]["amount"].as_i64().unwrap_or(0),
                currency,
            );
            let tax = subtotal
                .percentage_bp(p.tax_bp(Some(country)))
                .unwrap_or(cielo_core::Money::zero(currency));
            let total = subtotal
                .checked_add(shipping)
                .and_then(|t| t.checked_add(tax))
                .unwrap_or(subtotal);
            totals =
                json!({"subtotal": subtotal, "shipping": shipping, "tax": tax, "total": total});
        }
    }
    render_status(
        web,
        ctx,
        status,
        "cart.html",
        json!({
            "cart": cart,
            "notice": notice,
            "errors": errors,
            "max_quantity": MAX_QUANTITY,
            "lines": lines,
            "totals": totals,
            "country": country,
            "region": region,
            "countries": shipping_countries(web, ctx.lang),
        }),
    )
    .await
}

/// Most of one item on a cart line (the API refuses more with a 422).
const MAX_QUANTITY: i64 = cielo_orders::MAX_QUANTITY;

/// Changes a line's quantity, or removes it, and says what it did: `remove`
/// or 0 removes the line ("removed"); more than [`MAX_QUANTITY`] sets the
/// most ("capped"); a negative number or no number is refused beside the box
/// and nothing changes.
pub(crate) async fn cart_update(
    State(web): State<Web>,
    Extension(ctx): Extension<Ctx>,
    Path(line): Path<String>,
) -> Response {
    let back = local_path(ctx.field("back"));
    let back = if back.starts_with("/cart") {
        back
    } else {
        "/cart".to_string()
    };
    let Some(cart) = ctx.cart.clone() else {
        return redirect("/cart", &[]);
    };
    let path = format!("/api/store/carts/{cart}/lines/{}", enc(&line));
    let typed = ctx.text("quantity").unwrap_or_default();
    let remove = ctx.field("action") == Some("remove");
    // Only digits (with a sign) are a whole number: "1e3" or "12.0" is
    // refused and said, never read as 1000 or 12.
    let quantity = typed.parse::<i64>().ok();
    let with_notice = |n: &str| {
        let kept: String = back
            .split_once('?')
            .map(|(_, q)| {
                form_urlencoded::parse(q.as_bytes())
                    .filter(|(k, _)| !matches!(&**k, "notice" | "line" | "typed"))
                    .fold(
                        form_urlencoded::Serializer::new(String::new()),
                        |mut s, (k, v)| {
                            s.append_pair(&k, &v);
                            s
                        },
                    )
                    .finish()
            })
            .unwrap_or_default();
        if kept.is_empty() {
            format!("/cart?notice={n}")
        } else {
            format!("/cart?{kept}&notice={n}")
        }
    };
    match (remove, quantity) {
        (true, _) | (false, Some(0)) => {
            web.api
                .call(&ctx.caller, Method::DELETE, &path, None, &[])
                .await;
            redirect(&with_notice("removed"), &[])
        }
        (false, Some(q)) if q > 0 => {
            let set = q.min(MAX_QUANTITY);
            web.api
                .call(
                    &ctx.caller,
                    Method::PATCH,
                    &path,
                    Some(&json!({"quantity": set})),
                    &[],
                )
                .await;
            if q > MAX_QUANTITY {
                redirect(&with_notice("capped"), &[])
            } else {
                redirect(&back, &[])
            }
        }
        _ => redirect(
            &with_notice(&format!(
                "refused&{}",
                query_string(&[
                    ("line", Some(line.as_str())),
                    ("typed", Some(typed.as_str()))
                ])
            )),
            &[],
        ),
    }
}

/// Names of countries in the pages' two languages: (code, English name,
/// Spanish name). Which countries the shop ships to is the shop's setting
/// (`shipping.countries`, in [`cielo_orders::Pricing::ships_to`]); a country
/// missing here is named by its ISO 3166-1 English name. A poster may show
/// the sky over any place; only the address it is sent to must be shipped to.
const COUNTRY_NAMES: &[(&str, &str, &str)] = &[
    ("US", "United States", "Estados Unidos"),
    ("CA", "Canada", "Canadá"),
    ("MX", "Mexico", "México"),
    ("ES", "Spain", "España"),
    ("AR", "Argentina", "Argentina"),
    ("CL", "Chile", "Chile"),
    ("CO", "Colombia", "Colombia"),
    ("PE", "Peru", "Perú"),
    ("BR", "Brazil", "Brasil"),
    ("GB", "United Kingdom", "Reino Unido"),
    ("IE", "Ireland", "Irlanda"),
    ("FR", "France", "Francia"),
    ("DE", "Germany", "Alemania"),
    ("IT", "Italy", "Italia"),
    ("PT", "Portugal", "Portugal"),
    ("NL", "Netherlands", "Países Bajos"),
    ("AU", "Australia", "Australia"),
    ("NZ", "New Zealand", "Nueva Zelanda"),
    ("JP", "Japan", "Japón"),
];

/// The countries shipped to (the shop's `shipping.countries`, the list
/// checkout enforces) as `[code, name]` pairs in the page's language,
/// sorted by that name.
pub(crate) fn shipping_countries(web: &Web, lang: crate::i18n::Lang) -> Value {
    let lang = if lang == crate::i18n::Lang::Es {
        "es"
    } else {
        "en"
    };
    let mut list: Vec<(String, String)> = web
        .config
        .pricing
        .ships_to
        .iter()
        .map(|code| (code.clone(), country_name(code, lang)))
        .collect();
    list.sort_by_key(|(_, name)| name.to_lowercase());
    json!(list)
}

/// The name of country `code` in `lang`, else its ISO 3166-1 name, else
/// the code itself.
pub(crate) fn country_name(code: &str, lang: &str) -> String {
    COUNTRY_NAMES
        .iter()
        .find(|(c, _, _)| c.eq_ignore_ascii_case(code))
        .map(|(_, en, es)| if lang == "es" { *es } else { *en })
        .or_else(|| iso3166::Country::from_alpha2_ignore_case(code).map(|c| c.name))
        .unwrap_or(code)
        .to_string()
}

/// The checkout form. Each rendering carries a fresh idempotency key: a
/// double submit of one attempt is one order; a corrected form is a new attempt.
pub(crate) async fn checkout_page(
    State(web): State<Web>,
    Extension(ctx): Extension<Ctx>,
    Query(d): Query<Destination>,
) -> Response {
    let mut values = Map::new();
    if let Some(c) = d.country {
        values.insert("country".into(), json!(c.to_ascii_uppercase()));
    }
    if let Some(r) = d.region {
        values.insert("region".into(), json!(r));
    }
    checkout_view(&web, &ctx, Map::new(), values, StatusCode::OK).await
}

async fn checkout_view(
    web: &Web,
    ctx: &Ctx,
    errors: Map<String, Value>,
    mut values: Map<String, Value>,
    status: StatusCode,
) -> Response {
    let cart = match &ctx.cart {
        Some(id) => {
            web.api
                .get(&ctx.caller, &format!("/api/store/carts/{id}"))
                .await
        }
        None => return redirect("/cart", &[]),
    };
    if !cart.ok()
        || cart.body["status"] != "open"
        || cart.body["lines"].as_array().is_none_or(|l| l.is_empty())
    {
        return redirect("/cart", &[]);
    }
    if values.is_empty() || !values.contains_key("email") {
        // Signed in: the account's default address (else its first), then
        // the account's own name, email and phone for what it leaves empty.
        if ctx.caller.token.is_some() {
            let me = web.api.get(&ctx.caller, "/api/store/me").await;
            let a = web.api.get(&ctx.caller, "/api/store/me/addresses").await;
            let list = a.body["addresses"].as_array().cloned().unwrap_or_default();
            let chosen = list
                .iter()
                .find(|a| a["is_default"] == true)
                .or_else(|| list.first())
                .map(|a| a.get("address").cloned().unwrap_or(a.clone()));
            if let Some(Value::Object(address)) = chosen {
                for k in ADDRESS_FIELDS {
                    if let Some(v) = address
                        .get(*k)
                        .filter(|v| v.as_str().is_some_and(|s| !s.is_empty()))
                    {
                        values.entry(k.to_string()).or_insert(v.clone());
                    }
                }
            }
            if me.ok() {
                for k in ["email", "name", "phone"] {
                    if let Some(v) = me
                        .body
                        .get(k)
                        .filter(|v| v.as_str().is_some_and(|s| !s.is_empty()))
                    {
                        values.entry(k.to_string()).or_insert(v.clone());
                    }
                }
            }
        }
    }
    render_status(
        web,
        ctx,
        status,
        "checkout.html",
        json!({
            "cart": cart.body,
            "errors": errors,
            "values": values,
            "idempotency_key": uuid::Uuid::new_v4().to_string(),
            "countries": shipping_countries(web, ctx.lang),
            // Downloads only: no address to ask for.
            "digital_only": cart.body["lines"]
                .as_array()
                .is_some_and(|l| l.iter().all(|l| l["delivery"] == "digital")),
        }),
    )
    .await
}

/// The fields of a saved address the checkout form shows.
const ADDRESS_FIELDS: &[&str] = &[
    "name",
    "line1",
    "line2",
    "city",
    "region",
    "postal_code",
    "country",
    "phone",
];

/// Places the order and hands the buyer to the payment page.
pub(crate) async fn checkout_submit(
    State(web): State<Web>,
    Extension(ctx): Extension<Ctx>,
) -> Response {
    let Some(cart) = ctx.cart.clone() else {
        return redirect("/cart", &[]);
    };
    let key = ctx
        .text("idempotency_key")
        .filter(|k| k.len() <= 64)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let mut address = json!({
        "name": ctx.text("name").unwrap_or_default(),
        "line1": ctx.text("line1").unwrap_or_default(),
        "city": ctx.text("city").unwrap_or_default(),
        "postal_code": ctx.text("postal_code").unwrap_or_default(),
        "country": ctx.text("country").unwrap_or_default(),
    });
    for k in ["line2", "region", "phone"] {
        if let Some(v) = ctx.text(k) {
            address[k] = json!(v);
        }
    }
    // A cart of downloads only (the form asked for no address) sends none;
    // the API still refuses a cart with goods to ship and no address.
    let no_address = ctx.field("digital_only") == Some("1")
        && ["name", "line1", "city", "postal_code", "country"]
            .iter()
            .all(|k| ctx.text(k).is_none());
    // Only the countries the form offers: a typed code the shop does not
    // ship to is said beside the field before anything is placed.
    let country = ctx.text("country").unwrap_or_default().to_ascii_uppercase();
    if !no_address && !country.is_empty() && !web.config.pricing.ships_to(&country) {
        let mut errors = Map::new();
        errors.insert("country".into(), json!(ctx.lang.t("err_country")));
        return checkout_view(
            &web,
            &ctx,
            errors,
            form_values(&ctx),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let mut body = if no_address {
        json!({})
    } else {
        json!({"shipping_address": address})
    };
    // SMS about the order only with the buyer's yes, to the number given
    // (the API checks it is a mobile number in international form).
    if ctx.field("sms_opt_in") == Some("1") {
        body["sms_opt_in"] = json!(true);
        if let Some(p) = ctx.text("phone") {
            body["phone"] = json!(p);
        }
    }
    if let Some(e) = ctx.text("email") {
        body["email"] = json!(e);
    }
    let r = web
        .api
        .call(
            &ctx.caller,
            Method::POST,
            &format!("/api/store/carts/{cart}/checkout"),
            Some(&body),
            &[("idempotency-key", &key)],
        )
        .await;
    if r.ok() {
        let order = r.body["order_id"].as_str().unwrap_or_default();
        let token = r.body["access_token"].as_str().unwrap_or_default();
        let to = r.body["payment_url"].as_str().unwrap_or("/");
        let cookies = vec![
            cookie(
                &format!("{ORDER_PREFIX}{order}"),
                token,
                Some(90 * 86400),
                web.secure_cookies,
            ),
            cookie(CART, "", Some(0), web.secure_cookies),
        ];
        return redirect(to, &cookies);
    }
    let mut errors = Map::new();
    for (k, v) in r.field_errors() {
        let field = match k.as_str() {
            // No address at all (a cart that changed under the form): said
            // above the form.
            "shipping_address" => "form".to_string(),
            _ => k
                .strip_prefix("shipping_address/")
                .unwrap_or(&k)
                .to_string(),
        };
        let v = if field == "form" {
            v
        } else {
            json!(crate::sentences::field_sentence(
                ctx.lang,
                &field,
                v.as_str().unwrap_or_default()
            ))
        };
        errors.insert(field, v);
    }
    if errors.is_empty() {
        errors.insert("form".into(), json!(r.detail()));
    }
    checkout_view(
        &web,
        &ctx,
        errors,
        form_values(&ctx),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

/// The access to an order: the link's token, or the cookie set at checkout.
#[derive(Debug, Deserialize, Default)]
pub(crate) struct TokenQuery {
    token: Option<String>,
}

const FINAL: &[&str] = &["delivered", "cancelled", "refunded"];

/// The order page: status, timeline, shipments with tracking, print files.
/// It follows the order live (see `app.js`): no reload after paying.
pub(crate) async fn order_page(
    State(web): State<Web>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
    Query(q): Query<OrderQuery>,
) -> Response {
    let token = q
        .token
        .clone()
        .or_else(|| ctx.order_token(&id).map(str::to_string));
    let mut res = order_view(
        &web,
        &ctx,
        &id,
        token.as_deref(),
        StatusCode::OK,
        json!({"saved": q.saved.is_some()}),
    )
    .await;
    // A link with the token also opens the order later from this browser.
    if let Some(t) = q.token.filter(|t| {
        t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    }) {
        if let Ok(c) = cookie(
            &format!("{ORDER_PREFIX}{id}"),
            &t,
            Some(90 * 86400),
            web.secure_cookies,
        )
        .parse()
        {
            res.headers_mut().append(http::header::SET_COOKIE, c);
        }
    }
    res
}

/// The order page's query: the access token of a link, and `saved` after a
/// correction.
#[derive(Debug, Deserialize, Default)]
pub(crate) struct OrderQuery {
    token: Option<String>,
    saved: Option<String>,
}

fn order_api_path(id: &str, token: Option<&str>) -> String {
    match token {
        Some(t) => format!("/api/store/orders/{}?token={}", enc(id), enc(t)),
        None => format!("/api/store/orders/{}", enc(id)),
    }
}

/// Renders the order page; `extra` adds the correction form's values and
/// errors.
async fn order_view(
    web: &Web,
    ctx: &Ctx,
    id: &str,
    token: Option<&str>,
    status_code: StatusCode,
    extra: Value,
) -> Response {
    let o = web.api.get(&ctx.caller, &order_api_path(id, token)).await;
    if !o.ok() {
        let t = ctx.lang;
        return message(
            web,
            ctx,
            StatusCode::NOT_FOUND,
            t.t("order"),
            t.t("order_not_found"),
        )
        .await;
    }
    let status = o.body["status"].as_str().unwrap_or("").to_string();
    let version = format!(
        "{status}/{}/{}/{}/{}",
        o.body["history"].as_array().map_or(0, Vec::len),
        o.body["shipments"].as_array().map_or(0, Vec::len),
        o.body["lines"]
            .as_array()
            .map_or(0, |l| l.iter().filter(|l| !l["artwork"].is_null()).count()),
        o.body["edit_until"].is_string(),
    ) + &format!("/{}", o.body["downloads"]["state"].as_str().unwrap_or("-"));
    let mut page = json!({
        "order": o.body,
        "version": version,
        "live": !FINAL.contains(&status.as_str()),
        "token": token.unwrap_or_default(),
        "countries": shipping_countries(web, ctx.lang),
        // Posters (lines with a date and place) have a title to correct.
        "has_poster": o.body["lines"].as_array().is_some_and(|l| l.iter().any(|l| l["options"]["date"].is_string())),
        "values": o.body["shipping_address"].clone(),
        "errors": {},
        "show_phone": false,
    });
    // A courier's phone stored as typed before phones were checked cannot be
    // sent back as it is: the form shows it, with what to fix.
    let stored_phone = o.body["shipping_address"]["phone"].as_str().unwrap_or("");
    if !stored_phone.is_empty() && cielo_core::phone::normalise(stored_phone).is_none() {
        page["show_phone"] = json!(true);
        page["errors"] = json!({"phone": ctx.lang.t("err_phone")});
    }
    if let (Some(p), Value::Object(x)) = (page.as_object_mut(), extra) {
        let shown = x.get("show_phone").cloned();
        p.extend(x);
        if shown.is_none() && p["errors"].get("phone").is_some() {
            p.insert("show_phone".into(), json!(true));
        }
    }
    render_status(web, ctx, status_code, "order.html", page).await
}

/// `POST /orders/{id}/amend`: during the edit window, the buyer corrects
/// the shipping address and the posters' titles in one call
/// (`PATCH /api/store/orders/{id}`): all of it is saved, or none.
pub(crate) async fn amend_order(
    State(web): State<Web>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> Response {
    let token = ctx
        .text("token")
        .or_else(|| ctx.order_token(&id).map(str::to_string));
    let o = web
        .api
        .get(&ctx.caller, &order_api_path(&id, token.as_deref()))
        .await;
    if !o.ok() {
        let t = ctx.lang;
        return message(
            &web,
            &ctx,
            StatusCode::NOT_FOUND,
            t.t("order"),
            t.t("order_not_found"),
        )
        .await;
    }
    let mut address = json!({
        "name": ctx.text("name").unwrap_or_default(),
        "line1": ctx.text("line1").unwrap_or_default(),
        "city": ctx.text("city").unwrap_or_default(),
        "postal_code": ctx.text("postal_code").unwrap_or_default(),
        "country": ctx.text("country").unwrap_or_default(),
    });
    for k in ["line2", "region"] {
        if let Some(v) = ctx.text(k) {
            address[k] = json!(v);
        }
    }
    // The courier's phone: as typed when the form showed the field (a phone
    // stored before phones were checked); otherwise the stored one is kept,
    // sent back only when it is a valid number (an invalid one would refuse
    // every other correction).
    match ctx.field("phone") {
        Some(_) => {
            if let Some(p) = ctx.text("phone") {
                address["phone"] = json!(p);
            }
        }
        None => {
            if let Some(p) = o.body["shipping_address"]["phone"]
                .as_str()
                .filter(|p| cielo_core::phone::normalise(p).is_some())
            {
                address["phone"] = json!(p);
            }
        }
    }
    let mut body = json!({});
    if address != o.body["shipping_address"] {
        body["shipping_address"] = address;
    }
    // Lines whose title changed, each with its whole options object.
    let mut lines = Vec::new();
    let mut line_index = BTreeMap::new();
    for l in o.body["lines"].as_array().cloned().unwrap_or_default() {
        let lid = l["id"].as_str().unwrap_or("").to_string();
        let Some(title) = ctx.field(&format!("title:{lid}")) else {
            continue;
        };
        let title = title.trim();
        if l["options"]["title"].as_str().unwrap_or("") == title {
            continue;
        }
        let mut options = l["options"].clone();
        options["title"] = json!(title);
        line_index.insert(lines.len(), lid.clone());
        lines.push(json!({"line_id": lid, "options": options}));
    }
    if !lines.is_empty() {
        body["lines"] = json!(lines);
    }
    let back = match &token {
        Some(t) if ctx.order_token(&id).is_none() => {
            format!("/orders/{}?saved=1&token={}", enc(&id), enc(t))
        }
        _ => format!("/orders/{}?saved=1", enc(&id)),
    };
    if body.as_object().is_some_and(|b| b.is_empty()) {
        return redirect(&back, &[]);
    }
    let mut path = format!("/api/store/orders/{}", enc(&id));
    if let Some(t) = &token {
        path.push_str(&format!("?token={}", enc(t)));
    }
    let r = web
        .api
        .call(&ctx.caller, Method::PATCH, &path, Some(&body), &[])
        .await;
    if r.ok() {
        return redirect(&back, &[]);
    }
    let mut errors = Map::new();
    for (k, v) in r.field_errors() {
        let field = if let Some(rest) = k.strip_prefix("lines/") {
            let i: usize = rest
                .split('/')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            match line_index.get(&i) {
                Some(lid) => format!("title:{lid}"),
                None => "form".into(),
            }
        } else if k.starts_with("options") {
            // A line's options are checked one line at a time: the pointer
            // does not say which, so it is the only line changed, if one.
            match (line_index.len(), line_index.values().next()) {
                (1, Some(lid)) => format!("title:{lid}"),
                _ => "form".into(),
            }
        } else {
            k.strip_prefix("shipping_address/")
                .unwrap_or(&k)
                .to_string()
        };
        // In the page's words (the phone's field is shown for it).
        let v = match field.as_str() {
            "form" => v,
            f if f.starts_with("title:") => json!(crate::sentences::field_sentence(
                ctx.lang,
                "poster_title",
                v.as_str().unwrap_or_default()
            )),
            f => json!(crate::sentences::field_sentence(
                ctx.lang,
                f,
                v.as_str().unwrap_or_default()
            )),
        };
        errors.entry(field).or_insert(v);
    }
    if errors.is_empty() {
        errors.insert("form".into(), json!(r.detail()));
    }
    order_view(
        &web,
        &ctx,
        &id,
        token.as_deref(),
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({"values": form_values(&ctx), "errors": errors}),
    )
    .await
}

/// The print file of an order line: a fresh signed link, followed.
pub(crate) async fn print_file(
    State(web): State<Web>,
    Extension(ctx): Extension<Ctx>,
    Path((id, line)): Path<(String, String)>,
    Query(q): Query<TokenQuery>,
) -> Response {
    let token = q.token.or_else(|| ctx.order_token(&id).map(str::to_string));
    let mut path = format!(
        "/api/store/orders/{}/lines/{}/artwork",
        enc(&id),
        enc(&line)
    );
    if let Some(t) = token {
        path.push_str(&format!("?token={}", enc(&t)));
    }
    let a = web.api.get(&ctx.caller, &path).await;
    match a.body.get("url").and_then(Value::as_str) {
        Some(url) if a.ok() => redirect(url, &[]),
        _ => {
            let t = ctx.lang;
            message(
                &web,
                &ctx,
                StatusCode::NOT_FOUND,
                t.t("print_file"),
                &a.detail(),
            )
            .await
        }
    }
}

/// Switches the pages' language and goes back.
pub(crate) async fn set_language(
    State(web): State<Web>,
    Path(lang): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let back = local_path(q.get("back").map(String::as_str));
    match crate::i18n::Lang::parse(&lang) {
        Some(l) => redirect(
            &back,
            &[cookie(
                LANG,
                l.code(),
                Some(365 * 86400),
                web.secure_cookies,
            )],
        ),
        None => redirect(&back, &[]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn designer_pickers_follow_the_options_endpoint() {
        let options = json!({
            "themes": [{"id": "midnight", "name": "Midnight", "background": "#000000"}],
            "sizes": [{"id": "a3", "name": "A3"}],
            "languages": ["en", "es"],
            "layouts": [{"id": "classic", "name": "Classic"}],
            "max_title_chars": 60,
        });
        let c = designer_choices(&options, crate::i18n::Lang::En);
        let names: Vec<&str> = c
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            vec!["language", "layout", "theme"],
            "sizes come from variants; new lists appear"
        );
        assert_eq!(c[1]["label"], "Layout");
        assert_eq!(c[0]["items"][1]["name"], "Español");
    }

    #[test]
    fn back_links_stay_on_this_site() {
        assert_eq!(local_path(Some("/shop?q=a")), "/shop?q=a");
        assert_eq!(local_path(Some("//evil.example")), "/");
        assert_eq!(local_path(Some("https://evil.example")), "/");
        assert_eq!(local_path(None), "/");
    }

    #[test]
    fn stored_poster_options_make_a_preview_link() {
        let u = preview_url(&json!({"version": 1, "place_id": 3117735, "date": "2026-11-29", "time": "22:00", "grid": false, "at": "x"}), 240).unwrap();
        assert!(u.starts_with("/api/store/starmap/preview?place_id=3117735&date=2026-11-29&time=22%3A00&grid=false&px=240"), "{u}");
        assert!(preview_url(&json!({"colour": "red"}), 240).is_none());
    }
}
