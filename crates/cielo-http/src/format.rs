//! How the shop writes things for people, shared by every page (the storefront
//! and the test payment page must show money the same way).

use cielo_core::Money;

/// Money for people: `$44.00`, `€9.50`, `£12.00`, `¥1200`, else `CHF 12.00`.
/// Negative amounts get a leading minus: `-$5.00`.
pub fn money_text(m: Money) -> String {
    let exp = m.currency.exponent();
    let code = m.currency.code();
    let symbol = match code {
        "USD" | "CAD" | "AUD" | "NZD" | "MXN" => "$",
        "EUR" => "€",
        "GBP" => "£",
        "JPY" => "¥",
        _ => "",
    };
    let abs = m.amount.unsigned_abs();
    let number = if exp == 0 {
        abs.to_string()
    } else {
        let unit = 10u64.pow(exp);
        format!(
            "{}.{:0width$}",
            abs / unit,
            abs % unit,
            width = exp as usize
        )
    };
    let sign = if m.amount < 0 { "-" } else { "" };
    if symbol.is_empty() {
        format!("{sign}{code} {number}")
    } else {
        format!("{sign}{symbol}{number}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cielo_core::Currency;

    #[test]
    fn money_is_written_with_symbol_and_minor_units() {
        let usd = Currency::parse("USD").unwrap();
        assert_eq!(money_text(Money::new(4400, usd)), "$44.00");
        assert_eq!(money_text(Money::new(-505, usd)), "-$5.05");
        let jpy = Currency::parse("JPY").unwrap();
        assert_eq!(money_text(Money::new(1200, jpy)), "¥1200");
        let chf = Currency::parse("CHF").unwrap();
        assert_eq!(money_text(Money::new(1207, chf)), "CHF 12.07");
    }
}
