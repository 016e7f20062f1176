package bench

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector/tryton/trytontest"
)

// TestScenario_Tryton runs the tryton scenario small against the test server:
// both sides create every party in a database of their own, which is dropped
// afterwards. It skips without TRYTON_URL (fails with CI=true).
func TestScenario_Tryton(t *testing.T) {
	t.Parallel()
	env := trytontest.Require(t)
	p, err := trytonParamsFrom(func(name string) string {
		if v := os.Getenv(name); v != "" {
			return v
		}
		switch name { // as trytontest does without the variables
		case "TRYTON_CLONE_CMD":
			return "bash " + filepath.Join("..", "..", "scripts", "tryton.sh") + " clone"
		case "TRYTON_DROP_CMD":
			return "bash " + filepath.Join("..", "..", "scripts", "tryton.sh") + " drop"
		}
		return ""
	})
	require.NoError(t, err)
	require.Equal(t, env.URL, p.URL)
	p.Records = 120 // three calls a side, the last one short
	r, err := runTryton(context.Background(), p)
	require.NoError(t, err)
	require.Equal(t, 120, r.Records)
	require.Positive(t, r.ConnectorPerS)
	require.Positive(t, r.PlainPerS)

	// Both databases are gone (where the server keeps them here).
	require.Len(t, r.Databases, 2)
	if dir := filepath.Join(envOr("CONCORD_TRYTON_HOME", "/var/lib/concord-tryton"), "db"); dirExists(dir) {
		for _, db := range r.Databases {
			require.NoFileExists(t, filepath.Join(dir, db+".sqlite"))
		}
	}
}

func dirExists(dir string) bool {
	fi, err := os.Stat(dir)
	return err == nil && fi.IsDir()
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// TestTrytonParamsFrom: without the server or the clone commands the scenario
// says what it needs instead of running.
func TestTrytonParamsFrom(t *testing.T) {
	t.Parallel()
	none := func(string) string { return "" }
	_, err := trytonParamsFrom(none)
	require.ErrorIs(t, err, ErrMissing)
	require.ErrorContains(t, err, "TRYTON_CLONE_CMD")

	vars := map[string]string{"TRYTON_URL": "http://127.0.0.1:8000/", "TRYTON_CLONE_CMD": `"bash /x/tryton.sh clone"`, "TRYTON_DROP_CMD": "bash /x/tryton.sh drop"}
	p, err := trytonParamsFrom(func(n string) string { return vars[n] })
	require.NoError(t, err)
	require.Equal(t, "http://127.0.0.1:8000", p.URL)
	require.Equal(t, []string{"bash", "/x/tryton.sh", "clone"}, p.CloneCmd)
	require.Equal(t, []string{"bash", "/x/tryton.sh", "drop"}, p.DropCmd)
	require.Equal(t, "concord", p.User)

	s, ok := Lookup("tryton")
	require.True(t, ok)
	require.Contains(t, s.Needs, "TRYTON_URL")
}

// TestTrytonFigure: the connector's rate against the plain client's, as the
// medians of the runs.
func TestTrytonFigure(t *testing.T) {
	t.Parallel()
	f := trytonFigure([]trytonResult{{Records: 1000, ConnectorPerS: 190, PlainPerS: 200}, {Records: 1000, ConnectorPerS: 150, PlainPerS: 210},
		{Records: 1000, ConnectorPerS: 170, PlainPerS: 160}})
	require.InDelta(t, 170.0, f.Value, 1e-9)
	require.InDelta(t, 200.0, f.Baseline, 1e-9)
	require.InDelta(t, 200.0/170, f.Ratio(), 1e-9)
	require.Equal(t, "1000 party creates, 50 per call, medians of 3 runs", f.Case)
	require.Contains(t, f.Note, "190/200, 150/210, 170/160")
	require.Equal(t, "parties/s", f.Unit)
}
