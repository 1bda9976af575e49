//! The star-map poster's storefront API: themes and sizes, place search, and the
//! live preview, which is the print's own drawing at screen resolution.

use super::ok;
use crate::extract::Query;
use crate::problem::{ApiError, Problem};
use crate::AppState;
use axum::extract::RawQuery;
use axum::response::{IntoResponse, Response};
use cielo_core::FieldError;
use cielo_starmap_product::{places, Place};
use http::{header, HeaderMap, HeaderValue, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(options))
        .routes(routes!(search_places))
        .routes(routes!(preview))
        .routes(routes!(mockup))
}

/// Longest side of a preview by default, in pixels.
const PREVIEW_PX: u32 = 1200;
/// Previews drawn at once; more wait their turn (each uses every core already).
static PREVIEW_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// A theme, for a storefront's picker.
#[derive(Serialize, ToSchema)]
pub(crate) struct ThemeInfo {
    /// Id to send as `theme`.
    id: String,
    /// Name for people.
    name: String,
    /// Poster background, `#rrggbb`.
    background: String,
    /// Sky disc, `#rrggbb`.
    disc: String,
    /// Text, `#rrggbb`.
    text: String,
}

/// A poster size.
#[derive(Serialize, ToSchema)]
pub(crate) struct SizeInfo {
    /// Id (`a3`, `24x36in`); a variant's `size` option names one.
    id: &'static str,
    /// Name for people.
    name: &'static str,
    /// Trim width, millimetres.
    width_mm: f64,
    /// Trim height, millimetres.
    height_mm: f64,
}

/// A layout of the poster.
#[derive(Serialize, ToSchema)]
pub(crate) struct LayoutInfo {
    /// Id to send as `layout`.
    id: String,
    /// Name for people.
    name: String,
    /// Printed landscape (the variant's size on its side).
    landscape: bool,
    /// Skies on the poster; 2 needs the `second` option.
    skies: u8,
}

/// A named choice (`shape`, `font`, `fold`).
#[derive(Serialize, ToSchema)]
pub(crate) struct Choice {
    /// Value to send.
    id: String,
    /// Name for people.
    name: String,
}

/// Least contrast of a custom colour with the background (WCAG ratio).
#[derive(Serialize, ToSchema)]
pub(crate) struct ContrastRule {
    /// `text`, `stars` or `lines`.
    color: &'static str,
    /// Least ratio, e.g. 4.5 (for 4.5:1).
    min_ratio: f64,
}

/// What a star-map poster can be made of.
#[derive(Serialize, ToSchema)]
pub(crate) struct StarmapChoices {
    /// Layouts; the first is the default. `pair` takes a `second` sky (an object
    /// with `place_id` or `lat` and `lon`, `date`, `time`, optional `tz`, `fold`, `place`).
    layouts: Vec<LayoutInfo>,
    /// Shapes of the sky (`shape`); the first is the default.
    shapes: Vec<Choice>,
    /// Fonts of the title and message (`font`); the first is the default.
    fonts: Vec<Choice>,
    /// `fold`: which instant a local time repeated when the clocks go back means;
    /// the first (earlier) is the default. A local time skipped when they go
    /// forward is refused with the valid time in the message.
    folds: Vec<Choice>,
    /// `colors`: custom `background`, `stars`, `lines`, `text` (`#rrggbb`) within a
    /// theme, each checked for contrast with the background.
    min_contrast: Vec<ContrastRule>,
    /// Themes, in the order to show them; the first is the default.
    themes: Vec<ThemeInfo>,
    /// Sizes (the variant chosen fixes the size of a cart line).
    sizes: Vec<SizeInfo>,
    /// Languages of the poster's fixed words; the first is the default.
    languages: Vec<&'static str>,
    /// Longest title, characters.
    max_title_chars: usize,
    /// Longest message, characters.
    max_message_chars: usize,
    /// Longest place name, characters.
    max_place_chars: usize,
    /// Earliest local date.
    min_date: &'static str,
    /// Latest local date.
    max_date: &'static str,
}

fn hex(c: cielo_starmap::options::Rgb) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

