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

# The gRPC service moves out of base.proto into a file of its own, generated into its own Go
# package (connectgrpc), so that the message package depends on protobuf alone: a package
# that only builds plans or reads results (translate, thriftfront) then links no gRPC. The
# service keeps its full name, spark.connect.SparkConnectService, so the wire is unchanged.
awk -v svc="$src/spark/connect/base_service.proto" '
  /^\/\/ Main interface for the SparkConnect service\./ { insvc = 1 }
  /^service SparkConnectService[ {]/ { insvc = 1 }
  insvc { print > svc; if ($0 ~ /^}/) insvc = 0; next }
  { print }
' "$src/spark/connect/base.proto" > "$src/base.proto.tmp"
grep -q '^service SparkConnectService' "$src/spark/connect/base_service.proto" ||
  { echo "generate: no SparkConnectService in base.proto" >&2; exit 1; }
mv "$src/base.proto.tmp" "$src/spark/connect/base.proto"
{
  printf 'syntax = "proto3";\n\npackage spark.connect;\n\nimport "spark/connect/base.proto";\n\n'
  cat "$src/spark/connect/base_service.proto"
} > "$src/svc.tmp" && mv "$src/svc.tmp" "$src/spark/connect/base_service.proto"

pkg=github.com/sparkbridge/sparkbridge/proto/spark/connect
maps=""
for f in "$src"/spark/connect/*.proto; do
  case $(basename "$f") in
  base_service.proto) maps="$maps,Mspark/connect/base_service.proto=$pkg/connectgrpc;connectgrpc" ;;
  *) maps="$maps,Mspark/connect/$(basename "$f")=$pkg;connect" ;;
  esac
done
maps=${maps#,}

rm -rf "$out/spark"
mkdir -p "$out/spark/connect/connectgrpc"
PATH="$bin:$PATH" protoc -I "$src" -I /usr/include \
  --go_out="$out" --go_opt=module=github.com/sparkbridge/sparkbridge/proto,"$maps" \
  "$src"/spark/connect/*.proto
PATH="$bin:$PATH" protoc -I "$src" -I /usr/include \
  --go-grpc_out="$out" --go-grpc_opt=module=github.com/sparkbridge/sparkbridge/proto,"$maps" \
  "$src"/spark/connect/base_service.proto
echo "generated from spark-connect_${SCALA_BINARY}-${SPARK_VERSION}.jar with $(protoc --version), protoc-gen-go $(cd "$root" && go list -m -f '{{.Version}}' google.golang.org/protobuf), protoc-gen-go-grpc $PROTOC_GEN_GO_GRPC_VERSION" > "$out/spark/connect/SOURCE"
