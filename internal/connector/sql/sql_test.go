package sqlconn_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/connectortest"
	sqlconn "github.com/concord-sync/concord/internal/connector/sql"
	"github.com/concord-sync/concord/internal/model"
)

func accountFields(i int) model.Fields {
	return model.Fields{
		"name":         model.Text(fmt.Sprintf("Company %d", i)),
		"email":        model.Text(fmt.Sprintf("billing%d@example.com", i)),
		"credit_limit": model.Money(decimal.RequireFromString("1234567.8901").Add(decimal.NewFromInt(int64(i))), "USD"),
		"active":       model.Bool(i%2 == 0),
		"segment_code": model.Text(fmt.Sprintf("S%d", i%3)),
		"since":        model.Date(time.Date(2020, 1, 1+i%28, 0, 0, 0, 0, time.UTC)),
	}
}

func TestConn_Conformance(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		connectortest.Run(t, connectortest.Harness{
			Open:      func(t *testing.T) connector.Connector { return newFixture(t, b).open(t) },
			Entity:    model.Account,
			NewFields: accountFields,
			Change: func(f model.Fields) model.Fields {
				out := model.Fields{}
				for k, v := range f {
					out[k] = v
				}
				out["name"] = model.Text(f.Get("name").Str + " (renamed)")
				out["credit_limit"] = model.Money(f.Get("credit_limit").Num.Add(decimal.RequireFromString("0.0001")), "USD")
				return out
			},
			// NOT NULL company_name refuses the row.
			Invalid:  func() model.Fields { return model.Fields{"name": model.Null, "email": model.Text("x@example.com")} },
			Features: connectortest.Features{PartialFailure: true, OptimisticConcurrency: true, Archive: true},
		})
	})
}

func TestConn_Decimals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, b backend) {
		c := newFixture(t, b).open(t)
		sum := decimal.RequireFromString("0.1").Add(decimal.RequireFromString("0.2"))
		released := time.Date(2024, 2, 29, 23, 59, 58, 123456000, time.UTC)
		cases := []model.Fields{
			{"sku": model.Text("A"), "list_price": model.Money(decimal.RequireFromString("1234567.8901"), "EUR"), "stock": model.Decimal(sum), "released": model.Time(released)},
			{"sku": model.Text("B"), "list_price": model.Money(sum, "usd"), "stock": model.Decimal(decimal.RequireFromString("-0.000001"))},
			{"sku": model.Text("C"), "list_price": model.Money(decimal.RequireFromString("99999999999999.999999"), "JPY"), "stock": model.Decimal(decimal.RequireFromString("12345678901234567890.1234567891"))},
		}
		if b.driver == sqlconn.DriverSQLite {
			// stock is a NUMERIC column: SQLite keeps 15 significant digits there.
			cases[2]["stock"] = model.Decimal(decimal.RequireFromString("123456789.012345"))
		}
		ops := make([]connector.Op, len(cases))
		for i, f := range cases {
			ops[i] = connector.Op{Kind: connector.OpCreate, LinkKey: fmt.Sprint("P", i), Fields: f}
		}
		res, err := c.Write(ctx, model.Product, ops)
		require.NoError(t, err)
		ids := make([]string, len(res))
		for i, r := range res {
			require.NoError(t, r.Err)
			require.Len(t, r.ID, 36, "uuid id")
			ids[i] = r.ID
		}
		got, err := c.Get(ctx, model.Product, ids)
		require.NoError(t, err)
		for i, id := range ids {
			for name, want := range cases[i] {
				v := got[id].Fields.Get(name)
				require.True(t, want.Equal(v), "case %d %s: want %s, got %s", i, name, want, v)
			}
		}
		require.Equal(t, "0.3", got[ids[1]].Fields.Get("list_price").Num.String())
		require.Equal(t, "USD", got[ids[1]].Fields.Get("list_price").Currency)
		require.Equal(t, "0.3", got[ids[0]].Fields.Get("stock").Num.String())
		require.True(t, released.Equal(got[ids[0]].Fields.Get("released").Time))
	})
}

