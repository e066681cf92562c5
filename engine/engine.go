package engine

import (
	"context"
	"sync"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/sparkbridge/sparkbridge/proto/spark/connect"
)

// Engine is one running Spark Connect server and the bridge's client connection to it.
type Engine struct {
	// ID is unique per launch; a relaunched engine for the same key gets a new ID.
	ID string
	// Key is the routing key the engine serves (the user, at the USER share level).
	Key     string
	User    string
	Started time.Time
	// Version is the engine's Spark version, as it reported when it became ready.
	Version string

	proc   Process
	conn   *grpc.ClientConn
	client connect.SparkConnectServiceClient

	// mu guards dead.
	mu   sync.Mutex
	dead bool
}

// EngineInfo describes an engine for introspection.
type EngineInfo struct {
	ID      string
	Key     string
	User    string
	PID     int
	Addr    string
	Started time.Time
	Alive   bool
}

func (e *Engine) info() EngineInfo {
	return EngineInfo{ID: e.ID, Key: e.Key, User: e.User, PID: e.proc.PID(), Addr: e.proc.Addr(), Started: e.Started, Alive: e.alive()}
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

// bearer adds the engine's secret to every call. The engine listens on loopback only, so
// the secret travels without TLS.
type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	if b == "" {
		return nil, nil
	}
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

func (bearer) RequireTransportSecurity() bool { return false }

func dialEngine(p Process, maxMsg int) (*grpc.ClientConn, error) {
	return grpc.NewClient(p.Addr(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(bearer(p.Token())),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMsg), grpc.MaxCallSendMsgSize(maxMsg)),
		// Bulk result streams: large windows keep a fast reader from stalling on flow control.
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 2 * time.Second}, MinConnectTimeout: 5 * time.Second}),
		grpc.WithInitialWindowSize(8<<20),
		grpc.WithInitialConnWindowSize(16<<20),
	)
}

// probe asks the engine for its Spark version: the engine is ready once it answers.
func probe(ctx context.Context, c connect.SparkConnectServiceClient) (string, error) {
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
