package memory_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/memory"
	"github.com/concord-sync/concord/internal/model"
)

// BenchmarkConn_Sync copies 100k records from one Conn to another in pages of
// 1000, the way the engine's benchmark does: Read, Lookup, Write.
func BenchmarkConn_Sync(b *testing.B) {
	ctx := context.Background()
	const n = 100_000
	src := memory.New("crm", model.Account)
	for i := range n {
		src.Put(model.Record{Entity: model.Account, Fields: model.Fields{
			"name":         model.Text(fmt.Sprint("Company ", i)),
			"credit_limit": model.Money(decimal.NewFromInt(int64(i)), "EUR"),
		}})
	}
	b.ResetTimer()
	for range b.N {
		dst := memory.New("erp", model.Account)
		cursor := ""
		for {
			page, err := src.Read(ctx, connector.ReadRequest{Entity: model.Account, Cursor: cursor, Limit: 1000})
			require.NoError(b, err)
			keys := make([]string, len(page.Records))
			ops := make([]connector.Op, len(page.Records))
			for i, r := range page.Records {
				keys[i] = r.ID
				ops[i] = connector.Op{Kind: connector.OpCreate, LinkKey: r.ID, Fields: r.Fields}
			}
			_, err = dst.Lookup(ctx, model.Account, keys)
			require.NoError(b, err)
			_, err = dst.Write(ctx, model.Account, ops)
			require.NoError(b, err)
			cursor = page.Next
			if page.Done {
				break
			}
		}
		require.Equal(b, n, dst.Count(model.Account))
	}
}
