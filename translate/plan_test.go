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
