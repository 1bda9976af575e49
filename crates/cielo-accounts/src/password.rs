//! Password rules and argon2id hashing.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;

/// Why a password is refused.
pub fn check_strength(password: &str, email: &str) -> Result<(), String> {
    let n = password.chars().count();
    if n < 10 {
        return Err("must be at least 10 characters".into());
    }
    if n > 128 {
        return Err("must be at most 128 characters".into());
    }
    let lower = password.to_lowercase();
    let local = email.split('@').next().unwrap_or("").to_lowercase();
    if local.len() >= 3 && lower.contains(&local) {
        return Err("must not contain your email address".into());
    }
    const COMMON: &[&str] = &[
        "password", "123456", "qwerty", "letmein", "welcome", "iloveyou", "admin", "abc123",
        "111111", "monkey", "dragon", "football", "baseball", "sunshine", "princess", "starmap",
        "cielo",
    ];
    let distinct = {
        let mut c: Vec<char> = password.chars().collect();
        c.sort_unstable();
        c.dedup();
        c.len()
    };
    if distinct < 5
        || COMMON
            .iter()
            .any(|w| lower.contains(w) && lower.len() < w.len() + 6)
    {
        return Err("is too easy to guess; use a longer phrase".into());
    }
    let classes = [
        password.chars().any(|c| c.is_lowercase()),
        password.chars().any(|c| c.is_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_alphanumeric()),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if n < 16 && classes < 2 {
        return Err("mix letters with digits or symbols, or use at least 16 characters".into());
    }
    Ok(())
}

/// Hashes with argon2id and the crate's recommended parameters (19 MiB, t=2).
pub fn hash(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing password: {e}"))
}

/// True when `password` matches the PHC-format `hash`.
pub fn verify(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash of a random password, verified against when an account does not
/// exist so that unknown emails take as long as wrong passwords.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        hash("decoy password that never matches 7fa1").expect("argon2 with default params works")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_passwords_are_refused_with_a_reason() {
        for (pw, why) in [
            ("short1!", "at least 10"),
            ("aaaaaaaaaaaa", "too easy"),
            ("password123", "too easy"),
            ("abcdefghijkl", "mix letters"),
            ("ada.lovelace99", "email"),
        ] {
            let err = check_strength(pw, "ada.lovelace@example.com").unwrap_err();
            assert!(err.contains(why), "{pw}: {err}");
        }
    }

    #[test]
    fn reasonable_passwords_pass() {
        assert!(check_strength("correct horse battery staple", "x@example.com").is_ok());
        assert!(check_strength("Tr0ub4dor&3x", "x@example.com").is_ok());
    }

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let h = hash("Tr0ub4dor&3x").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("Tr0ub4dor&3x", &h));
        assert!(!verify("Tr0ub4dor&3y", &h));
        assert!(!verify("anything", "not a hash"));
    }
}
