//! The fulfillment domain against a real database (SQLite, or PostgreSQL
//! with CIELO_TEST_DATABASE_URL) and fake Printful / Prodigi servers built
//! from PROVIDERS.md, with injected faults. Every test counts the orders the
//! lab holds: exactly one per order.

mod helpers;
mod local;
mod printful;
mod prodigi;
mod secrets;
