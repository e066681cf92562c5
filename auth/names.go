package auth

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// NameRules map a Kerberos principal (alice@EXAMPLE.COM, hive/host@EXAMPLE.COM) to the short
// user name the bridge runs engines as, with a subset of Hadoop's hadoop.security.auth_to_local
// rules, tried in order; the first that applies decides:
//
//   - DEFAULT: a principal of the default realm (the service's) maps to its first component;
//     one of another realm does not match.
//   - RULE:[n:format](filter)s/pattern/replacement/g, each part after the brackets optional,
//     then an optional /L to lowercase the result. The rule applies to principals of n
//     components. format builds a string from $0 (the realm), $1, $2 (the components); the
//     filter, a regular expression, must match all of it; the substitution (every match with
//     g, else the first) then gives the short name. RULE:[1:$1@$0](.*@EXAMPLE\.COM)s/@.*//
//     maps alice@EXAMPLE.COM to alice.
//
// Expressions are Go's (RE2) rather than Java's, and a replacement refers to groups as $1
// or ${1}. A result holding '@' or '/' is refused, as Hadoop does.
type NameRules struct {
	rules []nameRule
	realm string // the default realm
}

type nameRule struct {
	text       string
	isDefault  bool
	components int
	format     string
	filter     *regexp.Regexp // nil: no filter
	pattern    *regexp.Regexp // nil: no substitution
	repl       string
	global     bool
	lower      bool
}

// ruleSyntax is one rule, anchored at the start of the rest of the text.
var ruleSyntax = regexp.MustCompile(`^\s*(?:(DEFAULT)|RULE:\[(\d+):([^\]]*)\](?:\(([^)]*)\))?(?:s/([^/]*)/([^/]*)/(g)?)?/?(L)?)`)

// ParseNameRules parses rules (separated by white space or new lines) for principals whose
// default realm is realm. Empty rules mean DEFAULT.
func ParseNameRules(rules, realm string) (*NameRules, error) {
	nr := &NameRules{realm: realm}
	rest := strings.TrimSpace(rules)
	if rest == "" {
		rest = "DEFAULT"
	}
	for rest != "" {
		m := ruleSyntax.FindStringSubmatch(rest)
		if m == nil {
			return nil, fmt.Errorf("auth_to_local: cannot parse rule at %q: want DEFAULT or RULE:[n:format](filter)s/pattern/replacement/g", cut(rest, 40))
		}
		r := nameRule{text: strings.TrimSpace(m[0])}
		rest = strings.TrimSpace(rest[len(m[0]):])
		if m[1] != "" {
			r.isDefault = true
			nr.rules = append(nr.rules, r)
			continue
		}
		n, err := strconv.Atoi(m[2])
		if err != nil || n < 1 || n > 9 {
			return nil, fmt.Errorf("auth_to_local: rule %s: the component count must be 1 to 9", r.text)
		}
		r.components, r.format = n, m[3]
		if m[4] != "" {
			if r.filter, err = regexp.Compile("^(?:" + m[4] + ")$"); err != nil {
				return nil, fmt.Errorf("auth_to_local: rule %s: filter: %w", r.text, err)
			}
		}
		if strings.Contains(r.text, "s/") {
			if r.pattern, err = regexp.Compile(m[5]); err != nil {
				return nil, fmt.Errorf("auth_to_local: rule %s: pattern: %w", r.text, err)
			}
			r.repl, r.global = m[6], m[7] == "g"
		}
		r.lower = m[8] == "L"
		nr.rules = append(nr.rules, r)
	}
	return nr, nil
}

func cut(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// ShortName maps principal (components joined by '/', then '@' and the realm) to a user
// name, or says that no rule applies.
func (nr *NameRules) ShortName(principal string) (string, error) {
	name, realm, ok := strings.Cut(principal, "@")
	if !ok || name == "" || realm == "" {
		return "", fmt.Errorf("principal %q has no realm", principal)
	}
	comps := strings.Split(name, "/")
	for _, r := range nr.rules {
		out, ok, err := r.apply(comps, realm, nr.realm)
		if err != nil {
			return "", fmt.Errorf("principal %s: %w", principal, err)
		}
		if ok {
			return out, nil
		}
	}
	return "", fmt.Errorf("no auth_to_local rule maps principal %s to a user name", principal)
}

func (r nameRule) apply(comps []string, realm, defaultRealm string) (string, bool, error) {
	if r.isDefault {
		if realm != defaultRealm {
			return "", false, nil
		}
		return comps[0], true, nil
	}
	if len(comps) != r.components {
		return "", false, nil
	}
	var b strings.Builder
	for i := 0; i < len(r.format); i++ {
		c := r.format[i]
		if c == '$' && i+1 < len(r.format) && r.format[i+1] >= '0' && r.format[i+1] <= '9' {
			n := int(r.format[i+1] - '0')
			switch {
			case n == 0:
				b.WriteString(realm)
			case n <= len(comps):
				b.WriteString(comps[n-1])
			default:
				return "", false, fmt.Errorf("rule %s: $%d names no component", r.text, n)
			}
			i++
			continue
		}
		b.WriteByte(c)
	}
	s := b.String()
	if r.filter != nil && !r.filter.MatchString(s) {
		return "", false, nil
	}
	if r.pattern != nil {
		if r.global {
			s = r.pattern.ReplaceAllString(s, r.repl)
		} else if m := r.pattern.FindStringSubmatchIndex(s); m != nil {
			s = s[:m[0]] + string(r.pattern.ExpandString(nil, r.repl, s, m)) + s[m[1]:]
		}
	}
	if r.lower {
		s = strings.ToLower(s)
	}
	if s == "" || strings.ContainsAny(s, "@/") {
		return "", false, fmt.Errorf("rule %s gives %q, not a simple user name", r.text, s)
	}
	return s, true, nil
}

// ProxyUsers is the impersonation allow-list: which authenticated users may act for which
// others (hive.server2.proxy.user, a SASL authorization id), as Hadoop's
// hadoop.proxyuser.USER.users does. "*" allows every user.
type ProxyUsers map[string][]string

// ParseProxyUsers parses "svc-bi=alice,bob;etl=*".
func ParseProxyUsers(s string) (ProxyUsers, error) {
	p := ProxyUsers{}
	for _, part := range strings.Split(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		real, targets, ok := strings.Cut(part, "=")
		real = strings.TrimSpace(real)
		if !ok || real == "" {
			return nil, fmt.Errorf("proxy-user allow-list: %q is not USER=TARGET,TARGET or USER=*", part)
		}
		for _, t := range strings.Split(targets, ",") {
			if t = strings.TrimSpace(t); t != "" {
				p[real] = append(p[real], t)
			}
		}
		if len(p[real]) == 0 {
			return nil, fmt.Errorf("proxy-user allow-list: %s may impersonate nobody; list users or *", real)
		}
	}
	return p, nil
}

// Impersonate returns the identity real acts as when it asks to be target: target's, its
// Mechanism naming who really authenticated ("KERBEROS;proxy-by=svc-bi", which the audit log
// records), or an error that says why real may not. Groups are not carried over: they were
// real's.
func (p ProxyUsers) Impersonate(real Identity, target string) (Identity, error) {
	if target == "" || target == real.User {
		return real, nil
	}
	for _, t := range p[real.User] {
		if t == "*" || t == target {
			return Identity{User: target, Mechanism: real.Mechanism + ";proxy-by=" + real.User}, nil
		}
	}
	return Identity{}, fmt.Errorf("user %s is not allowed to impersonate %s (the proxy-user allow-list, -proxy-user-allow, does not list it)", real.User, target)
}
