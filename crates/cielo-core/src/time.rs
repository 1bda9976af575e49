//! Timestamps: UTC instants, RFC 3339 at the edges, integer microseconds in
//! the database (the one representation both engines sort and compare alike).

use serde::{Deserialize, Serialize};

/// A UTC instant with microsecond precision.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(jiff::Timestamp);

impl Timestamp {
    /// The current instant.
    pub fn now() -> Self {
        Self::from_micros(jiff::Timestamp::now().as_microsecond())
    }
    /// From microseconds since the Unix epoch (the database form).
    pub fn from_micros(us: i64) -> Self {
        Self(jiff::Timestamp::from_microsecond(us).unwrap_or(jiff::Timestamp::UNIX_EPOCH))
    }
    /// Microseconds since the Unix epoch (the database form).
    pub fn as_micros(&self) -> i64 {
        self.0.as_microsecond()
    }
    /// Whole seconds since the Unix epoch.
    pub fn as_unix_seconds(&self) -> i64 {
        self.0.as_second()
    }
    /// Parses RFC 3339 (any offset; the instant is kept).
    pub fn parse_rfc3339(s: &str) -> Result<Self, jiff::Error> {
        let t: jiff::Timestamp = s.parse()?;
        Ok(Self::from_micros(t.as_microsecond()))
    }
    /// This instant plus `secs` seconds (negative goes back).
    pub fn plus_seconds(&self, secs: i64) -> Self {
        Self::from_micros(
            self.as_micros()
                .saturating_add(secs.saturating_mul(1_000_000)),
        )
    }
    /// The UTC calendar year and month (1–12) of this instant.
    pub fn utc_year_month(&self) -> (i32, u32) {
        let d = self.0.to_zoned(jiff::tz::TimeZone::UTC).date();
        (i32::from(d.year()), d.month() as u32)
    }
    /// The inner jiff timestamp.
    pub fn as_jiff(&self) -> jiff::Timestamp {
        self.0
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // RFC 3339 in UTC with a `Z`, as every edge of Cielo speaks it.
        write!(f, "{}", self.0)
    }
}
impl std::fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}
impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        // Said to a person at the field; the parser's own words are not.
        Self::parse_rfc3339(&s).map_err(|_| {
            serde::de::Error::custom("must be an RFC 3339 time such as 2026-11-21T10:00:00Z")
        })
    }
}
impl utoipa::PartialSchema for Timestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::DateTime,
            )))
            .examples([serde_json::json!("2026-11-21T17:00:00Z")])
            .into()
    }
}
impl utoipa::ToSchema for Timestamp {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_print_as_rfc3339_utc_and_round_trip() {
        let t = Timestamp::parse_rfc3339("2026-11-21T18:30:00+01:00").unwrap();
        assert_eq!(t.to_string(), "2026-11-21T17:30:00Z");
        assert_eq!(Timestamp::from_micros(t.as_micros()), t);
    }
}
