package thriftfront

import (
	"context"
	"fmt"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sparkbridge/sparkbridge/engine"
)

// Every engine kind maps to its SQLSTATE and code, and a kind wins over any gRPC status it
// wraps: a bridge-side fault never reads as a Spark or client error.
func TestToWire(t *testing.T) {
	deadline := status.Error(codes.DeadlineExceeded, "deadline exceeded")
	sparkErr, _ := status.New(codes.InvalidArgument, "[TABLE_OR_VIEW_NOT_FOUND] no t").WithDetails(&errdetails.ErrorInfo{
		Reason: "org.apache.spark.sql.AnalysisException", Metadata: map[string]string{"sqlState": "42P01", "errorClass": "TABLE_OR_VIEW_NOT_FOUND"}})
	type want struct {
		state string
		code  int32
	}
	kinds := map[engine.Kind]want{
		engine.KindUnavailable:       {"08S01", codeUnavailable},
		engine.KindEngineLost:        {"08S01", codeUnavailable},
		engine.KindShuttingDown:      {"08S01", codeUnavailable},
		engine.KindNotFound:          {"HY000", codeInvalidHandle},
		engine.KindPermissionDenied:  {"42000", codeInvalidRequest},
		engine.KindResourceExhausted: {"53000", codeLimit},
		engine.KindInvalidArgument:   {"HY000", codeInvalidRequest},
	}
	for k, want := range kinds {
		for _, cause := range []error{nil, deadline, sparkErr.Err()} {
			err := &engine.Error{Kind: k, Msg: "bridge says " + k.String(), Err: cause}
			we := toWire(err)
			if we.sqlState != want.state || we.code != want.code {
				t.Errorf("kind %s wrapping %v: %s/%d, want %s/%d", k, cause, we.sqlState, we.code, want.state, want.code)
			}
		}
	}
	for name, c := range map[string]struct {
		err   error
		state string
		code  int32
	}{
		"spark error":               {sparkErr.Err(), "42P01", codeInternal},
		"internal kind wraps spark": {&engine.Error{Kind: engine.KindInternal, Msg: "x", Err: sparkErr.Err()}, "42P01", codeInternal},
		"unavailable status":        {status.Error(codes.Unavailable, "down"), "08S01", codeUnavailable},
		"plain error":               {fmt.Errorf("boom"), "HY000", codeInternal},
		"cancelled":                 {context.Canceled, "HY008", codeInternal},
		"wire error":                {notSupported("X"), "0A000", codeNotSupported},
	} {
		if we := toWire(c.err); we.sqlState != c.state || we.code != c.code {
			t.Errorf("%s: %s/%d, want %s/%d", name, we.sqlState, we.code, c.state, c.code)
		}
	}
}
