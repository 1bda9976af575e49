//! Money as integer minor units with an ISO 4217 currency. No floats anywhere.

use serde::{Deserialize, Serialize};

/// An ISO 4217 currency code (three upper-case letters) with a minor unit.
///
/// Codes and minor units come from the `iso_currency` crate (the ISO 4217
/// tables), so every current currency works; what a payment provider accepts
/// of it is the provider's own conversion (see `cielo-payments`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency([u8; 3]);

/// Errors of money arithmetic and parsing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// Not a currency code Cielo supports.
    #[error("unknown currency `{0}` (expected an ISO 4217 code such as USD or EUR)")]
    UnknownCurrency(String),
    /// An ISO 4217 code that names no money one can charge (gold, test, fund
    /// codes without a minor unit) or that has been replaced.
    #[error("currency `{0}` cannot be used for prices: {1}")]
    UnusableCurrency(String, &'static str),
    /// Two amounts in different currencies were combined.
    #[error("currency mismatch: {0} and {1}")]
    CurrencyMismatch(Currency, Currency),
    /// The result does not fit in 64 bits.
    #[error("amount out of range")]
    Overflow,
}

impl Currency {
    /// Parses a code; lower case is accepted and normalised. Refuses codes
    /// that are not in ISO 4217, have no minor unit (XAU, XXX) or have been
    /// superseded (HRK).
    pub fn parse(code: &str) -> Result<Self, MoneyError> {
        let up = code.trim().to_ascii_uppercase();
        let iso = iso_currency::Currency::from_code(&up)
            .ok_or_else(|| MoneyError::UnknownCurrency(code.to_string()))?;
        if iso.exponent().is_none() {
            return Err(MoneyError::UnusableCurrency(up, "it has no minor unit"));
        }
        if iso.is_superseded().is_some() {
            return Err(MoneyError::UnusableCurrency(
                up,
                "it has been replaced by another currency",
            ));
        }
        let b = up.as_bytes();
        Ok(Self([b[0], b[1], b[2]]))
    }
    /// The three-letter code.
    pub fn code(&self) -> &str {
        std::str::from_utf8(&self.0).expect("currency codes are ASCII")
    }
    /// Number of decimal places of the ISO 4217 minor unit (JPY 0, USD 2,
    /// KWD 3). Amounts in [`Money`] count this unit.
    pub fn exponent(&self) -> u32 {
        iso_currency::Currency::from_code(self.code())
            .and_then(|c| c.exponent())
            .map(u32::from)
            .expect("parse admits only currencies with a minor unit")
    }
}

impl std::fmt::Display for Currency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}
impl std::fmt::Debug for Currency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}
impl std::str::FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}
impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}
impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}
impl utoipa::PartialSchema for Currency {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some("^[A-Z]{3}$"))
            .description(Some("ISO 4217 currency code"))
            .examples([serde_json::json!("USD")])
            .into()
    }
}
impl utoipa::ToSchema for Currency {}

/// An amount of money: integer minor units (cents for USD) and a currency.
/// On the wire: `{"amount": 1999, "currency": "USD"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Money {
    /// Amount in the currency's minor unit.
    pub amount: i64,
    /// ISO 4217 code.
    #[schema(value_type = String, example = "USD")]
    pub currency: Currency,
}

impl Money {
    /// `amount` minor units of `currency`.
    pub fn new(amount: i64, currency: Currency) -> Self {
        Self { amount, currency }
    }
    /// Zero in `currency`.
    pub fn zero(currency: Currency) -> Self {
        Self {
            amount: 0,
            currency,
        }
    }
    /// Checked sum; refuses to add different currencies.
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch(self.currency, other.currency));
        }
        let amount = self
            .amount
            .checked_add(other.amount)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money {
            amount,
            currency: self.currency,
        })
    }
    /// Checked product with a quantity.
    pub fn checked_mul(self, quantity: i64) -> Result<Money, MoneyError> {
        let amount = self
            .amount
            .checked_mul(quantity)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money {
            amount,
            currency: self.currency,
        })
    }
    /// The share of this amount at `basis_points` / 10 000, rounded half away
    /// from zero. Used for tax so that one rule decides every remainder.
    pub fn percentage_bp(self, basis_points: u32) -> Result<Money, MoneyError> {
        let scaled = (self.amount as i128) * (basis_points as i128);
        let q = scaled / 10_000;
        let r = scaled % 10_000;
        let rounded = if r.abs() * 2 >= 10_000 {
            q + scaled.signum()
        } else {
            q
        };
        let amount = i64::try_from(rounded).map_err(|_| MoneyError::Overflow)?;
        Ok(Money {
            amount,
            currency: self.currency,
        })
    }
}

