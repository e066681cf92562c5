#!/usr/bin/env bash
# Prepares the Spark runtime: a project-local venv (.venv) with the pinned pyspark and the Python
# clients the tests drive. Idempotent: it does nothing when the venv already matches
# scripts/requirements.txt. Fails with a clear message when Java 17+ or Python 3.10+ is missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${SPARKBRIDGE_VENV:-$root/.venv}
req="$root/scripts/requirements.txt"
stamp="$venv/.sparkbridge-ready"

fail() { echo "setup-spark: $*" >&2; exit 1; }

command -v java >/dev/null || fail "java not found: install a Java 17 (or newer) JDK and put it on PATH"
jv=$(java -version 2>&1 | sed -n 's/.* version "\([0-9]*\).*/\1/p' | head -1)
[ -n "$jv" ] && [ "$jv" -ge 17 ] || fail "Spark 4 needs Java 17 or newer; 'java -version' reports '${jv:-unknown}'"

py=${PYTHON:-python3}
command -v "$py" >/dev/null || fail "python3 not found: install Python 3.10 or newer"
"$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' \
  || fail "pyspark needs Python 3.10 or newer; $("$py" --version 2>&1)"

want=$(sha256sum "$req" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi

echo "setup-spark: installing $(grep -m1 '^pyspark' "$req") into $venv" >&2
[ -x "$venv/bin/python" ] || "$py" -m venv "$venv" || fail "cannot create venv at $venv (is python3-venv installed?)"
"$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$req" || fail "pip install failed"

home=$("$root/scripts/spark-home.sh")
[ -x "$home/bin/spark-submit" ] || fail "spark-submit missing from $home"
[ -x "$home/bin/beeline" ] || fail "beeline missing from $home"
ls "$home"/jars/spark-connect_*.jar >/dev/null 2>&1 || fail "the Spark Connect server jar is missing from $home/jars"
echo "$want" > "$stamp"
echo "setup-spark: ready, SPARK_HOME=$home" >&2
