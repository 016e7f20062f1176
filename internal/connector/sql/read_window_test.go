package sqlconn_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	sqlconn "github.com/concord-sync/concord/internal/connector/sql"
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

// TestConn_ReadPagesByNumericID: rows sharing one updated_at are paged in the
// order of their ids as the database compares them, so a page boundary never
// skips a row. Found in review: PostgreSQL sorted by the id read as text
// ("10" before "9") while the next page compared ids as numbers, and row 9
// was lost behind a cursor at 10.
func TestConn_ReadPagesByNumericID(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, b backend) {
		f := newFixture(t, b)
		f.settings = clone(f.settings, "overlap", "0s") // keyset paging alone, no window to hide a skipped row
		c := f.open(t)
		var ts any = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
		if b.driver != sqlconn.DriverPostgres {
			ts = "2020-01-01 00:00:00.000000"
		}
		ph := "?, ?, ?"
		if b.driver == sqlconn.DriverPostgres {
			ph = "$1, $2, $3"
		}
		ids := []int{8, 9, 10, 11, 100}
		for _, id := range ids {
			_, err := f.admin.ExecContext(ctx, "INSERT INTO "+f.quote(f.accounts)+" (customer_id, company_name, updated_at) VALUES ("+ph+")", id, fmt.Sprint("Company ", id), ts)
			require.NoError(t, err)
		}
		for _, limit := range []int{1, 2, 3} {
			var got []string
			cursor := ""
			for range 20 {
				page, err := c.Read(ctx, connector.ReadRequest{Entity: model.Account, Cursor: cursor, Limit: limit})
				require.NoError(t, err)
				for _, r := range page.Records {
					got = append(got, r.ID)
				}
				cursor = page.Next
				if page.Done {
					break
				}
			}
			require.Equal(t, []string{"8", "9", "10", "11", "100"}, got, "limit %d", limit)
		}
	})
}

// TestConn_ReadOldCursor: a cursor saved by an earlier version, which kept
// the delivered window rows as a map of id to updated_at text, still keeps
// them from being delivered again, and a row it does not name is delivered.
func TestConn_ReadOldCursor(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, b backend) {
		f := newFixture(t, b)
		c := f.open(t)
		ops := make([]connector.Op, 5)
		for i := range ops {
			ops[i] = connector.Op{Kind: connector.OpCreate, LinkKey: fmt.Sprint("L", i), Fields: accountFields(i)}
		}
		_, err := c.Write(ctx, model.Account, ops)
		require.NoError(t, err)
		page, err := c.Read(ctx, connector.ReadRequest{Entity: model.Account, Limit: 10})
		require.NoError(t, err)
		require.Len(t, page.Records, 5)
		var cur map[string]any
		require.NoError(t, json.Unmarshal([]byte(page.Next), &cur))
		old := func(skip string) string {
			seen := map[string]string{}
			for _, r := range page.Records {
				if r.ID != skip {
					seen[r.ID] = r.Version
				}
			}
			b, err := json.Marshal(map[string]any{"t": cur["t"], "i": cur["i"], "s": seen})
			require.NoError(t, err)
			return string(b)
		}
		again, err := c.Read(ctx, connector.ReadRequest{Entity: model.Account, Cursor: old(""), Limit: 10})
		require.NoError(t, err)
		require.Empty(t, again.Records, "rows the old cursor names are not delivered again")
		skipped := page.Records[2].ID
		again, err = c.Read(ctx, connector.ReadRequest{Entity: model.Account, Cursor: old(skipped), Limit: 10})
		require.NoError(t, err)
		require.Len(t, again.Records, 1)
		require.Equal(t, skipped, again.Records[0].ID)
		// The cursor it returns is the new form and still remembers them all.
		again, err = c.Read(ctx, connector.ReadRequest{Entity: model.Account, Cursor: again.Next, Limit: 10})
		require.NoError(t, err)
		require.Empty(t, again.Records)
	})
}
