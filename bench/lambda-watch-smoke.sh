#!/usr/bin/env bash
# Smoke test of the `api` function under `cargo lambda watch` (the local Lambda
# emulator): builds the binary with the `lambda` feature, starts it as Lambda
# would, and calls it through the emulator's function-URL route.
#
#   bash bench/lambda-watch-smoke.sh
#
# Needs cargo-lambda (`pip install cargo-lambda`; CARGO_LAMBDA may name its
# binary). Without it, prints why it did not run and exits 0. PORT (default
# 9000) is the emulator's port. Uses a throwaway SQLite database: fine for a
# local emulator, never for a real deployment (see docs/deploy.md).
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO_LAMBDA="${CARGO_LAMBDA:-cargo-lambda}"
PORT="${PORT:-9000}"
if ! command -v "$CARGO_LAMBDA" >/dev/null 2>&1; then
  echo "skipped: cargo-lambda is not installed (pip install cargo-lambda)"
  exit 0
fi
dir=$(mktemp -d -t cielo-lambda-smoke.XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
export CIELO_DATA_DIR="$dir" CIELO_DATABASE_URL="sqlite://$dir/cielo.db" CIELO_LOG_LEVEL=warn
# The deploy's migration step (the function itself never migrates).
cargo run -q -p cielo --features lambda -- migrate
"$CARGO_LAMBDA" lambda watch -p cielo --bin cielo --features lambda -A 127.0.0.1 -P "$PORT" \
  --env-var CIELO_LAMBDA_ROLE=api --env-var "CIELO_DATA_DIR=$dir" \
  --env-var "CIELO_DATABASE_URL=sqlite://$dir/cielo.db" --env-var CIELO_LOG_LEVEL=warn \
  >"$dir/watch.log" 2>&1 &
pid=$!
url="http://127.0.0.1:$PORT/lambda-url/cielo/api/store/products?limit=2"
for _ in $(seq 600); do
  code=$(curl -s -o "$dir/body" -w '%{http_code}' --max-time 120 "$url" || true)
  if [ "$code" = 200 ]; then
    echo "ok: GET /api/store/products through cargo lambda watch: $(head -c 200 "$dir/body")"
    # A stage-less function URL event; a PNG comes back binary.
    png="http://127.0.0.1:$PORT/lambda-url/cielo/api/store/starmap/preview?lat=48.85&lon=2.35&date=2024-08-13&time=00:30&px=200"
    curl -s -o "$dir/preview.png" --max-time 120 "$png"
    head -c 8 "$dir/preview.png" | od -An -c | grep -q "P   N   G" && echo "ok: the preview is a PNG ($(stat -c %s "$dir/preview.png") bytes)"
    exit 0
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "cargo lambda watch exited:"; tail -20 "$dir/watch.log"; exit 1
  fi
  sleep 1
done
echo "no answer from the function"; tail -20 "$dir/watch.log"; exit 1
