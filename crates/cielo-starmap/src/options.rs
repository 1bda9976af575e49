//! What a customer chooses for a poster, its validation, and the catalogues of themes
//! and sizes.

use std::sync::OnceLock;

use crate::Error;

const THEMES_JSON: &str = include_str!("../data/themes.json");
const LAYOUTS_JSON: &str = include_str!("../data/layouts.json");

/// Longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 60;
/// Longest message, in characters.
pub const MAX_MESSAGE_CHARS: usize = 240;
/// Longest place name, in characters.
pub const MAX_PLACE_CHARS: usize = 80;

/// An sRGB colour as `#rrggbb` in the theme data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    /// Parses `#rrggbb`.
    pub fn parse(s: &str) -> Option<Rgb> {
        let hex = s.strip_prefix('#').filter(|h| h.len() == 6)?;
        let v = u32::from_str_radix(hex, 16).ok()?;
        Some(Rgb((v >> 16) as u8, (v >> 8) as u8, v as u8))
    }

    /// `#rrggbb`.
    pub fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }

    /// WCAG relative luminance, 0 (black) ..= 1 (white).
    pub fn luminance(self) -> f64 {
        let lin = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * lin(self.0) + 0.7152 * lin(self.1) + 0.0722 * lin(self.2)
    }

    /// WCAG contrast ratio with another colour, 1 ..= 21.
    pub fn contrast(self, other: Rgb) -> f64 {
        let (a, b) = (self.luminance(), other.luminance());
        (a.max(b) + 0.05) / (a.min(b) + 0.05)
    }

    /// This colour moved `t` (0..1) of the way to `other`.
    pub fn mix(self, other: Rgb, t: f32) -> Rgb {
        let m = |a: u8, b: u8| (f32::from(a) * (1.0 - t) + f32::from(b) * t).round() as u8;
        Rgb(m(self.0, other.0), m(self.1, other.1), m(self.2, other.2))
    }
}

impl<'de> serde::Deserialize<'de> for Rgb {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Rgb::parse(&s).ok_or_else(|| serde::de::Error::custom("colour must be #rrggbb"))
    }
}

/// A poster theme: colours and a few weights, defined as data in `data/themes.json`.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct Theme {
    /// Identifier used in options and on the command line, e.g. `classic-dark`.
    pub id: String,
    /// Name for people.
    pub name: String,
    /// Poster background.
    pub background: Rgb,
    /// Sky disc fill.
    pub disc: Rgb,
    /// Horizon ring.
    pub disc_edge: Rgb,
    /// Thin frame around the poster.
    pub frame: Rgb,
    /// Star colour before tinting.
    pub star: Rgb,
    /// How much the B−V colour tints the stars, 0..1.
    pub star_tint: f32,
    /// Opacity of the halo around bright stars, 0..1.
    pub glow: f32,
    /// Constellation lines.
    pub lines: Rgb,
    /// Opacity of constellation lines.
    pub lines_alpha: f32,
    /// Constellation names.
    pub names: Rgb,
    /// Grid lines.
    pub grid: Rgb,
    /// Opacity of grid lines.
    pub grid_alpha: f32,
    /// Title and main text.
    pub text: Rgb,
    /// Secondary text (date, coordinates, compass points).
    pub text_muted: Rgb,
    /// Lit part of the Moon.
    pub moon: Rgb,
    /// Unlit part of the Moon.
    pub moon_dark: Rgb,
    /// Planets.
    pub planet: Rgb,
    /// The Milky Way's glow.
    pub milky_way: Rgb,
    /// Opacity of one step of the Milky Way's brightness, 0..1.
    pub milky_way_alpha: f32,
}

/// Find a layout by id.
pub fn layout(id: &str) -> Option<&'static Layout> {
    layouts().iter().find(|l| l.id == id)
}

/// All themes, in the order a shop would list them.
pub fn themes() -> &'static [Theme] {
    static T: OnceLock<Vec<Theme>> = OnceLock::new();
    T.get_or_init(|| serde_json::from_str(THEMES_JSON).expect("embedded themes.json is valid"))
}

/// Find a theme by id.
pub fn theme(id: &str) -> Option<&'static Theme> {
    themes().iter().find(|t| t.id == id)
}

/// A poster size (trim size, without bleed).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct PosterSize {
    /// Identifier used in options and on the command line, e.g. `24x36in`, `a3`.
    pub id: &'static str,
    /// Name for people.
    pub name: &'static str,
    /// Width in millimetres (portrait).
    pub width_mm: f64,
    /// Height in millimetres.
    pub height_mm: f64,
}

