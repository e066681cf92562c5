package translate

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// Slice is rows [Off, Off+Len) of one Arrow record: one piece of a fetched page.
type Slice struct {
	Rec      arrow.RecordBatch
	Off, Len int
}

// Encoding is the Thrift protocol encoding a row set is written in.
type Encoding uint8

const (
	// Binary is TBinaryProtocol's encoding, the one HiveServer2 clients speak.
	Binary Encoding = iota + 1
	// Compact is TCompactProtocol's encoding.
	Compact
)

// Thrift type ids, as the binary protocol writes them.
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

// compactTypes maps a Thrift type id to the compact protocol's.
var compactTypes = [16]byte{tBool: 1, tByte: 3, tI16: 4, tI32: 5, tI64: 6, tDouble: 7, tString: 8, tList: 9, tStruct: 12}

// Field ids of the TCLIService structs a row set is made of. The tests compare every
// encoding with the generated code's, so a wrong id fails them.
const (
	fieldStartRowOffset = 1 // TRowSet
	fieldRows           = 2 // TRowSet
	fieldColumns        = 3 // TRowSet
	fieldColVals        = 1 // TRow
	fieldValues         = 1 // TBoolColumn, TI64Column, ...
	fieldNulls          = 2 // TBoolColumn, TI64Column, ...
	fieldValue          = 1 // TBoolValue, TI64Value, ...
)

// Members of the TColumn and TColumnValue unions; TColumnValue has no binary member.
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

// AppendRowSet appends to dst the encoding, in enc, of the TRowSet of slices, whose first row
// is row startRowOffset of the result: columnar (protocol V6 and later) or row-based (V1 to
// V5). Every slice must have the same schema; there must be at least one. The row set
// shares no memory with the records, which may be released as soon as it returns.
//
// Encoding follows the Spark Thrift Server: booleans and integers keep their width (BoolVal,
// ByteVal, I16Val, I32Val, I64Val), floats and doubles become DoubleVal (a float is widened
// through its shortest decimal form, so 0.1f is sent as 0.1), strings become StringVal and
// binaries BinaryVal. Every other type is sent as StringVal in the text form of Spark's
// HiveResult.toHiveString: decimals as plain numbers with all scale digits, dates as
// 2024-01-31, timestamps as 2024-01-31 12:34:56.123456 (UTC), arrays as [1,2,null], maps as
// {"a":1,"b":null} with entries sorted, structs as {"f1":1,"f2":"x"}, day-time intervals as
// 1 02:03:04.000000000 and year-month intervals as 1-2. Strings inside complex values are
// wrapped in double quotes without any escaping, exactly as Spark does. A column whose text
// would exceed 1 GiB is an error rather than an out-of-memory crash: Arrow can pack a
// billion nulls into a few bytes.
//
// In a columnar row set a null cell sets its bit in the column's Nulls bitmap (bit i%8 of
// byte i/8; the bitmap always has (rows+7)/8 bytes) and holds the zero value. In a row-based
// one each cell is a TColumnValue of the member a columnar set would use for its column
// (binaries, which have no row-based member, become strings decoded as UTF-8), and a null
// cell is that member with its value unset.
//
// Booleans, integers, floating point, strings and binaries go from the Arrow buffers to the
// wire in one pass per column, with no generated struct, no per-value call through a
// TProtocol and no per-value allocation.
func AppendRowSet(dst []byte, enc Encoding, columnar bool, startRowOffset int64, slices []Slice) ([]byte, error) {
	if enc != Binary && enc != Compact {
		return dst, fmt.Errorf("translate: unknown Thrift encoding %d", enc)
	}
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
	for c := 0; c < ncols; c++ {
		for _, s := range slices {
			if s.Rec.Column(c).DataType().ID() != slices[0].Rec.Column(c).DataType().ID() {
				return dst, fmt.Errorf("translate: column %d (%q): column changes type between slices", c+1, slices[0].Rec.ColumnName(c))
			}
		}
	}
	e := encoder{dst: dst, compact: enc == Compact}
	e.beginStruct()
	e.field(tI64, fieldStartRowOffset)
	e.i64(startRowOffset)
	var err error
	if columnar {
		e.field(tList, fieldRows)
		e.list(tStruct, 0)
		e.field(tList, fieldColumns)
		e.list(tStruct, ncols)
		nulls := make([]byte, (total+7)/8)
		for c := 0; c < ncols && err == nil; c++ {
			err = e.column(slices, c, total, nulls)
		}
	} else {
		e.field(tList, fieldRows)
		e.list(tStruct, total)
		err = e.rows(slices, ncols)
	}
	e.endStruct()
	return e.dst, err
}

