package engine

import (
	"context"
	"time"

	"github.com/sirupsen/logrus"
)

// reap runs until Close, looking for idle engines, engines past their lifetime, engines that
// fail their liveness probe, and idle sessions and operations.
func (m *Manager) reap() {
	defer m.wg.Done()
	t := time.NewTicker(m.cfg.ReapInterval)
	defer t.Stop()
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-t.C:
		}
		m.reapEngines()
		m.reapSessions()
	}
}

func (m *Manager) reapEngines() {
	m.mu.Lock()
	engines := make([]*Engine, 0, len(m.engines))
	for e := range m.engines {
		engines = append(engines, e)
	}
	m.mu.Unlock()
	now := time.Now()
	for _, e := range engines {
		e.mu.Lock()
		idle := e.sessions == 0 && e.IdleTimeout > 0 && now.Sub(e.idleSince) >= e.IdleTimeout && e.Static == ""
		expired := m.cfg.MaxLifetime > 0 && now.Sub(e.Started) >= m.cfg.MaxLifetime && !e.draining && e.Static == ""
		if expired {
			e.draining, e.drainReason = true, "drained after its maximum lifetime"
		}
		drained := e.draining && (e.sessions == 0 || !e.drainBy.IsZero() && !now.Before(e.drainBy))
		reason := e.drainReason
		probeDue := m.cfg.LivenessInterval > 0 && now.Sub(e.lastProbe) >= m.cfg.LivenessInterval && !e.dead && !e.stopping
		if probeDue {
			e.lastProbe = now
		}
		e.mu.Unlock()

		switch {
		case idle:
			m.wg.Add(1)
			go func(e *Engine) { defer m.wg.Done(); m.stopEngine(e, "idle timeout") }(e)
			continue
		case drained:
			m.wg.Add(1)
			go func(e *Engine) { defer m.wg.Done(); m.stopEngine(e, reason) }(e)
			continue
		case expired:
			// New sessions of this key go to a new engine from now on.
			m.mu.Lock()
			if sl, ok := m.slots[e.Key]; ok && sl.eng == e {
				delete(m.slots, e.Key)
			}
			m.mu.Unlock()
			m.log.WithFields(logrus.Fields{"engine": e.ID, "key": e.Key}).Info("engine reached its maximum lifetime; draining")
			m.obs.EngineChanged(EngineEvent{Type: EventDraining, ID: e.ID, Key: e.Key, User: e.User, Reason: "maximum lifetime"})
		}
		if probeDue {
			m.wg.Add(1)
			go m.checkLiveness(e)
		}
	}
}

// checkLiveness probes one engine; three failures in a row count as a crash.
func (m *Manager) checkLiveness(e *Engine) {
	defer m.wg.Done()
	ctx, cancel := context.WithTimeout(m.ctx, 10*time.Second)
	defer cancel()
	_, err := e.conn.SparkVersion(ctx)
	if m.ctx.Err() != nil {
		return
	}
	// The cluster manager's word settles it at once: a driver it reports ended is lost,
	// whatever the probe said.
	if st := m.refreshCluster(m.ctx, e); st.Ended() && st.Err == "" {
		m.log.WithFields(logrus.Fields{"engine": e.ID, "app_id": e.appID, "state": st.State}).Warn("the cluster manager reports the engine's driver gone")
		m.stopEngine(e, "its cluster manager reports it "+st.State)
		return
	}
	e.mu.Lock()
	if err == nil {
		e.probeFails = 0
		e.mu.Unlock()
		return
	}
	e.probeFails++
	fails := e.probeFails
	e.mu.Unlock()
	m.log.WithError(err).WithFields(logrus.Fields{"engine": e.ID, "failures": fails}).Warn("engine liveness probe failed")
	if fails >= 3 {
		m.loseEngine(e, "failed three liveness probes")
	}
}

func (m *Manager) reapSessions() {
	m.mu.Lock()
	sessions := make([]*Session, 0, len(m.sessions))
	for _, s := range m.sessions {
		sessions = append(sessions, s)
	}
	m.mu.Unlock()
	now := time.Now()
	for _, s := range sessions {
		var expired []*Operation
		running := false
		s.mu.Lock()
		for _, op := range s.ops {
			if m.cfg.OperationIdleTimeout > 0 && now.Sub(time.Unix(0, op.lastUsed.Load())) >= m.cfg.OperationIdleTimeout {
				expired = append(expired, op)
			} else if op.State() == OpRunning {
				running = true
			}
		}
		s.mu.Unlock()
		for _, op := range expired {
			m.log.WithFields(logrus.Fields{"session": s.ID, "operation": op.ID}).Info("closing idle operation")
			op.expire()
		}
		if m.cfg.SessionIdleTimeout > 0 && !running && now.Sub(time.Unix(0, s.lastUsed.Load())) >= m.cfg.SessionIdleTimeout {
			m.log.WithFields(logrus.Fields{"session": s.ID, "user": s.User}).Info("closing idle session")
			s.setEndReason("closed after being idle")
			ctx, cancel := context.WithTimeout(m.ctx, 10*time.Second)
			_ = s.release(ctx, "idle")
			cancel()
		}
	}
}
