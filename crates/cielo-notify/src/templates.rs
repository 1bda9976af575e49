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
