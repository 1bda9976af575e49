//! Postal addresses, shared by customer address books and order snapshots.

use crate::error::Validation;
use serde::{Deserialize, Serialize};

/// A postal address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostalAddress {
    /// Recipient's name.
    pub name: String,
    /// First address line.
    pub line1: String,
    /// Second address line.
    #[serde(default)]
    pub line2: Option<String>,
    /// City or town.
    pub city: String,
    /// State, province or region, where the country uses one.
    #[serde(default)]
    pub region: Option<String>,
    /// Postal code.
    pub postal_code: String,
    /// ISO 3166-1 alpha-2 country code, e.g. `US`, `ES`.
    #[schema(example = "US")]
    pub country: String,
    /// Phone number, for the carrier: international form with the country
    /// code (`+34 600 12 34 56`), stored without spaces (`+34600123456`).
    #[serde(default)]
    pub phone: Option<String>,
}

/// True when two values of an address field say the same to a carrier:
/// equal once trimmed and with runs of spaces as one, ignoring case when
/// `fold_case` (postal codes, country codes, phone numbers); an absent
/// optional value is the same as an empty one.
pub fn same_field(a: Option<&str>, b: Option<&str>, fold_case: bool) -> bool {
    let norm = |s: Option<&str>| {
        let s = s
            .unwrap_or("")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if fold_case {
            s.to_uppercase()
        } else {
            s
        }
    };
    norm(a) == norm(b)
}

impl PostalAddress {
    /// The fields (`name`, `line1`, …) in which `self` says something other
    /// than `old`, compared as [`same_field`] does; empty when a correction
    /// changes nothing.
    pub fn changes_from(&self, old: &PostalAddress) -> Vec<&'static str> {
        let fields: [(&str, Option<&str>, Option<&str>, bool); 8] = [
            ("name", Some(&self.name), Some(&old.name), false),
            ("line1", Some(&self.line1), Some(&old.line1), false),
            ("line2", self.line2.as_deref(), old.line2.as_deref(), false),
            ("city", Some(&self.city), Some(&old.city), false),
            (
                "region",
                self.region.as_deref(),
                old.region.as_deref(),
                false,
            ),
            (
                "postal_code",
                Some(&self.postal_code),
                Some(&old.postal_code),
                true,
            ),
            ("country", Some(&self.country), Some(&old.country), true),
            ("phone", self.phone.as_deref(), old.phone.as_deref(), true),
        ];
        fields
            .into_iter()
            .filter(|(_, new, old, fold)| !same_field(*new, *old, *fold))
            .map(|(name, ..)| name)
            .collect()
    }

    /// Checks every field, recording problems under `prefix` (e.g. `shipping_address/`).
    /// Normalises the country code to upper case and the phone to E.164.
    pub fn validate(&mut self, v: &mut Validation, prefix: &str) {
        let text = |v: &mut Validation, field: &str, value: &str, min: usize, max: usize| {
            v.text(&format!("{prefix}{field}"), value, min, max)
        };
        text(v, "name", &self.name, 1, 200);
        text(v, "line1", &self.line1, 1, 200);
        text(v, "line2", self.line2.as_deref().unwrap_or(""), 0, 200);
        text(v, "city", &self.city, 1, 100);
        text(v, "region", self.region.as_deref().unwrap_or(""), 0, 100);
        text(v, "postal_code", &self.postal_code, 1, 20);
        text(v, "phone", self.phone.as_deref().unwrap_or(""), 0, 40);
        // The carrier calls this number, in any country: a number it cannot
        // dial is refused where it is typed, not dropped on the way.
        match self.phone.as_deref().map(str::trim) {
            None => {}
            Some("") => self.phone = None,
            Some(p) => match crate::phone::normalise(p) {
                Some(n) => self.phone = Some(n),
                None if p.chars().any(char::is_control) => {}
                None => v.add(
                    &format!("{prefix}phone"),
                    "must be a phone number in international form, with its country code (e.g. +34 600 12 34 56)",
                ),
            },
        }
        match crate::text::parse_country(&self.country) {
            Ok(c) => self.country = c,
            Err(e) => v.add(&format!("{prefix}country"), e.to_string()),
        }
    }
}

