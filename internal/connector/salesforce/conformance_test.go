package salesforce_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/connectortest"
	"github.com/concord-sync/concord/internal/model"
	sandbox "github.com/concord-sync/concord/internal/sandbox/salesforce"
)

func copyFields(f model.Fields) model.Fields {
	out := model.Fields{}
	for k, v := range f {
		out[k] = v
	}
	return out
}

func TestConn_Conformance(t *testing.T) {
	t.Parallel()
	t.Run("account", func(t *testing.T) {
		t.Parallel()
		connectortest.Run(t, connectortest.Harness{
			Open: func(t *testing.T) connector.Connector {
				return newFixture(t, sandbox.Config{}).open(t, nil)
			},
			Entity: model.Account,
			NewFields: func(i int) model.Fields {
				return model.Fields{
					"name":            model.Text(fmt.Sprintf("Company %d", i)),
					"domain":          model.Text(fmt.Sprintf("c%d.example.com", i)),
					"city":            model.Text("Lyon"),
					"country":         model.Text("FR"),
					"customer_number": model.Text(fmt.Sprintf("C%05d", i)),
				}
			},
			Change: func(f model.Fields) model.Fields {
				out := copyFields(f)
				out["name"] = model.Text(f.Get("name").Str + " (renamed)")
				return out
			},
			// Account.Name holds at most 255 characters: STRING_TOO_LONG.
			Invalid:  func() model.Fields { return model.Fields{"name": model.Text(strings.Repeat("x", 300))} },
			Features: connectortest.Features{PartialFailure: true, Archive: true},
		})
	})
	t.Run("contact", func(t *testing.T) {
		t.Parallel()
		connectortest.Run(t, connectortest.Harness{
			Open: func(t *testing.T) connector.Connector {
				return newFixture(t, sandbox.Config{}).open(t, nil)
			},
			Entity: model.Contact,
			NewFields: func(i int) model.Fields {
				return model.Fields{
					"first_name": model.Text("Ann"),
					"last_name":  model.Text(fmt.Sprintf("Lee %d", i)),
					"email":      model.Text(fmt.Sprintf("ann.lee%d@example.com", i)),
					"title":      model.Text("Buyer"),
				}
			},
			Change: func(f model.Fields) model.Fields {
				out := copyFields(f)
				out["title"] = model.Text("Head of purchasing")
				return out
			},
			Invalid: func() model.Fields {
				return model.Fields{"last_name": model.Text("Bad"), "email": model.Text("not an address")}
			},
			Features: connectortest.Features{PartialFailure: true, Archive: true},
		})
	})
	t.Run("product", func(t *testing.T) {
		t.Parallel()
		connectortest.Run(t, connectortest.Harness{
			Open: func(t *testing.T) connector.Connector {
				return newFixture(t, sandbox.Config{}).open(t, nil)
			},
			Entity: model.Product,
			NewFields: func(i int) model.Fields {
				return model.Fields{
					"sku":        model.Text(fmt.Sprintf("SKU-%03d", i)),
					"name":       model.Text(fmt.Sprintf("Product %d", i)),
					"active":     model.Bool(true),
					"list_price": model.Money(decimal.RequireFromString("0.1").Add(decimal.RequireFromString("0.2")).Add(decimal.NewFromInt(int64(i))), "USD"),
				}
			},
			Change: func(f model.Fields) model.Fields {
				out := copyFields(f)
				out["list_price"] = model.Money(f.Get("list_price").Num.Add(decimal.RequireFromString("0.01")), "USD")
				return out
			},
			Features: connectortest.Features{Archive: true},
		})
	})
}
