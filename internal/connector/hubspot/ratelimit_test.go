package hubspot_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/hubspot/hubspothttp"
	"github.com/concord-sync/concord/internal/model"
	sandbox "github.com/concord-sync/concord/internal/sandbox/hubspot"
)

// scale runs the sandbox clock speed times faster than the wall clock, so a
// 10 s rate-limit window passes in 10 s / speed.
func scale(speed int) func() time.Time {
	base := time.Now()
	return func() time.Time { return base.Add(time.Since(base) * time.Duration(speed)) }
}

// syncAccounts writes n accounts in batches of per, then reads them all back.
func syncAccounts(t *testing.T, c connector.Connector, n, per int) {
	t.Helper()
	ctx := context.Background()
	var wg sync.WaitGroup
	for b := range n / per {
		wg.Go(func() {
			ops := make([]connector.Op, per)
			for j := range per {
				i := b*per + j
				ops[j] = connector.Op{Kind: connector.OpCreate, LinkKey: fmt.Sprint("E", i), Fields: model.Fields{"name": model.Text(fmt.Sprint("Co ", i))}}
			}
			res, err := c.Write(ctx, model.Account, ops)
			require.NoError(t, err)
			for _, r := range res {
				require.NoError(t, r.Err)
			}
		})
	}
	wg.Wait()
	recs, _ := readAll(t, c, model.Account, "", 0)
	ids := map[string]bool{}
	for _, r := range recs {
		ids[r.ID] = true
	}
	require.Len(t, ids, n)
}

func TestConn_RateLimit(t *testing.T) {
	t.Parallel()
	// 10 requests per 10 s of sandbox time; the sandbox clock runs 100x, so
	// the window is 100 ms of wall time and the connector is told so.
	const speed = 100
	newPortal := func(t *testing.T) (*fixture, map[string]any) {
		f := newFixture(t, sandbox.Config{RateLimit: 10, SearchRateLimit: -1, Now: scale(speed)})
		return f, f.with(map[string]any{"rate_limit": 10, "rate_interval": "100ms", "search_rate_limit": 100})
	}

	t.Run("NoUnhandled429", func(t *testing.T) {
		t.Parallel()
		f, settings := newPortal(t)
		c := f.open(t, settings)
		syncAccounts(t, c, 600, 20)
		st := c.Client().Stats()
		t.Logf("requests %d, 429s %d, retries %d, failed %d", st.Requests, st.RateLimited, st.Retries, st.Failed)
		require.Zero(t, st.RateLimited, "the limiter keeps under the budget")
		require.Zero(t, st.Failed)
		require.Len(t, f.srv.Objects("companies"), 600)
	})

	t.Run("BudgetSharedWithAnotherApp", func(t *testing.T) {
		t.Parallel()
		f, settings := newPortal(t)
		c := f.open(t, settings)
		// Another app spends part of the portal's budget behind our back.
		stop := make(chan struct{})
		var other sync.WaitGroup
		other.Go(func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(25 * time.Millisecond):
				}
				req, _ := http.NewRequest(http.MethodGet, f.url+"/crm/v3/objects/companies?limit=1", nil)
				req.Header.Set("Authorization", "Bearer "+token)
				if resp, err := http.DefaultClient.Do(req); err == nil {
					_ = resp.Body.Close()
				}
			}
		})
		syncAccounts(t, c, 300, 20)
		close(stop)
		other.Wait()
		st := c.Client().Stats()
		t.Logf("requests %d, 429s %d, retries %d, failed %d", st.Requests, st.RateLimited, st.Retries, st.Failed)
		require.Zero(t, st.Failed, "every 429 is waited out and retried")
		require.Len(t, f.srv.Objects("companies"), 300)
	})

	t.Run("LiveBeatsBackfill", func(t *testing.T) {
		t.Parallel()
		f, settings := newPortal(t)
		c := f.open(t, settings)
		ctx := context.Background()
		// Saturate the budget with backfill reads, then send one live write.
		var wg sync.WaitGroup
		var mu sync.Mutex
		var backfillDone []time.Time
		for range 40 {
			wg.Go(func() {
				_, err := c.Get(ctx, model.Account, []string{"1"})
				require.NoError(t, err)
				mu.Lock()
				backfillDone = append(backfillDone, time.Now())
				mu.Unlock()
			})
		}
		time.Sleep(30 * time.Millisecond)
		live := hubspothttp.WithPriority(ctx, hubspothttp.Live)
		res, err := c.Write(live, model.Account, []connector.Op{{Kind: connector.OpCreate, LinkKey: "L", Fields: model.Fields{"name": model.Text("Live")}}})
		require.NoError(t, err)
		require.NoError(t, res[0].Err)
		liveDone := time.Now()
		wg.Wait()
		later := 0
		for _, d := range backfillDone {
			if d.After(liveDone) {
				later++
			}
		}
		require.Greater(t, later, 20, "the live write overtook most queued backfill calls")
		require.Zero(t, c.Client().Stats().Failed)
	})
}
