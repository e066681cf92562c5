package translate

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/thrift/lib/go/thrift"

	"github.com/sparkbridge/sparkbridge/idl/hiveserver"
)

// Slice is rows [Off, Off+Len) of one Arrow record: one piece of a fetched page.
type Slice struct {
	Rec      arrow.RecordBatch
	Off, Len int
}

// Thrift binary protocol type ids.
const (
	tStop   = 0
	tBool   = 2
	tByte   = 3
	tDouble = 4
	tI16    = 6
	tI32    = 8
	tI64    = 10
	tString = 11
	tStruct = 12
	tList   = 15
)

// TColumn union field ids.
const (
	colBool = iota + 1
	colByte
	colI16
	colI32
	colI64
	colDouble
	colString
	colBinary
)

// AppendColumnarRowSet appends to dst the Thrift binary-protocol encoding of the columnar
// TRowSet that ColumnarRowSet and AppendRowSet would build from slices, whose first row is
// row startRowOffset of the result. The bytes are the same; the difference is the route:
// booleans, integers, floating point, strings and binaries go from the Arrow buffers to the
// wire in one pass per column, with no TColumn, no per-value call through a TProtocol and no
// per-value allocation. Other types are rendered as ColumnarRowSet renders them. Every slice
// must have the same schema; there must be at least one.
func AppendColumnarRowSet(dst []byte, startRowOffset int64, slices []Slice) ([]byte, error) {
	if len(slices) == 0 {
		return dst, fmt.Errorf("translate: a row set needs at least one slice")
	}
	ncols := int(slices[0].Rec.NumCols())
	total := 0
	for _, s := range slices {
		if err := checkRange(s.Rec, s.Off, s.Len); err != nil {
			return dst, err
		}
		if int(s.Rec.NumCols()) != ncols {
			return dst, fmt.Errorf("translate: slices of %d and %d columns in one row set", ncols, s.Rec.NumCols())
		}
		total += s.Len
	}
	dst = appendField(dst, tI64, 1)
	dst = binary.BigEndian.AppendUint64(dst, uint64(startRowOffset))
	dst = appendField(dst, tList, 2)
	dst = appendListHeader(dst, tStruct, 0)
	dst = appendField(dst, tList, 3)
	dst = appendListHeader(dst, tStruct, ncols)
	nulls := make([]byte, (total+7)/8)
	for c := 0; c < ncols; c++ {
		var err error
		if dst, err = appendColumn(dst, slices, c, total, nulls); err != nil {
			return dst, fmt.Errorf("translate: column %d (%q): %w", c+1, slices[0].Rec.ColumnName(c), err)
		}
	}
	return append(dst, tStop), nil
}

func appendField(dst []byte, typ byte, id int16) []byte {
	return binary.BigEndian.AppendUint16(append(dst, typ), uint16(id))
}

func appendListHeader(dst []byte, elem byte, n int) []byte {
	return binary.BigEndian.AppendUint32(append(dst, elem), uint32(n))
}

// appendColumn encodes column c of every slice as one TColumn.
func appendColumn(dst []byte, slices []Slice, c, total int, nulls []byte) ([]byte, error) {
	clear(nulls)
	hasNulls := false
	for _, s := range slices {
		if s.Rec.Column(c).DataType().ID() != slices[0].Rec.Column(c).DataType().ID() {
			return dst, fmt.Errorf("column changes type between slices")
		}
	}
	id, elem, width := wireKind(slices[0].Rec.Column(c))
	if id == 0 {
		return appendRenderedColumn(dst, slices, c)
	}
	row := 0
	for _, s := range slices {
		arr := s.Rec.Column(c)
		if arr.NullN() > 0 {
			for j := 0; j < s.Len; j++ {
				if arr.IsNull(s.Off + j) {
					nulls[(row+j)/8] |= 1 << ((row + j) % 8)
					hasNulls = true
				}
			}
		}
		row += s.Len
	}
	dst = appendField(dst, tStruct, id)
	dst = appendField(dst, tList, 1)
	dst = appendListHeader(dst, elem, total)
	if width > 0 {
		dst = grow(dst, width*total)
	}
	row = 0
	for _, s := range slices {
		arr := s.Rec.Column(c)
		var nb []byte // this slice's part of the bitmap, when it has nulls
		if hasNulls && arr.NullN() > 0 {
			nb = nulls
		}
		dst = appendValues(dst, arr, s.Off, s.Len, nb, row)
		row += s.Len
	}
	dst = appendField(dst, tString, 2)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(nulls)))
	dst = append(dst, nulls...)
	return append(dst, tStop, tStop), nil
}

// wireKind gives a column's TColumn field, list element type and fixed width in bytes (0
// for variable width); id 0 means the column is rendered as text.
func wireKind(arr arrow.Array) (id int16, elem byte, width int) {
	switch arr.(type) {
	case *array.Boolean:
		return colBool, tBool, 1
	case *array.Int8:
		return colByte, tByte, 1
	case *array.Int16:
		return colI16, tI16, 2
	case *array.Int32:
		return colI32, tI32, 4
	case *array.Int64:
		return colI64, tI64, 8
	case *array.Float32, *array.Float64:
		return colDouble, tDouble, 8
	case *array.String, *array.LargeString:
		return colString, tString, 0
	case *array.Binary, *array.LargeBinary:
		return colBinary, tString, 0
	}
	return 0, 0, 0
}