/// Themes, sizes and limits of the personalised star-map poster.
#[utoipa::path(get, path = "/api/store/starmap/options", tag = "store", responses((status = 200, body = StarmapChoices)))]
pub(crate) async fn options() -> Response {
    let choices = StarmapChoices {
        layouts: cielo_starmap::layouts()
            .iter()
            .map(|l| LayoutInfo {
                id: l.id.clone(),
                name: l.name.clone(),
                landscape: l.landscape,
                skies: l.skies,
            })
            .collect(),
        shapes: cielo_starmap::shapes()
            .iter()
            .map(|s| Choice {
                id: s.id.clone(),
                name: s.name.clone(),
            })
            .collect(),
        fonts: cielo_starmap::FONTS
            .iter()
            .map(|(id, name)| Choice {
                id: (*id).into(),
                name: (*name).into(),
            })
            .collect(),
        folds: vec![
            Choice {
                id: "earlier".into(),
                name: "The first time the clock shows it (before the clocks go back)".into(),
            },
            Choice {
                id: "later".into(),
                name: "The second time (after the clocks go back)".into(),
            },
        ],
        min_contrast: cielo_starmap::MIN_CONTRAST
            .iter()
            .map(|(color, min_ratio)| ContrastRule {
                color,
                min_ratio: *min_ratio,
            })
            .collect(),
        themes: cielo_starmap::themes()
            .iter()
            .map(|t| ThemeInfo {
                id: t.id.clone(),
                name: t.name.clone(),
                background: hex(t.background),
                disc: hex(t.disc),
                text: hex(t.text),
            })
            .collect(),
        sizes: cielo_starmap::sizes()
            .iter()
            .map(|s| SizeInfo {
                id: s.id,
                name: s.name,
                width_mm: s.width_mm,
                height_mm: s.height_mm,
            })
            .collect(),
        languages: cielo_starmap::LANGUAGES.to_vec(),
        max_title_chars: cielo_starmap::MAX_TITLE_CHARS,
        max_message_chars: cielo_starmap::MAX_MESSAGE_CHARS,
        max_place_chars: cielo_starmap::MAX_PLACE_CHARS,
        min_date: cielo_starmap_product::DATE_RANGE.0,
        max_date: cielo_starmap_product::DATE_RANGE.1,
    };
    let mut res = ok(&choices);
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    res
}

/// Place search parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct PlaceParams {
    /// The start of a city's name; case, accents and punctuation are ignored
    /// (`sao paulo` finds São Paulo).
    q: Option<String>,
    /// How many, 1–50 (default 10).
    limit: Option<usize>,
}

/// Cities found.
#[derive(Serialize, ToSchema)]
pub(crate) struct PlaceList {
    /// Biggest first.
    places: Vec<Place>,
}

/// Find a city for a star map (GeoNames cities of more than 15,000 people).
#[utoipa::path(get, path = "/api/store/starmap/places", tag = "store", params(PlaceParams),
    responses((status = 200, body = PlaceList), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn search_places(Query(p): Query<PlaceParams>) -> Result<Response, ApiError> {
    let limit = p.limit.unwrap_or(10);
    let mut errors = Vec::new();
    let q = p.q.unwrap_or_default();
    if q.trim().is_empty() {
        errors.push(FieldError::new(
            "q",
            "is required: the start of a city's name",
        ));
    } else if q.chars().count() > places::MAX_QUERY_CHARS {
        errors.push(FieldError::new(
            "q",
            format!("at most {} characters", places::MAX_QUERY_CHARS),
        ));
    }
    if !(1..=places::MAX_LIMIT).contains(&limit) {
        errors.push(FieldError::new(
            "limit",
            format!("must be between 1 and {}", places::MAX_LIMIT),
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    // The first search inflates the dataset (tens of milliseconds): off the runtime.
    let found = tokio::task::spawn_blocking(move || {
        places::search(&q, limit)
            .into_iter()
            .cloned()
            .collect::<Vec<_>>()
    })
    .await
    .map_err(ApiError::internal)?;
    let mut res = ok(&PlaceList { places: found });
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    Ok(res)
}

/// Preview options: those of a cart line, plus the image size.
#[derive(Debug, Deserialize, IntoParams)]
#[allow(dead_code)] // documents the query string; the handler reads it raw
pub(crate) struct PreviewParams {
    /// A place from the place search (or give `lat` and `lon`).
    place_id: Option<u32>,
    /// Latitude, −90..90 degrees.
    lat: Option<f64>,
    /// Longitude, −180..180 degrees.
    lon: Option<f64>,
    /// Local date, `YYYY-MM-DD` (1800-01-01..2200-12-31).
    date: Option<String>,
    /// Local time, `HH:MM`.
    time: Option<String>,
    /// IANA time zone; by default the place's.
    tz: Option<String>,
    /// Theme id (see `/api/store/starmap/options`).
    theme: Option<String>,
    /// Size id (default `24x36in`).
    size: Option<String>,
    /// Title (empty: none).
    title: Option<String>,
    /// Message.
    message: Option<String>,
    /// Place name to print (by default the place's).
    place: Option<String>,
    /// `en`, `es`, `pt`, `fr`, `de` or `it`.
    language: Option<String>,
    /// `earlier` (default) or `later`: a local time repeated when the clocks go back.
    fold: Option<String>,
    /// Font of the title and message (see `/api/store/starmap/options`).
    font: Option<String>,
    /// Layout (see `/api/store/starmap/options`).
    layout: Option<String>,
    /// Shape of the sky: `circle`, `square`, `heart`.
    shape: Option<String>,
    /// Custom colours, `background=#0b1d3a,stars=#ffffff,lines=#8fa3c0,text=#f5e6c8`.
    colors: Option<String>,
    /// Draw the Milky Way (default true).
    milky_way: Option<bool>,
    /// The second sky of the `pair` layout, as JSON: `{"place_id": 1850147, "date": "2024-08-13", "time": "07:30"}`.
    second: Option<String>,
    /// Draw constellation names (default true).
    constellation_names: Option<bool>,
    /// Draw the grid (default true).
    grid: Option<bool>,
    /// Longest side of the image in pixels, 200–1800 (default 1200).
    px: Option<u32>,
}

/// A 64-bit FNV-1a hash, for the preview's ETag.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A PNG preview of a star-map poster: the same drawing as the print, smaller.
/// The options are those of a cart line; bad ones are a 422 naming them.
#[utoipa::path(get, path = "/api/store/starmap/preview", tag = "store", params(PreviewParams),
    responses((status = 200, description = "The poster as a PNG image", content_type = "image/png"),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn preview(
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let mut map = serde_json::Map::new();
    let mut px = PREVIEW_PX;
    let mut errors = Vec::new();
    for (k, v) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        if k == "px" {
            match v.parse::<u32>() {
                Ok(n) if (200..=1800).contains(&n) => px = n,
                _ => errors.push(FieldError::new(
                    "px",
                    "must be a whole number of pixels between 200 and 1800",
                )),
            }
        } else {
            map.insert(k.into_owned(), serde_json::Value::String(v.into_owned()));
        }
    }
    let line = cielo_starmap_product::resolve(Some(&serde_json::Value::Object(map)), None);
    let line = match line {
        Ok(l) if errors.is_empty() => l,
        Ok(_) => return Err(ApiError::validation(errors)),
        Err(mut e) => {
            e.append(&mut errors);
            return Err(ApiError::validation(e));
        }
    };
    let key = serde_json::to_vec(&line).map_err(ApiError::internal)?;
    let etag = format!(
        "\"sm{}-{:016x}-{px}\"",
        env!("CARGO_PKG_VERSION"),
        fnv1a(&key)
    );
    let cache = HeaderValue::from_static("public, max-age=86400");
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        return Ok((
            StatusCode::NOT_MODIFIED,
            [
                (header::ETAG, etag),
                (
                    header::CACHE_CONTROL,
                    cache.to_str().unwrap_or_default().to_string(),
                ),
            ],
        )
            .into_response());
    }
    let options = line.print_options();
    // A burst waits its turn for a while, then is told to come back.
    let _slot = match tokio::time::timeout(
        std::time::Duration::from_secs(5),
        PREVIEW_SLOTS.acquire(),
    )
    .await
    {
        Ok(slot) => slot.map_err(ApiError::internal)?,
        Err(_) => {
            let mut busy = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "too many previews are being drawn; retry in a moment",
            );
            busy.retry_after = Some(1);
            return Err(busy);
        }
    };
    let span = tracing::Span::current();
    let png = tokio::task::spawn_blocking(move || {
        span.in_scope(|| cielo_starmap::render_png_preview(&options, px))
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("image/png")),
            (header::CACHE_CONTROL, cache),
            (
                header::ETAG,
                HeaderValue::from_str(&etag).map_err(ApiError::internal)?,
            ),
        ],
        png,
    )
        .into_response())
}

