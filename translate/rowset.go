package translate

import (
	"bytes"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/sparkbridge/sparkbridge/idl/hiveserver"
)

// ColumnarRowSet encodes rows [offset, offset+length) of rec as a columnar
// TRowSet (protocol V6 and later) whose first row is row startRowOffset of
// the result set. Rows is empty and Columns has one TColumn per field of rec.
//
// Encoding follows the Spark Thrift Server: booleans and integers keep their
// width (BoolVal, ByteVal, I16Val, I32Val, I64Val), floats and doubles become
// DoubleVal (a float is widened through its shortest decimal form, so 0.1f is
// sent as 0.1), strings become StringVal and binaries BinaryVal. Every other
// type is sent as StringVal in the text form of Spark's
// HiveResult.toHiveString: decimals as plain numbers with all scale digits,
// dates as 2024-01-31, timestamps as 2024-01-31 12:34:56.123456 (UTC),
// arrays as [1,2,null], maps as {"a":1,"b":null} with entries sorted,
// structs as {"f1":1,"f2":"x"}, day-time intervals as 1 02:03:04.000000000
// and year-month intervals as 1-2. Strings inside complex values are wrapped
// in double quotes without any escaping, exactly as Spark does. A column
// whose text would exceed 1 GiB is an error rather than an out-of-memory
// crash: Arrow can pack a billion nulls into a few bytes.
//
// A null cell sets its bit in the column's Nulls bitmap (bit i%8 of byte i/8;
// the bitmap always has (length+7)/8 bytes) and holds the zero value.
//
// The row set shares no memory with rec: rec may be released as soon as
// ColumnarRowSet returns.
func ColumnarRowSet(rec arrow.RecordBatch, offset, length int, startRowOffset int64) (*hiveserver.TRowSet, error) {
	if err := checkRange(rec, offset, length); err != nil {
		return nil, err
	}
	cols := make([]*hiveserver.TColumn, rec.NumCols())
	for c, arr := range rec.Columns() {
		col, err := column(arr, offset, length)
		if err != nil {
			return nil, fmt.Errorf("translate: column %d (%q): %w", c+1, rec.ColumnName(c), err)
		}
		cols[c] = col
	}
	return &hiveserver.TRowSet{
		StartRowOffset: startRowOffset,
		Rows:           []*hiveserver.TRow{},
		Columns:        cols,
	}, nil
}

// RowBasedRowSet encodes rows [offset, offset+length) of rec as a row-based
// TRowSet, the form protocol versions before V6 expect. Each cell is a
// TColumnValue of the type ColumnarRowSet would use for its column (binaries,
// which have no row-based form, become strings decoded as UTF-8); a null cell
// is the same typed value with Value unset.
//
// The row set shares no memory with rec.
func RowBasedRowSet(rec arrow.RecordBatch, offset, length int, startRowOffset int64) (*hiveserver.TRowSet, error) {
	if err := checkRange(rec, offset, length); err != nil {
		return nil, err
	}
	ncols := int(rec.NumCols())
	rows := make([]*hiveserver.TRow, length)
	store := make([]hiveserver.TRow, length)
	cells := make([]*hiveserver.TColumnValue, length*ncols)
	for r := range rows {
		store[r].ColVals = cells[r*ncols : (r+1)*ncols : (r+1)*ncols]
		rows[r] = &store[r]
	}
	for c, arr := range rec.Columns() {
		vals, err := columnValues(arr, offset, length)
		if err != nil {
			return nil, fmt.Errorf("translate: column %d (%q): %w", c+1, rec.ColumnName(c), err)
		}
		for r := range rows {
			rows[r].ColVals[c] = &vals[r]
		}
	}
	return &hiveserver.TRowSet{StartRowOffset: startRowOffset, Rows: rows}, nil
}

// EmptyRowSet returns a row set with no rows for a result described by
// schema: for columnar row sets, one empty column per schema column, of the
// kind ColumnarRowSet would produce for it. A nil schema has no columns.
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