const IN: f64 = 25.4;
const SIZES: [PosterSize; 7] = [
    PosterSize {
        id: "a4",
        name: "A4",
        width_mm: 210.0,
        height_mm: 297.0,
    },
    PosterSize {
        id: "a3",
        name: "A3",
        width_mm: 297.0,
        height_mm: 420.0,
    },
    PosterSize {
        id: "a2",
        name: "A2",
        width_mm: 420.0,
        height_mm: 594.0,
    },
    PosterSize {
        id: "8x10in",
        name: "8×10 in",
        width_mm: 8.0 * IN,
        height_mm: 10.0 * IN,
    },
    PosterSize {
        id: "12x16in",
        name: "12×16 in",
        width_mm: 12.0 * IN,
        height_mm: 16.0 * IN,
    },
    PosterSize {
        id: "18x24in",
        name: "18×24 in",
        width_mm: 18.0 * IN,
        height_mm: 24.0 * IN,
    },
    PosterSize {
        id: "24x36in",
        name: "24×36 in",
        width_mm: 24.0 * IN,
        height_mm: 36.0 * IN,
    },
];

/// All poster sizes.
pub fn sizes() -> &'static [PosterSize] {
    &SIZES
}

/// Find a size by id (case-insensitive).
pub fn size(id: &str) -> Option<&'static PosterSize> {
    SIZES.iter().find(|s| s.id.eq_ignore_ascii_case(id))
}

/// Languages the poster's fixed words (date, compass points, planet, Moon-phase and
/// constellation names, default title) can be printed in.
pub const LANGUAGES: [&str; 6] = ["en", "es", "pt", "fr", "de", "it"];

/// A poster layout, defined as data in `data/layouts.json`.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
pub struct Layout {
    /// Identifier used in options, e.g. `classic`.
    pub id: String,
    /// Name for people.
    pub name: String,
    /// Printed landscape (the size's width and height swapped).
    pub landscape: bool,
    /// Number of skies: 1, or 2 for a pair (the second is [`StarmapOptions::second`]).
    pub skies: u8,
    /// The sky runs to the edges of the poster, the words on a band.
    pub full_bleed: bool,
    /// A panel with the Moon's phase, its name and illuminated fraction.
    pub moon_panel: bool,
}

/// A shape of the sky, from `data/layouts.json`.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
pub struct SkyShape {
    /// Identifier used in options: `circle`, `square`, `heart`.
    pub id: String,
    /// Name for people.
    pub name: String,
}

#[derive(serde::Deserialize)]
struct LayoutData {
    layouts: Vec<Layout>,
    shapes: Vec<SkyShape>,
}

fn layout_data() -> &'static LayoutData {
    static L: OnceLock<LayoutData> = OnceLock::new();
    L.get_or_init(|| serde_json::from_str(LAYOUTS_JSON).expect("embedded layouts.json is valid"))
}

/// All layouts; the first is the default.
pub fn layouts() -> &'static [Layout] {
    &layout_data().layouts
}

/// All sky shapes; the first is the default.
pub fn shapes() -> &'static [SkyShape] {
    &layout_data().shapes
}

/// Fonts of the title and message: (option value, typeface); the first is the default.
pub const FONTS: [(&str, &str); 4] = crate::text::TITLE_FONTS;

/// Least contrast (WCAG ratio) of custom colours with the background: text, stars,
/// constellation lines.
pub const MIN_CONTRAST: [(&str, f64); 3] = [("text", 4.5), ("stars", 3.0), ("lines", 1.5)];

/// Custom colours within a theme, each `#rrggbb` (absent: the theme's).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomColors {
    /// Poster and sky background.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background: Option<String>,
    /// Stars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stars: Option<String>,
    /// Constellation lines and names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lines: Option<String>,
    /// Title, message and facts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

impl CustomColors {
    /// Whether no colour is set.
    pub fn is_empty(&self) -> bool {
        self == &CustomColors::default()
    }
}

/// The second sky of a pair layout: another place, or another moment.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecondSky {
    /// Latitude, degrees north.
    pub lat: f64,
    /// Longitude, degrees east.
    pub lon: f64,
    /// The moment of this sky.
    pub at: jiff::Timestamp,
    /// IANA zone of its printed local time (`None`: UTC).
    #[serde(default)]
    pub tz: Option<String>,
    /// Place name printed under it.
    #[serde(default)]
    pub place: Option<String>,
}

/// One field that failed validation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    /// The option's name (`lat`, `lon`, `at`, `tz`, `theme`, `size`, `title`, ...).
    pub field: &'static str,
    /// What is wrong, for a person.
    pub message: String,
}

