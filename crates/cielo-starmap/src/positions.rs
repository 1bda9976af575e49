//! Positions of every catalogue star and the bodies, as `cielo starmap positions` prints them.

use crate::astro::{Observer, Sky};
use crate::catalog::stars;
use crate::ephemeris::Body;
use crate::time::TimeScales;
use crate::Error;

/// One star in the positions output.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct StarPosition {
    /// Hipparcos number.
    pub hip: u32,
    /// Hipparcos magnitude Hp.
    pub mag: f32,
    /// Apparent altitude, degrees (negative below the horizon).
    pub alt_deg: f64,
    /// Apparent azimuth from north through east, degrees.
    pub az_deg: f64,
}

/// One body in the positions output.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct BodyPosition {
    /// Lower-case name: sun, moon, mercury, venus, mars, jupiter, saturn.
    pub name: &'static str,
    /// Apparent topocentric altitude, degrees.
    pub alt_deg: f64,
    /// Apparent topocentric azimuth from north through east, degrees.
    pub az_deg: f64,
}

/// Everything the sky holds for one observer and instant.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Positions {
    /// Every catalogue star, brightest first, below the horizon too.
    pub stars: Vec<StarPosition>,
    /// Sun, Moon, Mercury, Venus, Mars, Jupiter, Saturn, in that order.
    pub bodies: Vec<BodyPosition>,
}

/// Check latitude and longitude ranges (degrees).
pub(crate) fn check_coordinates(lat: f64, lon: f64) -> Result<(), Error> {
    if !(-90.0..=90.0).contains(&lat) {
        return Err(Error::Latitude(lat));
    }
    if !(-180.0..=180.0).contains(&lon) {
        return Err(Error::Longitude(lon));
    }
    Ok(())
}

/// Apparent topocentric positions for an observer at `lat`, `lon` (degrees, WGS84,
/// east positive) at a civil UTC instant.
pub fn positions(lat: f64, lon: f64, at: jiff::Timestamp) -> Result<Positions, Error> {
    check_coordinates(lat, lon)?;
    let time = TimeScales::from_timestamp(at)?;
    let sky = Sky::new(
        Observer {
            lat_deg: lat,
            lon_deg: lon,
        },
        time,
    );
    let stars = stars()
        .iter()
        .zip(sky.all_stars_enu())
        .map(|(s, v)| {
            let h = crate::astro::to_horizontal(&v);
            StarPosition {
                hip: s.hip,
                mag: s.mag,
                alt_deg: h.alt_deg,
                az_deg: h.az_deg,
            }
        })
        .collect();
    let bodies = Body::ALL
        .iter()
        .map(|b| {
            let h = sky.body(*b);
            BodyPosition {
                name: b.name(),
                alt_deg: h.alt_deg,
                az_deg: h.az_deg,
            }
        })
        .collect();
    Ok(Positions { stars, bodies })
}
