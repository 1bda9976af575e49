#!/usr/bin/env bash
# The chaos run: Cielo as separate processes on PostgreSQL (2 api, 2 workers,
# 2 schedulers), a print lab and an email provider failing ~20 % of their
# calls (5xx, timeouts, answers lost after the work was done), CHECKOUTS
# orders paid through the test provider with webhooks duplicated x3,
# reordered, late and 5 % never delivered, and KILLS SIGKILLs of random api
# and worker processes (each restarted). Then an independent checker reads the
# providers' records and the database: every payment is exactly one paid
# order, every paid order exactly one lab order and one confirmation email,
# no order paid without a payment, every acknowledged webhook in the inbox,
# no job stuck or dead without an alert, no open reconciliation finding. It
# prints the counts and exits non-zero on any violation (bench/chaos.py).
#
# usage: bench/chaos.sh [full|short]          full: 1,000 checkouts, 20 kills (default)
#                                             short: 60 checkouts, 3 kills (CI)
# env:   PG_URL=postgres://user@host:port/db  a server to create the run's database on;
#        otherwise a throwaway cluster is started from the installed binaries.
#        CHECKOUTS, KILLS, FAULT_RATE=0.2, SEED=12, BASE_PORT=26710 (two api ports from it)
#        PROFILE=debug|release (default debug: the build the tests already made)
#        CONTROL=1  a control run without the payments catch-up: the checker must FAIL
#        (the never-delivered webhooks' orders stay unpaid), showing it sees a loss
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-full}
if [ "$MODE" = short ]; then
  CHECKOUTS=${CHECKOUTS:-60}; KILLS=${KILLS:-3}
else
  CHECKOUTS=${CHECKOUTS:-1000}; KILLS=${KILLS:-20}
fi
PROFILE=${PROFILE:-debug}
if [ -z "${SKIP_BUILD:-}" ]; then
  echo "building the $PROFILE binary and the chaos peers..." >&2
  if [ "$PROFILE" = release ]; then
    cargo build --release -q -p cielo --bin cielo --example chaos_peers
  else
    cargo build -q -p cielo --bin cielo --example chaos_peers
  fi
fi
TARGET="${CARGO_TARGET_DIR:-target}/$PROFILE"
WORK=$(mktemp -d)
source bench/lib.sh
cleanup() {
  bench_postgres_stop
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "$PROFILE build; machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%d GiB", $2 / 1048576 }' /proc/meminfo); load average $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%FT%TZ)"
echo "$CHECKOUTS checkouts, $KILLS kills, fault rate ${FAULT_RATE:-0.2}, seed ${SEED:-12}"
bench_postgres 26760
run() {
  python3 bench/chaos.py --cielo "$TARGET/cielo" --peers "$TARGET/examples/chaos_peers" \
    --db-url "$1" --workdir "$WORK" --checkouts "$CHECKOUTS" --kills "$KILLS" \
    --fault-rate "${FAULT_RATE:-0.2}" --seed "${SEED:-12}" --base-port "${BASE_PORT:-26710}" \
    ${CONTROL:+--control-no-catch-up --settle-timeout 60}
}
DB="cielo_chaos_$(date +%s)"
psql "$PG_URL" -qc "create database $DB" >/dev/null
status=0
run "${PG_URL%/*}/$DB" || status=$?
psql "$PG_URL" -qc "drop database $DB with (force)" >/dev/null || true
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
exit $status
