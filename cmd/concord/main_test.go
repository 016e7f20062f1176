package main

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/concord-sync/concord/internal/connector/tryton/trytontest"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

func TestMain(m *testing.M) {
	code := trytontest.Run(m, 4) // Tryton clones for the demo test, the transient-error test, init and assess; plain m.Run without TRYTON_URL
	if binPath != "" {
		_ = os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}
