package thriftfront

import (
	"context"
	"errors"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sparkbridge/sparkbridge/engine"
	"github.com/sparkbridge/sparkbridge/idl/hiveserver"
)

// Error codes the bridge itself reports in TStatus.errorCode, beside Spark's SQLSTATEs.
const (
	codeInvalidHandle  = 10001
	codeNotSupported   = 10002
	codeUnavailable    = 10003
	codeInternal       = 10004
	codeInvalidRequest = 10005
	codeLimit          = 10006
	codeTimeout        = 10007
)

// wireError is an error with the fields HS2 clients read: message, SQLSTATE and error code.
type wireError struct {
	msg      string
	sqlState string
	code     int32
}

func (e *wireError) Error() string { return e.msg }

func invalidHandle(what string) error {
	return &wireError{msg: "Invalid " + what + " handle", sqlState: "HY000", code: codeInvalidHandle}
}

// missingRequest answers a call whose request struct was absent from the message.
func missingRequest(method string) error {
	return invalidRequest(method + " carried no request")
}

func notSupported(what string) error {
	return &wireError{msg: what + " is not supported by sparkbridge", sqlState: "0A000", code: codeNotSupported}
}

func invalidRequest(msg string) error {
	return &wireError{msg: msg, sqlState: "HY000", code: codeInvalidRequest}
}

// toWire is the one place where any error becomes its HS2 form. Spark errors arrive as gRPC
// statuses whose ErrorInfo carries the SQLSTATE and error class; engine-layer errors carry a
// kind.
func toWire(err error) *wireError {
	var we *wireError
	if errors.As(err, &we) {
		return we
	}
	// An engine-layer kind says what went wrong on the bridge's side, whatever gRPC status
	// it wraps: a launch that timed out (DeadlineExceeded inside KindUnavailable) is 08S01,
	// not a Spark error.
	if k := engine.KindOf(err); k != engine.KindInternal {
		return kindToWire(k, err)
	}
	if st, ok := status.FromError(err); ok && st.Code() != codes.Unknown || ok && len(st.Details()) > 0 {
		out := &wireError{msg: st.Message(), sqlState: "HY000", code: codeInternal}
		if st.Code() == codes.Unavailable {
			out.code = codeUnavailable
			out.sqlState = "08S01"
		}
		for _, d := range st.Details() {
			if info, ok := d.(*errdetails.ErrorInfo); ok {
				if s := info.GetMetadata()["sqlState"]; s != "" {
					out.sqlState = s
				}
				if cls := info.GetMetadata()["errorClass"]; cls != "" && out.msg == "" {
					out.msg = cls
				}
			}
		}
		if st.Code() == codes.Canceled {
			out.msg = "operation cancelled: " + out.msg
		}
		return out
	}
	if errors.Is(err, context.Canceled) {
		return &wireError{msg: "operation cancelled", sqlState: "HY008", code: codeInternal}
	}
	return &wireError{msg: err.Error(), sqlState: "HY000", code: codeInternal}
}

// kindToWire is the HS2 form of an engine-layer error of kind k.
func kindToWire(k engine.Kind, err error) *wireError {
	switch k {
	case engine.KindUnavailable, engine.KindEngineLost, engine.KindShuttingDown:
		return &wireError{msg: err.Error(), sqlState: "08S01", code: codeUnavailable}
	case engine.KindNotFound:
		return &wireError{msg: err.Error(), sqlState: "HY000", code: codeInvalidHandle}
	case engine.KindPermissionDenied:
		return &wireError{msg: err.Error(), sqlState: "42000", code: codeInvalidRequest}
	case engine.KindResourceExhausted:
		return &wireError{msg: err.Error(), sqlState: "53000", code: codeLimit}
	case engine.KindInvalidArgument:
		return &wireError{msg: err.Error(), sqlState: "HY000", code: codeInvalidRequest}
	}
	return &wireError{msg: err.Error(), sqlState: "HY000", code: codeInternal}
}

// errorClass returns the Spark error class carried by a gRPC error, or "".
func errorClass(err error) string {
	st, ok := status.FromError(err)
	if !ok {
		return ""
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetMetadata()["errorClass"]
		}
	}
	return ""
}

func okStatus() *hiveserver.TStatus {
	return &hiveserver.TStatus{StatusCode: hiveserver.TStatusCode_SUCCESS_STATUS}
}

func errStatus(err error) *hiveserver.TStatus {
	we := toWire(err)
	code := we.code
	sc := hiveserver.TStatusCode_ERROR_STATUS
	if code == codeInvalidHandle {
		sc = hiveserver.TStatusCode_INVALID_HANDLE_STATUS
	}
	return &hiveserver.TStatus{
		StatusCode:   sc,
		ErrorMessage: &we.msg,
		SqlState:     &we.sqlState,
		ErrorCode:    &code,
	}
}
