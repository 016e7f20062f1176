package config_test

import (
	"errors"
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
