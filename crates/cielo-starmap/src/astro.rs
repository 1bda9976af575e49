//! Apparent topocentric positions: the reduction chain of the reference (Skyfield).
//!
//! ICRS star or DE440 body → (proper motion, parallax | light time) → gravitational
//! deflection by the Sun → annual + diurnal aberration → frame bias, IAU 2006
//! precession (Capitaine et al. 2003 four-angle form), IAU 2000A nutation (luni-solar
//! series truncated at 0.1 mas) → Greenwich apparent sidereal time from UT1 → WGS84
//! observer's horizon. No refraction, no polar motion (both as the reference).

use std::f64::consts::{PI, TAU};
use std::sync::OnceLock;

use crate::catalog::Star;
use crate::data::Reader;
use crate::ephemeris::{ephemeris, Body, AU_KM};
use crate::time::TimeScales;

type Vec3 = [f64; 3];
type Mat3 = [[f64; 3]; 3];

const ASEC2RAD: f64 = PI / 648_000.0;
const T0: f64 = 2_451_545.0;
const C_M_S: f64 = 299_792_458.0;
const AU_M: f64 = AU_KM * 1000.0;
const C_AU_PER_DAY: f64 = C_M_S * 86_400.0 / AU_M;
/// Heliocentric gravitational constant, m³/s² (as the reference uses).
const GS: f64 = 1.327_124_400_179_87e20;
/// Earth's rotation rate, rad/s.
const ANGVEL: f64 = 7.292_115_0e-5;
/// Hipparcos epoch J1991.25 as a TDB Julian date.
const HIPPARCOS_EPOCH: f64 = 2_448_349.062_5;
const WGS84_A_KM: f64 = 6378.137;
const WGS84_INV_F: f64 = 298.257_223_563;

const NUTATION_BIN: &[u8] = include_bytes!("../data/nutation.bin");

/// An observer on the WGS84 ellipsoid at elevation 0 m.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observer {
    /// Geodetic latitude, degrees, north positive.
    pub lat_deg: f64,
    /// Longitude, degrees, east positive.
    pub lon_deg: f64,
}

/// A direction in the observer's horizon system (no refraction).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Horizontal {
    /// Altitude above the horizon, degrees.
    pub alt_deg: f64,
    /// Azimuth from north through east, degrees in [0, 360).
    pub az_deg: f64,
}

/// The Moon's phase at an instant, for an observer.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct MoonPhase {
    /// Illuminated fraction of the disc, 0 (new) ..= 1 (full).
    pub illuminated: f64,
    /// Sun–Moon–observer angle in degrees (0 full, 180 new).
    pub phase_angle_deg: f64,
    /// Waxing (the Moon east of the Sun) or waning.
    pub waxing: bool,
}

impl MoonPhase {
    /// Index of the phase's name: 0 new, 1 waxing crescent, 2 first quarter, 3 waxing
    /// gibbous, 4 full, 5 waning gibbous, 6 last quarter, 7 waning crescent.
    pub fn name_index(&self) -> usize {
        let k = self.illuminated;
        match (k, self.waxing) {
            (k, _) if k < 0.02 => 0,
            (k, _) if k > 0.98 => 4,
            (k, true) if (k - 0.5).abs() < 0.03 => 2,
            (k, false) if (k - 0.5).abs() < 0.03 => 6,
            (k, true) if k < 0.5 => 1,
            (_, true) => 3,
            (k, false) if k > 0.5 => 5,
            _ => 7,
        }
    }
}

/// The sky over one observer at one instant: everything that does not depend on the
/// target is computed once here, so a whole catalogue costs microseconds per star.
pub struct Sky {
    observer: Observer,
    jd_tdb: f64,
    /// GCRS → observer's local east/north/up.
    gcrs_to_enu: Mat3,
    /// Barycentric position (AU) and velocity (AU/day) of the observer.
    obs_pos: Vec3,
    obs_vel: Vec3,
    sun: Vec3,
}

