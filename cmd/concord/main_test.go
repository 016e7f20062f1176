package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/concord-sync/concord/internal/connector/odoo/odootest"
	"github.com/concord-sync/concord/internal/connector/tryton/trytontest"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

func TestMain(m *testing.M) {
	// An Odoo clone for the Odoo demo test (none without ODOO_URL), taken
	// before the Tryton pool as odootest.Prepare asks.
	release, err := odootest.Prepare(1)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := trytontest.Run(m, 4) // Tryton clones for the demo test, the transient-error test, init and assess; plain m.Run without TRYTON_URL
	release()
	if binPath != "" {
		_ = os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}
