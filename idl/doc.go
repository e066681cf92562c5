// Package idl holds the generated TCLIService (HiveServer2) Thrift code in idl/hiveserver and
// the recipe that produced it, generate.sh. Nothing here is edited by hand: run
// `make generate`.
package idl
