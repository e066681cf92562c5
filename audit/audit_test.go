package audit

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sparkbridge/sparkbridge/engine"
)

func TestRedact(t *testing.T) {
	protected := append(engine.ProtectedConf(), "spark.hadoop.fs.s3a.access.key")
	for _, tc := range []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"SET spark.sql.shuffle.partitions=4", "SET spark.sql.shuffle.partitions=4"},
		{"SET spark.connect.authenticate.token=s3cr3t", "SET spark.connect.authenticate.token=" + Redacted},
		{"  set  spark.connect.authenticate.token = s3cr3t with blanks", "  set  spark.connect.authenticate.token = " + Redacted},
		{"SET hiveconf:my.db.password=hunter2", "SET hiveconf:my.db.password=" + Redacted},
		{"SET spark.hadoop.fs.s3a.access.key=AKIA123", "SET spark.hadoop.fs.s3a.access.key=" + Redacted},
		{"set Spark.DB.Password=hunter2", "set Spark.DB.Password=" + Redacted},
		{"CREATE TABLE t USING jdbc OPTIONS (url 'jdbc:x', password 'hunter2', user 'bob')",
			"CREATE TABLE t USING jdbc OPTIONS (url 'jdbc:x', password '" + Redacted + "', user 'bob')"},
		{"ALTER TABLE t SET TBLPROPERTIES ('aws.secret.key'=\"hunter2\")", "ALTER TABLE t SET TBLPROPERTIES ('aws.secret.key'='" + Redacted + "')"},
		{"[PARSE_SYNTAX_ERROR] near 'x'. == SQL == SET spark.connect.authenticate.token=s3cr3t x", "[PARSE_SYNTAX_ERROR] near 'x'. == SQL == SET spark.connect.authenticate.token=" + Redacted + " x"},
		{"SELECT token FROM t WHERE id = 'a'", "SELECT token FROM t WHERE id = 'a'"},
	} {
		if got := Redact(tc.in, protected); got != tc.want {
			t.Errorf("Redact(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

func readLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q is not JSON: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func TestLinesAreJSONWithTheirFields(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	if err := os.WriteFile(path, []byte(`{"event":"earlier"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Path, cfg.MaxStatement = path, 80
	l, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	l.now = func() time.Time { return now }
	s := engine.SessionInfo{ID: "s1", User: "alice", Protocol: "thrift", Transport: "binary", ClientAddr: "10.0.0.1:4000",
		EngineID: "engine-1", Created: now.Add(-3 * time.Second)}
	l.SessionOpened(s)
	l.OperationEnded(engine.OperationInfo{ID: "op1", Kind: engine.KindStatement, Statement: "SELECT * FROM " + strings.Repeat("t", 100),
		State: engine.OpFinished, SessionID: "s1", User: "alice", Protocol: "thrift", Transport: "binary", ClientAddr: "10.0.0.1:4000",
		EngineID: "engine-1", Started: now.Add(-1500 * time.Millisecond), Ended: now, Rows: 7, Bytes: 300})
	l.OperationEnded(engine.OperationInfo{ID: "op2", Kind: engine.KindExecute, Statement: "SET spark.connect.authenticate.token=s3cr3t",
		State: engine.OpError, Error: "refused: spark.connect.authenticate.token=s3cr3t", User: "alice", Started: now, Ended: now})
	l.SessionOpenFailed(engine.SessionRequest{User: "bob", Protocol: "connect", Transport: "grpc", ClientAddr: "10.0.0.2:1"}, errors.New("no engine"))
	l.SessionClosed(s, "closed")
	l.Admin("root", "drain", "", nil)
	l.Admin("root", "stop-engine", "engine-1", errors.New("no such engine"))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l.SessionOpened(s) // after Close: dropped

	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("audit file mode %v (%v), want 0600", fi.Mode(), err)
	}
	got := readLines(t, path)
	want := []string{
		`{"event":"earlier"}`,
		`{"client_addr":"10.0.0.1:4000","engine_id":"engine-1","event":"session_open","outcome":"ok","protocol":"thrift","session_id":"s1","time":"2026-01-02T03:04:05Z","transport":"binary","user":"alice"}`,
		`{"bytes":300,"client_addr":"10.0.0.1:4000","duration_ms":1500,"engine_id":"engine-1","event":"operation","kind":"statement","operation_id":"op1","outcome":"ok","protocol":"thrift","rows":7,"session_id":"s1","statement":"SELECT * FROM ` + strings.Repeat("t", 66) + `…","time":"2026-01-02T03:04:05Z","transport":"binary","user":"alice"}`,
		`{"bytes":0,"duration_ms":0,"error":"refused: spark.connect.authenticate.token=*********(redacted)","event":"operation","kind":"execute","operation_id":"op2","outcome":"error","rows":0,"statement":"SET spark.connect.authenticate.token=*********(redacted)","time":"2026-01-02T03:04:05Z","user":"alice"}`,
		`{"client_addr":"10.0.0.2:1","error":"no engine","event":"session_open_failed","outcome":"error","protocol":"connect","time":"2026-01-02T03:04:05Z","transport":"grpc","user":"bob"}`,
		`{"client_addr":"10.0.0.1:4000","duration_ms":3000,"engine_id":"engine-1","event":"session_close","protocol":"thrift","reason":"closed","session_id":"s1","time":"2026-01-02T03:04:05Z","transport":"binary","user":"alice"}`,
		`{"action":"drain","actor":"root","event":"admin","outcome":"ok","time":"2026-01-02T03:04:05Z"}`,
		`{"action":"stop-engine","actor":"root","error":"no such engine","event":"admin","outcome":"error","target":"engine-1","time":"2026-01-02T03:04:05Z"}`,
	}
	if len(got) != len(want) {
		t.Fatalf("%d lines, want %d: %v", len(got), len(want), got)
	}
	for i, m := range got {
		b, _ := json.Marshal(m) // keys sorted
		if string(b) != want[i] {
			t.Errorf("line %d:\n got %s\nwant %s", i, b, want[i])
		}
	}
	if data, _ := os.ReadFile(path); strings.Contains(string(data), "s3cr3t") {
		t.Fatal("a secret reached the audit file")
	}
}

// TestConcurrentLinesNeverInterleave: many writers, every line whole.
func TestConcurrentLinesNeverInterleave(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	cfg := DefaultConfig()
	cfg.Path = path
	l, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				l.Admin(fmt.Sprintf("w%d", w), "act", strings.Repeat("x", 500), nil)
			}
		}(w)
	}
	wg.Wait()
	_ = l.Close()
	if n := len(readLines(t, path)); n != 1600 {
		t.Fatalf("%d lines, want 1600", n)
	}
}

func TestNilLogWritesNothing(t *testing.T) {
	var l *Log
	l.SessionOpened(engine.SessionInfo{})
	l.OperationEnded(engine.OperationInfo{})
	l.Admin("a", "b", "c", nil)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}