/// Adds an error at `field` when `country` (an ISO 3166-1 alpha-2 code, any
/// case) is not in `ships_to`, the countries the shop ships to. A code that
/// names no country is left to [`PostalAddress::validate`]'s own error.
pub fn check_ships_to(v: &mut Validation, field: &str, country: &str, ships_to: &[String]) {
    let Ok(code) = crate::text::parse_country(country) else {
        return;
    };
    if !ships_to.iter().any(|c| c.eq_ignore_ascii_case(&code)) {
        v.add(
            field,
            format!(
                "we do not ship to {code}; we ship to {}",
                ships_to.join(", ")
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_a_carrier_reads_differently_is_a_change() {
        let old = sample();
        let mut same = old.clone();
        same.name = "  Ada ".into();
        same.line1 = "1  Main St".into();
        same.line2 = Some(" ".into());
        same.country = old.country.to_lowercase();
        assert_eq!(same.changes_from(&old), Vec::<&str>::new());
        let mut moved = same.clone();
        moved.name = "Ada L.".into();
        moved.city = "Elsewhere".into();
        assert_eq!(moved.changes_from(&old), ["name", "city"]);
    }

    fn sample() -> PostalAddress {
        PostalAddress {
            name: "Ada".into(),
            line1: "1 Main St".into(),
            line2: None,
            city: "Springfield".into(),
            region: None,
            postal_code: "12345".into(),
            country: "us".into(),
            phone: None,
        }
    }

    #[test]
    fn a_complete_address_passes_and_its_country_is_normalised() {
        let mut a = sample();
        let mut v = Validation::new();
        a.validate(&mut v, "");
        assert!(v.is_ok());
        assert_eq!(a.country, "US");
    }

    #[test]
    fn the_carriers_phone_is_a_dialable_international_number() {
        let mut a = PostalAddress {
            phone: Some(" +34 600 12 34 56 ".into()),
            ..sample()
        };
        let mut v = Validation::new();
        a.validate(&mut v, "shipping_address/");
        assert!(v.is_ok());
        assert_eq!(a.phone.as_deref(), Some("+34600123456"));

        let mut blank = PostalAddress {
            phone: Some("".into()),
            ..sample()
        };
        let mut v = Validation::new();
        blank.validate(&mut v, "");
        assert!(v.is_ok());
        assert_eq!(blank.phone, None);

        for bad in ["12ab", "600 12 34 56", "+0 600 123 456", "+34"] {
            let mut a = PostalAddress {
                phone: Some(bad.into()),
                ..sample()
            };
            let mut v = Validation::new();
            a.validate(&mut v, "shipping_address/");
            let errors = v.finish().unwrap_err();
            assert_eq!(errors.len(), 1, "{bad}");
            assert_eq!(errors[0].pointer, "#/shipping_address/phone", "{bad}");
        }
    }

    #[test]
    fn missing_fields_and_bad_countries_are_named() {
        let mut a = PostalAddress {
            city: " ".into(),
            country: "USA".into(),
            ..sample()
        };
        let mut v = Validation::new();
        a.validate(&mut v, "shipping_address/");
        let errors = v.finish().unwrap_err();
        let pointers: Vec<_> = errors.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(
            pointers,
            ["#/shipping_address/city", "#/shipping_address/country"]
        );
    }

    #[test]
    fn hidden_characters_and_unreal_countries_are_named() {
        let mut a = PostalAddress {
            name: "Ada\0".into(),
            line1: "1 Main St\r\nX-Injected: 1".into(),
            line2: Some("\u{202E}gnp.exe".into()),
            city: "Spring\tfield".into(),
            country: "ZZ".into(),
            ..sample()
        };
        let mut v = Validation::new();
        a.validate(&mut v, "");
        let errors = v.finish().unwrap_err();
        let pointers: Vec<_> = errors.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(
            pointers,
            ["#/name", "#/line1", "#/line2", "#/city", "#/country"]
        );
    }
}
