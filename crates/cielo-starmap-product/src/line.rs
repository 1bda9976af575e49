//! A star-map line's options: what a customer sends, checked and resolved into
//! what the renderer needs ([`StarmapLine`]).

use cielo_core::FieldError;
use cielo_orders::{LineContext, LineOptionsValidator};
use cielo_starmap::options::{size as poster_size, theme as poster_theme};
use cielo_starmap::{instant_from_local_fold, CustomColors, Fold, SecondSky, StarmapOptions};
use serde_json::Value;

use crate::places;

/// Resolution of the print file, dots per inch.
pub const PRINT_DPI: u32 = 300;
/// Earliest and latest local date accepted.
pub const DATE_RANGE: (&str, &str) = ("1800-01-01", "2200-12-31");

/// The options a customer may give, in the cart line's `options` or the preview's
/// query string. A place is `place_id` (from the place search) or `lat` and `lon`.
pub const OPTION_NAMES: [&str; 23] = [
    "place_id",
    "lat",
    "lon",
    "place",
    "date",
    "time",
    "fold",
    "tz",
    "theme",
    "size",
    "title",
    "message",
    "language",
    "constellation_names",
    "grid",
    "milky_way",
    "font",
    "layout",
    "shape",
    "colors",
    "second",
    "at",
    "version",
];

/// Options of the second sky of a two-sky layout (`second`: another place, or
/// another date and time).
pub const SECOND_OPTION_NAMES: [&str; 8] = [
    "place_id", "lat", "lon", "place", "date", "time", "fold", "tz",
];

/// A star-map line's options as stored on the cart line (and copied to the order
/// line): resolved and normalised, so the print is made from them alone, the same
/// on any day and any machine (see [`StarmapLine::print_options`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct StarmapLine {
    /// Format version of these options (1).
    pub version: u32,
    /// GeoNames id of the place, when chosen from the place search.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place_id: Option<u32>,
    /// Place name printed on the poster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<String>,
    /// Latitude, degrees north.
    pub lat: f64,
    /// Longitude, degrees east.
    pub lon: f64,
    /// Local date, `YYYY-MM-DD`.
    pub date: String,
    /// Local time, `HH:MM` (or `HH:MM:SS`).
    pub time: String,
    /// Which instant a local time repeated by the clocks going back means
    /// (`earlier`, the default, or `later`); ignored for other times.
    #[serde(default)]
    #[schema(value_type = String, example = "earlier")]
    pub fold: Fold,
    /// IANA time zone of the local date and time.
    pub tz: String,
    /// The instant of the sky, UTC (from date, time and zone).
    #[schema(value_type = String, example = "2024-08-12T22:30:00Z")]
    pub at: jiff::Timestamp,
    /// Theme id.
    pub theme: String,
    /// Poster size id (the variant's size).
    pub size: String,
    /// Title (`""` prints none; absent prints the default title).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Personal message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Language of the poster's fixed words (`en`, `es`).
    pub language: String,
    /// Draw constellation names.
    pub constellation_names: bool,
    /// Draw the altitude/azimuth grid.
    pub grid: bool,
    /// Draw the Milky Way.
    #[serde(default = "yes")]
    pub milky_way: bool,
    /// Font of the title and message (`classic`, `display`, `rounded`, `script`).
    #[serde(default = "default_font")]
    pub font: String,
    /// Layout id (`classic`, `full-bleed`, `pair`, `moon-panel`).
    #[serde(default = "default_layout")]
    pub layout: String,
    /// Shape of the sky (`circle`, `square`, `heart`).
    #[serde(default = "default_shape")]
    pub shape: String,
    /// Custom colours within the theme (`background`, `stars`, `lines`, `text`: `#rrggbb`).
    #[serde(default, skip_serializing_if = "CustomColors::is_empty")]
    #[schema(value_type = Object)]
    pub colors: CustomColors,
    /// The second sky of a two-sky layout, resolved like the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub second: Option<SecondLine>,
}

