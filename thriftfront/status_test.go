package thriftfront

import (
	"context"
	"fmt"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sparkbridge/sparkbridge/engine"
	"github.com/sparkbridge/sparkbridge/engine/transport"
)

// Every engine kind maps to its SQLSTATE and code, and the kind wins over any status it
// wraps: a bridge-side fault never reads as a Spark or client error.
func TestToWire(t *testing.T) {
	deadline := transport.Wrap(status.Error(codes.DeadlineExceeded, "deadline exceeded"))
	st, _ := status.New(codes.InvalidArgument, "[TABLE_OR_VIEW_NOT_FOUND] no t").WithDetails(&errdetails.ErrorInfo{
		Reason: "org.apache.spark.sql.AnalysisException", Metadata: map[string]string{"sqlState": "42P01", "errorClass": "TABLE_OR_VIEW_NOT_FOUND"}})
	sparkStatus := transport.Wrap(st.Err())
	type want struct {
		state string
		code  int32
	}
	kinds := map[engine.Kind]want{
		engine.KindInternal:          {"HY000", codeInternal},
		engine.KindUnavailable:       {"08S01", codeUnavailable},
		engine.KindEngineLost:        {"08S01", codeUnavailable},
		engine.KindShuttingDown:      {"08S01", codeUnavailable},
		engine.KindNotFound:          {"HY000", codeInvalidHandle},
		engine.KindPermissionDenied:  {"42000", codeInvalidRequest},
		engine.KindResourceExhausted: {"53000", codeLimit},
		engine.KindInvalidArgument:   {"HY000", codeInvalidRequest},
		engine.KindSpark:             {"HY000", codeInternal}, // no SQLSTATE given
		engine.KindCanceled:          {"HY008", codeInternal},
	}
	for _, k := range engine.Kinds {
		want, ok := kinds[k]
		if !ok {
			t.Errorf("kind %s has no row in this table", k)
			continue
		}
		for _, cause := range []error{nil, deadline, sparkStatus, context.Canceled} {
			for _, err := range []error{&engine.Error{Kind: k, Msg: "bridge says " + k.String(), Err: cause},
				fmt.Errorf("setting x: %w", &engine.Error{Kind: k, Msg: "wrapped", Err: cause})} {
				we := toWire(err)
				if we.sqlState != want.state || we.code != want.code {
					t.Errorf("%v (kind %s, cause %v): %s/%d, want %s/%d", err, k, cause, we.sqlState, we.code, want.state, want.code)
				}
			}
		}
	}
	for name, c := range map[string]struct {
		err   error
		msg   string
		state string
		code  int32
	}{
		"spark error": {&engine.Error{Kind: engine.KindSpark, Msg: "[TABLE_OR_VIEW_NOT_FOUND] no t", SQLState: "42P01", ErrorClass: "TABLE_OR_VIEW_NOT_FOUND"},
			"[TABLE_OR_VIEW_NOT_FOUND] no t", "42P01", codeInternal},
		"spark cancel": {&engine.Error{Kind: engine.KindCanceled, Msg: "interrupted", SQLState: "HY000"}, "operation cancelled: interrupted", "HY000", codeInternal},
		"plain error":  {fmt.Errorf("boom"), "boom", "HY000", codeInternal},
		"cancelled":    {context.Canceled, "operation cancelled", "HY008", codeInternal},
		"wire error":   {notSupported("X"), "X is not supported by sparkbridge", "0A000", codeNotSupported},
	} {
		if we := toWire(c.err); we.msg != c.msg || we.sqlState != c.state || we.code != c.code {
			t.Errorf("%s: %q %s/%d, want %q %s/%d", name, we.msg, we.sqlState, we.code, c.msg, c.state, c.code)
		}
	}
}
