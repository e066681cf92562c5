package translate

import (
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/sparkbridge/sparkbridge/idl/hiveserver"
)

// checkedAlloc returns an allocator that fails t if anything allocated from
// it is still live when the test ends.
func checkedAlloc(t testing.TB) *memory.CheckedAllocator {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return mem
}

// fromJSON builds an array of type dt from its JSON form.
func fromJSON(t testing.TB, mem memory.Allocator, dt arrow.DataType, js string) arrow.Array {
	t.Helper()
	arr, _, err := array.FromJSON(mem, dt, strings.NewReader(js))
	if err != nil {
		t.Fatalf("FromJSON(%s, %s): %v", dt, js, err)
	}
	return arr
}

// oneColumn wraps arr into a single-column record named "c"; arr is
// released.
func oneColumn(arr arrow.Array) arrow.RecordBatch {
	defer arr.Release()
	schema := arrow.NewSchema([]arrow.Field{{Name: "c", Type: arr.DataType(), Nullable: true}}, nil)
	return array.NewRecordBatch(schema, []arrow.Array{arr}, int64(arr.Len()))
}

// bitmap builds a Thrift null bitmap of n rows with the given rows null.
func bitmap(n int, null ...int) []byte {
	bm := make([]byte, (n+7)/8)
	for _, j := range null {
		bm[j/8] |= 1 << (j % 8)
	}
	return bm
}

// sliceColumn returns rows [off, off+n) of a Thrift column, the way the
// test expects ColumnarRowSet to slice a record.
func sliceColumn(c *hiveserver.TColumn, off, n int) *hiveserver.TColumn {
	nulls := func(src []byte) []byte {
		bm := make([]byte, (n+7)/8)
		for j := range n {
			if isSet(src, off+j) {
				bm[j/8] |= 1 << (j % 8)
			}
		}
		return bm
	}
	switch {
	case c.BoolVal != nil:
		return &hiveserver.TColumn{BoolVal: &hiveserver.TBoolColumn{Values: c.BoolVal.Values[off : off+n : off+n], Nulls: nulls(c.BoolVal.Nulls)}}
	case c.ByteVal != nil:
		return &hiveserver.TColumn{ByteVal: &hiveserver.TByteColumn{Values: c.ByteVal.Values[off : off+n : off+n], Nulls: nulls(c.ByteVal.Nulls)}}
	case c.I16Val != nil:
		return &hiveserver.TColumn{I16Val: &hiveserver.TI16Column{Values: c.I16Val.Values[off : off+n : off+n], Nulls: nulls(c.I16Val.Nulls)}}
	case c.I32Val != nil:
		return &hiveserver.TColumn{I32Val: &hiveserver.TI32Column{Values: c.I32Val.Values[off : off+n : off+n], Nulls: nulls(c.I32Val.Nulls)}}
	case c.I64Val != nil:
		return &hiveserver.TColumn{I64Val: &hiveserver.TI64Column{Values: c.I64Val.Values[off : off+n : off+n], Nulls: nulls(c.I64Val.Nulls)}}
	case c.DoubleVal != nil:
		return &hiveserver.TColumn{DoubleVal: &hiveserver.TDoubleColumn{Values: c.DoubleVal.Values[off : off+n : off+n], Nulls: nulls(c.DoubleVal.Nulls)}}
	case c.StringVal != nil:
		return &hiveserver.TColumn{StringVal: &hiveserver.TStringColumn{Values: c.StringVal.Values[off : off+n : off+n], Nulls: nulls(c.StringVal.Nulls)}}
	case c.BinaryVal != nil:
		return &hiveserver.TColumn{BinaryVal: &hiveserver.TBinaryColumn{Values: c.BinaryVal.Values[off : off+n : off+n], Nulls: nulls(c.BinaryVal.Nulls)}}
	}
	panic("empty TColumn")
}

// cellsOf returns the row-based cells that carry the same values as a
// columnar column.
func cellsOf(c *hiveserver.TColumn) []*hiveserver.TColumnValue {
	var cells []*hiveserver.TColumnValue
	add := func(nulls []byte, n int, cell func(j int, null bool) *hiveserver.TColumnValue) {
		for j := range n {
			cells = append(cells, cell(j, isSet(nulls, j)))
		}
	}
	switch {
	case c.BoolVal != nil:
		add(c.BoolVal.Nulls, len(c.BoolVal.Values), func(j int, null bool) *hiveserver.TColumnValue {
			return &hiveserver.TColumnValue{BoolVal: &hiveserver.TBoolValue{Value: unlessNull(c.BoolVal.Values[j], null)}}
		})
	case c.ByteVal != nil:
		add(c.ByteVal.Nulls, len(c.ByteVal.Values), func(j int, null bool) *hiveserver.TColumnValue {
			return &hiveserver.TColumnValue{ByteVal: &hiveserver.TByteValue{Value: unlessNull(c.ByteVal.Values[j], null)}}
		})
	case c.I16Val != nil:
		add(c.I16Val.Nulls, len(c.I16Val.Values), func(j int, null bool) *hiveserver.TColumnValue {
			return &hiveserver.TColumnValue{I16Val: &hiveserver.TI16Value{Value: unlessNull(c.I16Val.Values[j], null)}}
		})
	case c.I32Val != nil:
		add(c.I32Val.Nulls, len(c.I32Val.Values), func(j int, null bool) *hiveserver.TColumnValue {
			return &hiveserver.TColumnValue{I32Val: &hiveserver.TI32Value{Value: unlessNull(c.I32Val.Values[j], null)}}
		})
	case c.I64Val != nil:
		add(c.I64Val.Nulls, len(c.I64Val.Values), func(j int, null bool) *hiveserver.TColumnValue {
			return &hiveserver.TColumnValue{I64Val: &hiveserver.TI64Value{Value: unlessNull(c.I64Val.Values[j], null)}}
		})
	case c.DoubleVal != nil:
		add(c.DoubleVal.Nulls, len(c.DoubleVal.Values), func(j int, null bool) *hiveserver.TColumnValue {
			return &hiveserver.TColumnValue{DoubleVal: &hiveserver.TDoubleValue{Value: unlessNull(c.DoubleVal.Values[j], null)}}
		})
	case c.StringVal != nil:
		add(c.StringVal.Nulls, len(c.StringVal.Values), func(j int, null bool) *hiveserver.TColumnValue {
			return &hiveserver.TColumnValue{StringVal: &hiveserver.TStringValue{Value: unlessNull(c.StringVal.Values[j], null)}}
		})
	case c.BinaryVal != nil:
		// Row-based sets have no binary value; binaries travel as text.
		add(c.BinaryVal.Nulls, len(c.BinaryVal.Values), func(j int, null bool) *hiveserver.TColumnValue {
			return &hiveserver.TColumnValue{StringVal: &hiveserver.TStringValue{Value: unlessNull(string(c.BinaryVal.Values[j]), null)}}
		})
	}
	return cells
}

func unlessNull[T any](v T, null bool) *T {
	if null {
		return nil
	}
	return &v
}

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }
