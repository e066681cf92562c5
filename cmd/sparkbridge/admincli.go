package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sparkbridge/sparkbridge/admin"
)

// adminPasswordEnv holds the admin CLI's password: never on argv, where every local user
// can read it.
const adminPasswordEnv = "SPARKBRIDGE_ADMIN_PASSWORD"

const adminUsage = `usage: sparkbridge admin COMMAND [flags]

Commands:
  sessions                  list sessions (-filter-user, -protocol thrift|connect, -state)
  queries                   list operations (-filter-user, -protocol, -state RUNNING|FINISHED|ERROR|CANCELED)
  engines                   list engines (-filter-user, -protocol, -state launching|ready|draining)
  kill session ID           close a session on the bridge and its engine
  kill query ID             cancel an operation (also: kill operation ID)
  kill engine ID            drain an engine, then stop it (-grace 30s; default the bridge's)
  drain                     stop the bridge taking new sessions (/readyz answers 503)

Flags (before or after the command's arguments):
`

// adminCLI is one run of the admin CLI: the admin API's address and credentials.
type adminCLI struct {
	base   *url.URL
	client *http.Client
	user   string
	pass   string
	out    io.Writer
}

// adminTool runs `sparkbridge admin ARGS`, printing to out.
func adminTool(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("admin", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), adminUsage)
		fs.PrintDefaults()
	}
	addr := fs.String("admin-addr", admin.DefaultAddr, "the bridge's admin address: host:port, or an http:// or https:// URL")
	caFile := fs.String("ca-file", "", "PEM bundle to trust for an https:// admin address (default: the system's)")
	user := fs.String("user", "", "administrator for HTTP Basic credentials; the password comes from $"+adminPasswordEnv+" or -password-file")
	passFile := fs.String("password-file", "", "file holding the administrator's password (instead of $"+adminPasswordEnv+")")
	fUser := fs.String("filter-user", "", "list only entries of this user (-user is the administrator)")
	protocol := fs.String("protocol", "", "list only entries of this protocol: thrift or connect")
	state := fs.String("state", "", "list only entries in this state")
	grace := fs.String("grace", "", "kill engine: how long its sessions may go on (a duration such as 30s; 0s: stop it now)")
	asJSON := fs.Bool("json", false, "print the API's JSON instead of a table")
	timeout := fs.Duration("timeout", 30*time.Second, "how long to wait for the bridge")

	// Flags may come before and after the command's words.
	var words []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		words = append(words, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(words) == 0 {
		fs.Usage()
		return errors.New("no command")
	}
	c, err := newAdminCLI(*addr, *caFile, *user, *passFile, out)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	q := url.Values{}
	for k, v := range map[string]string{"user": *fUser, "protocol": *protocol, "state": *state} {
		if v != "" {
			q.Set(k, v)
		}
	}
	switch cmd := words[0]; {
	case cmd == "sessions" && len(words) == 1:
		return c.list(ctx, "/api/v1/sessions", q, *asJSON, printSessions)
	case (cmd == "queries" || cmd == "operations") && len(words) == 1:
		return c.list(ctx, "/api/v1/operations", q, *asJSON, printOperations)
	case cmd == "engines" && len(words) == 1:
		return c.list(ctx, "/api/v1/engines", q, *asJSON, printEngines)
	case cmd == "kill" && len(words) == 3:
		var path string
		switch words[1] {
		case "session":
			path = "/api/v1/sessions/"
		case "query", "operation":
			path = "/api/v1/operations/"
		case "engine":
			path = "/api/v1/engines/"
			if *grace != "" {
				q = url.Values{"grace": {*grace}}
			}
		default:
			return fmt.Errorf("kill %s: want kill session|query|engine ID", words[1])
		}
		if words[1] != "engine" {
			q = nil
		}
		body, err := c.do(ctx, http.MethodDelete, path+url.PathEscape(words[2]), q)
		if err != nil {
			return err
		}
		return c.printAction(body, *asJSON, words[1]+" "+words[2])
	case cmd == "drain" && len(words) == 1:
		body, err := c.do(ctx, http.MethodPost, "/api/v1/drain", nil)
		if err != nil {
			return err
		}
		return c.printAction(body, *asJSON, "bridge")
	}
	fs.Usage()
	return fmt.Errorf("unknown command %q", strings.Join(words, " "))
}

