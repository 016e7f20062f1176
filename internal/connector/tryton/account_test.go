package tryton

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/tryton/trytonrpc"
	"github.com/concord-sync/concord/internal/connector/tryton/trytontest"
	"github.com/concord-sync/concord/internal/model"
)

func TestIntegrationConn_Account(t *testing.T) {
	t.Parallel()

	t.Run("CrashBeforeLinkRecorded", func(t *testing.T) {
		t.Parallel()
		c, _ := openTest(t)
		ctx := context.Background()
		op := connector.Op{Kind: connector.OpCreate, LinkKey: "crm-42", Fields: model.Fields{
			"name": model.Text("Crashy Corp"), "email": model.Text("a@crashy.example"),
		}}
		res, err := c.Write(ctx, model.Account, []connector.Op{op})
		require.NoError(t, err)
		require.NoError(t, res[0].Err)
		// The engine crashed here: the result (and the link) was never recorded.
		// Its retry looks the link key up first and updates instead of creating.
		found, err := c.Lookup(ctx, model.Account, []string{"crm-42"})
		require.NoError(t, err)
		require.Len(t, found, 1)
		rec := found["crm-42"]
		require.Equal(t, res[0].ID, rec.ID)
		res2, err := c.Write(ctx, model.Account, []connector.Op{{Kind: connector.OpUpdate, ID: rec.ID, LinkKey: "crm-42", Version: rec.Version,
			Fields: model.Fields{"name": model.Text("Crashy Corp"), "email": model.Text("b@crashy.example")}}})
		require.NoError(t, err)
		require.NoError(t, res2[0].Err)
		ids, err := c.Client().Search(ctx, "party.party", trytonrpc.Domain{trytonrpc.Leaf("name", "=", "Crashy Corp")}, trytonrpc.SearchOptions{})
		require.NoError(t, err)
		require.Len(t, ids, 1, "exactly one party")
		got, err := c.Get(ctx, model.Account, []string{rec.ID})
		require.NoError(t, err)
		require.Equal(t, "b@crashy.example", got[rec.ID].Fields["email"].Str)
	})

	t.Run("ChildEditIsAChange", func(t *testing.T) {
		t.Parallel()
		c, _ := openTest(t)
		ctx := context.Background()
		res, err := c.Write(ctx, model.Account, []connector.Op{{Kind: connector.OpCreate, LinkKey: "crm-1",
			Fields: model.Fields{"name": model.Text("Child Co"), "city": model.Text("Boston")}}})
		require.NoError(t, err)
		require.NoError(t, res[0].Err)
		var cursor string
		for range 10 {
			r, err := c.Read(ctx, connector.ReadRequest{Entity: model.Account, Cursor: cursor})
			require.NoError(t, err)
			cursor = r.Next
			if r.Done {
				break
			}
		}
		// Edit the address directly: Tryton leaves the party's write_date alone.
		recs, err := c.Client().Read(ctx, "party.party", []int64{mustID(t, res[0].ID)}, []string{"addresses"}, nil)
		require.NoError(t, err)
		require.NoError(t, c.Client().Write(ctx, "party.address", recs[0].IDs("addresses"), trytonrpc.Values{"city": "Cambridge"}, nil))
		r, err := c.Read(ctx, connector.ReadRequest{Entity: model.Account, Cursor: cursor})
		require.NoError(t, err)
		require.Len(t, r.Records, 1)
		require.Equal(t, "Cambridge", r.Records[0].Fields["city"].Str)
	})
}

func mustID(t *testing.T, s string) int64 {
	t.Helper()
	var id int64
	_, err := fmt.Sscan(s, &id)
	require.NoError(t, err)
	return id
}

// BenchmarkIntegrationPartyCreate compares party creates through the connector
// with a plain batched JSON-RPC client (net/http + encoding/json, 50 per call)
// against the same server. Each side writes into a fresh clone of its own, so
// neither pays for the parties the other created.
func BenchmarkIntegrationPartyCreate(b *testing.B) {
	ctx := context.Background()
	const batch = 50
	fields := func(i int) model.Fields {
		return model.Fields{"name": model.Text(fmt.Sprintf("Bench %d", i)), "email": model.Text(fmt.Sprintf("b%d@bench.example", i)),
			"phone": model.Text("+15550000"), "street": model.Text("1 Bench St"), "city": model.Text("Benchville"), "zip": model.Text("1000")}
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
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "parties/s")
	})
	b.Run("PlainJSONRPC", func(b *testing.B) {
		env := trytontest.Clone(b)
		url := env.URL + "/" + env.Database + "/"
		post := func(auth string, body any) map[string]any {
			data, _ := json.Marshal(body)
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(data))
			req.Header.Set("Content-Type", "application/json")
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(b, err)
			defer resp.Body.Close()
			var out map[string]any
			require.NoError(b, json.NewDecoder(resp.Body).Decode(&out))
			require.Nil(b, out["error"])
			return out
		}
		login := post("", map[string]any{"id": 1, "method": "common.db.login", "params": []any{env.User, map[string]any{"password": env.Password}}})
		pair := login["result"].([]any)
		auth := "Session " + base64Session(env.User, pair[0], pair[1])
		n := 0
		for b.Loop() {
			vals := make([]map[string]any, batch)
			for j := range vals {
				n++
				vals[j] = map[string]any{"name": fmt.Sprintf("Plain %d", n),
					"addresses":          []any{[]any{"create", []any{map[string]any{"street": "1 Bench St", "city": "Benchville", "postal_code": "1000"}}}},
					"contact_mechanisms": []any{[]any{"create", []any{map[string]any{"type": "email", "value": fmt.Sprintf("p%d@bench.example", n)}, map[string]any{"type": "phone", "value": "+15550000"}}}},
					"identifiers":        []any{[]any{"create", []any{map[string]any{"code": fmt.Sprintf("plain-%d", n)}}}}}
			}
			post(auth, map[string]any{"id": 2, "method": "model.party.party.create", "params": []any{vals, map[string]any{"company": 1}}})
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "parties/s")
	})
}

func base64Session(user string, uid, key any) string {
	return base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "%s:%v:%v", user, uid, key))
}
