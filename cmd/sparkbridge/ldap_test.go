package main

import (
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
)

// The config file's "ldap" object lies under the -ldap-* flags, and the bind password comes
// from its file, without the trailing newline.
func TestLDAPConfigFileAndFlags(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "bind.pw")
	if err := os.WriteFile(pw, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var fc fileConfig
	if err := json.Unmarshal([]byte(`{"ldap": {"url": "ldaps://dir.example.org", "bind_dn": "cn=svc,dc=example,dc=org",
		"bind_password_file": `+jsonQuote(pw)+`, "base_dn": "dc=example,dc=org", "user_filter": "(uid=%s)",
		"group_attr": "", "group_filter": "(member=%s)", "groups": ["analysts", "bi"], "cache_ttl": "30s", "timeout": "3s"}}`), &fc); err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	o := ldapFlags(fs)
	fc.LDAP.apply(o)
	if err := fs.Parse([]string{"-ldap-cache-ttl", "10s"}); err != nil {
		t.Fatal(err)
	}
	log := logrus.NewEntry(logrus.New())
	log.Logger.SetOutput(io.Discard)
	p, err := authProvider("FILE,LDAP", authOptions{usersFile: writeConfig(t, `{"users": []}`), ldap: o, log: log})
	if err != nil {
		t.Fatal(err)
	}
	if p.Mode() != "FILE,LDAP" {
		t.Fatalf("mode %s", p.Mode())
	}
	c := o.cfg
	if c.URL != "ldaps://dir.example.org" || c.GroupAttribute != "" || c.GroupFilter != "(member=%s)" || c.CacheTTL != 10*time.Second ||
		c.OperationTimeout != 3*time.Second || o.groups != "analysts,bi" || c.UserAttribute != "uid" {
		t.Fatalf("options %+v", o)
	}

	if _, err := authProvider("LDAP", authOptions{ldap: ldapFlags(flag.NewFlagSet("empty", flag.ContinueOnError)), log: log}); err == nil || !strings.Contains(err.Error(), "-ldap-url") {
		t.Fatalf("LDAP without a URL: %v", err)
	}
	o.passwordFile = filepath.Join(dir, "missing")
	if _, err := authProvider("LDAP", authOptions{ldap: o, log: log}); err == nil || !strings.Contains(err.Error(), "-ldap-bind-password-file") {
		t.Fatalf("a missing password file: %v", err)
	}
}

func jsonQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
