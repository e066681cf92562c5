package translate

import (
	"errors"
	"reflect"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/sparkbridge/sparkbridge/idl/hiveserver"
)

func TestTableSchema(t *testing.T) {
	tests := []struct {
		dt   arrow.DataType
		want hiveserver.TTypeId
	}{
		{arrow.FixedWidthTypes.Boolean, hiveserver.TTypeId_BOOLEAN_TYPE},
		{arrow.PrimitiveTypes.Int8, hiveserver.TTypeId_TINYINT_TYPE},
		{arrow.PrimitiveTypes.Int16, hiveserver.TTypeId_SMALLINT_TYPE},
		{arrow.PrimitiveTypes.Int32, hiveserver.TTypeId_INT_TYPE},
		{arrow.PrimitiveTypes.Int64, hiveserver.TTypeId_BIGINT_TYPE},
		{arrow.PrimitiveTypes.Float32, hiveserver.TTypeId_FLOAT_TYPE},
		{arrow.PrimitiveTypes.Float64, hiveserver.TTypeId_DOUBLE_TYPE},
		{arrow.BinaryTypes.String, hiveserver.TTypeId_STRING_TYPE},
		{arrow.BinaryTypes.LargeString, hiveserver.TTypeId_STRING_TYPE},
		{arrow.BinaryTypes.Binary, hiveserver.TTypeId_BINARY_TYPE},
		{arrow.BinaryTypes.LargeBinary, hiveserver.TTypeId_BINARY_TYPE},
		{&arrow.Decimal128Type{Precision: 10, Scale: 2}, hiveserver.TTypeId_DECIMAL_TYPE},
		{arrow.FixedWidthTypes.Date32, hiveserver.TTypeId_DATE_TYPE},
		{&arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "Etc/UTC"}, hiveserver.TTypeId_TIMESTAMP_TYPE},
		{&arrow.TimestampType{Unit: arrow.Microsecond}, hiveserver.TTypeId_TIMESTAMP_TYPE},
		{arrow.Null, hiveserver.TTypeId_NULL_TYPE},
		{arrow.ListOf(arrow.PrimitiveTypes.Int32), hiveserver.TTypeId_ARRAY_TYPE},
		{arrow.LargeListOf(arrow.BinaryTypes.String), hiveserver.TTypeId_ARRAY_TYPE},
		{arrow.MapOf(arrow.BinaryTypes.String, arrow.ListOf(arrow.PrimitiveTypes.Int64)), hiveserver.TTypeId_MAP_TYPE},
		{arrow.StructOf(arrow.Field{Name: "a", Type: arrow.PrimitiveTypes.Int32}), hiveserver.TTypeId_STRUCT_TYPE},
		{arrow.FixedWidthTypes.Duration_us, hiveserver.TTypeId_INTERVAL_DAY_TIME_TYPE},
		{arrow.FixedWidthTypes.MonthInterval, hiveserver.TTypeId_INTERVAL_YEAR_MONTH_TYPE},
	}
	var fields []arrow.Field
	for i, tt := range tests {
		fields = append(fields, arrow.Field{Name: string(rune('a' + i)), Type: tt.dt, Nullable: true})
	}
	got, err := TableSchema(arrow.NewSchema(fields, nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Columns) != len(tests) {
		t.Fatalf("got %d columns, want %d", len(got.Columns), len(tests))
	}
	for i, tt := range tests {
		want := &hiveserver.TColumnDesc{
			ColumnName: fields[i].Name,
			Position:   int32(i + 1),
			Comment:    ptr(""),
			TypeDesc: &hiveserver.TTypeDesc{Types: []*hiveserver.TTypeEntry{{
				PrimitiveEntry: &hiveserver.TPrimitiveTypeEntry{Type: tt.want},
			}}},
		}
		if d, ok := tt.dt.(*arrow.Decimal128Type); ok {
			want.TypeDesc.Types[0].PrimitiveEntry.TypeQualifiers = &hiveserver.TTypeQualifiers{
				Qualifiers: map[string]*hiveserver.TTypeQualifierValue{
					"precision": {I32Value: ptr(d.Precision)},
					"scale":     {I32Value: ptr(d.Scale)},
				},
			}
		}
		if !reflect.DeepEqual(got.Columns[i], want) {
			t.Errorf("%s: got %s, want %s", tt.dt, got.Columns[i], want)
		}
	}
}

func TestTableSchemaDecimalQualifiers(t *testing.T) {
	got, err := TableSchema(arrow.NewSchema([]arrow.Field{
		{Name: "price", Type: &arrow.Decimal128Type{Precision: 38, Scale: 18}},
	}, nil))
	if err != nil {
		t.Fatal(err)
	}
	q := got.Columns[0].TypeDesc.Types[0].PrimitiveEntry.TypeQualifiers.Qualifiers
	if q["precision"].GetI32Value() != 38 || q["scale"].GetI32Value() != 18 || len(q) != 2 {
		t.Errorf("qualifiers = %v, want precision 38 and scale 18", q)
	}
}

func TestTableSchemaEmpty(t *testing.T) {
	got, err := TableSchema(arrow.NewSchema(nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	if got.Columns == nil || len(got.Columns) != 0 {
		t.Errorf("Columns = %#v, want an empty non-nil slice", got.Columns)
	}
}

func TestTableSchemaUnsupported(t *testing.T) {
	for _, dt := range []arrow.DataType{
		arrow.PrimitiveTypes.Uint8,
		arrow.FixedWidthTypes.Float16,
		arrow.FixedWidthTypes.MonthDayNanoInterval,
		arrow.ListOf(arrow.PrimitiveTypes.Uint64),
		arrow.MapOf(arrow.BinaryTypes.String, arrow.BinaryTypes.StringView),
		arrow.StructOf(arrow.Field{Name: "x", Type: &arrow.Decimal256Type{Precision: 40}}),
	} {
		schema := arrow.NewSchema([]arrow.Field{{Name: "ok", Type: arrow.PrimitiveTypes.Int32}, {Name: "bad", Type: dt}}, nil)
		_, err := TableSchema(schema)
		var unsupported *UnsupportedTypeError
		if !errors.As(err, &unsupported) {
			t.Errorf("TableSchema(%s) error = %v, want an UnsupportedTypeError", dt, err)
			continue
		}
		t.Logf("%s: %v", dt, err)
	}
}
