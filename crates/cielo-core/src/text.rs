//! Hygiene of text that people type: the one check every domain applies to
//! names, address lines, profile fields and poster texts before storing them.
//!
//! Refused everywhere: control characters (NUL, tab, CR, LF, DEL and the C1
//! range), the line and paragraph separators, and the invisible bidirectional
//! formatting characters (embeddings, overrides and isolates U+202A–U+202E,
//! U+2066–U+2069, and the marks U+200E, U+200F, U+061C) that make text read
//! differently from what it says. Nothing is silently dropped: a field with
//! such a character is a validation error naming the field and the character.

/// The first character of `value` that text fields refuse, if any.
pub fn forbidden_char(value: &str) -> Option<char> {
    value.chars().find(|&c| is_forbidden(c))
}

/// True for the characters [`forbidden_char`] looks for.
pub fn is_forbidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{061C}'
                | '\u{2028}'
                | '\u{2029}'
        )
}

/// Why a text field was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// Empty (or only spaces) where a value is required.
    #[error("must not be empty")]
    Empty,
    /// Longer than allowed, in characters.
    #[error("must be at most {0} characters")]
    TooLong(usize),
    /// Holds a control or bidirectional formatting character.
    #[error("must not contain control characters, line breaks or bidirectional formatting (found U+{:04X})", *.0 as u32)]
    Forbidden(char),
}

/// Checks one line of text: no forbidden character, and (after trimming
/// spaces) between `min` and `max` characters.
pub fn check_line(value: &str, min: usize, max: usize) -> Result<(), TextError> {
    if let Some(c) = forbidden_char(value) {
        return Err(TextError::Forbidden(c));
    }
    let n = value.trim().chars().count();
    if n < min {
        Err(TextError::Empty)
    } else if n > max {
        Err(TextError::TooLong(max))
    } else {
        Ok(())
    }
}

/// Parses an ISO 3166-1 alpha-2 country code (any case, spaces trimmed) into
/// its upper-case form; codes that name no country (`ZZ`, `XX`) are refused.
pub fn parse_country(code: &str) -> Result<String, CountryError> {
    let up = code.trim().to_ascii_uppercase();
    match iso3166::Country::from_alpha2(&up) {
        Some(_) => Ok(up),
        None => Err(CountryError),
    }
}

/// A country code that is not an ISO 3166-1 alpha-2 code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be an ISO 3166-1 alpha-2 country code such as US or ES")]
pub struct CountryError;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_hidden_character_is_refused() {
        for bad in [
            "a\0b",
            "a\nb",
            "a\rb",
            "a\tb",
            "a\u{7f}b",
            "a\u{85}b",
            "a\u{202A}b",
            "a\u{202E}b",
            "a\u{2066}b",
            "a\u{2069}b",
            "a\u{200F}b",
            "a\u{2028}b",
        ] {
            assert!(
                matches!(check_line(bad, 1, 100), Err(TextError::Forbidden(_))),
                "{bad:?}"
            );
        }
        assert_eq!(
            check_line("x\u{202E}", 1, 10).unwrap_err().to_string(),
            "must not contain control characters, line breaks or bidirectional formatting (found U+202E)"
        );
    }

    #[test]
    fn ordinary_text_in_any_script_passes() {
        for good in [
            "Ada Lovelace",
            "Zoë Ñúñez",
            "東京都",
            "שלום עולם",
            "مرحبا",
            "🌌 Our night",
        ] {
            assert_eq!(check_line(good, 1, 100), Ok(()), "{good}");
        }
    }

    #[test]
    fn lengths_count_characters_after_trimming() {
        assert_eq!(check_line("  ", 1, 10), Err(TextError::Empty));
        assert_eq!(check_line("", 0, 10), Ok(()));
        assert_eq!(check_line("ééé", 1, 3), Ok(()));
        assert_eq!(check_line("éééé", 1, 3), Err(TextError::TooLong(3)));
    }

    #[test]
    fn countries_are_real_iso_codes() {
        assert_eq!(parse_country(" es ").unwrap(), "ES");
        assert_eq!(parse_country("US").unwrap(), "US");
        for bad in ["ZZ", "XX", "USA", "U", "", "AA", "u\0"] {
            assert!(parse_country(bad).is_err(), "{bad}");
        }
    }
}
