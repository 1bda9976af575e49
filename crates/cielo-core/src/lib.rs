//! Shared vocabulary of Cielo: money, typed ids, timestamps and error kinds.
//!
//! Nothing here performs I/O; every domain crate depends on it.
#![warn(missing_docs)]

pub mod address;
pub mod error;
pub mod id;
pub mod money;
pub mod phone;
pub mod telemetry;
pub mod text;
pub mod time;

pub use address::PostalAddress;
pub use error::{ErrorKind, FieldError, HasErrorKind, Validation};
pub use money::{Currency, Money, MoneyError};
pub use time::Timestamp;
