package engine

import (
	"context"
	"path/filepath"
	"time"

	"github.com/sirupsen/logrus"
)

// detached reports whether eng outlives the bridge: a launched engine, with Detach on.
func (m *Manager) detached(eng *Engine) bool {
	if !m.cfg.Detach || m.cfg.Store == nil || eng.Static != "" {
		return false
	}
	switch eng.proc.(type) {
	case *clusterProcess, *localProcess, *orphanProcess:
		return true
	}
	return false
}

// record keeps a detached engine in the store.
func (m *Manager) record(eng *Engine) {
	if !m.detached(eng) {
		return
	}
	r := EngineRecord{ID: eng.ID, Key: eng.Key, User: eng.User, Level: eng.Level, Addr: eng.proc.Addr(), Token: eng.proc.Token(),
		AppID: eng.appID, Master: eng.Master, SparkHome: m.cfg.SparkHome, Started: eng.Started, IdleTimeout: eng.IdleTimeout}
	switch p := eng.proc.(type) {
	case *clusterProcess:
		r.DriverID, r.Master, r.SparkHome = p.driverID, p.master, p.home
	case *localProcess:
		r.PID, r.ProcStart = p.PID(), p.started
	case *orphanProcess:
		r.PID, r.ProcStart = p.pid, p.start
	}
	if err := m.cfg.Store.Put(r); err != nil {
		m.log.WithError(err).WithField("engine", eng.ID).Error("cannot record a detached engine; a restarted bridge will not find it (it still stops itself when idle)")
	}
}

// unrecord drops a detached engine that stopped or was forgotten. An engine left running at
// shutdown is never forgotten, so it keeps its record.
func (m *Manager) unrecord(eng *Engine) {
	if !m.detached(eng) {
		return
	}
	if err := m.cfg.Store.Delete(eng.ID); err != nil {
		m.log.WithError(err).WithField("engine", eng.ID).Warn("cannot drop a stopped engine's record")
	}
}

// Adopt finds the detached engines a previous bridge left running (the store's records) and
// routes their keys to them again, so that users keep their engines, temp views and cached
// data across a restart. An engine that does not answer its probe is forgotten, and killed
// through its cluster manager in case it still runs. It returns how many it adopted.
func (m *Manager) Adopt(ctx context.Context) (int, error) {
	if !m.cfg.Detach || m.cfg.Store == nil {
		return 0, nil
	}
	recs, err := m.cfg.Store.List()
	if err != nil {
		return 0, err
	}
	adopted := 0
	for _, r := range recs {
		log := m.log.WithFields(logrus.Fields{"engine": r.ID, "key": r.Key, "app_id": r.AppID, "addr": r.Addr})
		var proc Process = &clusterProcess{addr: r.Addr, token: r.Token, appID: r.AppID, driverID: r.DriverID, master: r.Master, home: r.SparkHome,
			logPath: filepath.Join(m.cfg.LogDir, r.ID+"-adopted.log"), cm: newClusterManager(m.cfg, r.SparkHome, r.Master), done: make(chan struct{})}
		if r.PID != 0 {
			op := &orphanProcess{pid: r.PID, start: r.ProcStart, addr: r.Addr, token: r.Token, appID: r.AppID, grace: m.cfg.StopTimeout,
				done: make(chan struct{})}
			if !op.alive() {
				log.Info("a recorded client-mode engine is no longer running; forgetting it")
				_ = m.cfg.Store.Delete(r.ID)
				continue
			}
			proc = op
		}
		eng, err := m.adopt(ctx, r, proc)
		if err != nil {
			log.WithError(err).Warn("a recorded engine does not answer; forgetting it and killing it through its cluster manager")
			_ = m.cfg.Store.Delete(r.ID)
			kctx, cancel := context.WithTimeout(ctx, time.Minute)
			_ = proc.Stop(kctx)
			cancel()
			continue
		}
		if op, ok := proc.(*orphanProcess); ok {
			m.wg.Add(1)
			go func() { defer m.wg.Done(); op.poll(m.ctx) }()
		}
		m.refreshCluster(ctx, eng)
		adopted++
		log.Info("adopted a running engine")
		m.wg.Add(1)
		go m.watch(eng, log)
	}
	return adopted, nil
}

func (m *Manager) adopt(ctx context.Context, r EngineRecord, proc Process) (*Engine, error) {
	conn, err := m.dial(proc)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	version, err := conn.SparkVersion(pctx)
	cancel()
	if err != nil {
		_ = conn.Close()
		return nil, normalise(err)
	}
	eng := &Engine{ID: r.ID, Key: r.Key, User: r.User, Level: r.Level, Started: r.Started, Version: version, IdleTimeout: r.IdleTimeout,
		Master: r.Master, proc: proc, conn: conn, idleSince: time.Now(), appID: r.AppID}
	eng.cm, eng.ref = m.clusterOf(proc, r.Master, r.AppID)
	sl := &slot{ready: make(chan struct{}), eng: eng}
	close(sl.ready)
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, taken := m.slots[r.Key]; taken {
		_ = conn.Close()
		return nil, newError(KindInternal, nil, "key %s already has an engine", r.Key)
	}
	m.slots[r.Key] = sl
	m.engines[eng] = struct{}{}
	return eng, nil
}
