package translate

import (
	"testing"

	"github.com/sparkbridge/sparkbridge/proto/spark/connect"
	"google.golang.org/protobuf/proto"
)

func TestStatementPlan(t *testing.T) {
	const sql = "SELECT 1 AS one"
	got := StatementPlan(sql)
	want := &connect.Plan{OpType: &connect.Plan_Root{Root: &connect.Relation{
		RelType: &connect.Relation_Sql{Sql: &connect.SQL{Query: sql}},
	}}}
	if !proto.Equal(got, want) {
		t.Errorf("StatementPlan(%q) = %v, want %v", sql, got, want)
	}
	// The plan must survive the wire.
	b, err := proto.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	var back connect.Plan
	if err := proto.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if q := back.GetRoot().GetSql().GetQuery(); q != sql {
		t.Errorf("query after a round trip = %q, want %q", q, sql)
	}
}

func TestPlanSummary(t *testing.T) {
	for _, c := range []struct {
		plan *connect.Plan
		want string
	}{
		{StatementPlan("SELECT 1"), "SELECT 1"},
		{&connect.Plan{OpType: &connect.Plan_Command{Command: &connect.Command{CommandType: &connect.Command_SqlCommand{
			SqlCommand: &connect.SqlCommand{Sql: "CREATE TABLE t (a INT)"}}}}}, "CREATE TABLE t (a INT)"},
		{&connect.Plan{OpType: &connect.Plan_Command{Command: &connect.Command{CommandType: &connect.Command_SqlCommand{
			SqlCommand: &connect.SqlCommand{Input: StatementPlan("SHOW TABLES").GetRoot()}}}}}, "SHOW TABLES"},
		{&connect.Plan{OpType: &connect.Plan_Root{Root: &connect.Relation{RelType: &connect.Relation_Range{Range: &connect.Range{End: 10}}}}}, "relation range"},
		{&connect.Plan{OpType: &connect.Plan_Command{Command: &connect.Command{CommandType: &connect.Command_WriteOperation{
			WriteOperation: &connect.WriteOperation{}}}}}, "command write_operation"},
		{&connect.Plan{}, "empty plan"},
	} {
		if got := PlanSummary(c.plan); got != c.want {
			t.Errorf("%v: %q, want %q", c.plan, got, c.want)
		}
	}
}
