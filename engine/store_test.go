package engine

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The file store keeps records across instances (a restarted bridge), privately (mode
// 0600: records hold engine secrets), and replaces its file whole.
func TestFileStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "engines.json")
	s := NewFileStore(path)
	if recs, err := s.List(); err != nil || len(recs) != 0 {
		t.Fatalf("empty store: %v %v", recs, err)
	}
	a := EngineRecord{ID: "engine-a", Key: "user/alice", User: "alice", Level: ShareUser, Addr: "127.0.0.1:1", Token: "secret-a",
		AppID: "app-1", DriverID: "driver-20261130211530-0000", Master: "spark://127.0.0.1:7077", Started: time.Unix(100, 0).UTC(), IdleTimeout: time.Minute}
	b := a
	b.ID, b.Key, b.Started = "engine-b", "user/bob", time.Unix(50, 0).UTC()
	for _, r := range []EngineRecord{a, b} {
		if err := s.Put(r); err != nil {
			t.Fatal(err)
		}
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("store file: %v, %v", fi, err)
	}
	recs, err := NewFileStore(path).List()
	if err != nil || len(recs) != 2 || recs[0] != b || recs[1] != a {
		t.Fatalf("records read back: %+v, %v", recs, err)
	}
	if err := s.Delete("engine-b"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete("engine-b"); err != nil {
		t.Fatalf("deleting a missing record: %v", err)
	}
	if recs, _ := s.List(); len(recs) != 1 || recs[0] != a {
		t.Fatalf("after delete: %+v", recs)
	}
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.List(); err == nil {
		t.Fatal("a corrupt store read as empty")
	}
}

// Adopt routes a recorded engine's key to it again, without launching; a recorded engine
// that does not answer is forgotten.
func TestAdopt(t *testing.T) {
	l := &fakeLauncher{t: t}
	live, err := l.Launch(context.Background(), Spec{Name: "left-running"})
	if err != nil {
		t.Fatal(err)
	}
	l.launches.Store(0)
	store := NewFileStore(filepath.Join(t.TempDir(), "engines.json"))
	key := placementKeyFor(t, "alice")
	for _, r := range []EngineRecord{
		{ID: "engine-live", Key: key, User: "alice", Level: ShareUser, Addr: live.Addr(), Token: live.Token(), AppID: "app-live", Started: time.Now()},
		{ID: "engine-dead", Key: "user/bob", User: "bob", Level: ShareUser, Addr: deadAddr(t), Token: "x", AppID: "app-dead", Started: time.Now()},
	} {
		if err := store.Put(r); err != nil {
			t.Fatal(err)
		}
	}
	cfg := fastConfig()
	cfg.Detach, cfg.Store = true, store
	m := NewManager(cfg, l, nil)
	defer m.Close(context.Background())
	n, err := m.Adopt(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("adopted %d, %v", n, err)
	}
	s, err := m.Open(context.Background(), SessionRequest{User: "alice", Protocol: "thrift"})
	if err != nil {
		t.Fatal(err)
	}
	if s.EngineID() != "engine-live" || l.launches.Load() != 0 {
		t.Fatalf("alice's session is on %s after %d launches, want the adopted engine", s.EngineID(), l.launches.Load())
	}
	engines := m.Engines()
	if len(engines) != 1 || engines[0].AppID != "app-live" {
		t.Fatalf("engines: %+v", engines)
	}
	if recs, _ := store.List(); len(recs) != 1 || recs[0].ID != "engine-live" {
		t.Fatalf("records after adoption: %+v", recs)
	}
}

// placementKeyFor is the routing key the Manager gives user's default engine.
func placementKeyFor(t *testing.T, user string) string {
	t.Helper()
	l := &fakeLauncher{t: t}
	m := NewManager(fastConfig(), l, nil)
	defer m.Close(context.Background())
	s, err := m.Open(context.Background(), SessionRequest{User: user, Protocol: "thrift"})
	if err != nil {
		t.Fatal(err)
	}
	return s.info().Key
}

// A call that fails on a cluster-mode engine (no local process to watch) is checked at
// once: an engine that no longer answers is lost now, and forgotten, rather than after
// three liveness probes.
func TestRemoteEngineLostAtTheFailedCall(t *testing.T) {
	l := &fakeLauncher{t: t}
	live, err := l.Launch(context.Background(), Spec{Name: "remote"})
	if err != nil {
		t.Fatal(err)
	}
	l.launches.Store(0)
	store := NewFileStore(filepath.Join(t.TempDir(), "engines.json"))
	key := placementKeyFor(t, "alice")
	if err := store.Put(EngineRecord{ID: "engine-remote", Key: key, User: "alice", Level: ShareUser, Addr: live.Addr(), Token: live.Token(), Started: time.Now()}); err != nil {
		t.Fatal(err)
	}
	cfg := fastConfig()
	cfg.Detach, cfg.Store = true, store
	m := NewManager(cfg, l, nil)
	defer m.Close(context.Background())
	if n, err := m.Adopt(context.Background()); err != nil || n != 1 {
		t.Fatalf("adopted %d, %v", n, err)
	}
	s, err := m.Open(context.Background(), SessionRequest{User: "alice", Protocol: "thrift"})
	if err != nil {
		t.Fatal(err)
	}
	live.(*fakeProcess).srv.Stop() // the driver is gone; nothing on this host notices
	if err := s.SetConf(context.Background(), "spark.sql.ansi.enabled", "true"); KindOf(err) != KindEngineLost {
		t.Fatalf("a call on a vanished remote engine: %v (kind %s), want engine lost", err, KindOf(err))
	}
	waitFor(t, "the lost engine to be forgotten", func() bool { return len(m.Engines()) == 0 })
	if recs, _ := store.List(); len(recs) != 0 {
		t.Fatalf("the lost engine is still recorded: %+v", recs)
	}
}
