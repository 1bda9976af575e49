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
#        PROFILE=debug   measure a debug build (quicker to build; slower, figures not comparable)
set -euo pipefail
cd "$(dirname "$0")/.."
ENGINES=${1:-both}
ORDERS=${ORDERS:-200}
LAB_MS=${LAB_MS:-50}
RUNS=${RUNS:-3}

WORK=$(mktemp -d)
source bench/lib.sh
LOAD=$(bench_build_example fulfillment_load)
cleanup() {
  bench_postgres_stop
  rm -rf "$WORK"
}
trap cleanup EXIT

run() { # engine lab-ms database-url
  printf '%-8s lab %3s ms  ' "$1" "$2"
  "$LOAD" --database "$3" --orders "$ORDERS" --lab-ms "$2"
}

bench_machine
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
