package report_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/report"
)

// fakeSystem is an in-memory system: records per entity in change order; the
// cursor is the index of the next record. Reads counts the records returned.
type fakeSystem struct {
	recs  map[model.Entity][]model.Record
	Reads int
}

func (f *fakeSystem) Entities() []connector.EntityInfo {
	var out []connector.EntityInfo
	for e := range f.recs {
		out = append(out, connector.EntityInfo{Entity: e})
	}
	return out
}

func (f *fakeSystem) Read(_ context.Context, req connector.ReadRequest) (connector.ReadResult, error) {
	start := 0
	if req.Cursor != "" {
		start, _ = strconv.Atoi(req.Cursor)
	}
	all := f.recs[req.Entity]
	end := min(start+req.Limit, len(all))
	f.Reads += end - start
	return connector.ReadResult{Records: all[start:end], Next: strconv.Itoa(end), Done: end == len(all)}, nil
}

// change appends a new version of a record (a change since the cursors).
func (f *fakeSystem) change(r model.Record) { f.recs[r.Entity] = append(f.recs[r.Entity], r) }

func usd(s string) model.Value { return model.Money(decimal.RequireFromString(s), "USD") }
func num(s string) model.Value { return model.Decimal(decimal.RequireFromString(s)) }
func day(s string) model.Value {
	t, _ := time.Parse(time.DateOnly, s)
	return model.Date(t)
}

// smallWorld is two customers (one with a segment), two products (one without
// a cost), two won deals and an open one, two orders, two invoices (one paid,
// one overdue).
func smallWorld() (crm, erp *fakeSystem) {
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	rec := func(e model.Entity, id, link string, f model.Fields) model.Record {
		return model.Record{Entity: e, ID: id, LinkKey: link, UpdatedAt: at, Fields: f}
	}
	crm = &fakeSystem{recs: map[model.Entity][]model.Record{}}
	erp = &fakeSystem{recs: map[model.Entity][]model.Record{}}
	crm.change(rec(model.Account, "c1", "E1", model.Fields{"name": model.Text("Alfreds"), "segment": model.Text("Retail"), "country": model.Text("DE")}))
	crm.change(rec(model.Account, "c2", "", model.Fields{"name": model.Text("Bólido"), "country": model.Text("ES")}))
	crm.change(rec(model.Deal, "d1", "", model.Fields{"name": model.Text("d1"), "stage": model.Text("won"), "amount": usd("100.10"), "account": model.Ref(model.Account, "c1"), "close_date": day("2026-01-10")}))
	crm.change(rec(model.Deal, "d2", "", model.Fields{"name": model.Text("d2"), "stage": model.Text("won"), "amount": usd("50"), "account": model.Ref(model.Account, "c2"), "close_date": day("2026-02-03")}))
	crm.change(rec(model.Deal, "d3", "", model.Fields{"name": model.Text("d3"), "stage": model.Text("qualified"), "amount": usd("70.05"), "account": model.Ref(model.Account, "c1"), "close_date": day("2026-04-01")}))
	erp.change(rec(model.Account, "E1", "c1", model.Fields{"name": model.Text("Alfreds"), "credit_limit": usd("1000")}))
	erp.change(rec(model.Account, "E2", "", model.Fields{"name": model.Text("Bolido")}))
	erp.change(rec(model.Product, "1", "", model.Fields{"sku": model.Text("A"), "list_price": usd("10.01"), "cost_price": usd("6.003")}))
	erp.change(rec(model.Product, "2", "", model.Fields{"sku": model.Text("B"), "list_price": usd("5")}))
	line := func(p, q, price, disc, amount string) model.Record {
		return model.Record{Entity: model.OrderLine, Fields: model.Fields{"product": model.Ref(model.Product, p), "quantity": num(q), "unit_price": usd(price), "discount": num(disc), "amount": usd(amount)}}
	}
	erp.change(rec(model.Order, "10", "d1", model.Fields{"account": model.Ref(model.Account, "E1"), "state": model.Text("confirmed"),
		"lines": model.Lines([]model.Record{line("1", "10", "10.01", "0", "100.1")})}))
	erp.change(rec(model.Order, "11", "d2", model.Fields{"account": model.Ref(model.Account, "E2"), "state": model.Text("confirmed"),
		"lines": model.Lines([]model.Record{line("1", "3", "10.01", "0.1", "27.027"), line("2", "5", "5", "0", "25")})}))
	erp.change(rec(model.Invoice, "100", "", model.Fields{"number": model.Text("INV1"), "order": model.Ref(model.Order, "10"), "account": model.Ref(model.Account, "E1"),
		"state": model.Text("paid"), "invoice_date": day("2026-01-15"), "due_date": day("2026-02-14"), "paid_date": day("2026-02-01"),
		"total": usd("119.119"), "amount_due": usd("0")}))
	erp.change(rec(model.Invoice, "101", "", model.Fields{"number": model.Text("INV2"), "order": model.Ref(model.Order, "11"), "account": model.Ref(model.Account, "E2"),
		"state": model.Text("posted"), "invoice_date": day("2026-02-05"), "due_date": day("2026-02-20"),
		"total": usd("52.027"), "amount_due": usd("52.027")}))
	return crm, erp
}

type testBundle struct {
	db       *report.DB
	crm, erp *fakeSystem
	ref      *report.Refresher
}

func openDBs(t *testing.T) map[string]func(t *testing.T) *report.DB {
	return openDBsNamed(t, "concord_r3")
}

