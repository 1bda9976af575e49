#!/usr/bin/env bash
# Checks the unit files with `systemd-analyze verify` (syntax, known options)
# and prints the exposure score of `systemd-analyze security` for each.
# The binary path is swapped for /bin/true so that no installed Cielo is needed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for f in "$here"/*.service "$here"/*.target; do
  sed 's#/usr/local/bin/cielo#/bin/true#' "$f" > "$tmp/$(basename "$f")"
done
for t in worker scheduler; do
  for i in 1 2; do cp "$tmp/cielo-$t@.service" "$tmp/cielo-$t@$i.service"; done
done
cd "$tmp"
units=(cielo.service cielo-api.service cielo-migrate.service cielo-worker@1.service cielo-scheduler@1.service cielo.target)
out=$(systemd-analyze verify --man=no "${units[@]/#/./}" 2>&1 || true)
# Only complaints about the units themselves count (not the host's other units).
if grep -E "^$tmp/" <<<"$out"; then
  echo "systemd-analyze verify found problems" >&2
  exit 1
fi
for u in cielo.service cielo-api.service cielo-worker@1.service cielo-scheduler@1.service; do
  printf '%-28s ' "$u"
  systemd-analyze security --offline=yes "./$u" 2>/dev/null | tail -1
done