/// Everything that defines one poster. Build it, call [`StarmapOptions::validate`],
/// then render with [`crate::render_png_preview`] or [`crate::render_print`].
///
/// Serde-ready for a cart line or a query string: only `lat`, `lon` and `at` (RFC 3339)
/// are required, the rest take the defaults of [`StarmapOptions::new`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StarmapOptions {
    /// Geodetic latitude in degrees, north positive.
    pub lat: f64,
    /// Longitude in degrees, east positive.
    pub lon: f64,
    /// The moment of the sky (see [`instant_from_local`] for a local date and time).
    pub at: jiff::Timestamp,
    /// IANA time zone used to print the local date and time (`None`: UTC).
    #[serde(default)]
    pub tz: Option<String>,
    /// Place name printed on the poster, e.g. `Madrid, España`.
    #[serde(default)]
    pub place: Option<String>,
    /// Theme id, see [`themes`].
    #[serde(default = "defaults::theme")]
    pub theme: String,
    /// Size id, see [`sizes`].
    #[serde(default = "defaults::size")]
    pub size: String,
    /// Resolution of raster output in dots per inch (72..=600).
    #[serde(default = "defaults::dpi")]
    pub dpi: u32,
    /// Bleed added on each side, millimetres (0..=10).
    #[serde(default)]
    pub bleed_mm: f64,
    /// Safe area: least distance of any text from the trim edge, millimetres
    /// (0..=25; labels of the sky that would come closer are left out).
    #[serde(default)]
    pub safe_mm: f64,
    /// Title (default "THE NIGHT SKY" / "EL CIELO NOCTURNO"; an empty string prints none).
    #[serde(default)]
    pub title: Option<String>,
    /// Personal message under the title.
    #[serde(default)]
    pub message: Option<String>,
    /// Language of the poster's fixed words: `en` or `es` (see [`LANGUAGES`]).
    #[serde(default = "defaults::language")]
    pub language: String,
    /// Draw constellation names.
    #[serde(default = "defaults::yes")]
    pub constellation_names: bool,
    /// Draw the altitude/azimuth grid.
    #[serde(default = "defaults::yes")]
    pub grid: bool,
    /// Font of the title and message, see [`FONTS`].
    #[serde(default = "defaults::font")]
    pub font: String,
    /// Layout id, see [`layouts`].
    #[serde(default = "defaults::layout")]
    pub layout: String,
    /// Shape of the sky, see [`shapes`] (the full-bleed layout is always a circle).
    #[serde(default = "defaults::shape")]
    pub shape: String,
    /// Custom colours within the theme (checked for contrast, see [`MIN_CONTRAST`]).
    #[serde(default, skip_serializing_if = "CustomColors::is_empty")]
    pub colors: CustomColors,
    /// Draw the Milky Way.
    #[serde(default = "defaults::yes")]
    pub milky_way: bool,
    /// The second sky of the `pair` layout (required there, refused elsewhere).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub second: Option<SecondSky>,
}

mod defaults {
    pub(super) fn theme() -> String {
        "classic-dark".into()
    }
    pub(super) fn size() -> String {
        "24x36in".into()
    }
    pub(super) fn dpi() -> u32 {
        300
    }
    pub(super) fn language() -> String {
        "en".into()
    }
    pub(super) fn yes() -> bool {
        true
    }
    pub(super) fn font() -> String {
        "classic".into()
    }
    pub(super) fn layout() -> String {
        "classic".into()
    }
    pub(super) fn shape() -> String {
        "circle".into()
    }
}

impl StarmapOptions {
    /// Options with the defaults: classic dark theme, 24×36 in, 300 DPI, no bleed,
    /// constellation names and grid on.
    pub fn new(lat: f64, lon: f64, at: jiff::Timestamp) -> Self {
        Self {
            lat,
            lon,
            at,
            tz: None,
            place: None,
            theme: defaults::theme(),
            size: defaults::size(),
            dpi: defaults::dpi(),
            bleed_mm: 0.0,
            safe_mm: 0.0,
            title: None,
            message: None,
            language: defaults::language(),
            constellation_names: true,
            grid: true,
            font: defaults::font(),
            layout: defaults::layout(),
            shape: defaults::shape(),
            colors: CustomColors::default(),
            milky_way: true,
            second: None,
        }
    }

