package main

import (
	"net/http"
	"net/http/pprof"
)

// debugMux serves the Go runtime profiles (CPU, heap, goroutines, allocations) for
// -debug-addr, and the Prometheus metrics at /metrics. It is a mux of its own so that
// nothing else is exposed on that port.
func debugMux(metrics http.Handler) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/metrics", metrics)
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
