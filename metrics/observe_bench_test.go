package metrics_test

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/sparkbridge/sparkbridge/audit"
	"github.com/sparkbridge/sparkbridge/engine"
	"github.com/sparkbridge/sparkbridge/metrics"
)

// BenchmarkObservers is what the bridge's observers cost per statement on the request's own
// goroutine, apart from the network and the JVM (bench's G9 measures it end to end, where
// the engine's noise is far larger). One "statement" is a SELECT 1 over HiveServer2 as the
// engine layer and the frontend report it: the operation started, one page sent, the
// operation ended, and the frontend's calls ExecuteStatement, FetchResults (twice: the page
// and the empty one that ends it) and CloseOperation. "session+statement" adds the session
// around it: the connection, OpenSession, the session opened and closed, CloseSession.
// The metrics are those cmd/sparkbridge makes (no user labels); the audit log writes to a
// file, one write(2) per line, as in production (no fsync).
func BenchmarkObservers(b *testing.B) {
	for _, bc := range []struct {
		name           string
		metrics, audit bool
		withSession    bool
	}{
		{"statement/metrics", true, false, false},
		{"statement/audit", false, true, false},
		{"statement/metrics+audit", true, true, false},
		{"session+statement/metrics+audit", true, true, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var obs engine.Observers
			var mx *metrics.Metrics
			if bc.metrics {
				mx = metrics.New(metrics.DefaultConfig())
				obs = append(obs, mx)
			}
			if bc.audit {
				cfg := audit.DefaultConfig()
				cfg.Path = filepath.Join(b.TempDir(), "audit.log")
				al, err := audit.Open(cfg)
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { al.Close() })
				obs = append(obs, al)
			}
			var hook engine.Observer = obs
			rpc := func(method string, d time.Duration) {
				if mx != nil {
					mx.RPC(metrics.ProtoHS2Binary, method, "SUCCESS_STATUS", d)
				}
			}
			now := time.Now()
			sess := engine.SessionInfo{ID: "c79241cc-efba-440f-b04d-c7aea5f89234", User: "bench", Protocol: "thrift", Transport: "binary",
				ClientAddr: "127.0.0.1:52114", EngineID: "engine-a7d985c3", Key: "bench", Created: now, LastUsed: now}
			op := engine.OperationInfo{ID: "6f0e5b1a-3c7d-4a8e-9d7b-2f1e0c9a8b7d", Kind: "statement", Statement: "SELECT 1",
				State: engine.OpRunning, SessionID: sess.ID, User: sess.User, Protocol: sess.Protocol, EngineID: sess.EngineID,
				Started: now, Transport: sess.Transport, ClientAddr: sess.ClientAddr}
			done := op
			done.State, done.Finished, done.Ended, done.Rows, done.Bytes = engine.OpFinished, now.Add(3*time.Millisecond), now.Add(4*time.Millisecond), 1, 52

			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if bc.withSession {
					if mx != nil {
						mx.ConnOpened(metrics.ProtoHS2Binary)
					}
					hook.SessionOpened(sess)
					rpc("OpenSession", 2*time.Millisecond)
				}
				hook.OperationStarted(op)
				rpc("ExecuteStatement", 3*time.Millisecond)
				hook.OperationSent(sess.Protocol, sess.Transport, 1, 52)
				rpc("FetchResults", 200*time.Microsecond)
				rpc("FetchResults", 100*time.Microsecond)
				hook.OperationEnded(done)
				rpc("CloseOperation", 100*time.Microsecond)
				if bc.withSession {
					hook.SessionClosed(sess, "closed")
					rpc("CloseSession", 100*time.Microsecond)
					if mx != nil {
						mx.ConnClosed(metrics.ProtoHS2Binary)
					}
				}
			}
		})
	}
}

// BenchmarkScrape is one Prometheus scrape of /metrics, the bridge's series populated as
// after a while of both protocols' traffic: what the bench's once-a-second scraper (and a
// real Prometheus) costs the bridge, per scrape.
func BenchmarkScrape(b *testing.B) {
	mx := metrics.New(metrics.DefaultConfig())
	now := time.Now()
	for _, p := range []struct{ protocol, transport, proto string }{{"thrift", "binary", metrics.ProtoHS2Binary}, {"connect", "grpc", metrics.ProtoConnect}} {
		sess := engine.SessionInfo{ID: "s", User: "bench", Protocol: p.protocol, Transport: p.transport, Created: now}
		mx.ConnOpened(p.proto)
		mx.SessionOpened(sess)
		for _, state := range []string{engine.OpFinished, engine.OpError, engine.OpCanceled} {
			op := engine.OperationInfo{Kind: "statement", State: state, Protocol: p.protocol, Transport: p.transport, Started: now, Ended: now.Add(time.Duration(len(state)) * time.Millisecond)}
			mx.OperationStarted(op)
			mx.OperationSent(p.protocol, p.transport, 1, 52)
			mx.OperationEnded(op)
		}
		for _, m := range []string{"OpenSession", "ExecuteStatement", "FetchResults", "GetOperationStatus", "CloseOperation", "CloseSession"} {
			mx.RPC(p.proto, m, "SUCCESS_STATUS", time.Millisecond)
		}
	}
	h := mx.Handler()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code)
		}
	}
}
