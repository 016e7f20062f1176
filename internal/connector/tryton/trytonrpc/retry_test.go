package trytonrpc

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestClient_ReadOnlyCallsRetried: a read-only call that fails transiently is
// sent again; a call that writes is sent once (repeating it could apply it
// twice), and a refusal is not repeated.
func TestClient_ReadOnlyCallsRetried(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	calls := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req struct {
			ID     int64  `json:"id"`
			Method string `json:"method"`
		}
		require.NoError(t, json.Unmarshal(body, &req))
		mu.Lock()
		calls[req.Method]++
		n := calls[req.Method]
		mu.Unlock()
		switch {
		case req.Method == "model.party.party.fields_get":
			http.Error(w, "bad", http.StatusBadRequest) // not transient
		case n <= 2:
			http.Error(w, "busy", http.StatusBadGateway)
		default:
			fmt.Fprintf(w, `{"id":%d,"result":[]}`, req.ID)
		}
	}))
	t.Cleanup(srv.Close)
	c, err := New(Config{URL: srv.URL, Database: "crm", Username: testUser, Password: testPassword})
	require.NoError(t, err)
	count := func(m string) int {
		mu.Lock()
		defer mu.Unlock()
		return calls[m]
	}

	_, _, err = c.post(t.Context(), srv.URL, "", "model.party.party.search_read", nil)
	require.NoError(t, err, "two 502s, then the answer")
	require.Equal(t, 3, count("model.party.party.search_read"))

	_, _, err = c.post(t.Context(), srv.URL, "", "model.party.party.create", nil)
	var he *HTTPError
	require.ErrorAs(t, err, &he)
	require.Equal(t, http.StatusBadGateway, he.Status)
	require.Equal(t, 1, count("model.party.party.create"), "a write is sent once")

	_, _, err = c.post(t.Context(), srv.URL, "", "model.party.party.fields_get", nil)
	require.Error(t, err)
	require.Equal(t, 1, count("model.party.party.fields_get"), "a refusal is not repeated")
}
