package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/keytab"

	"github.com/sparkbridge/sparkbridge/auth"
)

func TestAuthModeKerberos(t *testing.T) {
	kt := keytab.New()
	if err := kt.AddEntry("hive/bridge1", "EXAMPLE.TEST", "x", time.Now(), 1, etypeID.AES256_CTS_HMAC_SHA1_96); err != nil {
		t.Fatal(err)
	}
	b, _ := kt.Marshal()
	dir := t.TempDir()
	ktPath := filepath.Join(dir, "hive.keytab")
	if err := os.WriteFile(ktPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	users := filepath.Join(dir, "users.json")
	if err := os.WriteFile(users, []byte(`{"users": []}`), 0o600); err != nil {
		t.Fatal(err)
	}
	krb := auth.KerberosConfig{Keytab: ktPath, Principal: "hive/_HOST@EXAMPLE.TEST", Host: "Bridge1"}

	p, err := authProvider("KERBEROS,FILE", authOptions{usersFile: users, kerberos: krb})
	if err != nil {
		t.Fatal(err)
	}
	k := auth.KerberosOf(p)
	if k == nil || k.Principal() != "hive/bridge1@EXAMPLE.TEST" || p.Mode() != "KERBEROS,FILE" {
		t.Fatalf("KERBEROS,FILE: %v %q", k, p.Mode())
	}
	for _, c := range []struct {
		modes string
		o     authOptions
		want  string
	}{
		{"KERBEROS", authOptions{}, "-auth KERBEROS needs -kerberos-keytab and -kerberos-principal"},
		{"FILE", authOptions{usersFile: users, kerberos: krb}, "-kerberos-keytab is set but -auth FILE has no KERBEROS"},
		{"KERBEROS", authOptions{kerberos: auth.KerberosConfig{Keytab: ktPath, Principal: "hive/other@EXAMPLE.TEST"}}, "holds no key for hive/other@EXAMPLE.TEST"},
		{"KERBEROS", authOptions{kerberos: auth.KerberosConfig{Keytab: ktPath, Principal: krb.Principal, Host: "bridge1", AuthToLocal: "RULE:[x]"}}, "auth_to_local"},
	} {
		if _, err := authProvider(c.modes, c.o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("-auth %s: %v, want %q", c.modes, err, c.want)
		}
	}
}

func TestConfigFileKerberosKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.json")
	if err := os.WriteFile(path, []byte(`{"kerberos": {"keytab": "/k", "principal": "hive/_HOST@R", "auth_to_local": "DEFAULT"},
		"proxy_user_allow": {"svc-bi": ["alice", "bob"], "etl": ["*"]}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	fc, err := loadConfigFile(path)
	if err != nil {
		t.Fatal(err)
	}
	keytab, principal, rules := "", "", "DEFAULT"
	fc.Kerberos.apply(&keytab, &principal, &rules)
	if keytab != "/k" || principal != "hive/_HOST@R" || rules != "DEFAULT" {
		t.Fatalf("kerberos keys: %q %q %q", keytab, principal, rules)
	}
	if got := proxyUserAllow(fc.ProxyUserAllow); got != "etl=*;svc-bi=alice,bob" {
		t.Fatalf("proxy_user_allow as a flag: %q", got)
	}
}
