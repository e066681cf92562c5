package itest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"
)

// pgServer is a real PostgreSQL server (Debian's postgresql package) the harness starts on
// loopback for the metastore tests, once per package run.
type pgServer struct {
	dir, bin string
	port     int
}

var (
	pgOnce sync.Once
	pg     *pgServer
	pgErr  error
)

// postgres returns the package's PostgreSQL server, starting it on first use. A missing
// PostgreSQL fails the test: .ci/run installs it.
func postgres(t *testing.T) *pgServer {
	t.Helper()
	pgOnce.Do(func() { pg, pgErr = startPostgres() })
	if pgErr != nil {
		t.Fatalf("PostgreSQL: %v", pgErr)
	}
	return pg
}

func startPostgres() (*pgServer, error) {
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		return nil, fmt.Errorf("no initdb under /usr/lib/postgresql (install Debian's postgresql; .ci/run does)")
	}
	sort.Strings(bins)
	s := &pgServer{bin: filepath.Dir(bins[len(bins)-1])}
	var err error
	if s.port, err = freePort(); err != nil {
		return nil, err
	}
	// PostgreSQL refuses to run as root: its files belong to the postgres user.
	if s.dir, err = os.MkdirTemp("", "sparkbridge-pg-"); err != nil {
		return nil, err
	}
	if out, err := exec.Command("chown", "-R", "postgres:", s.dir).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("chown %s: %v: %s", s.dir, err, out)
	}
	// The harness administers it as the postgres OS user over its socket (peer); the
	// metastore logs in over TCP with a password.
	if err := s.asPostgres("initdb", "-D", filepath.Join(s.dir, "data"), "-U", "postgres",
		"--auth-local=peer", "--auth-host=scram-sha-256"); err != nil {
		return nil, err
	}
	if err := s.asPostgres("pg_ctl", "-D", filepath.Join(s.dir, "data"), "-l", filepath.Join(s.dir, "log"), "-w", "-t", "60",
		"-o", fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s", s.port, s.dir), "start"); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *pgServer) asPostgres(tool string, args ...string) error {
	cmd := exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(s.bin, tool)}, args...)...)
	cmd.Dir = s.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %v: %s", tool, err, tail(string(out), 10))
	}
	return nil
}

// createDatabase makes an empty database owned by a new user and returns its JDBC URL, the
// user and a file holding the password.
func (s *pgServer) createDatabase(t *testing.T, name string) (url, user, pwFile string) {
	t.Helper()
	user = name + "_owner"
	pw := "pw-" + randomMarker()
	for _, sql := range []string{
		fmt.Sprintf("CREATE USER %s PASSWORD '%s'", user, pw),
		fmt.Sprintf("CREATE DATABASE %s OWNER %s", name, user),
	} {
		cmd := exec.Command("runuser", "-u", "postgres", "--", filepath.Join(s.bin, "psql"),
			"-h", s.dir, "-p", strconv.Itoa(s.port), "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-c", sql)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("psql %q: %v: %s", sql, err, out)
		}
	}
	pwFile = filepath.Join(t.TempDir(), "pgpass")
	if err := os.WriteFile(pwFile, []byte(pw+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("jdbc:postgresql://127.0.0.1:%d/%s", s.port, name), user, pwFile
}

// stopPostgres stops the server if a test started it.
func stopPostgres() {
	if pg == nil {
		return
	}
	done := make(chan struct{})
	go func() {
		_ = pg.asPostgres("pg_ctl", "-D", filepath.Join(pg.dir, "data"), "-m", "fast", "-w", "stop")
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
	}
	os.RemoveAll(pg.dir)
}
