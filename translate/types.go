package translate

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/sparkbridge/sparkbridge/idl/hiveserver"
)

// TableSchema describes s the way the Spark Thrift Server describes a result
// set: one TColumnDesc per field, numbered from 1, whose type is a single
// primitive entry. Complex types are declared as ARRAY_TYPE, MAP_TYPE or
// STRUCT_TYPE but, like Spark's, their values travel as strings (see
// ColumnarRowSet). Decimals carry "precision" and "scale" qualifiers.
//
// The Arrow types understood are the ones Spark Connect produces:
//
//	Boolean                  BOOLEAN_TYPE
//	Int8, Int16, Int32, Int64 TINYINT_TYPE, SMALLINT_TYPE, INT_TYPE, BIGINT_TYPE
//	Float32, Float64         FLOAT_TYPE, DOUBLE_TYPE
//	String, LargeString      STRING_TYPE
//	Binary, LargeBinary      BINARY_TYPE
//	Decimal128(p, s)         DECIMAL_TYPE
//	Date32                   DATE_TYPE
//	Timestamp (any zone)     TIMESTAMP_TYPE (Spark timestamp and timestamp_ntz)
//	Null                     NULL_TYPE
//	List, LargeList          ARRAY_TYPE
//	Map                      MAP_TYPE
//	Struct                   STRUCT_TYPE
//	Duration                 INTERVAL_DAY_TIME_TYPE (Spark day-time interval)
//	Interval(YEAR_MONTH)     INTERVAL_YEAR_MONTH_TYPE (Spark year-month interval)
//
// Any other type, at the top level or nested, is an error naming the column
// and the type.
func TableSchema(s *arrow.Schema) (*hiveserver.TTableSchema, error) {
	cols := make([]*hiveserver.TColumnDesc, s.NumFields())
	for i, f := range s.Fields() {
		id, err := typeID(f.Type)
		if err != nil {
			return nil, fmt.Errorf("translate: column %d (%q): %w", i+1, f.Name, err)
		}
		entry := &hiveserver.TPrimitiveTypeEntry{Type: id}
		if d, ok := f.Type.(*arrow.Decimal128Type); ok {
			entry.TypeQualifiers = &hiveserver.TTypeQualifiers{
				Qualifiers: map[string]*hiveserver.TTypeQualifierValue{
					"precision": {I32Value: ptr(d.Precision)},
					"scale":     {I32Value: ptr(d.Scale)},
				},
			}
		}
		cols[i] = &hiveserver.TColumnDesc{
			ColumnName: f.Name,
			TypeDesc: &hiveserver.TTypeDesc{
				Types: []*hiveserver.TTypeEntry{{PrimitiveEntry: entry}},
			},
			Position: int32(i + 1),
			// Spark always sends a comment, empty when the column has none;
			// Arrow schemas from Spark Connect carry no comments.
			Comment: ptr(""),
		}
	}
	return &hiveserver.TTableSchema{Columns: cols}, nil
}

// UnsupportedTypeError reports an Arrow type that has no HiveServer2 form.
type UnsupportedTypeError struct {
	Type arrow.DataType
}

func (e *UnsupportedTypeError) Error() string {
	return fmt.Sprintf("unsupported arrow type %s", e.Type)
}

// typeID returns the TTypeId Spark declares for dt, checking that every type
// nested inside dt can be rendered too.
func typeID(dt arrow.DataType) (hiveserver.TTypeId, error) {
	switch t := dt.(type) {
	case *arrow.BooleanType:
		return hiveserver.TTypeId_BOOLEAN_TYPE, nil
	case *arrow.Int8Type:
		return hiveserver.TTypeId_TINYINT_TYPE, nil
	case *arrow.Int16Type:
		return hiveserver.TTypeId_SMALLINT_TYPE, nil
	case *arrow.Int32Type:
		return hiveserver.TTypeId_INT_TYPE, nil
	case *arrow.Int64Type:
		return hiveserver.TTypeId_BIGINT_TYPE, nil
	case *arrow.Float32Type:
		return hiveserver.TTypeId_FLOAT_TYPE, nil
	case *arrow.Float64Type:
		return hiveserver.TTypeId_DOUBLE_TYPE, nil
	case *arrow.StringType, *arrow.LargeStringType:
		return hiveserver.TTypeId_STRING_TYPE, nil
	case *arrow.BinaryType, *arrow.LargeBinaryType:
		return hiveserver.TTypeId_BINARY_TYPE, nil
	case *arrow.Decimal128Type:
		if err := checkDecimal(t); err != nil {
			return 0, err
		}
		return hiveserver.TTypeId_DECIMAL_TYPE, nil
	case *arrow.Date32Type:
		return hiveserver.TTypeId_DATE_TYPE, nil
	case *arrow.TimestampType:
		return hiveserver.TTypeId_TIMESTAMP_TYPE, nil
	case *arrow.NullType:
		return hiveserver.TTypeId_NULL_TYPE, nil
	case *arrow.DurationType:
		return hiveserver.TTypeId_INTERVAL_DAY_TIME_TYPE, nil
	case *arrow.MonthIntervalType:
		return hiveserver.TTypeId_INTERVAL_YEAR_MONTH_TYPE, nil
	case *arrow.ListType:
		return nested(hiveserver.TTypeId_ARRAY_TYPE, t.Elem())
	case *arrow.LargeListType:
		return nested(hiveserver.TTypeId_ARRAY_TYPE, t.Elem())
	case *arrow.MapType:
		return nested(hiveserver.TTypeId_MAP_TYPE, t.KeyType(), t.ItemType())
	case *arrow.StructType:
		children := make([]arrow.DataType, t.NumFields())
		for i, f := range t.Fields() {
			children[i] = f.Type
		}
		return nested(hiveserver.TTypeId_STRUCT_TYPE, children...)
	}
	return 0, &UnsupportedTypeError{Type: dt}
}

func nested(id hiveserver.TTypeId, children ...arrow.DataType) (hiveserver.TTypeId, error) {
	for _, c := range children {
		if _, err := typeID(c); err != nil {
			return 0, err
		}
	}
	return id, nil
}

// checkDecimal rejects precisions and scales Spark never produces. Arrow
// accepts any int32 for both, and a scale of two billion would render as two
// billion zeros.
func checkDecimal(t *arrow.Decimal128Type) error {
	const maxPrecision = 38
	if t.Precision < 1 || t.Precision > maxPrecision || t.Scale < -maxPrecision || t.Scale > t.Precision {
		return fmt.Errorf("invalid decimal precision %d and scale %d", t.Precision, t.Scale)
	}
	return nil
}

func ptr[T any](v T) *T { return &v }