/// The second sky of a two-sky layout as stored: resolved like the first.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SecondLine {
    /// GeoNames id of the place, when chosen from the place search.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place_id: Option<u32>,
    /// Place name printed under this sky.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<String>,
    /// Latitude, degrees north.
    pub lat: f64,
    /// Longitude, degrees east.
    pub lon: f64,
    /// Local date, `YYYY-MM-DD`.
    pub date: String,
    /// Local time, `HH:MM`.
    pub time: String,
    /// Fold of a repeated local time.
    #[serde(default)]
    pub fold: Fold,
    /// IANA time zone.
    pub tz: String,
    /// The instant of this sky, UTC.
    pub at: jiff::Timestamp,
}

impl SecondLine {
    fn sky(&self) -> SecondSky {
        SecondSky {
            lat: self.lat,
            lon: self.lon,
            at: self.at,
            tz: Some(self.tz.clone()),
            place: self.place.clone(),
        }
    }
}

fn yes() -> bool {
    true
}
fn default_font() -> String {
    "classic".into()
}
fn default_layout() -> String {
    "classic".into()
}
fn default_shape() -> String {
    "circle".into()
}

impl StarmapLine {
    /// Reads options stored by [`StarmapLineValidator`] (a cart or order line's `options`).
    pub fn from_stored(options: &Value) -> Result<Self, serde_json::Error> {
        serde_json::from_value(options.clone())
    }

    /// The renderer's options for the print file (300 DPI, no bleed). A render job
    /// does `cielo_starmap::render_print(&line.print_options(), OutputFormat::Png, writer)`.
    pub fn print_options(&self) -> StarmapOptions {
        let mut o = StarmapOptions::new(self.lat, self.lon, self.at);
        o.tz = Some(self.tz.clone());
        o.place = self.place.clone();
        o.theme = self.theme.clone();
        o.size = self.size.clone();
        o.dpi = PRINT_DPI;
        o.title = self.title.clone();
        o.message = self.message.clone();
        o.language = self.language.clone();
        o.constellation_names = self.constellation_names;
        o.grid = self.grid;
        o.milky_way = self.milky_way;
        o.font = self.font.clone();
        o.layout = self.layout.clone();
        o.shape = self.shape.clone();
        o.colors = self.colors.clone();
        o.second = self.second.as_ref().map(SecondLine::sky);
        o
    }
}

/// The print options of a stored star-map line, for the render job:
/// `cielo_starmap::render_print(&print_options(&order_line.options)?, format, writer)`.
pub fn print_options(stored: &Value) -> Result<StarmapOptions, serde_json::Error> {
    StarmapLine::from_stored(stored).map(|l| l.print_options())
}

/// Validates star-map lines (registered for [`crate::PRODUCT_TYPE`]); the size comes
/// from the variant's `size` option value.
#[derive(Debug, Clone, Copy, Default)]
pub struct StarmapLineValidator;

impl LineOptionsValidator for StarmapLineValidator {
    fn validate(
        &self,
        line: &LineContext<'_>,
        options: Option<&Value>,
    ) -> Result<Value, Vec<FieldError>> {
        let variant_size = line
            .option_values
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("size"))
            .map(|(_, v)| v.as_str());
        let resolved = resolve(options, variant_size)?;
        Ok(serde_json::to_value(resolved).expect("options serialise"))
    }
}

struct Errors(Vec<FieldError>);

impl Errors {
    fn add(&mut self, field: &str, detail: impl Into<String>) {
        if !self.has(field) {
            self.0.push(FieldError::new(field, detail));
        }
    }
    fn has(&self, field: &str) -> bool {
        let p = format!("#/{field}");
        self.0.iter().any(|e| e.pointer == p)
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|x| x.is_finite())
}

fn boolean(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s == "true" || s == "1" => Some(true),
        Value::String(s) if s == "false" || s == "0" => Some(false),
        _ => None,
    }
}

