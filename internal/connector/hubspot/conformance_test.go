package hubspot_test

import (
	"fmt"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/connectortest"
	"github.com/concord-sync/concord/internal/model"
	sandbox "github.com/concord-sync/concord/internal/sandbox/hubspot"
)

// accountSettings maps account with a custom enumeration property, so that
// the sandbox itself refuses a bad value (PartialFailure).
func accountFixture(t *testing.T) (*fixture, map[string]any) {
	f := newFixture(t, sandbox.Config{})
	_, err := f.srv.DefineProperty("companies", sandbox.Property{
		Name: "segment_code", Label: "Segment", Type: "enumeration", FieldType: "select", GroupName: "companyinformation",
		Options: []sandbox.Option{{Label: "A", Value: "A"}, {Label: "B", Value: "B"}, {Label: "C", Value: "C"}},
	})
	require.NoError(t, err)
	_, err = f.srv.DefineProperty("companies", sandbox.Property{
		Name: "credit_limit", Label: "Credit limit", Type: "number", FieldType: "number", GroupName: "companyinformation",
	})
	require.NoError(t, err)
	return f, f.with(map[string]any{"entities": map[string]any{
		"account": map[string]any{"fields": map[string]any{
			"name": "name", "domain": "domain", "city": "city", "country": "country",
			"segment":      "segment_code",
			"credit_limit": map[string]any{"property": "credit_limit", "currency": "EUR"},
		}},
	}})
}

func accountFields(i int) model.Fields {
	return model.Fields{
		"name":         model.Text(fmt.Sprintf("Company %d", i)),
		"domain":       model.Text(fmt.Sprintf("c%d.example.com", i)),
		"city":         model.Text("Lyon"),
		"country":      model.Text("FR"),
		"segment":      model.Text([]string{"A", "B", "C"}[i%3]),
		"credit_limit": model.Money(decimal.RequireFromString("1234567.8901").Add(decimal.NewFromInt(int64(i))), "EUR"),
	}
}

func TestConn_Conformance(t *testing.T) {
	t.Parallel()
	t.Run("account", func(t *testing.T) {
		t.Parallel()
		connectortest.Run(t, connectortest.Harness{
			Open: func(t *testing.T) connector.Connector {
				f, settings := accountFixture(t)
				return f.open(t, settings)
			},
			Entity:    model.Account,
			NewFields: accountFields,
			Change: func(f model.Fields) model.Fields {
				out := model.Fields{}
				for k, v := range f {
					out[k] = v
				}
				out["name"] = model.Text(f.Get("name").Str + " (renamed)")
				out["credit_limit"] = model.Money(f.Get("credit_limit").Num.Add(decimal.RequireFromString("0.0001")), "EUR")
				return out
			},
			// "Z" is not an option of segment_code: HubSpot refuses the input.
			Invalid:  func() model.Fields { return model.Fields{"name": model.Text("Bad"), "segment": model.Text("Z")} },
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
					"list_price": model.Money(decimal.RequireFromString("0.1").Add(decimal.RequireFromString("0.2")).Add(decimal.NewFromInt(int64(i))), "USD"),
					"cost_price": model.Money(decimal.RequireFromString("99999999999.999999"), "USD"),
				}
			},
			Change: func(f model.Fields) model.Fields {
				out := model.Fields{}
				for k, v := range f {
					out[k] = v
				}
				out["list_price"] = model.Money(f.Get("list_price").Num.Add(decimal.RequireFromString("0.01")), "USD")
				return out
			},
			Features: connectortest.Features{Archive: true},
		})
	})
}
