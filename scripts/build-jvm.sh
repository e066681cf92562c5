#!/usr/bin/env bash
# Builds bin/sparkbridge-jvm.jar, the JVM side of sparkbridge (the loopback-bound metastore
# server and the engine plugin), with javac against the jars of the pinned Spark install.
# Rebuilds only when a source file is newer than the jar.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/bin/sparkbridge-jvm.jar}
src="$root/jvm/src"
home=$("$root/scripts/spark-home.sh")
[ -d "$home/jars" ] || { echo "build-jvm: no Spark jars under $home (run 'make spark')" >&2; exit 1; }
command -v javac >/dev/null || { echo "build-jvm: javac not found: install a Java 17 JDK" >&2; exit 1; }

if [ -f "$out" ] && [ -z "$(find "$src" -newer "$out" -type f | head -1)" ]; then
  exit 0
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mapfile -t files < <(find "$src" -name '*.java' | sort)
javac --release 17 -nowarn -encoding UTF-8 -cp "$home/jars/*" -d "$tmp/classes" "${files[@]}"
mkdir -p "$(dirname "$out")"
(cd "$tmp/classes" && jar --create --file "$tmp/out.jar" .)
mv "$tmp/out.jar" "$out"
echo "build-jvm: wrote $out" >&2