impl Sky {
    /// Prepare the sky for `observer` at `time`.
    pub fn new(observer: Observer, time: TimeScales) -> Self {
        let jd_tdb = time.jd_tt; // TDB − TT < 2 ms: far below every tolerance
        let t = (jd_tdb - T0) / 36_525.0;
        let eph = ephemeris();

        let eps_mean = mean_obliquity_arcsec(t) * ASEC2RAD;
        let (dpsi, deps) = nutation(t);
        let n = nutation_matrix(eps_mean, eps_mean + deps, dpsi);
        let m = mxm(&mxm(&n, &precession_matrix(t)), &frame_bias());

        let gast = earth_rotation_angle(time.jd_ut1) * TAU
            + gmst_precession_arcsec(t) * ASEC2RAD
            + dpsi * eps_mean.cos()
            + equation_of_equinoxes_complementary(t);
        let r3 = rot_z(gast);
        let gcrs_to_itrs = mxm(&r3, &m);

        let (sl, cl) = observer.lat_deg.to_radians().sin_cos();
        let (so, co) = observer.lon_deg.to_radians().sin_cos();
        let enu: Mat3 = [
            [-so, co, 0.0],
            [-sl * co, -sl * so, cl],
            [cl * co, cl * so, sl],
        ];
        // rows: east, north, up
        let gcrs_to_enu = mxm(&enu, &gcrs_to_itrs);

        // Observer on the ellipsoid, then into GCRS with its rotation velocity.
        let f = 1.0 / WGS84_INV_F;
        let e2 = f * (2.0 - f);
        let nrad = WGS84_A_KM / (1.0 - e2 * sl * sl).sqrt();
        let itrs = [
            nrad * cl * co / AU_KM,
            nrad * cl * so / AU_KM,
            nrad * (1.0 - e2) * sl / AU_KM,
        ];
        let tod = mxv(&transpose(&r3), &itrs);
        let w = ANGVEL * 86_400.0;
        let tod_vel = [-w * tod[1], w * tod[0], 0.0];
        let mt = transpose(&m);
        let obs_gcrs = mxv(&mt, &tod);
        let obs_gcrs_vel = mxv(&mt, &tod_vel);

        let earth = eph.earth_au(jd_tdb);
        let earth_vel = eph.earth_velocity_au_per_day(jd_tdb);
        let obs_pos = add(&earth, &obs_gcrs);
        let obs_vel = add(&earth_vel, &obs_gcrs_vel);
        let sun = eph.body_au(Body::Sun, jd_tdb);
        Self {
            observer,
            jd_tdb,
            gcrs_to_enu,
            obs_pos,
            obs_vel,
            sun,
        }
    }

    /// The observer this sky was computed for.
    pub fn observer(&self) -> Observer {
        self.observer
    }

    /// Apparent horizontal position of a catalogue star.
    pub fn star(&self, s: &Star) -> Horizontal {
        to_horizontal(&self.star_enu(s))
    }

    /// Apparent direction of a catalogue star as a unit vector (east, north, up).
    pub fn star_enu(&self, s: &Star) -> Vec3 {
        self.star_motion_enu(&StarMotion::of(s))
    }

    /// Apparent directions of every catalogue star, in catalogue order.
    pub fn all_stars_enu(&self) -> Vec<Vec3> {
        star_motions()
            .iter()
            .map(|m| self.star_motion_enu(m))
            .collect()
    }

    fn star_motion_enu(&self, m: &StarMotion) -> Vec3 {
        // The reference's light-time difference between the observer and the barycentre.
        let dt = dot(&m.dir, &self.obs_pos) / C_AU_PER_DAY;
        let span = self.jd_tdb + dt - HIPPARCOS_EPOCH;
        let p = std::array::from_fn(|i| m.pos[i] + m.vel[i] * span - self.obs_pos[i]);
        self.apparent_enu(p)
    }

    /// Apparent horizontal position of a fixed ICRS/J2000 direction (no proper motion).
    pub fn fixed(&self, ra_deg: f64, dec_deg: f64) -> Horizontal {
        to_horizontal(&self.fixed_enu(ra_deg, dec_deg))
    }

