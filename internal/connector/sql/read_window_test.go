package sqlconn_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/model"
)

// TestConn_ReadLateRowInFullWindow: a row committed late, just before the
// cursor, is delivered even when the overlap window holds more rows than a page
// (found in review).
func TestConn_ReadLateRowInFullWindow(t *testing.T) {
	ctx := context.Background()
	b := backends[0]
	f := newFixture(t, b)
	c := f.open(t)
	ops := make([]connector.Op, 10)
	for i := range ops {
		ops[i] = connector.Op{Kind: connector.OpCreate, LinkKey: fmt.Sprint("L", i), Fields: accountFields(i)}
	}
	_, err := c.Write(ctx, model.Account, ops)
	require.NoError(t, err)
	seen := map[string]bool{}
	cursor := ""
	read := func() (fresh int) {
		for range 100 {
			page, err := c.Read(ctx, connector.ReadRequest{Entity: model.Account, Cursor: cursor, Limit: 4})
			require.NoError(t, err)
			for _, r := range page.Records {
				if !seen[r.ID+"@"+r.Version] {
					seen[r.ID+"@"+r.Version] = true
					fresh++
				}
			}
			cursor = page.Next
			if page.Done {
				return
			}
		}
		return
	}
	require.Equal(t, 10, read())
	var cur struct {
		T string `json:"t"`
	}
	require.NoError(t, json.Unmarshal([]byte(cursor), &cur))
	ct, err := time.Parse("2006-01-02 15:04:05.000000", cur.T)
	require.NoError(t, err)
	late := ct.Add(-time.Microsecond).Format("2006-01-02 15:04:05.000000")
	_, err = f.admin.ExecContext(ctx, `INSERT INTO "`+f.accounts+`" (company_name, crm_id, updated_at) VALUES (?, ?, ?)`, "Late Ltd", "L-late", late)
	require.NoError(t, err)
	n := 0
	for range 5 {
		n += read()
	}

	require.Equal(t, 1, n, "late row inside the overlap window must be delivered; cursor=%s late=%s", cursor, late)
}
