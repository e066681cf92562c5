package engine

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
)

// Registration is what an engine's driver reports once its Spark Connect server listens
// (the JVM plugin dev.sparkbridge.engine.RegistrationPlugin sends it): where to reach the
// server and which Spark application it is.
type Registration struct {
	Host  string `json:"host"`
	Port  int    `json:"port"`
	AppID string `json:"app_id"`
}

// Addr is the server's host:port.
func (r Registration) Addr() string { return net.JoinHostPort(r.Host, strconv.Itoa(r.Port)) }

// Registrar matches drivers' registrations with the launches waiting for them. Each launch
// gets a one-time token; a registration must carry it (Authorization: Bearer TOKEN), and a
// token is spent by its first registration. Only hashes of tokens are kept.
type Registrar struct {
	// mu guards waiting.
	mu      sync.Mutex
	waiting map[[32]byte]chan Registration
}

// NewRegistrar returns an empty Registrar.
func NewRegistrar() *Registrar { return &Registrar{waiting: map[[32]byte]chan Registration{}} }

// expect registers a launch token and returns the channel its registration arrives on, and
// the function that forgets the token (a launch that gave up).
func (r *Registrar) expect(token string) (<-chan Registration, func()) {
	key := sha256.Sum256([]byte(token))
	ch := make(chan Registration, 1)
	r.mu.Lock()
	r.waiting[key] = ch
	r.mu.Unlock()
	return ch, func() {
		r.mu.Lock()
		delete(r.waiting, key)
		r.mu.Unlock()
	}
}

// maxRegistration bounds a registration body.
const maxRegistration = 4 << 10

// ServeHTTP takes a registration: POST, a JSON Registration, the launch token as a bearer
// token. An unknown or spent token is 403; a malformed body 400.
func (r *Registrar) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		http.Error(w, "POST a registration", http.StatusMethodNotAllowed)
		return
	}
	const prefix = "Bearer "
	auth := req.Header.Get("Authorization")
	if len(auth) <= len(prefix) || auth[:len(prefix)] != prefix {
		http.Error(w, "a launch token is required", http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, maxRegistration+1))
	if err != nil || len(body) > maxRegistration {
		http.Error(w, "unreadable or oversized registration", http.StatusBadRequest)
		return
	}
	var reg Registration
	if err := json.Unmarshal(body, &reg); err != nil || reg.Host == "" || reg.Port <= 0 || reg.Port > 65535 {
		http.Error(w, "a registration needs host, port and app_id", http.StatusBadRequest)
		return
	}
	key := sha256.Sum256([]byte(auth[len(prefix):]))
	r.mu.Lock()
	ch, ok := r.waiting[key]
	delete(r.waiting, key)
	r.mu.Unlock()
	if !ok {
		http.Error(w, "unknown or spent launch token", http.StatusForbidden)
		return
	}
	ch <- reg
	w.WriteHeader(http.StatusNoContent)
}

// wait waits for the registration on ch, for ctx, or for the submitting process to fail.
func waitRegistration(ctx context.Context, ch <-chan Registration, failed <-chan error) (Registration, error) {
	select {
	case reg := <-ch:
		return reg, nil
	case err := <-failed:
		return Registration{}, err
	case <-ctx.Done():
		return Registration{}, ctx.Err()
	}
}
