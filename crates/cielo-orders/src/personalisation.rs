//! The seam between carts and personalised products.
//!
//! A cart line may carry `options` (a star map's place and date, an engraving).
//! What those options mean is not the orders domain's business: it knows neither
//! astronomy nor fonts. So the application registers one [`LineOptionsValidator`]
//! per product type (`starmap_poster`, …), and [`crate::Orders::add_line`] runs it
//! once the variant is known and before anything is written. The validator returns
//! the options to store, normalised so that whatever makes the product after payment
//! works from them alone, or field errors that the cart turns into
//! `#/options/<field>` pointers. Products without a validator take no options
//! (an empty object counts as none); a line that sends some is refused.

use cielo_core::FieldError;
use std::collections::BTreeMap;

/// What a validator knows about the line being added.
#[derive(Debug, Clone, Copy)]
pub struct LineContext<'a> {
    /// The product's type, the key the validator was registered under.
    pub product_type: &'a str,
    /// The variant's SKU.
    pub sku: &'a str,
    /// The variant's option values, e.g. `{"size": "A3"}`.
    pub option_values: &'a BTreeMap<String, String>,
}

/// Validates and normalises the options of lines of one product type.
///
/// Field errors name the option relative to the options object:
/// `FieldError::new("lat", …)` is reported as `#/options/lat`, and
/// `FieldError::new("", …)` as `#/options`.
pub trait LineOptionsValidator: Send + Sync + 'static {
    /// The options to store for this line, or what is wrong with them.
    /// Runs inside the cart's write transaction: keep it pure and quick.
    fn validate(
        &self,
        line: &LineContext<'_>,
        options: Option<&serde_json::Value>,
    ) -> Result<serde_json::Value, Vec<FieldError>>;
}

/// Moves validator errors under `#/options`.
pub(crate) fn under_options(errors: Vec<FieldError>) -> Vec<FieldError> {
    errors
        .into_iter()
        .map(|e| {
            let rest = e.pointer.trim_start_matches('#').trim_start_matches('/');
            let pointer = if rest.is_empty() {
                "#/options".to_string()
            } else {
                format!("#/options/{rest}")
            };
            FieldError {
                pointer,
                detail: e.detail,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_move_under_options() {
        let e = under_options(vec![FieldError::new("lat", "x"), FieldError::new("", "y")]);
        assert_eq!(e[0].pointer, "#/options/lat");
        assert_eq!(e[1].pointer, "#/options");
    }
}
