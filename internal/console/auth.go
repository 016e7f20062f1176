package console

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/concord-sync/concord/internal/config"
)

// cookieName is the session cookie. The __Host- prefix (with Secure, Path=/
// and no Domain) keeps other hosts and plain-HTTP pages from setting it.
const (
	cookieName       = "__Host-concord_session"
	cookieNameNoTLS  = "concord_session"
	csrfField        = "csrf"
	csrfHeader       = "X-CSRF-Token"
	loginFailLimit   = 10               // failed sign-ins per address ...
	loginFailWindow  = 15 * time.Minute // ... within this window, then refused
	maxRevokedTokens = 100000
)

// User is a signed-in person.
type User struct {
	Name string `json:"name"`
	Role string `json:"role"`
	// session is the session's id (empty for a bearer token): the CSRF token
	// derives from it, and signing out revokes it.
	session string
	expires time.Time
}

// CanChange reports whether the user may change anything.
func (u *User) CanChange() bool { return u != nil && u.Role == config.RoleOperator }

type userKey struct{}

// contextWithUser returns r's context carrying u.
func contextWithUser(r *http.Request, u *User) context.Context {
	return context.WithValue(r.Context(), userKey{}, u)
}

// auth checks sign-ins, sessions, tokens and CSRF tokens.
type auth struct {
	users  map[string]config.ConsoleUser // by lower-case name
	tokens []tokenUser
	key    []byte
	ttl    time.Duration
	secure bool
	now    func() time.Time

	mu      sync.Mutex
	revoked map[string]time.Time // signed-out session ids, until they expire
	fails   map[string][]time.Time
}

type tokenUser struct {
	sum  [32]byte // sha256 of the token
	user config.ConsoleUser
}

// dummyHash is compared against when the name is unknown, so that a wrong
// name takes as long as a wrong password.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("concord: no such user"), bcrypt.DefaultCost)

