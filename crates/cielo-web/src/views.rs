//! Templates, the page frame every template shares, and the embedded assets.

use crate::session::Ctx;
use crate::Web;
use axum::extract::Path;
use axum::response::{Html, IntoResponse, Response};
use http::{header, StatusCode};
use minijinja::Environment;
use serde_json::{json, Value};
use std::sync::OnceLock;

macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../templates/", $name)))),*]
    };
}

const TEMPLATES: &[(&str, &str)] = templates!(
    "base.html",
    "macros.html",
    "home.html",
    "catalog.html",
    "product.html",
    "cart.html",
    "checkout.html",
    "order.html",
    "signin.html",
    "signup.html",
    "account.html",
    "message.html",
    "admin_base.html",
    "admin_dashboard.html",
    "admin_orders.html",
    "admin_order.html",
    "admin_products.html",
    "admin_product.html",
    "admin_product_new.html",
    "admin_findings.html",
    "admin_alerts.html",
    "admin_jobs.html",
    "admin_outbox.html",
);

/// Embedded static files: (name, content type, bytes).
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../static/app.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../static/app.js"),
    ),
    (
        "designer.js",
        "text/javascript; charset=utf-8",
        include_str!("../static/designer.js"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_str!("../static/favicon.svg"),
    ),
];

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("template {name}: {e}"));
        }
        env.add_filter("money", money_filter);
        env.add_filter("grouped", grouped_filter);
        env.add_filter("clip", clip);
        env.add_filter("country", |state: &minijinja::State, code: String| {
            let lang = state
                .lookup("lang")
                .and_then(|l| l.as_str().map(str::to_string))
                .unwrap_or_else(|| "en".into());
            crate::store::country_name(&code, &lang)
        });
        // An order id as people read it (`#3F3CBECF`), where a page has only the id.
        env.add_filter("order_number", |id: String| {
            cielo_orders::OrderId::parse(&id)
                .map(|o| o.number())
                .unwrap_or(id)
        });
        env.add_filter("excerpt", excerpt);
        env.add_filter("when", when);
        env.add_filter("urlencode", |s: String| crate::store::enc(&s));
        env
    })
}

/// `{amount, currency}` as people reading the page's language write it
/// (`$1,234.00`; `12.345,00 €`), the way the shop's emails write it.
fn money_filter(state: &minijinja::State, v: minijinja::Value) -> String {
    let j = serde_json::to_value(&v).unwrap_or(Value::Null);
    let lang = state
        .lookup("lang")
        .and_then(|l| l.as_str().map(str::to_string))
        .unwrap_or_else(|| "en".into());
    money_json(&j, &lang)
}

/// A whole number with the grouping of the page's language (`1,234`; `1234`
/// and `12.345` in Spanish, which leaves four digits ungrouped), as the
/// shop's money formatter groups amounts.
fn grouped_filter(state: &minijinja::State, v: minijinja::Value) -> String {
    let Ok(n) = i64::try_from(v.clone()) else {
        return v.to_string();
    };
    let lang = state
        .lookup("lang")
        .and_then(|l| l.as_str().map(str::to_string))
        .unwrap_or_else(|| "en".into());
    grouped(n, &lang)
}

/// [`grouped_filter`]'s number: the emails' money formatter on a currency
/// without decimals, its symbol left out.
pub(crate) fn grouped(n: i64, lang: &str) -> String {
    let yen = cielo_core::Currency::parse("JPY").expect("a currency");
    cielo_notify::format::money(cielo_core::Money::new(n, yen), lang)
        .chars()
        .filter(|c| c.is_ascii_digit() || matches!(c, ',' | '.' | '-'))
        .collect()
}

/// A JSON `{amount, currency}` as people reading `lang` write it.
pub(crate) fn money_json(j: &Value, lang: &str) -> String {
    let amount = j.get("amount").and_then(Value::as_i64);
    let currency = j
        .get("currency")
        .and_then(Value::as_str)
        .and_then(|c| cielo_core::Currency::parse(c).ok());
    match (amount, currency) {
        (Some(a), Some(c)) => cielo_notify::format::money(cielo_core::Money::new(a, c), lang),
        _ => String::new(),
    }
}

/// A text for the page's `<title>`: at most `n` characters, cut with an
/// ellipsis (a long search must not fill the tab and the history).
fn clip(text: String, n: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= n {
        return text.to_string();
    }
    let cut: String = text.chars().take(n.saturating_sub(1)).collect();
    format!("{}…", cut.trim_end())
}

/// The start of a text, at most `n` characters, cut at a word boundary with an
/// ellipsis (never mid-word).
pub(crate) fn excerpt(text: String, n: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= n {
        return text.to_string();
    }
    let cut: String = text.chars().take(n).collect();
    let at = cut
        .rfind(char::is_whitespace)
        .filter(|i| *i > n / 2)
        .unwrap_or(cut.len());
    format!(
        "{}…",
        cut[..at].trim_end_matches(|c: char| c.is_whitespace() || c.is_ascii_punctuation())
    )
}

/// An RFC 3339 time as `2026-11-29 10:42 UTC`.
fn when(s: String) -> String {
    if s.len() >= 16 {
        format!("{} {} UTC", &s[..10], &s[11..16])
    } else {
        s
    }
}

/// Renders `name` with the frame's variables plus `page`.
pub(crate) async fn render(web: &Web, ctx: &Ctx, name: &str, page: Value) -> Response {
    render_status(web, ctx, StatusCode::OK, name, page).await
}

