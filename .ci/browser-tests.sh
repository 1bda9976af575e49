#!/usr/bin/env bash
# Browser tests of the pages: Debian's chromium driven by Playwright
# (playwright-core; its own browser download cannot work here), axe-core
# injected into every page. node_modules is cached outside the clone.
#
#   .ci/browser-tests.sh                 # builds target/debug/cielo first
#   SCREENSHOTS=docs/screenshots .ci/browser-tests.sh   # also refresh screenshots
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/cielo-ci-target}"
NODE_CACHE=${BROWSER_NODE_CACHE:-/var/tmp/cielo-browser-node}
export DEBIAN_FRONTEND=noninteractive

if ! command -v chromium >/dev/null; then
  apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
if ! command -v node >/dev/null; then
  apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
mkdir -p "$NODE_CACHE"
if [ ! -d "$NODE_CACHE/node_modules/playwright-core" ] || [ ! -d "$NODE_CACHE/node_modules/axe-core" ]; then
  (cd "$NODE_CACHE" && { [ -f package.json ] || echo '{"name":"cielo-browser-tests","private":true}' > package.json; } \
    && npm install --no-audit --no-fund --silent playwright-core@1.65 axe-core@4)
fi
if [ -z "${CIELO_BIN:-}" ]; then
  cargo build -q -p cielo
  CIELO_BIN="$CARGO_TARGET_DIR/debug/cielo"
fi
CIELO_BIN="$CIELO_BIN" NODE_PATH="$NODE_CACHE/node_modules" CHROMIUM="${CHROMIUM:-$(command -v chromium)}" \
  node tests/browser/shop.test.mjs
