package thriftfront

import (
	"os/exec"
	"strings"
	"testing"
)

// The Thrift frontend reaches engines through engine's typed execution API only: it links
// no gRPC at all, so it cannot pick a gRPC status apart or bypass the engine layer's error
// normaliser.
func TestNoGRPCDependency(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "google.golang.org/grpc") || strings.HasPrefix(dep, "google.golang.org/genproto/googleapis/rpc/errdetails") ||
			strings.HasSuffix(dep, "/connectgrpc") {
			t.Errorf("thriftfront depends on %s", dep)
		}
	}
}
