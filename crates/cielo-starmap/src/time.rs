//! Time scales: civil UTC in, UT1 (Earth rotation) and TT (ephemerides) out.
//!
//! The convention follows the reference computation (Skyfield): from 1972-01-01 to
//! 2025-12-31 the instant is real UTC, so TT = UTC + (TAI−UTC) + 32.184 s and
//! UT1 = TT − ΔT with the measured ΔT; outside that span the instant is taken as UT1
//! and TT = UT1 + ΔT from Skyfield's long-term model. Both tables are tabulated by
//! `tools/starmap-data/build_data.py` into `data/deltat.bin`.

use std::sync::OnceLock;

use crate::Error;

const DELTAT_BIN: &[u8] = include_bytes!("../data/deltat.bin");

/// Julian date of the Unix epoch.
const JD_UNIX_EPOCH: f64 = 2_440_587.5;
/// 1972-01-01T00:00:00Z, where UTC with leap seconds starts.
const JD_UTC_START: f64 = 2_441_317.5;
/// 2026-01-01T00:00:00Z: after this the reference has no measured UT1 and takes UT1 = UTC.
const JD_UTC_END: f64 = 2_461_041.5;
/// Supported instants: from 1799-12-31T00:00Z up to (excluding) 2201-01-02T00:00Z, so
/// that every local date from 1800-01-01 to 2200-12-31 is covered in any zone (local
/// mean times reached ±16 h before standard time; the ephemeris runs 1799-11..2201-03).
/// The documented 1800–2200 range is checked on the local date, see
/// [`crate::options::StarmapOptions::validate`].
pub(crate) const JD_MIN: f64 = 2_378_495.5;
pub(crate) const JD_END: f64 = 2_524_959.5;

/// An instant expressed in the two time scales the astronomy needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeScales {
    /// UT1 as a Julian date (drives Earth rotation).
    pub jd_ut1: f64,
    /// Terrestrial Time as a Julian date (drives the ephemerides; TDB differs by < 2 ms).
    pub jd_tt: f64,
}

impl TimeScales {
    /// Time scales for a civil UTC instant given as Unix seconds.
    pub fn from_unix_seconds(unix: f64) -> Result<Self, Error> {
        let jd = JD_UNIX_EPOCH + unix / 86_400.0;
        if !(JD_MIN..JD_END).contains(&jd) {
            return Err(Error::DateOutOfRange);
        }
        let tables = tables();
        if (JD_UTC_START..JD_UTC_END).contains(&jd) {
            let tai_utc = tables.tai_minus_utc(jd);
            let jd_tt = jd + (tai_utc + 32.184) / 86_400.0;
            let jd_ut1 = jd_tt - tables.delta_t(jd_tt) / 86_400.0;
            Ok(Self { jd_ut1, jd_tt })
        } else {
            // ΔT is tabulated against TT; one fixed-point step is exact to microseconds.
            let guess = jd + tables.delta_t(jd) / 86_400.0;
            Ok(Self {
                jd_ut1: jd,
                jd_tt: jd + tables.delta_t(guess) / 86_400.0,
            })
        }
    }

    /// Time scales for a `jiff` timestamp.
    pub fn from_timestamp(ts: jiff::Timestamp) -> Result<Self, Error> {
        let unix = ts.as_second() as f64 + f64::from(ts.subsec_nanosecond()) * 1e-9;
        Self::from_unix_seconds(unix)
    }

    /// ΔT = TT − UT1 in seconds.
    pub fn delta_t_seconds(&self) -> f64 {
        (self.jd_tt - self.jd_ut1) * 86_400.0
    }
}

struct Tables {
    start: f64,
    step: f64,
    delta_t: Vec<f32>,
    /// (UTC Julian date from which it applies, TAI−UTC seconds), ascending.
    leaps: Vec<(f64, f64)>,
}

impl Tables {
    fn delta_t(&self, jd_tt: f64) -> f64 {
        let x = ((jd_tt - self.start) / self.step).clamp(0.0, (self.delta_t.len() - 2) as f64);
        let i = x.floor() as usize;
        let f = x - i as f64;
        f64::from(self.delta_t[i]) * (1.0 - f) + f64::from(self.delta_t[i + 1]) * f
    }

    fn tai_minus_utc(&self, jd_utc: f64) -> f64 {
        self.leaps
            .iter()
            .rev()
            .find(|(d, _)| jd_utc >= *d)
            .map_or(10.0, |(_, o)| *o)
    }
}

fn tables() -> &'static Tables {
    static T: OnceLock<Tables> = OnceLock::new();
    T.get_or_init(|| {
        let mut r = crate::data::Reader::new(DELTAT_BIN, b"CDLT");
        let start = r.f64();
        let step = f64::from(r.u32());
        let n = r.u32() as usize;
        let delta_t = (0..n).map(|_| r.f32()).collect();
        let nl = r.u32() as usize;
        let leaps = (0..nl).map(|_| (r.f64(), r.f64())).collect();
        Tables {
            start,
            step,
            delta_t,
            leaps,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> TimeScales {
        TimeScales::from_timestamp(s.parse().unwrap()).unwrap()
    }

    #[test]
    fn utc_era_uses_leap_seconds_and_measured_ut1() {
        // 2017: TAI−UTC = 37 s, UT1−UTC ≈ +0.4 s, so ΔT ≈ 68.8 s.
        let t = at("2017-06-01T00:00:00Z");
        let ut1_minus_utc = (t.jd_ut1 - 2_457_905.5) * 86_400.0;
        assert!((ut1_minus_utc - 0.39).abs() < 0.1, "{ut1_minus_utc}");
        assert!((t.delta_t_seconds() - 68.8).abs() < 0.2);
    }

    #[test]
    fn outside_utc_era_the_instant_is_ut1() {
        let t = at("1902-02-22T10:20:30Z");
        assert!(
            (t.delta_t_seconds() - 0.823).abs() < 0.01,
            "{}",
            t.delta_t_seconds()
        );
        let t = at("2100-12-31T00:00:00Z");
        assert!(
            (t.delta_t_seconds() - 97.0).abs() < 1.5,
            "{}",
            t.delta_t_seconds()
        );
    }

    #[test]
    fn instants_a_day_outside_1800_to_2200_are_refused() {
        // Local dates of 1800-01-01 and 2200-12-31 fall on these UTC days somewhere.
        assert!(TimeScales::from_timestamp("1799-12-30T23:59:59Z".parse().unwrap()).is_err());
        assert!(TimeScales::from_timestamp("1799-12-31T00:00:00Z".parse().unwrap()).is_ok());
        assert!(TimeScales::from_timestamp("2201-01-02T00:00:00Z".parse().unwrap()).is_err());
        assert!(TimeScales::from_timestamp("2201-01-01T23:59:59Z".parse().unwrap()).is_ok());
    }
}
