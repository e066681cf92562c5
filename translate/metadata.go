package translate

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// The result schemas of the HS2 metadata calls, column for column what JDBC
// DatabaseMetaData documents and Hive's metadata operations return.
var (
	CatalogsSchema   = metaSchema("TABLE_CAT:s")
	SchemasSchema    = metaSchema("TABLE_SCHEM:s", "TABLE_CATALOG:s")
	TableTypesSchema = metaSchema("TABLE_TYPE:s")
	TablesSchema     = metaSchema("TABLE_CAT:s", "TABLE_SCHEM:s", "TABLE_NAME:s", "TABLE_TYPE:s", "REMARKS:s",
		"TYPE_CAT:s", "TYPE_SCHEM:s", "TYPE_NAME:s", "SELF_REFERENCING_COL_NAME:s", "REF_GENERATION:s")
	ColumnsSchema = metaSchema("TABLE_CAT:s", "TABLE_SCHEM:s", "TABLE_NAME:s", "COLUMN_NAME:s", "DATA_TYPE:i",
		"TYPE_NAME:s", "COLUMN_SIZE:i", "BUFFER_LENGTH:b", "DECIMAL_DIGITS:i", "NUM_PREC_RADIX:i", "NULLABLE:i",
		"REMARKS:s", "COLUMN_DEF:s", "SQL_DATA_TYPE:i", "SQL_DATETIME_SUB:i", "CHAR_OCTET_LENGTH:i",
		"ORDINAL_POSITION:i", "IS_NULLABLE:s", "SCOPE_CATALOG:s", "SCOPE_SCHEMA:s", "SCOPE_TABLE:s",
		"SOURCE_DATA_TYPE:h", "IS_AUTO_INCREMENT:s")
	FunctionsSchema = metaSchema("FUNCTION_CAT:s", "FUNCTION_SCHEM:s", "FUNCTION_NAME:s", "REMARKS:s",
		"FUNCTION_TYPE:i", "SPECIFIC_NAME:s")
	PrimaryKeysSchema    = metaSchema("TABLE_CAT:s", "TABLE_SCHEM:s", "TABLE_NAME:s", "COLUMN_NAME:s", "KEQ_SEQ:i", "PK_NAME:s")
	CrossReferenceSchema = metaSchema("PKTABLE_CAT:s", "PKTABLE_SCHEM:s", "PKTABLE_NAME:s", "PKCOLUMN_NAME:s",
		"FKTABLE_CAT:s", "FKTABLE_SCHEM:s", "FKTABLE_NAME:s", "FKCOLUMN_NAME:s", "KEQ_SEQ:i", "UPDATE_RULE:h",
		"DELETE_RULE:h", "FK_NAME:s", "PK_NAME:s", "DEFERRABILITY:h")
	TypeInfoSchema = metaSchema("TYPE_NAME:s", "DATA_TYPE:i", "PRECISION:i", "LITERAL_PREFIX:s", "LITERAL_SUFFIX:s",
		"CREATE_PARAMS:s", "NULLABLE:h", "CASE_SENSITIVE:o", "SEARCHABLE:h", "UNSIGNED_ATTRIBUTE:o",
		"FIXED_PREC_SCALE:o", "AUTO_INCREMENT:o", "LOCAL_TYPE_NAME:s", "MINIMUM_SCALE:h", "MAXIMUM_SCALE:h",
		"SQL_DATA_TYPE:i", "SQL_DATETIME_SUB:i", "NUM_PREC_RADIX:i")
)

// metaSchema builds a schema from "NAME:kind" specs: s string, i int, h smallint, b tinyint,
// o boolean. Every column is nullable.
func metaSchema(specs ...string) *arrow.Schema {
	fields := make([]arrow.Field, len(specs))
	for i, spec := range specs {
		name, kind, _ := strings.Cut(spec, ":")
		var t arrow.DataType
		switch kind {
		case "s":
			t = arrow.BinaryTypes.String
		case "i":
			t = arrow.PrimitiveTypes.Int32
		case "h":
			t = arrow.PrimitiveTypes.Int16
		case "b":
			t = arrow.PrimitiveTypes.Int8
		case "o":
			t = arrow.FixedWidthTypes.Boolean
		default:
			panic("translate: bad metadata column spec " + spec)
		}
		fields[i] = arrow.Field{Name: name, Type: t, Nullable: true}
	}
	return arrow.NewSchema(fields, nil)
}

