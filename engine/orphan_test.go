package engine

import (
	"context"
	"io"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// startOrphan starts a process in its own session, as a detached engine is.
func startOrphan(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The test reaps its child, as init reaps an orphan.
	reaped := make(chan struct{})
	go func() { _ = cmd.Wait(); close(reaped) }()
	t.Cleanup(func() { _ = syscall.Kill(cmd.Process.Pid, syscall.SIGKILL); <-reaped })
	return cmd
}

// A recorded process is known by its pid and start time: the same pid with another start
// time (a reused pid) is not the engine, and Stop ends the one that is.
func TestOrphanProcess(t *testing.T) {
	cmd := startOrphan(t)
	start, err := procStart(cmd.Process.Pid)
	if err != nil || start == 0 {
		t.Fatalf("procStart: %d, %v", start, err)
	}
	if other := (&orphanProcess{pid: cmd.Process.Pid, start: start + 1}); other.alive() {
		t.Fatal("a pid with another start time taken for the engine")
	}
	p := &orphanProcess{pid: cmd.Process.Pid, start: start, grace: time.Second, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	polled := make(chan struct{})
	go func() { p.poll(ctx); close(polled) }()
	if !p.alive() {
		t.Fatal("the running process is not alive")
	}
	if err := p.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed after Stop")
	}
	<-polled
}

// A detached client-mode engine's record carries its pid: a restarted bridge adopts it
// while that process runs, and forgets the record, without dialling, once it does not.
func TestAdoptClientModeEngine(t *testing.T) {
	l := &fakeLauncher{t: t}
	live, err := l.Launch(context.Background(), Spec{Name: "left-running"})
	if err != nil {
		t.Fatal(err)
	}
	l.launches.Store(0)
	cmd := startOrphan(t)
	start, _ := procStart(cmd.Process.Pid)
	store := NewFileStore(filepath.Join(t.TempDir(), "engines.json"))
	key := placementKeyFor(t, "alice")
	for _, r := range []EngineRecord{
		{ID: "engine-live", Key: key, User: "alice", Level: ShareUser, Addr: live.Addr(), Token: live.Token(), AppID: "local-1",
			PID: cmd.Process.Pid, ProcStart: start, Started: time.Now()},
		// The same live address, but the recorded process is gone: the record is stale.
		{ID: "engine-gone", Key: "user/bob", User: "bob", Level: ShareUser, Addr: live.Addr(), Token: live.Token(),
			PID: cmd.Process.Pid, ProcStart: start + 1, Started: time.Now()},
	} {
		if err := store.Put(r); err != nil {
			t.Fatal(err)
		}
	}
	cfg := fastConfig()
	cfg.Detach, cfg.Store = true, store
	m := NewManager(cfg, l, nil)
	n, err := m.Adopt(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("adopted %d, %v", n, err)
	}
	engines := m.Engines()
	if len(engines) != 1 || engines[0].ID != "engine-live" || engines[0].PID != cmd.Process.Pid {
		t.Fatalf("engines: %+v", engines)
	}
	if recs, _ := store.List(); len(recs) != 1 || recs[0].ID != "engine-live" {
		t.Fatalf("records: %+v", recs)
	}
	// A bridge that stops leaves it running, and its record in place.
	if err := m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st, err := procStart(cmd.Process.Pid); err != nil || st != start {
		t.Fatal("the bridge's shutdown stopped a detached engine")
	}
	if recs, _ := store.List(); len(recs) != 1 {
		t.Fatalf("records after shutdown: %+v", recs)
	}
}

// fakeCluster is a cluster manager whose view the test sets.
type fakeCluster struct {
	state atomic.Value
	kills atomic.Int32
}

func (f *fakeCluster) kill(context.Context, driverRef, io.Writer) error { f.kills.Add(1); return nil }
func (f *fakeCluster) status(context.Context, driverRef) (DriverStatus, error) {
	return DriverStatus{State: f.state.Load().(string), Host: "node7"}, nil
}

// The cluster manager's view is kept per engine at each liveness probe, and a driver it
// reports ended is lost at once, though its address still answers.
func TestClusterViewEndsEngine(t *testing.T) {
	l := &fakeLauncher{t: t}
	cfg := fastConfig()
	cfg.LivenessInterval = 30 * time.Millisecond
	m := NewManager(cfg, l, nil)
	defer m.Close(context.Background())
	s, err := m.Open(context.Background(), SessionRequest{User: "alice", Protocol: "thrift"})
	if err != nil {
		t.Fatal(err)
	}
	fc := &fakeCluster{}
	fc.state.Store("RUNNING")
	m.mu.Lock()
	for e := range m.engines {
		e.cm = fc
	}
	m.mu.Unlock()
	waitFor(t, "the cluster view", func() bool {
		e := m.Engines()
		return len(e) == 1 && e[0].Cluster.State == "RUNNING" && e[0].Cluster.Host == "node7" && !e[0].Cluster.Checked.IsZero()
	})
	fc.state.Store("KILLED")
	waitFor(t, "the engine forgotten", func() bool { return len(m.Engines()) == 0 })
	_ = s.Close(context.Background())
}
