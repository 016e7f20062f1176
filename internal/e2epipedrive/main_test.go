package e2epipedrive

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/concord-sync/concord/internal/connector/odoo/odootest"
	"github.com/concord-sync/concord/internal/connector/tryton/trytontest"
)

// concordBin is the binary TestMain builds, or $CONCORD_BIN.
var concordBin string

// clones is how many Tryton databases the tests take.
const clones = 1

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	if os.Getenv("TRYTON_URL") == "" && os.Getenv("ODOO_URL") == "" {
		return m.Run() // the tests skip, or fail under CI=true, in trytontest.Require or odootest.Require
	}
	if bin := os.Getenv("CONCORD_BIN"); bin != "" {
		concordBin = bin
		return runPools(m)
	}
	dir, err := os.MkdirTemp("", "concord-e2epipedrive-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2epipedrive:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	concordBin = filepath.Join(dir, "concord")
	build := exec.Command("go", "build", "-o", concordBin, "github.com/concord-sync/concord/cmd/concord")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2epipedrive: go build ./cmd/concord: %v\n%s\n", err, out)
		return 1
	}
	return runPools(m)
}

// runPools prepares the Odoo clones (first, as odootest.Prepare asks), then
// runs the tests with the Tryton clones; either server may be absent, and its
// tests then skip or fail in Require.
func runPools(m *testing.M) int {
	release, err := odootest.Prepare(odooClones)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2epipedrive:", err)
		return 1
	}
	defer release()
	return trytontest.Run(m, clones)
}
