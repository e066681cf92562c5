package admin

import (
	"context"
	"sync"
	"time"

	"github.com/sparkbridge/sparkbridge/engine"
)

// fakeRegistry is a Registry with fixed contents that records what it was asked to do.
type fakeRegistry struct {
	sessions []engine.SessionInfo
	engines  []engine.EngineInfo
	failures []engine.Failure

	// mu guards the fields below.
	mu        sync.Mutex
	closed    []string
	cancelled []string
	drained   map[string]time.Duration
	draining  bool
}

var _ Registry = (*fakeRegistry)(nil)

func newFakeRegistry() *fakeRegistry {
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	long := make([]byte, 1500)
	for i := range long {
		long[i] = 'x'
	}
	return &fakeRegistry{
		sessions: []engine.SessionInfo{
			{ID: "s-alice", User: "alice", Protocol: "thrift", EngineID: "engine-a", Key: "user/alice", Holders: 1, Created: t0, LastUsed: t0,
				Operations: []engine.OperationInfo{{ID: "op-a", Kind: engine.KindStatement, Statement: "SELECT " + string(long), State: engine.OpRunning,
					SessionID: "s-alice", User: "alice", Protocol: "thrift", EngineID: "engine-a", Started: t0, LastUsed: t0, Rows: 10, Bytes: 100}}},
			{ID: "s-bob", User: "bob", Protocol: "connect", EngineID: "engine-b", Key: "user/bob", Holders: 1, Created: t0.Add(time.Second), LastUsed: t0,
				Operations: []engine.OperationInfo{{ID: "op-b", Kind: engine.KindExecute, Statement: "Sql: SELECT 1", State: engine.OpFinished,
					SessionID: "s-bob", User: "bob", Protocol: "connect", EngineID: "engine-b", Started: t0, Finished: t0.Add(time.Second), LastUsed: t0}}},
		},
		engines: []engine.EngineInfo{
			{ID: "engine-a", Key: "user/alice", User: "alice", ShareLevel: engine.ShareUser, State: engine.EngineReady, Master: "local[*]", PID: 42,
				Addr: "127.0.0.1:4000", Sessions: 1, Started: t0},
			{ID: "engine-b", Key: "user/bob", User: "bob", ShareLevel: engine.ShareUser, State: engine.EngineDraining, Master: "spark://m:7077",
				AppID: "app-1", Addr: "10.0.0.2:15002", Sessions: 1, Started: t0,
				Cluster: engine.DriverStatus{State: "RUNNING", Host: "10.0.0.9", Checked: t0}},
			{ID: "engine-c", Key: "user/carol", User: "carol", ShareLevel: engine.ShareUser, State: engine.EngineLaunching, Master: "local[*]", Started: t0},
		},
		failures: []engine.Failure{
			{Operation: engine.OperationInfo{ID: "op-f", Kind: engine.KindStatement, Statement: "SELECT * FROM <missing>", State: engine.OpError,
				SessionID: "s-gone", User: "dave", Protocol: "thrift", EngineID: "engine-a", Started: t0, Finished: t0.Add(2 * time.Second)},
				Message: "[TABLE_OR_VIEW_NOT_FOUND] The table or view `<missing>` cannot be found."},
			{Operation: engine.OperationInfo{ID: "op-g", Kind: engine.KindExecute, Statement: "Sql: SELECT 1/0", State: engine.OpError,
				SessionID: "s-bob", User: "bob", Protocol: "connect", EngineID: "engine-b", Started: t0, Finished: t0.Add(time.Second)},
				Message: "[DIVIDE_BY_ZERO] Division by zero."},
		},
		drained: map[string]time.Duration{},
	}
}

func (f *fakeRegistry) RecentFailures(flt engine.Filter) []engine.Failure {
	var out []engine.Failure
	for _, fl := range f.failures {
		if (flt.User == "" || fl.Operation.User == flt.User) && (flt.Protocol == "" || fl.Operation.Protocol == flt.Protocol) {
			out = append(out, fl)
		}
	}
	return out
}

func (f *fakeRegistry) Sessions(flt engine.Filter) []engine.SessionInfo {
	var out []engine.SessionInfo
	for _, s := range f.sessions {
		if flt.User != "" && s.User != flt.User || flt.Protocol != "" && s.Protocol != flt.Protocol {
			continue
		}
		if flt.State != "" {
			var keep []engine.OperationInfo
			for _, op := range s.Operations {
				if op.State == flt.State {
					keep = append(keep, op)
				}
			}
			if len(keep) == 0 {
				continue
			}
			s.Operations = keep
		}
		out = append(out, s)
	}
	return out
}

func (f *fakeRegistry) Operations(flt engine.Filter) []engine.OperationInfo {
	var out []engine.OperationInfo
	for _, s := range f.Sessions(flt) {
		out = append(out, s.Operations...)
	}
	return out
}

func (f *fakeRegistry) Engines() []engine.EngineInfo { return f.engines }

func (f *fakeRegistry) CloseSession(_ context.Context, id string) error {
	for _, s := range f.sessions {
		if s.ID == id {
			f.mu.Lock()
			f.closed = append(f.closed, id)
			f.mu.Unlock()
			return nil
		}
	}
	return notFound(id)
}

func (f *fakeRegistry) CancelOperation(_ context.Context, id string) (engine.OperationInfo, error) {
	for _, op := range f.Operations(engine.Filter{}) {
		if op.ID == id {
			f.mu.Lock()
			f.cancelled = append(f.cancelled, id)
			f.mu.Unlock()
			op.State = engine.OpCanceled
			return op, nil
		}
	}
	return engine.OperationInfo{}, notFound(id)
}

func (f *fakeRegistry) DrainEngine(id string, grace time.Duration) (engine.EngineInfo, error) {
	for _, e := range f.engines {
		if e.ID == id {
			f.mu.Lock()
			f.drained[id] = grace
			f.mu.Unlock()
			e.State = engine.EngineDraining
			return e, nil
		}
	}
	return engine.EngineInfo{}, notFound(id)
}

func (f *fakeRegistry) Drain() {
	f.mu.Lock()
	f.draining = true
	f.mu.Unlock()
}

func (f *fakeRegistry) Draining() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.draining
}

// notFound is the engine layer's NotFound error, as the real registry returns it.
func notFound(id string) error {
	_, err := (&engine.Manager{}).DrainEngine(id, 0)
	return err
}
