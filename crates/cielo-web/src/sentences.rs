//! The API's field errors as sentences for people, in the page's language.

use crate::i18n::Lang;

/// A field's error from the API (`must not be empty`, `must be at most 200
/// characters`…) as a sentence for people in `lang`, naming the field by its
/// label, never by its name or path.
pub(crate) fn field_sentence(lang: Lang, field: &str, detail: &str) -> String {
    let label = lang.t(field);
    let label = label.split(" (").next().unwrap_or(label);
    let label = if label.is_empty() {
        lang.t("this_field")
    } else {
        label
    };
    let fill = |key: &str| lang.t(key).replace("{label}", label);
    let number_after = |marker: &str| {
        detail.split_once(marker).and_then(|(_, r)| {
            r.split(|c: char| !c.is_ascii_digit())
                .next()
                .filter(|n| !n.is_empty())
                .map(str::to_string)
        })
    };
    match field {
        "phone" => return lang.t("err_phone").to_string(),
        "country" => return lang.t("err_country_pick").to_string(),
        "sms_opt_in" => return lang.t("err_sms_phone").to_string(),
        "email" if !detail.contains("already") => return lang.t("err_email").to_string(),
        _ => {}
    }
    if detail.starts_with("must not be empty") || detail.starts_with("is required") {
        fill("err_empty")
    } else if let Some(n) = number_after("at most ") {
        fill("err_too_long").replace("{n}", &n)
    } else if let Some(n) = number_after("at least ") {
        fill("err_too_short").replace("{n}", &n)
    } else if detail.contains("control characters") {
        fill("err_control")
    } else if lang == Lang::En && !detail.contains(['/', ':', '_']) && !detail.is_empty() {
        // Already a sentence once the label leads it ("Email is already registered").
        format!("{label} {}.", detail.trim_end_matches('.'))
    } else {
        fill("err_check")
    }
}
