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
    if detail.contains("no glyph for") {
        return glyph_sentence(lang, &label.to_lowercase(), detail);
    }
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

/// The API's refusal of characters the poster's fonts cannot print
/// (`cannot be printed: the poster's fonts have no glyph for 🌙 (U+1F319), …;
/// supported are …`) as a sentence naming those characters, for the field
/// called `label` in running text (`title`, `poster title`).
pub(crate) fn glyph_sentence(lang: Lang, label: &str, detail: &str) -> String {
    let chars: Vec<&str> = detail
        .split_once("no glyph for ")
        .map(|(_, r)| r.split(';').next().unwrap_or(r))
        .unwrap_or("")
        .split(", ")
        .filter_map(|c| c.split(" (U+").next())
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    lang.t("err_glyph")
        .replace("{label}", label)
        .replace("{chars}", &chars.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn characters_a_poster_cannot_print_are_named_in_any_field() {
        let detail =
            "cannot be printed: the poster's fonts have no glyph for 🌙 (U+1F319), ☃ (U+2603); \
                      supported are Latin, Greek";
        let s = field_sentence(Lang::En, "poster_title", detail);
        assert!(
            s.starts_with("The poster title has characters the poster cannot print: 🌙 ☃."),
            "{s}"
        );
        let s = field_sentence(Lang::Es, "message", detail);
        assert!(s.starts_with("El mensaje tiene caracteres"), "{s}");
        assert!(!s.contains("U+"), "{s}");
    }
}