impl std::fmt::Display for Money {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let exp = self.currency.exponent();
        if exp == 0 {
            return write!(f, "{} {}", self.amount, self.currency);
        }
        let div = 10i64.pow(exp);
        let sign = if self.amount < 0 { "-" } else { "" };
        let abs = self.amount.unsigned_abs();
        write!(
            f,
            "{sign}{}.{:0width$} {}",
            abs / div as u64,
            abs % div as u64,
            self.currency,
            width = exp as usize
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd() -> Currency {
        Currency::parse("usd").unwrap()
    }

    #[test]
    fn currencies_know_their_exponent() {
        assert_eq!(Currency::parse("JPY").unwrap().exponent(), 0);
        assert_eq!(usd().exponent(), 2);
        assert_eq!(Currency::parse("KWD").unwrap().exponent(), 3);
        assert!(Currency::parse("XXX").is_err());
        assert!(Currency::parse("US").is_err());
    }

    #[test]
    fn every_current_iso_currency_is_known_with_its_iso_minor_unit() {
        // Outside the few dozen a hand-written table knew.
        for (code, exp) in [
            ("UGX", 0),
            ("ISK", 0),
            ("MGA", 2),
            ("NGN", 2),
            ("KES", 2),
            ("IQD", 3),
            ("LYD", 3),
            ("CLF", 4),
            ("ghs", 2),
        ] {
            assert_eq!(Currency::parse(code).unwrap().exponent(), exp, "{code}");
        }
        assert!(matches!(
            Currency::parse("XAU"),
            Err(MoneyError::UnusableCurrency(..))
        ));
        assert!(matches!(
            Currency::parse("HRK"),
            Err(MoneyError::UnusableCurrency(..))
        ));
        assert!(matches!(
            Currency::parse("ABC"),
            Err(MoneyError::UnknownCurrency(..))
        ));
    }

    #[test]
    fn adding_different_currencies_is_an_error_not_a_panic() {
        let eur = Currency::parse("EUR").unwrap();
        assert!(matches!(
            Money::new(1, usd()).checked_add(Money::new(1, eur)),
            Err(MoneyError::CurrencyMismatch(..))
        ));
    }

    #[test]
    fn overflow_is_reported() {
        assert_eq!(
            Money::new(i64::MAX, usd()).checked_mul(2),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            Money::new(i64::MAX, usd()).checked_add(Money::new(1, usd())),
            Err(MoneyError::Overflow)
        );
    }

    #[test]
    fn percentages_round_half_away_from_zero() {
        assert_eq!(
            Money::new(1000, usd()).percentage_bp(825).unwrap().amount,
            83
        ); // 82.5 -> 83
        assert_eq!(
            Money::new(1000, usd()).percentage_bp(824).unwrap().amount,
            82
        );
        assert_eq!(
            Money::new(-1000, usd()).percentage_bp(825).unwrap().amount,
            -83
        );
        assert_eq!(Money::new(0, usd()).percentage_bp(2000).unwrap().amount, 0);
    }

    #[test]
    fn percentage_of_a_sum_never_differs_from_sum_by_more_than_one_unit() {
        // property over a grid: rounding error is at most half a minor unit
        for amount in (0..20_000).step_by(37) {
            for bp in [0u32, 1, 500, 825, 1999, 2500, 10_000] {
                let exact = amount as f64 * bp as f64 / 10_000.0;
                let got = Money::new(amount, usd()).percentage_bp(bp).unwrap().amount as f64;
                assert!(
                    (got - exact).abs() <= 0.5 + 1e-9,
                    "{amount} at {bp}bp gave {got}, exact {exact}"
                );
            }
        }
    }

    #[test]
    fn money_displays_in_major_units() {
        assert_eq!(Money::new(1999, usd()).to_string(), "19.99 USD");
        assert_eq!(Money::new(-5, usd()).to_string(), "-0.05 USD");
        assert_eq!(
            Money::new(500, Currency::parse("JPY").unwrap()).to_string(),
            "500 JPY"
        );
    }

    #[test]
    fn money_serialises_as_amount_and_currency() {
        let j = serde_json::to_value(Money::new(1999, usd())).unwrap();
        assert_eq!(j, serde_json::json!({"amount": 1999, "currency": "USD"}));
    }
}
