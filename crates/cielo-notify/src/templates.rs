//! Templates (minijinja): for each kind and language `<lang>/<kind>.txt`
//! (which sets `subject`), `<lang>/<kind>.html` (extends `layout.html`) and,
//! for kinds that go by SMS, `<lang>/<kind>.sms`. They are embedded in the
//! binary; a file of the same name under `notify.templates_dir` wins, so a
//! shop restyles its mail without rebuilding.

use crate::format::LANGUAGES;
use crate::model::{Channel, Kind, Rendered};
use minijinja::value::Serde;
use minijinja::Environment;
use std::path::PathBuf;

/// The template set.
#[derive(Clone)]
pub struct Templates {
    env: std::sync::Arc<Environment<'static>>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates").finish_non_exhaustive()
    }
}

/// Rendering failed (a template override with an error, usually).
#[derive(Debug, thiserror::Error)]
#[error("template {name}: {source}")]
pub struct TemplateError {
    /// The template.
    pub name: String,
    /// What minijinja said.
    #[source]
    pub source: minijinja::Error,
}

impl Templates {
    /// The embedded templates, overridden by files under `dir` when given.
    pub fn new(dir: Option<PathBuf>) -> Self {
        let mut env = Environment::new();
        let syntax = env
            .syntax()
            .to_builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .expect("the default delimiters are valid");
        env.set_syntax(syntax);
        env.set_loader(move |name: &str| {
            // Names come from this module (a kind and a supported language)
            // or from `include`/`extends` in templates; refuse anything that
            // could leave the directory.
            if name.contains("..") || name.starts_with('/') || name.contains('\\') {
                return Ok(None);
            }
            if let Some(dir) = &dir {
                let path = dir.join(name);
                if path.is_file() {
                    return std::fs::read_to_string(&path).map(Some).map_err(|e| {
                        minijinja::Error::new(
                            minijinja::ErrorKind::InvalidOperation,
                            format!("cannot read {}: {e}", path.display()),
                        )
                    });
                }
            }
            Ok(crate::embedded::TEMPLATES
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, s)| s.to_string()))
        });
        Self {
            env: std::sync::Arc::new(env),
        }
    }

    /// True when `kind` has an SMS text.
    pub fn has_sms(&self, kind: Kind) -> bool {
        self.env
            .get_template(&format!("en/{}.sms", kind.as_str()))
            .is_ok()
    }

    /// Renders `kind` for `channel` in `lang` (falling back to English) from `data`.
    pub fn render(
        &self,
        kind: Kind,
        channel: Channel,
        lang: &str,
        data: &serde_json::Value,
    ) -> Result<Rendered, TemplateError> {
        let lang = if LANGUAGES.contains(&lang) {
            lang
        } else {
            "en"
        };
        let err = |name: &str| {
            let name = name.to_string();
            move |source| TemplateError { name, source }
        };
        let ctx = minijinja::Value::from(Serde(data));
        match channel {
            Channel::Sms => {
                let name = format!("{lang}/{}.sms", kind.as_str());
                let text = self
                    .env
                    .get_template(&name)
                    .and_then(|t| t.render(ctx))
                    .map_err(err(&name))?;
                Ok(Rendered {
                    subject: String::new(),
                    text: text.trim().to_string(),
                    html: None,
                })
            }
            Channel::Email => {
                let name = format!("{lang}/{}.txt", kind.as_str());
                let captured = self
                    .env
                    .get_template(&name)
                    .and_then(|t| t.render_captured(ctx.clone()))
                    .map_err(err(&name))?;
                let subject = captured
                    .state()
                    .lookup("subject")
                    .map(|v| v.to_string())
                    .unwrap_or_default();
                let text = captured.output().trim().to_string() + "\n";
                let html_name = format!("{lang}/{}.html", kind.as_str());
                let html = self
                    .env
                    .get_template(&html_name)
                    .and_then(|t| t.render(ctx))
                    .map_err(err(&html_name))?;
                Ok(Rendered {
                    // One line, whatever a template override does.
                    subject: subject.split_whitespace().collect::<Vec<_>>().join(" "),
                    text,
                    html: Some(html),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(lang: &str) -> serde_json::Value {
        serde_json::json!({
            "lang": lang,
            "shop": {"name": "Star <Shop>", "url": "https://shop.example"},
            "t": crate::format::words(lang),
            "order": {
                "id": "ord_1", "number": "#0000ABCD", "email": "b@example.com", "status": "paid",
                "created": "November 29, 2026", "link": "https://shop.example/?order=ord_1&token=oat_x",
                "lines": [{"title": "Star map", "variant": "A3", "quantity": 1, "unit_price": "$10.00",
                           "total": "$10.00", "details": [{"label": "Title", "value": "<b>Us</b>"}],
                           "thumbnail": "https://shop.example/api/store/starmap/preview?px=480"}],
                "subtotal": "$10.00", "shipping": "$5.00", "tax": "$0.00", "has_tax": false,
                "total": "$15.00", "address": {"name": "Ada", "lines": ["Ada", "1 Road", "ES"]},
            },
            "shipment": {"carrier": "Correos", "tracking_number": "PK1", "tracking_url": "https://t.example/PK1"},
            "refund": {"partial": true},
            "reason": "the address has no street number",
            "alert": {"title": "Queue stuck", "detail": "12 jobs dead", "raised": "November 29, 2026"},
        })
    }

    #[test]
    fn every_kind_renders_in_every_language_with_a_subject_and_escaped_html() {
        let t = Templates::new(None);
        for lang in crate::format::LANGUAGES {
            for kind in Kind::ALL {
                let r = t.render(kind, Channel::Email, lang, &data(lang)).unwrap();
                assert!(!r.subject.is_empty(), "{kind} {lang}: no subject");
                assert!(!r.subject.contains('\n'));
                let html = r.html.unwrap();
                assert!(
                    html.contains(&format!("<html lang=\"{lang}\">")),
                    "{kind} {lang}"
                );
                assert!(
                    html.contains("Star &lt;Shop&gt;"),
                    "{kind} {lang}: shop name not escaped"
                );
                assert!(
                    !html.contains("<b>Us</b>"),
                    "{kind} {lang}: personalisation not escaped"
                );
                assert!(
                    !r.text.contains("&lt;"),
                    "{kind} {lang}: text must not be escaped"
                );
                if t.has_sms(kind) {
                    let sms = t.render(kind, Channel::Sms, lang, &data(lang)).unwrap();
                    assert!(
                        !sms.text.is_empty() && sms.text.len() < 480,
                        "{kind} {lang}"
                    );
                }
            }
        }
        let conf = t
            .render(Kind::OrderConfirmation, Channel::Email, "es", &data("es"))
            .unwrap();
        assert_eq!(conf.subject, "Pedido confirmado: #0000ABCD");
        assert!(conf.text.contains("Título: <b>Us</b>") || conf.text.contains("Title: <b>Us</b>"));
        assert!(conf.text.contains("token=oat_x"));
        let shipped = t
            .render(Kind::Shipped, Channel::Email, "en", &data("en"))
            .unwrap();
        assert!(shipped.text.contains("https://t.example/PK1"));
    }

    #[test]
    fn a_template_directory_overrides_only_what_it_holds() {
        let dir = std::env::temp_dir().join(format!("cielo-tpl-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("en")).unwrap();
        std::fs::write(
            dir.join("en/delivered.txt"),
            "{% set subject = \"Arrived \" ~ order.number %}It is there.",
        )
        .unwrap();
        let t = Templates::new(Some(dir.clone()));
        let d = t
            .render(Kind::Delivered, Channel::Email, "en", &data("en"))
            .unwrap();
        assert_eq!(d.subject, "Arrived #0000ABCD");
        assert_eq!(d.text, "It is there.\n");
        assert!(
            d.html.unwrap().contains("has been delivered"),
            "the embedded HTML stays"
        );
        let other = t
            .render(Kind::Shipped, Channel::Email, "en", &data("en"))
            .unwrap();
        assert!(other.subject.starts_with("Your order is on its way"));
        // Names that would leave the directory are refused, not read.
        assert!(t.env.get_template("../etc/passwd").is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
