package thriftfront

import (
	"context"
	"errors"

	"github.com/sparkbridge/sparkbridge/auth"
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
	codeDenied         = 10008
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

// accessDenied refuses what the authenticated user may not do (impersonate another user).
func accessDenied(msg string) error {
	return &wireError{msg: msg, sqlState: "28000", code: codeInvalidRequest}
}

func invalidRequest(msg string) error {
	return &wireError{msg: msg, sqlState: "HY000", code: codeInvalidRequest}
}

// toWire is the one place where any error becomes its HS2 form. It maps the engine layer's
// vocabulary (engine.Error: kind, SQLSTATE, Spark error class) and the frontend's own
// wireErrors; it looks at nothing else, so the kind always decides. A cancelled context
// that never reached the engine layer is a cancellation; anything unknown is internal.
func toWire(err error) *wireError {
	var we *wireError
	if errors.As(err, &we) {
		return we
	}
	var ee *engine.Error
	if errors.As(err, &ee) {
		return kindToWire(ee, err)
	}
	switch {
	case auth.IsDenied(err):
		return &wireError{msg: err.Error(), sqlState: "28000", code: codeDenied}
	case auth.IsOverLimit(err):
		return &wireError{msg: err.Error(), sqlState: "53000", code: codeLimit}
	}
	if errors.Is(err, context.Canceled) {
		return &wireError{msg: "operation cancelled", sqlState: "HY008", code: codeInternal}
	}
	return &wireError{msg: err.Error(), sqlState: "HY000", code: codeInternal}
}

// kindToWire is the HS2 form of the engine-layer error ee, which err wraps.
func kindToWire(ee *engine.Error, err error) *wireError {
	switch ee.Kind {
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
	case engine.KindSpark:
		// Spark's message as it wrote it, with its SQLSTATE: what STS answers too.
		return &wireError{msg: err.Error(), sqlState: orDefault(ee.SQLState, "HY000"), code: codeInternal}
	case engine.KindCanceled:
		return &wireError{msg: "operation cancelled: " + err.Error(), sqlState: orDefault(ee.SQLState, "HY008"), code: codeInternal}
	}
	return &wireError{msg: err.Error(), sqlState: "HY000", code: codeInternal}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
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
