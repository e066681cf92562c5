package connectfront

import (
	"context"

	"google.golang.org/grpc/stats"

	"github.com/sparkbridge/sparkbridge/auth"
)

// admitter applies Config.Admission to gRPC connections, from gRPC's stats handler, which
// brackets every HTTP/2 connection: TagConn opens the connection's ticket for its client
// address (or records why the address is refused) in the connection's context, from which
// every call's context derives; ConnEnd releases it. A Spark Connect "connection" is thus
// the gRPC connection, as a binary HS2 connection is the TCP connection: PySpark opens one
// channel per SparkSession, a client that goes away releases what it held when its
// connection closes, and live sessions are bounded separately by the engine layer
// (MaxSessionsPerUser).
//
// A refused connection is not closed at once: its calls are answered, before any
// credential is looked at, with PERMISSION_DENIED (a denied address) or RESOURCE_EXHAUSTED
// (an address at its cap), whose message clients show.
type admitter struct {
	a   *auth.Admission
	obs Observer
}

var _ stats.Handler = admitter{}

// connAdmission is what TagConn leaves in a connection's context.
type connAdmission struct {
	ticket *auth.Ticket
	err    error // why the connection's address is refused; nil when admitted
}

type admissionKey struct{}

func (ad admitter) TagConn(ctx context.Context, info *stats.ConnTagInfo) context.Context {
	addr := ""
	if info.RemoteAddr != nil {
		addr = info.RemoteAddr.String()
	}
	t, err := ad.a.Open(addr)
	if err != nil {
		reason := "limit"
		if auth.IsDenied(err) {
			reason = "denied"
		}
		ad.obs.ConnFailed(protoConnect, reason)
	}
	return context.WithValue(ctx, admissionKey{}, &connAdmission{ticket: t, err: err})
}

func (ad admitter) HandleConn(ctx context.Context, s stats.ConnStats) {
	if _, ok := s.(*stats.ConnEnd); ok {
		if ca, _ := ctx.Value(admissionKey{}).(*connAdmission); ca != nil {
			ca.ticket.Release()
		}
	}
}

func (admitter) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }
func (admitter) HandleRPC(context.Context, stats.RPCStats)                       {}

// admission is the admission of a call's connection; nil (which admits everyone) without
// Config.Admission.
func admission(ctx context.Context) *connAdmission {
	ca, _ := ctx.Value(admissionKey{}).(*connAdmission)
	return ca
}

// admit admits user on the call's connection: a denied user, or one at a cap, is refused.
// A user already admitted on the connection is admitted again at no cost.
func (ca *connAdmission) admit(user string) error {
	if ca == nil {
		return nil
	}
	return ca.ticket.Admit(user)
}

// refused is why the call's connection was refused at its start, if it was.
func (ca *connAdmission) refused() error {
	if ca == nil {
		return nil
	}
	return ca.err
}
