package translate

import (
	"strings"
	"testing"
)

func sp(s string) *string { return &s }

// The expectations are Spark Thrift Server 4.3's answers: itest's
// TestMetadataPatternsMatchSTS asks STS and the bridge the same patterns.
func TestSchemaAndTablePatterns(t *testing.T) {
	names := []string{"default", "Sales", "sales_2024", "salesx2024", "a%b", "a.b", "global_temp"}
	cases := []struct {
		pattern *string
		want    string
	}{
		{nil, "default Sales sales_2024 salesx2024 a%b a.b global_temp"},
		{sp("%"), "default Sales sales_2024 salesx2024 a%b a.b global_temp"},
		{sp("*"), "default Sales sales_2024 salesx2024 a%b a.b global_temp"},
		{sp(".*"), "default Sales sales_2024 salesx2024 a%b a.b global_temp"}, // impyla's
		{sp("sales"), "Sales"},
		{sp("SALES%"), "Sales sales_2024 salesx2024"},
		{sp("sales_2024"), "sales_2024 salesx2024"},
		{sp(`sales\_2024`), "sales_2024"},
		{sp("default|sales"), "default Sales"},
		{sp("default|"), "default"},
		{sp("d*t"), "default"},
		{sp("a.b"), "a%b a.b"},
		{sp(`a\%b`), "a%b"},
		{sp("sales[_x]2024"), "salesx2024"}, // the _ inside [] is a wildcard first: [.x]
		{sp("(sales"), ""},                  // not a regular expression: matches nothing
		{sp("nope"), ""},
	}
	for _, c := range cases {
		for _, kind := range []string{"schema", "table"} {
			p := SchemaPattern(c.pattern)
			if kind == "table" {
				p = TablePattern(c.pattern)
			}
			if got := matching(p, names); got != c.want {
				t.Errorf("%s pattern %s: %q, want %q", kind, show(c.pattern), got, c.want)
			}
		}
	}
	// They differ on the empty pattern only: every schema, no table.
	if got := matching(SchemaPattern(sp("")), names); got != matching(SchemaPattern(nil), names) {
		t.Errorf("empty schema pattern: %q", got)
	}
	if got := matching(TablePattern(sp("")), names); got != "" {
		t.Errorf("empty table pattern: %q, want none", got)
	}
}

func TestColumnPattern(t *testing.T) {
	names := []string{"id", "ID", "user_id", "userXid", "name", "a.b"}
	cases := []struct {
		pattern *string
		want    string
	}{
		{nil, "id ID user_id userXid name a.b"},
		{sp("%"), "id ID user_id userXid name a.b"},
		{sp(".*"), "id ID user_id userXid name a.b"},
		{sp("id"), "id"}, // columns match with case
		{sp("user_id"), "user_id userXid"},
		{sp(`user\_id`), "user_id"},
		{sp("id|name"), "id name"},
		{sp("a.b"), "a.b"},
		{sp(""), ""},
	}
	for _, c := range cases {
		p, err := ColumnPattern(c.pattern)
		if err != nil {
			t.Fatalf("column pattern %s: %v", show(c.pattern), err)
		}
		if got := matching(p, names); got != c.want {
			t.Errorf("column pattern %s: %q, want %q", show(c.pattern), got, c.want)
		}
	}
	if _, err := ColumnPattern(sp("(id")); err == nil {
		t.Error("an invalid column pattern compiled")
	}
}

func TestFunctionPattern(t *testing.T) {
	names := []string{"abs", "array_agg", "arrayxagg", "ascii", "my_udf"}
	cases := []struct{ pattern, want string }{
		{"%", "abs array_agg arrayxagg ascii my_udf"},
		{".*", "abs array_agg arrayxagg ascii my_udf"},
		{"*", "abs array_agg arrayxagg ascii my_udf"},
		{"ABS", "abs"},
		{"a%", "abs array_agg arrayxagg ascii"},
		{"array_agg", "array_agg arrayxagg"},
		{`array\_agg`, "array_agg"},
		{"abs|ascii", "abs ascii"},
		{"", ""},
	}
	for _, c := range cases {
		if got := matching(FunctionPattern(c.pattern), names); got != c.want {
			t.Errorf("function pattern %q: %q, want %q", c.pattern, got, c.want)
		}
	}
}

func TestGlobalTempSchemaMatches(t *testing.T) {
	for _, c := range []struct {
		pattern *string
		want    bool
	}{{nil, true}, {sp("%"), true}, {sp(".*"), true}, {sp("global%"), true}, {sp("GLOBAL_TEMP"), true}, {sp("default"), false}, {sp(""), false}} {
		if got, err := GlobalTempSchemaMatches(c.pattern, "global_temp"); got != c.want || err != nil {
			t.Errorf("GlobalTempSchemaMatches(%s) = %v, %v; want %v", show(c.pattern), got, err, c.want)
		}
	}
	if _, err := GlobalTempSchemaMatches(sp("*"), "global_temp"); err == nil {
		t.Error(`GlobalTempSchemaMatches("*") is no error; Spark Thrift Server fails on it`)
	}
}

func TestTypeSQL(t *testing.T) {
	for in, want := range map[string]string{
		"int":                                  "INT",
		"decimal(10,2)":                        "DECIMAL(10,2)",
		"array<struct<City:string,zip:int>>":   "ARRAY<STRUCT<City: STRING, zip: INT>>",
		"map<string,array<map<int,string>>>":   "MAP<STRING, ARRAY<MAP<INT, STRING>>>",
		"struct<a:struct<B:struct<c:bigint>>>": "STRUCT<a: STRUCT<B: STRUCT<c: BIGINT>>>",
		"struct<`my field`:int,`a``b`:string>": "STRUCT<`my field`: INT, `a``b`: STRING>",
		"struct<my field:int,1x:string>":       "STRUCT<`my field`: INT, `1x`: STRING>",
		"struct<m:map<string,decimal(38,18)>>": "STRUCT<m: MAP<STRING, DECIMAL(38,18)>>",
		"interval day to second":               "INTERVAL DAY TO SECOND",
		"string collate UTF8_LCASE":            "STRING COLLATE UTF8_LCASE",
	} {
		if got := TypeSQL(in); got != want {
			t.Errorf("TypeSQL(%q) = %q, want %q", in, got, want)
		}
	}
}

func matching(p NamePattern, names []string) string {
	var out []string
	for _, n := range names {
		if p.Match(n) {
			out = append(out, n)
		}
	}
	return strings.Join(out, " ")
}

func show(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return "\"" + *p + "\""
}
