package sqlconn_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/connectortest"
	sqlconn "github.com/concord-sync/concord/internal/connector/sql"
	"github.com/concord-sync/concord/internal/model"
)

// orderFixture is a fresh product, order and order line table and the settings
// mapping orders with their lines.
type orderFixture struct {
	b        backend
	dsn      string
	products string
	orders   string
	lines    string
	admin    *sql.DB
	settings map[string]any
}

// seededProducts is how many products (ids 1..n) the fixture inserts.
const seededProducts = 5

func newOrderFixture(t *testing.T, b backend) *orderFixture {
	t.Helper()
	ctx := context.Background()
	f := &orderFixture{b: b, dsn: b.dsn(t), products: randName("cc_op_"), orders: randName("cc_o_"), lines: randName("cc_ol_")}
	admin, err := sql.Open(b.sqlDriver, f.dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = admin.Close() })
	f.admin = admin
	if b.driver != sqlconn.DriverSQLite {
		t.Cleanup(func() {
			for _, tb := range []string{f.lines, f.orders, f.products} {
				_, _ = admin.ExecContext(context.Background(), "DROP TABLE IF EXISTS "+f.quote(tb))
			}
		})
	}
	for _, stmt := range b.orderDDL(f.products, f.orders, f.lines) {
		_, err := admin.ExecContext(ctx, stmt)
		require.NoError(t, err, stmt)
	}
	for i := 1; i <= seededProducts; i++ {
		_, err := admin.ExecContext(ctx, "INSERT INTO "+f.quote(f.products)+" (id, sku) VALUES ("+fmt.Sprint(i)+", 'SKU-"+fmt.Sprint(i)+"')")
		require.NoError(t, err)
	}
	f.settings = map[string]any{
		"driver":  b.driver,
		"dsn":     f.dsn,
		"overlap": "2s",
		"entities": map[string]any{
			"order": map[string]any{
				"table": f.orders, "id": "id", "id_kind": "auto", "updated_at": "updated_at", "link": "crm_deal_id",
				"fields": map[string]any{
					"reference":       "reference",
					"account":         "customer_id",
					"currency":        "currency",
					"total":           map[string]any{"column": "total", "currency_column": "currency"},
					"billing_contact": map[string]any{"column": "contact_id", "type": "ref", "ref": "contact"},
					"lines":           f.linesMapping(),
				},
			},
		},
	}
	return f
}

func (f *orderFixture) linesMapping() map[string]any {
	return map[string]any{
		"table": f.lines, "parent": "order_id", "id": "id", "position": "line_no",
		"fields": map[string]any{
			"product":     "product_id",
			"description": "description",
			"quantity":    "quantity",
			"unit_price":  map[string]any{"column": "unit_price", "currency": "USD"},
			"discount":    "discount",
			"amount":      map[string]any{"column": "amount", "currency": "USD"},
		},
	}
}

func (f *orderFixture) quote(name string) string {
	if f.b.driver == sqlconn.DriverMySQL {
		return "`" + name + "`"
	}
	return `"` + name + `"`
}

// ph returns the n-th placeholder of the backend.
func (f *orderFixture) ph(n int) string {
	if f.b.driver == sqlconn.DriverPostgres {
		return fmt.Sprint("$", n)
	}
	return "?"
}

