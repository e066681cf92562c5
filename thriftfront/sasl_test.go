package thriftfront

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func saslMsg(status byte, payload string) []byte {
	var b bytes.Buffer
	_ = writeSASLMessage(&b, status, []byte(payload))
	return b.Bytes()
}

func TestParsePlain(t *testing.T) {
	cases := []struct {
		in      string
		want    plainCredentials
		wantErr string
	}{
		{in: "\x00alice\x00secret", want: plainCredentials{User: "alice", Password: "secret"}},
		{in: "admin\x00alice\x00secret", want: plainCredentials{AuthzID: "admin", User: "alice", Password: "secret"}},
		{in: "alice\x00secret", want: plainCredentials{User: "alice", Password: "secret"}},
		{in: "alice\x00", want: plainCredentials{User: "alice"}},
		{in: "\x00\x00secret", wantErr: "no user name"},
		{in: "\x00secret", wantErr: "no user name"},
		{in: "alice", wantErr: "1 NUL-separated fields"},
		{in: "a\x00b\x00c\x00d", wantErr: "4 NUL-separated fields"},
	}
	for _, c := range cases {
		got, err := parsePlain([]byte(c.in))
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("parsePlain(%q) err = %v, want %q", c.in, err, c.wantErr)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("parsePlain(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
}

func TestSASLHandshake(t *testing.T) {
	accept := func(plainCredentials) error { return nil }
	cases := []struct {
		name       string
		in         []byte
		check      func(plainCredentials) error
		wantUser   string
		wantErr    string
		wantStatus byte // first byte the server wrote back, 0 for nothing
	}{
		{name: "PLAIN with OK", in: append(saslMsg(saslStart, "PLAIN"), saslMsg(saslOK, "\x00alice\x00pw")...), check: accept, wantUser: "alice", wantStatus: saslComplete},
		{name: "PLAIN with COMPLETE (Java)", in: append(saslMsg(saslStart, "PLAIN"), saslMsg(saslComplete, "\x00bob\x00pw")...), check: accept, wantUser: "bob", wantStatus: saslComplete},
		{name: "two-token form", in: append(saslMsg(saslStart, "PLAIN"), saslMsg(saslOK, "carol\x00pw")...), check: accept, wantUser: "carol", wantStatus: saslComplete},
		{name: "bad password", in: append(saslMsg(saslStart, "PLAIN"), saslMsg(saslOK, "\x00alice\x00wrong")...),
			check: func(plainCredentials) error { return errors.New("wrong password") }, wantErr: "wrong password", wantStatus: saslBad},
		{name: "other mechanism", in: saslMsg(saslStart, "GSSAPI"), check: accept, wantErr: "unsupported SASL mechanism", wantStatus: saslBad},
		{name: "no START", in: saslMsg(saslOK, "PLAIN"), check: accept, wantErr: "want START"},
		{name: "truncated", in: saslMsg(saslStart, "PLAIN")[:7], check: accept, wantErr: "reading SASL START"},
		{name: "oversized", in: []byte{saslStart, 0x7f, 0, 0, 0}, check: accept, wantErr: "exceeds"},
		{name: "error status", in: append(saslMsg(saslStart, "PLAIN"), saslMsg(saslError, "")...), check: accept, wantErr: "unexpected SASL status 4", wantStatus: saslError},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			creds, err := saslHandshake(bytes.NewReader(c.in), &out, c.check)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
			} else if err != nil || creds.User != c.wantUser {
				t.Fatalf("creds %+v, err %v; want user %q", creds, err, c.wantUser)
			}
			var first byte
			if out.Len() > 0 {
				first = out.Bytes()[0]
			}
			if first != c.wantStatus {
				t.Fatalf("server replied with status %d, want %d", first, c.wantStatus)
			}
		})
	}
}

func FuzzSASLHandshake(f *testing.F) {
	f.Add(append(saslMsg(saslStart, "PLAIN"), saslMsg(saslOK, "\x00alice\x00pw")...))
	f.Add(append(saslMsg(saslStart, "PLAIN"), saslMsg(saslComplete, "u\x00p")...))
	f.Add(saslMsg(saslStart, "GSSAPI"))
	f.Add([]byte{saslStart, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, in []byte) {
		var out bytes.Buffer
		creds, err := saslHandshake(bytes.NewReader(in), &out, func(plainCredentials) error { return nil })
		if err == nil && creds.User == "" {
			t.Fatalf("accepted credentials without a user from %q", in)
		}
	})
}
