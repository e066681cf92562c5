package thriftfront

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sparkbridge/sparkbridge/engine"
	"github.com/sparkbridge/sparkbridge/idl/hiveserver"
)

// An operator's cancel (engine.Manager.CancelOperation, the admin API's DELETE) interrupts
// the engine execution and the polling client reads CANCELED_STATE, as after its own
// CancelOperation.
func TestOperatorCancelIsSeenByThePollingClient(t *testing.T) {
	b := startBridge(t)
	c := b.noSASLClient(t)
	sh := openSession(t, c, "alice", hiveserver.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V10)
	op := execAsync(t, c, sh, "hang")
	ops := b.mgr.Operations(engine.Filter{User: "alice"})
	if len(ops) != 1 {
		t.Fatalf("registry: %+v", ops)
	}
	if _, err := b.mgr.CancelOperation(context.Background(), ops[0].ID); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(b.spark.Interrupts(), ops[0].ID) {
		t.Fatalf("the engine was not asked to interrupt %s: %v", ops[0].ID, b.spark.Interrupts())
	}
	deadline := time.Now().Add(5 * time.Second)
	for pollState(t, c, op) != hiveserver.TOperationState_CANCELED_STATE {
		if time.Now().After(deadline) {
			t.Fatal("the client never read CANCELED_STATE")
		}
		time.Sleep(20 * time.Millisecond)
	}
	logs, err := c.FetchResults(context.Background(), &hiveserver.TFetchResultsReq{OperationHandle: op, FetchType: 1, MaxRows: 100, Orientation: hiveserver.TFetchOrientation_FETCH_FIRST})
	if err != nil {
		t.Fatal(err)
	}
	mustOK(t, logs.Status)
	if lines := strings.Join(logs.Results.Columns[0].StringVal.Values, "\n"); !strings.Contains(lines, "Cancelled by an administrator") {
		t.Fatalf("the operation log does not say who cancelled it:\n%s", lines)
	}
	if got := b.mgr.Operations(engine.Filter{}); len(got) != 1 || got[0].State != engine.OpCanceled {
		t.Fatalf("registry after the cancel: %+v", got)
	}
	closeOp(t, c, op)
}

// A session an operator closes (engine.Manager.CloseSession) is gone for its client: the next
// call on it says it was closed by an administrator, and its operations are freed.
func TestOperatorCloseSessionIsSeenByTheClient(t *testing.T) {
	b := startBridge(t)
	c := b.noSASLClient(t)
	sh := openSession(t, c, "alice", hiveserver.TProtocolVersion_HIVE_CLI_SERVICE_PROTOCOL_V10)
	execAsync(t, c, sh, "hang")
	ss := b.mgr.Sessions(engine.Filter{User: "alice"})
	if len(ss) != 1 {
		t.Fatalf("registry: %+v", ss)
	}
	if err := b.mgr.CloseSession(context.Background(), ss[0].ID); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(b.spark.Released(), ss[0].ID) {
		t.Fatalf("the engine-side session was not released: %v", b.spark.Released())
	}
	resp, err := c.ExecuteStatement(context.Background(), &hiveserver.TExecuteStatementReq{SessionHandle: sh, Statement: "rows 1"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status.StatusCode == hiveserver.TStatusCode_SUCCESS_STATUS || !strings.Contains(resp.Status.GetErrorMessage(), "closed by an administrator") {
		t.Fatalf("a statement on the closed session: %v %q", resp.Status.StatusCode, resp.Status.GetErrorMessage())
	}
	waitRegistryEmpty(t, b.mgr)
}

func waitRegistryEmpty(t *testing.T, mgr *engine.Manager) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(mgr.Operations(engine.Filter{})) != 0 || len(mgr.Sessions(engine.Filter{})) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("registry not empty: %+v", mgr.Sessions(engine.Filter{}))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