    /// Like [`Sky::fixed`], as a unit vector (east, north, up).
    pub fn fixed_enu(&self, ra_deg: f64, dec_deg: f64) -> Vec3 {
        let (sr, cr) = ra_deg.to_radians().sin_cos();
        let (sd, cd) = dec_deg.to_radians().sin_cos();
        let d = 1e9;
        self.apparent_enu([d * cd * cr, d * cd * sr, d * sd])
    }

    /// Apparent horizontal position of a solar-system body (topocentric, with parallax).
    pub fn body(&self, body: Body) -> Horizontal {
        to_horizontal(&self.body_enu(body))
    }

    /// Like [`Sky::body`], as a unit vector (east, north, up).
    pub fn body_enu(&self, body: Body) -> Vec3 {
        self.apparent_enu(self.astrometric(body))
    }

    /// Observer-relative astrometric position of a body (AU, GCRS axes), light time
    /// included.
    fn astrometric(&self, body: Body) -> Vec3 {
        let eph = ephemeris();
        let mut lt = 0.0;
        let mut p = [0.0; 3];
        for _ in 0..4 {
            let b = eph.body_au(body, self.jd_tdb - lt);
            p = sub(&b, &self.obs_pos);
            lt = norm(&p) / C_AU_PER_DAY;
        }
        p
    }

    /// The Moon's phase as seen from the observer: its true illuminated fraction from
    /// the Sun–Moon–observer angle (with the real distances, not the elongation), and
    /// whether it is waxing.
    pub fn moon_phase(&self) -> MoonPhase {
        let moon = self.astrometric(Body::Moon);
        let sun = self.astrometric(Body::Sun);
        let to_sun = sub(&sun, &moon);
        let to_obs = moon.map(|c| -c);
        let cos_i = (dot(&to_sun, &to_obs) / (norm(&to_sun) * norm(&to_obs))).clamp(-1.0, 1.0);
        // Ecliptic longitudes (mean obliquity of J2000 is plenty for east/west).
        let eps = 23.439_291_f64.to_radians();
        let lon = |v: &Vec3| (v[1] * eps.cos() + v[2] * eps.sin()).atan2(v[0]);
        let d = (lon(&moon) - lon(&sun)).rem_euclid(TAU);
        MoonPhase {
            illuminated: (1.0 + cos_i) / 2.0,
            phase_angle_deg: cos_i.acos().to_degrees(),
            waxing: d < std::f64::consts::PI,
        }
    }

    /// Deflection and aberration of an observer-relative astrometric vector (AU),
    /// then rotation into the horizon frame.
    fn apparent_enu(&self, p: Vec3) -> Vec3 {
        let pe = sub(&self.obs_pos, &self.sun);
        let p = add(&p, &deflection(&p, &pe));
        let p = aberration(&p, &self.obs_vel);
        unit(&mxv(&self.gcrs_to_enu, &p))
    }
}

/// A star's barycentric position (AU) at the catalogue epoch and its space velocity
/// (AU/day), as the reference builds them (radial velocity 0; parallax ≤ 0 treated as
/// 1e-6 mas, i.e. very far away).
struct StarMotion {
    pos: Vec3,
    dir: Vec3,
    vel: Vec3,
}

impl StarMotion {
    fn of(s: &Star) -> Self {
        let plx = if s.parallax_mas > 0.0 {
            f64::from(s.parallax_mas)
        } else {
            1e-6
        };
        let dist = 1.0 / (plx * 1e-3 * ASEC2RAD).sin();
        let (sr, cr) = s.ra.sin_cos();
        let (sd, cd) = s.dec.sin_cos();
        let dir = [cd * cr, cd * sr, sd];
        let pmr = f64::from(s.pm_ra_mas) / (plx * 365.25);
        let pmd = f64::from(s.pm_dec_mas) / (plx * 365.25);
        let vel = [
            -pmr * sr - pmd * sd * cr,
            pmr * cr - pmd * sd * sr,
            pmd * cd,
        ];
        Self {
            pos: dir.map(|c| c * dist),
            dir,
            vel,
        }
    }
}

