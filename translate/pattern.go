package translate

import (
	"fmt"
	"regexp"
	"strings"
)

// HiveServer2 metadata patterns, as Spark Thrift Server reads them. A client's pattern goes
// through two steps there, and the bridge repeats both so that a client sees the same names:
//
//  1. Hive's MetadataOperation.convertPattern turns the JDBC wildcards into a Hive pattern:
//     an unescaped % becomes * and an unescaped _ becomes ., and \% and \_ become % and _.
//     (It does so with regex replacements, so "a%%" becomes "a*%": the bridge keeps even that.)
//  2. Spark's StringUtils.filterPattern matches names against the Hive pattern: it trims it,
//     splits it at |, turns each * into .*, and keeps a name that one alternative matches as
//     a whole regular expression, ignoring case. An alternative that is not a valid regular
//     expression matches nothing.
//
// Schemas and tables use both steps, with a null or empty schema pattern and a null table
// pattern meaning every name. Columns use step 1 with .* for % and then match the result as
// a case-sensitive regular expression. Functions go through Hive's
// CLIServiceUtils.patternToRegex (which also lower-cases) and then step 2.
//
// Go's regular expressions are RE2: a pattern using a Java-only construct (a backreference or
// lookaround) matches nothing here, where Java would evaluate it.

// A NamePattern matches catalog object names.
type NamePattern struct {
	all  bool
	alts []*regexp.Regexp
}

// Match reports whether name matches the pattern.
func (p NamePattern) Match(name string) bool {
	if p.all {
		return true
	}
	for _, re := range p.alts {
		if re.MatchString(name) {
			return true
		}
	}
	return false
}

// SchemaPattern compiles a GetSchemas, GetTables, GetColumns or GetFunctions schema pattern;
// nil or empty matches every schema.
func SchemaPattern(p *string) NamePattern {
	if p == nil || *p == "" {
		return NamePattern{all: true}
	}
	return hivePattern(convertPattern(*p, "*"))
}

// TablePattern compiles a GetTables or GetColumns table pattern; nil matches every table,
// and the empty pattern none.
func TablePattern(p *string) NamePattern {
	if p == nil {
		return NamePattern{all: true}
	}
	return hivePattern(convertPattern(*p, "*"))
}

// ColumnPattern compiles a GetColumns column pattern: nil matches every column; otherwise %
// and _ become .* and ., and the rest is a case-sensitive regular expression that must match
// the whole name. A pattern that does not compile is an error, as it is in Spark Thrift Server.
func ColumnPattern(p *string) (NamePattern, error) {
	if p == nil {
		return NamePattern{all: true}, nil
	}
	re, err := regexp.Compile("^(?:" + convertPattern(*p, ".*") + ")$")
	if err != nil {
		return NamePattern{}, err
	}
	return NamePattern{alts: []*regexp.Regexp{re}}, nil
}

// FunctionPattern compiles a GetFunctions function-name pattern (required by the protocol;
// empty matches no name).
func FunctionPattern(p string) NamePattern {
	return hivePattern(patternToRegex(p))
}

// GlobalTempSchemaMatches reports whether the schema pattern selects Spark's global temporary
// view database db, as Spark Thrift Server decides it: Hive's patternToRegex, matched as a
// whole. A nil pattern selects it. A pattern that is not then a regular expression ("*") is an
// error, as it is in Spark Thrift Server, whose GetSchemas, GetTables and GetColumns fail on it.
func GlobalTempSchemaMatches(p *string, db string) (bool, error) {
	if p == nil {
		return true, nil
	}
	re, err := regexp.Compile("^(?:" + patternToRegex(*p) + ")$")
	if err != nil {
		return false, fmt.Errorf("schema pattern %q: %w", *p, err)
	}
	return re.MatchString(db), nil
}

var (
	unescapedPercent    = regexp.MustCompile(`([^\\])%`)
	escapedPercent      = regexp.MustCompile(`\\%`)
	leadingPercent      = regexp.MustCompile(`^%`)
	unescapedUnderscore = regexp.MustCompile(`([^\\])_`)
	escapedUnderscore   = regexp.MustCompile(`\\_`)
	leadingUnderscore   = regexp.MustCompile(`^_`)
)

// convertPattern is Hive's MetadataOperation.convertPattern, replacement for replacement.
func convertPattern(p, wildcard string) string {
	p = unescapedPercent.ReplaceAllString(p, "${1}"+wildcard)
	p = escapedPercent.ReplaceAllLiteralString(p, "%")
	p = leadingPercent.ReplaceAllLiteralString(p, wildcard)
	p = unescapedUnderscore.ReplaceAllString(p, "${1}.")
	p = escapedUnderscore.ReplaceAllLiteralString(p, "_")
	return leadingUnderscore.ReplaceAllLiteralString(p, ".")
}

// patternToRegex is Hive's CLIServiceUtils.patternToRegex: % and _ become .* and ., a
// backslash escapes the next character, and every other character is lower-cased.
func patternToRegex(p string) string {
	var b strings.Builder
	escaped := false
	for _, c := range p {
		switch {
		case escaped:
			if c != '\\' {
				escaped = false
			}
			b.WriteRune(c)
		case c == '\\':
			escaped = true
		case c == '%':
			b.WriteString(".*")
		case c == '_':
			b.WriteByte('.')
		default:
			b.WriteString(strings.ToLower(string(c)))
		}
	}
	return b.String()
}

// hivePattern is the matching half of Spark's StringUtils.filterPattern.
func hivePattern(p string) NamePattern {
	parts := strings.Split(strings.TrimSpace(p), "|")
	// Java's String.split drops trailing empty strings, unless the input itself is empty.
	if p := strings.TrimSpace(p); p != "" {
		for len(parts) > 0 && parts[len(parts)-1] == "" {
			parts = parts[:len(parts)-1]
		}
	}
	var out NamePattern
	for _, sub := range parts {
		re, err := regexp.Compile("^(?i:" + strings.ReplaceAll(sub, "*", ".*") + ")$")
		if err != nil {
			continue // Spark skips an alternative that throws PatternSyntaxException
		}
		out.alts = append(out.alts, re)
	}
	return out
}
