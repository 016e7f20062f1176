package config

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// secretWords are the parts of a setting's name that make it a secret.
var secretWords = []string{"password", "passwd", "secret", "token", "api_key", "apikey", "private_key"}

var (
	envNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	// urlPasswordRe finds scheme://user:password@ in a URL.
	urlPasswordRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://[^\s/@:]*:[^\s/@]+@`)
	// mysqlPasswordRe finds user:password@tcp(...) or user:password@/db in a
	// go-sql-driver/mysql DSN.
	mysqlPasswordRe = regexp.MustCompile(`^[^\s/@:]+:[^\s/@]+@[a-z]*[(/]`)
	// kvPasswordRe finds password=... in a libpq key=value connection string,
	// a URL query or an ODBC-style string.
	kvPasswordRe = regexp.MustCompile(`(?i)(^|[\s?&;])(password|pwd)\s*=\s*[^\s&;]`)
)

// isSecretKey reports whether a setting called key holds a secret by its name.
func isSecretKey(key string) bool {
	k := strings.ReplaceAll(strings.ToLower(key), "-", "_")
	for _, w := range secretWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// hasInlinePassword reports whether s is a DSN or URL carrying a password.
func hasInlinePassword(s string) bool {
	return urlPasswordRe.MatchString(s) || mysqlPasswordRe.MatchString(s) || kvPasswordRe.MatchString(s)
}

// parseRef splits a secret reference: env:NAME or file:PATH.
func parseRef(s string) (scheme, arg string, ok bool) {
	scheme, arg, found := strings.Cut(s, ":")
	if !found {
		return "", "", false
	}
	switch scheme {
	case "env":
		return scheme, arg, envNameRe.MatchString(arg)
	case "file":
		return scheme, arg, arg != "" && !strings.HasPrefix(arg, "//")
	}
	return "", "", false
}

// resolver resolves secret references.
type resolver struct {
	dir string
	env func(string) (string, bool)
}

// resolve returns the value behind a reference; ok is false when it does not
// resolve (variable unset or empty, file unreadable). A file's trailing
// newlines are trimmed.
func (r *resolver) resolve(scheme, arg string) (string, bool) {
	switch scheme {
	case "env":
		v, ok := r.env(arg)
		return v, ok && v != ""
	case "file":
		p := arg
		if !filepath.IsAbs(p) {
			p = filepath.Join(r.dir, p)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return "", false
		}
		return strings.TrimRight(string(b), "\r\n"), true
	}
	return "", false
}

// secretValue decodes a node that must hold a secret: a reference, resolved.
// what names the setting in messages. The value itself never appears in a
// message.
func (d *decoder) secretValue(r *resolver, n *node, what string) (string, bool) {
	s, isStr := n.str()
	if !isStr {
		if n.kind == kindScalar {
			d.add(n, "inline secret in %s; use env:NAME or file:PATH", what)
		} else {
			d.add(n, "%s: want a secret reference env:NAME or file:PATH, got %s", what, n.describe())
		}
		return "", false
	}
	scheme, arg, ok := parseRef(s)
	if !ok {
		d.add(n, "inline secret in %s; use env:NAME or file:PATH", what)
		return "", false
	}
	v, ok := r.resolve(scheme, arg)
	if !ok {
		d.add(n, "unresolved secret %s:%s in %s", scheme, arg, what)
		return "", false
	}
	return v, true
}

// maybeSecret decodes a string that may hold a secret, such as a DSN or a URL:
// an env:NAME reference (and a file:PATH one when files is true) is resolved, an
// inline value with a password is an error, any other value is returned as is.
// n must be a string scalar.
func (d *decoder) maybeSecret(r *resolver, n *node, what string, files bool) (string, bool) {
	s, _ := n.str()
	if scheme, arg, ok := parseRef(s); ok && (scheme == "env" || files) {
		v, ok := r.resolve(scheme, arg)
		if !ok {
			d.add(n, "unresolved secret %s:%s in %s", scheme, arg, what)
			return "", false
		}
		return v, true
	}
	if hasInlinePassword(s) {
		d.add(n, "inline secret in %s (a password in a connection string); use env:NAME or file:PATH", what)
		return "", false
	}
	return s, true
}
