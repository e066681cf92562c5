package auth

import (
	"strings"
	"testing"
)

func TestNameRules(t *testing.T) {
	rules := `RULE:[2:$1@$0](hive@EXAMPLE\.TEST)s/.*/hive/
		RULE:[1:$1@$0](.*@PARTNER\.TEST)s/@.*//L
		RULE:[2:$1@$0](etl@EXAMPLE\.TEST)s/@.*//
		DEFAULT`
	nr, err := ParseNameRules(rules, "EXAMPLE.TEST")
	if err != nil {
		t.Fatal(err)
	}
	for principal, want := range map[string]string{
		"alice@EXAMPLE.TEST":            "alice",
		"hive/node1@EXAMPLE.TEST":       "hive",
		"Carol@PARTNER.TEST":            "carol",
		"etl/batch7@EXAMPLE.TEST":       "etl",
		"bob/admin@EXAMPLE.TEST":        "bob", // DEFAULT: the first component
		"mallory@ELSEWHERE.TEST":        "",    // no rule
		"hive/node1/extra@EXAMPLE.TEST": "hive",
	} {
		got, err := nr.ShortName(principal)
		if want == "" {
			if err == nil || !strings.Contains(err.Error(), "no auth_to_local rule maps principal") {
				t.Errorf("%s: %q, %v; want no rule", principal, got, err)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("%s -> %q, %v; want %q", principal, got, err, want)
		}
	}
}

func TestNameRulesHadoopExample(t *testing.T) {
	// The form the issue names: strip the realm of one realm's users, DEFAULT after it.
	nr, err := ParseNameRules(`RULE:[1:$1@$0](.*@CORP\.TEST)s/@.*// DEFAULT`, "EXAMPLE.TEST")
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]string{"alice@CORP.TEST": "alice", "bob@EXAMPLE.TEST": "bob"} {
		if got, err := nr.ShortName(p); err != nil || got != want {
			t.Errorf("%s -> %q, %v", p, got, err)
		}
	}
	// Without g only the first match is replaced; with it, every one.
	nr, _ = ParseNameRules(`RULE:[1:$1](a.*)s/a/x/ RULE:[1:$1](b.*)s/b/y/g`, "R")
	for p, want := range map[string]string{"aaa@R": "xaa", "bbb@R": "yyy"} {
		if got, err := nr.ShortName(p); err != nil || got != want {
			t.Errorf("%s -> %q, %v; want %q", p, got, err, want)
		}
	}
}

func TestNameRulesRefuse(t *testing.T) {
	for _, bad := range []string{"RULE:[x:$1]", "RULE:[1:$1](a(b)", "NOPE", "RULE:[1:$1](.*)s/(/x/"} {
		if _, err := ParseNameRules(bad, "R"); err == nil {
			t.Errorf("rules %q were taken", bad)
		}
	}
	// A rule that leaves a realm in the name is refused, not passed on as a user name.
	nr, _ := ParseNameRules(`RULE:[1:$1@$0]`, "R")
	if _, err := nr.ShortName("alice@R"); err == nil || !strings.Contains(err.Error(), "not a simple user name") {
		t.Fatalf("err = %v", err)
	}
	nr, _ = ParseNameRules("", "R")
	if got, err := nr.ShortName("alice@R"); err != nil || got != "alice" {
		t.Fatalf("empty rules are DEFAULT: %q, %v", got, err)
	}
}

func TestProxyUsers(t *testing.T) {
	p, err := ParseProxyUsers("svc-bi=alice, bob; etl=*")
	if err != nil {
		t.Fatal(err)
	}
	svc := Identity{User: "svc-bi", Groups: []string{"services"}, Mechanism: "KERBEROS"}
	id, err := p.Impersonate(svc, "alice")
	if err != nil || id.User != "alice" || id.Mechanism != "KERBEROS;proxy-by=svc-bi" || id.Groups != nil {
		t.Fatalf("svc-bi as alice: %+v, %v", id, err)
	}
	if _, err := p.Impersonate(svc, "carol"); err == nil || !strings.Contains(err.Error(), "user svc-bi is not allowed to impersonate carol") {
		t.Fatalf("svc-bi as carol: %v", err)
	}
	if id, err := p.Impersonate(Identity{User: "etl", Mechanism: "FILE"}, "anyone"); err != nil || id.User != "anyone" {
		t.Fatalf("etl=*: %+v, %v", id, err)
	}
	if _, err := p.Impersonate(Identity{User: "alice"}, "bob"); err == nil {
		t.Fatal("alice, who is not in the list, impersonated bob")
	}
	if id, err := p.Impersonate(Identity{User: "alice"}, "alice"); err != nil || id.User != "alice" {
		t.Fatal("asking to be oneself must be allowed")
	}
	for _, bad := range []string{"svc", "=alice", "svc="} {
		if _, err := ParseProxyUsers(bad); err == nil {
			t.Errorf("%q was taken", bad)
		}
	}
}
