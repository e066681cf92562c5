package engine

import (
	"context"
	"crypto/tls"
	"sync"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/sparkbridge/sparkbridge/proto/spark/connect"
	"github.com/sparkbridge/sparkbridge/proto/spark/connect/connectgrpc"
)

// Engine is one running Spark Connect server and the bridge's client connection to it.
type Engine struct {
	// ID is unique per launch; a relaunched engine for the same key gets a new ID.
	ID string
	// Key is the routing key the engine serves.
	Key string
	// User is the identity the engine runs as; empty for a SERVER engine.
	User  string
	Level ShareLevel
	// Static names the static engine this is, or is empty for a launched engine.
	Static  string
	Started time.Time
	// Version is the engine's Spark version, as it reported when it became ready.
	Version string
	// IdleTimeout stops the engine after this long without sessions; 0 means never.
	IdleTimeout time.Duration

	proc   Process
	conn   *grpc.ClientConn
	client connectgrpc.SparkConnectServiceClient

	// mu guards the fields below.
	mu         sync.Mutex
	dead       bool
	stopping   bool
	draining   bool
	sessions   int
	idleSince  time.Time // when sessions last dropped to 0
	probeFails int
	lastProbe  time.Time
}

// EngineInfo describes an engine for introspection.
type EngineInfo struct {
	ID         string
	Key        string
	User       string
	ShareLevel ShareLevel
	Static     string
	PID        int
	Addr       string
	State      string // running, draining, stopping, dead
	Sessions   int
	Started    time.Time
	// Idle is how long the engine has had no sessions; 0 while it has some.
	Idle time.Duration
}

func (e *Engine) info() EngineInfo {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := "running"
	switch {
	case e.dead:
		st = "dead"
	case e.stopping:
		st = "stopping"
	case e.draining:
		st = "draining"
	}
	var idle time.Duration
	if e.sessions == 0 {
		idle = time.Since(e.idleSince)
	}
	return EngineInfo{ID: e.ID, Key: e.Key, User: e.User, ShareLevel: e.Level, Static: e.Static, PID: e.proc.PID(), Addr: e.proc.Addr(),
		State: st, Sessions: e.sessions, Started: e.Started, Idle: idle}
}

func (e *Engine) alive() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return !e.dead
}

func (e *Engine) markDead() {
	e.mu.Lock()
	e.dead = true
	e.mu.Unlock()
}

// setStopping marks the engine as being stopped; it reports false if it already was.
func (e *Engine) setStopping() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopping {
		return false
	}
	e.stopping = true
	return true
}

func (e *Engine) isStopping() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stopping
}

func (e *Engine) isDraining() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.draining
}

func (e *Engine) addSession() {
	e.mu.Lock()
	e.sessions++
	e.mu.Unlock()
}

func (e *Engine) removeSession() {
	e.mu.Lock()
	e.sessions--
	if e.sessions == 0 {
		e.idleSince = time.Now()
	}
	e.mu.Unlock()
}

// bearer adds the engine's secret to every call. A launched engine listens on loopback
// only, so there the secret travels without TLS.
type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	if b == "" {
		return nil, nil
	}
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

func (bearer) RequireTransportSecurity() bool { return false }

// tlsProcess is a Process reached over TLS.
type tlsProcess interface {
	TLSConfig() *tls.Config
}

func dialEngine(p Process, maxMsg int) (*grpc.ClientConn, error) {
	creds := insecure.NewCredentials()
	if tp, ok := p.(tlsProcess); ok && tp.TLSConfig() != nil {
		creds = credentials.NewTLS(tp.TLSConfig())
	}
	return grpc.NewClient(p.Addr(),
		grpc.WithTransportCredentials(creds),
		grpc.WithPerRPCCredentials(bearer(p.Token())),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMsg), grpc.MaxCallSendMsgSize(maxMsg)),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 2 * time.Second}, MinConnectTimeout: 5 * time.Second}),
		// Bulk result streams: large windows keep a fast reader from stalling on flow control.
		grpc.WithInitialWindowSize(8<<20),
		grpc.WithInitialConnWindowSize(16<<20),
		// Read result frames in large pieces: fewer syscalls per megabyte of Arrow.
		grpc.WithReadBufferSize(256<<10),
	)
}

// probe asks the engine for its Spark version: the engine is ready (or alive) when it answers.
func probe(ctx context.Context, c connectgrpc.SparkConnectServiceClient) (string, error) {
	sid := uuid.NewString()
	uc := &connect.UserContext{UserId: "sparkbridge", UserName: "sparkbridge"}
	resp, err := c.AnalyzePlan(ctx, &connect.AnalyzePlanRequest{
		SessionId:   sid,
		UserContext: uc,
		Analyze:     &connect.AnalyzePlanRequest_SparkVersion_{SparkVersion: &connect.AnalyzePlanRequest_SparkVersion{}},
	})
	if err != nil {
		return "", err
	}
	_, _ = c.ReleaseSession(ctx, &connect.ReleaseSessionRequest{SessionId: sid, UserContext: uc})
	return resp.GetSparkVersion().GetVersion(), nil
}
