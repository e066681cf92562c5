package connectfront

import (
	"context"
	"errors"
	"io"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
	"google.golang.org/grpc/metadata"

	"github.com/sparkbridge/sparkbridge/auth"
	"github.com/sparkbridge/sparkbridge/engine"
	"github.com/sparkbridge/sparkbridge/proto/spark/connect"
)

// recordingSessions remembers the last session request and opens nothing.
type recordingSessions struct{ last *engine.SessionRequest }

func (r *recordingSessions) Open(_ context.Context, req engine.SessionRequest) (*engine.Session, error) {
	r.last = &req
	return nil, errors.New("no engines in this test")
}
func (r *recordingSessions) Taken(string) bool { return false }

// FuzzConnectMetadata feeds arbitrary request metadata (the authorization header, the
// session headers PySpark sends from sc:// URL parameters), user ids and session ids to the
// bind step. It must never panic, never authenticate a caller whose token is wrong, never
// pass on a header the bridge does not know, and never spend more than a small, bounded
// amount of memory on one request.
func FuzzConnectMetadata(f *testing.F) {
	f.Add("Bearer right-token-0123456789", "alice", "0f6f2a4e-7d3b-4f55-9a2a-55c1d3a1e0b7", "etl", "USER", "30s")
	f.Add("Bearer wrong", "alice", "0f6f2a4e-7d3b-4f55-9a2a-55c1d3a1e0b7", "", "", "")
	f.Add("Basic YWxpY2U6eA==", "bob", "not-a-uuid", "x", "SERVER", "-1s")
	f.Add("", "", "", strings.Repeat("s", 4096), "\x00", "9999999999h")
	f.Add("Bearer ", "root", "../../etc", "a;b=c", "CONNECTION", "1ns")
	token, stored, _ := auth.NewToken()
	_ = stored
	log := logrus.New()
	log.SetOutput(io.Discard)
	f.Fuzz(func(t *testing.T, authz, userID, sessionID, subdomain, share, idle string) {
		p, tok := fileProvider(t, token, stored)
		rec := &recordingSessions{}
		s := New(Config{Auth: p, MaxMessageSize: 1 << 20}, rec, logrus.NewEntry(log))
		md := metadata.MD{}
		if authz != "" {
			md.Set("authorization", authz)
		}
		md.Set(engine.ConfSubdomain, subdomain)
		md.Set(engine.ConfShareLevel, share)
		md.Set(engine.ConfIdleTimeout, idle)
		md.Set("x-unknown-header", "ignored")
		ctx := metadata.NewIncomingContext(context.Background(), md)
		uc := &connect.UserContext{UserId: userID}

		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, _ = s.session(ctx, uc, sessionID)
		runtime.ReadMemStats(&after)
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20+uint64(8*(len(authz)+len(userID)+len(sessionID)+len(subdomain)+len(share)+len(idle))) {
			t.Fatalf("one request allocated %d bytes", grew)
		}
		if rec.last == nil {
			return
		}
		if authz != "Bearer "+tok {
			t.Fatalf("authenticated with authorization %q", authz)
		}
		if rec.last.User != "alice" {
			t.Fatalf("the session went to %q, not the token's owner", rec.last.User)
		}
		for k := range rec.last.Conf {
			if k != engine.ConfSubdomain && k != engine.ConfShareLevel && k != engine.ConfIdleTimeout {
				t.Fatalf("header %q passed on as session conf", k)
			}
		}
	})
}

// fileProvider is a users file with alice holding token.
func fileProvider(t *testing.T, token, stored string) (auth.Provider, string) {
	t.Helper()
	path := t.TempDir() + "/users.json"
	if err := writeFile(path, `{"users": [{"name": "alice", "tokens": ["`+stored+`"]}]}`); err != nil {
		t.Fatal(err)
	}
	p, err := auth.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return p, token
}

func writeFile(path, body string) error { return os.WriteFile(path, []byte(body), 0o600) }
