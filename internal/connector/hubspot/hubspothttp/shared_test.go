package hubspothttp_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector/hubspot/hubspothttp"
)

// budgetFunc is a SharedBudget recording each Take's priority.
type budgetFunc struct {
	mu    sync.Mutex
	takes []bool
	err   error
}

func (b *budgetFunc) Take(_ context.Context, live bool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.takes = append(b.takes, live)
	return b.err
}

type liveKey struct{}

// TestClient_Shared: every request takes a token of the shared budget, with
// the call's priority (Config.Live marks live work); a budget that fails
// sends nothing.
func TestClient_Shared(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	sent := 0
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		sent++
		mu.Unlock()
		_, _ = w.Write([]byte(`{"results":[]}`))
	}))
	t.Cleanup(ts.Close)
	shared := &budgetFunc{}
	c, err := hubspothttp.New(hubspothttp.Config{BaseURL: ts.URL, Token: "t", Limiter: hubspothttp.NewLimiter(100, time.Second), Shared: shared,
		Live: func(ctx context.Context) bool { return ctx.Value(liveKey{}) != nil }})
	require.NoError(t, err)
	ctx := context.Background()
	_, err = c.List(ctx, "companies", "", 10, nil, false)
	require.NoError(t, err)
	_, err = c.List(context.WithValue(ctx, liveKey{}, true), "companies", "", 10, nil, false)
	require.NoError(t, err)
	_, err = c.List(hubspothttp.WithPriority(ctx, hubspothttp.Live), "companies", "", 10, nil, false)
	require.NoError(t, err)
	require.Equal(t, []bool{false, true, true}, shared.takes, "one token per request, live work as live")

	shared.err = errors.New("store down")
	_, err = c.List(ctx, "companies", "", 10, nil, false)
	require.ErrorContains(t, err, "store down")
	require.Equal(t, 3, sent, "no request without a token")
}
