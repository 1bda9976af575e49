//! The data a message is rendered from, built from the order as the orders
//! domain shows it (never from its tables).

use crate::format;
use cielo_orders::Order;
use serde_json::{json, Value};

/// The shop, as messages name it.
#[derive(Debug, Clone)]
pub struct Shop {
    /// Name.
    pub name: String,
    /// Public base URL, without a trailing slash.
    pub url: String,
}

/// Product type of star-map posters (their lines get a thumbnail).
const STARMAP_PRODUCT_TYPE: &str = "starmap_poster";
/// Longest side of a thumbnail, pixels.
const THUMBNAIL_PX: u32 = 480;
/// Line options the star-map preview endpoint takes.
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

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The preview of a star-map line, drawn by the shop on request.
fn thumbnail(shop: &Shop, options: &Value) -> Option<String> {
    let o = options.as_object()?;
    let mut q = form_pairs();
    for k in PREVIEW_KEYS {
        match o.get(*k) {
            Some(Value::Bool(b)) => {
                q.append_pair(k, if *b { "true" } else { "false" });
            }
            Some(v) => {
                if let Some(s) = scalar(v) {
                    q.append_pair(k, &s);
                }
            }
            None => {}
        }
    }
    q.append_pair("px", &THUMBNAIL_PX.to_string());
    Some(format!(
        "{}/api/store/starmap/preview?{}",
        shop.url,
        q.finish()
    ))
}

fn form_pairs() -> url::form_urlencoded::Serializer<'static, String> {
    url::form_urlencoded::Serializer::new(String::new())
}

/// The order page, with the token that lets a guest read it when there is one.
pub fn order_link(shop: &Shop, order_id: &str, token: Option<&str>) -> String {
    let mut q = form_pairs();
    q.append_pair("order", order_id);
    if let Some(t) = token {
        q.append_pair("token", t);
    }
    format!("{}/?{}", shop.url, q.finish())
}

/// Everything the order's templates may show, formatted for `lang`.
pub fn order_data(order: &Order, lang: &str, shop: &Shop, link: &str) -> Value {
    let money = |m| format::money(m, lang);
    let lines: Vec<Value> = order
        .lines
        .iter()
        .map(|l| {
            let details: Vec<Value> = l
                .options
                .as_ref()
                .and_then(|o| o.as_object())
                .map(|o| {
                    ["place", "date", "time", "title", "message", "theme"]
                        .iter()
                        .filter_map(|k| {
                            let mut v = scalar(o.get(*k)?)?;
                            if *k == "theme" {
                                // The name the designer shows, not the id.
                                if let Some(t) = cielo_starmap::options::theme(&v) {
                                    v = t.name.clone();
                                }
                            }
                            Some(json!({"label": format::option_label(k, lang)?, "value": v}))
                        })
                        .collect()
                })
                .unwrap_or_default();
            let thumb = (l.product_type == STARMAP_PRODUCT_TYPE)
                .then(|| l.options.as_ref().and_then(|o| thumbnail(shop, o)))
                .flatten();
            json!({
                "title": l.product_title,
                "variant": l.variant_title,
                "sku": l.sku,
                "quantity": l.quantity,
                "unit_price": money(l.unit_price),
                "total": money(l.line_total),
                "details": details,
                "thumbnail": thumb,
                "has_artwork": l.artwork.is_some(),
                "digital": l.delivery.is_digital(),
            })
        })
        .collect();
    // The address shows only where something is shipped; an order of
    // downloads may carry one for the tax, or none.
    let has_physical = order.lines.iter().any(|l| !l.delivery.is_digital());
    let has_digital = order.lines.iter().any(|l| l.delivery.is_digital());
    let (name, address) = match &order.shipping_address {
        Some(a) => {
            let mut address = vec![a.name.clone(), a.line1.clone()];
            if let Some(l2) = a.line2.as_ref().filter(|s| !s.trim().is_empty()) {
                address.push(l2.clone());
            }
            let mut city = format!("{} {}", a.postal_code, a.city);
            if let Some(r) = a.region.as_ref().filter(|s| !s.trim().is_empty()) {
                city.push_str(&format!(", {r}"));
            }
            address.push(city);
            address.push(a.country.clone());
            (a.name.trim().to_string(), address)
        }
        None => (String::new(), Vec::new()),
    };
    // Greetings use a person's name only: the address's, else the account's
    // (added by the sender, see [`set_account_name`]); never the email's
    // local part. `null` makes the templates greet neutrally ("Hello,").
    let buyer_name = (!name.is_empty()).then(|| name.clone());
    let id = order.id.to_string();
    json!({
        "lang": lang,
        "shop": {"name": shop.name, "url": shop.url},
        "t": format::words(lang),
        "order": {
            "id": id,
            "number": order.number,
            "email": order.email,
            "status": order.status.as_str(),
            "status_label": order.status.label(lang),
            "buyer_name": buyer_name,
            "has_physical": has_physical,
            "has_digital": has_digital,
            "created": format::date(order.created_at, lang),
            "link": link,
            "lines": lines,
            "subtotal": money(order.totals.subtotal),
            "shipping": money(order.totals.shipping),
            "tax": money(order.totals.tax),
            "has_tax": order.totals.tax.amount != 0,
            "total": money(order.totals.total),
            "address": {"name": name, "lines": if has_physical { address } else { Vec::new() }},
        },
    })
}

/// Fills `order.buyer_name` from the buyer's account when the order gave no
/// name (an order of downloads without an address). Blank names are none.
pub fn set_account_name(data: &mut Value, account_name: Option<&str>) {
    let Some(name) = account_name.map(str::trim).filter(|n| !n.is_empty()) else {
        return;
    };
    if let Some(order) = data.get_mut("order").and_then(Value::as_object_mut) {
        if order.get("buyer_name").is_none_or(Value::is_null) {
            order.insert("buyer_name".into(), Value::String(name.to_string()));
        }
    }
}
