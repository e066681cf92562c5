// Package proto holds the generated Spark Connect protobuf and gRPC code in
// proto/spark/connect and the recipe that produced it, generate.sh. Nothing here is edited
// by hand: run `make generate`.
package proto
