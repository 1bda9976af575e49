//! Money, dates and fixed words for the languages the templates speak.
//!
//! Two languages do not justify a locale database: the rules used here are
//! the common ones for each (English: `$1,234.56`, `November 29, 2026`;
//! Spanish: `1.234,56 US$`, `29 de noviembre de 2026`).

use cielo_core::{Money, Timestamp};

/// Languages with templates; anything else falls back to the first.
pub const LANGUAGES: &[&str] = &["en", "es"];

/// The supported language nearest to `tag` (`es-MX` → `es`), or `None`.
pub fn supported(tag: &str) -> Option<&'static str> {
    let primary = tag
        .trim()
        .split(['-', '_'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    LANGUAGES.iter().copied().find(|l| *l == primary)
}

/// The best supported language of an `Accept-Language` header, honouring
/// `q` weights; `None` when it names none of them.
pub fn from_accept_language(header: &str) -> Option<&'static str> {
    let mut best: Option<(&'static str, f32)> = None;
    for part in header.split(',') {
        let mut it = part.split(';');
        let tag = it.next().unwrap_or("").trim();
        let q = it
            .find_map(|p| p.trim().strip_prefix("q="))
            .and_then(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if let Some(l) = supported(tag) {
            if q > 0.0 && best.is_none_or(|(_, bq)| q > bq) {
                best = Some((l, q));
            }
        }
    }
    best.map(|(l, _)| l)
}

fn symbol(code: &str, lang: &str) -> Option<&'static str> {
    Some(match (code, lang) {
        ("USD", "es") => "US$",
        ("USD", _) => "$",
        ("EUR", _) => "€",
        ("GBP", _) => "£",
        ("JPY", _) => "¥",
        ("MXN", "es") => "$",
        ("MXN", _) => "MX$",
        ("CAD", _) => "CA$",
        ("AUD", _) => "A$",
        _ => return None,
    })
}

fn group(mut n: u64, sep: char) -> String {
    let mut parts = Vec::new();
    loop {
        if n < 1000 {
            parts.push(n.to_string());
            break;
        }
        parts.push(format!("{:03}", n % 1000));
        n /= 1000;
    }
    parts.reverse();
    parts.join(&sep.to_string())
}

/// `money` as a person reading `lang` expects it.
pub fn money(m: Money, lang: &str) -> String {
    let code = m.currency.code();
    let exp = m.currency.exponent();
    let div = 10u64.pow(exp);
    let abs = m.amount.unsigned_abs();
    let (int, frac) = (abs / div, abs % div);
    let (thousands, decimal) = if lang == "es" { ('.', ',') } else { (',', '.') };
    // Spanish style leaves four-digit numbers ungrouped (RAE).
    let int_s = if lang == "es" && int < 10_000 {
        int.to_string()
    } else {
        group(int, thousands)
    };
    let number = if exp == 0 {
        int_s
    } else {
        format!("{int_s}{decimal}{frac:0width$}", width = exp as usize)
    };
    let sign = if m.amount < 0 { "-" } else { "" };
    match (symbol(code, lang), lang) {
        (Some(s), "es") => format!("{sign}{number}\u{a0}{s}"),
        (Some(s), _) => format!("{sign}{s}{number}"),
        (None, _) => format!("{sign}{number}\u{a0}{code}"),
    }
}

const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const MONTHS_ES: [&str; 12] = [
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
];

/// The date of `t` (UTC) in `lang`.
pub fn date(t: Timestamp, lang: &str) -> String {
    let d = t.as_jiff().to_zoned(jiff::tz::TimeZone::UTC).date();
    let m = (d.month() as usize).saturating_sub(1).min(11);
    if lang == "es" {
        format!("{} de {} de {}", d.day(), MONTHS_ES[m], d.year())
    } else {
        format!("{} {}, {}", MONTHS_EN[m], d.day(), d.year())
    }
}

/// Fixed words the shared templates use, as the `t` object.
pub fn words(lang: &str) -> serde_json::Value {
    if lang == "es" {
        serde_json::json!({"subtotal": "Subtotal", "shipping": "Envío", "tax": "Impuestos",
            "total": "Total", "ship_to": "Enviar a"})
    } else {
        serde_json::json!({"subtotal": "Subtotal", "shipping": "Shipping", "tax": "Tax",
            "total": "Total", "ship_to": "Ship to"})
    }
}

/// A person's label of a personalisation field (star-map line options).
pub fn option_label(key: &str, lang: &str) -> Option<&'static str> {
    let (en, es) = match key {
        "place" => ("Place", "Lugar"),
        "date" => ("Date", "Fecha"),
        "time" => ("Time", "Hora"),
        "title" => ("Title", "Título"),
        "message" => ("Message", "Mensaje"),
        "theme" => ("Theme", "Estilo"),
        "size" => ("Size", "Tamaño"),
        _ => return None,
    };
    Some(if lang == "es" { es } else { en })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cielo_core::Currency;

    #[test]
    fn money_reads_as_each_language_writes_it() {
        let usd = Currency::parse("USD").unwrap();
        let eur = Currency::parse("EUR").unwrap();
        let jpy = Currency::parse("JPY").unwrap();
        assert_eq!(money(Money::new(123456, usd), "en"), "$1,234.56");
        assert_eq!(money(Money::new(123456, usd), "es"), "1234,56\u{a0}US$");
        assert_eq!(money(Money::new(12345678, eur), "es"), "123.456,78\u{a0}€");
        assert_eq!(money(Money::new(500, eur), "en"), "€5.00");
        assert_eq!(money(Money::new(1500, jpy), "en"), "¥1,500");
        assert_eq!(money(Money::new(-250, usd), "en"), "-$2.50");
    }

    #[test]
    fn dates_read_as_each_language_writes_them() {
        let t = Timestamp::parse_rfc3339("2026-11-29T10:00:00Z").unwrap();
        assert_eq!(date(t, "en"), "November 29, 2026");
        assert_eq!(date(t, "es"), "29 de noviembre de 2026");
    }

    #[test]
    fn accept_language_picks_the_best_supported() {
        assert_eq!(from_accept_language("es-MX,es;q=0.9,en;q=0.8"), Some("es"));
        assert_eq!(from_accept_language("fr-FR, en;q=0.5"), Some("en"));
        assert_eq!(from_accept_language("en;q=0.3, es;q=0.7"), Some("es"));
        assert_eq!(from_accept_language("fr, de"), None);
        assert_eq!(from_accept_language("es;q=0"), None);
    }
}
