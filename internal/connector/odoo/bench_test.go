package odoo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/odoo/odootest"
	"github.com/concord-sync/concord/internal/model"
)

// BenchmarkIntegrationPartnerCreate compares company creates through the
// connector (values, one create call per batch, the read-back of versions)
// with a plain batched JSON-RPC client sending the same values, each on a
// fresh clone of the same server in the same run. Target: the connector at
// 90 % or more of the plain client.
//
//	go test -run x -bench PartnerCreate -benchtime 10x ./internal/connector/odoo/
func BenchmarkIntegrationPartnerCreate(b *testing.B) {
	ctx := context.Background()
	const batch = 100
	fields := func(i int) model.Fields {
		return model.Fields{"name": model.Text(fmt.Sprintf("Bench %d", i)), "email": model.Text(fmt.Sprintf("b%d@bench.example", i)),
			"phone": model.Text("+15550000"), "street": model.Text("1 Bench St"), "city": model.Text("Benchville"),
			"zip": model.Text("1000"), "country": model.Text("US")}
	}
	b.Run("Connector", func(b *testing.B) {
		c, _ := openTest(b)
		n := 0
		for b.Loop() {
			ops := make([]connector.Op, batch)
			for j := range ops {
				n++
				ops[j] = connector.Op{Kind: connector.OpCreate, LinkKey: fmt.Sprintf("bench-%d", n), Fields: fields(n)}
			}
			res, err := c.Write(ctx, model.Account, ops)
			require.NoError(b, err)
			require.NoError(b, res[0].Err)
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "partners/s")
	})
	b.Run("PlainJSONRPC", func(b *testing.B) {
		env := odootest.Clone(b)
		post := func(method string, args []any) any {
			data, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "method": "call", "id": 1,
				"params": map[string]any{"service": serviceOf(method), "method": methodOf(method), "args": args}})
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, env.URL+"/jsonrpc", bytes.NewReader(data))
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			require.NoError(b, err)
			defer resp.Body.Close()
			var out map[string]any
			require.NoError(b, json.NewDecoder(resp.Body).Decode(&out))
			require.Nil(b, out["error"])
			return out["result"]
		}
		uid := post("common.login", []any{env.Database, env.User, env.Password})
		us := post("object.execute_kw", []any{env.Database, uid, env.Password, "res.country", "search", []any{[]any{[]any{"code", "=", "US"}}}, map[string]any{}})
		country := us.([]any)[0]
		n := 0
		for b.Loop() {
			vals := make([]map[string]any, batch)
			for j := range vals {
				n++
				vals[j] = map[string]any{"name": fmt.Sprintf("Plain %d", n), "email": fmt.Sprintf("p%d@bench.example", n),
					"phone": "+15550000", "street": "1 Bench St", "city": "Benchville", "zip": "1000", "country_id": country,
					"is_company": true, "customer_rank": 1, "ref": fmt.Sprintf("plain-%d", n)}
			}
			post("object.execute_kw", []any{env.Database, uid, env.Password, "res.partner", "create", []any{vals}, map[string]any{}})
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "partners/s")
	})
}

// serviceOf and methodOf split "service.method".
func serviceOf(m string) string { return m[:strings.IndexByte(m, '.')] }
func methodOf(m string) string  { return m[strings.IndexByte(m, '.')+1:] }