// MetadataRecord builds a record of schema from rows of Go values: string, int32, int16,
// int8, bool, or nil for NULL. The caller releases it.
func MetadataRecord(schema *arrow.Schema, rows [][]any, mem memory.Allocator) (arrow.RecordBatch, error) {
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	for r, row := range rows {
		if len(row) != schema.NumFields() {
			return nil, fmt.Errorf("translate: metadata row %d has %d values, want %d", r, len(row), schema.NumFields())
		}
		for c, v := range row {
			fb := b.Field(c)
			if v == nil {
				fb.AppendNull()
				continue
			}
			var ok bool
			switch fb := fb.(type) {
			case *array.StringBuilder:
				ok = appendAs(fb, v)
			case *array.Int32Builder:
				ok = appendAs(fb, v)
			case *array.Int16Builder:
				ok = appendAs(fb, v)
			case *array.Int8Builder:
				ok = appendAs(fb, v)
			case *array.BooleanBuilder:
				ok = appendAs(fb, v)
			}
			if !ok {
				return nil, fmt.Errorf("translate: metadata row %d column %s: %T does not fit %s", r, schema.Field(c).Name, v, schema.Field(c).Type)
			}
		}
	}
	return b.NewRecordBatch(), nil
}

// appendAs appends v to b if v has b's value type, and reports whether it had.
func appendAs[T any](b interface{ Append(T) }, v any) bool {
	x, ok := v.(T)
	if ok {
		b.Append(x)
	}
	return ok
}

// java.sql.Types codes.
const (
	jdbcBit       = -7
	jdbcTinyInt   = -6
	jdbcSmallInt  = 5
	jdbcInteger   = 4
	jdbcBigInt    = -5
	jdbcFloat     = 6
	jdbcReal      = 7
	jdbcDouble    = 8
	jdbcDecimal   = 3
	jdbcChar      = 1
	jdbcVarchar   = 12
	jdbcDate      = 91
	jdbcTimestamp = 93
	jdbcBinary    = -2
	jdbcArray     = 2003
	jdbcStruct    = 2002
	jdbcJavaObj   = 2000
	jdbcNull      = 0
	jdbcOther     = 1111
	jdbcBoolean   = 16
)

// ColumnType describes a Spark column type the way GetColumns reports it.
type ColumnType struct {
	DataType      int32  // java.sql.Types
	TypeName      string // upper-case type name, with parameters, as Spark Thrift Server reports it
	ColumnSize    any    // int32 or nil
	DecimalDigits any    // int32 or nil
	Radix         any    // int32 or nil
}

var decimalType = regexp.MustCompile(`^decimal\((\d+),\s*(\d+)\)$`)
var charType = regexp.MustCompile(`^(var)?char\((\d+)\)$`)

