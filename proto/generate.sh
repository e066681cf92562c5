#!/usr/bin/env bash
# Regenerates proto/spark/connect from the .proto files inside the pinned Spark version's
# spark-connect jar (the one the pyspark wheel ships in the project venv).
# Needs Debian's protobuf-compiler; protoc-gen-go and protoc-gen-go-grpc are built at pinned versions.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=/dev/null
. "$root/versions.env"
out=${1:-$here}

command -v protoc >/dev/null || { echo "generate: protoc not found; install Debian's protobuf-compiler" >&2; exit 1; }
jar=$("$root/scripts/spark-home.sh")/jars/spark-connect_${SCALA_BINARY}-${SPARK_VERSION}.jar
[ -f "$jar" ] || { echo "generate: $jar not found; run 'make spark' first" >&2; exit 1; }

bin="$root/.cache/bin"
mkdir -p "$bin"
# protoc-gen-go comes from the google.golang.org/protobuf version in go.mod.
(cd "$root" && GOBIN="$bin" go install google.golang.org/protobuf/cmd/protoc-gen-go)
(cd "$root" && GOBIN="$bin" go install "google.golang.org/grpc/cmd/protoc-gen-go-grpc@$PROTOC_GEN_GO_GRPC_VERSION")

src=$(mktemp -d)
trap 'rm -rf "$src"' EXIT
(cd "$src" && unzip -q "$jar" 'spark/connect/*.proto')

pkg=github.com/sparkbridge/sparkbridge/proto/spark/connect
maps=""
for f in "$src"/spark/connect/*.proto; do
  maps="$maps,Mspark/connect/$(basename "$f")=$pkg;connect"
done
maps=${maps#,}

rm -rf "$out/spark"
mkdir -p "$out/spark/connect"
PATH="$bin:$PATH" protoc -I "$src" -I /usr/include \
  --go_out="$out" --go_opt=module=github.com/sparkbridge/sparkbridge/proto,"$maps" \
  --go-grpc_out="$out" --go-grpc_opt=module=github.com/sparkbridge/sparkbridge/proto,"$maps" \
  "$src"/spark/connect/*.proto
echo "generated from spark-connect_${SCALA_BINARY}-${SPARK_VERSION}.jar with $(protoc --version), protoc-gen-go $(cd "$root" && go list -m -f '{{.Version}}' google.golang.org/protobuf), protoc-gen-go-grpc $PROTOC_GEN_GO_GRPC_VERSION" > "$out/spark/connect/SOURCE"
