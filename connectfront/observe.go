package connectfront

import (
	"context"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
)

// Observer is told of the frontend's connections, calls and failed logins, for metrics
// (package metrics implements it; the frontend links no metrics library). Its methods run
// on gRPC's goroutines and must return quickly. protocol is always "connect".
type Observer interface {
	// ConnOpened and ConnClosed bracket every HTTP/2 connection gRPC serves.
	ConnOpened(protocol string)
	ConnClosed(protocol string)
	// ConnFailed counts a connection that did not start with the HTTP/2 preface
	// ("handshake").
	ConnFailed(protocol, reason string)
	// RPC reports a call: its full method (/spark.connect.SparkConnectService/ExecutePlan),
	// the gRPC code the client got (OK, Unavailable, ...) and how long it took.
	RPC(protocol, method, code string, d time.Duration)
	// AuthFailed counts a refused bearer token ("bearer").
	AuthFailed(protocol, mechanism string)
}

// protoConnect is the Observer's protocol label.
const protoConnect = "connect"

type nopObserver struct{}

func (nopObserver) ConnOpened(string)                         {}
func (nopObserver) ConnClosed(string)                         {}
func (nopObserver) ConnFailed(string, string)                 {}
func (nopObserver) RPC(string, string, string, time.Duration) {}
func (nopObserver) AuthFailed(string, string)                 {}

// observer reports every call from the outermost interceptors, and every connection from
// gRPC's stats handler. gRPC calls interceptors only for registered methods, so the method
// label is bounded.
type observer struct{ o Observer }

var _ stats.Handler = observer{}

func (ob observer) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	start := time.Now()
	resp, err := h(ctx, req)
	ob.o.RPC(protoConnect, info.FullMethod, status.Code(err).String(), time.Since(start))
	return resp, err
}

func (ob observer) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	start := time.Now()
	err := h(srv, ss)
	ob.o.RPC(protoConnect, info.FullMethod, status.Code(err).String(), time.Since(start))
	return err
}

func (ob observer) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context   { return ctx }
func (ob observer) HandleRPC(context.Context, stats.RPCStats)                         {}
func (ob observer) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }

func (ob observer) HandleConn(_ context.Context, s stats.ConnStats) {
	switch s.(type) {
	case *stats.ConnBegin:
		ob.o.ConnOpened(protoConnect)
	case *stats.ConnEnd:
		ob.o.ConnClosed(protoConnect)
	}
}
