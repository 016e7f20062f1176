package odoo

import (
	"context"
	"log/slog"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector/odoo/odootest"
)

// openTest opens the connector on a database cloned for this test.
func openTest(t testing.TB) (*Conn, odootest.Env) {
	t.Helper()
	env := odootest.Clone(t)
	level := slog.LevelInfo
	if os.Getenv("CONCORD_DEBUG") == "1" {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: level}))
	c, err := Open(context.Background(), Settings{
		URL: env.URL, Database: env.Database, Username: env.User, Password: env.Password,
	}, log)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c, env
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// clones: 11 conformance subtests per entity, 3 entities, the package's own
// three tests, the three order tests, doctor's two and the benchmark's two.
func TestMain(m *testing.M) { odootest.Main(m, 43) }
