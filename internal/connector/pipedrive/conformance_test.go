package pipedrive_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/connectortest"
	"github.com/concord-sync/concord/internal/model"
	sandbox "github.com/concord-sync/concord/internal/sandbox/pipedrive"
)

func clone(f model.Fields) model.Fields {
	out := model.Fields{}
	for k, v := range f {
		out[k] = v
	}
	return out
}

// accountSettings maps a custom varchar field, Segment, which Pipedrive
// refuses beyond 255 characters (PartialFailure), and a custom enum.
func accountOpen(t *testing.T) connector.Connector {
	f := newFixture(t, sandbox.Config{})
	_, err := f.srv.DefineField(sandbox.Organizations, sandbox.CustomField{Name: "Segment", FieldType: "varchar"})
	require.NoError(t, err)
	_, err = f.srv.DefineField(sandbox.Organizations, sandbox.CustomField{Name: "Tier", FieldType: "enum",
		Options: []sandbox.Option{{Label: "Gold"}, {Label: "Silver"}}})
	require.NoError(t, err)
	_, err = f.srv.DefineField(sandbox.Organizations, sandbox.CustomField{Name: "Credit limit", FieldType: "monetary"})
	require.NoError(t, err)
	_, err = f.srv.DefineField(sandbox.Organizations, sandbox.CustomField{Name: "Active", FieldType: "enum",
		Options: []sandbox.Option{{Label: "Yes"}, {Label: "No"}}})
	require.NoError(t, err)
	return f.open(t, f.with(map[string]any{"entities": map[string]any{"account": map[string]any{"fields": map[string]any{
		"name": "name", "city": "address.locality", "country": "address.country", "zip": "address.postal_code",
		"segment":      "Segment",
		"tier":         map[string]any{"field": "Tier", "type": "enum"},
		"credit_limit": "Credit limit",
		"active":       "Active",
	}}}}))
}

func accountFields(i int) model.Fields {
	return model.Fields{
		"name":         model.Text(fmt.Sprintf("Company %d", i)),
		"city":         model.Text("Lyon"),
		"country":      model.Text("FR"),
		"zip":          model.Text(fmt.Sprintf("690%02d", i%100)),
		"segment":      model.Text([]string{"A", "B", "C"}[i%3]),
		"tier":         model.Text([]string{"Gold", "Silver"}[i%2]),
		"credit_limit": model.Money(decimal.RequireFromString("1234567.8901").Add(decimal.NewFromInt(int64(i))), "EUR"),
		"active":       model.Bool(i%2 == 0),
	}
}