/// Checks a customer's options and resolves them (place, zone, instant, size).
/// `variant_size` is the variant's `size` option value, which the options must
/// agree with; without one (the preview), any known size may be chosen.
/// Field errors name the option (`lat`, `date`, …); all are reported at once.
pub fn resolve(
    options: Option<&Value>,
    variant_size: Option<&str>,
) -> Result<StarmapLine, Vec<FieldError>> {
    let mut e = Errors(Vec::new());
    let o = match options {
        None => {
            return Err(vec![FieldError::new(
                "",
                "a star-map poster needs options: a place (place_id, or lat and lon), date, time and optionally tz, theme, title, message",
            )])
        }
        Some(Value::Object(m)) => m,
        Some(_) => return Err(vec![FieldError::new("", "must be a JSON object")]),
    };
    for k in o.keys() {
        if !OPTION_NAMES.contains(&k.as_str()) {
            e.add(
                k,
                format!(
                    "is not an option of a star-map poster (options: {})",
                    OPTION_NAMES[..21].join(", ")
                ),
            );
        }
    }
    let get = |k: &str| o.get(k).filter(|v| !v.is_null());
    let text = |e: &mut Errors, k: &str| -> Option<String> {
        match get(k) {
            None => None,
            Some(Value::String(s)) => Some(s.trim().to_string()),
            Some(_) => {
                e.add(k, "must be a string");
                None
            }
        }
    };

    // Where: a place from the search, or coordinates (which win when both are given).
    let place = match get("place_id") {
        None => None,
        Some(v) => {
            match number(v).filter(|n| n.fract() == 0.0 && *n > 0.0 && *n <= f64::from(u32::MAX)) {
                None => {
                    e.add(
                        "place_id",
                        "must be a place id from /api/store/starmap/places",
                    );
                    None
                }
                Some(id) => {
                    let p = places::get(id as u32);
                    if p.is_none() {
                        e.add(
                            "place_id",
                            "no such place; search one with /api/store/starmap/places",
                        );
                    }
                    p
                }
            }
        }
    };
    let coord = |e: &mut Errors, k: &str, range: f64, from_place: Option<f64>| -> Option<f64> {
        match get(k) {
            Some(v) => match number(v) {
                Some(x) if (-range..=range).contains(&x) => Some(x),
                Some(_) => {
                    e.add(k, format!("must be between -{range} and {range} degrees"));
                    None
                }
                None => {
                    e.add(k, "must be a number of degrees");
                    None
                }
            },
            None if from_place.is_some() => from_place,
            None if e.has("place_id") => None,
            None => {
                e.add(k, "is required (or give place_id)");
                None
            }
        }
    };
    let lat = coord(&mut e, "lat", 90.0, place.map(|p| p.lat));
    let lon = coord(&mut e, "lon", 180.0, place.map(|p| p.lon));
    let place_name = match text(&mut e, "place") {
        Some(s) if s.is_empty() => None,
        Some(s) => Some(s),
        None => place.map(|p| format!("{}, {}", p.name, p.country)),
    };

    // When: a local date and time in a zone (the zone of the place by default).
    let tz = match text(&mut e, "tz") {
        Some(tz) => match jiff::tz::TimeZone::get(&tz) {
            Ok(_) => Some(tz),
            Err(_) => {
                e.add(
                    "tz",
                    format!("unknown time zone {tz:?}; use an IANA name such as Europe/Madrid"),
                );
                None
            }
        },
        None => match (place, lat, lon) {
            (Some(p), _, _) if get("lat").is_none() => Some(p.tz.clone()),
            (_, Some(la), Some(lo)) => Some(places::tz_at(la, lo)),
            _ => None,
        },
    };
    let at_given = match get("at") {
        None => None,
        Some(Value::String(s)) => match s.parse::<jiff::Timestamp>() {
            Ok(t) => Some(t),
            Err(_) => {
                e.add(
                    "at",
                    "must be an RFC 3339 instant such as 2024-08-12T22:30:00Z",
                );
                None
            }
        },
        Some(_) => {
            e.add(
                "at",
                "must be an RFC 3339 instant such as 2024-08-12T22:30:00Z",
            );
            None
        }
    };
    let date = match text(&mut e, "date") {
        Some(s) => match s.parse::<jiff::civil::Date>() {
            Ok(d)
                if (DATE_RANGE.0.parse::<jiff::civil::Date>().expect("valid")
                    ..=DATE_RANGE.1.parse().expect("valid"))
                    .contains(&d) =>
            {
                Some(d)
            }
            Ok(_) => {
                e.add(
                    "date",
                    format!("must be between {} and {}", DATE_RANGE.0, DATE_RANGE.1),
                );
                None
            }
            Err(_) => {
                e.add("date", "must be a date such as 2024-08-13 (YYYY-MM-DD)");
                None
            }
        },
        None => None,
    };
    let time = match text(&mut e, "time") {
        Some(s) => match s.parse::<jiff::civil::Time>() {
            Ok(t) => Some(t),
            Err(_) => {
                e.add(
                    "time",
                    "must be a local time such as 21:30 (HH:MM, 24-hour)",
                );
                None
            }
        },
        None => None,
    };
    // Options stored by this validator carry `at` besides date and time; a client
    // may also give only `at`, and date and time are then read in the zone.
    let (date, time) = match (date, time, at_given, &tz) {
        (None, None, Some(at), Some(tz)) if !e.has("date") && !e.has("time") => {
            let local = at
                .to_zoned(jiff::tz::TimeZone::get(tz).expect("checked"))
                .datetime();
            (Some(local.date()), Some(local.time()))
        }
        (d, t, _, _) => {
            if d.is_none() && !e.has("date") {
                e.add("date", "is required: the local date, such as 2024-08-13");
            }
            if t.is_none() && !e.has("time") {
                e.add("time", "is required: the local time, such as 21:30");
            }
            (d, t)
        }
    };

    let theme = text(&mut e, "theme").unwrap_or_else(|| "classic-dark".into());
    if poster_theme(&theme).is_none() {
        let ids: Vec<&str> = cielo_starmap::themes()
            .iter()
            .map(|t| t.id.as_str())
            .collect();
        e.add(
            "theme",
            format!("unknown theme {theme:?}; one of {}", ids.join(", ")),
        );
    }
    let size = match (text(&mut e, "size"), variant_size) {
        (given, Some(v)) => match poster_size(v) {
            None => {
                e.add(
                    "size",
                    format!("this variant's size {v:?} is not a poster size"),
                );
                String::new()
            }
            Some(vs) => {
                if let Some(g) = given.filter(|g| poster_size(g).map(|s| s.id) != Some(vs.id)) {
                    e.add(
                        "size",
                        format!(
                            "this variant is {}; choose the {g} variant to get that size",
                            vs.name
                        ),
                    );
                }
                vs.id.to_string()
            }
        },
        (Some(g), None) => match poster_size(&g) {
            Some(s) => s.id.to_string(),
            None => {
                let ids: Vec<&str> = cielo_starmap::sizes().iter().map(|s| s.id).collect();
                e.add(
                    "size",
                    format!("unknown size {g:?}; one of {}", ids.join(", ")),
                );
                String::new()
            }
        },
        (None, None) => "24x36in".to_string(),
    };
    let title = text(&mut e, "title");
    let message = text(&mut e, "message").filter(|m| !m.is_empty());
    let language = text(&mut e, "language").unwrap_or_else(|| "en".into());
    let flag = |e: &mut Errors, k: &str| match get(k) {
        None => true,
        Some(v) => boolean(v).unwrap_or_else(|| {
            e.add(k, "must be true or false");
            true
        }),
    };
    let constellation_names = flag(&mut e, "constellation_names");
    let grid = flag(&mut e, "grid");
    let milky_way = flag(&mut e, "milky_way");
    let font = text(&mut e, "font").unwrap_or_else(default_font);
    let layout = text(&mut e, "layout").unwrap_or_else(default_layout);
    let shape = text(&mut e, "shape").unwrap_or_else(default_shape);
    let colors = match get("colors") {
        None => CustomColors::default(),
        Some(v) => parse_colors(v).unwrap_or_else(|msg| {
            e.add("colors", msg);
            CustomColors::default()
        }),
    };
    let second = match get("second") {
        None => None,
        Some(v) => match resolve_second(v) {
            Ok(s) => Some(s),
            Err(errs) => {
                for fe in errs {
                    e.0.push(fe);
                }
                None
            }
        },
    };

    let mut fold = match text(&mut e, "fold") {
        None => Fold::Earlier,
        Some(f) => Fold::parse(&f).unwrap_or_else(|| {
            e.add(
                "fold",
                "must be earlier or later: which of the two instants a local time repeated when the clocks go back means",
            );
            Fold::Earlier
        }),
    };
    let at = match (date, time, &tz) {
        (Some(d), Some(t), Some(tz)) => match instant_from_local_fold(d.to_datetime(t), tz, fold) {
            Ok(at) => Some(at),
            Err(cielo_starmap::Error::Invalid { field, message }) => {
                e.add(if field == "tz" { "tz" } else { "time" }, message);
                None
            }
            Err(err) => {
                e.add("time", err.to_string());
                None
            }
        },
        _ => None,
    };
    // An `at` in the second pass of a repeated hour names the later fold itself.
    let at = match (at, at_given, date, time, &tz) {
        (Some(a), Some(given), Some(d), Some(t), Some(tz))
            if a != given && get("fold").is_none() =>
        {
            match instant_from_local_fold(d.to_datetime(t), tz, Fold::Later) {
                Ok(later) if later == given => {
                    fold = Fold::Later;
                    Some(later)
                }
                _ => Some(a),
            }
        }
        (a, ..) => a,
    };
    if let (Some(at), Some(given)) = (at, at_given) {
        if at != given {
            e.add(
                "at",
                "does not match date, time and tz; give date and time only",
            );
        }
    }

    // The renderer's own rules (text lengths, control characters, ranges) last, on
    // what is known so far; its `at` is the customer's date.
    let mut opts = StarmapOptions::new(
        lat.unwrap_or(0.0),
        lon.unwrap_or(0.0),
        at.unwrap_or_else(|| "2000-01-01T00:00:00Z".parse().expect("valid")),
    );
    opts.tz = tz.clone();
    opts.place = place_name.clone();
    opts.theme = theme.clone();
    if !size.is_empty() {
        opts.size = size.clone();
    }
    opts.title = title.clone();
    opts.message = message.clone();
    opts.language = language.clone();
    opts.font = font.clone();
    opts.layout = layout.clone();
    opts.shape = shape.clone();
    opts.colors = colors.clone();
    opts.second = second.as_ref().map(SecondLine::sky);
    if let Err(errs) = opts.validate() {
        for fe in errs {
            if fe.field == "second" && e.0.iter().any(|x| x.pointer.starts_with("#/second")) {
                continue;
            }
            let field = match fe.field {
                "at" => "date",
                "place" if get("place").is_none() => "place_id",
                f => f,
            };
            e.add(field, fe.message);
        }
    }
    if !e.0.is_empty() {
        return Err(e.0);
    }
    let (date, time, tz, at) = (
        date.expect("checked"),
        time.expect("checked"),
        tz.expect("checked"),
        at.expect("checked"),
    );
    let time = if time.second() == 0 && time.subsec_nanosecond() == 0 {
        format!("{:02}:{:02}", time.hour(), time.minute())
    } else {
        format!(
            "{:02}:{:02}:{:02}",
            time.hour(),
            time.minute(),
            time.second()
        )
    };
    Ok(StarmapLine {
        version: 1,
        place_id: place.map(|p| p.id),
        place: place_name,
        lat: lat.expect("checked"),
        lon: lon.expect("checked"),
        date: date.to_string(),
        time,
        fold,
        tz,
        at,
        theme,
        size,
        title,
        message,
        language,
        constellation_names,
        grid,
        milky_way,
        font,
        layout,
        shape,
        colors,
        second,
    })
}

