//! Phone numbers in E.164, the one form SMS providers take.
//!
//! A strict syntactic check (`+`, a country code that does not start with 0,
//! 8 to 15 digits in all) instead of a numbering-plan library: the plan
//! metadata is large, and the provider checks reachability anyway.

/// True for `+` followed by 8–15 digits, the first not 0.
pub fn is_e164(s: &str) -> bool {
    let Some(digits) = s.strip_prefix('+') else {
        return false;
    };
    (8..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

/// `s` with spaces, dots, dashes and brackets removed, if the rest is E.164
/// (people type `+34 600 12 34 56`).
pub fn normalise(s: &str) -> Option<String> {
    let compact: String = s
        .chars()
        .filter(|c| !matches!(c, ' ' | '.' | '-' | '(' | ')' | '\u{a0}'))
        .collect();
    is_e164(&compact).then_some(compact)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_e164_numbers_pass() {
        assert!(is_e164("+34600123456"));
        assert!(is_e164("+14155552671"));
        assert!(!is_e164("34600123456"));
        assert!(!is_e164("+0600123456"));
        assert!(!is_e164("+1234567"));
        assert!(!is_e164("+1234567890123456"));
        assert!(!is_e164("+34 600 123 456"));
        assert_eq!(
            normalise("+34 600-12 (34) 56").as_deref(),
            Some("+34600123456")
        );
        assert_eq!(normalise("600 123 456"), None);
    }
}
