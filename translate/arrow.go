package translate

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// MaxDecodedBatchBytes bounds the memory DecodeArrowBatch allocates for one
// payload. Spark Connect compresses batch bodies (zstd or lz4) and every
// compressed buffer declares its own decompressed size, so a few bytes from
// an engine could otherwise ask for terabytes and kill the process.
const MaxDecodedBatchBytes = 1 << 30

// errBatchTooLarge is what boundedAllocator panics with; the IPC reader
// recovers the panic and returns it wrapped as an error.
var errBatchTooLarge = errors.New("translate: arrow batch too large once decoded")

// DecodeArrowBatch decodes the data of one Spark Connect
// ExecutePlanResponse.ArrowBatch: an Arrow IPC stream holding a schema
// followed by zero or more record batches, whose bodies may be zstd or lz4
// compressed. The records of uncompressed batches share memory with data,
// which must not change while they are in use; decompressed buffers are
// allocated from mem.
//
// Every returned record has been validated (validateRecord), so
// later reads from it cannot run off its buffers. The caller owns the records
// and must Release each of them; the schema needs no release. On error no
// records are returned and nothing stays allocated from mem.
//
// A record's row count is not bounded by len(data): a column of nulls takes
// no bytes. Encode records in fetch-sized windows (see ColumnarRowSet), never
// all of a record at once.
//
// DecodeArrowBatch never panics, whatever data holds.
func DecodeArrowBatch(data []byte, mem memory.Allocator) (*arrow.Schema, []arrow.RecordBatch, error) {
	return decodeArrowBatch(data, mem, MaxDecodedBatchBytes)
}

// decodeArrowBatch is DecodeArrowBatch with a chosen bound on allocations.
func decodeArrowBatch(data []byte, mem memory.Allocator, budget int64) (*arrow.Schema, []arrow.RecordBatch, error) {
	if err := checkStreamMetadata(data); err != nil {
		return nil, nil, err
	}
	alloc := newBoundedAllocator(mem, budget)
	schema, recs, err := decodeStream(data, alloc)
	if err != nil {
		// The IPC reader drops buffers on the floor when it fails half-way
		// through a message; give them back so that a failed decode leaves
		// no trace in mem.
		alloc.freeLive()
		return nil, nil, err
	}
	alloc.stopTracking()
	return schema, recs, nil
}

func decodeStream(data []byte, mem memory.Allocator) (schema *arrow.Schema, recs []arrow.RecordBatch, err error) {
	defer func() {
		// The IPC reader recovers its own panics; this catches the rest
		// (validation of hostile layouts) so that bytes from the wire can
		// never take the gateway down.
		if p := recover(); p != nil {
			releaseAll(recs)
			schema, recs = nil, nil
			err = fmt.Errorf("translate: malformed arrow batch: %v", p)
		}
	}()

	// Message bodies are views of data, not copies: uncompressed buffers of the records
	// point into it. mem serves what decompression allocates.
	mr := &sliceMessageReader{data: data}
	mr.refs.Store(1)
	rdr, err := ipc.NewReaderFromMessageReader(mr, ipc.WithAllocator(mem))
	if err != nil {
		return nil, nil, fmt.Errorf("translate: reading arrow batch schema: %w", err)
	}
	defer rdr.Release()

	for rdr.Next() {
		rec := rdr.RecordBatch()
		rec.Retain()
		recs = append(recs, rec)
		if err := validateRecord(rec); err != nil {
			releaseAll(recs)
			return nil, nil, fmt.Errorf("translate: invalid arrow record %d: %w", len(recs)-1, err)
		}
	}
	if err := rdr.Err(); err != nil {
		releaseAll(recs)
		return nil, nil, fmt.Errorf("translate: reading arrow batch: %w", err)
	}
	return rdr.Schema(), recs, nil
}

// sliceMessageReader yields the messages of an Arrow IPC stream held in memory. Each body
// is a view of the stream's bytes, so records decoded from uncompressed batches share data
// instead of copying every batch once more; the garbage collector keeps data alive as long
// as a record uses it. Metadata is vetted by checkMessage, and every length is checked
// against what is left of data.
type sliceMessageReader struct {
	data []byte
	pos  int
	msg  *ipc.Message
	refs atomic.Int64
}

func (r *sliceMessageReader) Message() (*ipc.Message, error) {
	rest := r.data[r.pos:]
	if len(rest) == 0 {
		return nil, io.EOF
	}
	if len(rest) < 4 {
		return nil, errors.New("arrow stream truncated in a message header")
	}
	hdr, metaLen := 4, int64(int32(binary.LittleEndian.Uint32(rest)))
	switch uint32(metaLen) {
	case 0: // end of stream
		return nil, io.EOF
	case ipcContinuation:
		if len(rest) < 8 {
			return nil, errors.New("arrow stream truncated in a message header")
		}
		hdr, metaLen = 8, int64(int32(binary.LittleEndian.Uint32(rest[4:])))
		if metaLen == 0 {
			return nil, io.EOF
		}
	}
	if metaLen < 4 || metaLen > int64(len(rest)-hdr) {
		return nil, fmt.Errorf("arrow message metadata of %d bytes with %d left", metaLen, len(rest)-hdr)
	}
	meta := rest[hdr : int64(hdr)+metaLen]
	bodyLen, err := checkMessage(meta)
	if err != nil {
		return nil, err
	}
	if bodyLen < 0 || bodyLen > int64(len(rest)-hdr)-metaLen {
		return nil, fmt.Errorf("arrow message body of %d bytes with %d left", bodyLen, int64(len(rest)-hdr)-metaLen)
	}
	start := int64(hdr) + metaLen
	body := rest[start : start+bodyLen : start+bodyLen]
	r.pos += int(start + bodyLen)
	if r.msg != nil {
		r.msg.Release()
	}
	r.msg = ipc.NewMessage(memory.NewBufferBytes(meta), memory.NewBufferBytes(body))
	return r.msg, nil
}

