package sqlconn_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	sqlconn "github.com/concord-sync/concord/internal/connector/sql"
	"github.com/concord-sync/concord/internal/model"
)

// TestConn_WriteBatch checks that a batch written with multi-row statements
// keeps every promise of the row-by-row writes: one result per op in order,
// refused rows alone in error (found by bisection), creates idempotent on the
// link key, versions checked, two ops on one row applied in order.
func TestConn_WriteBatch(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		writeBatch(t, b, false)
		if b.driver == sqlconn.DriverMySQL {
			t.Run("without RETURNING", func(t *testing.T) { writeBatch(t, b, true) })
		}
	})
}

// writeBatch is TestConn_WriteBatch on one backend; noReturning writes as on
// MySQL, reading new ids back by link key.
func writeBatch(t *testing.T, b backend, noReturning bool) {
	ctx := context.Background()
	f := newFixture(t, b)
	c := f.open(t)
	if noReturning {
		sqlconn.WithoutReturning(c)
	}

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
}

// TestMariaDBReturning: INSERT ... RETURNING is used on MariaDB from 10.5,
// never on MySQL, and the test MariaDB is found to have it.
func TestMariaDBReturning(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]bool{
		"10.11.19-MariaDB-0+deb12u1": true,
		"10.5.0-MariaDB":             true,
		"11.4.2-MariaDB-log":         true,
		"10.4.32-MariaDB":            false,
		"5.5.5-10.11.6-MariaDB":      false, // the old replication prefix: not parsed as 10.11, so no RETURNING
		"8.0.36":                     false,
		"8.4.0-mysql":                false,
		"":                           false,
	} {
		require.Equal(t, want, sqlconn.MariaDBReturning(v), v)
	}
	f := newFixture(t, backends[2])
	var v string
	require.NoError(t, f.admin.QueryRowContext(context.Background(), "SELECT VERSION()").Scan(&v))
	require.Equal(t, sqlconn.MariaDBReturning(v), sqlconn.HasReturning(f.open(t)), v)
}

// TestConn_WriteBatchUnmatchedKeys: link keys a numeric link column stores
// differently ("007" reads back as "7") cannot be matched to the batch's
// rows; the batch is undone and written row by row (on MySQL, with no
// savepoint around the statement, the whole transaction is redone), and
// every create is applied once.
func TestConn_WriteBatchUnmatchedKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, b backend) {
		f := newFixture(t, b)
		name := randName("cc_nl_")
		ddl := map[string]string{
			sqlconn.DriverSQLite:   `CREATE TABLE "%s" (id INTEGER PRIMARY KEY AUTOINCREMENT, company_name TEXT NOT NULL, ext INTEGER UNIQUE, updated_at TEXT NOT NULL)`,
			sqlconn.DriverPostgres: `CREATE TABLE "%s" (id BIGSERIAL PRIMARY KEY, company_name TEXT NOT NULL, ext BIGINT UNIQUE, updated_at TIMESTAMPTZ NOT NULL)`,
			sqlconn.DriverMySQL:    "CREATE TABLE `%s` (id BIGINT AUTO_INCREMENT PRIMARY KEY, company_name VARCHAR(200) NOT NULL, ext BIGINT UNIQUE, updated_at DATETIME(6) NOT NULL)",
		}[b.driver]
		_, err := f.admin.ExecContext(ctx, fmt.Sprintf(ddl, name))
		require.NoError(t, err)
		t.Cleanup(func() { _, _ = f.admin.ExecContext(context.Background(), "DROP TABLE "+f.quote(name)) })
		settings := clone(f.settings, "entities", map[string]any{"account": map[string]any{
			"table": name, "id": "id", "updated_at": "updated_at", "link": "ext", "fields": map[string]any{"name": "company_name"},
		}})
		var logs bytes.Buffer
		reg := connector.NewRegistry()
		sqlconn.Register(reg)
		spec, _ := reg.Lookup(sqlconn.Name)
		conn, err := spec.Open(ctx, connector.OpenParams{System: "erp", Settings: settings,
			Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
		require.NoError(t, err)
		t.Cleanup(func() { _ = conn.Close(context.Background()) })

		ops := []connector.Op{
			{Kind: connector.OpCreate, LinkKey: "007", Fields: model.Fields{"name": model.Text("seven")}},
			{Kind: connector.OpCreate, LinkKey: "8", Fields: model.Fields{"name": model.Text("eight")}},
			{Kind: connector.OpCreate, LinkKey: "009", Fields: model.Fields{"name": model.Text("nine")}},
		}
		for round := range 2 { // the second round finds the rows and updates them
			res, err := conn.Write(ctx, model.Account, ops)
			require.NoError(t, err)
			ids := map[string]bool{}
			for i, r := range res {
				require.NoError(t, r.Err, "round %d op %d", round, i)
				ids[r.ID] = true
			}
			require.Len(t, ids, 3, "round %d", round)
			require.Equal(t, 3, f.count(t, name), "round %d", round)
		}
		if b.driver == sqlconn.DriverMySQL {
			require.Contains(t, logs.String(), "sql batch failed, redoing row by row")
		} else {
			require.Contains(t, logs.String(), "sql batch refused, splitting")
		}
	})
}
