package engine

import (
	"sync"
	"unicode/utf8"
)

// MaxRecentFailures is how many failed operations the Manager remembers after they have
// left the registry: the operators' "what just went wrong", not a history.
const MaxRecentFailures = 50

// maxFailureText bounds the statement and the message a remembered failure keeps, in bytes,
// so that the memory the ring holds is bounded whatever clients send or engines answer.
const maxFailureText = 4096

// Failure is an operation that failed: the operation as it was when it failed (State
// ERROR, Finished set) and the message its client was given.
type Failure struct {
	Operation OperationInfo
	Message   string
}

// failureRing holds the most recent failures, at most MaxRecentFailures. Its zero value is
// empty and ready.
type failureRing struct {
	// mu guards buf and next.
	mu   sync.Mutex
	buf  []Failure // in arrival order until full, then a ring whose oldest entry is at next
	next int
}

func (r *failureRing) add(f Failure) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.buf) < MaxRecentFailures {
		r.buf = append(r.buf, f)
		return
	}
	r.buf[r.next] = f
	r.next = (r.next + 1) % MaxRecentFailures
}

// list returns the failures newest first.
func (r *failureRing) list() []Failure {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Failure, 0, len(r.buf))
	for i := len(r.buf) - 1; i >= 0; i-- {
		out = append(out, r.buf[(r.next+i)%len(r.buf)])
	}
	return out
}

// Fail records that the operation failed with message, the error its client was given (the
// error OperationInfo, observers and the audit log report): its state is ERROR, and it joins the Manager's recent failures (RecentFailures), which outlive
// the registry's entry. An operation cancelled by an operator stays CANCELED and is not a
// failure. Only the move into ERROR is recorded, however often Fail is called.
func (op *Operation) Fail(message string) {
	op.mu.Lock()
	op.err = message
	op.mu.Unlock()
	was, now := op.setState(OpError)
	op.Touch()
	if now != OpError || was == OpError {
		return
	}
	in := op.info()
	in.Statement = cut(in.Statement, maxFailureText)
	op.s.m.failures.add(Failure{Operation: in, Message: cut(message, maxFailureText)})
}

// RecentFailures lists the last failed operations that f selects (by user and protocol),
// newest first, whether or not they are still registered.
func (m *Manager) RecentFailures(f Filter) []Failure {
	var out []Failure
	for _, fl := range m.failures.list() {
		if f.matches(fl.Operation.User, fl.Operation.Protocol) {
			out = append(out, fl)
		}
	}
	return out
}

// cut shortens s to at most n bytes without splitting a UTF-8 sequence, marking the cut.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = " …"
	n -= len(mark)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + mark
}
