//! Cielo star maps: the sky over a place at a moment, and the poster that shows it.
//!
//! The astronomy reproduces the reference computation (Skyfield with JPL DE440 and
//! the Hipparcos new reduction) to well inside 0.1 arcminute; see [`positions()`]. The
//! poster is drawn by one renderer for preview and print.
#![warn(missing_docs)]

pub mod astro;
pub mod catalog;
pub mod cli;
mod data;
pub mod ephemeris;
pub mod options;
mod pdf;
pub mod positions;
mod raster;
mod render;
mod scene;
mod svg;
mod text;
pub mod time;
pub mod words;

pub use astro::MoonPhase;
pub use astro::{Horizontal, Observer, Sky};
pub use ephemeris::Body;
pub use options::{
    instant_from_local, instant_from_local_fold, layouts, shapes, sizes, themes, CustomColors,
    FieldError, Fold, Layout, PosterSize, SecondSky, SkyShape, StarmapOptions, Theme, FONTS,
    LANGUAGES, MAX_MESSAGE_CHARS, MAX_PLACE_CHARS, MAX_TITLE_CHARS, MIN_CONTRAST,
};
pub use positions::{positions, BodyPosition, Positions, StarPosition};
pub use raster::Progress;
pub use render::{
    build_preview_scene, render_mockup_png, render_png_preview, render_png_with_bands,
    render_print, render_print_with_progress, OutputFormat, RenderInfo,
};
pub use time::TimeScales;

/// Everything that can go wrong in this crate. Validation variants name the field.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Latitude outside −90..=90 degrees.
    #[error("lat: {0} is outside -90..90 degrees")]
    Latitude(f64),
    /// Longitude outside −180..=180 degrees.
    #[error("lon: {0} is outside -180..180 degrees")]
    Longitude(f64),
    /// Instant outside 1800-01-01..2200-12-31.
    #[error("at: the date must be between 1800-01-01 and 2200-12-31")]
    DateOutOfRange,
    /// A field failed validation; `field` names it.
    #[error("{field}: {message}")]
    Invalid {
        /// The option's name, as in the API and the CLI.
        field: &'static str,
        /// What is wrong, for a person.
        message: String,
    },
    /// One or more options failed validation; each names its field.
    #[error("invalid options: {}", .0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "))]
    Validation(Vec<options::FieldError>),
    /// Writing the output failed.
    #[error("writing the output failed: {0}")]
    Io(#[from] std::io::Error),
}