func grow(dst []byte, n int) []byte {
	if cap(dst)-len(dst) < n {
		dst = append(make([]byte, 0, 2*cap(dst)+n), dst...)
	}
	return dst
}

// appendValues encodes rows [off, off+n) of arr; a null cell (its bit set in nulls at
// row+j, when nulls is not nil) is encoded as the zero value.
func appendValues(dst []byte, arr arrow.Array, off, n int, nulls []byte, row int) []byte {
	null := func(j int) bool { return nulls != nil && nulls[(row+j)/8]&(1<<((row+j)%8)) != 0 }
	switch a := arr.(type) {
	case *array.Boolean:
		for j := 0; j < n; j++ {
			v := byte(0)
			if !null(j) && a.Value(off+j) {
				v = 1
			}
			dst = append(dst, v)
		}
	case *array.Int8:
		for j, v := range a.Int8Values()[off : off+n] {
			if null(j) {
				v = 0
			}
			dst = append(dst, byte(v))
		}
	case *array.Int16:
		for j, v := range a.Int16Values()[off : off+n] {
			if null(j) {
				v = 0
			}
			dst = binary.BigEndian.AppendUint16(dst, uint16(v))
		}
	case *array.Int32:
		for j, v := range a.Int32Values()[off : off+n] {
			if null(j) {
				v = 0
			}
			dst = binary.BigEndian.AppendUint32(dst, uint32(v))
		}
	case *array.Int64:
		vals := a.Int64Values()[off : off+n]
		start := len(dst)
		dst = dst[:start+8*n]
		for j, v := range vals {
			if nulls != nil && null(j) {
				v = 0
			}
			binary.BigEndian.PutUint64(dst[start+8*j:], uint64(v))
		}
	case *array.Float32:
		for j, v := range a.Float32Values()[off : off+n] {
			d := widenFloat32(v)
			if null(j) {
				d = 0
			}
			dst = binary.BigEndian.AppendUint64(dst, math.Float64bits(d))
		}
	case *array.Float64:
		for j, v := range a.Float64Values()[off : off+n] {
			if null(j) {
				v = 0
			}
			dst = binary.BigEndian.AppendUint64(dst, math.Float64bits(v))
		}
	case *array.String:
		dst = appendVarWidth(dst, a.ValueOffsets(), a.ValueBytes(), off, n, nulls, row)
	case *array.LargeString:
		dst = appendVarWidth(dst, a.ValueOffsets(), a.ValueBytes(), off, n, nulls, row)
	case *array.Binary:
		dst = appendVarWidth(dst, a.ValueOffsets(), a.ValueBytes(), off, n, nulls, row)
	case *array.LargeBinary:
		dst = appendVarWidth(dst, a.ValueOffsets(), a.ValueBytes(), off, n, nulls, row)
	}
	return dst
}

// appendVarWidth encodes strings or binaries as Thrift binaries: a 4-byte length, then the
// bytes. offsets and data are what ValueOffsets and ValueBytes return.
func appendVarWidth[O int32 | int64](dst []byte, offsets []O, data []byte, off, n int, nulls []byte, row int) []byte {
	if n == 0 {
		return dst
	}
	base := offsets[0]
	dst = grow(dst, 4*n+int(offsets[off+n]-offsets[off]))
	offs := offsets[off : off+n+1]
	for j := 0; j < n; j++ {
		if nulls != nil && nulls[(row+j)/8]&(1<<((row+j)%8)) != 0 {
			dst = append(dst, 0, 0, 0, 0)
			continue
		}
		s, e := offs[j]-base, offs[j+1]-base
		dst = binary.BigEndian.AppendUint32(dst, uint32(e-s))
		dst = append(dst, data[s:e]...)
	}
	return dst
}

// appendRenderedColumn encodes a column of a type sent as text through the TColumn route.
func appendRenderedColumn(dst []byte, slices []Slice, c int) ([]byte, error) {
	var col *hiveserver.TColumn
	for _, s := range slices {
		part, err := column(s.Rec.Column(c), s.Off, s.Len)
		if err != nil {
			return dst, err
		}
		if col == nil {
			col = part
			continue
		}
		if err := AppendRowSet(&hiveserver.TRowSet{Columns: []*hiveserver.TColumn{col}}, &hiveserver.TRowSet{Columns: []*hiveserver.TColumn{part}}); err != nil {
			return dst, err
		}
	}
	buf := thrift.NewTMemoryBufferLen(64 << 10)
	if err := col.Write(context.Background(), thrift.NewTBinaryProtocolConf(buf, nil)); err != nil {
		return dst, err
	}
	return append(dst, buf.Bytes()...), nil
}
