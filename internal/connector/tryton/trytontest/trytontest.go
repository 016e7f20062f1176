// Package trytontest gives tests a fresh Tryton database of their own: a clone
// of the template that scripts/tryton.sh prepares. It is for tests only and
// has no Concord engine imports.
package trytontest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Env is one cloned database on the running test server.
type Env struct {
	// URL is the server's base URL (TRYTON_URL), e.g. http://127.0.0.1:8000.
	URL string
	// Database is the clone's name, served at URL/Database/.
	Database string
	// User and Password are the non-admin integration user's login.
	User     string
	Password string
	// AdminPassword is the password of "admin", for test set-up steps the
	// integration user may not do.
	AdminPassword string
}

const hint = "run `sudo bash scripts/tryton.sh all` and export the variables it prints (TRYTON_URL ...)"

// Require returns the server settings, or skips the test when TRYTON_URL is
// unset; with CI=true it fails instead.
func Require(t testing.TB) Env {
	t.Helper()
	url := os.Getenv("TRYTON_URL")
	if url == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("TRYTON_URL is unset: %s", hint)
		}
		t.Skipf("TRYTON_URL is unset: %s", hint)
	}
	return Env{
		URL:           strings.TrimRight(url, "/"),
		User:          envOr("TRYTON_USER", "concord"),
		Password:      envOr("TRYTON_PASSWORD", "Sync4Concord!"),
		AdminPassword: envOr("TRYTON_ADMIN_PASSWORD", "admin"),
	}
}

// Clone gives the test its own copy of the template database and drops it
// when the test ends (unless TRYTON_KEEP=1). It skips or fails like Require.
func Clone(t testing.TB) Env {
	t.Helper()
	env := Require(t)
	env.Database = dbName(t.Name())
	run(t, cloneCmd("TRYTON_CLONE_CMD", "clone"), env.Database)
	t.Cleanup(func() {
		if os.Getenv("TRYTON_KEEP") == "1" {
			t.Logf("kept tryton database %s", env.Database)
			return
		}
		run(t, cloneCmd("TRYTON_DROP_CMD", "drop"), env.Database)
	})
	return env
}

var unsafe = regexp.MustCompile(`[^a-z0-9]+`)

func dbName(test string) string {
	s := unsafe.ReplaceAllString(strings.ToLower(test), "_")
	if len(s) > 30 {
		s = s[:30]
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("t_%s_%s", strings.Trim(s, "_"), hex.EncodeToString(b[:]))
}

func cloneCmd(env, sub string) []string {
	if s := strings.TrimSpace(os.Getenv(env)); s != "" {
		return strings.Fields(strings.Trim(s, `"'`))
	}
	return []string{"bash", filepath.Join(repoRoot(), "scripts", "tryton.sh"), sub}
}

func run(t testing.TB, cmd []string, name string) {
	t.Helper()
	args := append(cmd[1:len(cmd):len(cmd)], name)
	out, err := exec.Command(cmd[0], args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s\n(%s)", strings.Join(cmd, " "), name, err, out, hint)
	}
}

func repoRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return "."
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "."
		}
		dir = parent
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
