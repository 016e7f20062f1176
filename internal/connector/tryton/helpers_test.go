package tryton

import (
	"context"
	"log/slog"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector/tryton/trytontest"
)

// openTest opens the connector on a database cloned for this test.
func openTest(t testing.TB) (*Conn, trytontest.Env) {
	t.Helper()
	env := trytontest.Clone(t)
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

func TestMain(m *testing.M) { trytontest.Main(m, 47) }