// openDBsNamed opens the reporting databases, a PostgreSQL schema per test
// named prefix_N.
func openDBsNamed(_ *testing.T, prefix string) map[string]func(t *testing.T) *report.DB {
	return map[string]func(t *testing.T) *report.DB{
		"SQLite": func(t *testing.T) *report.DB {
			db, err := report.Open(context.Background(), report.Config{Driver: report.SQLite, Path: filepath.Join(t.TempDir(), "r.db")})
			require.NoError(t, err)
			t.Cleanup(func() { _ = db.Close() })
			return db
		},
		"Postgres": func(t *testing.T) *report.DB {
			schema := fmt.Sprintf("%s_%d", prefix, time.Now().UnixNano())
			dsn := "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
			db, err := report.Open(context.Background(), report.Config{Driver: report.Postgres, DSN: dsn, Schema: schema})
			require.NoError(t, err)
			t.Cleanup(func() {
				_ = db.Close()
				raw, err := sql.Open("pgx", dsn)
				if err == nil {
					_, _ = raw.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
					_ = raw.Close()
				}
			})
			return db
		},
	}
}

func TestRefresher_Refresh(t *testing.T) {
	t.Parallel()
	for dialect, open := range openDBs(t) {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			setup := func(t *testing.T) *testBundle {
				db := open(t)
				crm, erp := smallWorld()
				return &testBundle{db: db, crm: crm, erp: erp, ref: &report.Refresher{DB: db, CRM: report.System{Name: "crm", Reader: crm}, ERP: report.System{Name: "erp", Reader: erp}, PageSize: 2}}
			}
			ctx := context.Background()
			cat, err := report.LoadCatalog("")
			require.NoError(t, err)
			run := func(t *testing.T, b *testBundle, name string) *report.Result {
				r, ok := cat.Lookup(name)
				require.True(t, ok)
				res, err := report.Run(ctx, b.db, r, report.Params{Today: "2026-03-01"})
				require.NoError(t, err)
				return res
			}

			t.Run("Reports", func(t *testing.T) {
				t.Parallel()
				b := setup(t)
				st, err := b.ref.Refresh(ctx, false)
				require.NoError(t, err)
				require.Equal(t, 13, st.Total())

				res := run(t, b, "revenue-by-segment")
				require.Equal(t, []string{"month", "segment", "currency", "invoices", "revenue"}, res.Columns)
				require.Equal(t, [][]any{
					{"2026-01", "Retail", "USD", int64(1), "100.1"},
					{"2026-02", "(none)", "USD", int64(1), "52.027"},
				}, res.Rows)

				res = run(t, b, "margin-by-client")
				// Alfreds: 100.1 - 10 x 6.003; Bolido: costed line 27.027 - 3 x 6.003, one line without cost
				require.Equal(t, [][]any{
					{"Alfreds", "Retail", "USD", "100.1", "60.03", "40.07", "40", int64(0)},
					{"Bolido", "(none)", "USD", "52.027", "18.009", "9.018", "33.4", int64(1)},
				}, res.Rows)

				res = run(t, b, "pipeline-vs-invoiced")
				require.Equal(t, [][]any{
					{"2026-01", "USD", nil, "100.1", "100.1", "0"},
					{"2026-02", "USD", nil, "50", "52.027", "-2.027"},
					{"2026-04", "USD", "70.05", nil, nil, "0"},
				}, res.Rows)

				res = run(t, b, "won-to-paid")
				require.Equal(t, []any{"2026-01", int64(1), int64(1), int64(1), "5", "17", "22"}, res.Rows[0])
				require.Equal(t, []any{"2026-02", int64(1), int64(1), int64(0), "2", nil, nil}, res.Rows[1])

				res = run(t, b, "overdue-balances")
				require.Equal(t, [][]any{{"Bolido", "(none)", "USD", int64(1), "52.027", "2026-02-20", int64(9)}}, res.Rows)
			})

			t.Run("Incremental", func(t *testing.T) {
				t.Parallel()
				b := setup(t)
				_, err := b.ref.Refresh(ctx, false)
				require.NoError(t, err)
				crmReads, erpReads := b.crm.Reads, b.erp.Reads
				st, err := b.ref.Refresh(ctx, false)
				require.NoError(t, err)
				require.Zero(t, st.Total(), "nothing changed: nothing read")
				require.Equal(t, crmReads, b.crm.Reads)
				require.Equal(t, erpReads, b.erp.Reads)

				// the overdue invoice is paid: one record read, the report follows
				inv := b.erp.recs[model.Invoice][1].Clone()
				inv.Fields["amount_due"] = usd("0")
				inv.Fields["paid_date"] = day("2026-02-25")
				inv.Fields["state"] = model.Text("paid")
				b.erp.change(inv)
				st, err = b.ref.Refresh(ctx, false)
				require.NoError(t, err)
				require.Equal(t, 1, st.Total())
				require.Empty(t, run(t, b, "overdue-balances").Rows)
				require.Equal(t, int64(1), run(t, b, "won-to-paid").Rows[1][3])

				// a full refresh reads everything again and gives the same figures
				before := run(t, b, "margin-by-client").Rows
				st, err = b.ref.Refresh(ctx, true)
				require.NoError(t, err)
				require.Equal(t, 14, st.Total())
				require.Equal(t, before, run(t, b, "margin-by-client").Rows)
			})
		})
	}
}
