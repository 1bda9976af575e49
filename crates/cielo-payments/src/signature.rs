//! Stripe's webhook signature scheme, used by the built-in test provider too.
//!
//! `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…][,v0=…]`. The signed bytes
//! are `t` in decimal, `.`, then the raw body exactly as received; the MAC is
//! HMAC-SHA256 keyed with the whole secret string (`whsec_…` included),
//! written as lowercase hex. This follows the official Python and Node
//! libraries: the first `t` counts, any matching `v1` passes, other schemes
//! are ignored, uppercase hex does not match, and only timestamps older than
//! `now − tolerance` are refused (tolerance 0 skips the age check).

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Default tolerance on the signature's age, seconds.
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The header is missing or empty.
    #[error("missing signature header")]
    MissingHeader,
    /// No secret is configured.
    #[error("no webhook secret configured")]
    NoSecret,
    /// No usable `t=`.
    #[error("no valid timestamp in the signature header")]
    NoTimestamp,
    /// No `v1=` entry.
    #[error("no v1 signature in the signature header")]
    NoSignature,
    /// No `v1` matched any secret.
    #[error("no signature matches the payload")]
    Mismatch,
    /// The timestamp is older than the tolerance allows.
    #[error("timestamp outside the tolerance ({age} s old, tolerance {tolerance} s)")]
    TooOld {
        /// Age in seconds.
        age: i64,
        /// Tolerance in seconds.
        tolerance: i64,
    },
}

/// The parts of a signature header that count.
#[derive(Debug)]
struct Parsed<'a> {
    timestamp: i64,
    v1: Vec<&'a str>,
}

fn parse(header: &str) -> Result<Parsed<'_>, SignatureError> {
    if header.is_empty() {
        return Err(SignatureError::MissingHeader);
    }
    let mut timestamp = None;
    let mut v1 = Vec::new();
    for item in header.split(',') {
        let Some((key, value)) = item.split_once('=') else {
            continue;
        };
        match key {
            // The first `t` counts; a signature matching only a later one never passes.
            "t" if timestamp.is_none() => {
                timestamp = Some(parse_decimal(value).ok_or(SignatureError::NoTimestamp)?);
            }
            "v1" => v1.push(value),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::NoTimestamp)?;
    if v1.is_empty() {
        return Err(SignatureError::NoSignature);
    }
    Ok(Parsed { timestamp, v1 })
}

