//! Cielo as a library: settings, the application wiring and the demo catalog,
//! shared by the `cielo` binary and the black-box API tests.
#![warn(missing_docs)]

pub mod app;
pub mod demo;
#[cfg(feature = "otel")]
pub mod otel;
pub mod payments;
pub mod settings;
pub mod telemetry;

pub use app::Application;
pub use settings::Settings;

/// Every domain's migrations, in dependency order.
pub fn migrations() -> Vec<cielo_db::MigrationSet> {
    vec![
        cielo_jobs::MIGRATIONS,
        cielo_catalog::MIGRATIONS,
        cielo_accounts::MIGRATIONS,
        cielo_orders::MIGRATIONS,
        cielo_payments::MIGRATIONS,
        cielo_fulfillment::MIGRATIONS,
        cielo_ops::MIGRATIONS,
        cielo_notify::MIGRATIONS,
    ]
}
