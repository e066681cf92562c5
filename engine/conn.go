package engine

import (
	"context"
	"crypto/tls"
	"errors"

	"github.com/sparkbridge/sparkbridge/proto/spark/connect"
)

// Conn is the bridge's channel to one engine's Spark Connect server. engine/transport
// provides the gRPC one; engine itself links no gRPC, so neither does a frontend that only
// uses the typed execution API of Session.
//
// A failed call returns an error with an RPCStatus method (transport.Error); normalise
// turns it into an *Error.
type Conn interface {
	// ExecutePlan starts an execution; the function it returns reads the responses, then
	// io.EOF.
	ExecutePlan(ctx context.Context, req *connect.ExecutePlanRequest) (func() (*connect.ExecutePlanResponse, error), error)
	Config(ctx context.Context, req *connect.ConfigRequest) (*connect.ConfigResponse, error)
	Interrupt(ctx context.Context, req *connect.InterruptRequest) (*connect.InterruptResponse, error)
	// ReleaseSession releases a session; an engine without the call (Spark 3.5) is not an
	// error.
	ReleaseSession(ctx context.Context, req *connect.ReleaseSessionRequest) error
	// SparkVersion is the readiness and liveness probe.
	SparkVersion(ctx context.Context) (string, error)
	Close() error
}

// Dialer connects to the engine at addr, authenticating with token, over TLS when tlsConf is
// not nil, with messages up to maxMsg bytes. cmd/sparkbridge passes transport.Dial.
type Dialer func(addr, token string, tlsConf *tls.Config, maxMsg int) (Conn, error)

// rpcStatus is what a transport error tells: the gRPC code's name, the message, and Spark's
// SQLSTATE and error class.
type rpcStatus interface {
	RPCStatus() (code, msg, sqlState, errorClass string)
}

// normalise is the one place where a failure reported by an engine call becomes an *Error.
// An *Error is returned as it is; a transport status gets the kind its code means; a
// cancelled context is KindCanceled; anything else is returned unchanged (KindInternal).
func normalise(err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	var rs rpcStatus
	if errors.As(err, &rs) {
		code, msg, sqlState, cls := rs.RPCStatus()
		out := &Error{Kind: KindSpark, Msg: msg, SQLState: sqlState, ErrorClass: cls, Err: err, fromRPC: true}
		switch code {
		case "Unavailable":
			out.Kind = KindUnavailable
		case "Canceled":
			out.Kind = KindCanceled
		case "Unauthenticated":
			// The bridge authenticates to its engines with their own secret; a refusal
			// is the bridge's misconfiguration (a static engine's token), never the
			// client's fault.
			out.Kind = KindInternal
			out.Msg = "the engine refused the bridge's credentials (check the engine's token): " + msg
		}
		if out.Msg == "" {
			out.Msg = cls
		}
		if out.Msg == "" {
			out.Msg = code
		}
		return out
	}
	if errors.Is(err, context.Canceled) {
		return &Error{Kind: KindCanceled, Msg: "operation cancelled", SQLState: "HY008", Err: err}
	}
	return err
}

// DialWith adapts a dial function that returns a concrete connection type, such as
// transport.Dial, to a Dialer: engine.DialWith(transport.Dial).
func DialWith[C Conn](dial func(addr, token string, tlsConf *tls.Config, maxMsg int) (C, error)) Dialer {
	return func(addr, token string, tlsConf *tls.Config, maxMsg int) (Conn, error) {
		c, err := dial(addr, token, tlsConf, maxMsg)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
}
