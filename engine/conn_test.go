package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sparkbridge/sparkbridge/engine/transport"
)

// The normaliser gives every transport status the kind its code means, with Spark's SQLSTATE
// and error class from ErrorInfo, and leaves engine errors as they are.
func TestNormalise(t *testing.T) {
	spark, _ := status.New(codes.InvalidArgument, "[TABLE_OR_VIEW_NOT_FOUND] no t").WithDetails(&errdetails.ErrorInfo{
		Reason: "org.apache.spark.sql.AnalysisException", Metadata: map[string]string{"sqlState": "42P01", "errorClass": "TABLE_OR_VIEW_NOT_FOUND"}})
	bare, _ := status.New(codes.Internal, "").WithDetails(&errdetails.ErrorInfo{Metadata: map[string]string{"errorClass": "INTERNAL_ERROR"}})
	own := &Error{Kind: KindResourceExhausted, Msg: "limit"}
	for name, c := range map[string]struct {
		in                   error
		kind                 Kind
		msg, state, class    string
		sameAsInput, contain bool
	}{
		"spark error":     {in: transport.Wrap(spark.Err()), kind: KindSpark, msg: "[TABLE_OR_VIEW_NOT_FOUND] no t", state: "42P01", class: "TABLE_OR_VIEW_NOT_FOUND"},
		"class only":      {in: transport.Wrap(bare.Err()), kind: KindSpark, msg: "INTERNAL_ERROR", class: "INTERNAL_ERROR"},
		"unavailable":     {in: transport.Wrap(status.Error(codes.Unavailable, "connection refused")), kind: KindUnavailable, msg: "connection refused"},
		"deadline":        {in: transport.Wrap(status.Error(codes.DeadlineExceeded, "too slow")), kind: KindSpark, msg: "too slow"},
		"canceled status": {in: transport.Wrap(status.Error(codes.Canceled, "context canceled")), kind: KindCanceled, msg: "context canceled"},
		"unauthenticated": {in: transport.Wrap(status.Error(codes.Unauthenticated, "bad token")), kind: KindInternal, msg: "credentials", contain: true},
		"no message":      {in: transport.Wrap(status.Error(codes.ResourceExhausted, "")), kind: KindSpark, msg: "ResourceExhausted"},
		"context":         {in: fmt.Errorf("reading: %w", context.Canceled), kind: KindCanceled, msg: "operation cancelled", state: "HY008", contain: true},
		"engine error":    {in: own, kind: KindResourceExhausted, sameAsInput: true},
		"wrapped engine":  {in: fmt.Errorf("x: %w", own), kind: KindResourceExhausted, sameAsInput: true},
		"plain":           {in: errors.New("boom"), kind: KindInternal, sameAsInput: true},
	} {
		got := normalise(c.in)
		if KindOf(got) != c.kind {
			t.Errorf("%s: kind %s, want %s", name, KindOf(got), c.kind)
		}
		if c.sameAsInput {
			if got != c.in {
				t.Errorf("%s: %v was changed into %v", name, c.in, got)
			}
			continue
		}
		var e *Error
		if !errors.As(got, &e) {
			t.Fatalf("%s: %T is not an *Error", name, got)
		}
		if c.contain && !strings.Contains(e.Error(), c.msg) || !c.contain && e.Error() != c.msg {
			t.Errorf("%s: message %q, want %q", name, e.Error(), c.msg)
		}
		if e.SQLState != c.state || e.ErrorClass != c.class {
			t.Errorf("%s: %q/%q, want %q/%q", name, e.SQLState, e.ErrorClass, c.state, c.class)
		}
	}
	if normalise(nil) != nil {
		t.Error("nil became an error")
	}
}

// An engine that refuses the bridge's secret is the bridge's misconfiguration: the launch
// fails at once with an internal error that says so, instead of probing until the start
// timeout and then reaching the client as UNAUTHENTICATED.
func TestEngineRefusingBridgeCredentials(t *testing.T) {
	l := &fakeLauncher{t: t, wrongToken: true}
	cfg := fastConfig()
	cfg.StartTimeout = 3 * time.Second // the old probe loop gave up only here, with KindUnavailable
	m := NewManager(cfg, l, nil)
	defer m.Close(context.Background())
	_, err := m.Open(context.Background(), SessionRequest{User: "alice", Protocol: "thrift"})
	if KindOf(err) != KindInternal || !strings.Contains(err.Error(), "credentials") {
		t.Fatalf("open: %v (kind %s), want an internal error about the bridge's credentials", err, KindOf(err))
	}
	if n := l.launches.Load(); n != 1 {
		t.Fatalf("%d launches", n)
	}
	l.mu.Lock()
	stopped := l.procs[0].stopped.Load()
	l.mu.Unlock()
	if !stopped {
		t.Fatal("the refused engine was left running")
	}
}