fn star_motions() -> &'static [StarMotion] {
    static M: OnceLock<Vec<StarMotion>> = OnceLock::new();
    M.get_or_init(|| crate::catalog::stars().iter().map(StarMotion::of).collect())
}

/// Altitude and azimuth of a unit vector (east, north, up).
pub(crate) fn to_horizontal(v: &Vec3) -> Horizontal {
    let alt = v[2].clamp(-1.0, 1.0).asin().to_degrees();
    let az = v[0].atan2(v[1]).to_degrees().rem_euclid(360.0);
    Horizontal {
        alt_deg: alt,
        az_deg: if az >= 360.0 { 0.0 } else { az },
    }
}

fn deflection(p: &Vec3, pe: &Vec3) -> Vec3 {
    let pq = add(p, pe);
    let pmag = norm(p);
    let (phat, qhat, ehat) = (unit(p), unit(&pq), unit(pe));
    let pdotq = dot(&phat, &qhat);
    let qdote = dot(&qhat, &ehat);
    let edotp = dot(&ehat, &phat);
    // A target in line with the Sun (the Sun itself) is not deflected.
    if edotp.abs() > 0.999_999_999_99 {
        return [0.0; 3];
    }
    let fac1 = 2.0 * GS / (C_M_S * C_M_S * norm(pe) * AU_M);
    let fac2 = 1.0 + qdote;
    std::array::from_fn(|i| fac1 * (pdotq * ehat[i] - edotp * qhat[i]) / fac2 * pmag)
}

fn aberration(p: &Vec3, v: &Vec3) -> Vec3 {
    let light_time = norm(p) / C_AU_PER_DAY;
    let p1mag = light_time * C_AU_PER_DAY;
    let vemag = norm(v);
    let beta = vemag / C_AU_PER_DAY;
    let cosd = dot(p, v) / (p1mag * vemag + 1e-300);
    let gammai = (1.0 - beta * beta).sqrt();
    let pp = beta * cosd;
    let q = (1.0 + pp / (1.0 + gammai)) * light_time;
    let r = 1.0 + pp;
    std::array::from_fn(|i| (p[i] * gammai + q * v[i]) / r)
}

/// Earth rotation angle in turns (IAU 2000), split to keep the fraction precise.
fn earth_rotation_angle(jd_ut1: f64) -> f64 {
    let th = 0.779_057_273_264_0 + 0.002_737_811_911_354_48 * (jd_ut1 - T0);
    (th.rem_euclid(1.0) + jd_ut1.rem_euclid(1.0)).rem_euclid(1.0)
}

fn gmst_precession_arcsec(t: f64) -> f64 {
    0.014_506
        + ((((-0.000_000_036_8 * t - 0.000_029_956) * t - 0.000_000_44) * t + 1.391_581_7) * t
            + 4_612.156_534)
            * t
}

/// The two largest complementary terms of the equation of the equinoxes (the rest are
/// below 0.01 mas).
fn equation_of_equinoxes_complementary(t: f64) -> f64 {
    let om = (450_160.398_036 - 6_962_890.543_1 * t).rem_euclid(1_296_000.0) * ASEC2RAD;
    (2_640.96e-6 * om.sin() + 63.52e-6 * (2.0 * om).sin()) * ASEC2RAD
}

fn mean_obliquity_arcsec(t: f64) -> f64 {
    ((((-0.000_000_043_4 * t - 0.000_000_576) * t + 0.002_003_40) * t - 0.000_183_1) * t
        - 46.836_769)
        * t
        + 84_381.406
}

