package translate

import (
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// The numbers are Spark Thrift Server's (SparkGetColumnsOperation, checked against STS 4.3
// in itest): default sizes in bytes, not JDBC precisions.
func TestSparkColumnType(t *testing.T) {
	cases := map[string]string{
		"int":                              "{4 INT 4 0 10}",
		"bigint":                           "{-5 BIGINT 8 <nil> 10}",
		"tinyint":                          "{-6 TINYINT 1 <nil> 10}",
		"smallint":                         "{5 SMALLINT 2 <nil> 10}",
		"float":                            "{6 FLOAT 4 7 10}",
		"double":                           "{8 DOUBLE 8 15 10}",
		"decimal(12,3)":                    "{3 DECIMAL(12,3) 8 3 10}",
		"decimal(38,10)":                   "{3 DECIMAL(38,10) 16 10 10}",
		"string":                           "{12 STRING <nil> <nil> <nil>}",
		"binary":                           "{-2 BINARY <nil> <nil> <nil>}",
		"varchar(20)":                      "{12 VARCHAR(20) <nil> <nil> <nil>}",
		"char(3)":                          "{1 CHAR(3) 3 <nil> <nil>}",
		"date":                             "{91 DATE 4 <nil> <nil>}",
		"timestamp":                        "{93 TIMESTAMP 8 6 <nil>}",
		"timestamp_ntz":                    "{93 TIMESTAMP_NTZ 8 6 <nil>}",
		"boolean":                          "{16 BOOLEAN 1 0 <nil>}",
		"array<int>":                       "{2003 ARRAY<INT> <nil> <nil> <nil>}",
		"map<string,int>":                  "{2000 MAP<STRING, INT> <nil> <nil> <nil>}",
		"struct<a:int,b:double>":           "{2002 STRUCT<a: INT, b: DOUBLE> 12 <nil> <nil>}",
		"struct<a:int,b:struct<c:bigint>>": "{2002 STRUCT<a: INT, b: STRUCT<c: BIGINT>> 12 <nil> <nil>}",
		"struct<a:int,s:string>":           "{2002 STRUCT<a: INT, s: STRING> <nil> <nil> <nil>}",
		"struct<City:string,ZIP:int>":      "{2002 STRUCT<City: STRING, ZIP: INT> <nil> <nil> <nil>}",
		"interval year to month":           "{1111 INTERVAL YEAR TO MONTH 4 <nil> <nil>}",
		"interval day to second":           "{1111 INTERVAL DAY TO SECOND 8 <nil> <nil>}",
	}
	for in, want := range cases {
		if got := fmt.Sprint(SparkColumnType(in)); got != want {
			t.Errorf("SparkColumnType(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestMetadataRecord(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rec, err := MetadataRecord(TablesSchema, [][]any{{"spark_catalog", "default", "t", "TABLE", "", nil, nil, nil, nil, nil}}, mem)
	if err != nil {
		t.Fatal(err)
	}
	page, err := AppendRowSet(nil, Binary, true, 0, []Slice{{rec, 0, 1}})
	rec.Release()
	if err != nil {
		t.Fatal(err)
	}
	if rs := roundTrip(t, page, Binary); rs.Columns[2].StringVal.Values[0] != "t" || rs.Columns[5].StringVal.Nulls[0] != 1 {
		t.Fatalf("row set %v", rs)
	}
	if _, err := MetadataRecord(ColumnsSchema, [][]any{{"only one"}}, mem); err == nil {
		t.Fatal("a short row was accepted")
	}
	row := make([]any, len(ColumnsSchema.Fields()))
	row[4] = "not an int"
	if _, err := MetadataRecord(ColumnsSchema, [][]any{row}, mem); err == nil {
		t.Fatal("a string in an int column was accepted")
	}
	if n := len(TypeInfoRows()); n == 0 {
		t.Fatal("no type info rows")
	}
	for _, r := range TypeInfoRows() {
		ti, err := MetadataRecord(TypeInfoSchema, [][]any{r}, mem)
		if err != nil {
			t.Fatal(err)
		}
		ti.Release()
	}
}

func TestConfiguredCatalog(t *testing.T) {
	for key, want := range map[string]string{
		"spark.sql.catalog.pg":                "pg",
		"spark.sql.catalog.spark_catalog":     "spark_catalog",
		"spark.sql.catalog.pg.url":            "",
		"spark.sql.catalog.":                  "",
		"spark.sql.catalogImplementation":     "",
		"spark.sql.catalog.iceberg.warehouse": "",
		"spark.sql.defaultCatalog":            "",
	} {
		if got := ConfiguredCatalog(key); got != want {
			t.Errorf("ConfiguredCatalog(%q) = %q, want %q", key, got, want)
		}
	}
}