func TestConn_Overlap(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, b backend) {
		f := newFixture(t, b)
		c := f.open(t)
		ops := make([]connector.Op, 6)
		for i := range ops {
			ops[i] = connector.Op{Kind: connector.OpCreate, LinkKey: fmt.Sprint("L", i), Fields: accountFields(i)}
		}
		res, err := c.Write(ctx, model.Account, ops)
		require.NoError(t, err)

		// The engine's view: records deduplicated by id and version.
		seen := map[string]bool{}
		deliveries := 0
		cursor := ""
		read := func() (fresh int) {
			for range 100 {
				page, err := c.Read(ctx, connector.ReadRequest{Entity: model.Account, Cursor: cursor, Limit: 4})
				require.NoError(t, err)
				require.LessOrEqual(t, len(page.Records), 4)
				for _, r := range page.Records {
					deliveries++
					if !seen[r.ID+"@"+r.Version] {
						seen[r.ID+"@"+r.Version] = true
						fresh++
					}
				}
				cursor = page.Next
				if page.Done {
					return fresh
				}
			}
			require.FailNow(t, "paging never finished")
			return 0
		}
		require.Equal(t, 6, read())
		// Nothing changed: the overlap window is read again, but a row already
		// delivered at its version is not delivered twice (cursor.Seen).
		require.Equal(t, 0, read())
		require.Equal(t, 6, deliveries, "no row delivered twice at the same version")

		// A row committed late with an updated_at before the cursor (inside the
		// window) is still delivered.
		late := time.Now().UTC().Add(-500 * time.Millisecond)
		var lateTS any = late
		if b.driver != sqlconn.DriverPostgres {
			lateTS = late.Format("2006-01-02 15:04:05.000000")
		}
		ph := "?, ?, ?"
		if b.driver == sqlconn.DriverPostgres {
			ph = "$1, $2, $3"
		}
		_, err = f.admin.ExecContext(ctx, "INSERT INTO "+f.quote(f.accounts)+" (company_name, crm_id, updated_at) VALUES ("+ph+")", "Late Ltd", "L-late", lateTS)
		require.NoError(t, err)
		require.Equal(t, 1, read(), "late row must be delivered")

		// An update is delivered once more, with its new version.
		up, err := c.Write(ctx, model.Account, []connector.Op{{Kind: connector.OpUpdate, ID: res[2].ID, Fields: model.Fields{"email": model.Text("new@example.com")}}})
		require.NoError(t, err)
		require.NoError(t, up[0].Err)
		require.Equal(t, 1, read())
		require.True(t, seen[res[2].ID+"@"+up[0].Version], "Read version must equal the write's version")
	})
}

func TestConn_Injection(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, b backend) {
		f := newFixture(t, b)

		for _, bad := range []string{`customers"; DROP TABLE x; --`, "customers`; DROP TABLE x; --", "cust\x00omers"} {
			ents := f.settings["entities"].(map[string]any)
			acc := clone(ents["account"].(map[string]any), "table", bad)
			errs := sqlconn.Validate(clone(f.settings, "entities", map[string]any{"account": acc}))
			require.Len(t, errs, 1, "%q", bad)
			var se *connector.SettingError
			require.ErrorAs(t, errs[0], &se)
			require.Equal(t, "entities.account.table", se.Path)
		}

		c := f.open(t)
		evil := []string{
			`'); DROP TABLE ` + f.accounts + `; --`,
			`"; DROP TABLE ` + f.accounts + `; --`,
			"`; DROP TABLE " + f.accounts + "; --",
			`\'; DELETE FROM ` + f.accounts + `; --`,
		}
		var ops []connector.Op
		for i, s := range evil {
			ops = append(ops, connector.Op{Kind: connector.OpCreate, LinkKey: s, Fields: model.Fields{"name": model.Text(s), "email": model.Text(s), "segment_code": model.Text(fmt.Sprint(i))}})
		}
		res, err := c.Write(ctx, model.Account, ops)
		require.NoError(t, err)
		for _, r := range res {
			require.NoError(t, r.Err)
		}
		require.Equal(t, len(evil), f.count(t, f.accounts))
		got, err := c.Lookup(ctx, model.Account, evil)
		require.NoError(t, err)
		require.Len(t, got, len(evil))
		for _, s := range evil {
			require.Equal(t, s, got[s].Fields.Get("name").Str)
			require.Equal(t, s, got[s].LinkKey)
		}
		byID, err := c.Get(ctx, model.Account, []string{"0 OR 1=1", "x' OR '1'='1", "0; DROP TABLE " + f.accounts})
		require.NoError(t, err)
		require.Empty(t, byID)
		require.Equal(t, len(evil), f.count(t, f.accounts))
	})
}