func newAdminCLI(addr, caFile, user, passFile string, out io.Writer) (*adminCLI, error) {
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	base, err := url.Parse(addr)
	if err != nil {
		return nil, fmt.Errorf("-admin-addr: %w", err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-ca-file %s holds no PEM certificate", caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	if user != "" && base.Scheme != "https" && !admin.IsLoopback(base.Host) {
		return nil, fmt.Errorf("-user sends an administrator's password: use https:// for %s (only a loopback address may take it over http)", base.Host)
	}
	c := &adminCLI{base: base, client: &http.Client{Transport: tr}, user: user, out: out}
	if user != "" {
		switch {
		case passFile != "":
			b, err := os.ReadFile(passFile)
			if err != nil {
				return nil, err
			}
			c.pass = strings.TrimRight(string(b), "\r\n")
		default:
			c.pass = os.Getenv(adminPasswordEnv)
		}
	}
	return c, nil
}

// do calls the API and returns the body of a 2xx answer, or the API's error.
func (c *adminCLI) do(ctx context.Context, method, path string, q url.Values) ([]byte, error) {
	u := *c.base
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return nil, err
	}
	if c.user != "" {
		req.SetBasicAuth(c.user, c.pass)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			return nil, fmt.Errorf("%s (HTTP %d)", e.Error, resp.StatusCode)
		}
		return nil, fmt.Errorf("HTTP %s: %s", resp.Status, bytes.TrimSpace(body))
	}
	return body, nil
}

func (c *adminCLI) list(ctx context.Context, path string, q url.Values, asJSON bool, print func(io.Writer, []byte) error) error {
	body, err := c.do(ctx, http.MethodGet, path, q)
	if err != nil {
		return err
	}
	if asJSON {
		_, err = c.out.Write(body)
		return err
	}
	tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	if err := print(tw, body); err != nil {
		return err
	}
	return tw.Flush()
}

func (c *adminCLI) printAction(body []byte, asJSON bool, what string) error {
	if asJSON {
		_, err := c.out.Write(body)
		return err
	}
	var r struct {
		Operation   *admin.Operation `json:"operation"`
		Engine      *admin.Engine    `json:"engine"`
		Closed      bool             `json:"closed"`
		Draining    bool             `json:"draining"`
		Grace       float64          `json:"grace_seconds"`
		EngineError string           `json:"engine_error"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return err
	}
	switch {
	case r.Operation != nil:
		fmt.Fprintf(c.out, "%s: %s\n", what, r.Operation.State)
	case r.Engine != nil:
		fmt.Fprintf(c.out, "%s: %s; it stops once its %d sessions end, or in %s\n", what, r.Engine.State, r.Engine.Sessions,
			time.Duration(r.Grace*float64(time.Second)))
	case r.Closed:
		fmt.Fprintf(c.out, "%s: closed\n", what)
	case r.Draining:
		fmt.Fprintf(c.out, "%s: draining; no new sessions, /readyz answers 503\n", what)
	}
	if r.EngineError != "" {
		fmt.Fprintf(c.out, "(the engine answered: %s)\n", r.EngineError)
	}
	return nil
}

func since(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return time.Since(t).Round(time.Second).String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func printSessions(w io.Writer, body []byte) error {
	var r struct {
		Sessions []admin.Session `json:"sessions"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return err
	}
	fmt.Fprintln(w, "ID\tUSER\tPROTOCOL\tENGINE\tOPERATIONS\tAGE\tIDLE")
	for _, s := range r.Sessions {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", s.ID, s.User, s.Protocol, s.EngineID, len(s.Operations), since(s.Created), since(s.LastUsed))
	}
	return nil
}

func printOperations(w io.Writer, body []byte) error {
	var r struct {
		Operations []admin.Operation `json:"operations"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return err
	}
	fmt.Fprintln(w, "ID\tUSER\tPROTOCOL\tSTATE\tKIND\tRUNNING\tROWS\tBYTES\tENGINE\tSTATEMENT")
	for _, op := range r.Operations {
		took := since(op.Started)
		if op.Finished != nil {
			took = op.Finished.Sub(op.Started).Round(time.Millisecond).String()
		}
		stmt := truncate(strings.Join(strings.Fields(op.Statement), " "), 60)
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", op.ID, op.User, op.Protocol, op.State, op.Kind, took, op.RowsSent, op.BytesSent, op.EngineID, stmt)
	}
	return nil
}

func printEngines(w io.Writer, body []byte) error {
	var r struct {
		Engines []admin.Engine `json:"engines"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return err
	}
	fmt.Fprintln(w, "ID\tUSER\tSTATE\tSESSIONS\tSHARE\tMASTER\tAPP_ID\tADDRESS\tPID\tUP")
	for _, e := range r.Engines {
		pid := "-"
		if e.PID != 0 {
			pid = fmt.Sprint(e.PID)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", e.ID, orDash(e.User), e.State, e.Sessions, e.ShareLevel, orDash(e.Master),
			orDash(e.AppID), orDash(e.Address), pid, since(e.Started))
	}
	return nil
}
