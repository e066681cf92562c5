package translate

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/sparkbridge/sparkbridge/idl/hiveserver"
)

// EmptyRowSet returns a row set with no rows for a result described by
// schema: for columnar row sets, one empty column per schema column, of the
// member AppendRowSet would encode it as. A nil schema has no columns.
func EmptyRowSet(schema *hiveserver.TTableSchema, columnar bool) *hiveserver.TRowSet {
	rs := &hiveserver.TRowSet{Rows: []*hiveserver.TRow{}}
	if !columnar {
		return rs
	}
	var cols []*hiveserver.TColumnDesc
	if schema != nil {
		cols = schema.Columns
	}
	rs.Columns = make([]*hiveserver.TColumn, len(cols))
	for i, c := range cols {
		var id hiveserver.TTypeId = hiveserver.TTypeId_STRING_TYPE
		if types := c.GetTypeDesc().GetTypes(); len(types) > 0 && types[0].GetPrimitiveEntry() != nil {
			id = types[0].GetPrimitiveEntry().GetType()
		}
		rs.Columns[i] = emptyColumn(id)
	}
	return rs
}

func emptyColumn(id hiveserver.TTypeId) *hiveserver.TColumn {
	nulls := []byte{}
	switch id {
	case hiveserver.TTypeId_BOOLEAN_TYPE:
		return &hiveserver.TColumn{BoolVal: &hiveserver.TBoolColumn{Values: []bool{}, Nulls: nulls}}
	case hiveserver.TTypeId_TINYINT_TYPE:
		return &hiveserver.TColumn{ByteVal: &hiveserver.TByteColumn{Values: []int8{}, Nulls: nulls}}
	case hiveserver.TTypeId_SMALLINT_TYPE:
		return &hiveserver.TColumn{I16Val: &hiveserver.TI16Column{Values: []int16{}, Nulls: nulls}}
	case hiveserver.TTypeId_INT_TYPE:
		return &hiveserver.TColumn{I32Val: &hiveserver.TI32Column{Values: []int32{}, Nulls: nulls}}
	case hiveserver.TTypeId_BIGINT_TYPE:
		return &hiveserver.TColumn{I64Val: &hiveserver.TI64Column{Values: []int64{}, Nulls: nulls}}
	case hiveserver.TTypeId_FLOAT_TYPE, hiveserver.TTypeId_DOUBLE_TYPE:
		return &hiveserver.TColumn{DoubleVal: &hiveserver.TDoubleColumn{Values: []float64{}, Nulls: nulls}}
	case hiveserver.TTypeId_BINARY_TYPE:
		return &hiveserver.TColumn{BinaryVal: &hiveserver.TBinaryColumn{Values: [][]byte{}, Nulls: nulls}}
	}
	return &hiveserver.TColumn{StringVal: &hiveserver.TStringColumn{Values: []string{}, Nulls: nulls}}
}

func checkRange(rec arrow.RecordBatch, offset, length int) error {
	if offset < 0 || length < 0 || int64(offset)+int64(length) > rec.NumRows() {
		return fmt.Errorf("translate: rows [%d, %d+%d) outside a record of %d rows", offset, offset, length, rec.NumRows())
	}
	return nil
}

// nullBitmap returns the Thrift null bitmap of rows [off, off+n) of arr and
// whether any bit is set.
func nullBitmap(arr arrow.Array, off, n int) ([]byte, bool) {
	bm := make([]byte, (n+7)/8)
	if _, ok := arr.(*array.Null); ok {
		for j := range n {
			bm[j/8] |= 1 << (j % 8)
		}
		return bm, n > 0
	}
	if arr.NullN() == 0 {
		return bm, false
	}
	any := false
	for j := range n {
		if arr.IsNull(off + j) {
			bm[j/8] |= 1 << (j % 8)
			any = true
		}
	}
	return bm, any
}

func isSet(bm []byte, j int) bool { return bm[j/8]&(1<<(j%8)) != 0 }

// stringValues copies the bytes of rows [off, off+n) into one string and
// slices every value out of it: one allocation per column, not per value.
// offsets and data are what String.ValueOffsets and ValueBytes return, so
// offsets[0] is the position of data[0].
func stringValues[O int32 | int64](offsets []O, data []byte, off, n int, nulls []byte, hasNulls bool) []string {
	vals := make([]string, n)
	if n == 0 {
		return vals
	}
	base := offsets[off]
	all := string(data[base-offsets[0] : offsets[off+n]-offsets[0]])
	for j := range vals {
		if hasNulls && isSet(nulls, j) {
			continue
		}
		vals[j] = all[offsets[off+j]-base : offsets[off+j+1]-base]
	}
	return vals
}

// renderedValues renders rows [off, off+n) of arr as toHiveString text into
// one buffer and slices the values out of it. Null cells stay "".
func renderedValues(arr arrow.Array, off, n int, nulls []byte) ([]string, error) {
	render, err := newAppender(arr)
	if err != nil {
		return nil, err
	}
	ends := make([]int, n)
	var buf []byte
	for j := range ends {
		if !isSet(nulls, j) {
			buf = render(buf, off+j)
		}
		if len(buf) > maxRenderedBytes {
			return nil, errRenderedTooLarge
		}
		ends[j] = len(buf)
	}
	all := string(buf)
	vals := make([]string, n)
	start := 0
	for j, end := range ends {
		vals[j] = all[start:end]
		start = end
	}
	return vals, nil
}
