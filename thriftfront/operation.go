package thriftfront

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sparkbridge/sparkbridge/engine"
	"github.com/sparkbridge/sparkbridge/idl/hiveserver"
	"github.com/sparkbridge/sparkbridge/proto/spark/connect"
	"github.com/sparkbridge/sparkbridge/translate"
)

// operation is one HS2 operation: a statement executed on the session's engine, or a
// metadata call answered from a small result. It is the HS2 state machine (state, error,
// schema, progress, log), and it owns a cursor, which serves the result.
//
// Lifecycle: run starts the execution and waits for its first Arrow batch (or its end); the
// operation is then FINISHED and the cursor pulls the rest of the stream as the client
// fetches. A metadata operation is FINISHED at once (setLocalResult). close cancels the
// engine call and frees every buffered batch.
//
// Lock order: cursor.mu, then mu, then the engine layer's locks (the registry record's);
// the Handler's mu is never held while calling into an operation.
type operation struct {
	id    string // Spark Connect operation id; also the HS2 handle GUID
	guid  []byte
	sess  *session
	query string
	mem   memory.Allocator
	rows  *cursor

	eop *engine.Operation // the engine layer's record; nil for internal statements
	// localSchema and localRows hold a metadata result, which is small, so that
	// FETCH_FIRST can serve it again.
	localSchema *arrow.Schema
	localRows   [][]any
	timeout     time.Duration // queryTimeout; 0 for none
	// timedOut is set when the query timeout fired.
	timedOut  atomic.Bool
	ctx       context.Context // cancelled by cancel/close; the engine call runs under it
	cancel    context.CancelFunc
	ready     chan struct{} // closed when the first batch, the end, or an error has arrived
	closed    chan struct{} // closed by close
	closeOnce sync.Once

	// mu guards the status fields below.
	mu        sync.Mutex
	state     hiveserver.TOperationState
	err       error
	started   time.Time
	completed time.Time
	schema    *hiveserver.TTableSchema // nil until known; empty when there is no result set
	progress  *connect.ExecutePlanResponse_ExecutionProgress
	// progressed is closed, and replaced, whenever progress is noted: a status call waiting
	// for news of a long operation wakes on it.
	progressed chan struct{}
	stageDone  map[int64]int64 // completed tasks last logged, per stage
	logs       []string        // operation log, bounded by maxLogLines
	logRead    int             // lines already returned by FETCH_NEXT
	execID     string          // the engine operation id of the current execution
}

func newOperation(s *session, query string, mem memory.Allocator) *operation {
	id := newUUID()
	ctx, cancel := context.WithCancel(context.Background())
	op := &operation{
		id: id.String(), guid: id[:], sess: s, query: query, mem: mem,
		ctx: ctx, cancel: cancel, ready: make(chan struct{}), closed: make(chan struct{}),
		state: hiveserver.TOperationState_INITIALIZED_STATE, started: time.Now(),
	}
	op.rows = &cursor{mem: mem, onProgress: op.noteProgress}
	return op
}

// run starts the engine execution and reads until the first Arrow batch. It is called once,
// synchronously or on its own goroutine for runAsync; ready is closed when it returns.
func (op *operation) run() {
	defer close(op.ready)
	es := op.sess.es
	op.logf("Submitted statement %s on engine %s", op.id, es.EngineID())
	op.setState(hiveserver.TOperationState_RUNNING_STATE, nil)
	if op.timeout > 0 {
		// The timeout covers execution up to the first results, as in HiveServer2.
		timer := time.AfterFunc(op.timeout, func() {
			op.timedOut.Store(true)
			op.interrupt()
			op.cancel()
		})
		defer timer.Stop()
	}
	err := op.execute(op.id)
	schema := op.rows.schema()
	if err != nil {
		op.fail(err)
		return
	}
	ts := &hiveserver.TTableSchema{Columns: []*hiveserver.TColumnDesc{}}
	if schema != nil {
		if ts, err = translate.TableSchema(schema); err != nil {
			op.fail(err)
			return
		}
	}
	op.mu.Lock()
	op.schema = ts
	op.mu.Unlock()
	op.setState(hiveserver.TOperationState_FINISHED_STATE, nil)
}