// encoder appends Thrift values in the binary or the compact encoding.
type encoder struct {
	dst     []byte
	compact bool
	// last is the id of the last field written in the open struct, and outer that of each
	// enclosing struct: the compact encoding writes a field id as the difference.
	last  int16
	outer []int16
}

func (e *encoder) beginStruct() {
	if e.compact {
		e.outer = append(e.outer, e.last)
		e.last = 0
	}
}

func (e *encoder) endStruct() {
	e.dst = append(e.dst, tStop)
	if e.compact {
		e.last = e.outer[len(e.outer)-1]
		e.outer = e.outer[:len(e.outer)-1]
	}
}

func (e *encoder) field(typ byte, id int16) { e.fieldHeader(typ, compactTypes[typ], id) }

func (e *encoder) fieldHeader(typ, compactType byte, id int16) {
	if !e.compact {
		e.dst = binary.BigEndian.AppendUint16(append(e.dst, typ), uint16(id))
		return
	}
	if id > e.last && id-e.last <= 15 {
		e.dst = append(e.dst, byte(id-e.last)<<4|compactType)
	} else {
		e.dst = binary.AppendUvarint(append(e.dst, compactType), uint64(zigzag32(int32(id))))
	}
	e.last = id
}

// boolField writes a bool field; the compact encoding folds the value into the field header.
func (e *encoder) boolField(id int16, v bool) {
	if e.compact {
		e.fieldHeader(tBool, compactBool(v), id)
		return
	}
	e.field(tBool, id)
	e.dst = append(e.dst, binaryBool(v))
}

func (e *encoder) list(elem byte, n int) {
	switch {
	case !e.compact:
		e.dst = binary.BigEndian.AppendUint32(append(e.dst, elem), uint32(n))
	case n <= 14:
		e.dst = append(e.dst, byte(n)<<4|compactTypes[elem])
	default:
		e.dst = binary.AppendUvarint(append(e.dst, 0xf0|compactTypes[elem]), uint64(uint32(n)))
	}
}

func (e *encoder) i16(v int16) {
	if e.compact {
		e.dst = binary.AppendUvarint(e.dst, uint64(zigzag32(int32(v))))
		return
	}
	e.dst = binary.BigEndian.AppendUint16(e.dst, uint16(v))
}

func (e *encoder) i32(v int32) {
	if e.compact {
		e.dst = binary.AppendUvarint(e.dst, uint64(zigzag32(v)))
		return
	}
	e.dst = binary.BigEndian.AppendUint32(e.dst, uint32(v))
}

func (e *encoder) i64(v int64) {
	if e.compact {
		e.dst = binary.AppendUvarint(e.dst, zigzag64(v))
		return
	}
	e.dst = binary.BigEndian.AppendUint64(e.dst, uint64(v))
}

func (e *encoder) double(v float64) {
	if e.compact {
		e.dst = binary.LittleEndian.AppendUint64(e.dst, math.Float64bits(v))
		return
	}
	e.dst = binary.BigEndian.AppendUint64(e.dst, math.Float64bits(v))
}

// size writes the length of a string or binary.
func (e *encoder) size(n int) {
	if e.compact {
		e.dst = binary.AppendUvarint(e.dst, uint64(uint32(n)))
		return
	}
	e.dst = binary.BigEndian.AppendUint32(e.dst, uint32(n))
}

func (e *encoder) str(s string) {
	e.size(len(s))
	e.dst = append(e.dst, s...)
}

func (e *encoder) bytes(b []byte) {
	e.size(len(b))
	e.dst = append(e.dst, b...)
}

func zigzag32(v int32) uint32 { return uint32(v<<1) ^ uint32(v>>31) }
func zigzag64(v int64) uint64 { return uint64(v<<1) ^ uint64(v>>63) }

