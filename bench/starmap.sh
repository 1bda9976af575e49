#!/usr/bin/env bash
# Star-map benchmark: our renderer against the reference Node.js renderer, same run.
#
#   bash bench/starmap.sh                 # 1 warm-up + 5 measured runs each
#   RUNS=9 bash bench/starmap.sh
#   SKIP_PEER=1 bash bench/starmap.sh     # only ours
#
# Measures, for the fixed case of the peer (Madrid, 40.4168 -3.7038, 2024-08-12T22:30:00Z),
# with the Milky Way, the Moon-phase panel and a custom font (script) on our side:
#   1. print: 24x36 in at 300 DPI PNG (7200x10800), process start to file written,
#      wall time and peak RSS (GNU time -v when present);
#   2. preview: 1200x1800 PNG rendered in-process (median of 21 after a warm-up);
#   3. the Node peer (shared/peers/starmap-node, run.sh) in the same run, for the ratio.
# The last line printed is one JSON object with the medians.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNS="${RUNS:-5}"
WARMUP="${WARMUP:-1}"
PEER_SRC="${STARMAP_PEER:-$ROOT/../shared/peers/starmap-node}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

echo "# building (release)" >&2
cargo build --release -q -p cielo-starmap --example starmap >&2
BIN="${STARMAP_BIN:-$CARGO_TARGET_DIR/release/examples/starmap}"

TIME_BIN=""
if [ -x /usr/bin/time ] && /usr/bin/time -v true >/dev/null 2>&1; then TIME_BIN=/usr/bin/time; fi
echo "# $(nproc) cores, loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

median() { sort -n | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

CASE=(--lat 40.4168 --lon -3.7038 --at 2024-08-12T22:30:00Z --tz Europe/Madrid --place "Madrid, España"
  --title "Nuestra noche" --layout moon-panel --font script --size 24x36in --dpi 300)
walls=(); rsss=(); cpus=()
for i in $(seq 1 $((WARMUP + RUNS))); do
  tfile="$WORK/time.txt"
  t0=$(date +%s%N)
  if [ -n "$TIME_BIN" ]; then
    "$TIME_BIN" -v -o "$tfile" "$BIN" render "${CASE[@]}" --out "$WORK/print.png" 2>/dev/null
  else
    "$BIN" render "${CASE[@]}" --out "$WORK/print.png" 2>/dev/null
  fi
  t1=$(date +%s%N)
  wall=$(( (t1 - t0) / 1000000 ))
  rss=""; cpu=""
  if [ -n "$TIME_BIN" ]; then
    rss=$(awk -F': *' '/Maximum resident set size/ {printf "%.1f", $2/1024}' "$tfile")
    cpu=$(awk -F': *' '/User time|System time/ {s += $2} END {printf "%.0f", s * 1000}' "$tfile")
  fi
  if [ "$i" -gt "$WARMUP" ]; then walls+=("$wall"); rsss+=("${rss:-0}"); cpus+=("${cpu:-0}"); fi
  echo "# print run $i: ${wall} ms wall, ${cpu:-?} ms CPU, peak RSS ${rss:-?} MB" >&2
done
PRINT_MS=$(printf '%s\n' "${walls[@]}" | median)
PRINT_RSS=$(printf '%s\n' "${rsss[@]}" | median)
PRINT_CPU=$(printf '%s\n' "${cpus[@]}" | median)
PRINT_BYTES=$(stat -c %s "$WORK/print.png")
echo "# print 7200x10800: median ${PRINT_MS} ms wall, ${PRINT_CPU} ms CPU, peak RSS ${PRINT_RSS} MB, $PRINT_BYTES bytes" >&2

PREVIEW_JSON=$("$BIN" preview-bench --runs 21)
PREVIEW_MS=$(echo "$PREVIEW_JSON" | sed -E 's/.*"median_ms":([0-9.]+).*/\1/')
echo "# preview 1200x1800 in-process: $PREVIEW_JSON" >&2

PEER_PRINT_MS=null; PEER_PREVIEW_MS=null; PEER_RSS=null; RATIO=null
if [ -z "${SKIP_PEER:-}" ] && [ -d "$PEER_SRC" ] && command -v node >/dev/null; then
  # The peer folder is read-only here: run a copy (node_modules cached between runs).
  PEER="${PEER_WORK:-$CARGO_TARGET_DIR/starmap-peer}"
  mkdir -p "$PEER"
  cp "$PEER_SRC"/{package.json,package-lock.json,render.mjs,resize.mjs,run.sh} "$PEER"/
  echo "# running the Node peer" >&2
  PEER_JSON=$(cd "$PEER" && RUNS="$RUNS" WARMUP="$WARMUP" bash run.sh 2>/dev/null | tail -1)
  echo "# peer: $PEER_JSON" >&2
  field() { echo "$PEER_JSON" | sed -E "s/.*\"$1\":([0-9.]+).*/\1/"; }
  PEER_PRINT_MS=$(field print_wall_ms); PEER_PREVIEW_MS=$(field preview_total_ms); PEER_RSS=$(field print_peak_rss_mb)
  RATIO=$(awk -v a="$PEER_PRINT_MS" -v b="$PRINT_MS" 'BEGIN {printf "%.1f", a / b}')
  echo "# print speed-up over the peer: ${RATIO}x" >&2
fi

echo "{\"print_wall_ms\":$PRINT_MS,\"print_cpu_ms\":$PRINT_CPU,\"print_peak_rss_mb\":$PRINT_RSS,\"print_png_bytes\":$PRINT_BYTES,\"preview_in_process_ms\":$PREVIEW_MS,\"peer_print_wall_ms\":$PEER_PRINT_MS,\"peer_print_peak_rss_mb\":$PEER_RSS,\"peer_preview_total_ms\":$PEER_PREVIEW_MS,\"print_speedup\":$RATIO,\"runs\":$RUNS,\"cores\":$(nproc),\"loadavg_end\":$(cut -d' ' -f1 /proc/loadavg)}"
