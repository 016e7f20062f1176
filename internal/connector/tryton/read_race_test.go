package tryton

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/tryton/trytonrpc"
	"github.com/concord-sync/concord/internal/connector/tryton/trytontest"
	"github.com/concord-sync/concord/internal/model"
)

// TestIntegrationConn_ReadEditedMidPage: a record edited between Read's stamp search and its read must not move the cursor
// past records that were found but not yet delivered (found in review).
func TestIntegrationConn_ReadEditedMidPage(t *testing.T) {
	env := trytontest.Clone(t)
	ctx := context.Background()
	direct, err := Open(ctx, Settings{URL: env.URL, Database: env.Database, Username: env.User, Password: env.Password, Overlap: "300ms"}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer direct.Close(ctx)

	var armed atomic.Bool
	var victim atomic.Int64
	target, _ := url.Parse(env.URL)
	rp := httputil.NewSingleHostReverseProxy(target)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if armed.Load() && strings.Contains(string(body), `"model.party.party.read"`) {
			armed.Store(false)
			require.NoError(t, direct.Client().Write(ctx, "party.party", []int64{victim.Load()}, trytonrpc.Values{"name": "A changed again"}, nil))
		}
		rp.ServeHTTP(w, r)
	}))
	defer proxy.Close()
	c, err := Open(ctx, Settings{URL: proxy.URL, Database: env.Database, Username: env.User, Password: env.Password, Overlap: "300ms"}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer c.Close(ctx)

	var ids []string
	for i, n := range []string{"A", "B", "C"} {
		res, err := c.Write(ctx, model.Account, []connector.Op{{Kind: connector.OpCreate, LinkKey: "crm-r" + n, Fields: model.Fields{"name": model.Text("Party " + n)}}})
		require.NoError(t, err)
		require.NoError(t, res[0].Err, i)
		ids = append(ids, res[0].ID)
	}
	cursor := ""
	for range 20 {
		r, err := c.Read(ctx, connector.ReadRequest{Entity: model.Account, Cursor: cursor})
		require.NoError(t, err)
		cursor = r.Next
		if r.Done {
			break
		}
	}
	time.Sleep(600 * time.Millisecond)
	// Change A, B, C in turn, each more than the overlap after the previous.
	for _, id := range ids {
		require.NoError(t, direct.Client().Write(ctx, "party.party", []int64{mustID(t, id)}, trytonrpc.Values{"name": "changed " + id}, nil))
		time.Sleep(600 * time.Millisecond)
	}
	victim.Store(mustID(t, ids[0]))
	armed.Store(true)
	got := map[string]bool{}
	for range 20 {
		r, err := c.Read(ctx, connector.ReadRequest{Entity: model.Account, Cursor: cursor, Limit: 1})
		require.NoError(t, err)
		for _, rec := range r.Records {
			got[rec.ID] = true
		}
		cursor = r.Next
		if r.Done {
			break
		}
	}
	require.True(t, got[ids[1]], "B changed after the cursor but was never delivered (got %v, ids %v, cursor %s)", got, ids, cursor)
	require.True(t, got[ids[2]], "C changed after the cursor but was never delivered (got %v, ids %v)", got, ids)
}
