package itest

import (
	"encoding/base64"
	"encoding/binary"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

// saslAnswer tries SASL PLAIN from a local address and returns the server's status byte and
// message (COMPLETE is 5, BAD 3).
func saslAnswer(t *testing.T, from, addr, user, password string) (byte, string) {
	t.Helper()
	c, err := localDialer(from).Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := func(status byte, payload string) []byte {
		b := []byte{status, 0, 0, 0, 0}
		binary.BigEndian.PutUint32(b[1:], uint32(len(payload)))
		return append(b, payload...)
	}
	if _, err := c.Write(append(msg(1, "PLAIN"), msg(5, "\x00"+user+"\x00"+password)...)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Minute))
	var hdr [5]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		t.Fatalf("no SASL answer: %v", err)
	}
	body := make([]byte, binary.BigEndian.Uint32(hdr[1:]))
	_, _ = io.ReadFull(c, body)
	return hdr[0], string(body)
}

// With LDAP behind the bridge: a denied address is refused on every protocol before any
// bind reaches the directory; and a burst of 500 wrong passwords from one address meets the
// failed-login backoff, so that the directory sees one bind per attempt the backoff let
// through, and the attempts beyond it are refused without a bind.
func TestLimitsWithLDAP(t *testing.T) {
	s := startLDAP(t)
	s.AddUser(t, "lila", "lila-pw")
	dir, err := os.MkdirTemp(workDir, "limits-ldap-")
	if err != nil {
		t.Fatal(err)
	}
	b, err := startBridgeArgs(bridgeBin, dir, bridge.sparkHome, bridge.venv, map[string]string{"lila": "harness"},
		"-catalog", "in-memory", "-auth", "LDAP", "-ldap-url", s.URL,
		"-ldap-user-dn-pattern", "uid=%s,ou=people,"+s.BaseDN, "-ldap-base-dn", s.BaseDN,
		"-deny-addresses", "127.0.0.2", "-auth-backoff-max", "500ms")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := b.stop(); err != nil {
			t.Error(err)
		}
	}()
	dn := s.UserDN("lila")
	if st, m := saslAnswer(t, "127.0.0.1", b.thriftAddr, "lila", "lila-pw"); st != 5 {
		t.Fatalf("lila's right password from an allowed address: status %d %q", st, m)
	}

	// A denied address: the right and a wrong password, on the binary transport, over HTTP
	// and on Spark Connect with Basic credentials; none reaches the directory.
	before := s.Binds(dn)
	for _, pw := range []string{"lila-pw", "wrong-pw"} {
		if st, m := saslAnswer(t, "127.0.0.2", b.thriftAddr, "lila", pw); st == 5 || !strings.Contains(m, "127.0.0.2") {
			t.Errorf("SASL PLAIN from a denied address: status %d %q, want a refusal naming the address", st, m)
		}
		if code, body := httpPost(t, b.httpAddr, "127.0.0.2", "lila", pw); code != http.StatusForbidden {
			t.Errorf("HTTP Basic from a denied address: %d %q, want 403", code, body)
		}
		conn := connectConn(t, b.connectAddr, "127.0.0.2")
		basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("lila:"+pw))
		if err := connectGetConfAuth(conn, basic, "lila", uuid.NewString()); err == nil || !strings.Contains(err.Error(), "127.0.0.2") {
			t.Errorf("Spark Connect Basic from a denied address: %v, want a refusal naming the address", err)
		}
	}
	if got := s.Binds(dn); got != before {
		t.Fatalf("the directory saw %d binds for a denied address's attempts", got-before)
	}

	// 500 wrong passwords, 25 at a time, from one address.
	before = s.Binds(dn)
	var mu sync.Mutex
	checked, throttled, accepted := 0, 0, 0
	var wg sync.WaitGroup
	for w := 0; w < 25; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				st, m := saslAnswer(t, "127.0.0.1", b.thriftAddr, "lila", "guess-"+uuid.NewString()[:8])
				mu.Lock()
				switch {
				case st == 5:
					accepted++
				case strings.Contains(m, "too many failed logins"):
					throttled++
				default:
					checked++
				}
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	binds := s.Binds(dn) - before
	t.Logf("500 wrong passwords: %d checked against the directory (%d binds), %d refused by the backoff without a bind", checked, binds, throttled)
	if accepted != 0 || checked+throttled != 500 {
		t.Fatalf("%d wrong passwords accepted; %d checked, %d throttled", accepted, checked, throttled)
	}
	if throttled == 0 {
		t.Fatal("no attempt of the burst met the backoff")
	}
	if binds > checked {
		t.Fatalf("the directory saw %d binds for %d attempts the backoff let through", binds, checked)
	}
	// Another address is not held back by this one's failures.
	if st, m := saslAnswer(t, "127.0.0.3", b.thriftAddr, "lila", "lila-pw"); st != 5 {
		t.Fatalf("lila from another address after the burst: status %d %q", st, m)
	}
}
