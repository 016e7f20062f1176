// Package odootest gives tests a fresh Odoo database of their own: a clone of
// the template database that scripts/odoo.sh prepares. It is for tests only
// and has no Concord engine imports.
//
// A package's TestMain calls Main(m, n): it clones n databases under the
// exclusive lock that scripts/odoo.sh also takes (so no test suite clones while
// the server is restarted or the template rebuilt), logs in once to each so
// that Odoo loads its registry, then runs the tests under a shared lock. Each
// test calls Clone(t) to take one of them; it is dropped when the test ends.
// A TestMain that also pools another server's databases calls Prepare and
// releases the pool itself.
package odootest

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
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Env is one cloned database on the running test server.
type Env struct {
	// URL is the server's base URL (ODOO_URL), e.g. http://127.0.0.1:8069.
	URL string
	// Database is the clone's name.
	Database string
	// User and Password are the non-admin integration user's login
	// (ODOO_USER, ODOO_PASSWORD); APIKey is an API key of the same user
	// (ODOO_API_KEY), empty when the script printed none.
	User     string
	Password string
	APIKey   string
	// AdminPassword is the password of "admin" (ODOO_ADMIN_PASSWORD), for
	// test set-up steps the integration user may not do.
	AdminPassword string
}

const hint = "run `sudo bash scripts/odoo.sh all` and export the variables it prints (ODOO_URL ...)"

// Require returns the server settings, or skips the test when ODOO_URL is
// unset; with CI=true it fails instead.
func Require(t testing.TB) Env {
	t.Helper()
	if os.Getenv("ODOO_URL") == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("ODOO_URL is unset: %s", hint)
		}
		t.Skipf("ODOO_URL is unset: %s", hint)
	}
	return fromEnv()
}

func fromEnv() Env {
	return Env{
		URL:           strings.TrimRight(os.Getenv("ODOO_URL"), "/"),
		User:          envOr("ODOO_USER", "concord"),
		Password:      envOr("ODOO_PASSWORD", "Sync4Concord!"),
		APIKey:        os.Getenv("ODOO_API_KEY"),
		AdminPassword: envOr("ODOO_ADMIN_PASSWORD", "admin"),
	}
}

// Clone gives the test its own copy of the template database, taken from the
// pool Main prepared, and drops it when the test ends (unless ODOO_KEEP=1).
// It skips or fails like Require.
func Clone(t testing.TB) Env {
	t.Helper()
	env := Require(t)
	pool.mu.Lock()
	if len(pool.names) == 0 {
		pool.mu.Unlock()
		t.Fatalf("odootest: no prepared database left: call odootest.Main(m, n) from TestMain with a larger n")
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
// left, then exits. Call it from TestMain. Without ODOO_URL it only runs the
// tests (which skip or fail in Require).
func Main(m *testing.M, n int) {
	os.Exit(Run(m, n))
}

// Run is Main without the exit: it returns the exit code, so that TestMain
// can clean up its own resources before os.Exit.
func Run(m *testing.M, n int) int {
	release, err := Prepare(n)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer release()
	return m.Run()
}

// Prepare is the set-up of Run without running the tests, for a TestMain that
// also needs another server's pool (trytontest.Run, say): it prepares n
// cloned databases for Clone and returns release, which drops what is left
// and lets go of the lock; call it after the tests ran. Prepare Odoo's pool
// before taking another pool's lock, so that no two test processes wait on
// each other. Without ODOO_URL it prepares nothing (the tests skip or fail in
// Require) and release does nothing.
//
//	func TestMain(m *testing.M) {
//		release, err := odootest.Prepare(1)
//		if err != nil {
//			fmt.Fprintln(os.Stderr, err)
//			os.Exit(1)
//		}
//		code := trytontest.Run(m, 4)
//		release()
//		os.Exit(code)
//	}
func Prepare(n int) (release func(), err error) {
	if os.Getenv("ODOO_URL") == "" {
		return func() {}, nil
	}
	env := fromEnv()
	f, err := os.OpenFile(envOr("ODOO_LOCK", filepath.Join(os.TempDir(), "concord-odoo.lock")), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("odootest: open lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("odootest: lock: %w", err)
	}
	release = func() {
		pool.mu.Lock()
		left := pool.names
		pool.names = nil
		pool.mu.Unlock()
		for _, name := range left {
			drop(name)
		}
		f.Close() // lets go of the lock
	}
	for range n {
		name := dbName()
		if out, err := command(scriptCmd("ODOO_CLONE_CMD", "clone"), name); err != nil {
			release()
			return nil, fmt.Errorf("odootest: clone %s: %w\n%s\n(%s)", name, err, out, hint)
		}
		pool.mu.Lock()
		pool.names = append(pool.names, name)
		pool.mu.Unlock()
		env.Database = name
		if err := warm(env); err != nil {
			release()
			return nil, fmt.Errorf("odootest: warm up %s: %w", name, err)
		}
	}
	// Downgrade to shared: other packages' tests may run now, not a restart.
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH); err != nil {
		release()
		return nil, fmt.Errorf("odootest: lock: %w", err)
	}
	return release, nil
}

func drop(name string) {
	if os.Getenv("ODOO_KEEP") == "1" {
		fmt.Fprintf(os.Stderr, "odootest: kept database %s\n", name)
		return
	}
	if out, err := command(scriptCmd("ODOO_DROP_CMD", "drop"), name); err != nil {
		fmt.Fprintf(os.Stderr, "odootest: drop %s: %v\n%s\n", name, err, out)
	}
}

func command(cmd []string, name string) ([]byte, error) {
	args := append(cmd[1:len(cmd):len(cmd)], name)
	return exec.Command(cmd[0], args...).CombinedOutput()
}

// warm logs in once so that the server loads the new database's registry
// (about 3 s) before the tests' clocks run.
func warm(env Env) error {
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "method": "call", "id": 1,
		"params": map[string]any{"service": "common", "method": "login",
			"args": []any{env.Database, env.User, env.Password}}})
	hc := &http.Client{Timeout: 2 * time.Minute}
	resp, err := hc.Post(env.URL+"/jsonrpc", "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("login: http status %d", resp.StatusCode)
	}
	var out struct {
		Result any `json:"result"`
		Error  any `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return fmt.Errorf("login: %w", err)
	}
	if uid, ok := out.Result.(float64); out.Error != nil || !ok || uid == 0 {
		return fmt.Errorf("login as %s refused: %v", env.User, out.Error)
	}
	return nil
}

// dbName returns a fresh clone name; scripts/odoo.sh drops only its clones.
func dbName() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "concord_odoo_t_" + hex.EncodeToString(b[:])
}

func scriptCmd(env, sub string) []string {
	if s := strings.TrimSpace(os.Getenv(env)); s != "" {
		return strings.Fields(strings.Trim(s, `"'`))
	}
	return []string{"bash", filepath.Join(repoRoot(), "scripts", "odoo.sh"), sub}
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
