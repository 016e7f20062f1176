package e2eodoo

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/concord-sync/concord/internal/connector/odoo/odootest"
)

// concordBin is the concord binary TestMain builds from ./cmd/concord, or
// $CONCORD_BIN when set.
var concordBin string

// clones is how many Odoo databases the tests take (one per newWorld).
const clones = 6 // customers, catalogue, orders, payments, two kill tests

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	if os.Getenv("ODOO_URL") == "" {
		return m.Run() // every test skips, or fails under CI=true, in odootest.Require
	}
	if bin := os.Getenv("CONCORD_BIN"); bin != "" {
		concordBin = bin // a binary built elsewhere, e.g. from another checkout
		return odootest.Run(m, clones)
	}
	dir, err := os.MkdirTemp("", "concord-e2eodoo-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2eodoo:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	concordBin = filepath.Join(dir, "concord")
	build := exec.Command("go", "build", "-o", concordBin, "github.com/concord-sync/concord/cmd/concord")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2eodoo: go build ./cmd/concord: %v\n%s\n", err, out)
		return 1
	}
	return odootest.Run(m, clones)
}
