package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// secretWords are the parts of a setting's name that make it a secret.
var secretWords = []string{"password", "passwd", "secret", "token", "api_key", "apikey", "private_key"}

var (
	envNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	// schemeRe finds the scheme:// of a URL.
	schemeRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://`)
	// mysqlNetRe matches the net[(addr)] part of a go-sql-driver/mysql DSN:
	// nothing, a bare protocol, or protocol(address).
	mysqlNetRe = regexp.MustCompile(`^(|tcp|tcp6|unix|[A-Za-z0-9_.-]+\(.*\))$`)
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
	return urlHasPassword(s) || mysqlHasPassword(s) || kvPasswordRe.MatchString(s)
}

// urlHasPassword reports whether s is a URL with a password in its user info:
// scheme://user:password@host/... The user info runs to the last @ before the
// query, as URL parsers read it, so a password holding an unencoded @ or / is
// found too.
func urlHasPassword(s string) bool {
	loc := schemeRe.FindStringIndex(s)
	if loc == nil {
		return false
	}
	rest := s[loc[1]:]
	if i := strings.IndexAny(rest, "?#"); i >= 0 {
		rest = rest[:i]
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return false
	}
	_, pw, ok := strings.Cut(rest[:at], ":")
	return ok && pw != ""
}

// mysqlHasPassword reports whether s is a go-sql-driver/mysql DSN with a
// password: user:password@net(addr)/dbname. It splits the DSN as the driver
// does, at the last / and then the last @ before it, so a password may hold /
// and @.
func mysqlHasPassword(s string) bool {
	if schemeRe.MatchString(s) {
		return false
	}
	slash := strings.LastIndex(s, "/")
	if slash < 0 {
		return false
	}
	head := s[:slash]
	at := strings.LastIndex(head, "@")
	if at < 0 || !mysqlNetRe.MatchString(head[at+1:]) {
		return false
	}
	user, pw, ok := strings.Cut(head[:at], ":")
	return ok && user != "" && !strings.ContainsAny(user, " \t\r\n/") && pw != ""
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

// MaxSecretFileBytes bounds the size of a file: secret.
const MaxSecretFileBytes = 64 << 10

// resolver resolves secret references.
type resolver struct {
	dir string
	env func(string) (string, bool)
}

// resolve returns the value behind a reference, or why it does not resolve:
// an env: variable unset or empty (reason ""); a file: file missing,
// unreadable, not a regular file, writable by its group or by others, or larger
// than MaxSecretFileBytes (the reason says which). A file's trailing newlines
// are trimmed. A reason never holds the secret.
func (r *resolver) resolve(scheme, arg string) (string, string, bool) {
	switch scheme {
	case "env":
		v, ok := r.env(arg)
		return v, "", ok && v != ""
	case "file":
		p := arg
		if !filepath.IsAbs(p) {
			p = filepath.Join(r.dir, p)
		}
		v, err := readSecretFile(p)
		if err != nil {
			// The reference already names the file; keep the reason alone.
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return "", err.Error(), false
		}
		return v, "", true
	}
	return "", "", false
}

// readSecretFile reads a file: secret. It refuses anything but a regular file
// (a device such as /dev/zero would never end), a file that its group or
// others may write (anyone who can change it can redirect Concord), and a file
// larger than MaxSecretFileBytes.
func readSecretFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", errors.New("not a regular file")
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return "", fmt.Errorf("the file is writable by its group or by others (mode %04o); run chmod go-w on it", fi.Mode().Perm())
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxSecretFileBytes+1))
	if err != nil {
		return "", err
	}
	if len(b) > MaxSecretFileBytes {
		return "", fmt.Errorf("the file is larger than %d KiB", MaxSecretFileBytes>>10)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// unresolved reports a reference that does not resolve, with the reason when
// there is one.
func (d *decoder) unresolved(n *node, scheme, arg, what, reason string) {
	if reason == "" {
		d.add(n, "unresolved secret %s:%s in %s", scheme, arg, what)
		return
	}
	d.add(n, "unresolved secret %s:%s in %s: %s", scheme, arg, what, reason)
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
	v, reason, ok := r.resolve(scheme, arg)
	if !ok {
		d.unresolved(n, scheme, arg, what, reason)
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
		v, reason, ok := r.resolve(scheme, arg)
		if !ok {
			d.unresolved(n, scheme, arg, what, reason)
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