    /// Check every field; on failure, every failing field is listed by name.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut err = |field, message: String| errors.push(FieldError { field, message });
        if !(-90.0..=90.0).contains(&self.lat) || !self.lat.is_finite() {
            err("lat", "latitude must be between -90 and 90 degrees".into());
        }
        if !(-180.0..=180.0).contains(&self.lon) || !self.lon.is_finite() {
            err(
                "lon",
                "longitude must be between -180 and 180 degrees".into(),
            );
        }
        // The documented range is of the local date printed on the poster (in the
        // zone, UTC without one), not of the UTC instant.
        let zone = match &self.tz {
            Some(tz) => jiff::tz::TimeZone::get(tz).ok(),
            None => Some(jiff::tz::TimeZone::UTC),
        };
        let local_date = zone.as_ref().map(|z| self.at.to_zoned(z.clone()).date());
        if crate::time::TimeScales::from_timestamp(self.at).is_err()
            || local_date.is_some_and(|d| !(LOCAL_DATE_RANGE.0..=LOCAL_DATE_RANGE.1).contains(&d))
        {
            err(
                "at",
                "the local date must be between 1800-01-01 and 2200-12-31".into(),
            );
        }
        if let Some(tz) = &self.tz {
            if zone.is_none() {
                err(
                    "tz",
                    format!("unknown time zone {tz:?} (use an IANA name such as Europe/Madrid)"),
                );
            }
        }
        if theme(&self.theme).is_none() {
            let ids: Vec<&str> = themes().iter().map(|t| t.id.as_str()).collect();
            err(
                "theme",
                format!("unknown theme {:?}; one of {}", self.theme, ids.join(", ")),
            );
        }
        if size(&self.size).is_none() {
            let ids: Vec<&str> = sizes().iter().map(|s| s.id).collect();
            err(
                "size",
                format!("unknown size {:?}; one of {}", self.size, ids.join(", ")),
            );
        }
        if !LANGUAGES.contains(&self.language.as_str()) {
            err(
                "language",
                format!(
                    "unknown language {:?}; one of {}",
                    self.language,
                    LANGUAGES.join(", ")
                ),
            );
        }
        if !(72..=600).contains(&self.dpi) {
            err("dpi", "resolution must be between 72 and 600 DPI".into());
        }
        if !(0.0..=10.0).contains(&self.bleed_mm) || !self.bleed_mm.is_finite() {
            err("bleed_mm", "bleed must be between 0 and 10 mm".into());
        }
        if !(0.0..=25.0).contains(&self.safe_mm) || !self.safe_mm.is_finite() {
            err(
                "safe_mm",
                "the safe area must be between 0 and 25 mm".into(),
            );
        }
        let title_font = crate::text::Font::for_title(&self.font);
        if title_font.is_none() {
            let ids: Vec<&str> = FONTS.iter().map(|f| f.0).collect();
            err(
                "font",
                format!("unknown font {:?}; one of {}", self.font, ids.join(", ")),
            );
        }
        let second_place = self.second.as_ref().and_then(|s| s.place.clone());
        for (field, value, max, font) in [
            ("title", &self.title, MAX_TITLE_CHARS, title_font),
            ("message", &self.message, MAX_MESSAGE_CHARS, title_font),
            (
                "place",
                &self.place,
                MAX_PLACE_CHARS,
                Some(crate::text::Font::Sans),
            ),
            (
                "second",
                &second_place,
                MAX_PLACE_CHARS,
                Some(crate::text::Font::Sans),
            ),
        ] {
            if let Some(v) = value {
                if v.chars().count() > max {
                    err(field, format!("at most {max} characters"));
                }
                if v.chars().any(|c| c.is_control() && c != '\n') {
                    err(field, "must not contain control characters".into());
                }
                let missing = crate::text::unsupported(v, font.unwrap_or(crate::text::Font::Serif));
                if !missing.is_empty() {
                    let list: Vec<String> = missing
                        .iter()
                        .take(5)
                        .map(|c| format!("{c} (U+{:04X})", u32::from(*c)))
                        .collect();
                    err(
                        field,
                        format!(
                            "cannot be printed: the poster's fonts have no glyph for {}; \
                             supported are Latin, Greek, Cyrillic, Arabic, Hebrew, \
                             Devanagari, Thai, Chinese and Japanese",
                            list.join(", ")
                        ),
                    );
                }
            }
        }
        let layout = layout(&self.layout);
        match layout {
            None => {
                let ids: Vec<&str> = layouts().iter().map(|l| l.id.as_str()).collect();
                err(
                    "layout",
                    format!(
                        "unknown layout {:?}; one of {}",
                        self.layout,
                        ids.join(", ")
                    ),
                );
            }
            Some(l) if l.skies == 2 && self.second.is_none() => err(
                "second",
                format!(
                    "the {} layout needs a second sky (another place or another date)",
                    l.id
                ),
            ),
            Some(l) if l.skies == 1 && self.second.is_some() => err(
                "second",
                format!("only a two-sky layout has a second sky, not {}", l.id),
            ),
            Some(_) => {}
        }
        if let Some(second) = &self.second {
            let ok_coords =
                (-90.0..=90.0).contains(&second.lat) && (-180.0..=180.0).contains(&second.lon);
            let zone = match &second.tz {
                Some(tz) => jiff::tz::TimeZone::get(tz).ok(),
                None => Some(jiff::tz::TimeZone::UTC),
            };
            let date_ok = crate::time::TimeScales::from_timestamp(second.at).is_ok()
                && zone.as_ref().is_some_and(|z| {
                    let d = second.at.to_zoned(z.clone()).date();
                    (LOCAL_DATE_RANGE.0..=LOCAL_DATE_RANGE.1).contains(&d)
                });
            if !ok_coords {
                err(
                    "second",
                    "latitude and longitude must be within -90..90 and -180..180 degrees".into(),
                );
            } else if zone.is_none() {
                err("second", "unknown time zone".into());
            } else if !date_ok {
                err(
                    "second",
                    "the local date must be between 1800-01-01 and 2200-12-31".into(),
                );
            }
        }
        if !shapes().iter().any(|s| s.id == self.shape) {
            let ids: Vec<&str> = shapes().iter().map(|s| s.id.as_str()).collect();
            err(
                "shape",
                format!("unknown shape {:?}; one of {}", self.shape, ids.join(", ")),
            );
        }
        if let Err(message) = self.checked_colors() {
            err("colors", message);
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// [`StarmapOptions::validate`] folded into this crate's [`Error`].
    pub(crate) fn check(&self) -> Result<(), Error> {
        self.validate().map_err(Error::Validation)
    }

    /// The chosen theme (falls back to the first one if unknown; validate first).
    pub fn theme_data(&self) -> &'static Theme {
        theme(&self.theme).unwrap_or(&themes()[0])
    }

