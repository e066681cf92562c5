#!/usr/bin/env bash
# Installs the Node.js HiveServer2 client (hive-driver) that the integration tests drive,
# from itest/node/package-lock.json. Idempotent. Fails clearly when Node.js is missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/itest/node"
command -v node >/dev/null || { echo "setup-clients: node not found: install Node.js 18 or newer" >&2; exit 1; }
command -v npm >/dev/null || { echo "setup-clients: npm not found" >&2; exit 1; }
stamp="$dir/node_modules/.sparkbridge-ready"
want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
(cd "$dir" && npm ci --silent --no-audit --no-fund) || { echo "setup-clients: npm ci failed" >&2; exit 1; }
echo "$want" > "$stamp"
