package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/config"
)

// FuzzParse checks that Parse never panics, and that it returns either a
// config or an *Error whose problems all have a position.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "TestLoad", "*.yaml"))
	require.NoError(f, err)
	for _, file := range files {
		f.Add(mustRead(f, file))
	}
	reg := testRegistry()
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := config.Parse("fuzz.yaml", data, reg, lookupEnv)
		if err == nil {
			require.NotNil(t, cfg)
			return
		}
		var cerr *config.Error
		require.True(t, errors.As(err, &cerr), "%v", err)
		require.NotEmpty(t, cerr.Problems)
		for _, p := range cerr.Problems {
			require.Positive(t, p.Line, p.Msg)
		}
	})
}

// FuzzLoad checks the loader end to end, from a file on disk: Load never
// panics, and returns either a config or an *Error whose problems all have a
// position in that file. The seeds are the golden cases and files at the
// limits (deep nesting, many keys, block scalars, quotes). CI runs it for a
// bounded time (.ci/run).
func FuzzLoad(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "TestLoad", "*.yaml"))
	require.NoError(f, err)
	for _, file := range files {
		f.Add(mustRead(f, file))
	}
	f.Add([]byte(head + "x: " + strings.Repeat("[", 70) + strings.Repeat("]", 70) + "\n"))
	f.Add([]byte(head + "x: " + strings.Repeat("{a: ", 70) + "1" + strings.Repeat("}", 70) + "\n"))
	f.Add([]byte(head + nestedBlock(70)))
	f.Add([]byte(head + "x:\n" + strings.Repeat("- ", 70) + "1\n"))
	f.Add([]byte(head + "sync:\n" + strings.Repeat("  k: 1\n", 1100)))
	f.Add([]byte(head + "w: |\n  [\n  k: v\nv: >-\n  [[\n# [[ {{\nu: 'it''s [' # [\nx: \"[[\n  ]] {{\"\ny: [a, \"b,\n  c\", 'd'\n  ]\n"))
	reg := testRegistry()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "concord.yaml")
		require.NoError(t, os.WriteFile(path, data, 0o600))
		cfg, err := config.Load(path, reg)
		if err == nil {
			require.NotNil(t, cfg)
			require.Equal(t, path, cfg.Path)
			return
		}
		var cerr *config.Error
		require.True(t, errors.As(err, &cerr), "%v", err)
		require.NotEmpty(t, cerr.Problems)
		for _, p := range cerr.Problems {
			require.Equal(t, path, p.File, p.Msg)
			require.Positive(t, p.Line, p.Msg)
		}
	})
}

func TestParse_AliasBomb(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("version: 1\nowner: a@example.com\nl0: &l0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 9; i++ {
		b.WriteString("l" + string(rune('0'+i)) + ": &l" + string(rune('0'+i)) + " [")
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*l" + string(rune('0'+i-1)))
		}
		b.WriteString("]\n")
	}
	_, err := config.Parse("bomb.yaml", []byte(b.String()), testRegistry(), lookupEnv)
	require.ErrorContains(t, err, "values once aliases are expanded")
}
