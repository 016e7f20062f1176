package config_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/config"
)

// head is a valid start of a config, two lines.
const head = "version: 1\nowner: a@example.com\n"

// manyKeys returns n block mappings "m<i>:" of per keys each.
func manyKeys(n, per int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "m%d:\n", i)
		for j := range per {
			fmt.Fprintf(&b, "  k%d: %d\n", j, j)
		}
	}
	return b.String()
}

// nestedBlock returns depth mappings, each indented under the previous one.
func nestedBlock(depth int) string {
	var b strings.Builder
	for i := range depth {
		fmt.Fprintf(&b, "%sk%d:\n", strings.Repeat("  ", i), i)
	}
	return b.String()
}

func TestParse_Limits(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct {
		name string
		data string
		// want is the one problem, "LINE:COL: message"; empty when the limits
		// let the file through (other problems may follow from the loader).
		want string
	}{
		{"ErrNestedBrackets200KB", head + "x: " + strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000) + "\n",
			"3:67: yaml: nesting deeper than 64 levels"},
		{"ErrNestedBraces", head + "x: " + strings.Repeat("{a: ", 100) + "1" + strings.Repeat("}", 100) + "\n",
			"3:256: yaml: nesting deeper than 64 levels"},
		{"ErrNestedFlowAcrossLines", head + "x:\n" + strings.Repeat("  [\n", 70) + "\n",
			"67:3: yaml: nesting deeper than 64 levels"},
		{"ErrNestedBlock", head + nestedBlock(70), "67:129: yaml: nesting deeper than 64 levels"},
		{"ErrNestedDashes", head + "x:\n" + strings.Repeat("- ", 70) + "1\n", "4:127: yaml: nesting deeper than 64 levels"},
		{"Err50000KeysInOneMapping", head + "sync:\n" + manyKeys(1, 50_000)[len("m0:\n"):], "1004:3: yaml: more than 1000 keys in one mapping"},
		{"Err50000TopLevelKeys", head + strings.ReplaceAll(manyKeys(1, 50_000)[len("m0:\n"):], "  k", "k"), "1001:1: yaml: more than 1000 keys in one mapping"},
		{"ErrFlowMappingKeys", head + "x: {" + strings.Repeat("k: 1, ", 1500) + "}\n", fmt.Sprintf("3:%d: yaml: more than 1000 keys in one mapping", 4+6*999+5)},
		{"ErrTooLarge", head + "x: \"" + strings.Repeat("a", config.MaxConfigBytes) + "\"\n", "1:1: the config file is larger than 1024 KiB"},
		{"OKDepth64", head + "x: " + strings.Repeat("[", 63) + strings.Repeat("]", 63) + "\n", ""},
		{"Err50000KeysSpread", head + manyKeys(50, 1000), "10001:3: yaml: more than 10000 keys and list items in the file"},
		{"ErrLongFlowList", head + "x: [" + strings.Repeat("1, ", 300_000) + "]\n", fmt.Sprintf("3:%d: yaml: more than 10000 keys and list items in the file", 4+3*9996+2)},
		{"ErrLongBlockList", head + "x:\n" + strings.Repeat("  - 1\n", 20_000), "10001:3: yaml: more than 10000 keys and list items in the file"},
		{"OK9000KeysSpread", head + manyKeys(9, 990), ""},
		{"OKLongList", head + "x:\n" + strings.Repeat("  - a: 1\n", 4000), ""},
		{"OKBracketsInScalars", head + "x: 'a [[[[ { b'\ny: \"[{\\\"[\"\nz: items[0]{1}\n" +
			"w: |\n" + strings.Repeat("  [\n  k: v\n", 1500) + "v: >-\n  [[[[\n# [[[[ {{{{\nu: 'it''s [' # [\n", ""},
		{"OKQuotedAcrossLines", head + "x: \"[[[[\n  ]]]] {{{{\"\ny: [a, \"b,\n  c\", 'd'\n  ]\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			_, err := config.Parse("concord.yaml", []byte(tc.data), testRegistry(), lookupEnv)
			took := time.Since(start)
			var cerr *config.Error
			require.True(t, errors.As(err, &cerr), "%v", err)
			if tc.want == "" {
				for _, p := range cerr.Problems {
					require.NotContains(t, p.Msg, "nesting deeper", p.String())
					require.NotContains(t, p.Msg, "keys in one mapping", p.String())
					require.NotContains(t, p.Msg, "larger than", p.String())
				}
			} else {
				require.Len(t, cerr.Problems, 1, "%v", err)
				require.Equal(t, "concord.yaml:"+tc.want, cerr.Problems[0].String())
			}
			require.Less(t, took, 5*time.Second, "the limits must make parsing fast")
		})
	}
}

func TestLoad_Limits(t *testing.T) {
	t.Parallel()

	t.Run("ErrDevZero", func(t *testing.T) {
		t.Parallel()
		start := time.Now()
		_, err := config.Load("/dev/zero", testRegistry())
		require.Less(t, time.Since(start), 5*time.Second)
		require.EqualError(t, err, "/dev/zero:1:1: the config file is larger than 1024 KiB")
	})

	t.Run("ErrTooLarge", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "concord.yaml")
		require.NoError(t, os.WriteFile(path, []byte(head+"# "+strings.Repeat("a", 4<<20)+"\n"), 0o600))
		_, err := config.Load(path, testRegistry())
		require.EqualError(t, err, path+":1:1: the config file is larger than 1024 KiB")
	})
}
