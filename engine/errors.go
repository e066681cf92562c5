package engine

import (
	"errors"
	"fmt"
)

// Kind classifies an engine-layer error so that each frontend can map it to its wire form.
type Kind int

// Error kinds.
const (
	// KindInternal is a bug or an unexpected condition in the bridge.
	KindInternal Kind = iota
	// KindUnavailable means the engine could not be launched, reached, or has died.
	KindUnavailable
	// KindNotFound means a session or operation handle is unknown.
	KindNotFound
	// KindPermissionDenied means the caller does not own what it referred to.
	KindPermissionDenied
	// KindInvalidArgument means the request itself is malformed.
	KindInvalidArgument
	// KindResourceExhausted means a configured limit was reached.
	KindResourceExhausted
	// KindEngineLost means the engine serving a call died during it. Retrying the same call
	// is pointless; the next one runs on a new engine.
	KindEngineLost
	// KindShuttingDown means the bridge is draining for shutdown and starts nothing new.
	// Clients should not retry against this bridge.
	KindShuttingDown
	// KindSpark means the engine refused or failed the request: Spark's own error, with the
	// SQLSTATE and error class Spark gave it, if any. The client's statement is usually the
	// cause.
	KindSpark
	// KindCanceled means the call was cancelled, by its client or by the bridge.
	KindCanceled
)

// Kinds lists every Kind, for tables that must cover them all.
var Kinds = []Kind{KindInternal, KindUnavailable, KindNotFound, KindPermissionDenied, KindInvalidArgument,
	KindResourceExhausted, KindEngineLost, KindShuttingDown, KindSpark, KindCanceled}

func (k Kind) String() string {
	switch k {
	case KindUnavailable:
		return "unavailable"
	case KindNotFound:
		return "not found"
	case KindPermissionDenied:
		return "permission denied"
	case KindInvalidArgument:
		return "invalid argument"
	case KindResourceExhausted:
		return "resource exhausted"
	case KindEngineLost:
		return "engine lost"
	case KindShuttingDown:
		return "shutting down"
	case KindSpark:
		return "spark"
	case KindCanceled:
		return "canceled"
	default:
		return "internal"
	}
}

// Error is the engine layer's error, the one vocabulary both frontends map to their wire
// forms. Msg is meant for the client; Err, when set, is the cause. SQLState and ErrorClass
// are Spark's, for an error the engine reported (KindSpark, KindCanceled), and empty
// otherwise.
type Error struct {
	Kind       Kind
	Msg        string
	SQLState   string
	ErrorClass string
	Err        error
	// fromRPC is set when Err is the transport status Msg was taken from.
	fromRPC bool
}

func (e *Error) Error() string {
	if e.Err != nil && !e.fromRPC { // a transport status only repeats Msg
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

func newError(k Kind, err error, format string, args ...any) *Error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...), Err: err}
}

// KindOf reports the Kind of err, or KindInternal when err is not an engine error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// IsUnavailable reports whether err means the engine could not be launched or reached.
func IsUnavailable(err error) bool { return err != nil && KindOf(err) == KindUnavailable }

// IsEngineLost reports whether err means the engine died during the call.
func IsEngineLost(err error) bool { return err != nil && KindOf(err) == KindEngineLost }

// ErrorClass returns the Spark error class err carries, or "".
func ErrorClass(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.ErrorClass
	}
	return ""
}