func (f *orderFixture) open(t *testing.T) *sqlconn.Conn {
	t.Helper()
	reg := connector.NewRegistry()
	sqlconn.Register(reg)
	spec, ok := reg.Lookup(sqlconn.Name)
	require.True(t, ok)
	require.Empty(t, spec.Validate(f.settings))
	c, err := spec.Open(context.Background(), connector.OpenParams{System: "erp", Settings: f.settings, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c.(*sqlconn.Conn)
}

// count returns the number of rows in table, or, with an order id, the lines of
// that order.
func (f *orderFixture) count(t *testing.T, table string, orderID ...string) int {
	t.Helper()
	q := "SELECT COUNT(*) FROM " + f.quote(table)
	var args []any
	if len(orderID) > 0 {
		q += " WHERE order_id = " + f.ph(1)
		args = append(args, orderID[0])
	}
	var n int
	require.NoError(t, f.admin.QueryRowContext(context.Background(), q, args...).Scan(&n))
	return n
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// line returns an order line with its amount computed exactly from quantity,
// unit price and discount.
func line(product int, qty, price, discount string) model.Record {
	amount := dec(qty).Mul(dec(price)).Mul(decimal.NewFromInt(1).Sub(dec(discount)))
	return model.Record{Entity: model.OrderLine, Fields: model.Fields{
		"product":     model.Ref(model.Product, fmt.Sprint(product)),
		"description": model.Text(fmt.Sprintf("product %d x %s", product, qty)),
		"quantity":    model.Decimal(dec(qty)),
		"unit_price":  model.Money(dec(price), "USD"),
		"discount":    model.Decimal(dec(discount)),
		"amount":      model.Money(amount, "USD"),
	}}
}

// orderFields returns an order of i with the given lines; the total is the sum
// of the line amounts.
func orderFields(i int, lines ...model.Record) model.Fields {
	total := decimal.Zero
	for _, l := range lines {
		total = total.Add(l.Fields["amount"].Num)
	}
	return model.Fields{
		"reference":       model.Text(fmt.Sprintf("deal-%d", i)),
		"account":         model.Ref(model.Account, fmt.Sprint(100+i)),
		"currency":        model.Text("USD"),
		"total":           model.Money(total.Round(4), "USD"),
		"billing_contact": model.Ref(model.Contact, fmt.Sprint(200+i)),
		"lines":           model.Lines(lines),
	}
}

// threeLines is the round-trip order: 3 x 19.99 less 15% = 50.9745 exactly.
func threeLines() []model.Record {
	return []model.Record{
		line(1, "3", "19.99", "0.15"),
		line(2, "0.5", "1234.5678", "0"),
		line(3, "12", "0.01", "0.125"),
	}
}

// requireLines checks the lines value against want, field by field and in order.
func requireLines(t *testing.T, want []model.Record, got model.Value) {
	t.Helper()
	require.Equal(t, model.KindLines, got.Kind)
	require.Len(t, got.Lines, len(want))
	for i := range want {
		require.Equal(t, model.OrderLine, got.Lines[i].Entity)
		require.NotEmpty(t, got.Lines[i].ID)
		require.True(t, want[i].Fields.Equal(got.Lines[i].Fields), "line %d\nwant: %s\ngot:  %s", i, want[i].Fields, got.Lines[i].Fields)
	}
}

func TestConn_Lines(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, b backend) {
		t.Run("OKRoundTrip", func(t *testing.T) {
			t.Parallel()
			f := newOrderFixture(t, b)
			c := f.open(t)
			want := orderFields(1, threeLines()...)
			res, err := c.Write(ctx, model.Order, []connector.Op{{Kind: connector.OpCreate, LinkKey: "deal-1", Fields: want}})
			require.NoError(t, err)
			require.NoError(t, res[0].Err)
			id := res[0].ID
			require.Equal(t, 3, f.count(t, f.lines, id))

			// The amount is stored exactly as given, position by position.
			rows, err := f.admin.QueryContext(ctx, "SELECT line_no, CAST(amount AS "+map[bool]string{true: "CHAR", false: "TEXT"}[b.driver == sqlconn.DriverMySQL]+") FROM "+f.quote(f.lines)+" WHERE order_id = "+f.ph(1)+" ORDER BY line_no", id)
			require.NoError(t, err)
			var stored []string
			for rows.Next() {
				var pos int
				var amount string
				require.NoError(t, rows.Scan(&pos, &amount))
				require.Equal(t, len(stored)+1, pos)
				stored = append(stored, amount)
			}
			require.NoError(t, rows.Err())
			require.NoError(t, rows.Close())
			require.Len(t, stored, 3)
			require.True(t, dec("50.9745").Equal(dec(stored[0])), "stored %s", stored[0])
			require.True(t, dec("617.2839").Equal(dec(stored[1])), "stored %s", stored[1])
			require.True(t, dec("0.105").Equal(dec(stored[2])), "stored %s", stored[2])

			got, err := c.Get(ctx, model.Order, []string{id})
			require.NoError(t, err)
			require.True(t, want.Equal(got[id].Fields), "want: %s\ngot:  %s", want, got[id].Fields)
			requireLines(t, threeLines(), got[id].Fields.Get("lines"))
			require.Equal(t, "50.9745", got[id].Fields.Get("lines").Lines[0].Fields.Get("amount").Num.String())
			require.Equal(t, "668.3634", got[id].Fields.Get("total").Num.String())
			require.Equal(t, model.Ref(model.Contact, "201"), got[id].Fields.Get("billing_contact"))

			byLink, err := c.Lookup(ctx, model.Order, []string{"deal-1"})
			require.NoError(t, err)
			requireLines(t, threeLines(), byLink["deal-1"].Fields.Get("lines"))

			page, err := c.Read(ctx, connector.ReadRequest{Entity: model.Order})
			require.NoError(t, err)
			require.Len(t, page.Records, 1)
			requireLines(t, threeLines(), page.Records[0].Fields.Get("lines"))
			require.Equal(t, res[0].Version, page.Records[0].Version)

			// A projection without lines does not carry them.
			page, err = c.Read(ctx, connector.ReadRequest{Entity: model.Order, Fields: []string{"reference"}})
			require.NoError(t, err)
			require.True(t, page.Records[0].Fields.Get("lines").IsNull())
		})

		t.Run("OKOrderByPositionThenID", func(t *testing.T) {
			t.Parallel()
			f := newOrderFixture(t, b)
			c := f.open(t)
			res, err := c.Write(ctx, model.Order, []connector.Op{
				{Kind: connector.OpCreate, LinkKey: "a", Fields: orderFields(1)},
				{Kind: connector.OpCreate, LinkKey: "b", Fields: orderFields(2, line(1, "1", "1", "0"))},
			})
			require.NoError(t, err)
			require.NoError(t, res[0].Err)
			require.NoError(t, res[1].Err)
			// Lines written by another program, positions out of insert order and
			// one without a position: it goes last.
			ins := "INSERT INTO " + f.quote(f.lines) + " (order_id, line_no, product_id, quantity, description) VALUES (" + f.ph(1) + ", " + f.ph(2) + ", " + f.ph(3) + ", " + f.ph(4) + ", " + f.ph(5) + ")"
			for _, l := range []struct {
				pos  any
				desc string
			}{{nil, "last"}, {3, "third"}, {1, "first"}, {2, "second"}} {
				_, err := f.admin.ExecContext(ctx, ins, res[0].ID, l.pos, 1, "1", l.desc)
				require.NoError(t, err)
			}
			got, err := c.Get(ctx, model.Order, []string{res[0].ID, res[1].ID, "999999"})
			require.NoError(t, err)
			require.Len(t, got, 2)
			var descs []string
			for _, l := range got[res[0].ID].Fields.Get("lines").Lines {
				descs = append(descs, l.Fields.Get("description").Str)
			}
			require.Equal(t, []string{"first", "second", "third", "last"}, descs)
			requireLines(t, []model.Record{line(1, "1", "1", "0")}, got[res[1].ID].Fields.Get("lines"))
		})

		t.Run("OKManyParentsOnePage", func(t *testing.T) {
			t.Parallel()
			f := newOrderFixture(t, b)
			c := f.open(t)
			// More parents than one IN chunk (500), so the chunking is exercised.
			const n = 520
			ops := make([]connector.Op, n)
			for i := range ops {
				ops[i] = connector.Op{Kind: connector.OpCreate, LinkKey: fmt.Sprint("m", i), Fields: orderFields(i, line(1+i%seededProducts, fmt.Sprint(1+i), "2.5", "0"), line(1, "1", "0.01", "0"))}
			}
			res, err := c.Write(ctx, model.Order, ops)
			require.NoError(t, err)
			for _, r := range res {
				require.NoError(t, r.Err)
			}
			page, err := c.Read(ctx, connector.ReadRequest{Entity: model.Order, Limit: n + 10})
			require.NoError(t, err)
			require.Len(t, page.Records, n)
			for _, r := range page.Records {
				i := 0
				_, err := fmt.Sscanf(r.Fields.Get("reference").Str, "deal-%d", &i)
				require.NoError(t, err)
				requireLines(t, []model.Record{line(1+i%seededProducts, fmt.Sprint(1+i), "2.5", "0"), line(1, "1", "0.01", "0")}, r.Fields.Get("lines"))
			}
		})

		t.Run("OKUpdateReplacesLines", func(t *testing.T) {
			t.Parallel()
			f := newOrderFixture(t, b)
			c := f.open(t)
			res, err := c.Write(ctx, model.Order, []connector.Op{
				{Kind: connector.OpCreate, LinkKey: "a", Fields: orderFields(1, threeLines()...)},
				{Kind: connector.OpCreate, LinkKey: "b", Fields: orderFields(2, threeLines()...)},
			})
			require.NoError(t, err)
			a, other := res[0].ID, res[1].ID
			before, err := c.Get(ctx, model.Order, []string{a})
			require.NoError(t, err)

			// Without lines: the lines are left alone, ids included.
			up, err := c.Write(ctx, model.Order, []connector.Op{{Kind: connector.OpUpdate, ID: a, Fields: model.Fields{"reference": model.Text("deal-1b")}}})
			require.NoError(t, err)
			require.NoError(t, up[0].Err)
			got, err := c.Get(ctx, model.Order, []string{a})
			require.NoError(t, err)
			require.Equal(t, before[a].Fields.Get("lines").Lines, got[a].Fields.Get("lines").Lines)
			require.Equal(t, "deal-1b", got[a].Fields.Get("reference").Str)

			// With lines: replaced.
			two := []model.Record{line(4, "2", "10", "0.5"), line(5, "7", "3.333", "0")}
			up, err = c.Write(ctx, model.Order, []connector.Op{{Kind: connector.OpUpdate, ID: a, Fields: model.Fields{"lines": model.Lines(two)}}})
			require.NoError(t, err)
			require.NoError(t, up[0].Err)
			got, err = c.Get(ctx, model.Order, []string{a, other})
			require.NoError(t, err)
			requireLines(t, two, got[a].Fields.Get("lines"))
			require.Equal(t, 2, f.count(t, f.lines, a))
			requireLines(t, threeLines(), got[other].Fields.Get("lines"))
			require.Equal(t, "deal-1b", got[a].Fields.Get("reference").Str)

			// A create on a known link key is an update: the lines are replaced too.
			up, err = c.Write(ctx, model.Order, []connector.Op{{Kind: connector.OpCreate, LinkKey: "a", Fields: orderFields(1, line(1, "1", "1", "0"))}})
			require.NoError(t, err)
			require.NoError(t, up[0].Err)
			require.Equal(t, a, up[0].ID)
			require.Equal(t, 1, f.count(t, f.lines, a))

			// Empty lines and null both clear them.
			for _, v := range []model.Value{model.Lines(nil), model.Null} {
				_, err = c.Write(ctx, model.Order, []connector.Op{{Kind: connector.OpUpdate, ID: a, Fields: model.Fields{"lines": model.Lines(two)}}})
				require.NoError(t, err)
				up, err = c.Write(ctx, model.Order, []connector.Op{{Kind: connector.OpUpdate, ID: a, Fields: model.Fields{"lines": v}}})
				require.NoError(t, err)
				require.NoError(t, up[0].Err)
				require.Equal(t, 0, f.count(t, f.lines, a))
				got, err = c.Get(ctx, model.Order, []string{a})
				require.NoError(t, err)
				require.Equal(t, model.KindLines, got[a].Fields.Get("lines").Kind)
				require.Empty(t, got[a].Fields.Get("lines").Lines)
			}
			require.Equal(t, 3, f.count(t, f.lines, other))
		})

		t.Run("OKLineChangeIsParentChange", func(t *testing.T) {
			t.Parallel()
			f := newOrderFixture(t, b)
			c := f.open(t)
			res, err := c.Write(ctx, model.Order, []connector.Op{
				{Kind: connector.OpCreate, LinkKey: "a", Fields: orderFields(1, threeLines()...)},
				{Kind: connector.OpCreate, LinkKey: "b", Fields: orderFields(2, threeLines()...)},
			})
			require.NoError(t, err)
			page, err := c.Read(ctx, connector.ReadRequest{Entity: model.Order})
			require.NoError(t, err)
			require.Len(t, page.Records, 2)
			require.True(t, page.Done)
			versions := map[string]string{}
			for _, r := range page.Records {
				versions[r.ID] = r.Version
			}

			// Only a line changes (quantity 3 -> 4 on the first line).
			changed := threeLines()
			changed[0] = line(1, "4", "19.99", "0.15")
			up, err := c.Write(ctx, model.Order, []connector.Op{{Kind: connector.OpUpdate, ID: res[1].ID, Version: versions[res[1].ID], Fields: model.Fields{"lines": model.Lines(changed)}}})
			require.NoError(t, err)
			require.NoError(t, up[0].Err)
			require.NotEqual(t, versions[res[1].ID], up[0].Version, "a line change is a new version of the parent")

			next, err := c.Read(ctx, connector.ReadRequest{Entity: model.Order, Cursor: page.Next})
			require.NoError(t, err)
			var fresh []model.Record
			for _, r := range next.Records {
				if versions[r.ID] != r.Version {
					fresh = append(fresh, r)
				}
			}
			require.Len(t, fresh, 1, "the changed order must be read again")
			require.Equal(t, res[1].ID, fresh[0].ID)
			require.Equal(t, up[0].Version, fresh[0].Version)
			requireLines(t, changed, fresh[0].Fields.Get("lines"))
			require.Equal(t, "67.966", fresh[0].Fields.Get("lines").Lines[0].Fields.Get("amount").Num.String())

			// The old version is stale now.
			stale, err := c.Write(ctx, model.Order, []connector.Op{{Kind: connector.OpUpdate, ID: res[1].ID, Version: versions[res[1].ID], Fields: model.Fields{"lines": model.Lines(threeLines())}}})
			require.NoError(t, err)
			require.ErrorIs(t, stale[0].Err, connector.ErrConflict)
		})

		t.Run("ErrBadLinesFailTheirOrderOnly", func(t *testing.T) {
			t.Parallel()
			f := newOrderFixture(t, b)
			c := f.open(t)
			badProduct := threeLines()
			badProduct = append(badProduct, badProduct[0])
			badProduct[2] = line(999, "1", "5", "0") // no such product: foreign key
			badQty := threeLines()
			badQty[1] = line(2, "0", "5", "0") // CHECK quantity > 0
			res, err := c.Write(ctx, model.Order, []connector.Op{
				{Kind: connector.OpCreate, LinkKey: "ok-1", Fields: orderFields(1, threeLines()...)},
				{Kind: connector.OpCreate, LinkKey: "bad-product", Fields: orderFields(2, badProduct...)},
				{Kind: connector.OpCreate, LinkKey: "ok-3", Fields: orderFields(3, threeLines()...)},
				{Kind: connector.OpCreate, LinkKey: "bad-qty", Fields: orderFields(4, badQty...)},
				{Kind: connector.OpCreate, LinkKey: "unmapped", Fields: orderFields(5, line(1, "1", "1", "0"), model.Record{Fields: model.Fields{"unit": model.Text("kg")}})},
				{Kind: connector.OpCreate, LinkKey: "bad-kind", Fields: orderFields(6, model.Record{Fields: model.Fields{"quantity": model.Text("many")}})},
				{Kind: connector.OpCreate, LinkKey: "bad-currency", Fields: orderFields(7, model.Record{Fields: model.Fields{"quantity": model.Decimal(dec("1")), "unit_price": model.Money(dec("1"), "EUR")}})},
				{Kind: connector.OpCreate, LinkKey: "bad-ref", Fields: orderFields(8, model.Record{Fields: model.Fields{"quantity": model.Decimal(dec("1")), "product": model.Ref(model.Account, "1")}})},
			})
			require.NoError(t, err, "refused lines are not a whole-call failure")
			require.NoError(t, res[0].Err)
			require.NoError(t, res[2].Err)
			for i, field := range map[int]string{1: "lines[2].product", 3: "lines[1].quantity", 4: "lines[1].unit", 5: "lines[0].quantity", 6: "lines[0].unit_price", 7: "lines[0].product"} {
				var perr *connector.PermanentError
				require.ErrorAs(t, res[i].Err, &perr, "op %d", i)
				require.Equal(t, field, perr.Field, "op %d: %v", i, res[i].Err)
			}
			// All or nothing per order: no parent and no line of a refused order.
			require.Equal(t, 2, f.count(t, f.orders))
			require.Equal(t, 6, f.count(t, f.lines))
			found, err := c.Lookup(ctx, model.Order, []string{"ok-1", "bad-product", "ok-3", "bad-qty"})
			require.NoError(t, err)
			require.Len(t, found, 2)
			requireLines(t, threeLines(), found["ok-3"].Fields.Get("lines"))

			// A refused replacement leaves the old lines and the parent as they were.
			up, err := c.Write(ctx, model.Order, []connector.Op{
				{Kind: connector.OpUpdate, ID: res[0].ID, Fields: model.Fields{"reference": model.Text("changed"), "lines": model.Lines(badProduct)}},
				{Kind: connector.OpUpdate, ID: res[2].ID, Fields: model.Fields{"lines": model.Lines(threeLines()[:1])}},
			})
			require.NoError(t, err)
			var perr *connector.PermanentError
			require.ErrorAs(t, up[0].Err, &perr)
			require.Equal(t, "lines[2].product", perr.Field)
			require.NoError(t, up[1].Err)
			got, err := c.Get(ctx, model.Order, []string{res[0].ID, res[2].ID})
			require.NoError(t, err)
			require.Equal(t, "deal-1", got[res[0].ID].Fields.Get("reference").Str)
			requireLines(t, threeLines(), got[res[0].ID].Fields.Get("lines"))
			requireLines(t, threeLines()[:1], got[res[2].ID].Fields.Get("lines"))
		})

		t.Run("OKLineChangedByOthersWithTriggers", func(t *testing.T) {
			t.Parallel()
			f := newOrderFixture(t, b)
			create, drop := b.touchDDL(f.orders, f.lines)
			t.Cleanup(func() {
				for _, stmt := range drop {
					_, _ = f.admin.ExecContext(context.Background(), stmt)
				}
			})
			for _, stmt := range create {
				_, err := f.admin.ExecContext(ctx, stmt)
				require.NoError(t, err, stmt)
			}
			c := f.open(t)
			res, err := c.Write(ctx, model.Order, []connector.Op{
				{Kind: connector.OpCreate, LinkKey: "a", Fields: orderFields(1, threeLines()...)},
				{Kind: connector.OpCreate, LinkKey: "b", Fields: orderFields(2, threeLines()...)},
			})
			require.NoError(t, err)
			up, err := c.Write(ctx, model.Order, []connector.Op{{Kind: connector.OpUpdate, ID: res[0].ID, Version: res[0].Version, Fields: model.Fields{"lines": model.Lines(threeLines()[:2])}}})
			require.NoError(t, err)
			require.NoError(t, up[0].Err)

			// The triggers fired on the connector's own line writes, yet the
			// versions it returned are the rows' versions.
			page, err := c.Read(ctx, connector.ReadRequest{Entity: model.Order})
			require.NoError(t, err)
			require.Len(t, page.Records, 2)
			versions := map[string]string{}
			for _, r := range page.Records {
				versions[r.ID] = r.Version
			}
			require.Equal(t, up[0].Version, versions[res[0].ID])
			require.Equal(t, res[1].Version, versions[res[1].ID])

			// Another program changes one line of b, then deletes one of a: each
			// order is read again with its new lines.
			_, err = f.admin.ExecContext(ctx, "UPDATE "+f.quote(f.lines)+" SET quantity = '5' WHERE order_id = "+f.ph(1)+" AND line_no = 1", res[1].ID)
			require.NoError(t, err)
			_, err = f.admin.ExecContext(ctx, "DELETE FROM "+f.quote(f.lines)+" WHERE order_id = "+f.ph(1)+" AND line_no = 2", res[0].ID)
			require.NoError(t, err)
			next, err := c.Read(ctx, connector.ReadRequest{Entity: model.Order, Cursor: page.Next})
			require.NoError(t, err)
			fresh := map[string]model.Record{}
			for _, r := range next.Records {
				if versions[r.ID] != r.Version {
					fresh[r.ID] = r
				}
			}
			require.Len(t, fresh, 2, "both orders changed through their lines")
			require.Equal(t, "5", fresh[res[1].ID].Fields.Get("lines").Lines[0].Fields.Get("quantity").Num.String())
			require.Len(t, fresh[res[0].ID].Fields.Get("lines").Lines, 1)
		})

		t.Run("OKFieldOnLinkColumn", func(t *testing.T) {
			t.Parallel()
			f := newOrderFixture(t, b)
			order := clone(f.settings["entities"].(map[string]any)["order"].(map[string]any))
			order["fields"] = clone(order["fields"].(map[string]any), "deal_id", map[string]any{"column": "crm_deal_id", "type": "text"})
			f.settings = clone(f.settings, "entities", map[string]any{"order": order})
			c := f.open(t)
			ok := orderFields(1, threeLines()...)
			ok["deal_id"] = model.Text("deal-1")
			bad := orderFields(2)
			bad["deal_id"] = model.Text("someone-else")
			res, err := c.Write(ctx, model.Order, []connector.Op{
				{Kind: connector.OpCreate, LinkKey: "deal-1", Fields: ok},
				{Kind: connector.OpCreate, LinkKey: "deal-2", Fields: bad},
			})
			require.NoError(t, err)
			require.NoError(t, res[0].Err)
			require.True(t, connector.IsPermanent(res[1].Err), "%v", res[1].Err)
			got, err := c.Lookup(ctx, model.Order, []string{"deal-1"})
			require.NoError(t, err)
			require.Equal(t, "deal-1", got["deal-1"].Fields.Get("deal_id").Str)
			requireLines(t, threeLines(), got["deal-1"].Fields.Get("lines"))
		})

		t.Run("ErrSharedCurrencyColumn", func(t *testing.T) {
			t.Parallel()
			c := newOrderFixture(t, b).open(t)
			fields := orderFields(1, threeLines()...)
			fields["total"] = model.Money(dec("1"), "EUR")
			res, err := c.Write(ctx, model.Order, []connector.Op{{Kind: connector.OpCreate, LinkKey: "x", Fields: fields}})
			require.NoError(t, err)
			var perr *connector.PermanentError
			require.ErrorAs(t, res[0].Err, &perr)
			require.Equal(t, "total", perr.Field)
		})
	})
}

func TestConn_LinesConformance(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		connectortest.Run(t, connectortest.Harness{
			Open:   func(t *testing.T) connector.Connector { return newOrderFixture(t, b).open(t) },
			Entity: model.Order,
			NewFields: func(i int) model.Fields {
				return orderFields(i, line(1+i%seededProducts, fmt.Sprint(1+i%7), "19.99", "0.15"), line(1, "2", "0.5", "0"))
			},
			Change: func(f model.Fields) model.Fields {
				out := model.Fields{}
				for k, v := range f {
					out[k] = v
				}
				lines := append([]model.Record{}, f.Get("lines").Lines...)
				lines[1] = line(2, "3", "0.75", "0.1")
				out["lines"] = model.Lines(lines)
				out["reference"] = model.Text(f.Get("reference").Str + "-changed")
				return out
			},
			// NOT NULL reference refuses the order.
			Invalid: func() model.Fields {
				return model.Fields{"reference": model.Null, "lines": model.Lines([]model.Record{line(1, "1", "1", "0")})}
			},
			Features: connectortest.Features{PartialFailure: true, OptimisticConcurrency: true},
		})
	})
}