func TestConn_Conformance(t *testing.T) {
	t.Parallel()
	t.Run("account", func(t *testing.T) {
		t.Parallel()
		connectortest.Run(t, connectortest.Harness{
			Open:      accountOpen,
			Entity:    model.Account,
			NewFields: accountFields,
			Change: func(f model.Fields) model.Fields {
				out := clone(f)
				out["name"] = model.Text(f.Get("name").Str + " (renamed)")
				out["city"] = model.Text("Paris")
				out["credit_limit"] = model.Money(f.Get("credit_limit").Num.Add(decimal.RequireFromString("0.0001")), "EUR")
				return out
			},
			// Pipedrive refuses a varchar custom field over 255 characters.
			Invalid: func() model.Fields {
				return model.Fields{"name": model.Text("Bad"), "segment": model.Text(strings.Repeat("x", 300))}
			},
			Features: connectortest.Features{PartialFailure: true},
		})
	})
	t.Run("contact", func(t *testing.T) {
		t.Parallel()
		connectortest.Run(t, connectortest.Harness{
			Open:   func(t *testing.T) connector.Connector { f := newFixture(t, sandbox.Config{}); return f.open(t, nil) },
			Entity: model.Contact,
			NewFields: func(i int) model.Fields {
				return model.Fields{
					"first_name": model.Text(fmt.Sprintf("Ann%d", i)), "last_name": model.Text("Smith"),
					"email": model.Text(fmt.Sprintf("ann%d@example.com", i)), "phone": model.Text("+33123456789"),
					"title": model.Text("Buyer"),
				}
			},
			Change: func(f model.Fields) model.Fields {
				out := clone(f)
				out["email"] = model.Text("changed." + f.Get("email").Str)
				return out
			},
		})
	})
	t.Run("product", func(t *testing.T) {
		t.Parallel()
		connectortest.Run(t, connectortest.Harness{
			Open:   func(t *testing.T) connector.Connector { f := newFixture(t, sandbox.Config{}); return f.open(t, nil) },
			Entity: model.Product,
			NewFields: func(i int) model.Fields {
				return model.Fields{
					"sku":        model.Text(fmt.Sprintf("SKU-%03d", i)),
					"name":       model.Text(fmt.Sprintf("Product %d", i)),
					"list_price": model.Money(decimal.RequireFromString("0.1").Add(decimal.RequireFromString("0.2")).Add(decimal.NewFromInt(int64(i))), "USD"),
					"cost_price": model.Money(decimal.RequireFromString("99999999999.999999"), "USD"),
				}
			},
			Change: func(f model.Fields) model.Fields {
				out := clone(f)
				out["list_price"] = model.Money(f.Get("list_price").Num.Add(decimal.RequireFromString("0.01")), "USD")
				return out
			},
		})
	})
	t.Run("deal", func(t *testing.T) {
		t.Parallel()
		connectortest.Run(t, connectortest.Harness{
			Open:      dealOpen,
			Entity:    model.Deal,
			NewFields: dealFields,
			Change: func(f model.Fields) model.Fields {
				out := clone(f)
				out["stage"] = model.Text("won")
				out["lines"] = model.Lines([]model.Record{line("2", "3", "10.00", "0")})
				return out
			},
		})
	})
}

// dealOpen opens a sandbox with two products (ids 1 and 2) to put on deals.
func dealOpen(t *testing.T) connector.Connector {
	f := newFixture(t, sandbox.Config{})
	c := f.open(t, nil)
	for i := range 2 {
		res, err := c.Write(context.Background(), model.Product, []connector.Op{{Kind: connector.OpCreate, LinkKey: fmt.Sprint("p", i),
			Fields: model.Fields{"name": model.Text(fmt.Sprint("P", i)), "sku": model.Text(fmt.Sprint("P", i))}}})
		require.NoError(t, err)
		require.NoError(t, res[0].Err)
		require.Equal(t, fmt.Sprint(i+1), res[0].ID)
	}
	return c
}

// line is an order line as written and read back: amount is what
// Pipedrive computes (sum), which the connector never writes.
func line(product, qty, price, discount string) model.Record {
	q, p, d := decimal.RequireFromString(qty), decimal.RequireFromString(price), decimal.RequireFromString(discount)
	return model.Record{Entity: model.OrderLine, Fields: model.Fields{
		"product":    model.Ref(model.Product, product),
		"quantity":   model.Decimal(q),
		"unit_price": model.Money(p, "USD"),
		"discount":   model.Decimal(d),
		"amount":     model.Money(q.Mul(p).Mul(decimal.NewFromInt(1).Sub(d)), "USD"),
	}}
}

func dealFields(i int) model.Fields {
	return model.Fields{
		"name":       model.Text(fmt.Sprintf("Deal %d", i)),
		"stage":      model.Text([]string{"qualified", "presentation", "contract"}[i%3]),
		"amount":     model.Money(decimal.RequireFromString("1999.95").Add(decimal.NewFromInt(int64(i))), "USD"),
		"close_date": model.Date(time.Date(2026, 3, 1+i%28, 0, 0, 0, 0, time.UTC)),
		"lines":      model.Lines([]model.Record{line("1", "2", "12.50", "0.05"), line("2", "1.5", "3.333", "0")}),
	}
}