/// Custom colours: an object `{"background": "#0b1d3a", "text": "#f5e6c8", …}`, or
/// (in a query string) `background=#0b1d3a,text=#f5e6c8`.
fn parse_colors(v: &Value) -> Result<CustomColors, String> {
    let pairs: Vec<(String, String)> = match v {
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.trim().to_string())),
                _ => Err(format!("{k}: must be a colour such as #1a2b3c")),
            })
            .collect::<Result<_, _>>()?,
        Value::String(s) if s.trim_start().starts_with('{') => {
            return parse_colors(
                &serde_json::from_str(s).map_err(|_| "must be an object of colours".to_string())?,
            )
        }
        Value::String(s) => s
            .split(',')
            .filter(|p| !p.trim().is_empty())
            .map(|p| {
                p.split_once('=')
                    .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                    .ok_or_else(|| format!("{p:?}: name=#rrggbb"))
            })
            .collect::<Result<_, _>>()?,
        _ => return Err("must be an object: background, stars, lines, text".into()),
    };
    let mut c = CustomColors::default();
    for (k, v) in pairs {
        let slot = match k.as_str() {
            "background" => &mut c.background,
            "stars" => &mut c.stars,
            "lines" => &mut c.lines,
            "text" => &mut c.text,
            other => {
                return Err(format!(
                    "{other}: not a colour of the poster (background, stars, lines, text)"
                ))
            }
        };
        *slot = Some(v);
    }
    Ok(c)
}

