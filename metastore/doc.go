// Package metastore supervises the Hive Metastore service that gives every engine the bridge
// launches one persistent, shared catalog.
//
// Spark Connect servers default to Spark's in-memory catalog: a table a user creates lives
// only as long as that user's engine, and no other engine sees it. With a metastore, every
// launched engine runs with spark.sql.catalogImplementation=hive against one metastore and
// one warehouse directory, so tables survive engine and bridge restarts and one user's
// tables are visible to another's engine, as with Spark Thrift Server.
//
// A Service is one metastore JVM, started from the pinned Spark installation's jars (Hive
// 2.3's metastore, DataNucleus and Derby ship with Spark) and this repository's small JVM
// jar, whose MetastoreServer main binds the Thrift service to loopback only. Its backing
// database is an embedded Derby database under the data directory unless a JDBC URL
// (PostgreSQL, MySQL) says otherwise; its configuration, passwords included, is a
// hive-site.xml of mode 0600 under the data directory, never argv.
//
// Lifecycle: Start launches the JVM and returns once the metastore accepts connections. The
// Service then restarts a metastore that exits on its own, with backoff, on the same port,
// so that engines configured with its URI reconnect to the new process. Stop ends it
// (SIGTERM, then SIGKILL after the grace period) and waits; the bridge stops it last, after
// the engines. The process carries a parent-death signal, so it dies with a crashed bridge.
//
// metastore may import the standard library and logrus only.
package metastore