fn precession_matrix(t: f64) -> Mat3 {
    let eps0 = 84_381.406 * ASEC2RAD;
    let psia = ((((-0.000_000_095_1 * t + 0.000_132_851) * t - 0.001_140_45) * t - 1.079_006_9)
        * t
        + 5_038.481_507)
        * t
        * ASEC2RAD;
    let omegaa = (((((0.000_000_333_7 * t - 0.000_000_467) * t - 0.007_725_03) * t + 0.051_262_3)
        * t
        - 0.025_754)
        * t
        + 84_381.406)
        * ASEC2RAD;
    let chia = ((((-0.000_000_056_0 * t + 0.000_170_663) * t - 0.001_211_97) * t - 2.381_429_2)
        * t
        + 10.556_403)
        * t
        * ASEC2RAD;
    let (sa, ca) = eps0.sin_cos();
    let (sb, cb) = (-psia).sin_cos();
    let (sc, cc) = (-omegaa).sin_cos();
    let (sd, cd) = chia.sin_cos();
    [
        [
            cd * cb - sb * sd * cc,
            cd * sb * ca + sd * cc * cb * ca - sa * sd * sc,
            cd * sb * sa + sd * cc * cb * sa + ca * sd * sc,
        ],
        [
            -sd * cb - sb * cd * cc,
            -sd * sb * ca + cd * cc * cb * ca - sa * cd * sc,
            -sd * sb * sa + cd * cc * cb * sa + ca * cd * sc,
        ],
        [sb * sc, -sc * cb * ca - sa * cc, -sc * cb * sa + cc * ca],
    ]
}

fn frame_bias() -> Mat3 {
    let xi0 = -0.016_617_0 * ASEC2RAD;
    let eta0 = -0.006_819_2 * ASEC2RAD;
    let da0 = -0.014_60 * ASEC2RAD;
    let (yx, zx, xy, zy, xz, yz) = (-da0, xi0, da0, eta0, -xi0, -eta0);
    let xx = 1.0 - 0.5 * (yx * yx + zx * zx);
    let yy = 1.0 - 0.5 * (yx * yx + zy * zy);
    let zz = 1.0 - 0.5 * (zy * zy + zx * zx);
    [[xx, xy, xz], [yx, yy, yz], [zx, zy, zz]]
}

fn nutation_matrix(mean_obl: f64, true_obl: f64, psi: f64) -> Mat3 {
    let (sobm, cobm) = mean_obl.sin_cos();
    let (sobt, cobt) = true_obl.sin_cos();
    let (spsi, cpsi) = psi.sin_cos();
    [
        [cpsi, -spsi * cobm, -spsi * sobm],
        [
            spsi * cobt,
            cpsi * cobm * cobt + sobm * sobt,
            cpsi * sobm * cobt - cobm * sobt,
        ],
        [
            spsi * sobt,
            cpsi * cobm * sobt - sobm * cobt,
            cpsi * sobm * sobt + cobm * cobt,
        ],
    ]
}

struct NutationSeries {
    /// Polynomial coefficients (arcsec, t⁰..t⁴) of the five Delaunay arguments.
    fundamental: [[f64; 5]; 5],
    /// Multipliers of the arguments, then Δψ (sin, t·sin, cos) and Δε (cos, t·cos, sin)
    /// in units of 0.1 µas.
    terms: Vec<([i8; 5], [f64; 6])>,
}

fn nutation_series() -> &'static NutationSeries {
    static N: OnceLock<NutationSeries> = OnceLock::new();
    N.get_or_init(|| {
        let mut r = Reader::new(NUTATION_BIN, b"CNUT");
        let fundamental = std::array::from_fn(|_| std::array::from_fn(|_| r.f64()));
        let n = r.u32() as usize;
        let terms = (0..n)
            .map(|_| {
                (
                    std::array::from_fn(|_| r.i8()),
                    std::array::from_fn(|_| r.f64()),
                )
            })
            .collect();
        NutationSeries { fundamental, terms }
    })
}

/// IAU 2000A luni-solar nutation (Δψ, Δε) in radians.
fn nutation(t: f64) -> (f64, f64) {
    let s = nutation_series();
    let a: [f64; 5] = std::array::from_fn(|j| {
        let c = &s.fundamental[j];
        let v = (((c[4] * t + c[3]) * t + c[2]) * t + c[1]) * t + c[0];
        v.rem_euclid(1_296_000.0) * ASEC2RAD
    });
    let (mut dpsi, mut deps) = (0.0, 0.0);
    for (m, c) in &s.terms {
        let arg: f64 = m.iter().zip(&a).map(|(k, x)| f64::from(*k) * x).sum();
        let (sa, ca) = arg.sin_cos();
        dpsi += (c[0] + c[1] * t) * sa + c[2] * ca;
        deps += (c[3] + c[4] * t) * ca + c[5] * sa;
    }
    let k = 1e-7 * ASEC2RAD;
    (dpsi * k, deps * k)
}

