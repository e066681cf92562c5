#!/usr/bin/env bash
# Fetches the pinned jars the integration tests need (versions.env) from Maven Central with
# Maven's own client, checks their sha256 and copies them to .cache/jars. Idempotent.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=/dev/null
. "$root/versions.env"
dir="$root/.cache/jars"
mkdir -p "$dir"

fetch() { # coordinates sha256
  local coords=$1 sum=$2 group artifact version
  IFS=: read -r group artifact version <<<"$coords"
  local out="$dir/$artifact-$version.jar"
  if [ -f "$out" ] && [ "$(sha256sum "$out" | cut -d' ' -f1)" = "$sum" ]; then
    return 0
  fi
  command -v mvn >/dev/null || { echo "fetch-jars: mvn not found: install Maven" >&2; exit 1; }
  mvn -q -B dependency:get -Dartifact="$coords" -Dtransitive=false >&2 \
    || { echo "fetch-jars: cannot fetch $coords" >&2; exit 1; }
  local repo=${MAVEN_REPO:-$HOME/.m2/repository}
  local src="$repo/${group//.//}/$artifact/$version/$artifact-$version.jar"
  local got; got=$(sha256sum "$src" | cut -d' ' -f1)
  [ "$got" = "$sum" ] || { echo "fetch-jars: $coords has sha256 $got, want $sum" >&2; exit 1; }
  cp "$src" "$out.tmp" && mv "$out.tmp" "$out"
}

fetch "$POSTGRES_JDBC" "$POSTGRES_JDBC_SHA256"
fetch "$SPARK35_CONNECT" "$SPARK35_CONNECT_SHA256"
