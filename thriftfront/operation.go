package thriftfront

import (
	"context"
	"errors"
	"fmt"
	"io"
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

// operation is one ExecuteStatement: a Spark Connect plan execution on the session's engine
// whose result stream is read lazily, batch by batch, as the client fetches.
//
// Lifecycle: start launches the execution and waits for its first Arrow batch (or its end);
// the operation is then FINISHED and the rest of the stream is pulled by fetch. close cancels
// the engine call and releases every buffered batch.
type operation struct {
	id    string // Spark Connect operation id; also the HS2 handle GUID
	guid  []byte
	sess  *session
	query string
	mem   memory.Allocator

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

	execID string // the engine operation id of the current execution; guarded by mu

	// fetchMu serialises fetches; it guards stream, streamCancel, cur, curOff, pending,
	// rowOffset, eof.
	fetchMu      sync.Mutex
	stream       *engine.Results
	streamCancel context.CancelFunc
	fetchErr     error // met while filling a page; returned by the next fetch
	pending      []arrow.RecordBatch
	cur          arrow.RecordBatch
	curOff       int
	rowOffset    int64
	eof          bool
}

func newOperation(s *session, query string, mem memory.Allocator) *operation {
	id := newUUID()
	ctx, cancel := context.WithCancel(context.Background())
	return &operation{
		id: id.String(), guid: id[:], sess: s, query: query, mem: mem,
		ctx: ctx, cancel: cancel, ready: make(chan struct{}), closed: make(chan struct{}),
		state: hiveserver.TOperationState_INITIALIZED_STATE, started: time.Now(),
	}
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
	op.fetchMu.Lock()
	schema := op.arrowSchema()
	op.fetchMu.Unlock()
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
	op.fetchMu.Lock()
	op.localSchema, op.localRows = schema, rows
	op.pending, op.eof = []arrow.RecordBatch{rec}, true
	op.fetchMu.Unlock()
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
	op.fetchMu.Lock()
	defer op.fetchMu.Unlock()
	op.resetBuffers()
	op.stream, op.streamCancel = stream, scancel
	op.mu.Lock()
	op.execID = execID
	op.mu.Unlock()
	return op.pull()
}

// resetBuffers ends the current stream and frees every buffered batch. Caller holds fetchMu.
func (op *operation) resetBuffers() {
	if op.streamCancel != nil {
		op.streamCancel()
		op.streamCancel = nil
	}
	op.stream = nil
	if op.cur != nil {
		op.cur.Release()
		op.cur = nil
	}
	releaseAll(op.pending)
	op.pending = nil
	op.curOff, op.rowOffset, op.eof = 0, 0, false
	op.fetchErr = nil
}

func releaseAll(recs []arrow.RecordBatch) {
	for _, r := range recs {
		r.Release()
	}
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
		op.fetchMu.Lock()
		defer op.fetchMu.Unlock()
		op.resetBuffers()
		op.pending, op.eof = []arrow.RecordBatch{rec}, true
		return nil
	}
	op.fetchMu.Lock()
	atStart := op.rowOffset == 0 && op.cur == nil
	op.fetchMu.Unlock()
	if atStart {
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

// arrowSchema is the schema of the first buffered batch. Caller holds fetchMu.
func (op *operation) arrowSchema() *arrow.Schema {
	if op.cur != nil {
		return op.cur.Schema()
	}
	if len(op.pending) > 0 {
		return op.pending[0].Schema()
	}
	return nil
}

// pull reads the stream until it has buffered at least one record or reached the end.
// Caller holds fetchMu.
func (op *operation) pull() error {
	for len(op.pending) == 0 && !op.eof {
		resp, err := op.stream.Next()
		if errors.Is(err, io.EOF) {
			op.eof = true
			return nil
		}
		if err != nil {
			op.eof = true
			return err
		}
		if _, ok := resp.GetResponseType().(*connect.ExecutePlanResponse_ResultComplete_); ok {
			continue
		}
		if p := resp.GetExecutionProgress(); p != nil {
			op.noteProgress(p)
			continue
		}
		batch := resp.GetArrowBatch()
		if batch == nil {
			continue
		}
		_, recs, err := translate.DecodeArrowBatch(batch.GetData(), op.mem)
		if err != nil {
			return err
		}
		op.pending = append(op.pending, recs...)
	}
	return nil
}

// take moves the cursor past up to maxRows rows (maxRows <= 0: the rest of one batch) and
// returns them as slices of retained records, with the offset of their first row; the caller
// releases the slices. A page spans as many batches as it takes, so clients asking for
// 10,000 rows do not get short pages at every batch boundary. Caller holds fetchMu.
func (op *operation) take(maxRows int) ([]translate.Slice, int64, error) {
	start := op.rowOffset
	var slices []translate.Slice
	got := 0
	for maxRows <= 0 && len(slices) == 0 || maxRows > 0 && got < maxRows {
		more, err := op.advance()
		if err != nil {
			if len(slices) > 0 { // serve what is here; the next fetch reports the error
				op.fetchErr = err
				break
			}
			return nil, start, err
		}
		if !more {
			break
		}
		n := int(op.cur.NumRows()) - op.curOff
		if maxRows > 0 {
			n = min(n, maxRows-got)
		}
		op.cur.Retain()
		slices = append(slices, translate.Slice{Rec: op.cur, Off: op.curOff, Len: n})
		op.curOff += n
		op.rowOffset += int64(n)
		got += n
	}
	return slices, start, nil
}

func releaseSlices(slices []translate.Slice) {
	for _, s := range slices {
		s.Rec.Release()
	}
}

// nextSlices starts a fetch: it reports an error left by the previous page, then takes the
// rows of this one. Caller holds fetchMu.
func (op *operation) nextSlices(maxRows int) ([]translate.Slice, int64, error) {
	if op.eop != nil {
		op.eop.Touch()
	}
	if err := op.fetchErr; err != nil { // an error met while filling the previous page
		op.fetchErr = nil
		return nil, op.rowOffset, err
	}
	return op.take(maxRows)
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
	op.fetchMu.Lock()
	defer op.fetchMu.Unlock()
	slices, start, err := op.nextSlices(maxRows)
	if err != nil {
		return dst, nil, err
	}
	if len(slices) == 0 {
		return dst, op.emptyPage(start, columnar), nil
	}
	defer releaseSlices(slices)
	out, err := translate.AppendRowSet(dst, enc, columnar, start, slices)
	return out, nil, err
}

// advance makes cur a record with unread rows, pulling from the engine as needed; it
// reports false at the end of the result. Caller holds fetchMu.
func (op *operation) advance() (bool, error) {
	for op.cur == nil || op.curOff >= int(op.cur.NumRows()) {
		if op.cur != nil {
			op.cur.Release()
			op.cur = nil
		}
		if len(op.pending) == 0 {
			if op.stream == nil || op.eof {
				return false, nil
			}
			if err := op.pull(); err != nil {
				return false, err
			}
			continue
		}
		op.cur, op.pending = op.pending[0], op.pending[1:]
		op.curOff = 0
	}
	return true, nil
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
	op.fetchMu.Lock()
	op.resetBuffers()
	op.eof = true
	op.fetchMu.Unlock()
	op.mu.Lock()
	op.state = hiveserver.TOperationState_CLOSED_STATE
	op.mu.Unlock()
}

// clientType names the bridge's Thrift frontend to the engine.
const clientType = "sparkbridge/thrift"