// setLocalResult finishes a metadata operation with its whole result, rows of schema.
func (op *operation) setLocalResult(schema *arrow.Schema, rows [][]any) error {
	rec, err := translate.MetadataRecord(schema, rows, op.mem)
	if err != nil {
		return err
	}
	ts, err := translate.TableSchema(schema)
	if err != nil {
		rec.Release()
		return err
	}
	op.localSchema, op.localRows = schema, rows
	op.rows.fill([]arrow.RecordBatch{rec})
	op.mu.Lock()
	op.schema = ts
	op.mu.Unlock()
	op.setState(hiveserver.TOperationState_FINISHED_STATE, nil)
	close(op.ready)
	return nil
}

func (op *operation) fail(err error) {
	if op.timedOut.Load() {
		op.setState(hiveserver.TOperationState_TIMEDOUT_STATE, &wireError{
			msg: fmt.Sprintf("Query timed out after %s", op.timeout), sqlState: "HYT00", code: codeTimeout})
		return
	}
	if op.ctx.Err() != nil {
		op.setState(hiveserver.TOperationState_CANCELED_STATE, nil)
		return
	}
	op.setState(hiveserver.TOperationState_ERROR_STATE, err)
}

func (op *operation) setState(st hiveserver.TOperationState, err error) {
	op.mu.Lock()
	defer op.mu.Unlock()
	// A cancelled or closed operation stays so, whatever its execution reports later.
	if op.state == hiveserver.TOperationState_CANCELED_STATE || op.state == hiveserver.TOperationState_CLOSED_STATE {
		return
	}
	op.state, op.err = st, err
	switch st {
	case hiveserver.TOperationState_FINISHED_STATE:
		op.appendLog("Finished: results are ready")
	case hiveserver.TOperationState_ERROR_STATE:
		op.appendLog("Error: " + toWire(err).msg)
	case hiveserver.TOperationState_CANCELED_STATE:
		op.appendLog("Cancelled")
	case hiveserver.TOperationState_TIMEDOUT_STATE:
		op.appendLog("Timed out after " + op.timeout.String())
	}
	if op.eop != nil {
		op.eop.SetError(err)
		op.eop.SetState(engineState(st))
	}
	switch st {
	case hiveserver.TOperationState_FINISHED_STATE, hiveserver.TOperationState_ERROR_STATE, hiveserver.TOperationState_CANCELED_STATE,
		hiveserver.TOperationState_TIMEDOUT_STATE:
		op.completed = time.Now()
	}
}

// interrupt asks the engine to stop the operation's execution. Cancelling the call alone
// stops a non-reattachable execution too; the explicit interrupt also covers the window
// before the call reached the engine.
func (op *operation) interrupt() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = op.sess.es.Interrupt(ctx, op.currentExecID())
}

func (op *operation) currentExecID() string {
	op.mu.Lock()
	defer op.mu.Unlock()
	if op.execID == "" {
		return op.id
	}
	return op.execID
}

// execute starts an execution of the statement with engine operation id execID and reads
// up to its first Arrow batch, replacing any earlier execution's stream and buffers.
func (op *operation) execute(execID string) error {
	sctx, scancel := context.WithCancel(op.ctx)
	stream, err := op.sess.es.Execute(sctx, engine.ExecuteRequest{OperationID: execID, ClientType: clientType,
		Plan: translate.StatementPlan(op.query)})
	if err != nil {
		scancel()
		return err
	}
	op.mu.Lock()
	op.execID = execID
	op.mu.Unlock()
	return op.rows.start(stream, scancel)
}

// restart serves the result again from its first row (FETCH_FIRST). The bridge never holds
// a whole result, so a statement is executed again on the engine; a metadata result is
// rebuilt from its rows.
func (op *operation) restart() error {
	if op.localSchema != nil {
		rec, err := translate.MetadataRecord(op.localSchema, op.localRows, op.mem)
		if err != nil {
			return err
		}
		op.rows.fill([]arrow.RecordBatch{rec})
		return nil
	}
	if op.rows.atStart() {
		return nil
	}
	op.logf("Restarting the result from its first row (FETCH_FIRST)")
	return op.execute(newUUID().String())
}

// maxLogLines bounds an operation's log.
const maxLogLines = 10000

// appendLog adds a log line. Caller holds mu.
func (op *operation) appendLog(line string) {
	if len(op.logs) < maxLogLines {
		op.logs = append(op.logs, time.Now().UTC().Format("2006-01-02 15:04:05.000")+" "+line)
	}
}

