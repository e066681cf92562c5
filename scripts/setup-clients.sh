#!/usr/bin/env bash
# Installs the clients the integration tests drive besides those in .venv: the Node.js
# HiveServer2 client (hive-driver) from itest/node/package-lock.json, dbt-spark into its own
# venv (.venv-dbt) from scripts/requirements-dbt.txt, and the pinned jars (scripts/fetch-jars.sh).
# Idempotent. Fails clearly when Node.js, Python or Maven is missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

dir="$root/itest/node"
command -v node >/dev/null || { echo "setup-clients: node not found: install Node.js 18 or newer" >&2; exit 1; }
command -v npm >/dev/null || { echo "setup-clients: npm not found" >&2; exit 1; }
stamp="$dir/node_modules/.sparkbridge-ready"
want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  (cd "$dir" && npm ci --silent --no-audit --no-fund) || { echo "setup-clients: npm ci failed" >&2; exit 1; }
  echo "$want" > "$stamp"
fi

venv=${SPARKBRIDGE_DBT_VENV:-$root/.venv-dbt}
req="$root/scripts/requirements-dbt.txt"
stamp="$venv/.sparkbridge-ready"
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup-clients: installing dbt-spark into $venv" >&2
  py=${PYTHON:-python3}
  [ -x "$venv/bin/python" ] || "$py" -m venv "$venv" || { echo "setup-clients: cannot create $venv" >&2; exit 1; }
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$req" || { echo "setup-clients: pip install of dbt failed" >&2; exit 1; }
  echo "$want" > "$stamp"
fi

# The version matrix: PySpark 3.5 (engine install and client) and the thin clients of 4.0-4.2,
# one venv each, from their pinned requirements.
matrix_venv() { # venv requirements
  local venv=$1 req=$2 stamp want
  stamp="$venv/.sparkbridge-ready"
  want=$(sha256sum "$req" | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  echo "setup-clients: installing $(basename "$req" .txt) into $venv" >&2
  [ -x "$venv/bin/python" ] || "${PYTHON:-python3}" -m venv "$venv" || { echo "setup-clients: cannot create $venv" >&2; exit 1; }
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$req" || { echo "setup-clients: pip install into $venv failed" >&2; exit 1; }
  echo "$want" > "$stamp"
}
matrix_venv "$root/.venv-spark35" "$root/scripts/requirements-spark35.txt"
for v in 4.0 4.1 4.2; do
  matrix_venv "$root/.venv-pyspark-$v" "$root/scripts/requirements-pyspark-$v.txt"
done

"$root/scripts/fetch-jars.sh"