func TestConn_Write(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, b backend) {
		t.Run("CheckConstraintNamesField", func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, b)
			c := f.open(t)
			bad := accountFields(1)
			bad["credit_limit"] = model.Money(decimal.RequireFromString("-5"), "USD")
			res, err := c.Write(ctx, model.Account, []connector.Op{
				{Kind: connector.OpCreate, LinkKey: "a", Fields: accountFields(0)},
				{Kind: connector.OpCreate, LinkKey: "b", Fields: bad},
				{Kind: connector.OpCreate, LinkKey: "c", Fields: accountFields(2)},
			})
			require.NoError(t, err)
			require.NoError(t, res[0].Err)
			require.NoError(t, res[2].Err)
			var perr *connector.PermanentError
			require.ErrorAs(t, res[1].Err, &perr)
			require.Equal(t, "credit_limit", perr.Field, "%v", res[1].Err)
			require.Equal(t, 2, f.count(t, f.accounts))
		})

		t.Run("CreateIsIdempotentOnLinkKey", func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, b)
			c := f.open(t)
			op := connector.Op{Kind: connector.OpCreate, LinkKey: "crm-1", Fields: accountFields(0)}
			first, err := c.Write(ctx, model.Account, []connector.Op{op})
			require.NoError(t, err)
			op.Fields = accountFields(1)
			second, err := c.Write(ctx, model.Account, []connector.Op{op, op})
			require.NoError(t, err)
			require.Equal(t, first[0].ID, second[0].ID)
			require.Equal(t, first[0].ID, second[1].ID)
			require.Equal(t, 1, f.count(t, f.accounts))
			got, err := c.Get(ctx, model.Account, []string{first[0].ID})
			require.NoError(t, err)
			require.True(t, got[first[0].ID].Fields.Equal(accountFields(1)))
		})

		t.Run("ErrRefusals", func(t *testing.T) {
			t.Parallel()
			c := newFixture(t, b).open(t)
			res, err := c.Write(ctx, model.Account, []connector.Op{
				{Kind: connector.OpCreate, LinkKey: "x", Fields: model.Fields{"name": model.Text("X"), "unmapped": model.Text("?")}},
				{Kind: connector.OpCreate, LinkKey: "y", Fields: model.Fields{"name": model.Text("Y"), "credit_limit": model.Money(decimal.NewFromInt(1), "EUR")}},
				{Kind: connector.OpCreate, LinkKey: "z", Fields: model.Fields{"name": model.Text("Z"), "active": model.Text("yes")}},
				{Kind: connector.OpUpdate, ID: "999999999", Fields: model.Fields{"name": model.Text("W")}},
			})
			require.NoError(t, err)
			for i, field := range []string{"unmapped", "credit_limit", "active", ""} {
				var perr *connector.PermanentError
				require.ErrorAs(t, res[i].Err, &perr, "op %d", i)
				require.Equal(t, field, perr.Field, "op %d", i)
			}
			require.ErrorIs(t, res[3].Err, connector.ErrNotFound)

			inv, err := c.Write(ctx, model.Invoice, []connector.Op{{Kind: connector.OpCreate, Fields: model.Fields{}}})
			require.NoError(t, err)
			require.ErrorIs(t, inv[0].Err, connector.ErrUnsupported)
		})

		t.Run("ErrWholeCallWhenClosed", func(t *testing.T) {
			t.Parallel()
			c := newFixture(t, b).open(t)
			require.NoError(t, c.Close(ctx))
			_, err := c.Write(ctx, model.Account, []connector.Op{{Kind: connector.OpCreate, LinkKey: "a", Fields: accountFields(0)}})
			require.Error(t, err)
			require.Error(t, c.Ping(ctx))
		})
	})
}

// TestConn_MissingColumn: a mapped column the table does not have is an error
// naming it on every database. SQLite reads a double-quoted name that matches
// no column as a string literal, so with double quotes a renamed column read as
// its own name and was synced as a value.
func TestConn_MissingColumn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, b backend) {
		f := newFixture(t, b)
		ents := f.settings["entities"].(map[string]any)
		acc := ents["account"].(map[string]any)
		fields := clone(acc["fields"].(map[string]any), "name", "renamed_company_name")
		f.settings = clone(f.settings, "entities", map[string]any{"account": clone(acc, "fields", fields)})
		_, err := f.admin.ExecContext(ctx, "INSERT INTO "+f.quote(f.accounts)+" (company_name, email, updated_at) VALUES ('Alfreds', 'a@example.com', '2026-01-01 00:00:00')")
		require.NoError(t, err)
		c := f.open(t)
		res, err := c.Read(ctx, connector.ReadRequest{Entity: model.Account})
		require.Error(t, err, "read %v", res.Records)
		require.Contains(t, err.Error(), "renamed_company_name")
	})
}

// TestConn_TextKeyAuto: a text key with id_kind left at its default (auto)
// fails the create with a permanent error that says what to set, on every
// database, and leaves no row behind (SQLite would store a NULL key).
func TestConn_TextKeyAuto(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, b backend) {
		f := newFixture(t, b)
		table := randName("cc_k_")
		_, err := f.admin.ExecContext(ctx, "CREATE TABLE "+f.quote(table)+" (code VARCHAR(5) PRIMARY KEY, name VARCHAR(50), crm_id VARCHAR(64) UNIQUE, updated_at VARCHAR(40))")
		require.NoError(t, err)
		if b.driver != sqlconn.DriverSQLite {
			t.Cleanup(func() { _, _ = f.admin.ExecContext(context.Background(), "DROP TABLE "+f.quote(table)) })
		}
		f.settings = clone(f.settings, "entities", map[string]any{"product": map[string]any{
			"table": table, "id": "code", "updated_at": "updated_at", "link": "crm_id", "fields": map[string]any{"name": "name"}}})
		c := f.open(t)
		res, err := c.Write(ctx, model.Product, []connector.Op{{Kind: connector.OpCreate, LinkKey: "c1", Fields: model.Fields{"name": model.Text("Chai")}}})
		require.NoError(t, err)
		require.Error(t, res[0].Err)
		require.True(t, connector.IsPermanent(res[0].Err), "%v", res[0].Err)
		require.Contains(t, res[0].Err.Error(), "set id_kind: uuid or link")
		require.Equal(t, 0, f.count(t, table))
	})
}
