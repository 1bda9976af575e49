#!/usr/bin/env bash
# Signed `checkout.session.completed` webhooks posted to /webhooks/test at
# rising rates (open loop, unique event ids): acknowledged (verified and
# durably stored) webhooks per second and latency percentiles, on SQLite and
# PostgreSQL. The server runs everything (API, worker processing the stored
# events, scheduler), as `cielo serve` does.
# Then the crash check: webhooks at a steady rate, the server killed with
# SIGKILL in the middle, and every webhook that got a 2xx looked up in the inbox.
#
# usage: bench/webhooks.sh [sqlite|postgres|both]     (default both)
# env:   PG_URL=postgres://user@host:port/db   use this server (a database is created on it);
#        otherwise a throwaway PostgreSQL cluster is started from the installed binaries.
#        RATES="500 1000 2000 3000 4000 5000"  SECONDS_PER_RATE=10  KILL_RATE=2000
#        ROLE=api   serve HTTP only (ingest alone; the stored events wait for a worker)
#        CIELO_BIN=path   measure this build of cielo instead (to compare two versions in one sitting)
set -euo pipefail
cd "$(dirname "$0")/.."
ENGINES=${1:-both}
RATES=${RATES:-500 1000 2000 3000 4000 5000}
STEP=${SECONDS_PER_RATE:-10}
KILL_RATE=${KILL_RATE:-2000}
PORT=${PORT:-18091}
B="http://127.0.0.1:$PORT"
SECRET=whsec_bench_secret

echo "building release binaries..." >&2
[ -n "${SKIP_BUILD:-}" ] || cargo build --release -q -p cielo --bin cielo --example webhook_load
BIN=${CIELO_BIN:-"${CARGO_TARGET_DIR:-target}/release/cielo"}
LOAD="${CARGO_TARGET_DIR:-target}/release/examples/webhook_load"
WORK=$(mktemp -d)
SERVER_PID=""
source bench/lib.sh
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  bench_postgres_stop
  rm -rf "$WORK"
}
trap cleanup EXIT

start_server() { # dir
  CIELO_TEST_WEBHOOK_SECRET=$SECRET CIELO_LOG=warn "$BIN" --data-dir "$1" serve --no-demo --role "${ROLE:-all}" --bind "127.0.0.1:$PORT" >>"$1/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 100); do curl -sf "$B/readyz" >/dev/null && return; sleep 0.1; done
  echo "server did not start" >&2; cat "$1/server.log" >&2; exit 1
}

run_engine() { # name database-url
  local engine=$1 dir="$WORK/$1"
  mkdir -p "$dir"
  export CIELO_DATABASE_URL="$2"
  start_server "$dir"
  # warm-up
  "$LOAD" --url "$B/webhooks/test" --secret "$SECRET" --rate 500 --seconds 2 --prefix "warm" >/dev/null
  for rate in $RATES; do
    printf '%-8s ' "$engine"
    "$LOAD" --url "$B/webhooks/test" --secret "$SECRET" --rate "$rate" --seconds "$STEP" --prefix "r$rate"
    sleep 2
  done
  printf '%-8s rss peak %s MB\n' "$engine" "$(( $(awk '/VmHWM/ { print $2 }' "/proc/$SERVER_PID/status") / 1024 ))"

  # The crash check: SIGKILL after 4 s of a 10 s run at KILL_RATE/s.
  "$LOAD" --url "$B/webhooks/test" --secret "$SECRET" --rate "$KILL_RATE" --seconds 10 --prefix kill --acked "$dir/acked.txt" >"$dir/kill.txt" &
  local load_pid=$!
  sleep 4
  kill -KILL "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
  wait "$load_pid" || true
  printf '%-8s SIGKILL at 4 s under %s/s: %s\n' "$engine" "$KILL_RATE" "$(cut -c1-200 "$dir/kill.txt")"
  printf '%-8s after the kill: ' "$engine"
  "$LOAD" --verify-db "$2" --acked "$dir/acked.txt"
  # A restarted process processes what the dead one stored.
  start_server "$dir"
  for _ in $(seq 120); do
    pending=$(curl -s "$B/metrics" | awk '$1 ~ /^cielo_jobs_(waiting|queued|ready)/ && /payments/ { s += $2 } END { print s + 0 }')
    [ "$pending" = 0 ] && break; sleep 0.5
  done
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%d GiB", $2 / 1048576 }' /proc/meminfo); $(date -u +%FT%TZ)"
if [ "$ENGINES" = sqlite ] || [ "$ENGINES" = both ]; then
  run_engine sqlite "sqlite://$WORK/sqlite/cielo.db"
fi
if [ "$ENGINES" = postgres ] || [ "$ENGINES" = both ]; then
  bench_postgres 25434
  with_bench_database run_engine postgres
fi
