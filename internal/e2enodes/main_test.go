package e2enodes

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// concordBin is the concord binary TestMain builds from ./cmd/concord, or
// $CONCORD_BIN when set.
var concordBin string

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	if os.Getenv("TEST_DATABASE_URL") == "" {
		return m.Run() // every test skips, or fails under CI=true, in storetest.PostgresURL
	}
	if bin := os.Getenv("CONCORD_BIN"); bin != "" {
		concordBin = bin
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "concord-e2enodes-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2enodes:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	concordBin = filepath.Join(dir, "concord")
	build := exec.Command("go", "build", "-o", concordBin, "github.com/concord-sync/concord/cmd/concord")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2enodes: go build ./cmd/concord: %v\n%s\n", err, out)
		return 1
	}
	return m.Run()
}
