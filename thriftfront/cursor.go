package thriftfront

import (
	"context"
	"errors"
	"io"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sparkbridge/sparkbridge/engine"
	"github.com/sparkbridge/sparkbridge/proto/spark/connect"
	"github.com/sparkbridge/sparkbridge/translate"
)

// cursor is an operation's result: one engine execution's response stream, read lazily,
// batch by batch, as the client fetches, and served page by page. It never holds more than
// the batches a page needs. It knows nothing of HS2 states; the operation owns it.
//
// Lock order: cursor.mu, then operation.mu (progress noted while pulling), then the engine
// layer's locks. Nothing takes cursor.mu while holding operation.mu.
type cursor struct {
	mem memory.Allocator
	// onProgress receives the execution progress reports met while pulling; it is called
	// with mu held.
	onProgress func(*connect.ExecutePlanResponse_ExecutionProgress)

	// mu serialises fetches and guards everything below.
	mu           sync.Mutex
	stream       *engine.Results
	streamCancel context.CancelFunc
	fetchErr     error // met while filling a page; returned by the next fetch
	pending      []arrow.RecordBatch
	cur          arrow.RecordBatch
	curOff       int
	rowOffset    int64
	eof          bool
	closed       bool // set by close: the cursor takes no result after it
}

// start makes stream the cursor's result, dropping any earlier one, and reads up to its
// first Arrow batch (or its end). cancel ends the stream's call.
func (c *cursor) start(stream *engine.Results, cancel context.CancelFunc) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		cancel()
		return context.Canceled
	}
	c.reset()
	c.stream, c.streamCancel = stream, cancel
	return c.pull()
}

// fill makes recs the whole result, dropping any earlier one; the cursor owns them.
func (c *cursor) fill(recs []arrow.RecordBatch) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		releaseAll(recs)
		return
	}
	c.reset()
	c.pending, c.eof = recs, true
}

// schema is the schema of the first buffered batch, or nil.
func (c *cursor) schema() *arrow.Schema {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur != nil {
		return c.cur.Schema()
	}
	if len(c.pending) > 0 {
		return c.pending[0].Schema()
	}
	return nil
}

// atStart reports whether no row has been served yet.
func (c *cursor) atStart() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rowOffset == 0 && c.cur == nil
}

// page appends to dst the TRowSet of up to maxRows rows from the current position (maxRows
// <= 0: the rest of one batch), columnar or row-based, encoded in enc. It returns the rows
// it holds and the offset of the first; no rows means the result is exhausted, and dst is
// returned unchanged. A page spans as many batches as it takes, so clients asking for
// 10,000 rows do not get short pages at every batch boundary.
func (c *cursor) page(dst []byte, maxRows int, enc translate.Encoding, columnar bool) ([]byte, int, int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.fetchErr; err != nil { // an error met while filling the previous page
		c.fetchErr = nil
		return dst, 0, c.rowOffset, err
	}
	slices, start, err := c.take(maxRows)
	defer releaseSlices(slices)
	if err != nil || len(slices) == 0 {
		return dst, 0, start, err
	}
	rows := 0
	for _, s := range slices {
		rows += s.Len
	}
	out, err := translate.AppendRowSet(dst, enc, columnar, start, slices)
	return out, rows, start, err
}

// close ends the stream's call and frees every buffered batch; the cursor is empty after.
func (c *cursor) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reset()
	c.eof, c.closed = true, true
}

// reset ends the current stream and frees every buffered batch. Caller holds mu.
func (c *cursor) reset() {
	if c.streamCancel != nil {
		c.streamCancel()
		c.streamCancel = nil
	}
	c.stream = nil
	if c.cur != nil {
		c.cur.Release()
		c.cur = nil
	}
	releaseAll(c.pending)
	c.pending = nil
	c.curOff, c.rowOffset, c.eof = 0, 0, false
	c.fetchErr = nil
}

// pull reads the stream until it has buffered at least one record or reached the end.
// Caller holds mu.
func (c *cursor) pull() error {
	for len(c.pending) == 0 && !c.eof {
		resp, err := c.stream.Next()
		if errors.Is(err, io.EOF) {
			c.eof = true
			return nil
		}
		if err != nil {
			c.eof = true
			return err
		}
		if _, ok := resp.GetResponseType().(*connect.ExecutePlanResponse_ResultComplete_); ok {
			continue
		}
		if p := resp.GetExecutionProgress(); p != nil {
			if c.onProgress != nil {
				c.onProgress(p)
			}
			continue
		}
		batch := resp.GetArrowBatch()
		if batch == nil {
			continue
		}
		_, recs, err := translate.DecodeArrowBatch(batch.GetData(), c.mem)
		if err != nil {
			return err
		}
		c.pending = append(c.pending, recs...)
	}
	return nil
}

// take moves the cursor past up to maxRows rows and returns them as slices of retained
// records, with the offset of their first row; the caller releases the slices. Caller
// holds mu.
func (c *cursor) take(maxRows int) ([]translate.Slice, int64, error) {
	start := c.rowOffset
	var slices []translate.Slice
	got := 0
	for maxRows <= 0 && len(slices) == 0 || maxRows > 0 && got < maxRows {
		more, err := c.advance()
		if err != nil {
			if len(slices) > 0 { // serve what is here; the next fetch reports the error
				c.fetchErr = err
				break
			}
			return nil, start, err
		}
		if !more {
			break
		}
		n := int(c.cur.NumRows()) - c.curOff
		if maxRows > 0 {
			n = min(n, maxRows-got)
		}
		c.cur.Retain()
		slices = append(slices, translate.Slice{Rec: c.cur, Off: c.curOff, Len: n})
		c.curOff += n
		c.rowOffset += int64(n)
		got += n
	}
	return slices, start, nil
}

// advance makes cur a record with unread rows, pulling from the engine as needed; it
// reports false at the end of the result. Caller holds mu.
func (c *cursor) advance() (bool, error) {
	for c.cur == nil || c.curOff >= int(c.cur.NumRows()) {
		if c.cur != nil {
			c.cur.Release()
			c.cur = nil
		}
		if len(c.pending) == 0 {
			if c.stream == nil || c.eof {
				return false, nil
			}
			if err := c.pull(); err != nil {
				return false, err
			}
			continue
		}
		c.cur, c.pending = c.pending[0], c.pending[1:]
		c.curOff = 0
	}
	return true, nil
}

func releaseSlices(slices []translate.Slice) {
	for _, s := range slices {
		s.Rec.Release()
	}
}

func releaseAll(recs []arrow.RecordBatch) {
	for _, r := range recs {
		r.Release()
	}
}
