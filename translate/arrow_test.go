package translate

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

var batchSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "price", Type: &arrow.Decimal128Type{Precision: 10, Scale: 2}, Nullable: true},
	{Name: "at", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
	{Name: "tags", Type: arrow.MapOf(arrow.BinaryTypes.String, arrow.ListOf(arrow.PrimitiveTypes.Int32)), Nullable: true},
}, nil)

var batchRows = []string{
	`[{"id": 1, "name": "one", "price": "1.50", "at": "2024-01-31T12:00:00Z", "tags": [{"key": "k", "value": [1, null]}]},
	  {"id": null, "name": null, "price": null, "at": null, "tags": null}]`,
	`[{"id": 3, "name": "three", "price": "-3.00", "at": "1970-01-01T00:00:00Z", "tags": []}]`,
}

// ipcStream writes recordsJSON as one Arrow IPC stream, the way Spark
// Connect fills ArrowBatch.data.
func ipcStream(t testing.TB, opts ...ipc.Option) []byte {
	t.Helper()
	mem := memory.NewGoAllocator()
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, append([]ipc.Option{ipc.WithSchema(batchSchema), ipc.WithAllocator(mem)}, opts...)...)
	for _, js := range batchRows {
		rec, _, err := array.RecordFromJSON(mem, batchSchema, stringsReader(js))
		if err != nil {
			t.Fatal(err)
		}
		err = w.Write(rec)
		rec.Release()
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestDecodeArrowBatch(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []ipc.Option
	}{
		{"uncompressed", nil},
		{"zstd", []ipc.Option{ipc.WithZstd()}},
		{"lz4", []ipc.Option{ipc.WithLZ4()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := ipcStream(t, tc.opts...)
			mem := checkedAlloc(t)
			schema, recs, err := DecodeArrowBatch(data, mem)
			if err != nil {
				t.Fatal(err)
			}
			defer releaseAll(recs)
			if !schema.Equal(batchSchema) {
				t.Errorf("schema = %s, want %s", schema, batchSchema)
			}
			if len(recs) != len(batchRows) {
				t.Fatalf("got %d records, want %d", len(recs), len(batchRows))
			}
			for i, js := range batchRows {
				want, _, err := array.RecordFromJSON(mem, batchSchema, stringsReader(js))
				if err != nil {
					t.Fatal(err)
				}
				if !array.RecordEqual(recs[i], want) {
					t.Errorf("record %d = %v, want %v", i, recs[i], want)
				}
				want.Release()
			}

			// The decoded records feed the row set encoder.
			page, err := AppendRowSet(nil, Binary, true, 0, []Slice{{recs[0], 0, int(recs[0].NumRows())}})
			if err != nil {
				t.Fatal(err)
			}
			rs := roundTrip(t, page, Binary)
			if got := rs.Columns[4].StringVal.Values[0]; got != `{"k":[1,null]}` {
				t.Errorf("tags = %q", got)
			}
		})
	}
}

func TestDecodeArrowBatchSchemaOnly(t *testing.T) {
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(batchSchema))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	mem := checkedAlloc(t)
	schema, recs, err := DecodeArrowBatch(buf.Bytes(), mem)
	if err != nil {
		t.Fatal(err)
	}
	if !schema.Equal(batchSchema) || len(recs) != 0 {
		t.Errorf("got schema %s and %d records, want the schema and none", schema, len(recs))
	}
}

