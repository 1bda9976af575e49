//! The star-map poster as a product of the shop.
//!
//! `cielo-starmap` draws skies and knows nothing of shops; `cielo-orders` sells
//! lines and knows nothing of skies. This crate joins them:
//!
//! * [`places`]: search over the embedded GeoNames cities, so a customer types a
//!   city instead of coordinates, and the time zone of a point;
//! * [`StarmapLineValidator`]: the orders domain's [`cielo_orders::LineOptionsValidator`]
//!   for [`PRODUCT_TYPE`] lines: checks the options and stores them resolved
//!   ([`StarmapLine`]: coordinates, zone, instant, size), so a render job makes the
//!   print from the stored options alone with [`print_options`];
//! * [`resolve`]: the same rules for the preview endpoint's query string.
#![warn(missing_docs)]

pub mod artwork;
mod line;
pub mod mockup;
pub mod places;
pub mod print_specs;

pub use line::{
    print_options, resolve, SecondLine, StarmapLine, StarmapLineValidator, DATE_RANGE,
    OPTION_NAMES, PRINT_DPI, SECOND_OPTION_NAMES,
};
pub use places::Place;
pub use print_specs::{print_options_for_lab, print_spec, print_specs, PrintSpec, PrintSpecError};

/// The `product_type` of star-map posters in the catalog.
pub const PRODUCT_TYPE: &str = "starmap_poster";
