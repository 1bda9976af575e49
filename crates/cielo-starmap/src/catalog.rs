//! The embedded star catalogue and constellation figures.

use std::sync::OnceLock;

use crate::data::Reader;

const STARS_BIN: &[u8] = include_bytes!("../data/stars.bin");
const CONSTELLATIONS_JSON: &str = include_str!("../data/constellations.json");

/// One Hipparcos star (new reduction, ICRS, epoch J1991.25).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Star {
    /// Hipparcos catalogue number.
    pub hip: u32,
    /// Right ascension at epoch J1991.25, radians.
    pub ra: f64,
    /// Declination at epoch J1991.25, radians.
    pub dec: f64,
    /// Parallax, milliarcseconds (≤ 0 in a few cases; treated as very distant).
    pub parallax_mas: f32,
    /// Proper motion in right ascension times cos(dec), mas/year.
    pub pm_ra_mas: f32,
    /// Proper motion in declination, mas/year.
    pub pm_dec_mas: f32,
    /// Hipparcos magnitude Hp.
    pub mag: f32,
    /// Colour index B−V.
    pub bv: f32,
}

/// Every catalogue star to Hp 6.7 (all stars to V 6.5), brightest first.
pub fn stars() -> &'static [Star] {
    static S: OnceLock<Vec<Star>> = OnceLock::new();
    S.get_or_init(|| {
        let mut r = Reader::new(STARS_BIN, b"CSTR");
        let n = r.u32() as usize;
        (0..n)
            .map(|_| Star {
                hip: r.u32(),
                ra: r.f64(),
                dec: r.f64(),
                parallax_mas: r.f32(),
                pm_ra_mas: r.f32(),
                pm_dec_mas: r.f32(),
                mag: f32::from(r.i16()) / 1000.0,
                bv: f32::from(r.i16()) / 1000.0,
            })
            .collect()
    })
}

/// Index of a star in [`stars`] by Hipparcos number.
pub fn star_index(hip: u32) -> Option<usize> {
    static I: OnceLock<std::collections::HashMap<u32, usize>> = OnceLock::new();
    I.get_or_init(|| {
        stars()
            .iter()
            .enumerate()
            .map(|(i, s)| (s.hip, i))
            .collect()
    })
    .get(&hip)
    .copied()
}

/// A vertex of a constellation figure: a catalogue star, or (rarely) a fixed J2000
/// direction where the source figure has no matching star.
#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize)]
#[serde(untagged)]
pub enum Vertex {
    /// Hipparcos number of the star at this vertex.
    Star(u32),
    /// Right ascension and declination in degrees (J2000).
    Fixed([f64; 2]),
}

/// One of the 88 constellations (Serpens comes in two parts, as in the source).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct Constellation {
    /// IAU abbreviation, e.g. `Ori`.
    pub id: String,
    /// Latin name.
    pub name: String,
    /// Spanish name.
    pub es: String,
    /// Label position: right ascension and declination in degrees (J2000).
    pub label: [f64; 2],
    /// Line figure: polylines through catalogue stars.
    pub lines: Vec<Vec<Vertex>>,
}

const MILKY_WAY_BIN: &[u8] = include_bytes!("../data/milkyway.bin");

/// A brightness sample of the Milky Way (`data/milkyway.bin`, from d3-celestial's
/// outlines in five steps sampled on a one-degree grid).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MilkyWaySample {
    /// Right ascension, degrees (J2000).
    pub ra: f64,
    /// Declination, degrees (J2000).
    pub dec: f64,
    /// Brightness step, 1 (faint edge) ..= 5 (brightest clouds).
    pub level: u8,
}

/// The Milky Way samples.
pub fn milky_way() -> &'static [MilkyWaySample] {
    static M: OnceLock<Vec<MilkyWaySample>> = OnceLock::new();
    M.get_or_init(|| {
        let b = MILKY_WAY_BIN;
        assert_eq!(&b[..4], b"CMWY", "embedded milkyway.bin");
        let n = u32::from_le_bytes([b[4], b[5], b[6], b[7]]) as usize;
        (0..n)
            .map(|i| {
                let r = &b[8 + 5 * i..13 + 5 * i];
                MilkyWaySample {
                    ra: f64::from(u16::from_le_bytes([r[0], r[1]])) / 100.0,
                    dec: f64::from(i16::from_le_bytes([r[2], r[3]])) / 100.0,
                    level: r[4],
                }
            })
            .collect()
    })
}

