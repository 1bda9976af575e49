//! Place search over the embedded GeoNames cities (more than 15,000 people).
//!
//! The file (`data/cities15000.tsv.z`, made by `tools/places-data/build.py`) is
//! inflated and parsed once, on first use (about 34,000 cities, a few MB in memory).
//! Cities are kept biggest first, so a prefix search stops at its `limit`.

use std::collections::HashMap;
use std::sync::OnceLock;

use unicode_normalization::UnicodeNormalization;

const CITIES_Z: &[u8] = include_bytes!("../data/cities15000.tsv.z");

/// Longest query accepted by [`search`], in characters.
pub const MAX_QUERY_CHARS: usize = 100;
/// Most results [`search`] returns.
pub const MAX_LIMIT: usize = 50;

/// A city of the embedded dataset.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Place {
    /// GeoNames id; a cart line may give it as `place_id` instead of coordinates.
    pub id: u32,
    /// Name, as GeoNames spells it (e.g. `São Paulo`).
    pub name: String,
    /// ISO 3166-1 alpha-2 country code.
    pub country_code: String,
    /// Country name, in English.
    pub country: String,
    /// First-level administrative division: its GeoNames code (e.g. `29`, `CA`).
    pub admin1_code: String,
    /// Its name, where the dataset has it (US states); otherwise `null`.
    pub admin1: Option<String>,
    /// Latitude, degrees north.
    pub lat: f64,
    /// Longitude, degrees east.
    pub lon: f64,
    /// Population.
    pub population: u64,
    /// IANA time zone, e.g. `Europe/Madrid`.
    pub tz: String,
    /// `Name, Region, Country` for people (the region only where named).
    pub label: String,
}

struct Gazetteer {
    places: Vec<Place>,
    /// Folded name of each place, same order.
    keys: Vec<String>,
    by_id: HashMap<u32, usize>,
}

fn gazetteer() -> &'static Gazetteer {
    static G: OnceLock<Gazetteer> = OnceLock::new();
    G.get_or_init(|| parse(CITIES_Z).expect("the embedded cities file is valid"))
}

fn parse(z: &[u8]) -> Result<Gazetteer, String> {
    let raw =
        miniz_oxide::inflate::decompress_to_vec_zlib(z).map_err(|e| format!("inflate: {e:?}"))?;
    let text = String::from_utf8(raw).map_err(|e| e.to_string())?;
    let mut zones: Vec<&str> = Vec::new();
    let mut countries: HashMap<&str, &str> = HashMap::new();
    let mut regions: HashMap<(&str, &str), &str> = HashMap::new();
    let mut places = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        match f[0] {
            "#tz" => zones = f[1..].to_vec(),
            "C" if f.len() == 3 => {
                countries.insert(f[1], f[2]);
            }
            "A" if f.len() == 4 => {
                regions.insert((f[1], f[2]), f[3]);
            }
            _ if f.len() == 8 => {
                let bad = |what: &str| format!("bad {what} in {line:?}");
                let tz = zones
                    .get(f[7].parse::<usize>().map_err(|_| bad("zone"))?)
                    .ok_or_else(|| bad("zone"))?;
                let country = countries.get(f[2]).copied().unwrap_or(f[2]);
                let admin1 = regions.get(&(f[2], f[3])).map(|s| s.to_string());
                let label = match &admin1 {
                    Some(r) => format!("{}, {r}, {country}", f[1]),
                    None => format!("{}, {country}", f[1]),
                };
                places.push(Place {
                    id: f[0].parse().map_err(|_| bad("id"))?,
                    name: f[1].to_string(),
                    country_code: f[2].to_string(),
                    country: country.to_string(),
                    admin1_code: f[3].to_string(),
                    admin1,
                    lat: f[4].parse().map_err(|_| bad("lat"))?,
                    lon: f[5].parse().map_err(|_| bad("lon"))?,
                    population: f[6].parse().map_err(|_| bad("population"))?,
                    tz: tz.to_string(),
                    label,
                });
            }
            _ => return Err(format!("unexpected line {line:?}")),
        }
    }
    let keys = places.iter().map(|p| fold(&p.name)).collect();
    let by_id = places.iter().enumerate().map(|(i, p)| (p.id, i)).collect();
    Ok(Gazetteer {
        places,
        keys,
        by_id,
    })
}

/// Lower case without accents or punctuation, spaces collapsed: `São Paulo` and
/// `sao  paulo` both become `sao paulo`, `Düsseldorf` becomes `dusseldorf`.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.nfd() {
        if unicode_normalization::char::is_combining_mark(c) {
            continue;
        }
        let mapped: &str = match c {
            'ß' => "ss",
            'æ' | 'Æ' => "ae",
            'œ' | 'Œ' => "oe",
            'ø' | 'Ø' => "o",
            'ł' | 'Ł' => "l",
            'đ' | 'Đ' => "d",
            'ı' => "i",
            'þ' | 'Þ' => "th",
            _ => "",
        };
        if !mapped.is_empty() {
            out.push_str(mapped);
            space = false;
        } else if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
            space = false;
        } else if !space && !out.is_empty() {
            // Spaces, hyphens, apostrophes and dots all separate words.
            out.push(' ');
            space = true;
        }
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