func newAuth(c config.Console, now func() time.Time) (*auth, error) {
	a := &auth{users: map[string]config.ConsoleUser{}, ttl: c.SessionTTL, secure: c.SecureCookie, now: now,
		revoked: map[string]time.Time{}, fails: map[string][]time.Time{}}
	if a.ttl <= 0 {
		a.ttl = config.DefaultSessionTTL
	}
	for _, u := range c.Users {
		a.users[strings.ToLower(u.Name)] = u
		if u.Token != "" {
			a.tokens = append(a.tokens, tokenUser{sum: sha256.Sum256([]byte(u.Token)), user: u})
		}
	}
	if c.SessionSecret != "" {
		k := sha256.Sum256([]byte("concord console session\x00" + c.SessionSecret))
		a.key = k[:]
	} else {
		a.key = make([]byte, 32)
		if _, err := rand.Read(a.key); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// cookieName is the session cookie's name: with the Secure flag the
// __Host- prefixed one.
func (a *auth) cookieName() string {
	if a.secure {
		return cookieName
	}
	return cookieNameNoTLS
}

// errThrottled refuses a sign-in from an address with too many failures.
var errThrottled = errors.New("too many failed sign-ins from this address; wait 15 minutes")

// signIn checks a name and password and returns the user, or an error that
// says nothing about which of the two was wrong.
func (a *auth) signIn(name, password, addr string) (*User, error) {
	if a.throttled(addr) {
		return nil, errThrottled
	}
	u, ok := a.users[strings.ToLower(strings.TrimSpace(name))]
	hash := []byte(u.PasswordHash)
	if !ok || u.PasswordHash == "" {
		hash = dummyHash
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil || !ok || u.PasswordHash == "" {
		a.failed(addr)
		return nil, errors.New("wrong name or password")
	}
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	return &User{Name: u.Name, Role: u.Role, session: hex.EncodeToString(id), expires: a.now().Add(a.ttl)}, nil
}

// throttled reports whether addr failed too often lately.
func (a *auth) throttled(addr string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.recentFails(addr)) >= loginFailLimit
}

func (a *auth) failed(addr string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.fails) > 10000 { // bound the memory an attacker can make us keep
		clear(a.fails)
	}
	a.fails[addr] = append(a.recentFails(addr), a.now())
}

func (a *auth) recentFails(addr string) []time.Time {
	recent := a.fails[addr][:0]
	for _, t := range a.fails[addr] {
		if a.now().Sub(t) < loginFailWindow {
			recent = append(recent, t)
		}
	}
	a.fails[addr] = recent
	return recent
}

// cookie is the session cookie for u: name|session|expiry, signed.
func (a *auth) cookie(u *User) *http.Cookie {
	payload := u.Name + "|" + u.session + "|" + strconv.FormatInt(u.expires.Unix(), 10)
	v := base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." + a.sign("session|"+payload)
	return &http.Cookie{Name: a.cookieName(), Value: v, Path: "/", Expires: u.expires, MaxAge: int(a.ttl / time.Second),
		HttpOnly: true, Secure: a.secure, SameSite: http.SameSiteLaxMode}
}

// clearCookie removes the session cookie.
func (a *auth) clearCookie() *http.Cookie {
	return &http.Cookie{Name: a.cookieName(), Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: a.secure, SameSite: http.SameSiteLaxMode}
}

func (a *auth) sign(s string) string {
	m := hmac.New(sha256.New, a.key)
	m.Write([]byte(s))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// session returns the user of a valid, unexpired, not revoked session
// cookie whose user is still configured (with the role configured now).
func (a *auth) session(r *http.Request) *User {
	c, err := r.Cookie(a.cookieName())
	if err != nil {
		return nil
	}
	b64, sig, ok := strings.Cut(c.Value, ".")
	if !ok {
		return nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(b64)
	if err != nil {
		return nil
	}
	payload := string(raw)
	if !hmac.Equal([]byte(sig), []byte(a.sign("session|"+payload))) {
		return nil
	}
	parts := strings.Split(payload, "|")
	if len(parts) != 3 {
		return nil
	}
	exp, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || a.now().Unix() >= exp {
		return nil
	}
	cu, ok := a.users[strings.ToLower(parts[0])]
	if !ok || cu.PasswordHash == "" {
		return nil // removed from the config, or no longer signs in by password
	}
	a.mu.Lock()
	_, gone := a.revoked[parts[1]]
	a.mu.Unlock()
	if gone {
		return nil
	}
	return &User{Name: cu.Name, Role: cu.Role, session: parts[1], expires: time.Unix(exp, 0)}
}

// bearer returns the user whose API token the request carries.
func (a *auth) bearer(r *http.Request) *User {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return nil
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	var found *User
	for _, t := range a.tokens { // every token compared: no early exit
		if subtle.ConstantTimeCompare(sum[:], t.sum[:]) == 1 {
			found = &User{Name: t.user.Name, Role: t.user.Role}
		}
	}
	return found
}

// revoke ends a session before it expires (sign out).
func (a *auth) revoke(u *User) {
	if u == nil || u.session == "" {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	for id, exp := range a.revoked {
		if now.After(exp) {
			delete(a.revoked, id)
		}
	}
	if len(a.revoked) < maxRevokedTokens {
		a.revoked[u.session] = u.expires
	}
}

// csrfToken is the token a session's forms and requests carry.
func (a *auth) csrfToken(u *User) string {
	if u == nil || u.session == "" {
		return ""
	}
	return a.sign("csrf|" + u.session)
}

// checkCSRF reports whether a change request of a cookie session carries
// the session's token (a form field or the X-CSRF-Token header). Requests
// authenticated by a bearer token carry no cookie and need none.
func (a *auth) checkCSRF(r *http.Request, u *User) bool {
	if u.session == "" {
		return true
	}
	got := r.Header.Get(csrfHeader)
	if got == "" {
		got = r.PostFormValue(csrfField)
	}
	return got != "" && hmac.Equal([]byte(got), []byte(a.csrfToken(u)))
}

// clientAddr is the request's remote address without the port.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// HashPassword returns a bcrypt hash of password for console.users's
// password_hash.
func HashPassword(password string) (string, error) {
	if len(password) < 8 {
		return "", errors.New("the password is shorter than 8 characters")
	}
	if len(password) > 72 {
		return "", errors.New("the password is longer than 72 bytes (bcrypt's limit)")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), 12)
	return string(h), err
}
