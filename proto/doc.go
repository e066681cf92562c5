// Package proto holds the generated Spark Connect code and the recipe that produced it,
// generate.sh: the messages in proto/spark/connect, which link protobuf only, and the gRPC
// service in proto/spark/connect/connectgrpc (generate.sh moves the service out of
// base.proto, keeping its full name, so that packages using only messages link no gRPC).
// Nothing here is edited by hand: run `make generate`.
package proto