func (op *operation) logf(format string, args ...any) {
	op.mu.Lock()
	defer op.mu.Unlock()
	op.appendLog(fmt.Sprintf(format, args...))
}

// noteProgress records execution progress and logs the stages that moved.
func (op *operation) noteProgress(p *connect.ExecutePlanResponse_ExecutionProgress) {
	op.mu.Lock()
	defer op.mu.Unlock()
	op.progress = p
	if op.progressed != nil {
		close(op.progressed)
		op.progressed = nil
	}
	if op.stageDone == nil {
		op.stageDone = map[int64]int64{}
	}
	lines := translate.ProgressLog(p)
	for i, s := range p.GetStages() {
		if last, seen := op.stageDone[s.GetStageId()]; !seen || last != s.GetNumCompletedTasks() {
			op.stageDone[s.GetStageId()] = s.GetNumCompletedTasks()
			op.appendLog(lines[i])
		}
	}
}

// progressSignal returns a channel closed at the operation's next progress report.
func (op *operation) progressSignal() <-chan struct{} {
	op.mu.Lock()
	defer op.mu.Unlock()
	if op.progressed == nil {
		op.progressed = make(chan struct{})
	}
	return op.progressed
}

// progressUpdate is the operation's HS2 progress report.
func (op *operation) progressUpdate() *hiveserver.TProgressUpdateResp {
	op.mu.Lock()
	defer op.mu.Unlock()
	return translate.ProgressUpdate(op.progress, op.started.UnixMilli(), op.state == hiveserver.TOperationState_FINISHED_STATE)
}

// logPage returns up to max log lines: from the start for FETCH_FIRST, else the lines not
// returned yet.
func (op *operation) logPage(first bool, max int) ([]string, int64) {
	op.mu.Lock()
	defer op.mu.Unlock()
	if first {
		op.logRead = 0
	}
	start := op.logRead
	end := len(op.logs)
	if max > 0 && end-start > max {
		end = start + max
	}
	op.logRead = end
	return append([]string(nil), op.logs[start:end]...), int64(start)
}

func engineState(st hiveserver.TOperationState) string {
	switch st {
	case hiveserver.TOperationState_FINISHED_STATE:
		return engine.OpFinished
	case hiveserver.TOperationState_ERROR_STATE, hiveserver.TOperationState_TIMEDOUT_STATE:
		return engine.OpError
	case hiveserver.TOperationState_CANCELED_STATE, hiveserver.TOperationState_CLOSED_STATE:
		return engine.OpCanceled
	}
	return engine.OpRunning
}

func (op *operation) status() (hiveserver.TOperationState, error, *hiveserver.TTableSchema) {
	op.mu.Lock()
	defer op.mu.Unlock()
	return op.state, op.err, op.schema
}

// emptyPage is the row set that says the result is exhausted.
func (op *operation) emptyPage(start int64, columnar bool) *hiveserver.TRowSet {
	_, _, schema := op.status()
	page := translate.EmptyRowSet(schema, columnar)
	page.StartRowOffset = start
	return page
}

// fetchWire returns up to maxRows rows from the current position, appending their TRowSet,
// columnar or row-based, encoded in enc, to dst. When the result is exhausted it returns
// dst unchanged and the empty row set to send instead.
func (op *operation) fetchWire(dst []byte, maxRows int, enc translate.Encoding, columnar bool) ([]byte, *hiveserver.TRowSet, error) {
	out, rows, start, err := op.rows.page(dst, maxRows, enc, columnar)
	if op.eop != nil {
		op.eop.Sent(int64(rows), int64(len(out)-len(dst)))
	}
	if err != nil {
		return dst, nil, err
	}
	if rows == 0 {
		return dst, op.emptyPage(start, columnar), nil
	}
	return out, nil, nil
}

// close cancels the engine call, waits for a running start to notice, and frees buffers.
// It may be called more than once.
func (op *operation) close() {
	op.closeOnce.Do(func() { close(op.closed) })
	if op.eop != nil {
		op.eop.End()
	}
	op.cancel()
	<-op.ready
	op.rows.close()
	op.mu.Lock()
	op.state = hiveserver.TOperationState_CLOSED_STATE
	op.mu.Unlock()
}

// clientType names the bridge's Thrift frontend to the engine.
const clientType = "sparkbridge/thrift"
