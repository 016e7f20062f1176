package hubspot_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/sandbox/hubspot"
)

func TestServer_RateLimit(t *testing.T) {
	t.Parallel()

	t.Run("TenSecondlyRolling", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(c *hubspot.Config) { c.RateLimit = 3 })
		for i, want := range []string{"2", "1", "0"} {
			resp, _ := b.do(t, http.MethodGet, "/crm/v3/objects/deals", nil)
			require.Equal(t, http.StatusOK, resp.StatusCode, "request %d", i)
			require.Equal(t, "3", resp.Header.Get("X-HubSpot-RateLimit-Max"))
			require.Equal(t, want, resp.Header.Get("X-HubSpot-RateLimit-Remaining"))
			require.Equal(t, "10000", resp.Header.Get("X-HubSpot-RateLimit-Interval-Milliseconds"))
			b.clock.Advance(time.Second)
		}
		resp, body := b.do(t, http.MethodGet, "/crm/v3/objects/deals", nil)
		require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
		requireHubSpotError(t, body, "RATE_LIMITS")
		require.Equal(t, "TEN_SECONDLY_ROLLING", body["policyName"])
		require.Equal(t, "RATE_LIMIT", body["errorType"])
		require.Equal(t, "7", resp.Header.Get("Retry-After"), "the first request leaves the window 7 s later")
		require.Equal(t, "0", resp.Header.Get("X-HubSpot-RateLimit-Remaining"))

		resp, _ = b.doToken(t, "", http.MethodGet, "/crm/v3/objects/deals", nil)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "auth is checked before the budget")

		b.clock.Advance(7 * time.Second)
		resp, _ = b.do(t, http.MethodGet, "/crm/v3/objects/deals", nil)
		require.Equal(t, http.StatusOK, resp.StatusCode, "window rolled")
	})

	t.Run("PeakRequests", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(c *hubspot.Config) { c.RateLimit = 3; c.Token = "" })
		require.Zero(t, b.srv.PeakRequests())
		for _, tok := range []string{"a", "b", "a", "a", "a"} { // the last one is refused: it counts
			b.doToken(t, tok, http.MethodGet, "/crm/v3/objects/deals", nil)
			b.clock.Advance(time.Second)
		}
		require.Equal(t, 5, b.srv.PeakRequests(), "every request in the window, all tokens, refused ones too")
		b.clock.Advance(10 * time.Second)
		b.doToken(t, "a", http.MethodGet, "/crm/v3/objects/deals", nil)
		require.Equal(t, 5, b.srv.PeakRequests(), "the peak stays when the window empties")
	})

	t.Run("PerToken", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(c *hubspot.Config) { c.RateLimit = 1; c.Token = "" })
		resp, _ := b.doToken(t, "a", http.MethodGet, "/crm/v3/objects/deals", nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		resp, _ = b.doToken(t, "b", http.MethodGet, "/crm/v3/objects/deals", nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		resp, _ = b.doToken(t, "a", http.MethodGet, "/crm/v3/objects/deals", nil)
		require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	})

	t.Run("SearchSecondly", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(c *hubspot.Config) { c.SearchRateLimit = 2 })
		for range 2 {
			resp, _ := b.do(t, http.MethodPost, "/crm/v3/objects/deals/search", map[string]any{})
			require.Equal(t, http.StatusOK, resp.StatusCode)
		}
		resp, body := b.do(t, http.MethodPost, "/crm/v3/objects/deals/search", map[string]any{})
		require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
		require.Equal(t, "SECONDLY", body["policyName"])
		require.Equal(t, "1", resp.Header.Get("Retry-After"))
		resp, _ = b.do(t, http.MethodGet, "/crm/v3/objects/deals", nil)
		require.Equal(t, http.StatusOK, resp.StatusCode, "other endpoints are not held back by the search limit")
		b.clock.Advance(time.Second)
		resp, _ = b.do(t, http.MethodPost, "/crm/v3/objects/deals/search", map[string]any{})
		require.Equal(t, http.StatusOK, resp.StatusCode)
	})
}