/// Cities whose name starts with `query` (case, accents and punctuation ignored),
/// biggest first, at most `limit`.
pub fn search(query: &str, limit: usize) -> Vec<&'static Place> {
    let q = fold(query);
    if q.is_empty() {
        return Vec::new();
    }
    let g = gazetteer();
    g.keys
        .iter()
        .zip(&g.places)
        .filter(|(k, _)| k.starts_with(&q))
        .map(|(_, p)| p)
        .take(limit)
        .collect()
}

/// The city with this GeoNames id.
pub fn get(id: u32) -> Option<&'static Place> {
    let g = gazetteer();
    g.by_id.get(&id).map(|&i| &g.places[i])
}

/// The city nearest to a point (great-circle distance), with the distance in km.
pub fn nearest(lat: f64, lon: f64) -> Option<(&'static Place, f64)> {
    let (la, lo) = (lat.to_radians(), lon.to_radians());
    let (sin_la, cos_la) = la.sin_cos();
    // Largest cosine of the central angle = nearest.
    let mut best: Option<(&Place, f64)> = None;
    for p in &gazetteer().places {
        let (pla, plo) = (p.lat.to_radians(), p.lon.to_radians());
        let c = sin_la * pla.sin() + cos_la * pla.cos() * (lo - plo).cos();
        if best.is_none_or(|(_, b)| c > b) {
            best = Some((p, c));
        }
    }
    best.map(|(p, c)| (p, c.clamp(-1.0, 1.0).acos() * 6371.0))
}

/// The IANA time zone of a point, from the time-zone boundary polygons of
/// `tzf-rs` (timezone-boundary-builder, OpenStreetMap data, including the
/// territorial waters; the open sea has its nautical `Etc/GMT±N` zones), so a
/// town by a border and an island far from any city get their true zone.
pub fn tz_at(lat: f64, lon: f64) -> String {
    static FINDER: OnceLock<tzf_rs::EmbeddedFinder> = OnceLock::new();
    let finder = FINDER.get_or_init(tzf_rs::EmbeddedFinder::new);
    let name = finder.get_tz_name(lon, lat);
    if !name.is_empty() && jiff::tz::TimeZone::get(name).is_ok() {
        return name.to_string();
    }
    // Not covered (the poles' edges) or unknown to the bundled tz database:
    // the nautical zone of the longitude.
    let hours = (lon / 15.0).round() as i32;
    match hours {
        0 => "Etc/UTC".to_string(),
        // The Etc zones' signs are POSIX-style: inverted.
        h if h > 0 => format!("Etc/GMT-{}", h.min(12)),
        h => format!("Etc/GMT+{}", (-h).min(12)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accents_case_and_punctuation_fold_away() {
        assert_eq!(fold("São Paulo"), "sao paulo");
        assert_eq!(fold("  SAO   paulo "), "sao paulo");
        assert_eq!(fold("Düsseldorf"), "dusseldorf");
        assert_eq!(fold("Łódź"), "lodz");
        assert_eq!(fold("Saint-Étienne"), "saint etienne");
    }

    #[test]
    fn search_finds_big_cities_first() {
        let r = search("madrid", 5);
        assert_eq!(r[0].name, "Madrid");
        assert_eq!(r[0].country_code, "ES");
        assert_eq!(r[0].tz, "Europe/Madrid");
        assert!(r.windows(2).all(|w| w[0].population >= w[1].population));
        let sp = search("sao paulo", 3);
        assert_eq!(sp[0].name, "São Paulo");
        assert_eq!(sp[0].tz, "America/Sao_Paulo");
        assert!(search("", 5).is_empty());
        assert_eq!(search("zzzzzz", 5).len(), 0);
    }

    #[test]
    fn places_are_found_by_id_and_by_position() {
        let madrid = search("madrid", 1)[0];
        assert_eq!(get(madrid.id), Some(madrid));
        let (near, km) = nearest(40.4165, -3.7026).unwrap();
        assert_eq!(near.id, madrid.id);
        assert!(km < 0.1);
        assert_eq!(tz_at(-33.9, 18.4), "Africa/Johannesburg");
        assert_eq!(tz_at(0.0, -150.0), "Etc/GMT+10");
    }

    #[test]
    fn the_zone_of_a_point_follows_the_borders_not_the_nearest_city() {
        // Chatham Islands: no city of 15,000 people within 800 km; own zone (+13:45).
        assert_eq!(tz_at(-43.954, -176.559), "Pacific/Chatham");
        // Haparanda (Sweden) faces Tornio (Finland, the nearest listed city, one
        // hour ahead) across the Torne river.
        assert_eq!(nearest(65.835, 24.12).unwrap().0.tz, "Europe/Helsinki");
        assert_eq!(tz_at(65.835, 24.12), "Europe/Stockholm");
        assert_eq!(tz_at(65.848, 24.16), "Europe/Helsinki");
        // Mid-Atlantic and mid-Pacific: nautical zones.
        assert_eq!(tz_at(30.0, -40.0), "Etc/GMT+3");
        assert_eq!(tz_at(-10.0, -130.0), "Etc/GMT+9");
    }

    #[test]
    fn us_cities_name_their_state() {
        let la = search("los angeles", 1)[0];
        assert_eq!(la.admin1.as_deref(), Some("California"));
        assert_eq!(la.label, "Los Angeles, California, United States");
    }
}
