package bench

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/model"
)

// TestStreamSource: the generated source pages through exactly the records
// the in-memory bench holds, and Get regenerates them by id.
func TestStreamSource(t *testing.T) {
	ctx := context.Background()
	src := newStreamSource(25)
	want := records(25)
	var got []model.Record
	cursor := ""
	for range 10 {
		res, err := src.Read(ctx, connector.ReadRequest{Entity: model.Account, Cursor: cursor, Limit: 10})
		require.NoError(t, err)
		got = append(got, res.Records...)
		cursor = res.Next
		if res.Done {
			break
		}
	}
	require.Len(t, got, 25)
	for i := range want {
		require.Equal(t, want[i].ID, got[i].ID)
		require.Equal(t, want[i].Fields.Fingerprint(benchFields), got[i].Fields.Fingerprint(benchFields))
	}
	m, err := src.Get(ctx, model.Account, []string{"c3", "c25", "x1", "c-1"})
	require.NoError(t, err)
	require.Len(t, m, 1)
	require.Equal(t, "Company 3 GmbH", m["c3"].Fields["name"].Str)

	var seen []int64
	sink := &countingSink{onWrite: func(n int64) { seen = append(seen, n) }}
	res, err := sink.Write(ctx, model.Account, []connector.Op{{Kind: connector.OpCreate, LinkKey: "c1"}, {Kind: connector.OpUpdate, ID: "m2"}})
	require.NoError(t, err)
	require.Equal(t, "mc1", res[0].ID)
	require.Equal(t, "m2", res[1].ID)
	require.Equal(t, []int64{2}, seen)
	require.EqualValues(t, 2, sink.written())
}
