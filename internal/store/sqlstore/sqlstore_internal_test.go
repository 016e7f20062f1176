package sqlstore

import (
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/require"
)

func TestOps_Rebind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, sqlite, postgres string
	}{
		{"None", "SELECT 1", "SELECT 1", "SELECT 1"},
		{"Several", "a = ? AND b IN (?,?)", "a = ? AND b IN (?,?)", "a = $1 AND b IN ($2,$3)"},
		{"Ten", strings.Repeat("?", 10), strings.Repeat("?", 10), "$1$2$3$4$5$6$7$8$9$10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sq := &ops{s: &Store{dialect: SQLite}}
			pg := &ops{s: &Store{dialect: Postgres}}
			require.Equal(t, tt.sqlite, sq.rebind(tt.in))
			require.Equal(t, tt.postgres, pg.rebind(tt.in))
		})
	}
}

func TestChunks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		n, size int
		want    [][2]int
	}{
		{"Empty", 0, 3, nil},
		{"Exact", 6, 3, [][2]int{{0, 3}, {3, 6}}},
		{"Rest", 7, 3, [][2]int{{0, 3}, {3, 6}, {6, 7}}},
		{"Small", 2, 3, [][2]int{{0, 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got [][2]int
			require.NoError(t, chunks(tt.n, tt.size, func(lo, hi int) error {
				got = append(got, [2]int{lo, hi})
				return nil
			}))
			require.Equal(t, tt.want, got)
		})
	}
}

func TestChunkSize(t *testing.T) {
	t.Parallel()
	require.Equal(t, maxChunk, chunkSize(17, 0))
	require.Equal(t, (sqliteMaxVars-2)/40, chunkSize(40, 2))
	require.LessOrEqual(t, chunkSize(1, 3)+3, sqliteMaxVars)
}

func TestValuesList(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	valuesList(&b, 2, 3)
	require.Equal(t, "(?,?,?),(?,?,?)", b.String())
	b.Reset()
	inList(&b, 3)
	require.Equal(t, "?,?,?", b.String())
}

func TestDedupe(t *testing.T) {
	t.Parallel()
	require.Equal(t, []string{"a", "b", "c"}, dedupe([]string{"a", "b", "a", "c", "b"}))
	require.Empty(t, dedupe(nil))
}

func TestTimeCol_Scan(t *testing.T) {
	t.Parallel()
	want := time.Date(2025, 1, 2, 3, 4, 5, 123456000, time.UTC)
	tests := []struct {
		name string
		src  any
		want time.Time
	}{
		{"Null", nil, time.Time{}},
		{"UnixMicro", want.UnixMicro(), want},
		{"Time", want.In(time.FixedZone("X", -7200)), want},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := time.Now()
			require.NoError(t, timeCol{&got}.Scan(tt.src))
			require.Equal(t, tt.want, got)
		})
	}
	var got time.Time
	require.Error(t, timeCol{&got}.Scan("2025-01-02"))
}

func TestLoadMigrations(t *testing.T) {
	t.Parallel()
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		fsys := fstest.MapFS{
			"m/002_more.up.sql": {Data: []byte("B")},
			"m/001_init.up.sql": {Data: []byte("A")},
			"m/README.md":       {Data: []byte("ignored")},
		}
		got, err := LoadMigrations(fsys, "m")
		require.NoError(t, err)
		require.Equal(t, []Migration{{1, "init", "A"}, {2, "more", "B"}}, got)
	})
	t.Run("ErrDuplicate", func(t *testing.T) {
		t.Parallel()
		_, err := LoadMigrations(fstest.MapFS{
			"m/001_a.up.sql": {Data: []byte("A")}, "m/01_b.up.sql": {Data: []byte("B")},
		}, "m")
		require.ErrorContains(t, err, "used twice")
	})
	t.Run("ErrBadName", func(t *testing.T) {
		t.Parallel()
		_, err := LoadMigrations(fstest.MapFS{"m/init.up.sql": {Data: []byte("A")}}, "m")
		require.Error(t, err)
		_, err = LoadMigrations(fstest.MapFS{"m/x_init.up.sql": {Data: []byte("A")}}, "m")
		require.Error(t, err)
	})
}

func TestHotChunks(t *testing.T) {
	t.Parallel()
	sizes := func(n int) []int {
		var out []int
		require.NoError(t, hotChunks(n, func(lo, hi int) error {
			out = append(out, hi-lo)
			return nil
		}))
		return out
	}
	require.Empty(t, sizes(0))
	require.Equal(t, []int{1}, sizes(1))
	require.Equal(t, []int{512, 256, 128, 64, 32, 8}, sizes(1000))
	require.Equal(t, []int{512, 512, 1}, sizes(1025))
	require.True(t, oneHotChunk(512))
	require.True(t, oneHotChunk(64))
	require.False(t, oneHotChunk(1000))
	require.False(t, oneHotChunk(1024))
}