func binaryBool(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// compactBool is a bool in the compact encoding: 1 for true, 2 for false.
func compactBool(v bool) byte {
	if v {
		return 1
	}
	return 2
}

// isNull reports whether element i of arr is null. A Null array has no validity bitmap,
// so its IsNull would say false.
func isNull(arr arrow.Array, i int) bool {
	if _, ok := arr.(*array.Null); ok {
		return true
	}
	return arr.NullN() > 0 && arr.IsNull(i)
}

// column encodes column c of every slice as one TColumn. nulls is scratch space for the
// column's null bitmap.
func (e *encoder) column(slices []Slice, c, total int, nulls []byte) error {
	clear(nulls)
	hasNulls := false
	row := 0
	for _, s := range slices {
		arr := s.Rec.Column(c)
		if _, ok := arr.(*array.Null); ok || arr.NullN() > 0 {
			for j := 0; j < s.Len; j++ {
				if isNull(arr, s.Off+j) {
					nulls[(row+j)/8] |= 1 << ((row + j) % 8)
					hasNulls = true
				}
			}
		}
		row += s.Len
	}
	id, elem, width := wireKind(slices[0].Rec.Column(c))
	rendered := id == 0
	if rendered {
		id, elem = colString, tString
	}
	e.beginStruct() // TColumn
	e.field(tStruct, id)
	e.beginStruct() // TBoolColumn, TI64Column, ...
	e.field(tList, fieldValues)
	e.list(elem, total)
	if width > 0 && !e.compact {
		e.dst = grow(e.dst, width*total)
	}
	row = 0
	for _, s := range slices {
		arr := s.Rec.Column(c)
		if rendered {
			bm, _ := nullBitmap(arr, s.Off, s.Len)
			vals, err := renderedValues(arr, s.Off, s.Len, bm)
			if err != nil {
				return fmt.Errorf("translate: column %d (%q): %w", c+1, slices[0].Rec.ColumnName(c), err)
			}
			for _, v := range vals {
				e.str(v)
			}
		} else {
			var nb []byte // the bitmap, when this slice has nulls
			if hasNulls && arr.NullN() > 0 {
				nb = nulls
			}
			if e.compact {
				e.compactValues(arr, s.Off, s.Len, nb, row)
			} else {
				e.dst = appendValues(e.dst, arr, s.Off, s.Len, nb, row)
			}
		}
		row += s.Len
	}
	e.field(tString, fieldNulls)
	e.bytes(nulls)
	e.endStruct()
	e.endStruct()
	return nil
}

// wireKind gives the TColumn member of a column, its list element type and its fixed width
// in the binary encoding (0 for variable width); id 0 means the column is rendered as text.
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

// appendValues encodes rows [off, off+n) of arr in the binary encoding; a null cell (its bit
// set in nulls at row+j, when nulls is not nil) is encoded as the zero value.
func appendValues(dst []byte, arr arrow.Array, off, n int, nulls []byte, row int) []byte {
	null := func(j int) bool { return nulls != nil && nulls[(row+j)/8]&(1<<((row+j)%8)) != 0 }
	switch a := arr.(type) {
	case *array.Boolean:
		for j := 0; j < n; j++ {
			dst = append(dst, binaryBool(!null(j) && a.Value(off+j)))
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

// appendVarWidth encodes strings or binaries as binary-encoding binaries: a 4-byte length,
// then the bytes. offsets and data are what ValueOffsets and ValueBytes return.
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

// compactValues is appendValues for the compact encoding.
func (e *encoder) compactValues(arr arrow.Array, off, n int, nulls []byte, row int) {
	null := func(j int) bool { return nulls != nil && nulls[(row+j)/8]&(1<<((row+j)%8)) != 0 }
	switch a := arr.(type) {
	case *array.Boolean:
		for j := 0; j < n; j++ {
			e.dst = append(e.dst, compactBool(!null(j) && a.Value(off+j)))
		}
	case *array.Int8:
		for j, v := range a.Int8Values()[off : off+n] {
			if null(j) {
				v = 0
			}
			e.dst = append(e.dst, byte(v))
		}
	case *array.Int16:
		for j, v := range a.Int16Values()[off : off+n] {
			if null(j) {
				v = 0
			}
			e.i16(v)
		}
	case *array.Int32:
		for j, v := range a.Int32Values()[off : off+n] {
			if null(j) {
				v = 0
			}
			e.i32(v)
		}
	case *array.Int64:
		for j, v := range a.Int64Values()[off : off+n] {
			if null(j) {
				v = 0
			}
			e.i64(v)
		}
	case *array.Float32:
		for j, v := range a.Float32Values()[off : off+n] {
			d := widenFloat32(v)
			if null(j) {
				d = 0
			}
			e.double(d)
		}
	case *array.Float64:
		for j, v := range a.Float64Values()[off : off+n] {
			if null(j) {
				v = 0
			}
			e.double(v)
		}
	case *array.String:
		compactVarWidth(e, a.ValueOffsets(), a.ValueBytes(), off, n, null)
	case *array.LargeString:
		compactVarWidth(e, a.ValueOffsets(), a.ValueBytes(), off, n, null)
	case *array.Binary:
		compactVarWidth(e, a.ValueOffsets(), a.ValueBytes(), off, n, null)
	case *array.LargeBinary:
		compactVarWidth(e, a.ValueOffsets(), a.ValueBytes(), off, n, null)
	}
}

func compactVarWidth[O int32 | int64](e *encoder, offsets []O, data []byte, off, n int, null func(int) bool) {
	base := offsets[0]
	for j := 0; j < n; j++ {
		if null(j) {
			e.size(0)
			continue
		}
		e.bytes(data[offsets[off+j]-base : offsets[off+j+1]-base])
	}
}

// rowColumn is one column of a slice, ready to be encoded cell by cell.
type rowColumn struct {
	arr   arrow.Array
	id    int16    // the TColumnValue member
	nulls []byte   // bit j is row Off+j
	text  []string // for the string member: the slice's values
}

// rows encodes the rows of slices as TRows.
func (e *encoder) rows(slices []Slice, ncols int) error {
	cols := make([]rowColumn, ncols)
	for _, s := range slices {
		for c := range cols {
			col, err := newRowColumn(s.Rec.Column(c), s.Off, s.Len)
			if err != nil {
				return fmt.Errorf("translate: column %d (%q): %w", c+1, s.Rec.ColumnName(c), err)
			}
			cols[c] = col
		}
		for j := 0; j < s.Len; j++ {
			e.beginStruct() // TRow
			e.field(tList, fieldColVals)
			e.list(tStruct, ncols)
			for c := range cols {
				e.cell(&cols[c], s.Off+j, j)
			}
			e.endStruct()
		}
	}
	return nil
}

func newRowColumn(arr arrow.Array, off, n int) (rowColumn, error) {
	col := rowColumn{arr: arr}
	col.nulls, _ = nullBitmap(arr, off, n)
	switch a := arr.(type) {
	case *array.Boolean:
		col.id = colBool
	case *array.Int8:
		col.id = colByte
	case *array.Int16:
		col.id = colI16
	case *array.Int32:
		col.id = colI32
	case *array.Int64:
		col.id = colI64
	case *array.Float32, *array.Float64:
		col.id = colDouble
	case *array.String:
		col.id, col.text = colString, stringValues(a.ValueOffsets(), a.ValueBytes(), off, n, col.nulls, true)
	case *array.LargeString:
		col.id, col.text = colString, stringValues(a.ValueOffsets(), a.ValueBytes(), off, n, col.nulls, true)
	default:
		text, err := renderedValues(arr, off, n, col.nulls)
		if err != nil {
			return col, err
		}
		col.id, col.text = colString, text
	}
	return col, nil
}

// cell encodes row i of col, which is row j of its slice, as a TColumnValue.
func (e *encoder) cell(col *rowColumn, i, j int) {
	e.beginStruct() // TColumnValue
	e.field(tStruct, col.id)
	e.beginStruct() // TBoolValue, TI64Value, ...
	if !isSet(col.nulls, j) {
		switch a := col.arr.(type) {
		case *array.Boolean:
			e.boolField(fieldValue, a.Value(i))
		case *array.Int8:
			e.field(tByte, fieldValue)
			e.dst = append(e.dst, byte(a.Value(i)))
		case *array.Int16:
			e.field(tI16, fieldValue)
			e.i16(a.Value(i))
		case *array.Int32:
			e.field(tI32, fieldValue)
			e.i32(a.Value(i))
		case *array.Int64:
			e.field(tI64, fieldValue)
			e.i64(a.Value(i))
		case *array.Float32:
			e.field(tDouble, fieldValue)
			e.double(widenFloat32(a.Value(i)))
		case *array.Float64:
			e.field(tDouble, fieldValue)
			e.double(a.Value(i))
		default:
			e.field(tString, fieldValue)
			e.str(col.text[j])
		}
	}
	e.endStruct()
	e.endStruct()
}
