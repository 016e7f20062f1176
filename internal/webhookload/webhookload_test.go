package webhookload_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector/hubspot"
	"github.com/concord-sync/concord/internal/webhookload"
)

// TestRun sends to a receiver that checks each v3 signature as HubSpot's
// connector does and refuses every 10th delivery: every delivery arrives
// signed, the refusals are counted by status, the objectIds cycle over the
// records asked for.
func TestRun(t *testing.T) {
	t.Parallel()
	const secret = "s3cret"
	var n atomic.Int64
	var mu sync.Mutex
	ids := map[int64]int{}
	var srvURL string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts := r.Header.Get(hubspot.HeaderTimestamp)
		if r.Header.Get(hubspot.HeaderSignatureV3) != hubspot.SignV3(secret, r.Method, srvURL+"/webhooks/crm", body, ts) {
			http.Error(w, "forged", http.StatusUnauthorized)
			return
		}
		var evs []struct {
			ObjectID         int64  `json:"objectId"`
			SubscriptionType string `json:"subscriptionType"`
		}
		if err := json.Unmarshal(body, &evs); err != nil || len(evs) != 2 || evs[0].SubscriptionType != "company.propertyChange" {
			http.Error(w, "malformed", http.StatusBadRequest)
			return
		}
		mu.Lock()
		for _, e := range evs {
			ids[e.ObjectID]++
		}
		mu.Unlock()
		if n.Add(1)%10 == 0 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	srvURL = srv.URL

	r, err := webhookload.Run(context.Background(), webhookload.Config{URL: srv.URL + "/webhooks/crm", Secret: secret,
		Rate: 200, Duration: 500 * time.Millisecond, Records: 7, FirstID: 100, Events: 2})
	require.NoError(t, err)
	require.Equal(t, 100, r.Sent)
	require.Equal(t, 90, r.OK)
	require.Equal(t, 10, r.Errors)
	require.Equal(t, map[string]int{"503": 10}, r.ErrorKinds)
	require.Equal(t, 200, r.Events)
	require.Equal(t, 7, r.Records)
	require.Len(t, ids, 7, "objectIds 100..106")
	for id := range ids {
		require.True(t, id >= 100 && id < 107, "objectId %d", id)
	}
	require.Positive(t, r.P50)
	require.LessOrEqual(t, r.P50, r.P99)
	require.LessOrEqual(t, r.P99, r.Max)
	require.GreaterOrEqual(t, r.Elapsed, 495*time.Millisecond, "paced at the rate, not sent at once")
	require.Contains(t, r.String(), "90 ok, 10 errors (503: 10)")

	_, err = webhookload.Run(context.Background(), webhookload.Config{URL: srv.URL})
	require.ErrorContains(t, err, "no secret")
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	for _, c := range []struct {
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{nil, 99, 0},
		{ms(5), 50, 5 * time.Millisecond},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 50, 5 * time.Millisecond},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 90, 9 * time.Millisecond},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 99, 10 * time.Millisecond},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 100, 10 * time.Millisecond},
	} {
		require.Equal(t, c.want, webhookload.Percentile(c.sorted, c.p), "p%v of %v", c.p, c.sorted)
	}
}