// column encodes one arrow column. The type switch runs once per column;
// the loops below it work on typed arrays.
func column(arr arrow.Array, off, n int) (*hiveserver.TColumn, error) {
	nulls, hasNulls := nullBitmap(arr, off, n)
	switch a := arr.(type) {
	case *array.Boolean:
		vals := make([]bool, n)
		for j := range vals {
			vals[j] = a.Value(off + j)
		}
		zeroNulls(vals, nulls, hasNulls)
		return &hiveserver.TColumn{BoolVal: &hiveserver.TBoolColumn{Values: vals, Nulls: nulls}}, nil
	case *array.Int8:
		vals := copyFixed(a.Int8Values()[off:off+n], nulls, hasNulls)
		return &hiveserver.TColumn{ByteVal: &hiveserver.TByteColumn{Values: vals, Nulls: nulls}}, nil
	case *array.Int16:
		vals := copyFixed(a.Int16Values()[off:off+n], nulls, hasNulls)
		return &hiveserver.TColumn{I16Val: &hiveserver.TI16Column{Values: vals, Nulls: nulls}}, nil
	case *array.Int32:
		vals := copyFixed(a.Int32Values()[off:off+n], nulls, hasNulls)
		return &hiveserver.TColumn{I32Val: &hiveserver.TI32Column{Values: vals, Nulls: nulls}}, nil
	case *array.Int64:
		vals := copyFixed(a.Int64Values()[off:off+n], nulls, hasNulls)
		return &hiveserver.TColumn{I64Val: &hiveserver.TI64Column{Values: vals, Nulls: nulls}}, nil
	case *array.Float32:
		src := a.Float32Values()[off : off+n]
		vals := make([]float64, n)
		for j, f := range src {
			vals[j] = widenFloat32(f)
		}
		zeroNulls(vals, nulls, hasNulls)
		return &hiveserver.TColumn{DoubleVal: &hiveserver.TDoubleColumn{Values: vals, Nulls: nulls}}, nil
	case *array.Float64:
		vals := copyFixed(a.Float64Values()[off:off+n], nulls, hasNulls)
		return &hiveserver.TColumn{DoubleVal: &hiveserver.TDoubleColumn{Values: vals, Nulls: nulls}}, nil
	case *array.String:
		vals := stringValues(a.ValueOffsets(), a.ValueBytes(), off, n, nulls, hasNulls)
		return &hiveserver.TColumn{StringVal: &hiveserver.TStringColumn{Values: vals, Nulls: nulls}}, nil
	case *array.LargeString:
		vals := stringValues(a.ValueOffsets(), a.ValueBytes(), off, n, nulls, hasNulls)
		return &hiveserver.TColumn{StringVal: &hiveserver.TStringColumn{Values: vals, Nulls: nulls}}, nil
	case *array.Binary:
		vals := binaryValues(a.ValueOffsets(), a.ValueBytes(), off, n, nulls, hasNulls)
		return &hiveserver.TColumn{BinaryVal: &hiveserver.TBinaryColumn{Values: vals, Nulls: nulls}}, nil
	case *array.LargeBinary:
		vals := binaryValues(a.ValueOffsets(), a.ValueBytes(), off, n, nulls, hasNulls)
		return &hiveserver.TColumn{BinaryVal: &hiveserver.TBinaryColumn{Values: vals, Nulls: nulls}}, nil
	}
	vals, err := renderedValues(arr, off, n, nulls)
	if err != nil {
		return nil, err
	}
	return &hiveserver.TColumn{StringVal: &hiveserver.TStringColumn{Values: vals, Nulls: nulls}}, nil
}

func copyFixed[T any](src []T, nulls []byte, hasNulls bool) []T {
	vals := make([]T, len(src))
	copy(vals, src)
	zeroNulls(vals, nulls, hasNulls)
	return vals
}

// zeroNulls clears the values under null cells: Arrow leaves them undefined
// and the Thrift column must carry the zero value there.
func zeroNulls[T any](vals []T, nulls []byte, hasNulls bool) {
	if !hasNulls {
		return
	}
	var zero T
	for j := range vals {
		if isSet(nulls, j) {
			vals[j] = zero
		}
	}
}

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

