//! Error kinds shared by all domains, so the HTTP edge can map any domain error
//! to a status code and a stable problem type without knowing the domain.

use serde::Serialize;

/// What kind of failure an error is, independent of the domain that raised it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input was malformed or broke a rule (HTTP 400/422).
    Invalid,
    /// The thing asked for does not exist, or the caller may not know it exists (404).
    NotFound,
    /// The request conflicts with the current state (409).
    Conflict,
    /// No valid credentials (401).
    Unauthorized,
    /// Valid credentials without the right (403).
    Forbidden,
    /// Too many attempts (429).
    RateLimited,
    /// A dependency is down or not configured; retrying later may help (503).
    Unavailable,
    /// A bug or an unexpected failure; details are logged, never shown (500).
    Internal,
}

/// One problem with one field of the input, located by a JSON pointer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// JSON pointer of the field, in RFC 9457's `#/a/b` form.
    pub pointer: String,
    /// What is wrong with it, for a person.
    pub detail: String,
}

impl FieldError {
    /// A field error for `field`, given as a dotted or slash path (`lines/0/quantity`).
    pub fn new(field: &str, detail: impl Into<String>) -> Self {
        let path = field.replace('.', "/");
        Self {
            pointer: format!("#/{}", path.trim_start_matches('/')),
            detail: detail.into(),
        }
    }
}

/// Implemented by every domain error so the edge can render it.
pub trait HasErrorKind: std::error::Error {
    /// The error's kind.
    fn kind(&self) -> ErrorKind;
    /// A stable, kebab-case code naming this error (becomes the problem `type`).
    fn code(&self) -> &'static str;
    /// Field-level errors, for validation failures.
    fn field_errors(&self) -> Vec<FieldError> {
        Vec::new()
    }
    /// Detail for the log only, never for the client: a third party's own
    /// words (a payment provider's error message), logged with the request id
    /// while the client gets the error's generic message.
    fn log_detail(&self) -> Option<String> {
        None
    }
}

/// Collects field errors while validating a whole input, so a client learns
/// about every wrong field at once.
#[derive(Debug, Default, Clone)]
pub struct Validation {
    errors: Vec<FieldError>,
}

impl Validation {
    /// An empty collector.
    pub fn new() -> Self {
        Self::default()
    }
    /// Records a problem with `field`.
    pub fn add(&mut self, field: &str, detail: impl Into<String>) {
        self.errors.push(FieldError::new(field, detail));
    }
    /// Records the error of `result` under `field` and returns its value.
    pub fn check<T, E: std::fmt::Display>(
        &mut self,
        field: &str,
        result: Result<T, E>,
    ) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.add(field, e.to_string());
                None
            }
        }
    }
    /// Checks one line of text typed by a person with [`crate::text::check_line`]
    /// and records what is wrong under `field`.
    pub fn text(&mut self, field: &str, value: &str, min: usize, max: usize) {
        if let Err(e) = crate::text::check_line(value, min, max) {
            self.add(field, e.to_string());
        }
    }
    /// [`Validation::text`] for an optional field (absent is fine).
    pub fn optional_text(&mut self, field: &str, value: Option<&str>, max: usize) {
        if let Some(value) = value {
            self.text(field, value, 0, max);
        }
    }
    /// True when nothing was recorded.
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }
    /// `Ok(())` when nothing was recorded, otherwise the errors.
    pub fn finish(self) -> Result<(), Vec<FieldError>> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(self.errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_paths_become_json_pointers() {
        assert_eq!(
            FieldError::new("lines.0.quantity", "x").pointer,
            "#/lines/0/quantity"
        );
        assert_eq!(FieldError::new("email", "x").pointer, "#/email");
    }
}
