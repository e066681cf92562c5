package connectfront

import (
	"context"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// errCutOff is what a call still running when the shutdown's grace period ends gets. Not
// UNAVAILABLE or CANCELLED: PySpark retries UNAVAILABLE for ten minutes, against a bridge
// that is gone.
var errCutOff = status.Error(codes.Aborted, "sparkbridge is shutting down and its grace period is over: this call was cut off; "+
	"create a new SparkSession (against another bridge, or this one once restarted)")

// abortable gives every call a context that Abort cancels, and reports such a call as cut
// off by the shutdown.
type abortable struct {
	ctx      context.Context
	cancel   context.CancelFunc
	inFlight atomic.Int64 // calls being served
}

func newAbortable() *abortable {
	ctx, cancel := context.WithCancel(context.Background())
	return &abortable{ctx: ctx, cancel: cancel}
}

func (a *abortable) bind(ctx context.Context) (context.Context, context.CancelFunc) {
	a.inFlight.Add(1)
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(a.ctx, cancel)
	return ctx, func() { stop(); cancel(); a.inFlight.Add(-1) }
}

func (a *abortable) result(err error) error {
	if err != nil && a.ctx.Err() != nil {
		return errCutOff
	}
	return err
}

func (a *abortable) unary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	ctx, done := a.bind(ctx)
	defer done()
	resp, err := h(ctx, req)
	return resp, a.result(err)
}

func (a *abortable) stream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	ctx, done := a.bind(ss.Context())
	defer done()
	return a.result(h(srv, &ctxStream{ServerStream: ss, ctx: ctx}))
}

type ctxStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *ctxStream) Context() context.Context { return s.ctx }
