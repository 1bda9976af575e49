//! Sun, Moon and planets: Chebyshev fits to JPL DE440, 1800–2200.
//!
//! Why fits and not an analytic theory: VSOP87/ELP truncated to a size we would ship
//! drift from DE440 by several arcseconds over four centuries (the Moon most), and
//! the tolerances (0.5′ planets, 1′ Moon) leave room for little else once ΔT is
//! counted. Fitting DE440 itself in `tools/starmap-data/build_data.py` gives the same
//! numbers as the reference everywhere in 1800–2200 (fit error ≤ 0.5 arcsec, checked
//! by the script) for about 2.3 MB of `f32` coefficients.

use std::sync::OnceLock;

use crate::data::Reader;

const EPHEMERIS_BIN: &[u8] = include_bytes!("../data/ephemeris.bin");

/// Kilometres per astronomical unit.
pub(crate) const AU_KM: f64 = 149_597_870.7;

/// One body's piecewise Chebyshev series (positions in km, ICRF axes).
struct Series {
    start: f64,
    days: f64,
    intervals: usize,
    ncoef: usize,
    coefs: &'static [u8],
}

impl Series {
    fn position_km(&self, jd: f64) -> [f64; 3] {
        let x = (jd - self.start) / self.days;
        let i = (x.floor().max(0.0) as usize).min(self.intervals - 1);
        let s = 2.0 * (x - i as f64) - 1.0;
        let mut out = [0.0; 3];
        for (axis, o) in out.iter_mut().enumerate() {
            let base = ((i * 3 + axis) * self.ncoef) * 4;
            let c = |j: usize| {
                let b = &self.coefs[base + 4 * j..base + 4 * j + 4];
                f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            };
            // Clenshaw recurrence
            let (mut b1, mut b2) = (0.0, 0.0);
            for j in (1..self.ncoef).rev() {
                let b0 = 2.0 * s * b1 - b2 + c(j);
                b2 = b1;
                b1 = b0;
            }
            *o = s * b1 - b2 + c(0);
        }
        out
    }
}

/// The bodies a star map shows besides the stars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Body {
    /// The Sun.
    Sun,
    /// The Moon.
    Moon,
    /// Mercury.
    Mercury,
    /// Venus.
    Venus,
    /// Mars (system barycentre).
    Mars,
    /// Jupiter (system barycentre).
    Jupiter,
    /// Saturn (system barycentre).
    Saturn,
}

impl Body {
    /// All bodies, in the order the positions output lists them.
    pub const ALL: [Body; 7] = [
        Body::Sun,
        Body::Moon,
        Body::Mercury,
        Body::Venus,
        Body::Mars,
        Body::Jupiter,
        Body::Saturn,
    ];

    /// Lower-case English name, as used in the JSON output.
    pub fn name(self) -> &'static str {
        match self {
            Body::Sun => "sun",
            Body::Moon => "moon",
            Body::Mercury => "mercury",
            Body::Venus => "venus",
            Body::Mars => "mars",
            Body::Jupiter => "jupiter",
            Body::Saturn => "saturn",
        }
    }
}

pub(crate) struct Ephemeris {
    /// Earth's share of the geocentric Moon vector: Earth = EMB − f · (Moon − Earth).
    earth_fraction: f64,
    sun: Series,
    mercury: Series,
    venus: Series,
    emb: Series,
    mars: Series,
    jupiter: Series,
    saturn: Series,
    moon_geo: Series,
}

pub(crate) fn ephemeris() -> &'static Ephemeris {
    static E: OnceLock<Ephemeris> = OnceLock::new();
    E.get_or_init(|| {
        let mut r = Reader::new(EPHEMERIS_BIN, b"CEPH");
        let n = r.u32();
        let earth_fraction = r.f64();
        let mut map = std::collections::HashMap::new();
        for _ in 0..n {
            let name = std::str::from_utf8(r.bytes(8))
                .expect("ascii name")
                .trim_end_matches('\0')
                .to_owned();
            let start = r.f64();
            let days = f64::from(r.u32());
            let intervals = r.u32() as usize;
            let ncoef = r.u32() as usize;
            let coefs = r.bytes(intervals * 3 * ncoef * 4);
            map.insert(
                name,
                Series {
                    start,
                    days,
                    intervals,
                    ncoef,
                    coefs,
                },
            );
        }
        let mut take = |k: &str| {
            map.remove(k)
                .unwrap_or_else(|| panic!("ephemeris lacks {k}"))
        };
        Ephemeris {
            earth_fraction,
            sun: take("sun"),
            mercury: take("mercury"),
            venus: take("venus"),
            emb: take("emb"),
            mars: take("mars"),
            jupiter: take("jupiter"),
            saturn: take("saturn"),
            moon_geo: take("moon"),
        }
    })
}

impl Ephemeris {
    /// Barycentric position of the Earth in AU at TDB Julian date `jd`.
    pub(crate) fn earth_au(&self, jd: f64) -> [f64; 3] {
        let e = self.emb.position_km(jd);
        let m = self.moon_geo.position_km(jd);
        std::array::from_fn(|i| (e[i] - self.earth_fraction * m[i]) / AU_KM)
    }

    /// Barycentric velocity of the Earth in AU/day (central difference; 1e-5 relative
    /// accuracy, far more than aberration needs).
    pub(crate) fn earth_velocity_au_per_day(&self, jd: f64) -> [f64; 3] {
        let h = 0.05;
        let a = self.earth_au(jd - h);
        let b = self.earth_au(jd + h);
        std::array::from_fn(|i| (b[i] - a[i]) / (2.0 * h))
    }

    /// Barycentric position of `body` in AU at TDB Julian date `jd`.
    pub(crate) fn body_au(&self, body: Body, jd: f64) -> [f64; 3] {
        let km = match body {
            Body::Sun => self.sun.position_km(jd),
            Body::Mercury => self.mercury.position_km(jd),
            Body::Venus => self.venus.position_km(jd),
            Body::Mars => self.mars.position_km(jd),
            Body::Jupiter => self.jupiter.position_km(jd),
            Body::Saturn => self.saturn.position_km(jd),
            Body::Moon => {
                let e = self.emb.position_km(jd);
                let m = self.moon_geo.position_km(jd);
                std::array::from_fn(|i| e[i] + (1.0 - self.earth_fraction) * m[i])
            }
        };
        km.map(|v| v / AU_KM)
    }
}
