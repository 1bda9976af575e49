#!/usr/bin/env bash
# The Lambda build and its cold start (figures in BENCHMARKS.md, "AWS Lambda").
#
#   bash bench/lambda.sh
#
# Needs cargo-lambda (`pip install cargo-lambda`; CARGO_LAMBDA may name its
# binary) and PostgreSQL (LAMBDA_BENCH_PG, default
# postgres://postgres@127.0.0.1:5432/lambda_bench, dropped and created here).
# SQS throughput on an emulator: SQS_ENDPOINT=http://127.0.0.1:PORT (moto).
set -euo pipefail
cd "$(dirname "$0")/.."
PG_URL="${LAMBDA_BENCH_PG:-postgres://postgres@127.0.0.1:5432/lambda_bench}"
CARGO_LAMBDA="${CARGO_LAMBDA:-cargo-lambda}"
TARGET="${CARGO_TARGET_DIR:-target}"
RUNS="${RUNS:-15}"

# The `lambda` profile (Cargo.toml): optimised for size, whole-program linked,
# stripped; PROFILE=release measures the ordinary release build instead.
PROFILE="${PROFILE:-lambda}"
echo "== cargo lambda build --profile $PROFILE --features lambda --bin cielo" >&2
start=$(date +%s)
"$CARGO_LAMBDA" lambda build --profile "$PROFILE" --features lambda --bin cielo >&2
"$CARGO_LAMBDA" lambda build --profile "$PROFILE" --features lambda --bin cielo --output-format zip >&2
echo "{\"figure\": \"lambda_build_s\", \"value\": $(( $(date +%s) - start ))}"
bin="$TARGET/lambda/cielo/bootstrap"
zip="$TARGET/lambda/cielo/bootstrap.zip"
echo "{\"figure\": \"bootstrap_bytes\", \"value\": $(stat -c %s "$bin")}"
echo "{\"figure\": \"bootstrap_zip_bytes\", \"value\": $(stat -c %s "$zip")}"

base="${PG_URL%/*}"; name="${PG_URL##*/}"
psql "$base/postgres" -qc "drop database if exists $name with (force)" -c "create database $name" >/dev/null
python3 bench/lambda_cold_start.py "$bin" --database-url "$PG_URL" --runs "$RUNS"

if [ -n "${SQS_ENDPOINT:-}" ]; then
  # moto keeps every message in one Python list and scans it on each receive:
  # its throughput falls with the queue's depth (measured 278 jobs/s at 100
  # queued, 42 at 500, 11 at 2,000). The emulator is reset before each round
  # and the figure is taken at two depths; it bounds the emulator, not the
  # worker (the database transport beside it is the same worker's ceiling).
  echo "== jobs through SQS ($SQS_ENDPOINT) and through the database, same sitting" >&2
  cargo build --release -q -p cielo-jobs --example jobs_bench
  jb="$TARGET/release/examples/jobs_bench"
  for round in 1 2 3; do
    "$jb" reset --database-url "$PG_URL"
    for depth in 100 500; do
      curl -fsS -X POST "$SQS_ENDPOINT/moto-api/reset" >/dev/null
      "$jb" drain --database-url "$PG_URL" --jobs "$depth" --concurrency 10 --sqs-endpoint "$SQS_ENDPOINT"
    done
    "$jb" drain --database-url "$PG_URL" --jobs 2000 --concurrency 10
  done
fi
echo "{\"figure\": \"loadavg_1m\", \"value\": $(cut -d' ' -f1 /proc/loadavg)}"