    /// The chosen size (falls back to 24×36 in if unknown; validate first).
    pub fn size_data(&self) -> &'static PosterSize {
        size(&self.size).unwrap_or(&SIZES[6])
    }

    /// The chosen layout (the first if unknown; validate first).
    pub fn layout_data(&self) -> &'static Layout {
        layout(&self.layout).unwrap_or(&layouts()[0])
    }

    /// Trim width and height in millimetres, as printed (landscape layouts turn the
    /// size on its side).
    pub fn trim_mm(&self) -> (f64, f64) {
        let s = self.size_data();
        if self.layout_data().landscape {
            (s.height_mm, s.width_mm)
        } else {
            (s.width_mm, s.height_mm)
        }
    }

    /// Pixel size of the print at the chosen DPI, bleed included.
    pub fn print_pixels(&self) -> (u32, u32) {
        let (w, h) = self.trim_mm();
        let px = |mm: f64| ((mm + 2.0 * self.bleed_mm) / IN * f64::from(self.dpi)).round() as u32;
        (px(w), px(h))
    }

    /// The custom colours parsed and checked for contrast with the background.
    fn checked_colors(&self) -> Result<[Option<Rgb>; 4], String> {
        let c = &self.colors;
        let mut parsed = [None; 4];
        for (i, (name, v)) in [
            ("background", &c.background),
            ("stars", &c.stars),
            ("lines", &c.lines),
            ("text", &c.text),
        ]
        .into_iter()
        .enumerate()
        {
            if let Some(v) = v {
                parsed[i] = Some(
                    Rgb::parse(v)
                        .ok_or_else(|| format!("{name}: {v:?} is not a colour such as #1a2b3c"))?,
                );
            }
        }
        if parsed.iter().all(Option::is_none) {
            return Ok(parsed);
        }
        let theme = self.theme_data();
        let background = parsed[0].unwrap_or(theme.disc);
        let page = parsed[0].unwrap_or(theme.background);
        let checks = [
            ("stars", parsed[1].unwrap_or(theme.star), background),
            ("lines", parsed[2].unwrap_or(theme.lines), background),
            ("text", parsed[3].unwrap_or(theme.text), page),
        ];
        for (name, colour, against) in checks {
            let min = MIN_CONTRAST
                .iter()
                .find(|m| m.0 == name)
                .map_or(1.0, |m| m.1);
            let ratio = colour.contrast(against);
            if ratio < min {
                return Err(format!(
                    "{name} {} on background {} has a contrast of {ratio:.1}:1, less than {min}:1; \
                     choose a lighter or darker colour",
                    colour.hex(),
                    against.hex()
                ));
            }
        }
        Ok(parsed)
    }

    /// The theme with the custom colours applied (validate first).
    pub fn effective_theme(&self) -> Theme {
        let mut t = self.theme_data().clone();
        let [background, stars, lines, text] = self.checked_colors().unwrap_or([None; 4]);
        if let Some(b) = background {
            t.background = b;
            t.disc = b;
            t.moon_dark = b.mix(t.moon, 0.12);
        }
        if let Some(s) = stars {
            t.star = s;
            t.star_tint = t.star_tint.min(0.15);
        }
        if let Some(l) = lines {
            t.lines = l;
            t.names = l;
        }
        if let Some(x) = text {
            t.text = x;
            t.text_muted = x.mix(t.background, 0.3);
            t.frame = x;
            t.disc_edge = x;
        }
        t
    }
}

/// Which of the two instants a repeated local time means (the hour that happens twice
/// when clocks go back): the first time the clock shows it, or the second.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fold {
    /// The first of the two (before the clocks go back): the default.
    #[default]
    Earlier,
    /// The second of the two (after the clocks go back).
    Later,
}

