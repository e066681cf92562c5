package connectfront

import (
	"path"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sparkbridge/sparkbridge/proto/spark/connect"
)

// redacted replaces protected values, as Spark's own redaction does.
const redacted = "*********(redacted)"

// protected reports whether key is a protected conf key.
func (s *Server) protected(key string) bool {
	for _, pat := range s.cfg.ProtectedConf {
		if pat == key {
			return true
		}
		if ok, _ := path.Match(pat, key); ok {
			return true
		}
	}
	return false
}

// checkConfWrite refuses a Set or Unset that touches a protected key.
func (s *Server) checkConfWrite(op *connect.ConfigRequest_Operation) error {
	var keys []string
	switch {
	case op.GetSet() != nil:
		for _, kv := range op.GetSet().GetPairs() {
			keys = append(keys, kv.GetKey())
		}
	case op.GetUnset() != nil:
		keys = op.GetUnset().GetKeys()
	}
	for _, k := range keys {
		if s.protected(k) {
			return status.Errorf(codes.PermissionDenied, "the Spark conf %q is protected by the bridge and cannot be changed by clients", k)
		}
	}
	return nil
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