/// [`render`] with a status (422 for a form with errors, 404...).
pub(crate) async fn render_status(
    web: &Web,
    ctx: &Ctx,
    status: StatusCode,
    name: &str,
    page: Value,
) -> Response {
    let frame = frame(web, ctx).await;
    let mut vars = page;
    if let (Some(v), Value::Object(f)) = (vars.as_object_mut(), frame) {
        for (k, x) in f {
            v.entry(k).or_insert(x);
        }
    }
    match env()
        .get_template(name)
        .and_then(|t| t.render(minijinja::Value::from(minijinja::value::Serde(&vars))))
    {
        Ok(html) => (status, [(header::CACHE_CONTROL, "no-store")], Html(html)).into_response(),
        Err(e) => {
            tracing::error!(template = name, error = %format!("{e:#}"), "a page failed to render");
            // Debug builds say why, to whoever develops the templates.
            let text = if cfg!(debug_assertions) {
                format!("the page failed to render: {e:#}")
            } else {
                "the page failed to render".to_string()
            };
            (StatusCode::INTERNAL_SERVER_ERROR, text).into_response()
        }
    }
}

/// What every page shows: the shop, the visitor, the cart count, the words.
async fn frame(web: &Web, ctx: &Ctx) -> Value {
    let user = if ctx.caller.token.is_some() {
        let me = web.api.get(&ctx.caller, "/api/store/me").await;
        me.ok().then_some(me.body)
    } else {
        None
    };
    let cart_count = match &ctx.cart {
        Some(id) => {
            let c = web
                .api
                .get(&ctx.caller, &format!("/api/store/carts/{id}"))
                .await;
            c.body
                .get("lines")
                .and_then(Value::as_array)
                .map(|l| {
                    l.iter()
                        .filter_map(|x| x.get("quantity").and_then(Value::as_i64))
                        .sum::<i64>()
                })
                .unwrap_or(0)
        }
        None => 0,
    };
    json!({
        "shop": web.config.shop_name,
        "lang": ctx.lang.code(),
        "t": ctx.lang.words(),
        "csrf": ctx.csrf,
        "user": user,
        "is_admin": user.as_ref().and_then(|u| u.get("role")).and_then(Value::as_str) == Some("admin"),
        "cart_count": cart_count,
        "here": ctx.here,
        "v": env!("CARGO_PKG_VERSION"),
    })
}

/// A 303 to `to`, setting `cookies`.
pub(crate) fn redirect(to: &str, cookies: &[String]) -> Response {
    let mut res = (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_string())]).into_response();
    for c in cookies {
        if let Ok(v) = c.parse() {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

/// A page with a heading and a sentence (not found, forbidden, errors).
pub(crate) async fn message(
    web: &Web,
    ctx: &Ctx,
    status: StatusCode,
    heading: &str,
    text: &str,
) -> Response {
    render_status(
        web,
        ctx,
        status,
        "message.html",
        json!({"heading": heading, "text": text}),
    )
    .await
}

/// An embedded asset; the version in the query lets it be cached for long.
pub(crate) async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == file) {
        Some((_, ct, body)) => (
            [
                (header::CONTENT_TYPE, *ct),
                (header::CACHE_CONTROL, "public, max-age=3600"),
            ],
            *body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}

/// Browsers ask for `/favicon.ico` whatever the page says.
pub(crate) async fn favicon() -> Response {
    asset(Path("favicon.svg".to_string())).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles() {
        for (name, _) in TEMPLATES {
            env().get_template(name).unwrap();
        }
    }

    #[test]
    fn excerpts_end_at_a_word() {
        let t = "The night sky over the place and moment that matter to you".to_string();
        let e = excerpt(t.clone(), 30);
        assert_eq!(e, "The night sky over the place…");
        assert!(t.starts_with(e.trim_end_matches('…')));
        assert_eq!(excerpt("Short".into(), 30), "Short");
    }

    #[test]
    fn money_is_formatted_like_the_payment_page() {
        assert_eq!(
            money_json(&json!({"amount": 4400, "currency": "USD"}), "en"),
            "$44.00"
        );
        assert_eq!(
            money_json(&json!({"amount": 123400, "currency": "USD"}), "en"),
            "$1,234.00"
        );
        assert_eq!(
            money_json(&json!({"amount": 1234500, "currency": "EUR"}), "es"),
            "12.345,00\u{a0}€"
        );
        assert_eq!(money_json(&json!(null), "en"), "");
    }

    #[test]
    fn counts_are_grouped_as_the_language_groups_money() {
        assert_eq!(grouped(1234567, "en"), "1,234,567");
        assert_eq!(grouped(12345, "es"), "12.345");
        assert_eq!(grouped(999, "en"), "999");
        assert_eq!(grouped(-1500, "en"), "-1,500");
    }

    #[test]
    fn long_titles_are_clipped_with_an_ellipsis() {
        let long = "é".repeat(5000);
        let t = clip(long, 60);
        assert_eq!(t.chars().count(), 60);
        assert!(t.ends_with('…'));
        assert_eq!(clip("short".into(), 60), "short");
    }

    #[test]
    fn assets_stay_small() {
        let total: usize = ASSETS
            .iter()
            .filter(|(n, _, _)| n.ends_with(".css") || n.ends_with(".js"))
            .map(|(_, _, b)| b.len())
            .sum();
        assert!(total <= 100 * 1024, "pages' CSS and JS weigh {total} bytes");
    }
}
