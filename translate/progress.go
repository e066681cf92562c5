package translate

import (
	"fmt"
	"sort"

	"github.com/sparkbridge/sparkbridge/idl/hiveserver"
	"github.com/sparkbridge/sparkbridge/proto/spark/connect"
)

// progressHeader is the column set Hive clients (beeline's in-place progress bar) expect.
var progressHeader = []string{"STAGES", "ATTEMPT", "STATUS", "TOTAL", "COMPLETED", "RUNNING", "PENDING", "FAILED", "KILLED"}

// ProgressUpdate turns the latest Spark Connect execution progress into HiveServer2's
// progress report. p may be nil (no progress seen yet); finished marks a completed
// operation.
func ProgressUpdate(p *connect.ExecutePlanResponse_ExecutionProgress, startMillis int64, finished bool) *hiveserver.TProgressUpdateResp {
	resp := &hiveserver.TProgressUpdateResp{HeaderNames: progressHeader, Rows: [][]string{}, StartTime: startMillis,
		Status: hiveserver.TJobExecutionStatus_IN_PROGRESS}
	if finished {
		resp.Status = hiveserver.TJobExecutionStatus_COMPLETE
		resp.ProgressedPercentage = 1
	}
	if p == nil {
		if !finished {
			resp.Status = hiveserver.TJobExecutionStatus_NOT_AVAILABLE
		}
		return resp
	}
	stages := append([]*connect.ExecutePlanResponse_ExecutionProgress_StageInfo(nil), p.GetStages()...)
	sort.Slice(stages, func(i, j int) bool { return stages[i].GetStageId() < stages[j].GetStageId() })
	var total, completed, doneStages int64
	running := p.GetNumInflightTasks()
	for _, s := range stages {
		total += s.GetNumTasks()
		done := s.GetNumCompletedTasks()
		state := "RUNNING"
		// Progress arrives every few seconds, so the last report may predate the end: once
		// the operation has finished, every stage it reported has too.
		if s.GetDone() || finished {
			state = "FINISHED"
			doneStages++
		}
		if finished {
			done = s.GetNumTasks()
		}
		completed += done
		resp.Rows = append(resp.Rows, []string{fmt.Sprintf("Stage-%d", s.GetStageId()), "0", state,
			fmt.Sprint(s.GetNumTasks()), fmt.Sprint(done), "0", fmt.Sprint(s.GetNumTasks() - done), "0", "0"})
	}
	if running > 0 && len(resp.Rows) > 0 && !finished {
		// Spark reports in-flight tasks for the whole execution; show them on the last open stage.
		for i := len(stages) - 1; i >= 0; i-- {
			if !stages[i].GetDone() {
				resp.Rows[i][5] = fmt.Sprint(running)
				break
			}
		}
	}
	if !finished && total > 0 {
		resp.ProgressedPercentage = float64(completed) / float64(total)
	}
	resp.FooterSummary = fmt.Sprintf("STAGES: %02d/%02d", doneStages, len(stages))
	return resp
}

// ProgressLog renders execution progress as operation-log lines, one per stage.
func ProgressLog(p *connect.ExecutePlanResponse_ExecutionProgress) []string {
	var lines []string
	for _, s := range p.GetStages() {
		state := "running"
		if s.GetDone() {
			state = "finished"
		}
		lines = append(lines, fmt.Sprintf("Stage %d: %d/%d tasks completed (%s)", s.GetStageId(), s.GetNumCompletedTasks(), s.GetNumTasks(), state))
	}
	return lines
}

// LogRowSet is an operation-log page: one string column, one row per line.
func LogRowSet(lines []string, startRowOffset int64, columnar bool) *hiveserver.TRowSet {
	rs := &hiveserver.TRowSet{StartRowOffset: startRowOffset, Rows: []*hiveserver.TRow{}}
	if columnar {
		vals := append([]string{}, lines...)
		rs.Columns = []*hiveserver.TColumn{{StringVal: &hiveserver.TStringColumn{Values: vals, Nulls: make([]byte, (len(vals)+7)/8)}}}
		return rs
	}
	for _, l := range lines {
		v := l
		rs.Rows = append(rs.Rows, &hiveserver.TRow{ColVals: []*hiveserver.TColumnValue{{StringVal: &hiveserver.TStringValue{Value: &v}}}})
	}
	return rs
}