// binaryValues is stringValues for byte slices; each value is capped so an
// append by the caller cannot run into its neighbour.
func binaryValues[O int32 | int64](offsets []O, data []byte, off, n int, nulls []byte, hasNulls bool) [][]byte {
	vals := make([][]byte, n)
	if n == 0 {
		return vals
	}
	base := offsets[off]
	all := bytes.Clone(data[base-offsets[0] : offsets[off+n]-offsets[0]])
	for j := range vals {
		if hasNulls && isSet(nulls, j) {
			continue
		}
		s, e := offsets[off+j]-base, offsets[off+j+1]-base
		vals[j] = all[s:e:e]
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

// columnValues encodes rows [off, off+n) of arr as row-based cells. The
// typed value structs and their values are allocated per column, not per
// cell.
func columnValues(arr arrow.Array, off, n int) ([]hiveserver.TColumnValue, error) {
	cells := make([]hiveserver.TColumnValue, n)
	nulls, _ := nullBitmap(arr, off, n)
	switch a := arr.(type) {
	case *array.Boolean:
		ws := make([]hiveserver.TBoolValue, n)
		fillCells(n, nulls, off, a.Value, func(j int, v *bool) { ws[j].Value = v; cells[j].BoolVal = &ws[j] })
	case *array.Int8:
		ws := make([]hiveserver.TByteValue, n)
		fillCells(n, nulls, off, a.Value, func(j int, v *int8) { ws[j].Value = v; cells[j].ByteVal = &ws[j] })
	case *array.Int16:
		ws := make([]hiveserver.TI16Value, n)
		fillCells(n, nulls, off, a.Value, func(j int, v *int16) { ws[j].Value = v; cells[j].I16Val = &ws[j] })
	case *array.Int32:
		ws := make([]hiveserver.TI32Value, n)
		fillCells(n, nulls, off, a.Value, func(j int, v *int32) { ws[j].Value = v; cells[j].I32Val = &ws[j] })
	case *array.Int64:
		ws := make([]hiveserver.TI64Value, n)
		fillCells(n, nulls, off, a.Value, func(j int, v *int64) { ws[j].Value = v; cells[j].I64Val = &ws[j] })
	case *array.Float32:
		ws := make([]hiveserver.TDoubleValue, n)
		value := func(i int) float64 { return widenFloat32(a.Value(i)) }
		fillCells(n, nulls, off, value, func(j int, v *float64) { ws[j].Value = v; cells[j].DoubleVal = &ws[j] })
	case *array.Float64:
		ws := make([]hiveserver.TDoubleValue, n)
		fillCells(n, nulls, off, a.Value, func(j int, v *float64) { ws[j].Value = v; cells[j].DoubleVal = &ws[j] })
	default:
		var vals []string
		switch a := arr.(type) {
		case *array.String:
			vals = stringValues(a.ValueOffsets(), a.ValueBytes(), off, n, nulls, true)
		case *array.LargeString:
			vals = stringValues(a.ValueOffsets(), a.ValueBytes(), off, n, nulls, true)
		default:
			var err error
			if vals, err = renderedValues(arr, off, n, nulls); err != nil {
				return nil, err
			}
		}
		ws := make([]hiveserver.TStringValue, n)
		for j := range cells {
			if !isSet(nulls, j) {
				ws[j].Value = &vals[j]
			}
			cells[j].StringVal = &ws[j]
		}
	}
	return cells, nil
}

// fillCells reads the non-null values of rows [off, off+n) into one slice
// and hands set a pointer to each, or nil for a null cell.
func fillCells[T any](n int, nulls []byte, off int, value func(int) T, set func(j int, v *T)) {
	vals := make([]T, n)
	for j := range vals {
		if isSet(nulls, j) {
			set(j, nil)
			continue
		}
		vals[j] = value(off + j)
		set(j, &vals[j])
	}
}

// AppendRowSet appends the rows of src, which must come from the same schema and be of the
// same form (columnar or row-based), to dst. It lets one fetch span several Arrow batches.
func AppendRowSet(dst, src *hiveserver.TRowSet) error {
	if len(dst.Columns) != len(src.Columns) {
		return fmt.Errorf("translate: appending a row set of %d columns to one of %d", len(src.Columns), len(dst.Columns))
	}
	dst.Rows = append(dst.Rows, src.Rows...)
	for i, d := range dst.Columns {
		s := src.Columns[i]
		var err error
		switch {
		case d.BoolVal != nil && s.BoolVal != nil:
			appendTyped(&d.BoolVal.Values, &d.BoolVal.Nulls, s.BoolVal.Values, s.BoolVal.Nulls)
		case d.ByteVal != nil && s.ByteVal != nil:
			appendTyped(&d.ByteVal.Values, &d.ByteVal.Nulls, s.ByteVal.Values, s.ByteVal.Nulls)
		case d.I16Val != nil && s.I16Val != nil:
			appendTyped(&d.I16Val.Values, &d.I16Val.Nulls, s.I16Val.Values, s.I16Val.Nulls)
		case d.I32Val != nil && s.I32Val != nil:
			appendTyped(&d.I32Val.Values, &d.I32Val.Nulls, s.I32Val.Values, s.I32Val.Nulls)
		case d.I64Val != nil && s.I64Val != nil:
			appendTyped(&d.I64Val.Values, &d.I64Val.Nulls, s.I64Val.Values, s.I64Val.Nulls)
		case d.DoubleVal != nil && s.DoubleVal != nil:
			appendTyped(&d.DoubleVal.Values, &d.DoubleVal.Nulls, s.DoubleVal.Values, s.DoubleVal.Nulls)
		case d.StringVal != nil && s.StringVal != nil:
			appendTyped(&d.StringVal.Values, &d.StringVal.Nulls, s.StringVal.Values, s.StringVal.Nulls)
		case d.BinaryVal != nil && s.BinaryVal != nil:
			appendTyped(&d.BinaryVal.Values, &d.BinaryVal.Nulls, s.BinaryVal.Values, s.BinaryVal.Nulls)
		default:
			err = fmt.Errorf("translate: column %d changes type between row sets", i+1)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// appendTyped appends one column's values and null bitmap to another's.
func appendTyped[T any](dVals *[]T, dNulls *[]byte, sVals []T, sNulls []byte) {
	*dNulls = appendNulls(*dNulls, len(*dVals), sNulls, len(sVals))
	*dVals = append(*dVals, sVals...)
}

// appendNulls merges the null bitmap of m rows after one of n rows.
func appendNulls(dst []byte, n int, src []byte, m int) []byte {
	need := (n + m + 7) / 8
	for len(dst) < need {
		dst = append(dst, 0)
	}
	for j := 0; j < m; j++ {
		if j/8 < len(src) && src[j/8]&(1<<(j%8)) != 0 {
			dst[(n+j)/8] |= 1 << ((n + j) % 8)
		}
	}
	return dst[:need]
}
