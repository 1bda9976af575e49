"""Build crates/cielo-starmap/data/milkyway.bin: the Milky Way as brightness samples.

Source: `mw.json` of `d3-celestial` (npm, BSD-3-Clause, Olaf Frohn): the Milky Way
in five brightness steps (outlines ol1..ol5, ol5 the brightest), after the Milky Way
Outline Catalog by Jose R. Vieira. The outlines are sampled on a near-equal-area grid
of about one degree: each sample keeps the number of steps that contain it (1..5).
Drawn as overlapping soft discs, the samples give the band its glow without any
polygon having to be clipped at the horizon.

    npm pack d3-celestial && tar xzf d3-celestial-*.tgz
    python3 tools/starmap-data/build_milkyway.py --d3 package/data

Format (little-endian): b"CMWY", u32 count, then per sample u16 ra (0.01 degree,
0..36000), i16 dec (0.01 degree), u8 level.
"""
import argparse
import bisect
import json
import math
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.normpath(os.path.join(HERE, "..", "..", "crates", "cielo-starmap", "data", "milkyway.bin"))
STEP = 1.0


def crossings(rings, lon):
    """Latitudes where the rings cross the meridian `lon` (degrees, -180..180)."""
    out = []
    for ring in rings:
        for (l1, p1), (l2, p2) in zip(ring, ring[1:] + ring[:1]):
            # Longitudes relative to the meridian, exact for a vertex on it.
            a = (l1 - lon + 540) % 360 - 180
            b = (l2 - lon + 540) % 360 - 180
            if abs(a - b) >= 180:
                continue  # the edge is on the other side of the sky
            # A crossing when the ends are on opposite sides, an end on the meridian
            # counting as east: a ring that only touches the meridian counts 0 or 2.
            if (a <= 0 < b) or (b <= 0 < a):
                out.append(p1 + (p2 - p1) * a / (a - b))
    out.sort()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--d3", required=True)
    args = ap.parse_args()
    mw = json.load(open(os.path.join(args.d3, "mw.json")))
    layers = []
    for f in sorted(mw["features"], key=lambda f: f["id"]):
        rings = [ring for poly in f["geometry"]["coordinates"] for ring in poly]
        layers.append(rings)
    samples = []
    n_ra = int(round(360 / STEP))
    for i in range(n_ra):
        lon = -180 + (i + 0.5) * STEP
        cross = [crossings(rings, lon) for rings in layers]
        dec = -90 + STEP / 2
        while dec < 90:
            # Near-equal area: fewer samples per row towards the poles.
            every = max(1, int(round(1 / max(math.cos(math.radians(dec)), 1e-3))))
            if i % every == 0:
                # Even-odd along the meridian to the north pole (outside every step).
                level = sum(1 for c in cross if (len(c) - bisect.bisect_right(c, dec)) % 2 == 1)
                if level:
                    ra = lon % 360
                    samples.append((int(round(ra * 100)) % 36000, int(round(dec * 100)), level))
            dec += STEP
    with open(OUT, "wb") as out:
        out.write(b"CMWY")
        out.write(struct.pack("<I", len(samples)))
        for ra, dec, level in samples:
            out.write(struct.pack("<HhB", ra, dec, level))
    print(len(samples), "samples", [sum(1 for s in samples if s[2] == k) for k in range(1, 6)])


if __name__ == "__main__":
    main()
