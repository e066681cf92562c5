// Package metrics exposes sparkbridge's Prometheus metrics.
//
// A Metrics holds its own prometheus.Registry (never the global default one), with the Go
// runtime and process collectors, and declares every sparkbridge_ metric once, with its
// help text, in metrics.go. It is fed two ways:
//
//   - Events, counted as they happen: it is the engine layer's engine.Observer (sessions,
//     operations, rows and bytes sent, engine launches and losses) and the frontends'
//     observer (thriftfront.Observer, connectfront.Observer: connections, RPCs by method
//     and status, failed logins).
//   - The engine layer's registry, read at each scrape (ReadFrom): sessions open, operations
//     running and engines by state are never kept here, so they can never drift from it.
//
// Labels are bounded: protocol (hs2_binary, hs2_http, connect), operation kind, outcome,
// RPC method and status, engine state. A user label is added to session and operation
// metrics only when Config.UserLabels is on; no metric is ever labelled with a session or
// operation id. Handler serves the registry in the Prometheus text format; cmd/sparkbridge
// mounts it at /metrics.
//
// metrics may import engine (its Observer and registry), prometheus/client_golang and the
// standard library. It starts no goroutines.
package metrics
