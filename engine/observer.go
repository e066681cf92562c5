package engine

import "time"

// Observer is told of the registry's events: sessions opening and closing, operations
// starting, sending and ending, engines launching, becoming ready, draining, stopping and
// being lost. It is the one hook the operations surfaces (metrics, the audit log) hang on;
// they read the registry itself (Manager.Sessions, Manager.Engines) for anything current.
//
// Every event is fired exactly once, from the one place where the thing it reports happens,
// never under a Manager, session or engine lock. Its methods run on the caller's goroutine,
// often a request's: they must return quickly and never call back into the Manager.
type Observer interface {
	// SessionOpened reports a session registered: a new one (Manager.Open) or a clone.
	SessionOpened(SessionInfo)
	// SessionOpenFailed reports a Manager.Open that failed.
	SessionOpenFailed(req SessionRequest, err error)
	// SessionClosed reports a session leaving the registry, for reason ("closed", "idle",
	// "detached").
	SessionClosed(s SessionInfo, reason string)
	// OperationStarted reports an operation registered.
	OperationStarted(OperationInfo)
	// OperationSent reports rows and bytes sent to the client of an operation of a session
	// of protocol and transport (one call per page or frame, never per row).
	OperationSent(protocol, transport string, rows, bytes int64)
	// OperationEnded reports an operation leaving the registry, with its final state
	// (RUNNING for one closed or expired while it ran), error, rows, bytes and duration.
	OperationEnded(OperationInfo)
	// EngineChanged reports an engine's lifecycle event.
	EngineChanged(EngineEvent)
}

// EngineEventType says what happened to an engine.
type EngineEventType string

// Engine events.
const (
	// EventLaunching: a launch began (Key and User are set; ID is not known yet).
	EventLaunching EngineEventType = "launching"
	// EventReady: the launch succeeded; Took is the launch's duration.
	EventReady EngineEventType = "ready"
	// EventLaunchFailed: the launch failed with Err after Took.
	EventLaunchFailed EngineEventType = "launch_failed"
	// EventDraining: the engine reached its maximum lifetime; new sessions go elsewhere.
	EventDraining EngineEventType = "draining"
	// EventStopped: the bridge stopped the engine, for Reason.
	EventStopped EngineEventType = "stopped"
	// EventLost: the engine died or stopped answering without being asked to (Reason).
	// A lost engine that the bridge then stops also gets EventStopped.
	EventLost EngineEventType = "lost"
)

// EngineEvent is one engine lifecycle event.
type EngineEvent struct {
	Type EngineEventType
	// ID is the engine's id; empty for EventLaunching and EventLaunchFailed.
	ID   string
	Key  string
	User string
	// Took is the launch's duration, for EventReady and EventLaunchFailed.
	Took   time.Duration
	Err    error
	Reason string
}

// Observers fans every event out to each of its members, in order.
type Observers []Observer

var _ Observer = Observers(nil)

// SessionOpened implements Observer.
func (os Observers) SessionOpened(s SessionInfo) {
	for _, o := range os {
		o.SessionOpened(s)
	}
}

// SessionOpenFailed implements Observer.
func (os Observers) SessionOpenFailed(req SessionRequest, err error) {
	for _, o := range os {
		o.SessionOpenFailed(req, err)
	}
}

// SessionClosed implements Observer.
func (os Observers) SessionClosed(s SessionInfo, reason string) {
	for _, o := range os {
		o.SessionClosed(s, reason)
	}
}

// OperationStarted implements Observer.
func (os Observers) OperationStarted(op OperationInfo) {
	for _, o := range os {
		o.OperationStarted(op)
	}
}

// OperationSent implements Observer.
func (os Observers) OperationSent(protocol, transport string, rows, bytes int64) {
	for _, o := range os {
		o.OperationSent(protocol, transport, rows, bytes)
	}
}

// OperationEnded implements Observer.
func (os Observers) OperationEnded(op OperationInfo) {
	for _, o := range os {
		o.OperationEnded(op)
	}
}

// EngineChanged implements Observer.
func (os Observers) EngineChanged(e EngineEvent) {
	for _, o := range os {
		o.EngineChanged(e)
	}
}
