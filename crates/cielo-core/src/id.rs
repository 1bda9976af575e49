//! Typed, prefixed identifiers.
//!
//! Every entity has its own id type (`ProductId`, `OrderId`, …) holding a
//! time-ordered UUID (v7). On the wire and in the database an id is the prefix,
//! an underscore and the UUID's 32 lowercase hex digits (`prod_0190…`), so a pasted
//! id says what it is and a parser rejects an id of the wrong kind.

/// Why a string is not a valid id of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The prefix is not the one this kind of id uses.
    #[error("expected an id starting with `{expected}_`")]
    WrongPrefix {
        /// The prefix that was expected.
        expected: &'static str,
    },
    /// The part after the prefix is not 32 hex digits.
    #[error("malformed id")]
    Malformed,
}

/// Parses `<prefix>_<32 hex>` into a UUID.
pub fn parse_prefixed(prefix: &'static str, s: &str) -> Result<uuid::Uuid, IdError> {
    let rest = s
        .strip_prefix(prefix)
        .and_then(|r| r.strip_prefix('_'))
        .ok_or(IdError::WrongPrefix { expected: prefix })?;
    if rest.len() != 32 || !rest.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(IdError::Malformed);
    }
    uuid::Uuid::try_parse(rest).map_err(|_| IdError::Malformed)
}

/// Declares a typed id: `typed_id!(ProductId, "prod", "A product.");`
#[macro_export]
macro_rules! typed_id {
    ($name:ident, $prefix:literal, $doc:literal) => {
        #[doc = $doc]
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name($crate::id::__uuid::Uuid);

        impl $name {
            /// The prefix this id carries on the wire.
            #[allow(dead_code)]
            pub const PREFIX: &'static str = $prefix;
            /// A new, time-ordered id.
            pub fn new() -> Self {
                Self($crate::id::__uuid::Uuid::now_v7())
            }
            /// Parses the prefixed form.
            pub fn parse(s: &str) -> Result<Self, $crate::id::IdError> {
                $crate::id::parse_prefixed($prefix, s).map(Self)
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}_{}", $prefix, self.0.simple())
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Display::fmt(self, f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::id::IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                // Said to a person at the field (an API body or query).
                Self::parse(&s).map_err(|_| {
                    serde::de::Error::custom(format!(
                        "must be an id such as {}_ followed by 32 hex digits",
                        $prefix
                    ))
                })
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .pattern(Some(concat!("^", $prefix, "_[0-9a-f]{32}$")))
                    .examples([serde_json::json!(concat!(
                        $prefix,
                        "_0193a0b2c3d47e8f9a0b1c2d3e4f5a6b"
                    ))])
                    .into()
            }
        }
        impl utoipa::ToSchema for $name {}
    };
}

#[doc(hidden)]
pub use uuid as __uuid;

#[cfg(test)]
mod tests {
    typed_id!(ThingId, "thing", "A test id.");
    typed_id!(OtherId, "other", "Another test id.");

    #[test]
    fn an_id_round_trips_through_its_text_form() {
        let id = ThingId::new();
        let s = id.to_string();
        assert!(s.starts_with("thing_"));
        assert_eq!(s.len(), "thing_".len() + 32);
        assert_eq!(ThingId::parse(&s).unwrap(), id);
    }

    #[test]
    fn an_id_of_another_kind_is_rejected() {
        let s = OtherId::new().to_string();
        assert!(matches!(
            ThingId::parse(&s),
            Err(super::IdError::WrongPrefix { .. })
        ));
        assert!(ThingId::parse("thing_xyz").is_err());
    }

    #[test]
    fn ids_sort_by_creation_time() {
        let a = ThingId::new();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = ThingId::new();
        assert!(a.to_string() < b.to_string());
    }
}
