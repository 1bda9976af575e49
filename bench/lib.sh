# Shared by the bench scripts (sourced, not run). Expects $WORK, a scratch
# directory the calling script removes on exit.

PG_STARTED=""

# Builds a load generator of crates/cielo/examples in $PROFILE (default
# release; `debug` is quicker to build, its figures are not comparable) and
# prints its path. SKIP_BUILD=1 uses the one built last.
bench_build_example() { # example [package (default cielo)]
  local profile=${PROFILE:-release} package=${2:-cielo}
  echo "building the $profile load generator $1..." >&2
  if [ -z "${SKIP_BUILD:-}" ]; then
    if [ "$profile" = release ]; then
      cargo build --release -q -p "$package" --example "$1" >&2
    else
      cargo build -q -p "$package" --example "$1" >&2
    fi
  fi
  echo "${CARGO_TARGET_DIR:-target}/$profile/examples/$1"
}

# One line about the build and the machine, printed before the figures.
bench_machine() {
  echo "${PROFILE:-release} build; machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%d GiB", $2 / 1048576 }' /proc/meminfo); load average $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%FT%TZ)"
}

# Benchmarks drive single routes hard from one address: the per-IP rate
# limits (docs/configuration.md, `limits.*`) would measure the limiter, so
# they are off here.
export CIELO_LIMITS_CART_CREATIONS_PER_MINUTE=0 CIELO_LIMITS_CHECKOUTS_PER_MINUTE=0 \
  CIELO_LIMITS_PLACE_SEARCHES_PER_MINUTE=0 CIELO_LIMITS_PREVIEWS_PER_MINUTE=0 \
  CIELO_LIMITS_WEBHOOKS_PER_MINUTE=0 CIELO_LIMITS_REGISTRATIONS_PER_HOUR=0

# Sets PG_URL to a server the benchmark may create databases on: $PG_URL as
# given, or a throwaway cluster on port $1 started from the installed binaries.
# Ports below 32768: in the ephemeral range, a client socket left in TIME-WAIT
# by an earlier run can hold the port and the cluster fails to start.
bench_postgres() {
  [ -n "${PG_URL:-}" ] && return
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  mkdir -p "$WORK/pg" && chown postgres "$WORK" "$WORK/pg"
  runuser -u postgres -- "$PG_BIN/initdb" -D "$WORK/pg" -U postgres --auth=trust >/dev/null
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$WORK/pg" -l "$WORK/pg.log" -w -o "-p $1 -k $WORK -c listen_addresses=127.0.0.1" start >/dev/null
  PG_STARTED=1
  PG_URL="postgres://postgres@127.0.0.1:$1/postgres"
  # A new cluster creates (and zero-fills) a 16 MB WAL file every few seconds
  # under write load, and each creation stalls commits for tens of ms; a
  # server that has been running recycles old files instead. Write ~400 MB
  # of WAL and checkpoint, so the measured runs see a server in that state
  # (without this, webhook p99 at 3,000/s was 33 ms instead of 11 ms).
  psql "$PG_URL" -qc "create table bench_wal_warmup as select g, repeat('x', 1200) as pad from generate_series(1, 300000) g" \
    -c "drop table bench_wal_warmup" -c "checkpoint" >/dev/null
}

# Stops the throwaway cluster, if bench_postgres started one.
bench_postgres_stop() {
  if [ -n "$PG_STARTED" ]; then runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$WORK/pg" -m fast stop >/dev/null 2>&1 || true; fi
}

# Runs "$@ DATABASE_URL" against a fresh database on $PG_URL, dropped afterwards.
with_bench_database() {
  local db="cielo_bench_$(date +%s)"
  psql "$PG_URL" -qc "create database $db" >/dev/null
  "$@" "${PG_URL%/*}/$db"
  psql "$PG_URL" -qc "drop database $db with (force)" >/dev/null || true
}