func TestDecodeArrowBatchGarbage(t *testing.T) {
	valid := ipcStream(t, ipc.WithZstd())
	inputs := map[string][]byte{
		"nil":               nil,
		"empty":             {},
		"text":              []byte("this is not arrow"),
		"continuation only": {0xff, 0xff, 0xff, 0xff},
		"huge length":       {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
		"negative length":   {0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x80},
	}
	for name, data := range inputs {
		t.Run(name, func(t *testing.T) {
			mem := checkedAlloc(t)
			schema, recs, err := DecodeArrowBatch(data, mem)
			if err == nil {
				t.Errorf("DecodeArrowBatch(%q) = %v, %d records, want an error", data, schema, len(recs))
			}
		})
	}

	// Every truncation and a few thousand corruptions of a valid stream must
	// fail cleanly or decode into valid records; none may panic.
	rnd := rand.New(rand.NewPCG(1, 2))
	try := func(data []byte) {
		t.Helper()
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		schema, recs, err := DecodeArrowBatch(data, mem)
		if err != nil {
			if schema != nil || recs != nil {
				t.Fatalf("error %v came with a schema or records", err)
			}
			return
		}
		for _, rec := range recs {
			if _, err := TableSchema(schema); err == nil {
				if _, err := AppendRowSet(nil, Binary, true, 0, []Slice{{rec, 0, fetchSize(rec)}}); err != nil {
					t.Logf("AppendRowSet: %v", err)
				}
			}
			rec.Release()
		}
	}
	for n := range len(valid) {
		try(valid[:n])
	}
	for _, stream := range [][]byte{ipcStream(t), valid} {
		for range 1000 {
			data := bytes.Clone(stream)
			for range 1 + rnd.IntN(4) {
				data[rnd.IntN(len(data))] = byte(rnd.Uint32())
			}
			try(data)
		}
	}
}

func TestBoundedAllocator(t *testing.T) {
	mem := checkedAlloc(t)
	b := newBoundedAllocator(mem, 100)
	buf := b.Allocate(60)
	buf = b.Reallocate(90, buf)
	defer b.Free(buf)
	defer func() {
		if p := recover(); p != errBatchTooLarge {
			t.Errorf("allocating past the bound: recovered %v, want errBatchTooLarge", p)
		}
	}()
	b.Free(b.Allocate(11))
	t.Error("allocating past the bound did not panic")
}

func TestDecodeArrowBatchTooLarge(t *testing.T) {
	// A compressed buffer's declared size is trusted by the IPC reader; the
	// bound turns an absurd one into an error. Patch the first compressed
	// buffer's 8-byte size prefix of a valid stream to 2 GiB.
	valid := ipcStream(t, ipc.WithLZ4())
	mem := checkedAlloc(t)
	found := false
	for i := 0; i+8 <= len(valid) && !found; i++ {
		// lz4 frames start with the magic number 0x184D2204.
		if i >= 8 && bytes.Equal(valid[i:i+4], []byte{0x04, 0x22, 0x4d, 0x18}) {
			data := bytes.Clone(valid)
			copy(data[i-8:i], []byte{0, 0, 0, 0x80, 0, 0, 0, 0})
			_, recs, err := DecodeArrowBatch(data, mem)
			releaseAll(recs)
			if !errors.Is(err, errBatchTooLarge) {
				t.Errorf("declared 2 GiB buffer: err = %v, want errBatchTooLarge", err)
			}
			found = true
		}
	}
	if !found {
		t.Fatal("no lz4 frame in the stream")
	}
}

func FuzzDecodeArrowBatch(f *testing.F) {
	f.Add(ipcStream(f))
	f.Add(ipcStream(f, ipc.WithZstd()))
	f.Add(ipcStream(f, ipc.WithLZ4()))
	// Keep inputs that render a few bytes into gigabytes of text quick.
	maxRenderedBytes = 1 << 20
	f.Fuzz(func(t *testing.T, data []byte) {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		// Nothing may stay allocated, whether the decode failed or the
		// records were released.
		defer mem.AssertSize(t, 0)
		// A smaller bound than DecodeArrowBatch's keeps inputs that declare
		// huge buffers from spending the fuzzer's time clearing memory.
		schema, recs, err := decodeArrowBatch(data, mem, 16<<20)
		if err != nil {
			if schema != nil || recs != nil {
				t.Fatalf("error %v came with a schema or records", err)
			}
			return
		}
		hiveSchema, schemaErr := TableSchema(schema)
		for _, rec := range recs {
			if schemaErr == nil {
				// Whatever decodes, with a schema TableSchema accepts, encodes in every form,
				// into bytes the generated code reads and writes back the same.
				n := fetchSize(rec)
				for _, enc := range encodings {
					for _, columnar := range []bool{true, false} {
						got, err := AppendRowSet(nil, enc, columnar, 0, []Slice{{rec, 0, n / 2}, {rec, n / 2, n - n/2}})
						if err != nil {
							t.Errorf("AppendRowSet(columnar=%v) on a schema TableSchema accepted: %v", columnar, err)
							continue
						}
						roundTrip(t, got, enc)
					}
				}
			}
			rec.Release()
		}
		if schemaErr == nil {
			EmptyRowSet(hiveSchema, true)
		}
	})
}

// fetchSize is how many rows of rec a fetch encodes at most. A record's row
// count is not bounded by its size (a null column takes no bytes), so, like
// the frontends, tests encode no more rows than a client would fetch.
func fetchSize(rec arrow.RecordBatch) int {
	return int(min(rec.NumRows(), 1024))
}

func TestValidateStrings(t *testing.T) {
	build := func(offsets []int32, data string) arrow.Array {
		d := array.NewData(arrow.BinaryTypes.String, len(offsets)-1,
			[]*memory.Buffer{nil, memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(offsets)), memory.NewBufferBytes([]byte(data))}, nil, 0, 0)
		defer d.Release()
		return array.NewStringData(d)
	}
	good := build([]int32{0, 2, 2, 5}, "ab\xffcd")
	defer good.Release()
	if err := validateStrings(good, good.(*array.String).ValueOffsets()); err != nil {
		t.Errorf("offsets in order, bytes not UTF-8: %v (the bytes pass through as they are)", err)
	}
	for name, offs := range map[string][]int32{"decreasing": {0, 3, 1, 5}, "negative": {-1, 2, 2, 5}} {
		bad := build(offs, "ab\xffcd")
		if err := validateStrings(bad, bad.(*array.String).ValueOffsets()); err == nil {
			t.Errorf("%s offsets %v: want an error", name, offs)
		}
		bad.Release()
	}
}
