package translate

import "github.com/sparkbridge/sparkbridge/proto/spark/connect"

// StatementPlan returns the Spark Connect plan that runs one HiveServer2
// statement. The statement is sent as a SQL relation at the root of the plan,
// so the engine parses and analyses it exactly as spark.sql(sql) would:
// queries stream their rows back as Arrow batches, and commands (DDL, SET,
// INSERT) run eagerly and return their result rows, if any, the same way.
//
// The relation carries no plan id: plan ids only matter to clients that refer
// back to parts of an earlier plan, which a HiveServer2 statement never does.
func StatementPlan(sql string) *connect.Plan {
	return &connect.Plan{
		OpType: &connect.Plan_Root{
			Root: &connect.Relation{
				RelType: &connect.Relation_Sql{
					Sql: &connect.SQL{Query: sql},
				},
			},
		},
	}
}