/// The second sky: its own place (or coordinates), date, time and zone, resolved by
/// the same rules as the first; errors point into `second`.
fn resolve_second(v: &Value) -> Result<SecondLine, Vec<FieldError>> {
    let parsed;
    let v = match v {
        Value::String(s) => {
            parsed = serde_json::from_str::<Value>(s).map_err(|_| {
                vec![FieldError::new(
                    "second",
                    "must be an object: place_id or lat and lon, date, time",
                )]
            })?;
            &parsed
        }
        v => v,
    };
    let Value::Object(m) = v else {
        return Err(vec![FieldError::new(
            "second",
            "must be an object: place_id or lat and lon, date, time",
        )]);
    };
    let mut unknown = Vec::new();
    let mut sub = serde_json::Map::new();
    for (k, val) in m {
        if SECOND_OPTION_NAMES.contains(&k.as_str()) || k == "at" {
            sub.insert(k.clone(), val.clone());
        } else {
            unknown.push(FieldError::new(
                &format!("second/{k}"),
                format!(
                    "is not an option of the second sky ({})",
                    SECOND_OPTION_NAMES.join(", ")
                ),
            ));
        }
    }
    let line = resolve(Some(&Value::Object(sub)), None).map_err(|errs| {
        errs.into_iter()
            .map(|fe| FieldError {
                pointer: format!("#/second{}", fe.pointer.trim_start_matches('#')),
                ..fe
            })
            .chain(unknown.clone())
            .collect::<Vec<_>>()
    })?;
    if !unknown.is_empty() {
        return Err(unknown);
    }
    Ok(SecondLine {
        place_id: line.place_id,
        place: line.place,
        lat: line.lat,
        lon: line.lon,
        date: line.date,
        time: line.time,
        fold: line.fold,
        tz: line.tz,
        at: line.at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(r: Result<StarmapLine, Vec<FieldError>>) -> Vec<String> {
        r.unwrap_err().into_iter().map(|e| e.pointer).collect()
    }

    #[test]
    fn a_place_id_resolves_coordinates_zone_and_instant() {
        let madrid = places::search("madrid", 1)[0].id;
        let l = resolve(Some(&json!({"place_id": madrid, "date": "2024-08-13", "time": "00:30", "title": "Nuestra noche"})), Some("A3")).unwrap();
        assert_eq!(l.tz, "Europe/Madrid");
        assert_eq!(l.at, "2024-08-12T22:30:00Z".parse().unwrap());
        assert_eq!(l.size, "a3");
        assert_eq!(l.place.as_deref(), Some("Madrid, Spain"));
        assert!((l.lat - 40.4165).abs() < 1e-9);
        // Stored options resolve to themselves.
        let stored = serde_json::to_value(&l).unwrap();
        assert_eq!(resolve(Some(&stored), Some("A3")).unwrap(), l);
        let p = print_options(&stored).unwrap();
        assert_eq!(p.validate(), Ok(()));
        assert_eq!(p.print_pixels(), (3508, 4961));
    }

    #[test]
    fn coordinates_alone_take_the_zone_of_their_boundaries() {
        // Chatham Islands by coordinates: Pacific/Chatham (+13:45 in January), not
        // the nautical Etc/GMT+12 of the longitude.
        let l = resolve(
            Some(&json!({"lat": -43.954, "lon": -176.559, "date": "2024-01-15", "time": "21:00"})),
            None,
        )
        .unwrap();
        assert_eq!(l.tz, "Pacific/Chatham");
        assert_eq!(l.at, "2024-01-15T07:15:00Z".parse().unwrap());
        // A Swedish border town whose nearest listed city is in Finland.
        let l = resolve(
            Some(&json!({"lat": 65.835, "lon": 24.12, "date": "2024-06-21", "time": "23:00"})),
            None,
        )
        .unwrap();
        assert_eq!(l.tz, "Europe/Stockholm");
        assert_eq!(l.at, "2024-06-21T21:00:00Z".parse().unwrap());
    }

    #[test]
    fn the_date_range_is_that_of_the_local_date() {
        let tokyo = places::search("tokyo", 1)[0].id;
        let l = resolve(
            Some(&json!({"place_id": tokyo, "date": "1800-01-01", "time": "00:30"})),
            None,
        )
        .unwrap();
        assert_eq!(l.tz, "Asia/Tokyo");
        // Local mean time of Tokyo, +09:18:59: the previous day in UTC.
        assert_eq!(l.at, "1799-12-31T15:11:01Z".parse().unwrap());
        let stored = serde_json::to_value(&l).unwrap();
        assert_eq!(print_options(&stored).unwrap().validate(), Ok(()));
        let honolulu = json!({"lat": 21.3, "lon": -157.86, "date": "2200-12-31", "time": "23:30"});
        let l = resolve(Some(&honolulu), None).unwrap();
        assert_eq!(l.tz, "Pacific/Honolulu");
        assert_eq!(l.at, "2201-01-01T09:30:00Z".parse().unwrap());
    }

    #[test]
    fn a_skipped_local_time_is_refused_and_a_repeated_one_takes_the_fold() {
        let madrid = places::search("madrid", 1)[0].id;
        let r = resolve(
            Some(&json!({"place_id": madrid, "date": "2024-03-31", "time": "02:30"})),
            None,
        )
        .unwrap_err();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].pointer, "#/time");
        assert!(r[0].detail.contains("does not exist"), "{}", r[0].detail);
        assert!(
            r[0].detail.contains("did you mean 03:30?"),
            "{}",
            r[0].detail
        );

        let night = |fold: Option<&str>| {
            let mut o = json!({"place_id": madrid, "date": "2024-10-27", "time": "02:30"});
            if let Some(f) = fold {
                o["fold"] = json!(f);
            }
            resolve(Some(&o), None)
        };
        let earlier = night(None).unwrap();
        assert_eq!(earlier.at, "2024-10-27T00:30:00Z".parse().unwrap());
        assert_eq!(earlier.fold, Fold::Earlier);
        assert_eq!(night(Some("earlier")).unwrap(), earlier);
        let later = night(Some("later")).unwrap();
        assert_eq!(later.at, "2024-10-27T01:30:00Z".parse().unwrap());
        // Stored options (with `at`) resolve to themselves, fold included.
        for l in [&earlier, &later] {
            let stored = serde_json::to_value(l).unwrap();
            assert_eq!(&resolve(Some(&stored), None).unwrap(), l);
        }
        // An `at` alone in the second pass names the later fold.
        let at_only = json!({"place_id": madrid, "at": "2024-10-27T01:30:00Z"});
        assert_eq!(resolve(Some(&at_only), None).unwrap().fold, Fold::Later);
        assert_eq!(fields(night(Some("second"))), ["#/fold"]);
    }

    #[test]
    fn layouts_shapes_fonts_colours_and_a_second_sky_are_options() {
        let madrid = places::search("madrid", 1)[0].id;
        let tokyo = places::search("tokyo", 1)[0].id;
        let o = json!({"place_id": madrid, "date": "2024-08-13", "time": "00:30",
            "layout": "pair", "shape": "heart", "font": "script", "milky_way": false,
            "colors": {"background": "#0b1d3a", "text": "#f5e6c8"},
            "second": {"place_id": tokyo, "date": "2024-08-13", "time": "07:30"}});
        let l = resolve(Some(&o), None).unwrap();
        assert_eq!(
            (l.layout.as_str(), l.shape.as_str(), l.font.as_str()),
            ("pair", "heart", "script")
        );
        assert!(!l.milky_way);
        let second = l.second.clone().unwrap();
        assert_eq!(second.tz, "Asia/Tokyo");
        assert_eq!(second.at, "2024-08-12T22:30:00Z".parse().unwrap());
        assert_eq!(second.place.as_deref(), Some("Tokyo, Japan"));
        // Stored options resolve to themselves and print the second sky.
        let stored = serde_json::to_value(&l).unwrap();
        assert_eq!(resolve(Some(&stored), None).unwrap(), l);
        let p = print_options(&stored).unwrap();
        assert_eq!(p.validate(), Ok(()));
        assert_eq!(p.print_pixels(), (10800, 7200), "a pair is landscape");

        // Each bad one is named, inside `second` too.
        let bad = json!({"place_id": madrid, "date": "2024-08-13", "time": "00:30",
            "layout": "pair", "shape": "star", "font": "comic",
            "colors": {"background": "#0b1d3a", "text": "#333344"},
            "second": {"lat": 95, "date": "2024-03-31", "time": "02:30", "colour": 1}});
        let f = fields(resolve(Some(&bad), None));
        for p in [
            "#/shape",
            "#/font",
            "#/colors",
            "#/second/lat",
            "#/second/colour",
        ] {
            assert!(f.contains(&p.to_string()), "{p} in {f:?}");
        }
        let no_second =
            json!({"place_id": madrid, "date": "2024-08-13", "time": "00:30", "layout": "pair"});
        assert_eq!(fields(resolve(Some(&no_second), None)), ["#/second"]);
        let skipped = json!({"place_id": madrid, "date": "2024-08-13", "time": "00:30", "layout": "pair",
            "second": {"place_id": madrid, "date": "2024-03-31", "time": "02:30"}});
        assert_eq!(fields(resolve(Some(&skipped), None)), ["#/second/time"]);
        // A query string's flat colours.
        let q = json!({"place_id": madrid, "date": "2024-08-13", "time": "00:30",
            "colors": "background=#0b1d3a,stars=#ffffff"});
        assert_eq!(
            resolve(Some(&q), None).unwrap().colors.stars.as_deref(),
            Some("#ffffff")
        );
    }

    #[test]
    fn text_that_cannot_be_printed_is_refused_naming_the_option() {
        let madrid = places::search("madrid", 1)[0].id;
        let ok = json!({"place_id": madrid, "date": "2024-08-13", "time": "00:30",
            "title": "我们的夜晚", "message": "ليلتنا الأولى"});
        assert!(resolve(Some(&ok), None).is_ok());
        let bad = json!({"place_id": madrid, "date": "2024-08-13", "time": "00:30",
            "title": "우리의 밤", "message": "🌙✨"});
        let errs = resolve(Some(&bad), None).unwrap_err();
        let f: Vec<&str> = errs.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(f, ["#/title", "#/message"]);
        assert!(
            errs[0].detail.contains("cannot be printed"),
            "{}",
            errs[0].detail
        );
    }

    #[test]
    fn coordinates_take_the_zone_of_the_nearest_city() {
        let l = resolve(
            Some(&json!({"lat": -33.9, "lon": 18.4, "date": "2024-08-13", "time": "00:30"})),
            None,
        )
        .unwrap();
        assert_eq!(l.tz, "Africa/Johannesburg");
        assert_eq!(l.size, "24x36in");
        assert_eq!(l.place, None);
    }

    #[test]
    fn every_bad_option_is_named() {
        let r = resolve(
            Some(
                &json!({"lat": 91, "lon": "east", "date": "1799-12-31", "time": "25:00", "tz": "Mars/Olympus",
                "theme": "neon", "size": "a9", "title": "x".repeat(61), "message": "y".repeat(241), "colour": 1}),
            ),
            None,
        );
        assert_eq!(
            fields(r),
            [
                "#/colour",
                "#/lat",
                "#/lon",
                "#/tz",
                "#/date",
                "#/time",
                "#/theme",
                "#/size",
                "#/title",
                "#/message"
            ]
        );
        assert_eq!(
            fields(resolve(Some(&json!({})), None)),
            ["#/lat", "#/lon", "#/date", "#/time"]
        );
        assert_eq!(fields(resolve(None, None)), ["#/"]);
        assert_eq!(
            fields(resolve(
                Some(&json!({"place_id": 1, "date": "2024-01-01", "time": "10:00"})),
                None
            )),
            ["#/place_id"]
        );
        let wrong_size =
            json!({"lat": 1, "lon": 2, "date": "2024-01-01", "time": "10:00", "size": "24x36in"});
        assert_eq!(fields(resolve(Some(&wrong_size), Some("A3"))), ["#/size"]);
        let late = json!({"lat": 1, "lon": 2, "date": "2201-01-01", "time": "10:00"});
        assert_eq!(fields(resolve(Some(&late), None)), ["#/date"]);
    }
}
