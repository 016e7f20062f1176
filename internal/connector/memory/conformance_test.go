package memory_test

import (
	"fmt"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/connectortest"
	"github.com/concord-sync/concord/internal/connector/memory"
	"github.com/concord-sync/concord/internal/model"
)

func TestConn_Conformance(t *testing.T) {
	t.Parallel()
	connectortest.Run(t, connectortest.Harness{
		Open:   func(*testing.T) connector.Connector { return memory.New("crm", model.Account) },
		Entity: model.Account,
		NewFields: func(i int) model.Fields {
			return model.Fields{
				"name":         model.Text(fmt.Sprintf("Company %d", i)),
				"email":        model.Text(fmt.Sprintf("c%d@example.com", i)),
				"credit_limit": model.Money(decimal.RequireFromString("1234567.8901").Add(decimal.NewFromInt(int64(i))), "EUR"),
				"active":       model.Bool(i%2 == 0),
			}
		},
		Change: func(f model.Fields) model.Fields {
			out := model.Fields{}
			for k, v := range f {
				out[k] = v
			}
			out["name"] = model.Text(f.Get("name").Str + " (renamed)")
			return out
		},
		Invalid: func() model.Fields {
			return model.Fields{"name": model.Text("bad"), "credit_limit": model.Text("a lot")}
		},
		Features: connectortest.Features{PartialFailure: true, OptimisticConcurrency: true, Archive: true},
	})
}
