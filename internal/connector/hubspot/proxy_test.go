package hubspot_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// refuseWholeBatch starts a proxy to target that answers a batch write
// naming marker with a whole-batch 400, as HubSpot does for some invalid
// inputs, and forwards everything else.
func refuseWholeBatch(t *testing.T, target, marker string) string {
	t.Helper()
	u, err := url.Parse(target)
	require.NoError(t, err)
	rp := httputil.NewSingleHostReverseProxy(u)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.Contains(r.URL.Path, "/batch/") {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			if bytes.Contains(body, []byte(`"`+marker+`"`)) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				_, _ = io.WriteString(w, `{"status":"error","message":"Property values were not valid: name","correlationId":"x","category":"VALIDATION_ERROR","context":{"propertyName":["name"]}}`)
				return
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	return ts.URL
}

// countRefusals starts a proxy to target that counts the 4xx answers to batch
// writes, so a test can tell a request the sandbox refused from one it took.
func countRefusals(t *testing.T, target string) (string, *atomic.Int64) {
	t.Helper()
	u, err := url.Parse(target)
	require.NoError(t, err)
	var n atomic.Int64
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(resp *http.Response) error {
		if strings.Contains(resp.Request.URL.Path, "/batch/") && resp.StatusCode >= 400 && resp.StatusCode < 500 {
			n.Add(1)
		}
		return nil
	}
	ts := httptest.NewServer(rp)
	t.Cleanup(ts.Close)
	return ts.URL, &n
}
