package auth

import (
	"bytes"
	"context"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Identity is an authenticated user, whichever mechanism proved it: the same reaches the
// session layer from every provider and protocol.
type Identity struct {
	// User is the short user name the bridge routes and runs engines by.
	User string
	// Groups are the user's groups as the provider knows them (LDAP membership, a token's
	// groups claim), in the provider's order; the first is the user's group for the GROUP
	// share level unless the bridge's groups map names one. Empty when the provider has none.
	Groups []string
	// Mechanism names how the user was authenticated (NONE, FILE, LDAP, KERBEROS, JWT), for
	// the audit log.
	Mechanism string
	// Expires is when the credential that proved the identity stops being valid (a bearer
	// token's expiry); zero when it does not expire. Nothing that remembers the identity
	// (the Guard's cache, the HTTP auth cookie) keeps it past then.
	Expires time.Time
}

// ErrBadCredentials means the credentials were wrong or missing. Its message is safe to show
// to the client: it never says which part was wrong.
var ErrBadCredentials = errors.New("invalid credentials")

// Provider authenticates clients.
type Provider interface {
	// Password checks a user name and password.
	Password(ctx context.Context, user, password string) (Identity, error)
	// Token checks a bearer token. claimedUser is what the client says it is (Spark Connect's
	// user_id); a provider that trusts clients returns it.
	Token(ctx context.Context, token, claimedUser string) (Identity, error)
	// TrustsClients reports whether the provider accepts any client (mode NONE).
	TrustsClients() bool
	// Mode names the provider: NONE or FILE.
	Mode() string
}

// None trusts every client, as HiveServer2's NONE mode does.
type None struct{}

var _ Provider = None{}

// Password accepts any password; the user name is the identity ("anonymous" when empty).
func (None) Password(_ context.Context, user, _ string) (Identity, error) {
	if user == "" {
		user = "anonymous"
	}
	return Identity{User: user, Mechanism: "NONE"}, nil
}

// Token ignores the token and trusts the claimed user.
func (None) Token(_ context.Context, _, claimedUser string) (Identity, error) {
	if claimedUser == "" {
		claimedUser = "anonymous"
	}
	return Identity{User: claimedUser, Mechanism: "NONE"}, nil
}

func (None) TrustsClients() bool { return true }
func (None) Mode() string        { return "NONE" }

// File authenticates against a users file:
//
//	{"users": [{"name": "alice", "password": "pbkdf2-sha256$600000$<salt>$<hash>",
//	            "tokens": ["sha256:<hex of sha256(token)>"]}]}
//
// `sparkbridge hash-password` and `sparkbridge new-token` produce the entries.
type File struct {
	users  map[string]fileUser
	tokens map[[32]byte]string // sha256(token) -> user
}

var _ Provider = (*File)(nil)

type fileUser struct {
	Name     string   `json:"name"`
	Password string   `json:"password"`
	Tokens   []string `json:"tokens"`
}

// LoadFile reads and checks a users file.
func LoadFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Users []fileUser `json:"users"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("users file %s: %w", path, err)
	}
	f := &File{users: map[string]fileUser{}, tokens: map[[32]byte]string{}}
	for i, u := range doc.Users {
		if u.Name == "" {
			return nil, fmt.Errorf("users file %s: user %d has no name", path, i+1)
		}
		if _, dup := f.users[u.Name]; dup {
			return nil, fmt.Errorf("users file %s: user %q appears twice", path, u.Name)
		}
		if u.Password != "" {
			if _, _, _, err := parseHash(u.Password); err != nil {
				return nil, fmt.Errorf("users file %s: user %q: %w", path, u.Name, err)
			}
		}
		for _, t := range u.Tokens {
			h, ok := strings.CutPrefix(t, "sha256:")
			raw, err := hex.DecodeString(h)
			if !ok || err != nil || len(raw) != 32 {
				return nil, fmt.Errorf("users file %s: user %q: a token must be \"sha256:\" and 64 hex digits", path, u.Name)
			}
			var k [32]byte
			copy(k[:], raw)
			if other, dup := f.tokens[k]; dup {
				return nil, fmt.Errorf("users file %s: users %q and %q share a token", path, other, u.Name)
			}
			f.tokens[k] = u.Name
		}
		f.users[u.Name] = u
	}
	return f, nil
}

// Password checks user's password against its hash.
func (f *File) Password(_ context.Context, user, password string) (Identity, error) {
	u, ok := f.users[user]
	if !ok || u.Password == "" {
		// Spend the same work as a real check, so that timing does not tell which users exist.
		_, _ = pbkdf2.Key(sha256.New, password, make([]byte, 16), defaultIterations, 32)
		return Identity{}, ErrBadCredentials
	}
	if !VerifyPassword(u.Password, password) {
		return Identity{}, ErrBadCredentials
	}
	return Identity{User: user, Mechanism: "FILE"}, nil
}

// Token maps a bearer token to its user; the claimed user is ignored.
func (f *File) Token(_ context.Context, token, _ string) (Identity, error) {
	if token == "" {
		return Identity{}, ErrBadCredentials
	}
	user, ok := f.tokens[sha256.Sum256([]byte(token))]
	if !ok {
		return Identity{}, ErrBadCredentials
	}
	return Identity{User: user, Mechanism: "FILE"}, nil
}

func (f *File) TrustsClients() bool { return false }
func (f *File) Mode() string        { return "FILE" }

const defaultIterations = 600000

// HashPassword returns a PBKDF2-SHA256 hash of password for a users file.
func HashPassword(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key, err := pbkdf2.Key(sha256.New, password, salt, defaultIterations, 32)
	if err != nil {
		return "", err
	}
	enc := base64.RawStdEncoding
	return fmt.Sprintf("pbkdf2-sha256$%d$%s$%s", defaultIterations, enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// VerifyPassword reports whether password matches hash, in constant time.
func VerifyPassword(hash, password string) bool {
	iter, salt, want, err := parseHash(hash)
	if err != nil {
		return false
	}
	got, err := pbkdf2.Key(sha256.New, password, salt, iter, len(want))
	return err == nil && subtle.ConstantTimeCompare(got, want) == 1
}

func parseHash(hash string) (int, []byte, []byte, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 4 || parts[0] != "pbkdf2-sha256" {
		return 0, nil, nil, errors.New(`a password must be "pbkdf2-sha256$<iterations>$<salt>$<hash>" (see sparkbridge hash-password)`)
	}
	iter, err := strconv.Atoi(parts[1])
	if err != nil || iter < 10000 {
		return 0, nil, nil, errors.New("a password hash needs at least 10000 iterations")
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[2])
	key, err2 := base64.RawStdEncoding.DecodeString(parts[3])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(key) < 16 {
		return 0, nil, nil, errors.New("a password hash has a malformed salt or key")
	}
	return iter, salt, key, nil
}

// NewToken returns a random token and the line that stores it in a users file.
func NewToken() (token, stored string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", err
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(token))
	return token, "sha256:" + hex.EncodeToString(sum[:]), nil
}