func TestConn_LinesInjection(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, b backend) {
		f := newOrderFixture(t, b)
		for _, bad := range []string{`lines"; DROP TABLE x; --`, "lines`; DROP TABLE x; --", "li\x00nes"} {
			for key, path := range map[string]string{
				"table":    "entities.order.fields.lines.table",
				"parent":   "entities.order.fields.lines.parent",
				"id":       "entities.order.fields.lines.id",
				"position": "entities.order.fields.lines.position",
			} {
				ents := f.settings["entities"].(map[string]any)
				order := ents["order"].(map[string]any)
				fields := clone(order["fields"].(map[string]any), "lines", clone(f.linesMapping(), key, bad))
				errs := sqlconn.Validate(clone(f.settings, "entities", map[string]any{"order": clone(order, "fields", fields)}))
				require.Equal(t, []string{path}, paths(t, errs), "%s = %q", key, bad)
			}
			lm := f.linesMapping()
			lf := clone(lm["fields"].(map[string]any), "quantity", bad, "amount", map[string]any{"column": "amount", "currency_column": bad})
			ents := f.settings["entities"].(map[string]any)
			order := ents["order"].(map[string]any)
			fields := clone(order["fields"].(map[string]any), "lines", clone(lm, "fields", lf))
			errs := sqlconn.Validate(clone(f.settings, "entities", map[string]any{"order": clone(order, "fields", fields)}))
			require.Equal(t, []string{"entities.order.fields.lines.fields.amount.currency_column", "entities.order.fields.lines.fields.quantity.column"}, paths(t, errs))
		}

		c := f.open(t)
		evil := []string{
			`'); DROP TABLE ` + f.lines + `; --`,
			`"; DROP TABLE ` + f.lines + `; --`,
			"`; DELETE FROM " + f.lines + "; --",
		}
		var lines []model.Record
		for _, s := range evil {
			l := line(1, "1", "1", "0")
			l.Fields["description"] = model.Text(s)
			lines = append(lines, l)
		}
		res, err := c.Write(ctx, model.Order, []connector.Op{{Kind: connector.OpCreate, LinkKey: evil[0], Fields: orderFields(1, lines...)}})
		require.NoError(t, err)
		require.NoError(t, res[0].Err)
		got, err := c.Get(ctx, model.Order, []string{res[0].ID, "0) OR (1=1", res[0].ID + "' OR '1'='1"})
		require.NoError(t, err)
		require.Len(t, got, 1)
		requireLines(t, lines, got[res[0].ID].Fields.Get("lines"))
		require.Equal(t, len(evil), f.count(t, f.lines))
		require.True(t, strings.HasPrefix(got[res[0].ID].Fields.Get("lines").Lines[0].Fields.Get("description").Str, "'); DROP"))
	})
}

// TestConn_LinesOrderByID: lines with no position column come back in the
// order of their ids as numbers, as written. Found in review: PostgreSQL
// sorted them by the id read as text, putting line 10 before line 2.
func TestConn_LinesOrderByID(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, b backend) {
		f := newOrderFixture(t, b)
		lines := f.linesMapping()
		delete(lines, "position")
		f.settings["entities"].(map[string]any)["order"].(map[string]any)["fields"].(map[string]any)["lines"] = lines
		c := f.open(t)
		var want []model.Record
		for i := range 12 {
			want = append(want, line(1+i%seededProducts, fmt.Sprint(i+1), "1.5", "0"))
		}
		res, err := c.Write(ctx, model.Order, []connector.Op{{Kind: connector.OpCreate, LinkKey: "deal-12", Fields: orderFields(12, want...)}})
		require.NoError(t, err)
		require.NoError(t, res[0].Err)
		got, err := c.Get(ctx, model.Order, []string{res[0].ID})
		require.NoError(t, err)
		requireLines(t, want, got[res[0].ID].Fields.Get("lines"))
	})
}
