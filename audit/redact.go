package audit

import (
	"regexp"
	"strings"

	"github.com/sparkbridge/sparkbridge/engine"
)

// Redacted replaces a protected value, as Spark's own redaction writes it.
const Redacted = "*********(redacted)"

var (
	// setStmt is a SET statement: SET key=value, the value running to the end.
	setStmt = regexp.MustCompile(`(?is)^(\s*SET\s+(?:-v\s+)?)([^=\s]+?)(\s*=\s*)(.*)$`)
	// quotedValue is a key (bare, backquoted or quoted) followed by = or blanks and a
	// quoted literal: OPTIONS (password 'x'), TBLPROPERTIES ('secret'='x'), token = "x".
	quotedValue = regexp.MustCompile("([A-Za-z_][\\w.:-]*|`[^`]+`|'[^']*'|\"[^\"]*\")(\\s*=\\s*|\\s+)('(?:[^'\\\\]|\\\\.)*'|\"(?:[^\"\\\\]|\\\\.)*\")")
	// bareValue is key=value with an unquoted value, as an error message may echo it.
	bareValue = regexp.MustCompile(`([A-Za-z_][\w.:-]*)(\s*=\s*)([^\s'",;)]+)`)
)

// Redact hides, in a statement or message, the values given to protected conf keys
// (engine.MatchConf over protected, matched case-insensitively): the value of SET key=value,
// quoted literals after such a key, and bare key=value pairs. It errs on the side of hiding.
func Redact(s string, protected []string) string {
	isProtected := func(key string) bool {
		key = strings.Trim(key, "`'\"")
		for _, p := range []string{"hiveconf:", "hivevar:", "system:", "spark:"} {
			key = strings.TrimPrefix(key, p)
		}
		return engine.MatchConf(protected, key) || engine.MatchConf(protected, strings.ToLower(key))
	}
	if m := setStmt.FindStringSubmatch(s); m != nil && isProtected(m[2]) {
		return m[1] + m[2] + m[3] + Redacted
	}
	s = replaceIf(quotedValue, s, isProtected, "'"+Redacted+"'")
	return replaceIf(bareValue, s, isProtected, Redacted)
}

// replaceIf replaces the value (third group) of each match of re whose key (first group)
// is protected.
func replaceIf(re *regexp.Regexp, s string, protected func(string) bool, with string) string {
	return re.ReplaceAllStringFunc(s, func(match string) string {
		m := re.FindStringSubmatch(match)
		if !protected(m[1]) {
			return match
		}
		return m[1] + m[2] + with
	})
}