const NAMES_JSON: &str = include_str!("../data/constellation-names.json");

/// A constellation's name in a poster language (`en`: the Latin name); `id` is the
/// IAU abbreviation.
pub fn constellation_name(id: &str, lang: &str) -> Option<&'static str> {
    type Names = std::collections::HashMap<String, std::collections::HashMap<String, String>>;
    static N: OnceLock<Names> = OnceLock::new();
    let names = N.get_or_init(|| {
        serde_json::from_str(NAMES_JSON).expect("embedded constellation-names.json is valid")
    });
    names.get(id)?.get(lang).map(String::as_str)
}

/// The constellation figures and names (from d3-celestial, BSD-3-Clause).
pub fn constellations() -> &'static [Constellation] {
    static C: OnceLock<Vec<Constellation>> = OnceLock::new();
    C.get_or_init(|| {
        serde_json::from_str(CONSTELLATIONS_JSON).expect("embedded constellations.json is valid")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_holds_every_star_to_magnitude_six_and_a_half() {
        let s = stars();
        assert!(s.len() >= 9_000, "{}", s.len());
        assert!(s.iter().filter(|x| x.mag <= 6.5).count() >= 7_900);
        let sirius = s.iter().find(|x| x.hip == 32349).expect("Sirius");
        assert!((sirius.mag + 1.09).abs() < 0.01);
        assert!(
            s.windows(2).all(|w| w[0].mag <= w[1].mag),
            "sorted brightest first"
        );
    }

    #[test]
    fn the_milky_way_runs_through_cygnus_and_sagittarius_not_the_poles() {
        let mw = milky_way();
        assert!(mw.len() > 5_000);
        let level_near = |ra: f64, dec: f64| {
            mw.iter()
                .filter(|s| (s.ra - ra).abs() < 1.5 && (s.dec - dec).abs() < 1.5)
                .map(|s| s.level)
                .max()
                .unwrap_or(0)
        };
        assert!(
            level_near(266.4, -29.0) >= 3,
            "galactic centre, Sagittarius"
        );
        assert!(level_near(305.0, 40.0) >= 2, "Cygnus");
        assert_eq!(level_near(180.0, 80.0), 0, "near the north celestial pole");
        assert_eq!(
            level_near(190.0, 27.0),
            0,
            "north galactic pole, Coma Berenices"
        );
    }

    #[test]
    fn every_constellation_is_named_in_every_language() {
        for c in constellations() {
            for lang in crate::LANGUAGES {
                let n =
                    constellation_name(&c.id, lang).unwrap_or_else(|| panic!("{} {lang}", c.id));
                assert!(!n.is_empty());
            }
        }
        assert_eq!(constellation_name("UMa", "pt"), Some("Ursa Maior"));
        assert_eq!(constellation_name("UMa", "fr"), Some("Grande Ourse"));
        assert_eq!(constellation_name("UMa", "de"), Some("Großer Bär"));
        assert_eq!(constellation_name("UMa", "it"), Some("Orsa Maggiore"));
        assert_eq!(constellation_name("Cru", "es"), Some("Cruz del Sur"));
    }

    #[test]
    fn constellation_figures_cover_the_88_constellations() {
        let c = constellations();
        let mut ids: Vec<&str> = c.iter().map(|c| c.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert!(ids.len() >= 88, "{}", ids.len());
        let ori = c.iter().find(|c| c.id == "Ori").unwrap();
        assert!(
            ori.lines
                .iter()
                .flatten()
                .any(|v| *v == Vertex::Star(27989)),
            "Betelgeuse in Orion"
        );
        let known: std::collections::HashSet<u32> = stars().iter().map(|s| s.hip).collect();
        for v in c.iter().flat_map(|c| c.lines.iter().flatten()) {
            if let Vertex::Star(h) = v {
                assert!(known.contains(h), "vertex star {h} is in the catalogue");
            }
        }
    }
}
