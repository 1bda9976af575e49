//! The keys a lab knows our orders by, derived from our order id so that every
//! retry of a submission sends the same one.

use sha2::{Digest, Sha256};

/// Printful's `external_id` for generation `generation` of an order's
/// submission: at most 32 characters of `[0-9A-Za-z_-]`, unique in the store.
///
/// Our order ids are `ord_` + 32 hex digits (36 characters), so the first
/// submission uses the 32 hex digits; a resubmission (Printful keeps the
/// failed order under the old id) ends in `-r<n>` after as many of them as
/// fit (29 for `-r1`).
/// An order id of another shape is hashed (SHA-256, 32 hex digits) first.
pub fn printful_external_id(order_id: &str, generation: i64) -> String {
    let base = order_id
        .strip_prefix("ord_")
        .filter(|rest| rest.len() == 32 && rest.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_string)
        .unwrap_or_else(|| hex::encode(Sha256::digest(order_id.as_bytes()))[..32].to_string());
    if generation <= 0 {
        base
    } else {
        let suffix = format!("-r{generation}");
        format!("{}{suffix}", &base[..32 - suffix.len()])
    }
}

/// Prodigi's `idempotencyKey` for generation `generation`: our order id for
/// the first submission, `<order id>-r<n>` for a resubmission (Prodigi never
/// forgets a key, and a refused order keeps its own).
pub fn prodigi_idempotency_key(order_id: &str, generation: i64) -> String {
    if generation <= 0 {
        order_id.to_string()
    } else {
        format!("{order_id}-r{generation}")
    }
}

/// The key stored as `external_ref` for `lab`.
pub(crate) fn external_ref(lab: crate::Lab, order_id: &str, generation: i64) -> String {
    match lab {
        crate::Lab::Printful => printful_external_id(order_id, generation),
        crate::Lab::Prodigi => prodigi_idempotency_key(order_id, generation),
        crate::Lab::Local => format!("{order_id}-local-{generation}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid(id: &str) -> bool {
        id.len() <= 32
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }

    #[test]
    fn printful_ids_fit_32_characters_and_are_stable() {
        let order = "ord_0193a0b2c3d47e8f9a0b1c2d3e4f5a6b";
        assert_eq!(order.len(), 36);
        let first = printful_external_id(order, 0);
        assert_eq!(first, "0193a0b2c3d47e8f9a0b1c2d3e4f5a6b");
        assert_eq!(first, printful_external_id(order, 0));
        for g in [1, 9, 10, 99, 12345] {
            let id = printful_external_id(order, g);
            assert!(valid(&id), "{id}");
            assert_ne!(id, first);
            assert!(id.ends_with(&format!("-r{g}")));
        }
        let odd = printful_external_id("order with spaces and a long name, too long", 0);
        assert!(valid(&odd), "{odd}");
        assert_eq!(odd.len(), 32);
    }

    #[test]
    fn prodigi_keys_change_only_with_the_generation() {
        assert_eq!(prodigi_idempotency_key("ord_x", 0), "ord_x");
        assert_eq!(prodigi_idempotency_key("ord_x", 2), "ord_x-r2");
    }
}
