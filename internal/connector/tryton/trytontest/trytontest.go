// Package trytontest gives tests a fresh Tryton database of their own: a clone
// of the template that scripts/tryton.sh prepares. It is for tests only and
// has no Concord engine imports.
package trytontest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
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

// Clone gives the test its own copy of the template database, taken from the
// pool Main prepared, and drops it when the test ends (unless TRYTON_KEEP=1).
// It skips or fails like Require.
func Clone(t testing.TB) Env {
	t.Helper()
	env := Require(t)
	pool.mu.Lock()
	if len(pool.names) == 0 {
		pool.mu.Unlock()
		t.Fatalf("trytontest: no prepared database left: call trytontest.Main(m, n) from TestMain with a larger n")
	}
	env.Database = pool.names[0]
	pool.names = pool.names[1:]
	pool.mu.Unlock()
	t.Cleanup(func() { drop(env.Database) })
	return env
}

var pool struct {
	mu    sync.Mutex
	names []string
}

// Main prepares n cloned databases, runs the package's tests and drops what is
// left. Call it from TestMain. trytond loads a database's module pool on the
// first request, and a pool loading while the server answers other requests
// breaks them (AssertionError inside trytond); so clones are made and warmed
// up under an exclusive lock shared by all test processes, and tests run
// under a shared one.
func Main(m *testing.M, n int) {
	os.Exit(runMain(m, n))
}

func runMain(m *testing.M, n int) int {
	url := os.Getenv("TRYTON_URL")
	if url == "" {
		return m.Run() // tests skip or fail in Require
	}
	env := Env{
		URL: strings.TrimRight(url, "/"), User: envOr("TRYTON_USER", "concord"),
		Password: envOr("TRYTON_PASSWORD", "Sync4Concord!"),
	}
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "concord-tryton.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		fmt.Fprintln(os.Stderr, "trytontest: open lock:", err)
		return 1
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		fmt.Fprintln(os.Stderr, "trytontest: lock:", err)
		return 1
	}
	defer func() {
		pool.mu.Lock()
		left := pool.names
		pool.names = nil
		pool.mu.Unlock()
		for _, name := range left {
			drop(name)
		}
	}()
	for i := range n {
		name := dbName(fmt.Sprintf("p%d", i))
		if out, err := command(cloneCmd("TRYTON_CLONE_CMD", "clone"), name); err != nil {
			fmt.Fprintf(os.Stderr, "trytontest: clone %s: %v\n%s\n(%s)\n", name, err, out, hint)
			return 1
		}
		pool.mu.Lock()
		pool.names = append(pool.names, name)
		pool.mu.Unlock()
		env.Database = name
		if err := warm(env); err != nil {
			fmt.Fprintf(os.Stderr, "trytontest: warm up %s: %v\n", name, err)
			return 1
		}
	}
	// Downgrade to shared: other packages' tests may run now, not their set-up.
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH); err != nil {
		fmt.Fprintln(os.Stderr, "trytontest: lock:", err)
		return 1
	}
	return m.Run()
}

func drop(name string) {
	if os.Getenv("TRYTON_KEEP") == "1" {
		fmt.Fprintf(os.Stderr, "trytontest: kept database %s\n", name)
		return
	}
	_, _ = command(cloneCmd("TRYTON_DROP_CMD", "drop"), name)
}

func command(cmd []string, name string) ([]byte, error) {
	args := append(cmd[1:len(cmd):len(cmd)], name)
	return exec.Command(cmd[0], args...).CombinedOutput()
}

// warm logs in once so that the server loads the new database's pool.
func warm(env Env) error {
	body, _ := json.Marshal(map[string]any{"id": 1, "method": "common.db.login",
		"params": []any{env.User, map[string]any{"password": env.Password}, "en"}})
	resp, err := http.Post(env.URL+"/"+env.Database+"/", "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var out struct {
		Result []any `json:"result"`
		Error  any   `json:"error"`
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("login: http status %d", resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return fmt.Errorf("login: %w", err)
	}
	if out.Error != nil || len(out.Result) != 2 {
		return fmt.Errorf("login refused: %v", out.Error)
	}
	return nil
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
