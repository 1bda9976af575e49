#!/usr/bin/env bash
# 200 orders paid in one burst (signed payment webhooks, all at once), each
# buyer's order confirmation sent with `notify.email = "smtp"` to a real SMTP
# server on loopback (aiosmtpd from the test peers, as CI runs it: STARTTLS
# required, AUTH): the time from the payment webhook's 2xx to the
# confirmation accepted by the server (p50, p99, max), and the messages each
# order got (must be exactly 1), on SQLite and PostgreSQL. Baselines in the
# same run: the same burst with the email written to the shop's outbox
# (`notify.email = "outbox"`), to tell the SMTP conversation from the rest;
# and the ceiling, the SMTP provider alone (crates/cielo-notify/examples/
# smtp_ceiling.rs): as many messages of a confirmation's size, all queued at
# once, through the same sessions to the same server, no shop around it.
#
# usage: bench/notify.sh [sqlite|postgres|both]     (default both)
# env:   PG_URL=postgres://user@host:port/db   use this server (a database is created on it);
#        otherwise a throwaway PostgreSQL cluster is started from the installed binaries.
#        ORDERS=200  RUNS=3  SMTP_PORT=26025  SMTP_SESSIONS=N (notify.smtp_max_sessions; default the shop's)
#        TEST_PEERS=../shared/test-peers (start-smtp.sh)  PEER_VENVS=/var/tmp/cielo-test-peers
#        PROFILE=debug   measure a debug build (quicker to build; slower, figures not comparable)
set -euo pipefail
cd "$(dirname "$0")/.."
ENGINES=${1:-both}
ORDERS=${ORDERS:-200}
RUNS=${RUNS:-3}
SMTP_PORT=${SMTP_PORT:-26025}
TEST_PEERS=${TEST_PEERS:-../shared/test-peers}
PEER_VENVS=${PEER_VENVS:-/var/tmp/cielo-test-peers}

WORK=$(mktemp -d)
source bench/lib.sh
LOAD=$(bench_build_example notify_load)
CEILING=$(bench_build_example smtp_ceiling cielo-notify)
SMTP_PID=""
cleanup() {
  bench_postgres_stop
  if [ -n "$SMTP_PID" ]; then kill "$SMTP_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

MAIL="$WORK/mail"
bash tools/smtp-test-cert.sh "$MAIL"
SMTP_PID=$(bash "$TEST_PEERS/start-smtp.sh" "$SMTP_PORT" "$PEER_VENVS/smtp" "$MAIL")

run() { # engine email database-url
  printf '%-8s %-6s  ' "$1" "$2"
  rm -f "$MAIL"/*.eml
  if [ "$2" = smtp ]; then
    "$LOAD" --database "$3" --orders "$ORDERS" --mail-dir "$MAIL" --ca-file "$MAIL/ca.pem" \
      --smtp-url "smtp://test@localhost:$SMTP_PORT?tls=required" --password test \
      ${SMTP_SESSIONS:+--smtp-sessions "$SMTP_SESSIONS"}
  else
    "$LOAD" --database "$3" --orders "$ORDERS"
  fi
}

ceiling() {
  printf '%-8s %-6s  ' ceiling smtp
  rm -f "$MAIL"/*.eml
  "$CEILING" --smtp-url "smtp://test@localhost:$SMTP_PORT?tls=required" --ca-file "$MAIL/ca.pem" \
    --password test --messages "$ORDERS" --sessions "${SMTP_SESSIONS:-20}"
}

bench_machine
for i in $(seq "$RUNS"); do
  ceiling
  if [ "$ENGINES" = sqlite ] || [ "$ENGINES" = both ]; then
    run sqlite smtp "sqlite://$WORK/smtp-$i.db"
    run sqlite outbox "sqlite://$WORK/outbox-$i.db"
  fi
  if [ "$ENGINES" = postgres ] || [ "$ENGINES" = both ]; then
    bench_postgres 26050
    with_bench_database run postgres smtp
    with_bench_database run postgres outbox
  fi
done
