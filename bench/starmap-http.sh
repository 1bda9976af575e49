#!/usr/bin/env bash
# Star-map preview over HTTP: GET /api/store/starmap/preview against a release
# `cielo serve` on loopback, one keep-alive connection, requests one after another.
#
#   bash bench/starmap-http.sh                 # 20 warm-up + 200 measured requests per size
#   REQUESTS=500 WARMUP=50 bash bench/starmap-http.sh
#
# Each request asks for a different minute of the same night over Madrid (so no
# two skies are the same), theme classic-dark, size 24x36in, with a title and a
# message, at two image sizes: px=1200 (800x1200, the default) and px=1800
# (1200x1800, as the in-process figure). Times are curl's time_total per request
# (request sent to last byte received). The last line printed is one JSON object.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REQUESTS="${REQUESTS:-200}"
WARMUP="${WARMUP:-20}"
PORT="${PORT:-18089}"
WORK="$(mktemp -d)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

echo "# building (release)" >&2
cargo build --release -q -p cielo >&2
BIN="${CIELO_BIN:-$CARGO_TARGET_DIR/release/cielo}"

# 200 previews from one address: the per-IP preview limit would measure the limiter.
CIELO_LIMITS_PREVIEWS_PER_MINUTE=0 CIELO_LOG=warn "$BIN" --data-dir "$WORK/data" serve --no-demo --bind "127.0.0.1:$PORT" >"$WORK/serve.log" 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null || { cat "$WORK/serve.log" >&2; exit 1; }
echo "# $(nproc) cores, loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

B="http://127.0.0.1:$PORT/api/store/starmap/preview"
Q="lat=40.4168&lon=-3.7038&tz=Europe/Madrid&date=2024-08-13&theme=classic-dark&size=24x36in&title=Nuestra%20noche&message=Madrid%2C%2013%20de%20agosto"

# One curl process, many URLs: a single keep-alive connection, one line per request.
urls() { # count px
  for i in $(seq 0 $(($1 - 1))); do
    printf '%s?%s&time=%02d:%02d&px=%s\n' "$B" "$Q" $(( (i / 60) % 24 )) $(( i % 60 )) "$2"
  done
}
run() { # count px -> ms per line
  urls "$1" "$2" | sed 's/^/url = "/; s/$/"/; s/^/-o \/dev\/null\n/' > "$WORK/curl.cfg"
  curl -s -K "$WORK/curl.cfg" -w '%{http_code} %{time_total} %{size_download}\n'
}
pct() { # p -> percentile (nearest rank) of stdin
  sort -n | awk -v p="$1" '{a[NR]=$1} END {r = int((p / 100) * NR + 0.999999); if (r < 1) r = 1; print a[r]}'
}

result=""
for px in 1200 1800; do
  run "$WARMUP" "$px" >/dev/null
  run "$REQUESTS" "$px" > "$WORK/times.txt"
  bad=$(awk '$1 != 200' "$WORK/times.txt" | wc -l)
  [ "$bad" -eq 0 ] || { echo "# $bad requests failed" >&2; head -3 "$WORK/times.txt" >&2; exit 1; }
  awk '{printf "%.2f\n", $2 * 1000}' "$WORK/times.txt" > "$WORK/ms.txt"
  p50=$(pct 50 < "$WORK/ms.txt"); p90=$(pct 90 < "$WORK/ms.txt"); p99=$(pct 99 < "$WORK/ms.txt")
  max=$(sort -n "$WORK/ms.txt" | tail -1)
  bytes=$(awk '{s += $3} END {printf "%.0f", s / NR}' "$WORK/times.txt")
  echo "# px=$px: $REQUESTS requests, p50 ${p50} ms, p90 ${p90} ms, p99 ${p99} ms, max ${max} ms, mean PNG ${bytes} bytes" >&2
  result="$result\"px$px\":{\"p50_ms\":$p50,\"p90_ms\":$p90,\"p99_ms\":$p99,\"max_ms\":$max,\"png_bytes\":$bytes},"
done
echo "{${result}\"requests\":$REQUESTS,\"warmup\":$WARMUP,\"cores\":$(nproc),\"loadavg_end\":$(cut -d' ' -f1 /proc/loadavg)}"
