#!/usr/bin/env bash
# 200 orders paid in one burst (signed payment webhooks, all at once), each
# going to a print lab that answers in 50 ms (a fake Printful on loopback
# behind a 50 ms proxy), with `fulfillment.hold_minutes = 0`: the time from
# the payment webhook's 2xx to the lab order created at the lab (p50, p99,
# max), and the lab orders each order got (must be exactly 1), on SQLite and
# PostgreSQL. Baseline in the same run: the same burst with a lab that
# answers at once (--lab-ms 0), to tell our own latency from the lab's.
#
# usage: bench/fulfillment.sh [sqlite|postgres|both]     (default both)
# env:   PG_URL=postgres://user@host:port/db   use this server (a database is created on it);
#        otherwise a throwaway PostgreSQL cluster is started from the installed binaries.
#        ORDERS=200  LAB_MS=50  RUNS=3
set -euo pipefail
cd "$(dirname "$0")/.."
ENGINES=${1:-both}
ORDERS=${ORDERS:-200}
LAB_MS=${LAB_MS:-50}
RUNS=${RUNS:-3}

echo "building release binaries..." >&2
[ -n "${SKIP_BUILD:-}" ] || cargo build --release -q -p cielo --example fulfillment_load
LOAD="${CARGO_TARGET_DIR:-target}/release/examples/fulfillment_load"
WORK=$(mktemp -d)
source bench/lib.sh
cleanup() {
  bench_postgres_stop
  rm -rf "$WORK"
}
trap cleanup EXIT

run() { # engine lab-ms database-url
  printf '%-8s lab %3s ms  ' "$1" "$2"
  "$LOAD" --database "$3" --orders "$ORDERS" --lab-ms "$2"
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%d GiB", $2 / 1048576 }' /proc/meminfo); load average $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%FT%TZ)"
for i in $(seq "$RUNS"); do
  if [ "$ENGINES" = sqlite ] || [ "$ENGINES" = both ]; then
    run sqlite "$LAB_MS" "sqlite://$WORK/bench-$i.db"
    run sqlite 0 "sqlite://$WORK/base-$i.db"
  fi
  if [ "$ENGINES" = postgres ] || [ "$ENGINES" = both ]; then
    bench_postgres 26050
    with_bench_database run postgres "$LAB_MS"
    with_bench_database run postgres 0
  fi
done