impl Fold {
    /// `earlier` or `later`.
    pub fn as_str(self) -> &'static str {
        match self {
            Fold::Earlier => "earlier",
            Fold::Later => "later",
        }
    }

    /// Parses `earlier` / `later`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "earlier" => Some(Fold::Earlier),
            "later" => Some(Fold::Later),
            _ => None,
        }
    }
}

/// Earliest and latest local date of a poster.
pub const LOCAL_DATE_RANGE: (jiff::civil::Date, jiff::civil::Date) = (
    jiff::civil::date(1800, 1, 1),
    jiff::civil::date(2200, 12, 31),
);

/// The instant of a local date and time in an IANA zone, e.g.
/// `instant_from_local("2024-08-13T00:30", "Europe/Madrid")`, with the zone's rules of
/// that date (its whole history: local mean time, past offsets and daylight saving).
/// A repeated local time (clocks going back) is the earlier of its two instants; a
/// local time that does not exist (clocks going forward) is refused, see
/// [`instant_from_local_fold`].
pub fn instant_from_local(local: &str, tz: &str) -> Result<jiff::Timestamp, Error> {
    let dt: jiff::civil::DateTime = local.parse().map_err(|e| Error::Invalid {
        field: "local_time",
        message: format!("not a local date and time: {e}"),
    })?;
    instant_from_local_fold(dt, tz, Fold::Earlier)
}

