package sqlconn_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/model"
)

// TestConn_WriteBatch checks that a batch written with multi-row statements
// keeps every promise of the row-by-row writes: one result per op in order,
// refused rows alone in error (found by bisection), creates idempotent on the
// link key, versions checked, two ops on one row applied in order.
func TestConn_WriteBatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, b backend) {
		f := newFixture(t, b)
		c := f.open(t)

		// 1,200 creates: more than one statement; rows 7 and 901 break the CHECK.
		const n = 1200
		ops := make([]connector.Op, n)
		for i := range ops {
			fields := accountFields(i)
			if i == 7 || i == 901 {
				fields["credit_limit"] = model.Money(decimal.NewFromInt(-5), "USD")
			}
			ops[i] = connector.Op{Kind: connector.OpCreate, LinkKey: fmt.Sprint("L", i), Fields: fields}
		}
		res, err := c.Write(ctx, model.Account, ops)
		require.NoError(t, err)
		require.Len(t, res, n)
		ids := map[string]int{}
		for i, r := range res {
			if i == 7 || i == 901 {
				require.Error(t, r.Err, i)
				require.True(t, connector.IsPermanent(r.Err), "%d: %v", i, r.Err)
				continue
			}
			require.NoError(t, r.Err, i)
			require.NotEmpty(t, r.ID)
			_, dup := ids[r.ID]
			require.False(t, dup, "id %s twice", r.ID)
			ids[r.ID] = i
		}
		require.Equal(t, n-2, f.count(t, f.accounts))
		got, err := c.Lookup(ctx, model.Account, []string{"L0", "L1199", "L900"})
		require.NoError(t, err)
		require.Len(t, got, 3)
		for _, rec := range got {
			i := ids[rec.ID]
			require.Equal(t, fmt.Sprint("L", i), rec.LinkKey)
			require.Equal(t, fmt.Sprintf("Company %d", i), rec.Fields.Get("name").Str)
		}

		// A retried batch: creates find their rows, updates check versions,
		// an unknown id, a refused update, two ops on one row, a duplicate link key.
		byIdx := make([]connector.Result, n)
		copy(byIdx, res)
		ops = []connector.Op{
			{Kind: connector.OpCreate, LinkKey: "L1", Fields: model.Fields{"name": model.Text("again 1")}},
			{Kind: connector.OpUpdate, ID: byIdx[2].ID, Version: byIdx[2].Version, Fields: model.Fields{"name": model.Text("upd 2")}},
			{Kind: connector.OpUpdate, ID: byIdx[3].ID, Version: "2001-01-01T00:00:00Z", Fields: model.Fields{"name": model.Text("stale 3")}},
			{Kind: connector.OpUpdate, ID: "987654321", Fields: model.Fields{"name": model.Text("nobody")}},
			{Kind: connector.OpUpdate, ID: byIdx[4].ID, Fields: model.Fields{"credit_limit": model.Money(decimal.NewFromInt(-1), "USD")}},
			{Kind: connector.OpUpdate, ID: byIdx[5].ID, Fields: model.Fields{"email": model.Text("five@example.com")}},
			{Kind: connector.OpUpdate, ID: byIdx[5].ID, Fields: model.Fields{"email": model.Text("five-later@example.com")}},
			{Kind: connector.OpCreate, LinkKey: "NEW", Fields: model.Fields{"name": model.Text("new")}},
			{Kind: connector.OpCreate, LinkKey: "NEW", Fields: model.Fields{"name": model.Text("new again")}},
			{Kind: connector.OpUpdate, ID: byIdx[1].ID, Fields: model.Fields{"segment_code": model.Text("after create")}},
			{Kind: connector.OpCreate, LinkKey: "L7", Fields: accountFields(7)},
		}
		res, err = c.Write(ctx, model.Account, ops)
		require.NoError(t, err)
		require.Len(t, res, len(ops))
		require.NoError(t, res[0].Err)
		require.Equal(t, byIdx[1].ID, res[0].ID)
		require.NoError(t, res[1].Err)
		require.True(t, errors.Is(res[2].Err, connector.ErrConflict), "%v", res[2].Err)
		require.True(t, errors.Is(res[3].Err, connector.ErrNotFound), "%v", res[3].Err)
		require.True(t, connector.IsPermanent(res[4].Err), "%v", res[4].Err)
		require.NoError(t, res[5].Err)
		require.NoError(t, res[6].Err)
		require.NoError(t, res[7].Err)
		require.NoError(t, res[8].Err)
		require.Equal(t, res[7].ID, res[8].ID, "a duplicate link key updates the row")
		require.NoError(t, res[9].Err)
		require.NoError(t, res[10].Err)
		require.Equal(t, n-2+2, f.count(t, f.accounts))

		got, err = c.Get(ctx, model.Account, []string{byIdx[1].ID, byIdx[2].ID, byIdx[3].ID, byIdx[4].ID, byIdx[5].ID, res[7].ID})
		require.NoError(t, err)
		byID := map[string]model.Record{}
		for _, r := range got {
			byID[r.ID] = r
		}
		require.Equal(t, "again 1", byID[byIdx[1].ID].Fields.Get("name").Str)
		require.Equal(t, "after create", byID[byIdx[1].ID].Fields.Get("segment_code").Str)
		require.Equal(t, "billing1@example.com", byID[byIdx[1].ID].Fields.Get("email").Str, "fields not given are kept")
		require.Equal(t, res[9].Version, byID[byIdx[1].ID].Version)
		require.Equal(t, "upd 2", byID[byIdx[2].ID].Fields.Get("name").Str)
		require.Equal(t, res[1].Version, byID[byIdx[2].ID].Version)
		require.Equal(t, "Company 3", byID[byIdx[3].ID].Fields.Get("name").Str)
		require.True(t, byID[byIdx[4].ID].Fields.Get("credit_limit").Num.IsPositive())
		require.Equal(t, "five-later@example.com", byID[byIdx[5].ID].Fields.Get("email").Str)
		require.Equal(t, "new again", byID[res[7].ID].Fields.Get("name").Str)

		// Versions and unknown ids are checked by the batch read itself, with
		// no refused row that would send the batch to row-by-row writes.
		ops = []connector.Op{
			{Kind: connector.OpUpdate, ID: byIdx[10].ID, Version: byIdx[10].Version, Fields: model.Fields{"name": model.Text("ten")}},
			{Kind: connector.OpUpdate, ID: byIdx[11].ID, Version: byIdx[10].Version, Fields: model.Fields{"name": model.Text("stale")}},
			{Kind: connector.OpUpdate, ID: "987654321", Fields: model.Fields{"name": model.Text("nobody")}},
			{Kind: connector.OpUpdate, ID: byIdx[12].ID, Fields: model.Fields{"email": model.Null}},
		}
		res, err = c.Write(ctx, model.Account, ops)
		require.NoError(t, err)
		require.NoError(t, res[0].Err)
		require.True(t, errors.Is(res[1].Err, connector.ErrConflict), "%v", res[1].Err)
		require.True(t, errors.Is(res[2].Err, connector.ErrNotFound), "%v", res[2].Err)
		require.NoError(t, res[3].Err)
		got, err = c.Get(ctx, model.Account, []string{byIdx[10].ID, byIdx[11].ID, byIdx[12].ID})
		require.NoError(t, err)
		names := map[string]string{}
		for _, r := range got {
			names[r.ID] = r.Fields.Get("name").Str
			if r.ID == byIdx[12].ID {
				require.True(t, r.Fields.Get("email").IsNull())
				require.Equal(t, res[3].Version, r.Version)
			}
		}
		require.Equal(t, "ten", names[byIdx[10].ID])
		require.Equal(t, "Company 11", names[byIdx[11].ID])
	})
}