/// A base-10 integer as the official libraries accept it (`int(value)`):
/// optional sign, digits only.
fn parse_decimal(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The lowercase hex HMAC-SHA256 of `t.payload` under `secret`.
pub fn compute(secret: &str, timestamp: i64, payload: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    hex::encode(mac.finalize().into_bytes())
}

/// A `Stripe-Signature` header for `payload`, signed with each secret (as
/// Stripe does while a secret is being rolled).
pub fn sign(secrets: &[&str], timestamp: i64, payload: &[u8]) -> String {
    let mut header = format!("t={timestamp}");
    for s in secrets {
        header.push_str(",v1=");
        header.push_str(&compute(s, timestamp, payload));
    }
    header
}

/// Verifies a `Stripe-Signature` header on the raw `payload` against any of
/// `secrets`, at time `now` (unix seconds). Returns the signed timestamp.
pub fn verify(
    header: &str,
    payload: &[u8],
    secrets: &[String],
    now: i64,
    tolerance: i64,
) -> Result<i64, SignatureError> {
    let secrets: Vec<&str> = secrets
        .iter()
        .map(String::as_str)
        .filter(|s| !s.is_empty())
        .collect();
    if secrets.is_empty() {
        return Err(SignatureError::NoSecret);
    }
    let parsed = parse(header)?;
    let mut matched = subtle::Choice::from(0);
    for secret in &secrets {
        let expected = compute(secret, parsed.timestamp, payload);
        for candidate in &parsed.v1 {
            // `ct_eq` on slices of different lengths is false without looking at the bytes.
            matched |= expected.as_bytes().ct_eq(candidate.as_bytes());
        }
    }
    if !bool::from(matched) {
        return Err(SignatureError::Mismatch);
    }
    if tolerance > 0 && parsed.timestamp < now.saturating_sub(tolerance) {
        return Err(SignatureError::TooOld {
            age: now.saturating_sub(parsed.timestamp),
            tolerance,
        });
    }
    Ok(parsed.timestamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret";

    fn header_for(body: &str, t: i64) -> String {
        sign(&[SECRET], t, body.as_bytes())
    }

    fn check(header: &str, body: &str, now: i64) -> Result<i64, SignatureError> {
        verify(
            header,
            body.as_bytes(),
            &[SECRET.to_string()],
            now,
            DEFAULT_TOLERANCE_SECS,
        )
    }

    #[test]
    fn a_fresh_signature_on_the_exact_body_verifies() {
        let body = "{\"id\":\"evt_1\"}";
        assert_eq!(check(&header_for(body, 1000), body, 1000), Ok(1000));
        assert_eq!(
            check(&header_for(body, 1000), body, 1300),
            Ok(1000),
            "exactly at the tolerance"
        );
        assert_eq!(
            check(&header_for(body, 5000), body, 1000),
            Ok(5000),
            "the future is not refused"
        );
    }

    #[test]
    fn anything_else_is_refused_with_a_reason() {
        let body = "{\"id\":\"evt_1\"}";
        let good = header_for(body, 1000);
        assert_eq!(
            check(&good, "{\"id\": \"evt_1\"}", 1000),
            Err(SignatureError::Mismatch)
        );
        assert!(matches!(
            check(&good, body, 1301),
            Err(SignatureError::TooOld { age: 301, .. })
        ));
        assert_eq!(check("", body, 1000), Err(SignatureError::MissingHeader));
        assert_eq!(
            check("garbage", body, 1000),
            Err(SignatureError::NoTimestamp)
        );
        assert_eq!(
            check("t=abc,v1=00", body, 1000),
            Err(SignatureError::NoTimestamp)
        );
        assert_eq!(
            check("t=1000", body, 1000),
            Err(SignatureError::NoSignature)
        );
        assert_eq!(
            check(&good.replace("v1=", "v0="), body, 1000),
            Err(SignatureError::NoSignature)
        );
        assert_eq!(
            check(&good.replace(",v1=", ", v1="), body, 1000),
            Err(SignatureError::NoSignature)
        );
        assert_eq!(
            check(
                &good
                    .to_uppercase()
                    .replace("T=", "t=")
                    .replace("V1=", "v1="),
                body,
                1000
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            check(&good[..good.len() - 2], body, 1000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            check("t=1000,v1=", body, 1000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&good, body.as_bytes(), &[], 1000, 300),
            Err(SignatureError::NoSecret)
        );
    }

    #[test]
    fn only_the_first_timestamp_counts() {
        let body = "{}";
        let sig = compute(SECRET, 2000, body.as_bytes());
        assert_eq!(
            check(&format!("t=1000,t=2000,v1={sig}"), body, 2000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            check(&format!("t=2000,t=1000,v1={sig}"), body, 2000),
            Ok(2000)
        );
    }

    #[test]
    fn any_v1_and_any_configured_secret_passes() {
        let body = "{}";
        let header = format!(
            "t=1000,v1={},v1={}",
            "0".repeat(64),
            compute(SECRET, 1000, body.as_bytes())
        );
        assert_eq!(check(&header, body, 1000), Ok(1000));
        let rotated = vec!["whsec_old".to_string(), SECRET.to_string()];
        assert_eq!(
            verify(
                &header_for(body, 1000),
                body.as_bytes(),
                &rotated,
                1000,
                300
            ),
            Ok(1000)
        );
    }

    #[test]
    fn tolerance_zero_skips_the_age_check() {
        let body = "{}";
        assert_eq!(
            verify(
                &header_for(body, 1),
                body.as_bytes(),
                &[SECRET.to_string()],
                1_000_000,
                0
            ),
            Ok(1)
        );
    }
}
