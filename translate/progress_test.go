package translate

import (
	"testing"

	"github.com/sparkbridge/sparkbridge/idl/hiveserver"
	"github.com/sparkbridge/sparkbridge/proto/spark/connect"
)

func TestProgressUpdate(t *testing.T) {
	p := &connect.ExecutePlanResponse_ExecutionProgress{NumInflightTasks: 2, Stages: []*connect.ExecutePlanResponse_ExecutionProgress_StageInfo{
		{StageId: 3, NumTasks: 4, NumCompletedTasks: 1},
		{StageId: 1, NumTasks: 4, NumCompletedTasks: 4, Done: true},
	}}
	r := ProgressUpdate(p, 1234, false)
	if r.Status != hiveserver.TJobExecutionStatus_IN_PROGRESS || r.ProgressedPercentage != 5.0/8 || r.StartTime != 1234 {
		t.Fatalf("%+v", r)
	}
	if len(r.Rows) != 2 || r.Rows[0][0] != "Stage-1" || r.Rows[0][2] != "FINISHED" || r.Rows[1][2] != "RUNNING" || r.Rows[1][5] != "2" || r.Rows[1][6] != "3" {
		t.Fatalf("rows %v", r.Rows)
	}
	if r.FooterSummary != "STAGES: 01/02" || len(r.HeaderNames) != 9 {
		t.Fatalf("footer %q header %v", r.FooterSummary, r.HeaderNames)
	}
	done := ProgressUpdate(p, 0, true)
	if done.Status != hiveserver.TJobExecutionStatus_COMPLETE || done.ProgressedPercentage != 1 || done.FooterSummary != "STAGES: 02/02" {
		t.Fatalf("finished: %+v", done)
	}
	// A finished operation shows every stage finished, even if the last report was older.
	if r := done.Rows[1]; r[2] != "FINISHED" || r[4] != "4" || r[5] != "0" || r[6] != "0" {
		t.Fatalf("finished stage row %v", r)
	}
	if none := ProgressUpdate(nil, 0, false); none.Status != hiveserver.TJobExecutionStatus_NOT_AVAILABLE {
		t.Fatalf("no progress: %+v", none)
	}
	if lines := ProgressLog(p); len(lines) != 2 || lines[0] != "Stage 3: 1/4 tasks completed (running)" {
		t.Fatalf("log %q", lines)
	}
}
