package engine

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/sparkbridge/sparkbridge/proto/spark/connect"
)

// Session is one client session on a user's engine. Its ID is also the Spark Connect
// session id on the engine, so a Thrift session and a Connect session are the same kind
// of thing to the engine.
type Session struct {
	ID       string
	User     string
	Protocol string
	Created  time.Time

	eng      *Engine
	m        *Manager
	lastUsed atomic.Int64 // unix nanos
}

// SessionInfo describes a session for introspection.
type SessionInfo struct {
	ID       string
	User     string
	Protocol string
	EngineID string
	Created  time.Time
	LastUsed time.Time
}

func (s *Session) info() SessionInfo {
	return SessionInfo{ID: s.ID, User: s.User, Protocol: s.Protocol, EngineID: s.eng.ID, Created: s.Created, LastUsed: time.Unix(0, s.lastUsed.Load())}
}

func (s *Session) touch() { s.lastUsed.Store(time.Now().UnixNano()) }

// Client is a Spark Connect client bound to the session's engine. Requests sent through it
// must carry this session's ID and UserContext.
func (s *Session) Client() connect.SparkConnectServiceClient {
	s.touch()
	return s.eng.client
}

// UserContext is the user context the engine sees for this session.
func (s *Session) UserContext() *connect.UserContext {
	return &connect.UserContext{UserId: s.User, UserName: s.User}
}

// SparkVersion is the Spark version of the session's engine.
func (s *Session) SparkVersion() string { return s.eng.Version }

// EngineID identifies the engine serving the session.
func (s *Session) EngineID() string { return s.eng.ID }

// Err returns an Unavailable error when the session's engine has stopped, and nil otherwise.
// Frontends call it to turn a transport failure into a clear message.
func (s *Session) Err() error {
	if s.eng.alive() {
		return nil
	}
	return newError(KindUnavailable, nil, "the engine serving this session (%s) has stopped", s.eng.ID)
}

// Close releases the engine-side session and forgets it.
func (s *Session) Close(ctx context.Context) error {
	s.m.forget(s)
	if !s.eng.alive() {
		return nil
	}
	_, err := s.eng.client.ReleaseSession(ctx, &connect.ReleaseSessionRequest{SessionId: s.ID, UserContext: s.UserContext()})
	return err
}

// Detach forgets the session without telling the engine: for a Connect client that has
// released the session itself.
func (s *Session) Detach() { s.m.forget(s) }
