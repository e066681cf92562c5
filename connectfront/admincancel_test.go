package connectfront

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sparkbridge/sparkbridge/engine"
	"github.com/sparkbridge/sparkbridge/proto/spark/connect"
)

// An operator's cancel (engine.Manager.CancelOperation, the admin API's DELETE) interrupts the
// execution on the engine; an engine that does not end the stream itself (this fake keeps a
// "hang" open) has it ended by the bridge with CANCELLED after the grace period.
func TestOperatorCancelEndsTheExecutionStream(t *testing.T) {
	old := cancelGrace
	cancelGrace = 200 * time.Millisecond
	t.Cleanup(func() { cancelGrace = old })
	b := startBridge(t)
	sid, opID := uuid.NewString(), uuid.NewString()
	stream, err := b.client.ExecutePlan(context.Background(), &connect.ExecutePlanRequest{
		SessionId: sid, OperationId: &opID, UserContext: &connect.UserContext{UserId: "alice"}, Plan: sqlPlan("rows 10 hang")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil { // the rows: the execution is under way
		t.Fatal(err)
	}
	ops := b.mgr.Operations(engine.Filter{User: "alice", Protocol: "connect"})
	if len(ops) != 1 || ops[0].ID != opID {
		t.Fatalf("registry: %+v", ops)
	}
	if _, err := b.mgr.CancelOperation(context.Background(), opID); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(b.spark.Interrupts(), opID) {
		t.Fatalf("the engine was not asked to interrupt %s: %v", opID, b.spark.Interrupts())
	}
	for {
		_, err = stream.Recv()
		if err != nil {
			break
		}
	}
	if status.Code(err) != codes.Canceled || !strings.Contains(err.Error(), "OPERATION_CANCELED") {
		t.Fatalf("the client's stream ended with %v, want CANCELLED with OPERATION_CANCELED", err)
	}
	// The engine never answered the interrupt: the bridge cut the call and asked again, so
	// that a reattachable execution does not run on for a reattach.
	n := 0
	for _, id := range b.spark.Interrupts() {
		if id == opID {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("the engine was asked %d times to interrupt %s, want 2", n, opID)
	}
	waitRegistry(t, b, 0)
}

// A session an operator closes has its running execution cancelled and its engine-side
// session released.
func TestOperatorCloseSessionEndsItsExecutions(t *testing.T) {
	old := cancelGrace
	cancelGrace = 200 * time.Millisecond
	t.Cleanup(func() { cancelGrace = old })
	b := startBridge(t)
	sid := uuid.NewString()
	stream, err := b.client.ExecutePlan(context.Background(), &connect.ExecutePlanRequest{
		SessionId: sid, UserContext: &connect.UserContext{UserId: "alice"}, Plan: sqlPlan("hang")})
	if err != nil {
		t.Fatal(err)
	}
	waitRegistry(t, b, 1)
	if err := b.mgr.CloseSession(context.Background(), sid); err != nil {
		t.Fatal(err)
	}
	// The fake ends an interrupted "hang" as Spark does, with its own OPERATION_CANCELED
	// error, which reaches the client as the engine sent it.
	if _, err = stream.Recv(); !strings.Contains(fmt.Sprint(err), "OPERATION_CANCELED") {
		t.Fatalf("the session's execution ended with %v, want the engine's OPERATION_CANCELED", err)
	}
	if !slices.Contains(b.spark.Released(), sid) {
		t.Fatalf("the engine-side session was not released: %v", b.spark.Released())
	}
	if len(b.mgr.Sessions(engine.Filter{})) != 0 {
		t.Fatal("the closed session is still registered")
	}
}
