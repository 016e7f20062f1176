package odoo

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/connectortest"
	"github.com/concord-sync/concord/internal/model"
)

func TestIntegrationConformance_Account(t *testing.T) {
	t.Parallel()
	connectortest.Run(t, connectortest.Harness{
		Open: func(t *testing.T) connector.Connector {
			c, _ := openTest(t)
			return c
		},
		Entity: model.Account,
		NewFields: func(i int) model.Fields {
			return model.Fields{
				"name":    model.Text(fmt.Sprintf("Acme %d", i)),
				"email":   model.Text(fmt.Sprintf("billing%d@acme.example", i)),
				"phone":   model.Text(fmt.Sprintf("+1212555%04d", i)),
				"street":  model.Text(fmt.Sprintf("%d Main St", i)),
				"city":    model.Text("New York"),
				"zip":     model.Text("10001"),
				"country": model.Text("US"),
				"vat":     model.Text(fmt.Sprintf("US%07d", i)),
				"active":  model.Bool(true),
			}
		},
		Change: func(f model.Fields) model.Fields {
			out := model.Fields{}
			for k, v := range f {
				out[k] = v
			}
			out["name"] = model.Text(f["name"].Str + " Inc")
			out["city"] = model.Text("Queens")
			return out
		},
		Invalid: func() model.Fields {
			// Odoo refuses a contact without a name (a constraint of res.partner).
			return model.Fields{"name": model.Null, "city": model.Text("Nowhere")}
		},
		Features: connectortest.Features{PartialFailure: true, OptimisticConcurrency: true, Archive: true},
	})
}

func TestIntegrationConformance_Product(t *testing.T) {
	t.Parallel()
	connectortest.Run(t, connectortest.Harness{
		Open: func(t *testing.T) connector.Connector {
			c, _ := openTest(t)
			return c
		},
		Entity: model.Product,
		NewFields: func(i int) model.Fields {
			return model.Fields{
				"sku":         model.Text(fmt.Sprintf("SKU-%03d", i)),
				"name":        model.Text(fmt.Sprintf("Widget %d", i)),
				"description": model.Text(fmt.Sprintf("A widget, model %d", i)),
				"list_price":  model.Money(decimal.New(int64(2500+i), -2), "USD"),
				"cost_price":  model.Money(decimal.New(int64(1250+i), -2), "USD"),
				"unit":        model.Text("Units"),
				"active":      model.Bool(true),
			}
		},
		Change: func(f model.Fields) model.Fields {
			out := model.Fields{}
			for k, v := range f {
				out[k] = v
			}
			out["name"] = model.Text(f["name"].Str + " Pro")
			out["list_price"] = model.Money(f["list_price"].Num.Add(decimal.NewFromInt(1)), "USD")
			return out
		},
		Invalid: func() model.Fields {
			// A product template needs a name.
			return model.Fields{"sku": model.Text("BAD-1"), "name": model.Null}
		},
		Features: connectortest.Features{PartialFailure: true, OptimisticConcurrency: true, Archive: true},
	})
}

func TestIntegrationConformance_Contact(t *testing.T) {
	t.Parallel()
	// Every Open is a fresh clone of the same template, so the first company
	// created in each gets the same id; NewFields references it.
	var (
		mu      sync.Mutex
		company string
	)
	connectortest.Run(t, connectortest.Harness{
		Open: func(t *testing.T) connector.Connector {
			c, _ := openTest(t)
			res, err := c.Write(context.Background(), model.Account, []connector.Op{{Kind: connector.OpCreate, LinkKey: "crm-acc-conf",
				Fields: model.Fields{"name": model.Text("Conformance Inc")}}})
			require.NoError(t, err)
			require.NoError(t, res[0].Err)
			mu.Lock()
			defer mu.Unlock()
			if company == "" {
				company = res[0].ID
			}
			require.Equal(t, company, res[0].ID, "each clone gives its first company the same id")
			return c
		},
		Entity: model.Contact,
		NewFields: func(i int) model.Fields {
			mu.Lock()
			defer mu.Unlock()
			return model.Fields{
				"first_name": model.Text(fmt.Sprintf("Jane%d", i)),
				"last_name":  model.Text("Doe"),
				"email":      model.Text(fmt.Sprintf("jane%d@acme.example", i)),
				"phone":      model.Text(fmt.Sprintf("+1212555%04d", i)),
				"title":      model.Text("Buyer"),
				"account":    model.Ref(model.Account, company),
			}
		},
		Change: func(f model.Fields) model.Fields {
			out := model.Fields{}
			for k, v := range f {
				out[k] = v
			}
			out["last_name"] = model.Text("Doe-Smith")
			out["title"] = model.Text("Head of Purchasing")
			return out
		},
		Invalid: func() model.Fields {
			return model.Fields{"first_name": model.Null, "last_name": model.Null, "email": model.Text("nameless@acme.example")}
		},
		Features: connectortest.Features{PartialFailure: true, OptimisticConcurrency: true, Archive: true},
	})
}
