package config

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Console configures the web console `concord serve` shows on its HTTP port
// (docs/console.md). It is on when at least one user is configured.
type Console struct {
	// Users may sign in; none: the console is off.
	Users []ConsoleUser
	// SessionTTL is how long a sign-in lasts.
	SessionTTL time.Duration
	// SecureCookie sets the Secure flag on the session cookie, so that
	// browsers send it over HTTPS only (and to localhost).
	SecureCookie bool
	// SessionSecret signs the session cookies, resolved; empty: a random one
	// per process (sign-ins end when serve restarts, and several nodes do not
	// share them). Never log it.
	SessionSecret string
}

// Enabled reports whether the console is served.
func (c Console) Enabled() bool { return len(c.Users) > 0 }

// ConsoleUser is one person who may sign in to the console.
type ConsoleUser struct {
	Name string
	// Role is RoleViewer (reads everything) or RoleOperator (also retries,
	// dismisses, releases, replays and decides reviews).
	Role string
	// PasswordHash is a bcrypt hash of the user's password (concord console
	// hash-password), resolved; empty: no password sign-in.
	PasswordHash string
	// Token, resolved, is the user's API token (Authorization: Bearer);
	// empty: none. Never log it.
	Token string
	// Line is the user's line in the file.
	Line int
}

// Console roles.
const (
	RoleViewer   = "viewer"
	RoleOperator = "operator"
)

// DefaultSessionTTL is how long a console sign-in lasts by default.
const DefaultSessionTTL = 12 * time.Hour

var (
	consoleUserRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)
	bcryptRe      = regexp.MustCompile(`^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$`)
)

var consoleSchema = object("The web console of `concord serve`: pages and a JSON API under /api/v1 over the store, for the owner and the people who fix records (see docs/console.md). Off unless users are configured.", map[string]*jsonSchema{
	"users": {Type: "array", MinItems: ptr(1), Description: "The people who may sign in.", Items: object("One console user: a password hash, an API token, or both.", map[string]*jsonSchema{
		"name":          {Type: "string", Pattern: consoleUserRe.String(), Description: "The user's name, shown on every change they make (recorded in the event log)."},
		"role":          {Type: "string", Enum: []any{RoleViewer, RoleOperator}, Default: RoleViewer, Description: "viewer reads everything; operator may also retry, edit and retry, dismiss, release, replay and decide reviews."},
		"password_hash": {Type: "string", Examples: []any{"env:CONCORD_ALICE_HASH", "file:/run/secrets/alice.hash"}, Description: "A bcrypt hash of the password (concord console hash-password prints one), inline or as env:NAME or file:PATH."},
		"token":         {Type: "string", Examples: []any{"env:CONCORD_API_TOKEN"}, Description: "An API token for Authorization: Bearer, at least 32 characters, as env:NAME or file:PATH. " + secretRefDoc},
	}, "name"),
	},
	"session_ttl":    duration("How long a sign-in lasts.", "12h"),
	"secure_cookie":  {Type: "boolean", Default: true, Description: "Send the session cookie over HTTPS only (browsers also send it to localhost). Set false only to reach the console over plain HTTP on a trusted network."},
	"session_secret": {Type: "string", Examples: []any{"env:CONCORD_SESSION_SECRET"}, Description: "Signs the session cookies, at least 32 characters, as env:NAME or file:PATH; the same on every node so that a sign-in works on all of them. Not set: a random one per process (sign-ins end when serve restarts). " + secretRefDoc},
})

func (l *loader) console(n *node) {
	m := l.object(n, "console", consoleSchema)
	c := &l.cfg.Console
	c.SessionTTL, c.SecureCookie = DefaultSessionTTL, true
	if v, ok := l.duration(m["session_ttl"].v, "console.session_ttl"); ok {
		if v < time.Minute {
			l.add(m["session_ttl"].v, "console.session_ttl: %s is shorter than 1m", v)
		} else {
			c.SessionTTL = v
		}
	}
	if v, ok := l.boolean(m["secure_cookie"].v, "console.secure_cookie"); ok {
		c.SecureCookie = v
	}
	if e, ok := m["session_secret"]; ok {
		if v, ok := l.secretValue(l.res, e.v, "console.session_secret"); ok {
			if len(v) < 32 {
				l.add(e.v, "console.session_secret: the secret is %d characters; use at least 32 (openssl rand -hex 32)", len(v))
			} else {
				c.SessionSecret = v
			}
		}
	}
	seen := map[string]bool{}
	for i, item := range l.list(m["users"].v, "console.users") {
		where := "console.users[" + strconv.Itoa(i) + "]"
		um := l.object(item, where, consoleSchema.Properties["users"].Items)
		u := ConsoleUser{Role: RoleViewer, Line: item.line}
		if name, ok := l.str(um["name"].v, where+".name"); ok {
			switch {
			case !consoleUserRe.MatchString(name):
				l.add(um["name"].v, "%s.name: %q: use letters, digits and . _ @ - (at most 64)", where, name)
			case seen[strings.ToLower(name)]:
				l.add(um["name"].v, "%s.name: %q is configured twice", where, name)
			default:
				u.Name = name
				seen[strings.ToLower(name)] = true
			}
		}
		if e, ok := um["role"]; ok {
			if v, ok := l.enum(e.v, where+".role", []string{RoleViewer, RoleOperator}); ok {
				u.Role = v
			}
		}
		if e, ok := um["password_hash"]; ok {
			if v, ok := l.maybeSecret(l.res, e.v, where+".password_hash", true); ok {
				if !bcryptRe.MatchString(v) {
					l.add(e.v, "%s.password_hash is not a bcrypt hash ($2b$...); concord console hash-password prints one", where)
				} else {
					u.PasswordHash = v
				}
			}
		}
		if e, ok := um["token"]; ok {
			if v, ok := l.secretValue(l.res, e.v, where+".token"); ok {
				if len(v) < 32 {
					l.add(e.v, "%s.token: the token is %d characters; use at least 32 (openssl rand -hex 32)", where, len(v))
				} else {
					u.Token = v
				}
			}
		}
		if _, hasPW := um["password_hash"]; !hasPW {
			if _, hasTok := um["token"]; !hasTok {
				l.add(item, "%s: give password_hash, token or both, or the user cannot sign in", where)
			}
		}
		if u.Name != "" {
			c.Users = append(c.Users, u)
		}
	}
}
