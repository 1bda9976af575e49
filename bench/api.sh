#!/usr/bin/env bash
# The storefront API under load: product listing and product detail with wrk
# (32 connections, 2 threads, 30 s after a 10 s warm-up), the server's peak
# RSS, and creating a cart + adding a line 200 times in sequence.
# The shop holds the demo catalog plus 1,000 generated products.
#
# The ceiling, in the same sitting: a bare axum program (crates/cielo/examples/
# bare_listing.rs) serving the very same listing body from memory is measured
# before and after Cielo's listing, and the listing's throughput and p99 are
# quoted against the mean of those two runs (the machine's load drifts).
#
# usage: bench/api.sh [sqlite|postgres|both]     (default both)
# env:   PG_URL=postgres://user@host:port/db   use this server (a database is created on it);
#        otherwise a throwaway PostgreSQL cluster is started from the installed binaries.
#        DURATION=30s WARMUP=10s CONNECTIONS=32 THREADS=2 PRODUCTS=1000
set -euo pipefail
cd "$(dirname "$0")/.."
ENGINES=${1:-both}
DURATION=${DURATION:-30s}
WARMUP=${WARMUP:-10s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
PRODUCTS=${PRODUCTS:-1000}
PORT=${PORT:-18090}
B="http://127.0.0.1:$PORT"

command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
echo "building release binary..." >&2
[ -n "${SKIP_BUILD:-}" ] || cargo build --release -p cielo -q
[ -n "${SKIP_BUILD:-}" ] || cargo build --release -p cielo --example bare_listing -q
BIN="${CARGO_TARGET_DIR:-target}/release/cielo"
BARE="${CARGO_TARGET_DIR:-target}/release/examples/bare_listing"
BARE_PORT=$((PORT + 1))
BARE_PID=""
WORK=$(mktemp -d)
SERVER_PID=""
source bench/lib.sh
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  [ -n "$BARE_PID" ] && kill "$BARE_PID" 2>/dev/null || true
  bench_postgres_stop
  rm -rf "$WORK"
}
trap cleanup EXIT

to_ms() { # wrk prints 850.00us, 1.23ms or 1.02s
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000; printf "%.2f", n }'
}

load() { # name url
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" "$2" >/dev/null
  local out; out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$2")
  local rps p50 p99 errors
  rps=$(echo "$out" | awk '/Requests\/sec/ { print $2 }')
  p50=$(to_ms "$(echo "$out" | awk '$1 == "50%" { print $2 }')")
  p99=$(to_ms "$(echo "$out" | awk '$1 == "99%" { print $2 }')")
  errors=$(echo "$out" | awk '/Non-2xx/ { print $NF }')
  printf '%-8s %-9s %10s req/s   p50 %6s ms   p99 %6s ms   non-2xx %s\n' "$ENGINE" "$1" "$rps" "$p50" "$p99" "${errors:-0}"
  LAST_RPS=$rps LAST_P99=$p99
}

bare() { # body-file: one measured run of the bare program on that body
  "$BARE" "$1" "127.0.0.1:$BARE_PORT" &
  BARE_PID=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$BARE_PORT/api/store/products" >/dev/null && break; sleep 0.1; done
  cmp -s <(curl -s "http://127.0.0.1:$BARE_PORT/api/store/products?limit=20") "$1" || { echo "bare program serves another body" >&2; exit 1; }
  load bare "http://127.0.0.1:$BARE_PORT/api/store/products?limit=20"
  kill "$BARE_PID"; wait "$BARE_PID" 2>/dev/null || true; BARE_PID=""
}

run_engine() { # name database-url
  ENGINE=$1
  local dir="$WORK/$1"
  mkdir -p "$dir"
  export CIELO_DATABASE_URL="$2" CIELO_LOG=warn
  echo "shop keeper passphrase" | "$BIN" --data-dir "$dir" admin create --email bench@cielo.test --password-stdin >/dev/null
  "$BIN" --data-dir "$dir" serve --bind "127.0.0.1:$PORT" >"$dir/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 100); do curl -sf "$B/readyz" >/dev/null && break; sleep 0.1; done
  echo "[$ENGINE] seeding $PRODUCTS products..." >&2
  python3 bench/seed_products.py "$B" bench@cielo.test "shop keeper passphrase" "$PRODUCTS"
  local handle; handle=$(printf 'generated-print-%04d' $((PRODUCTS / 2)))
  local idle; idle=$(awk '/VmRSS/ { print $2 }' "/proc/$SERVER_PID/status")
  curl -s "$B/api/store/products?limit=20" >"$dir/listing.json"
  echo "[$ENGINE] listing body: $(wc -c <"$dir/listing.json") bytes; load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  bare "$dir/listing.json"; local b1_rps=$LAST_RPS b1_p99=$LAST_P99
  load list "$B/api/store/products?limit=20"; local l_rps=$LAST_RPS l_p99=$LAST_P99
  bare "$dir/listing.json"; local b2_rps=$LAST_RPS b2_p99=$LAST_P99
  awk -v e="$ENGINE" -v l="$l_rps" -v lp="$l_p99" -v a="$b1_rps" -v b="$b2_rps" -v ap="$b1_p99" -v bp="$b2_p99" 'BEGIN {
    r = (a + b) / 2; p = (ap + bp) / 2
    printf "%-8s list/bare throughput %.1f %% (bare mean %.0f req/s), p99 %.2f x (bare mean %.2f ms)\n", e, 100 * l / r, r, lp / p, p }'
  load detail "$B/api/store/products/$handle"
  local peak; peak=$(awk '/VmHWM/ { print $2 }' "/proc/$SERVER_PID/status")
  printf '%-8s rss       idle %s MB, peak %s MB\n' "$ENGINE" "$((idle / 1024))" "$((peak / 1024))"
  local variant
  variant=$(curl -s "$B/api/store/products/$handle" | python3 -c 'import sys, json; print(json.load(sys.stdin)["variants"][0]["id"])')
  printf '%-8s cart+line x200   %s\n' "$ENGINE" "$(python3 bench/cart_timing.py "$B" "$variant" 200)"
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%d GiB", $2 / 1048576 }' /proc/meminfo); $(date -u +%FT%TZ); load average $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$ENGINES" = sqlite ] || [ "$ENGINES" = both ]; then
  run_engine sqlite "sqlite://$WORK/sqlite/cielo.db"
fi
if [ "$ENGINES" = postgres ] || [ "$ENGINES" = both ]; then
  bench_postgres 25433
  with_bench_database run_engine postgres
fi