fn rot_z(a: f64) -> Mat3 {
    let (s, c) = a.sin_cos();
    [[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]]
}

fn mxm(a: &Mat3, b: &Mat3) -> Mat3 {
    std::array::from_fn(|i| std::array::from_fn(|j| (0..3).map(|k| a[i][k] * b[k][j]).sum()))
}

fn mxv(a: &Mat3, v: &Vec3) -> Vec3 {
    std::array::from_fn(|i| a[i][0] * v[0] + a[i][1] * v[1] + a[i][2] * v[2])
}

fn transpose(a: &Mat3) -> Mat3 {
    std::array::from_fn(|i| std::array::from_fn(|j| a[j][i]))
}

fn add(a: &Vec3, b: &Vec3) -> Vec3 {
    std::array::from_fn(|i| a[i] + b[i])
}

fn sub(a: &Vec3, b: &Vec3) -> Vec3 {
    std::array::from_fn(|i| a[i] - b[i])
}

fn dot(a: &Vec3, b: &Vec3) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn norm(a: &Vec3) -> f64 {
    dot(a, a).sqrt()
}

fn unit(a: &Vec3) -> Vec3 {
    let n = norm(a);
    if n == 0.0 {
        *a
    } else {
        a.map(|x| x / n)
    }
}

/// Angular separation in degrees between two horizontal directions.
pub fn separation_deg(a: &Horizontal, b: &Horizontal) -> f64 {
    let (sa, ca) = a.alt_deg.to_radians().sin_cos();
    let (sb, cb) = b.alt_deg.to_radians().sin_cos();
    let daz = (a.az_deg - b.az_deg).to_radians();
    let c = sa * sb + ca * cb * daz.cos();
    let s = ((cb * daz.sin()).powi(2) + (ca * sb - sa * cb * daz.cos()).powi(2)).sqrt();
    s.atan2(c).to_degrees()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phase_at(at: &str) -> MoonPhase {
        let t = TimeScales::from_timestamp(at.parse().unwrap()).unwrap();
        Sky::new(
            Observer {
                lat_deg: 40.4,
                lon_deg: -3.7,
            },
            t,
        )
        .moon_phase()
    }

    #[test]
    fn the_moon_s_phase_follows_the_almanac() {
        // New Moon 2024-08-04 11:13 UTC, first quarter 08-12 15:19, full 08-19 18:26,
        // last quarter 08-26 09:26 (geocentric instants; seen from Madrid the
        // fraction differs by well under one percent).
        let new = phase_at("2024-08-04T11:13:00Z");
        assert!(new.illuminated < 0.01, "{new:?}");
        assert_eq!(new.name_index(), 0);
        let fq = phase_at("2024-08-12T15:19:00Z");
        assert!((fq.illuminated - 0.5).abs() < 0.015 && fq.waxing, "{fq:?}");
        assert_eq!(fq.name_index(), 2);
        let full = phase_at("2024-08-19T18:26:00Z");
        assert!(full.illuminated > 0.99, "{full:?}");
        assert_eq!(full.name_index(), 4);
        let lq = phase_at("2024-08-26T09:26:00Z");
        assert!((lq.illuminated - 0.5).abs() < 0.015 && !lq.waxing, "{lq:?}");
        assert_eq!(lq.name_index(), 6);
        let crescent = phase_at("2024-08-07T20:00:00Z");
        assert!(
            crescent.waxing && crescent.illuminated < 0.3,
            "{crescent:?}"
        );
        assert_eq!(crescent.name_index(), 1);
        let gibbous = phase_at("2024-08-22T22:00:00Z");
        assert!(!gibbous.waxing && gibbous.illuminated > 0.7, "{gibbous:?}");
        assert_eq!(gibbous.name_index(), 5);
    }
}
