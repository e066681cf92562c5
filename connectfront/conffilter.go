package connectfront

import (
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sparkbridge/sparkbridge/engine"
	"github.com/sparkbridge/sparkbridge/proto/spark/connect"
)

// redacted replaces protected values, as Spark's own redaction does.
const redacted = "*********(redacted)"

// protected reports whether key is a protected conf key.
func (s *Server) protected(key string) bool {
	return engine.MatchConf(s.cfg.ProtectedConf, key)
}

// checkConfWrite refuses a Set or Unset that touches a protected key, naming the key. A
// silent Set is Spark's "apply what you can" (PySpark sends every builder option in one):
// as Spark itself does with a key it cannot set, the protected pairs are dropped from it and
// the rest goes on; the warnings name each dropped key, for the response.
func (s *Server) checkConfWrite(op *connect.ConfigRequest_Operation) (warnings []string, err error) {
	var keys []string
	switch {
	case op.GetSet() != nil:
		set := op.GetSet()
		if set.GetSilent() {
			kept := set.Pairs[:0:0]
			for _, kv := range set.GetPairs() {
				if s.protected(kv.GetKey()) {
					warnings = append(warnings, fmt.Sprintf("the Spark conf %q is protected by the bridge; it was not set", kv.GetKey()))
					continue
				}
				kept = append(kept, kv)
			}
			set.Pairs = kept
			return warnings, nil
		}
		for _, kv := range set.GetPairs() {
			keys = append(keys, kv.GetKey())
		}
	case op.GetUnset() != nil:
		keys = op.GetUnset().GetKeys()
	}
	for _, k := range keys {
		if s.protected(k) {
			return nil, status.Errorf(codes.PermissionDenied, "the Spark conf %q is protected by the bridge and cannot be changed by clients", k)
		}
	}
	return nil, nil
}

// redactConf hides protected values in a Config response, whatever the operation was
// (Get, GetWithDefault, GetOption, GetAll).
func (s *Server) redactConf(resp *connect.ConfigResponse) {
	for _, kv := range resp.GetPairs() {
		if kv.Value != nil && s.protected(kv.GetKey()) {
			v := redacted
			kv.Value = &v
		}
	}
}