/// [`instant_from_local`] for a parsed local date and time, with the choice of
/// instant in a repeated hour.
///
/// Errors: `Invalid { field: "tz" }` for an unknown zone; `Invalid { field: "time" }`
/// for a local time skipped by the zone (the message says so and names the valid
/// time the clocks showed instead, e.g. "2024-03-31 02:30 does not exist in
/// Europe/Madrid: the clocks went from 02:00 to 03:00 (+01:00 to +02:00); did you
/// mean 03:30?").
pub fn instant_from_local_fold(
    dt: jiff::civil::DateTime,
    tz: &str,
    fold: Fold,
) -> Result<jiff::Timestamp, Error> {
    use jiff::tz::AmbiguousOffset;
    let zone = jiff::tz::TimeZone::get(tz).map_err(|_| Error::Invalid {
        field: "tz",
        message: format!("unknown time zone {tz:?}"),
    })?;
    let amb = zone.to_ambiguous_zoned(dt);
    match amb.offset() {
        AmbiguousOffset::Unambiguous { offset } => {
            offset.to_timestamp(dt).map_err(|e| Error::Invalid {
                field: "time",
                message: e.to_string(),
            })
        }
        AmbiguousOffset::Fold { before, after } => {
            let offset = match fold {
                Fold::Earlier => before,
                Fold::Later => after,
            };
            offset.to_timestamp(dt).map_err(|e| Error::Invalid {
                field: "time",
                message: e.to_string(),
            })
        }
        AmbiguousOffset::Gap { before, after } => {
            // The clocks jumped from `before` to `after`; the time they showed at
            // the same instant is the one to suggest (03:30 for a skipped 02:30).
            let instant = before.to_timestamp(dt).map_err(|e| Error::Invalid {
                field: "time",
                message: e.to_string(),
            })?;
            let shown = instant.to_zoned(zone.clone()).datetime();
            let window = zone
                .preceding(instant + jiff::SignedDuration::from_secs(1))
                .next()
                .map(|tr| tr.timestamp())
                .map_or_else(
                    || format!("the clocks went from {before} to {after}"),
                    |t| {
                        format!(
                            "the clocks went from {} to {} ({before} to {after})",
                            before.to_datetime(t).strftime("%H:%M"),
                            after.to_datetime(t).strftime("%H:%M"),
                        )
                    },
                );
            Err(Error::Invalid {
                field: "time",
                message: format!(
                    "{} does not exist in {tz}: {window}; did you mean {}?",
                    dt.strftime("%Y-%m-%d %H:%M"),
                    if shown.date() == dt.date() {
                        shown.strftime("%H:%M").to_string()
                    } else {
                        shown.strftime("%Y-%m-%d %H:%M").to_string()
                    }
                ),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> StarmapOptions {
        StarmapOptions::new(40.4168, -3.7038, "2024-08-12T22:30:00Z".parse().unwrap())
    }

    #[test]
    fn default_options_are_valid() {
        assert_eq!(opts().validate(), Ok(()));
    }

    #[test]
    fn validation_names_every_failing_field() {
        let mut o = opts();
        o.lat = 91.0;
        o.lon = -181.0;
        o.at = "1799-06-01T00:00:00Z".parse().unwrap();
        o.theme = "neon".into();
        o.size = "a9".into();
        o.title = Some("x".repeat(61));
        o.tz = Some("Mars/Olympus".into());
        let fields: Vec<&str> = o.validate().unwrap_err().iter().map(|e| e.field).collect();
        assert_eq!(fields, ["lat", "lon", "at", "tz", "theme", "size", "title"]);
    }

    #[test]
    fn there_are_at_least_four_themes_and_the_seven_sizes() {
        assert!(themes().len() >= 4);
        let ids: Vec<&str> = sizes().iter().map(|s| s.id).collect();
        assert_eq!(
            ids,
            ["a4", "a3", "a2", "8x10in", "12x16in", "18x24in", "24x36in"]
        );
    }

    #[test]
    fn a_24x36_print_at_300_dpi_is_7200_by_10800_pixels() {
        assert_eq!(opts().print_pixels(), (7200, 10800));
        let mut o = opts();
        o.bleed_mm = 3.0;
        assert_eq!(o.print_pixels(), (7271, 10871));
    }

    #[test]
    fn options_deserialize_from_json_with_defaults() {
        let o: StarmapOptions = serde_json::from_str(
            r#"{"lat": 40.4168, "lon": -3.7038, "at": "2024-08-12T22:30:00Z", "theme": "colour"}"#,
        )
        .unwrap();
        assert_eq!(
            o,
            StarmapOptions {
                theme: "colour".into(),
                ..opts()
            }
        );
        let back: StarmapOptions =
            serde_json::from_str(&serde_json::to_string(&o).unwrap()).unwrap();
        assert_eq!(back, o);
        assert!(
            serde_json::from_str::<StarmapOptions>(r#"{"lat": 1, "lon": 2, "at": "x"}"#).is_err()
        );
    }

    #[test]
    fn local_time_in_a_zone_becomes_the_right_instant() {
        let t = instant_from_local("2024-08-13T00:30", "Europe/Madrid").unwrap();
        assert_eq!(t, "2024-08-12T22:30:00Z".parse().unwrap());
    }

    fn local(dt: &str, tz: &str, fold: Fold) -> Result<jiff::Timestamp, Error> {
        instant_from_local_fold(dt.parse().unwrap(), tz, fold)
    }

    fn ts(s: &str) -> jiff::Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn a_skipped_local_time_is_refused_saying_so_and_suggesting_the_valid_one() {
        // (zone, skipped local time, the time the clocks showed instead, the jump)
        for (tz, dt, suggested, jump) in [
            (
                "Europe/Madrid",
                "2024-03-31T02:30",
                "03:30",
                "from 02:00 to 03:00",
            ),
            (
                "America/New_York",
                "2024-03-10T02:15",
                "03:15",
                "from 02:00 to 03:00",
            ),
            // Lord Howe Island moves its clocks by half an hour.
            (
                "Australia/Lord_Howe",
                "2024-10-06T02:10",
                "02:40",
                "from 02:00 to 02:30",
            ),
        ] {
            for fold in [Fold::Earlier, Fold::Later] {
                let Err(Error::Invalid { field, message }) = local(dt, tz, fold) else {
                    panic!("{tz} {dt} must be refused");
                };
                assert_eq!(field, "time");
                assert!(message.contains("does not exist"), "{message}");
                assert!(
                    message.contains(&format!("did you mean {suggested}?")),
                    "{message}"
                );
                assert!(message.contains(jump), "{message}");
            }
        }
        // The minute before and the first minute after the jump are fine.
        assert_eq!(
            local("2024-03-31T01:59", "Europe/Madrid", Fold::Earlier).unwrap(),
            ts("2024-03-31T00:59:00Z")
        );
        assert_eq!(
            local("2024-03-31T03:00", "Europe/Madrid", Fold::Earlier).unwrap(),
            ts("2024-03-31T01:00:00Z")
        );
        assert!(instant_from_local("2024-03-31T02:30", "Europe/Madrid").is_err());
    }

    #[test]
    fn a_repeated_local_time_takes_the_chosen_fold_earlier_by_default() {
        for (tz, dt, earlier, later) in [
            (
                "Europe/Madrid",
                "2024-10-27T02:30",
                "2024-10-27T00:30:00Z",
                "2024-10-27T01:30:00Z",
            ),
            (
                "America/New_York",
                "2024-11-03T01:30",
                "2024-11-03T05:30:00Z",
                "2024-11-03T06:30:00Z",
            ),
            (
                "Australia/Lord_Howe",
                "2024-04-07T01:45",
                "2024-04-06T14:45:00Z",
                "2024-04-06T15:15:00Z",
            ),
        ] {
            assert_eq!(
                local(dt, tz, Fold::Earlier).unwrap(),
                ts(earlier),
                "{tz} {dt}"
            );
            assert_eq!(local(dt, tz, Fold::Later).unwrap(), ts(later), "{tz} {dt}");
            assert_eq!(
                instant_from_local(dt, tz).unwrap(),
                ts(earlier),
                "default is the earlier"
            );
            assert_eq!(Fold::default(), Fold::Earlier);
        }
    }

    #[test]
    fn past_dates_use_the_zone_s_rules_of_that_time() {
        // Tokyo kept local mean time (+09:18:59) until 1888.
        assert_eq!(
            local("1800-01-01T00:30", "Asia/Tokyo", Fold::Earlier).unwrap(),
            ts("1799-12-31T15:11:01Z")
        );
        // Madrid was on Greenwich time (no summer time) in 1930, +01:00 today.
        assert_eq!(
            local("1930-07-01T22:00", "Europe/Madrid", Fold::Earlier).unwrap(),
            ts("1930-07-01T22:00:00Z")
        );
        // São Paulo had summer time (−02:00) until 2019.
        assert_eq!(
            local("2018-12-01T21:00", "America/Sao_Paulo", Fold::Earlier).unwrap(),
            ts("2018-12-01T23:00:00Z")
        );
        assert_eq!(
            local("2023-12-01T21:00", "America/Sao_Paulo", Fold::Earlier).unwrap(),
            ts("2023-12-02T00:00:00Z")
        );
    }

    #[test]
    fn text_the_poster_cannot_draw_is_refused_naming_the_field() {
        let mut o = opts();
        o.title = Some("我们的夜晚".into());
        o.message = Some("ليلتنا الأولى".into());
        assert_eq!(o.validate(), Ok(()), "Chinese and Arabic are drawn");
        o.title = Some("별빛 아래".into());
        o.message = Some("🦄".into());
        let errs = o.validate().unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["title", "message"]);
        assert!(
            errs[0].message.contains("별 (U+BCC4)"),
            "{}",
            errs[0].message
        );
    }

    #[test]
    fn layouts_shapes_fonts_and_colours_are_checked() {
        assert!(layouts().len() >= 4);
        let ids: Vec<&str> = shapes().iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["circle", "square", "heart"]);
        let mut o = opts();
        o.layout = "pair".into();
        assert_eq!(o.validate().unwrap_err()[0].field, "second");
        o.second = Some(SecondSky {
            lat: 51.5,
            lon: -0.12,
            at: o.at,
            tz: Some("Europe/London".into()),
            place: Some("London".into()),
        });
        assert_eq!(o.validate(), Ok(()));
        // A pair is landscape: the size on its side.
        assert_eq!(o.print_pixels(), (10800, 7200));
        o.layout = "classic".into();
        assert_eq!(o.validate().unwrap_err()[0].field, "second");
        let mut o = opts();
        o.layout = "poster".into();
        o.shape = "star".into();
        o.font = "comic".into();
        let fields: Vec<&str> = o.validate().unwrap_err().iter().map(|e| e.field).collect();
        assert_eq!(fields, ["font", "layout", "shape"]);

        let mut o = opts();
        o.colors.background = Some("#0b1d3a".into());
        o.colors.text = Some("#f5e6c8".into());
        o.colors.stars = Some("#ffffff".into());
        assert_eq!(o.validate(), Ok(()));
        assert_eq!(o.effective_theme().background, Rgb(0x0b, 0x1d, 0x3a));
        // Dark grey text on the dark blue: about 1.3:1, refused with the figure.
        o.colors.text = Some("#333344".into());
        let e = o.validate().unwrap_err();
        assert_eq!(e[0].field, "colors");
        assert!(
            e[0].message.contains("text") && e[0].message.contains(":1"),
            "{}",
            e[0].message
        );
        o.colors.text = Some("blue".into());
        assert_eq!(o.validate().unwrap_err()[0].field, "colors");
        assert!((Rgb(0, 0, 0).contrast(Rgb(255, 255, 255)) - 21.0).abs() < 1e-9);
    }

    #[test]
    fn the_date_range_is_checked_on_the_local_date() {
        // 1800-01-01 00:30 in Tokyo is 1799-12-31 in UTC: accepted.
        let mut o = opts();
        o.at = ts("1799-12-31T15:11:01Z");
        o.tz = Some("Asia/Tokyo".into());
        assert_eq!(o.validate(), Ok(()));
        // The same instant printed in UTC is a 1799 date: refused.
        o.tz = None;
        assert_eq!(o.validate().unwrap_err()[0].field, "at");
        // 2200-12-31 23:00 in Honolulu is 2201 in UTC: accepted.
        o.at = ts("2201-01-01T09:00:00Z");
        o.tz = Some("Pacific/Honolulu".into());
        assert_eq!(o.validate(), Ok(()));
        o.tz = Some("Europe/Madrid".into());
        assert_eq!(o.validate().unwrap_err()[0].field, "at");
    }
}