// SparkColumnType maps a Spark type string from the catalog (bigint, decimal(10,2),
// array<int>, ...) to its GetColumns description, with Spark Thrift Server's numbers:
// COLUMN_SIZE is the type's default size in bytes for booleans, numbers, datetimes and
// intervals (a CHAR's length; a struct's, the sum of its fields' when all have one; else
// null), DECIMAL_DIGITS is 0 for BOOLEAN and INT only, 7 for FLOAT, 15 for DOUBLE, a
// decimal's scale and 6 for timestamps, and NUM_PREC_RADIX is 10 for numeric types.
func SparkColumnType(t string) ColumnType {
	name := TypeSQL(t)
	t = strings.ToLower(strings.TrimSpace(t))
	i32 := func(n int) any { return int32(n) }
	size := func() any {
		if n, ok := defaultSize(t); ok {
			return i32(n)
		}
		return nil
	}
	switch t {
	case "boolean":
		return ColumnType{jdbcBoolean, "BOOLEAN", size(), i32(0), nil}
	case "tinyint", "byte":
		return ColumnType{jdbcTinyInt, "TINYINT", size(), nil, i32(10)}
	case "smallint", "short":
		return ColumnType{jdbcSmallInt, "SMALLINT", size(), nil, i32(10)}
	case "int", "integer":
		return ColumnType{jdbcInteger, "INT", size(), i32(0), i32(10)}
	case "bigint", "long":
		return ColumnType{jdbcBigInt, "BIGINT", size(), nil, i32(10)}
	case "float", "real":
		return ColumnType{jdbcFloat, "FLOAT", size(), i32(7), i32(10)}
	case "double":
		return ColumnType{jdbcDouble, "DOUBLE", size(), i32(15), i32(10)}
	case "string":
		return ColumnType{jdbcVarchar, "STRING", nil, nil, nil}
	case "binary":
		return ColumnType{jdbcBinary, "BINARY", nil, nil, nil}
	case "date":
		return ColumnType{jdbcDate, "DATE", size(), nil, nil}
	case "timestamp", "timestamp_ltz":
		return ColumnType{jdbcTimestamp, "TIMESTAMP", size(), i32(6), nil}
	case "timestamp_ntz":
		return ColumnType{jdbcTimestamp, "TIMESTAMP_NTZ", size(), i32(6), nil}
	case "void", "null":
		return ColumnType{jdbcNull, "VOID", size(), nil, nil}
	}
	if m := decimalType.FindStringSubmatch(t); m != nil {
		p, _ := strconv.Atoi(m[1])
		s, _ := strconv.Atoi(m[2])
		return ColumnType{jdbcDecimal, fmt.Sprintf("DECIMAL(%d,%d)", p, s), size(), i32(s), i32(10)}
	}
	if t == "decimal" {
		return ColumnType{jdbcDecimal, "DECIMAL(10,0)", i32(8), i32(0), i32(10)}
	}
	if m := charType.FindStringSubmatch(t); m != nil {
		n, _ := strconv.Atoi(m[2])
		if m[1] != "" {
			return ColumnType{jdbcVarchar, fmt.Sprintf("VARCHAR(%d)", n), nil, nil, nil}
		}
		return ColumnType{jdbcChar, fmt.Sprintf("CHAR(%d)", n), i32(n), nil, nil}
	}
	switch {
	case strings.HasPrefix(t, "array<"):
		return ColumnType{jdbcArray, name, nil, nil, nil}
	case strings.HasPrefix(t, "map<"):
		return ColumnType{jdbcJavaObj, name, nil, nil, nil}
	case strings.HasPrefix(t, "struct<"):
		return ColumnType{jdbcStruct, name, size(), nil, nil}
	case strings.HasPrefix(t, "interval"):
		return ColumnType{jdbcOther, name, size(), nil, nil}
	}
	return ColumnType{jdbcOther, name, nil, nil, nil}
}

// defaultSize is Spark's DataType.defaultSize for the types Spark Thrift Server reports a
// COLUMN_SIZE for, given a lower-case type string.
func defaultSize(t string) (int, bool) {
	switch t {
	case "boolean", "tinyint", "byte", "void", "null":
		return 1, true
	case "smallint", "short":
		return 2, true
	case "int", "integer", "float", "real", "date":
		return 4, true
	case "bigint", "long", "double", "timestamp", "timestamp_ltz", "timestamp_ntz":
		return 8, true
	case "interval":
		return 16, true // CalendarIntervalType
	}
	if m := decimalType.FindStringSubmatch(t); m != nil {
		if p, _ := strconv.Atoi(m[1]); p <= 18 {
			return 8, true
		}
		return 16, true
	}
	if m := charType.FindStringSubmatch(t); m != nil && m[1] == "" {
		n, _ := strconv.Atoi(m[2])
		return n, true
	}
	if strings.HasPrefix(t, "interval year") || strings.HasPrefix(t, "interval month") {
		return 4, true
	}
	if strings.HasPrefix(t, "interval ") {
		return 8, true
	}
	if inner, ok := strings.CutPrefix(t, "struct<"); ok && strings.HasSuffix(inner, ">") {
		sum := 0
		for _, f := range splitTopLevel(strings.TrimSuffix(inner, ">")) {
			_, ft, ok := strings.Cut(f, ":")
			if !ok {
				return 0, false
			}
			// A field may carry NOT NULL or COMMENT '...' after its type.
			ft = strings.TrimSpace(ft)
			if i := strings.Index(ft, " not null"); i > 0 {
				ft = ft[:i]
			}
			if i := strings.Index(ft, " comment "); i > 0 {
				ft = ft[:i]
			}
			n, ok := defaultSize(strings.TrimSpace(ft))
			if !ok {
				return 0, false
			}
			sum += n
		}
		return sum, true
	}
	return 0, false
}

