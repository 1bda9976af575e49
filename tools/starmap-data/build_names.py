"""Build crates/cielo-starmap/data/constellation-names.json: the name of each
constellation in the poster's languages.

Sources:
* en, es, fr, de, it: `d3-celestial` (npm, BSD-3-Clause, Olaf Frohn), data/constellations.json
  (the same package the figures come from; `en` is its Latin name, as posters print it);
* pt: constellation-names-pt.tsv beside this script (the project's own list).

    npm pack d3-celestial && tar xzf d3-celestial-*.tgz
    python3 tools/starmap-data/build_names.py --d3 package/data
"""
import argparse
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.normpath(os.path.join(HERE, "..", "..", "crates", "cielo-starmap", "data", "constellation-names.json"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--d3", required=True, help="d3-celestial's data folder")
    args = ap.parse_args()
    d3 = json.load(open(os.path.join(args.d3, "constellations.json"), encoding="utf-8"))
    pt = {}
    for line in open(os.path.join(HERE, "constellation-names-pt.tsv"), encoding="utf-8"):
        if line.startswith("#") or not line.strip():
            continue
        k, v = line.rstrip("\n").split("\t")
        pt[k] = v
    names = {}
    for f in d3["features"]:
        p = f["properties"]
        cid = f["id"]
        entry = {"en": p["name"]}
        for lang in ("es", "fr", "de", "it"):
            # The source separates words with U+2005; a plain space reads the same.
            entry[lang] = p[lang].replace("\u2005", " ")
        entry["pt"] = pt[cid]
        names[cid] = entry
    assert len(names) == 88, len(names)
    with open(OUT, "w", encoding="utf-8") as out:
        json.dump(names, out, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        out.write("\n")


if __name__ == "__main__":
    main()
