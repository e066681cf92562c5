package engine

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

func TestRecentFailuresAreBoundedNewestFirstAndOutliveTheRegistry(t *testing.T) {
	m := NewManager(fastConfig(), &fakeLauncher{t: t}, nil)
	defer m.Close(context.Background())
	alice, err := m.Open(context.Background(), SessionRequest{User: "alice", Protocol: "thrift"})
	if err != nil {
		t.Fatal(err)
	}
	bob, err := m.Open(context.Background(), SessionRequest{User: "bob", Protocol: "connect"})
	if err != nil {
		t.Fatal(err)
	}

	// A finished and a cancelled operation are no failures; an error is, once, and it stays
	// listed after the operation has left the registry.
	ok, _ := alice.StartOperation(OperationSpec{ID: "ok", Kind: KindStatement, Statement: "SELECT 1"})
	ok.SetState(OpFinished)
	cancelled, _ := alice.StartOperation(OperationSpec{ID: "cancelled", Kind: KindStatement, Statement: "SELECT sleep"})
	_ = cancelled.Cancel(context.Background()) // the fake engine answers no interrupt; it is cancelled anyway
	cancelled.Fail("interrupted")
	if st := cancelled.State(); st != OpCanceled {
		t.Fatalf("a cancelled operation that then failed is %s, want CANCELED", st)
	}
	bad, _ := alice.StartOperation(OperationSpec{ID: "bad", Kind: KindStatement, Statement: "SELECT * FROM nope"})
	bad.Fail("[TABLE_OR_VIEW_NOT_FOUND] The table or view `nope` cannot be found.")
	bad.Fail("again")
	bad.End()
	if st := bad.State(); st != OpError {
		t.Fatalf("failed operation is %s, want ERROR", st)
	}
	got := m.RecentFailures(Filter{})
	if len(got) != 1 {
		t.Fatalf("recent failures = %+v, want the one error", got)
	}
	f := got[0]
	if f.Operation.ID != "bad" || f.Operation.User != "alice" || f.Operation.Protocol != "thrift" || f.Operation.State != OpError ||
		f.Operation.Finished.IsZero() || f.Operation.EngineID == "" || !strings.Contains(f.Message, "TABLE_OR_VIEW_NOT_FOUND") {
		t.Fatalf("failure = %+v", f)
	}

	// Bounded, newest first, filtered by user and protocol; long texts are cut.
	long := strings.Repeat("é", maxFailureText)
	for i := range MaxRecentFailures + 5 {
		op, err := bob.StartOperation(OperationSpec{ID: fmt.Sprint("b", i), Kind: KindExecute, Statement: long})
		if err != nil {
			t.Fatal(err)
		}
		op.Fail(long)
		op.End()
	}
	all := m.RecentFailures(Filter{})
	if len(all) != MaxRecentFailures {
		t.Fatalf("%d failures kept, want %d", len(all), MaxRecentFailures)
	}
	if all[0].Operation.ID != fmt.Sprint("b", MaxRecentFailures+4) || all[len(all)-1].Operation.ID != "b5" {
		t.Fatalf("failures run from %s to %s, want newest (b%d) to oldest kept (b5)", all[0].Operation.ID, all[len(all)-1].Operation.ID, MaxRecentFailures+4)
	}
	if n := len(all[0].Message); n > maxFailureText || !strings.HasSuffix(all[0].Message, "…") {
		t.Fatalf("a long message is kept at %d bytes: ...%q", n, all[0].Message[n-10:])
	}
	if n := len(all[0].Operation.Statement); n > maxFailureText {
		t.Fatalf("a long statement is kept at %d bytes", n)
	}
	if got := m.RecentFailures(Filter{User: "alice"}); len(got) != 0 {
		t.Fatalf("alice's failure should have been pushed out: %+v", got)
	}
	if got := m.RecentFailures(Filter{User: "bob", Protocol: "thrift"}); len(got) != 0 {
		t.Fatalf("bob has no thrift failures: %d listed", len(got))
	}
}
