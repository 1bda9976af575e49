#!/usr/bin/env bash
# Benchmark of cielo-jobs on PostgreSQL and SQLite, optionally interleaved with
# the graphile-worker peer (same machine, same server, same sitting).
#
#   bash bench/jobs.sh                 # 3 rounds, medians at the end
#   RUNS=1 PEER=0 bash bench/jobs.sh   # one round, without the peer
#
# PostgreSQL: JOBS_BENCH_PG (default postgres://postgres@127.0.0.1:5432/jobs_bench;
# the database is dropped and created each round). Server defaults are used
# (no synchronous_commit=off). SQLite: a fresh file in a temporary directory.
# PEER_DIR: the graphile-worker peer (default ../shared/peers/queue-graphile).
# Per-round JSON lines are kept in $OUT (printed at the end).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-3}"
PEER="${PEER:-1}"
PG_URL="${JOBS_BENCH_PG:-postgres://postgres@127.0.0.1:5432/jobs_bench}"
PEER_DIR="${PEER_DIR:-../shared/peers/queue-graphile}"
OUT="$(mktemp -d -t jobs-bench.XXXXXX)"

echo "== building the benchmark (release)" >&2
cargo build --release -q -p cielo-jobs --example jobs_bench
BIN="${CARGO_TARGET_DIR:-target}/release/examples/jobs_bench"

run() { # engine label args...
  local engine="$1" label="$2"; shift 2
  local line
  line="$("$BIN" "$@" | tail -n 1)"
  echo "$line" | jq -c --arg e "$engine" --arg l "$label" '. + {engine: $e, label: $l}' | tee -a "$OUT/cielo.jsonl" >&2
}

cielo_round() {
  "$BIN" reset --database-url "$PG_URL"
  local sqlite_dir; sqlite_dir="$(mktemp -d -t jobs-bench-sqlite.XXXXXX)"
  local SQ="sqlite://$sqlite_dir/bench.db"
  for e in postgres sqlite; do
    local U="$PG_URL"; [ "$e" = sqlite ] && U="$SQ"
    run "$e" enqueue_bulk enqueue-bulk --database-url "$U" --jobs 20000 --batch 1000
    run "$e" enqueue_single enqueue-single --database-url "$U" --jobs 2000 --callers 10
    run "$e" drain_default drain --database-url "$U" --jobs 20000 --concurrency 10
    run "$e" drain_no_prefetch drain --database-url "$U" --jobs 20000 --concurrency 10 --prefetch 0
    if [ "$e" = postgres ]; then
      run "$e" latency latency --database-url "$U" --jobs 2000 --warmup 200 --rate 200
    else
      # SQLite's queue lives in one process: the worker runs beside the enqueuer.
      run "$e" latency latency --database-url "$U" --jobs 2000 --warmup 200 --rate 200 --in-process
    fi
  done
  rm -rf "$sqlite_dir"
}

for i in $(seq 1 "$RUNS"); do
  echo "== round $i/$RUNS: cielo-jobs (load $(cut -d' ' -f1 /proc/loadavg))" >&2
  cielo_round
  if [ "$PEER" = 1 ] && [ -d "$PEER_DIR" ]; then
    echo "== round $i/$RUNS: graphile-worker peer (drain c10 only)" >&2
    (cd "$PEER_DIR" && RUNS=1 DRAIN_CONCS=10 bash run.sh) | tail -n 1 | tee -a "$OUT/peer.jsonl" >&2
  fi
done

echo "== medians over $RUNS round(s)" >&2
median() { jq -s 'sort | .[(length - 1) / 2 | floor]'; }
printf '| figure | PostgreSQL | SQLite |\n| --- | --- | --- |\n'
for label in enqueue_bulk enqueue_single drain_default drain_no_prefetch; do
  pg="$(jq -r --arg l "$label" 'select(.engine=="postgres" and .label==$l) | .value' "$OUT/cielo.jsonl" | median)"
  sq="$(jq -r --arg l "$label" 'select(.engine=="sqlite" and .label==$l) | .value' "$OUT/cielo.jsonl" | median)"
  printf '| %s, jobs/s | %s | %s |\n' "$label" "$pg" "$sq"
done
for p in p50 p95 p99 max; do
  pg="$(jq -r --arg p "$p" 'select(.engine=="postgres" and .label=="latency") | .[$p]' "$OUT/cielo.jsonl" | median)"
  sq="$(jq -r --arg p "$p" 'select(.engine=="sqlite" and .label=="latency") | .[$p]' "$OUT/cielo.jsonl" | median)"
  printf '| latency %s at 200 jobs/s, ms | %s | %s |\n' "$p" "$pg" "$sq"
done
if [ -s "$OUT/peer.jsonl" ]; then
  echo
  echo "graphile-worker, same rounds (medians):"
  for k in enqueue_bulk_jobs_s enqueue_single_jobs_s process_c10_jobs_s process_c10_batched_jobs_s latency_p50_ms latency_p95_ms latency_p99_ms latency_max_ms; do
    printf '| %s | %s |\n' "$k" "$(jq -r --arg k "$k" '.[$k]' "$OUT/peer.jsonl" | median)"
  done
fi
echo "raw results: $OUT" >&2
