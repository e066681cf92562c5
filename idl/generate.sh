#!/usr/bin/env bash
# Regenerates idl/hiveserver from the TCLIService IDL shipped in the pinned gohive Go module.
# Needs Debian's thrift-compiler. Output is committed; never edit it by hand.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=/dev/null
. "$root/versions.env"
out=${1:-$here}

command -v thrift >/dev/null || { echo "generate: thrift not found; install Debian's thrift-compiler" >&2; exit 1; }
dir=$(cd "$root" && GOFLAGS=-mod=mod go mod download -json "$GOHIVE_MODULE@$GOHIVE_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
[ -f "$dir/thrift/HiveServer.thrift" ] || { echo "generate: HiveServer.thrift not found in $GOHIVE_MODULE@$GOHIVE_VERSION" >&2; exit 1; }

mkdir -p "$out"
rm -rf "$out/hiveserver"
# thrift warns twice about the upstream IDL's use of "byte"; the warnings are harmless.
thrift -r --gen go:package_prefix=github.com/sparkbridge/sparkbridge/idl/,skip_remote -out "$out" "$dir/thrift/HiveServer.thrift"
echo "generated from $GOHIVE_MODULE@$GOHIVE_VERSION thrift/HiveServer.thrift with $(thrift --version)" > "$out/hiveserver/SOURCE"
gofmt -w "$out/hiveserver"