func (r *sliceMessageReader) Retain() { r.refs.Add(1) }

func (r *sliceMessageReader) Release() {
	if r.refs.Add(-1) == 0 && r.msg != nil {
		r.msg.Release()
		r.msg = nil
	}
}

// validateRecord checks every column like array.ValidateRecordFull, with two exceptions.
// Columns of the null type are skipped: Spark's Java Arrow writes them with no buffers,
// which the Arrow format allows but arrow-go's validator rejects. Top-level string columns
// get every structural check (validateStrings) but not UTF-8 validation: their bytes go to
// HS2 clients as they came, and checking them cost a seventh of the bridge's CPU on bulk
// fetches.
func validateRecord(rec arrow.RecordBatch) error {
	for i, col := range rec.Columns() {
		if int64(col.Len()) != rec.NumRows() {
			return fmt.Errorf("column %d (%s) has %d rows, the record %d", i, rec.ColumnName(i), col.Len(), rec.NumRows())
		}
		var err error
		switch a := col.(type) {
		case *array.Null:
			continue
		case *array.String:
			err = validateStrings(a, a.ValueOffsets())
		case *array.LargeString:
			err = validateStrings(a, a.ValueOffsets())
		default:
			err = array.ValidateFull(col)
		}
		if err != nil {
			return fmt.Errorf("column %d (%s): %w", i, rec.ColumnName(i), err)
		}
	}
	return nil
}

// validateStrings is ValidateFull for a string array without the UTF-8 check: buffers, null
// count and offsets that start at or after zero and never decrease, so that every value's
// bytes lie inside the data buffer.
func validateStrings[O int32 | int64](arr arrow.Array, offsets []O) error {
	if err := array.Validate(arr); err != nil {
		return err
	}
	if arr.Len() == 0 {
		return nil
	}
	if offsets[0] < 0 {
		return fmt.Errorf("string offset %d is negative", offsets[0])
	}
	for i := 1; i < len(offsets); i++ {
		if offsets[i] < offsets[i-1] {
			return fmt.Errorf("string offsets decrease at index %d: %d < %d", i, offsets[i], offsets[i-1])
		}
	}
	if nb := arr.NullBitmapBytes(); nb != nil {
		off := arr.Data().Offset()
		nulls := arr.Len() - bitutil.CountSetBits(nb, off, arr.Len())
		if nulls != arr.NullN() {
			return fmt.Errorf("null count %d, but the validity bitmap has %d nulls", arr.NullN(), nulls)
		}
	} else if arr.NullN() != 0 {
		return fmt.Errorf("null count %d without a validity bitmap", arr.NullN())
	}
	return nil
}

func releaseAll(recs []arrow.RecordBatch) {
	for _, r := range recs {
		r.Release()
	}
}

// boundedAllocator forwards to mem until its budget is spent, then panics
// with errBatchTooLarge. Freed bytes are not credited back: the bound is on
// what one decode may ask for. While a decode runs it also remembers every
// buffer it handed out and that is not yet freed, so that a failed decode can
// free what the IPC reader leaked.
type boundedAllocator struct {
	mem  memory.Allocator
	left atomic.Int64

	mu       sync.Mutex // guards tracking and live
	tracking bool
	live     map[*byte]int
}

var _ memory.Allocator = (*boundedAllocator)(nil)

func newBoundedAllocator(mem memory.Allocator, budget int64) *boundedAllocator {
	b := &boundedAllocator{mem: mem, tracking: true, live: make(map[*byte]int)}
	b.left.Store(budget)
	return b
}

func (b *boundedAllocator) take(n int) {
	if n > 0 && b.left.Add(-int64(n)) < 0 {
		panic(errBatchTooLarge)
	}
}

func (b *boundedAllocator) Allocate(size int) []byte {
	if size < 0 {
		panic(errors.New("translate: negative allocation"))
	}
	b.take(size)
	buf := b.mem.Allocate(size)
	b.track(nil, buf)
	return buf
}

func (b *boundedAllocator) Reallocate(size int, buf []byte) []byte {
	if size < 0 {
		panic(errors.New("translate: negative allocation"))
	}
	b.take(size - len(buf))
	out := b.mem.Reallocate(size, buf)
	b.track(buf, out)
	return out
}

func (b *boundedAllocator) Free(buf []byte) {
	b.track(buf, nil)
	b.mem.Free(buf)
}

// track records that old is gone and buf is live; either may be nil.
func (b *boundedAllocator) track(old, buf []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.tracking {
		return
	}
	if old != nil {
		delete(b.live, unsafe.SliceData(old))
	}
	if buf != nil {
		b.live[unsafe.SliceData(buf)] = len(buf)
	}
}

// freeLive frees every buffer still live and stops tracking.
func (b *boundedAllocator) freeLive() {
	b.mu.Lock()
	live := b.live
	b.tracking, b.live = false, nil
	b.mu.Unlock()
	for p, n := range live {
		b.mem.Free(unsafe.Slice(p, n))
	}
}

// stopTracking hands the live buffers over to the records that hold them.
func (b *boundedAllocator) stopTracking() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tracking, b.live = false, nil
}
