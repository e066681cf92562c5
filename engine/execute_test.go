package engine

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/sparkbridge/sparkbridge/engine/enginetest"
	"github.com/sparkbridge/sparkbridge/engine/transport"
	"github.com/sparkbridge/sparkbridge/proto/spark/connect"
)

func sqlPlan(q string) *connect.Plan {
	return &connect.Plan{OpType: &connect.Plan_Root{Root: &connect.Relation{RelType: &connect.Relation_Sql{Sql: &connect.SQL{Query: q}}}}}
}

// The typed execution API: results come back through Results.Next, confs are set and read,
// and the engine's errors arrive normalised, with Spark's SQLSTATE and error class.
func TestTypedExecutionAPI(t *testing.T) {
	spark := enginetest.Start(t)
	cfg := fastConfig()
	cfg.Dial = DialWith(transport.Dial)
	m := NewManager(cfg, Static{Addr: spark.Addr}, nil)
	defer m.Close(context.Background())
	ctx := context.Background()
	s, err := m.Open(ctx, SessionRequest{User: "alice", Protocol: "thrift"})
	if err != nil {
		t.Fatal(err)
	}

	res, err := s.Execute(ctx, ExecuteRequest{OperationID: "0f0e6c1a-3b1d-4c55-8f6a-7d9e2b4c1a01", Plan: sqlPlan("rows 2500"), ClientType: "test"})
	if err != nil {
		t.Fatal(err)
	}
	var rows int64
	for {
		resp, err := res.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		rows += resp.GetArrowBatch().GetRowCount()
	}
	if rows != 2500 {
		t.Fatalf("%d rows", rows)
	}

	res, err = s.Execute(ctx, ExecuteRequest{Plan: sqlPlan("fail 42P01")})
	if err == nil {
		_, err = res.Next()
	}
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindSpark || e.SQLState != "42P01" || e.ErrorClass != "FAKE_ERROR" {
		t.Fatalf("failed statement: %#v", err)
	}

	if err := s.SetConf(ctx, "spark.sql.shuffle.partitions", "7"); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := s.GetConf(ctx, "spark.sql.shuffle.partitions"); err != nil || !ok || v != "7" {
		t.Fatalf("GetConf: %q %v %v", v, ok, err)
	}
	if v, ok, err := s.GetConf(ctx, "spark.unset"); err != nil || ok {
		t.Fatalf("GetConf of an unset key: %q %v %v", v, ok, err)
	}
	if err := s.Interrupt(ctx, "0f0e6c1a-3b1d-4c55-8f6a-7d9e2b4c1a01"); err != nil {
		t.Fatalf("interrupt: %v", err)
	}
	if got := spark.Interrupts(); len(got) != 1 || got[0] != "0f0e6c1a-3b1d-4c55-8f6a-7d9e2b4c1a01" {
		t.Fatalf("interrupts: %v", got)
	}
}

// A typed call whose engine dies during it fails with KindEngineLost, whichever call it was:
// the engine layer applies the check, no frontend has to remember it.
func TestTypedCallOnADyingEngineIsEngineLost(t *testing.T) {
	l := &fakeLauncher{t: t}
	m := NewManager(fastConfig(), l, nil)
	defer m.Close(context.Background())
	ctx := context.Background()
	s, err := m.Open(ctx, SessionRequest{User: "alice", Protocol: "thrift"})
	if err != nil {
		t.Fatal(err)
	}
	p := l.procs[0]
	p.srv.Stop() // the engine stops answering; its process exits a moment later
	exited := make(chan struct{})
	go func() { defer close(exited); time.Sleep(100 * time.Millisecond); p.exit() }()
	err = s.SetConf(ctx, "spark.sql.ansi.enabled", "true")
	<-exited
	if KindOf(err) != KindEngineLost {
		t.Fatalf("SetConf on a dying engine: %v (kind %s), want engine lost", err, KindOf(err))
	}
}
