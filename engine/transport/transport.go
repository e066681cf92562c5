// Package transport is the gRPC channel from the bridge to one engine's Spark Connect server.
//
// It is the only package under engine that links gRPC: engine itself (and so thriftfront,
// which builds on it) sees an engine through the engine.Conn interface, which *Conn
// satisfies. Every error a Conn method returns is an *Error: the gRPC status reduced to its
// code name, message, and the SQLSTATE and Spark error class of Spark's ErrorInfo, which
// engine turns into its own error vocabulary. It imports nothing of engine, so engine's own
// tests can dial through it.
//
// The Spark Connect frontend relays calls byte for byte and so needs the generated client
// itself: Client gives it.
package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"time"

	"github.com/google/uuid"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/sparkbridge/sparkbridge/proto/spark/connect"
	"github.com/sparkbridge/sparkbridge/proto/spark/connect/connectgrpc"
)

// Conn is a client connection to one engine.
type Conn struct {
	cc     *grpc.ClientConn
	client connectgrpc.SparkConnectServiceClient
}

// Dial returns a connection to the engine at addr, which authenticates every call with
// token (when not empty) and uses TLS when tlsConf is not nil. It does not wait for the
// engine: the first call does.
func Dial(addr, token string, tlsConf *tls.Config, maxMsg int) (*Conn, error) {
	creds := insecure.NewCredentials()
	if tlsConf != nil {
		creds = credentials.NewTLS(tlsConf)
	}
	cc, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(creds),
		grpc.WithPerRPCCredentials(bearer(token)),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMsg), grpc.MaxCallSendMsgSize(maxMsg)),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 2 * time.Second}, MinConnectTimeout: 5 * time.Second}),
		// Bulk result streams: large windows keep a fast reader from stalling on flow control.
		grpc.WithInitialWindowSize(8<<20),
		grpc.WithInitialConnWindowSize(16<<20),
		// Read result frames in large pieces: fewer syscalls per megabyte of Arrow.
		grpc.WithReadBufferSize(256<<10),
	)
	if err != nil {
		return nil, err
	}
	return &Conn{cc: cc, client: connectgrpc.NewSparkConnectServiceClient(cc)}, nil
}

// bearer sends the engine's secret as Spark Connect's bearer token.
type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	if b == "" {
		return nil, nil
	}
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

func (bearer) RequireTransportSecurity() bool { return false }

// Client is the generated client, for the frontend that relays calls unchanged.
func (c *Conn) Client() connectgrpc.SparkConnectServiceClient { return c.client }

// Close closes the connection.
func (c *Conn) Close() error { return c.cc.Close() }

// ExecutePlan starts an execution and returns the function that reads its responses, one
// per call, then io.EOF.
func (c *Conn) ExecutePlan(ctx context.Context, req *connect.ExecutePlanRequest) (func() (*connect.ExecutePlanResponse, error), error) {
	stream, err := c.client.ExecutePlan(ctx, req)
	if err != nil {
		return nil, Wrap(err)
	}
	return func() (*connect.ExecutePlanResponse, error) {
		resp, err := stream.Recv()
		if err != nil {
			return nil, Wrap(err)
		}
		return resp, nil
	}, nil
}

// Config runs a conf request.
func (c *Conn) Config(ctx context.Context, req *connect.ConfigRequest) (*connect.ConfigResponse, error) {
	resp, err := c.client.Config(ctx, req)
	return resp, Wrap(err)
}

// Interrupt runs an interrupt request.
func (c *Conn) Interrupt(ctx context.Context, req *connect.InterruptRequest) (*connect.InterruptResponse, error) {
	resp, err := c.client.Interrupt(ctx, req)
	return resp, Wrap(err)
}

// ReleaseSession releases a session on the engine. Spark 3.5 engines have no
// ReleaseSession: they keep a session until they stop, and that is not an error.
func (c *Conn) ReleaseSession(ctx context.Context, req *connect.ReleaseSessionRequest) error {
	_, err := c.client.ReleaseSession(ctx, req)
	if status.Code(err) == codes.Unimplemented {
		return nil
	}
	return Wrap(err)
}

// SparkVersion asks the engine for its Spark version, in a session of its own that it
// releases: the engine is ready (or alive) when it answers.
func (c *Conn) SparkVersion(ctx context.Context) (string, error) {
	sid := uuid.NewString()
	uc := &connect.UserContext{UserId: "sparkbridge", UserName: "sparkbridge"}
	resp, err := c.client.AnalyzePlan(ctx, &connect.AnalyzePlanRequest{
		SessionId:   sid,
		UserContext: uc,
		Analyze:     &connect.AnalyzePlanRequest_SparkVersion_{SparkVersion: &connect.AnalyzePlanRequest_SparkVersion{}},
	})
	if err != nil {
		return "", Wrap(err)
	}
	_, _ = c.client.ReleaseSession(ctx, &connect.ReleaseSessionRequest{SessionId: sid, UserContext: uc})
	return resp.GetSparkVersion().GetVersion(), nil
}

// Error is a failed call: the gRPC status, with the SQLSTATE and error class Spark puts in
// its ErrorInfo detail.
type Error struct {
	// Code is the gRPC code's name, such as "Unavailable" or "InvalidArgument".
	Code       string
	Msg        string
	SQLState   string
	ErrorClass string
	// Err is the gRPC error.
	Err error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// RPCStatus returns the parts of the status engine normalises.
func (e *Error) RPCStatus() (code, msg, sqlState, errorClass string) {
	return e.Code, e.Msg, e.SQLState, e.ErrorClass
}

// Wrap turns the error of a gRPC call into an *Error; nil stays nil, and an error that is
// not a gRPC status (a cancelled context before the call began, say) is returned as it is.
func Wrap(err error) error {
	if err == nil {
		return nil
	}
	var already *Error
	if errors.As(err, &already) {
		return err
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	out := &Error{Code: st.Code().String(), Msg: st.Message(), Err: err}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			out.SQLState = info.GetMetadata()["sqlState"]
			out.ErrorClass = info.GetMetadata()["errorClass"]
			break
		}
	}
	return out
}
