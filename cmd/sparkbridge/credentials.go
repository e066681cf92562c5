package main

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/sparkbridge/sparkbridge/auth"
)

// authOptions holds what the auth modes need, from flags and the config file.
type authOptions struct {
	usersFile string
	// kerberos configures -auth KERBEROS (-kerberos-keytab, -kerberos-principal,
	// -kerberos-auth-to-local, or the config file's "kerberos" object).
	kerberos auth.KerberosConfig
	ldap     *ldapOptions
	jwt      *jwtOptions   // the -jwt-* flags, for JWT
	log      *logrus.Entry // for modes that log (JWT's key refreshes)
}

// authProvider builds -auth: one mode, or several comma-separated (KERBEROS,LDAP), tried in
// that order.
func authProvider(modes string, o authOptions) (auth.Provider, error) {
	var chain []auth.Provider
	list := strings.Split(modes, ",")
	for _, mode := range list {
		mode = strings.ToUpper(strings.TrimSpace(mode))
		if mode == "NONE" && len(list) > 1 {
			return nil, fmt.Errorf("-auth %s: NONE accepts every client and cannot be chained with other modes", modes)
		}
		p, err := authMode(mode, o)
		if err != nil {
			return nil, err
		}
		chain = append(chain, p)
	}
	if o.kerberos.Keytab != "" && auth.KerberosOf(auth.Chain(chain)) == nil {
		closeAuth(auth.Chain(chain))
		return nil, fmt.Errorf("-kerberos-keytab is set but -auth %s has no KERBEROS", modes)
	}
	if o.jwt.given() && !slices.ContainsFunc(chain, func(p auth.Provider) bool { return p.Mode() == "JWT" }) {
		closeAuth(auth.Chain(chain))
		return nil, fmt.Errorf("-jwt-* settings are given but -auth %s does not include JWT", modes)
	}
	if len(chain) == 1 {
		return chain[0], nil
	}
	return auth.NewChain(chain...)
}

// authMode builds one auth mode.
func authMode(mode string, o authOptions) (auth.Provider, error) {
	switch mode {
	case "NONE":
		if o.usersFile != "" {
			return nil, fmt.Errorf("-users-file is set but -auth is NONE; use -auth FILE")
		}
		return auth.None{}, nil
	case "FILE":
		if o.usersFile == "" {
			return nil, fmt.Errorf("-auth FILE needs -users-file")
		}
		return auth.LoadFile(o.usersFile)
	case "KERBEROS":
		// Kerberos checks no passwords: it turns on SASL GSSAPI and HTTP SPNEGO (main finds
		// it with auth.KerberosOf), and password modes chained after it keep PLAIN and Basic
		// working, as Kyuubi's authentication=KERBEROS,LDAP.
		if o.kerberos.Keytab == "" || o.kerberos.Principal == "" {
			return nil, fmt.Errorf("-auth KERBEROS needs -kerberos-keytab and -kerberos-principal (hive/_HOST@REALM)")
		}
		return auth.NewKerberos(o.kerberos)
	case "LDAP":
		if o.ldap == nil {
			return nil, fmt.Errorf("-auth LDAP needs -ldap-url")
		}
		return o.ldap.provider(o.log)
	case "JWT":
		return o.jwt.provider(o.log)
	}
	return nil, fmt.Errorf("unknown -auth mode %q: want NONE, FILE, LDAP, KERBEROS or JWT, or several of them comma-separated", mode)
}

// credentialTool prints users-file entries: `sparkbridge hash-password` reads a password on
// standard input and prints its hash; `sparkbridge new-token` prints a new token and the
// line that stores it.
func credentialTool(cmd string, args []string) error {
	if len(args) != 0 {
		return fmt.Errorf("%s takes no arguments", cmd)
	}
	switch cmd {
	case "hash-password":
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && line == "" {
			return fmt.Errorf("hash-password reads the password from standard input: %w", err)
		}
		hash, err := auth.HashPassword(strings.TrimRight(line, "\r\n"))
		if err != nil {
			return err
		}
		fmt.Println(hash)
	case "new-token":
		token, stored, err := auth.NewToken()
		if err != nil {
			return err
		}
		fmt.Printf("token (give to the user): %s\nusers file entry:          %s\n", token, stored)
	}
	return nil
}
