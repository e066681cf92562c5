package auth

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func testAdmission(t *testing.T, cfg AdmissionConfig) *Admission {
	t.Helper()
	a, err := NewAdmission(cfg, quiet())
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// Each cap refuses the connection over it with a refusal that says which, and admits again
// once a connection is released.
func TestAdmissionCaps(t *testing.T) {
	a := testAdmission(t, AdmissionConfig{MaxPerUser: 3, MaxPerAddress: 4, MaxPerUserAddress: 2})
	open := func(addr, user string) (*Ticket, error) {
		tk, err := a.Open(addr)
		if err != nil {
			return nil, err
		}
		if err := tk.Admit(user); err != nil {
			tk.Release()
			return nil, err
		}
		return tk, nil
	}
	a1, _ := open("10.0.0.1:1000", "alice")
	a2, _ := open("10.0.0.1:1001", "alice")
	// A third from the same address: the user+address cap.
	if _, err := open("10.0.0.1:1002", "alice"); !IsOverLimit(err) || IsDenied(err) {
		t.Fatalf("third alice connection from one address: %v", err)
	} else if want := "user alice already has 2 open connections from 10.0.0.1"; !strings.Contains(err.Error(), want) {
		t.Fatalf("message %q lacks %q", err, want)
	}
	// From another address: admitted, then the per-user cap.
	a3, err := open("10.0.0.2:1000", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := open("10.0.0.3:1000", "alice"); !IsOverLimit(err) || !strings.Contains(err.Error(), "user alice already has 3 open connections") {
		t.Fatalf("fourth alice connection: %v", err)
	}
	// The refused attempts counted nothing: bob fills 10.0.0.1 to its cap of 4.
	b1, err := open("10.0.0.1:2000", "bob")
	if err != nil {
		t.Fatal(err)
	}
	b2, err := open("10.0.0.1:2001", "bob")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Open("10.0.0.1:2002"); !IsOverLimit(err) || !strings.Contains(err.Error(), "10.0.0.1 already has 4 open connections") {
		t.Fatalf("fifth connection from 10.0.0.1: %v", err)
	}
	if u, ad, ua := a.Counts("alice", "10.0.0.1"); u != 3 || ad != 4 || ua != 2 {
		t.Fatalf("counts %d %d %d, want 3 4 2", u, ad, ua)
	}
	// Released (twice: the second does nothing), a1 makes room for alice on 10.0.0.1.
	a1.Release()
	a1.Release()
	if u, ad, ua := a.Counts("alice", "10.0.0.1"); u != 2 || ad != 3 || ua != 1 {
		t.Fatalf("after a release, counts %d %d %d, want 2 3 1", u, ad, ua)
	}
	a4, err := open("10.0.0.1:1003", "alice")
	if err != nil {
		t.Fatalf("after a release: %v", err)
	}
	for _, tk := range []*Ticket{a2, a3, a4, b1, b2} {
		tk.Release()
	}
	assertEmpty(t, a)
}

// A user admitted twice on one ticket counts once; a released ticket admits nobody.
func TestTicketAdmitsEachUserOnce(t *testing.T) {
	a := testAdmission(t, AdmissionConfig{MaxPerUser: 1})
	tk, _ := a.Open("127.0.0.1:1")
	for i := 0; i < 3; i++ {
		if err := tk.Admit("alice"); err != nil {
			t.Fatalf("admit %d: %v", i, err)
		}
	}
	// Two users on one connection (a Spark Connect channel may carry several): each counted.
	if err := tk.Admit("bob"); err != nil {
		t.Fatal(err)
	}
	if u, _, _ := a.Counts("alice", ""); u != 1 {
		t.Fatalf("alice counted %d times", u)
	}
	other, _ := a.Open("127.0.0.1:2")
	if err := other.Admit("bob"); !IsOverLimit(err) {
		t.Fatalf("bob on a second connection: %v", err)
	}
	other.Release()
	tk.Release()
	if err := tk.Admit("carol"); err == nil {
		t.Fatal("a released ticket admitted carol")
	}
	assertEmpty(t, a)
}

// Deny lists: addresses by IP or CIDR, IPv4 also in its IPv6-mapped form; users by exact name.
func TestAdmissionDenyLists(t *testing.T) {
	a := testAdmission(t, AdmissionConfig{
		DenyAddresses: []string{"127.0.0.2", "10.0.0.0/8", "2001:db8::/32", "::ffff:192.168.7.0/120"},
		DenyUsers:     []string{"mallory", " eve "},
	})
	for addr, denied := range map[string]bool{
		"127.0.0.2:5000":          true,
		"127.0.0.2":               true,
		"[::ffff:127.0.0.2]:5000": true,
		"127.0.0.1:5000":          false,
		"127.0.0.3:5000":          false,
		"10.200.3.4:1":            true,
		"11.0.0.1:1":              false,
		"[2001:db8:1::5]:1":       true,
		"[2001:db9::5]:1":         false,
		"192.168.7.200:1":         true,
		"192.168.8.1:1":           false,
		"[fe80::1%eth0]:1":        false,
		"bufconn":                 false, // not an IP: never matches a prefix
	} {
		err := a.CheckAddress(addr)
		if got := IsDenied(err); got != denied {
			t.Errorf("CheckAddress(%s): %v, want denied=%v", addr, err, denied)
		}
		tk, err := a.Open(addr)
		if got := IsDenied(err); got != denied {
			t.Errorf("Open(%s): %v, want denied=%v", addr, err, denied)
		}
		if denied && !strings.Contains(fmt.Sprint(err), "connections from") {
			t.Errorf("Open(%s): message %q", addr, err)
		}
		tk.Release()
	}
	tk, _ := a.Open("127.0.0.1:1")
	for user, denied := range map[string]bool{"mallory": true, "eve": true, "Mallory": false, "alice": false} {
		err := tk.Admit(user)
		if IsDenied(err) != denied {
			t.Errorf("Admit(%s): %v, want denied=%v", user, err, denied)
		}
		if denied && !strings.Contains(err.Error(), "user "+user+" is not allowed") {
			t.Errorf("Admit(%s): message %q", user, err)
		}
	}
	tk.Release()
	assertEmpty(t, a)
	for _, bad := range []string{"10.0.0.0/33", "not-an-ip", "10.0.0/8", "::ffff:10.0.0.0/64"} {
		if _, err := NewAdmission(AdmissionConfig{DenyAddresses: []string{bad}}, quiet()); err == nil {
			t.Errorf("deny address %q accepted", bad)
		}
	}
	if _, err := NewAdmission(AdmissionConfig{MaxPerUser: -1}, quiet()); err == nil {
		t.Error("a negative cap accepted")
	}
}

// Many goroutines open, admit and release at once (run with -race): no cap is ever
// exceeded, no count goes negative, and everything is released at the end.
func TestAdmissionConcurrent(t *testing.T) {
	const maxUser, maxAddr, maxPair = 5, 7, 3
	a := testAdmission(t, AdmissionConfig{MaxPerUser: maxUser, MaxPerAddress: maxAddr, MaxPerUserAddress: maxPair})
	users := []string{"u0", "u1", "u2"}
	addrs := []string{"10.0.0.1:1", "10.0.0.2:1", "[::ffff:10.0.0.2]:2"}
	var admitted, refused atomic.Int64
	// u0 holds its most from 10.0.0.1 throughout, so that some attempts are always refused.
	var pinned []*Ticket
	for i := 0; i < maxPair; i++ {
		tk, err := a.Open("10.0.0.1:9")
		if err != nil {
			t.Fatal(err)
		}
		if err := tk.Admit("u0"); err != nil {
			t.Fatal(err)
		}
		pinned = append(pinned, tk)
	}
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var held []*Ticket
			for i := 0; i < 500; i++ {
				user, addr := users[(g+i)%len(users)], addrs[(g*7+i)%len(addrs)]
				if tk, err := a.Open(addr); err == nil {
					if err := tk.Admit(user); err == nil {
						admitted.Add(1)
						held = append(held, tk)
						// Admitting again on the same ticket, concurrently with others, counts nothing.
						if err := tk.Admit(user); err != nil {
							t.Errorf("re-admit: %v", err)
						}
					} else {
						refused.Add(1)
						tk.Release()
					}
				} else {
					refused.Add(1)
				}
				for _, u := range users {
					for _, ad := range addrs {
						pu, pa, pp := a.Counts(u, ad)
						if pu < 0 || pa < 0 || pp < 0 || pu > maxUser || pa > maxAddr || pp > maxPair {
							t.Errorf("counts for %s@%s out of bounds: %d %d %d", u, ad, pu, pa, pp)
						}
					}
				}
				if len(held) > 2 || i%3 == 0 && len(held) > 0 {
					tk := held[0]
					held = held[1:]
					// Released twice, once from another goroutine: counted back once.
					done := make(chan struct{})
					go func() { tk.Release(); close(done) }()
					tk.Release()
					<-done
				}
			}
			for _, tk := range held {
				tk.Release()
			}
		}()
	}
	wg.Wait()
	for _, tk := range pinned {
		tk.Release()
	}
	if admitted.Load() == 0 || refused.Load() == 0 {
		t.Fatalf("admitted %d, refused %d: the test should see both", admitted.Load(), refused.Load())
	}
	assertEmpty(t, a)
}

// A nil Admission admits everyone.
func TestNilAdmission(t *testing.T) {
	var a *Admission
	tk, err := a.Open("1.2.3.4:5")
	if err != nil || tk.Admit("anyone") != nil || a.CheckAddress("1.2.3.4") != nil || a.CheckUser("x", "") != nil {
		t.Fatal("a nil Admission refused")
	}
	tk.Release()
}

func TestAddrKey(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:5000":          "127.0.0.1",
		"[::ffff:127.0.0.1]:5000": "127.0.0.1",
		"[::1]:5000":              "::1",
		"[fe80::1%eth0]:1":        "fe80::1",
		"10.1.2.3":                "10.1.2.3",
		"bufconn":                 "bufconn",
	} {
		if got := AddrKey(in); got != want {
			t.Errorf("AddrKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func assertEmpty(t *testing.T, a *Admission) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.byUser)+len(a.byAddr)+len(a.byUserAddr) != 0 {
		t.Fatalf("counts left after every release: users %v, addresses %v, pairs %v", a.byUser, a.byAddr, a.byUserAddr)
	}
}