/// A framed mockup of the poster on a wall (PNG, square): the same drawing as
/// the preview and the print, in a frame with a mat. Takes the preview's
/// parameters; `px` is the side of the picture, 200–1600 (default 1000). Drawn once per set of
/// options and kept in memory; browsers may keep it a day.
#[utoipa::path(get, path = "/api/store/starmap/mockup", tag = "store", params(PreviewParams),
    responses((status = 200, description = "The framed poster as a PNG image", content_type = "image/png"),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn mockup(
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let mut map = serde_json::Map::new();
    let mut px = 1000;
    let mut errors = Vec::new();
    for (k, v) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        if k == "px" {
            match v.parse::<u32>() {
                Ok(n) if (200..=1600).contains(&n) => px = n,
                _ => errors.push(FieldError::new(
                    "px",
                    "must be a whole number of pixels between 200 and 1600",
                )),
            }
        } else {
            map.insert(k.into_owned(), serde_json::Value::String(v.into_owned()));
        }
    }
    let line = match cielo_starmap_product::resolve(Some(&serde_json::Value::Object(map)), None) {
        Ok(l) if errors.is_empty() => l,
        Ok(_) => return Err(ApiError::validation(errors)),
        Err(mut e) => {
            e.append(&mut errors);
            return Err(ApiError::validation(e));
        }
    };
    let etag = format!(
        "\"mk{}-{}\"",
        env!("CARGO_PKG_VERSION"),
        &cielo_starmap_product::mockup::mockup_key(&line, px)[..16]
    );
    let cache = "public, max-age=86400";
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        return Ok((
            StatusCode::NOT_MODIFIED,
            [
                (header::ETAG, etag),
                (header::CACHE_CONTROL, cache.to_string()),
            ],
        )
            .into_response());
    }
    let _slot = PREVIEW_SLOTS.acquire().await.map_err(ApiError::internal)?;
    let png =
        tokio::task::spawn_blocking(move || cielo_starmap_product::mockup::mockup_png(&line, px))
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/png".to_string()),
            (header::CACHE_CONTROL, cache.to_string()),
            (header::ETAG, etag),
        ],
        png.as_ref().clone(),
    )
        .into_response())
}
