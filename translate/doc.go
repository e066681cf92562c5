// Package translate converts between the HiveServer2 (TCLIService) and the
// Spark Connect forms of the same thing: SQL text becomes a Spark Connect
// plan, an Arrow IPC stream carried in an ExecutePlanResponse becomes Arrow
// records, and Arrow records become TTableSchema values and encoded TRowSets.
//
//	HiveServer2 client                         Spark Connect engine
//	ExecuteStatement(sql) --StatementPlan-->   Plan{Root: SQL}
//	                                           ArrowBatch.data (IPC stream)
//	                      <-DecodeArrowBatch-- schema + records
//	GetResultSetMetadata  <-TableSchema------  *arrow.Schema
//	FetchResults          <-AppendRowSet-----  records (columnar >= V6,
//	                                           row-based < V6; binary or
//	                                           compact Thrift encoding)
//
// The package is pure: values in, values out. It does no I/O, starts no
// goroutines, keeps no sessions and does not log, so every function can be
// table-tested, fuzzed and benchmarked in isolation. Values are rendered the
// way the Spark Thrift Server renders them (HiveResult.toHiveString), so a
// client cannot tell the bridge from a Spark Thrift Server by its output.
//
// Imports are limited to the generated code in idl/hiveserver and
// proto/spark/connect (messages; protoreflect to name a plan's kind), github.com/apache/arrow-go
// and the standard library.
// wire.go encodes row sets in the Thrift binary and compact encodings itself,
// into memory, never to a connection; the tests hold it to the Thrift
// library's encoders byte for byte.
//
// Time zone: timestamps with a time zone are rendered in UTC. Spark Connect
// sends them as UTC instants; the Spark Thrift Server would render them in
// the session time zone, so sessions are treated as UTC for now.
package translate
