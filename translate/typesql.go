package translate

import "strings"

// TypeSQL renders a Spark type from its catalog string (DataType.catalogString, as the
// Spark Connect catalog API lists columns: "struct<city:string,zip:int>") the way Spark's
// DataType.sql prints it, which is what Spark Thrift Server reports as GetColumns'
// TYPE_NAME: "STRUCT<city: STRING, zip: INT>". Keywords are upper-cased, field names keep
// their case and are back-quoted when they are not plain identifiers, and map and struct
// members are separated by ", ". Nested field comments, which a catalog string does not
// carry, are not printed.
func TypeSQL(catalogString string) string {
	var b strings.Builder
	writeTypeSQL(&b, strings.TrimSpace(catalogString))
	return b.String()
}

func writeTypeSQL(b *strings.Builder, t string) {
	lower := strings.ToLower(t)
	switch {
	case strings.HasPrefix(lower, "array<") && strings.HasSuffix(t, ">"):
		b.WriteString("ARRAY<")
		writeTypeSQL(b, strings.TrimSpace(t[len("array<"):len(t)-1]))
		b.WriteByte('>')
	case strings.HasPrefix(lower, "map<") && strings.HasSuffix(t, ">"):
		parts := splitTopLevel(t[len("map<") : len(t)-1])
		if len(parts) != 2 {
			b.WriteString(strings.ToUpper(t))
			return
		}
		b.WriteString("MAP<")
		writeTypeSQL(b, strings.TrimSpace(parts[0]))
		b.WriteString(", ")
		writeTypeSQL(b, strings.TrimSpace(parts[1]))
		b.WriteByte('>')
	case strings.HasPrefix(lower, "struct<") && strings.HasSuffix(t, ">"):
		b.WriteString("STRUCT<")
		for i, f := range splitTopLevel(t[len("struct<") : len(t)-1]) {
			if i > 0 {
				b.WriteString(", ")
			}
			name, ft := structField(f)
			b.WriteString(quoteIfNeeded(name))
			b.WriteString(": ")
			writeTypeSQL(b, ft)
		}
		b.WriteByte('>')
	default:
		b.WriteString(strings.ToUpper(t))
	}
}

// structField splits one "name:type" member of a struct's catalog string. A back-quoted
// name may hold any character; a bare one ends at the first colon.
func structField(f string) (name, typ string) {
	if strings.HasPrefix(f, "`") {
		var n strings.Builder
		for i := 1; i < len(f); i++ {
			if f[i] != '`' {
				n.WriteByte(f[i])
				continue
			}
			if i+1 < len(f) && f[i+1] == '`' {
				n.WriteByte('`')
				i++
				continue
			}
			_, rest, _ := strings.Cut(f[i+1:], ":")
			return n.String(), strings.TrimSpace(rest)
		}
	}
	name, typ, _ = strings.Cut(f, ":")
	return name, strings.TrimSpace(typ)
}

// quoteIfNeeded is Spark's QuotingUtils.quoteIfNeeded: a name that is not a plain identifier
// ([a-zA-Z_][a-zA-Z0-9_]*) is back-quoted, with back-quotes doubled.
func quoteIfNeeded(name string) string {
	plain := name != ""
	for i, c := range name {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			plain = false
			break
		}
	}
	if plain {
		return name
	}
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}
