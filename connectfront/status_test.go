package connectfront

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sparkbridge/sparkbridge/engine"
	"github.com/sparkbridge/sparkbridge/engine/transport"
)

// Every engine kind maps to one gRPC code whatever status it wraps: an engine that did not
// start in time (a DeadlineExceeded inside KindUnavailable) is UNAVAILABLE, and an engine
// refusing the bridge's own token is INTERNAL, never UNAUTHENTICATED, which would blame the
// client. Only Spark's own error keeps the engine's status, details and all.
func TestToStatus(t *testing.T) {
	deadline := transport.Wrap(status.Error(codes.DeadlineExceeded, "deadline exceeded"))
	unauth := transport.Wrap(status.Error(codes.Unauthenticated, "bad token"))
	st, _ := status.New(codes.InvalidArgument, "[TABLE_OR_VIEW_NOT_FOUND] no t").WithDetails(&errdetails.ErrorInfo{
		Metadata: map[string]string{"sqlState": "42P01", "errorClass": "TABLE_OR_VIEW_NOT_FOUND"}})
	spark := transport.Wrap(st.Err())
	want := map[engine.Kind]codes.Code{
		engine.KindInternal:          codes.Internal,
		engine.KindUnavailable:       codes.Unavailable,
		engine.KindEngineLost:        codes.Aborted,
		engine.KindShuttingDown:      codes.Aborted,
		engine.KindNotFound:          codes.NotFound,
		engine.KindPermissionDenied:  codes.PermissionDenied,
		engine.KindResourceExhausted: codes.ResourceExhausted,
		engine.KindInvalidArgument:   codes.InvalidArgument,
		engine.KindCanceled:          codes.Canceled,
		engine.KindSpark:             codes.Unknown, // without an engine status to keep
	}
	for _, k := range engine.Kinds {
		code, ok := want[k]
		if !ok {
			t.Errorf("kind %s has no row in this table", k)
			continue
		}
		causes := []error{nil, deadline, unauth, context.Canceled, errors.New("x")}
		if k == engine.KindSpark {
			causes = []error{nil, errors.New("x")} // a status it wraps is the answer: below
		}
		for _, cause := range causes {
			err := fmt.Errorf("opening: %w", &engine.Error{Kind: k, Msg: "bridge says " + k.String(), Err: cause})
			if got := status.Code(toStatus(err)); got != code {
				t.Errorf("kind %s wrapping %v: %s, want %s", k, cause, got, code)
			}
		}
	}
	// Spark's error keeps its code and ErrorInfo.
	got, _ := status.FromError(toStatus(&engine.Error{Kind: engine.KindSpark, Msg: "[TABLE_OR_VIEW_NOT_FOUND] no t", Err: spark}))
	if got.Code() != codes.InvalidArgument || len(got.Details()) != 1 || got.Message() != "[TABLE_OR_VIEW_NOT_FOUND] no t" {
		t.Errorf("spark error became %s %q with %d details", got.Code(), got.Message(), len(got.Details()))
	}
	for name, c := range map[string]struct {
		err  error
		code codes.Code
	}{
		"own status": {status.Error(codes.InvalidArgument, "session_id is required"), codes.InvalidArgument},
		"cancelled":  {context.Canceled, codes.Canceled},
		"deadline":   {context.DeadlineExceeded, codes.DeadlineExceeded},
		"plain":      {errors.New("boom"), codes.Internal},
	} {
		if got := status.Code(toStatus(c.err)); got != c.code {
			t.Errorf("%s: %s, want %s", name, got, c.code)
		}
	}
}