// splitTopLevel splits a type list at the commas outside <>, () and quotes.
func splitTopLevel(s string) []string {
	var out []string
	depth, start := 0, 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"' || c == '`':
			quote = c
		case c == '<' || c == '(':
			depth++
		case c == '>' || c == ')':
			depth--
		case c == ',' && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

// TypeInfoRows are the rows of GetTypeInfo: one per Spark SQL type.
func TypeInfoRows() [][]any {
	type ti struct {
		name      string
		code      int32
		precision any
		radix     any
		unsigned  bool
		search    int16
	}
	i32 := func(n int32) any { return n }
	types := []ti{
		{"VOID", jdbcNull, nil, nil, true, 3},
		{"BOOLEAN", jdbcBoolean, nil, nil, true, 3},
		{"TINYINT", jdbcTinyInt, i32(3), i32(10), false, 3},
		{"SMALLINT", jdbcSmallInt, i32(5), i32(10), false, 3},
		{"INTEGER", jdbcInteger, i32(10), i32(10), false, 3},
		{"BIGINT", jdbcBigInt, i32(19), i32(10), false, 3},
		{"FLOAT", jdbcFloat, i32(7), i32(10), false, 3},
		{"DOUBLE", jdbcDouble, i32(15), i32(10), false, 3},
		{"STRING", jdbcVarchar, nil, nil, true, 3},
		{"BINARY", jdbcBinary, nil, nil, true, 3},
		{"DECIMAL", jdbcDecimal, i32(38), i32(10), false, 3},
		{"DATE", jdbcDate, nil, nil, true, 3},
		{"TIMESTAMP", jdbcTimestamp, nil, nil, true, 3},
		{"ARRAY", jdbcArray, nil, nil, true, 0},
		{"MAP", jdbcJavaObj, nil, nil, true, 0},
		{"STRUCT", jdbcStruct, nil, nil, true, 0},
		{"INTERVAL", jdbcOther, nil, nil, true, 0},
	}
	rows := make([][]any, len(types))
	for i, t := range types {
		rows[i] = []any{t.name, t.code, t.precision, nil, nil, nil, int16(1), t.name == "STRING", t.search, t.unsigned,
			false, false, nil, int16(0), int16(0), nil, nil, t.radix}
	}
	return rows
}

// RecordValues returns the rows of rec as Go values: strings, booleans, int64s and []string
// for string lists; nil for NULL. It is meant for small catalog results.
func RecordValues(rec arrow.RecordBatch) ([][]any, error) {
	n := int(rec.NumRows())
	rows := make([][]any, n)
	for i := range rows {
		rows[i] = make([]any, rec.NumCols())
	}
	for c, col := range rec.Columns() {
		for i := 0; i < n; i++ {
			if col.IsNull(i) {
				continue
			}
			switch a := col.(type) {
			case *array.String:
				rows[i][c] = a.Value(i)
			case *array.LargeString:
				rows[i][c] = a.Value(i)
			case *array.Boolean:
				rows[i][c] = a.Value(i)
			case *array.Int32:
				rows[i][c] = int64(a.Value(i))
			case *array.Int64:
				rows[i][c] = a.Value(i)
			case *array.List:
				start, end := a.ValueOffsets(i)
				parts := make([]string, 0, end-start)
				if vs, ok := a.ListValues().(*array.String); ok {
					for j := start; j < end; j++ {
						parts = append(parts, vs.Value(int(j)))
					}
				}
				rows[i][c] = parts
			default:
				return nil, fmt.Errorf("translate: catalog column %s has unexpected type %s", rec.ColumnName(c), col.DataType())
			}
		}
	}
	return rows, nil
}

// ConfiguredCatalog returns the catalog a Spark conf key configures (NAME for
// spark.sql.catalog.NAME), or "" for any other key, including a catalog's own options
// (spark.sql.catalog.NAME.url).
func ConfiguredCatalog(key string) string {
	name, ok := strings.CutPrefix(key, "spark.sql.catalog.")
	if !ok || name == "" || strings.Contains(name, ".") {
		return ""
	}
	return name
}
