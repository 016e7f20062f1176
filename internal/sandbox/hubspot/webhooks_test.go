package hubspot_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/sandbox/hubspot"
)

// independentSignature implements HubSpot's documented v3 algorithm
// without the package: base64(HMAC-SHA256(secret, method+uri+body+ts)).
func independentSignature(secret, method, uri, body, ts string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(method + uri + body + ts))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func TestSignatureV3(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	ts := strconv.FormatInt(now.UnixMilli(), 10)
	body := []byte(`[{"eventId":1}]`)
	sig := hubspot.SignatureV3("secret", "POST", "https://example.com/hook?x=1", body, ts)
	require.Equal(t, independentSignature("secret", "POST", "https://example.com/hook?x=1", string(body), ts), sig)

	for name, tc := range map[string]struct {
		secret, uri, body, ts, sig string
		at                         time.Time
		want                       error
	}{
		"OK":                   {"secret", "https://example.com/hook?x=1", string(body), ts, sig, now.Add(time.Minute), nil},
		"OKEncodedURI":         {"secret", "https%3A%2F%2Fexample.com%2Fhook?x=1", string(body), ts, sig, now, nil},
		"ErrExpired":           {"secret", "https://example.com/hook?x=1", string(body), ts, sig, now.Add(6 * time.Minute), hubspot.ErrSignatureExpired},
		"ErrTamperedBody":      {"secret", "https://example.com/hook?x=1", `[{"eventId":2}]`, ts, sig, now, hubspot.ErrSignatureMismatch},
		"ErrWrongSecret":       {"other", "https://example.com/hook?x=1", string(body), ts, sig, now, hubspot.ErrSignatureMismatch},
		"ErrBadTimestamp":      {"secret", "https://example.com/hook?x=1", string(body), "soon", sig, now, hubspot.ErrSignatureExpired},
		"ErrReplayedTimestamp": {"secret", "https://example.com/hook?x=1", string(body), strconv.FormatInt(now.UnixMilli()+1, 10), sig, now, hubspot.ErrSignatureMismatch},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := hubspot.VerifySignatureV3(tc.secret, "POST", tc.uri, []byte(tc.body), tc.ts, tc.sig, tc.at)
			if tc.want == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tc.want)
			}
		})
	}
}

// receiver is a webhook endpoint that checks signatures independently and
// records the events; the first failFirst requests get a 500.
type receiver struct {
	t         *testing.T
	secret    string
	url       string
	failFirst int32
	calls     atomic.Int32
	mu        sync.Mutex
	events    []hubspot.Event
	badSig    atomic.Int32
}

func newReceiver(t *testing.T, secret string, failFirst int32) *receiver {
	rc := &receiver{t: t, secret: secret, failFirst: failFirst}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		ts := r.Header.Get("X-HubSpot-Request-Timestamp")
		if independentSignature(rc.secret, r.Method, rc.url+r.URL.RequestURI()[len("/hook"):], string(raw), ts) != r.Header.Get("X-HubSpot-Signature-v3") {
			rc.badSig.Add(1)
		}
		if rc.calls.Add(1) <= rc.failFirst {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		var evs []hubspot.Event
		if err := json.Unmarshal(raw, &evs); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		rc.events = append(rc.events, evs...)
		rc.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(ts.Close)
	rc.url = ts.URL + "/hook"
	return rc
}

func (rc *receiver) snapshot() []hubspot.Event {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]hubspot.Event(nil), rc.events...)
}

func TestServer_Webhooks(t *testing.T) {
	t.Parallel()

	t.Run("GenericFormat", func(t *testing.T) {
		t.Parallel()
		rc := newReceiver(t, "client-secret", 0)
		b := setup(t, func(c *hubspot.Config) {
			c.Now = time.Now
			c.Webhook = hubspot.WebhookConfig{URL: rc.url, ClientSecret: "client-secret", AppID: 77, BatchWindow: time.Millisecond}
		})
		resp, body := b.do(t, http.MethodPost, "/webhooks/v3/77/subscriptions", map[string]any{"eventType": "object.propertyChange", "objectTypeId": "0-2", "propertyName": "city", "active": true})
		require.Equal(t, http.StatusCreated, resp.StatusCode, "%v", body)
		require.Equal(t, "0-2", body["objectTypeId"])
		_, err := b.srv.SubscribeObject("object.creation", "0-3", "")
		require.NoError(t, err)
		for _, bad := range []struct{ typ, id string }{{"object.creation", ""}, {"object.creation", "0-99"}, {"company.creation", "0-2"}} {
			_, err := b.srv.SubscribeObject(bad.typ, bad.id, "")
			require.Error(t, err, "%v", bad)
		}

		id := b.create(t, "companies", map[string]any{"name": "Alfreds", "city": "Berlin"})
		_, err = b.srv.Update("companies", id, map[string]string{"city": "Hamburg"})
		require.NoError(t, err)
		_, err = b.srv.Put("deals", map[string]string{"dealname": "Big"})
		require.NoError(t, err)
		require.Eventually(t, func() bool { return len(rc.snapshot()) == 2 }, 5*time.Second, 5*time.Millisecond)
		evs := rc.snapshot()
		require.Equal(t, "object.propertyChange", evs[0].SubscriptionType)
		require.Equal(t, "0-2", evs[0].ObjectTypeID)
		require.Equal(t, id, strconv.FormatInt(evs[0].ObjectID, 10))
		require.Equal(t, "city", evs[0].PropertyName)
		require.Equal(t, "object.creation", evs[1].SubscriptionType)
		require.Equal(t, "0-3", evs[1].ObjectTypeID)
	})

	t.Run("EventIDsUniqueAcrossRestarts", func(t *testing.T) {
		t.Parallel()
		// Two sandboxes in a row on the same receiver, as a restart: the
		// second must not send the first one's event ids again.
		rc := newReceiver(t, "client-secret", 0)
		for i := range 2 {
			b := setup(t, func(c *hubspot.Config) {
				c.Now = time.Now
				c.Webhook = hubspot.WebhookConfig{URL: rc.url, ClientSecret: "client-secret", BatchWindow: time.Millisecond}
			})
			_, err := b.srv.Subscribe("company.creation", "")
			require.NoError(t, err)
			for range 3 {
				_, err := b.srv.Put("companies", map[string]string{"name": "x"})
				require.NoError(t, err)
			}
			require.Eventually(t, func() bool { return len(rc.snapshot()) == 3*(i+1) }, 5*time.Second, 5*time.Millisecond)
			require.NoError(t, b.srv.Close())
			time.Sleep(2 * time.Millisecond) // the restart takes longer than sending 3 events
		}
		seen := map[int64]bool{}
		for _, ev := range rc.snapshot() {
			require.False(t, seen[ev.EventID], "event id %d sent twice", ev.EventID)
			require.Less(t, ev.EventID, int64(1)<<53, "ids stay exact in JavaScript clients")
			seen[ev.EventID] = true
		}
	})

	t.Run("DeliversSignedEvents", func(t *testing.T) {
		t.Parallel()
		rc := newReceiver(t, "client-secret", 0)
		b := setup(t, func(c *hubspot.Config) {
			c.Now = time.Now
			c.Webhook = hubspot.WebhookConfig{URL: rc.url, ClientSecret: "client-secret", AppID: 77, BatchWindow: 5 * time.Millisecond}
		})
		for _, sub := range []map[string]any{
			{"eventType": "company.creation", "active": true},
			{"eventType": "company.propertyChange", "propertyName": "city", "active": true},
		} {
			resp, body := b.do(t, http.MethodPost, "/webhooks/v3/77/subscriptions", sub)
			require.Equal(t, http.StatusCreated, resp.StatusCode, "%v", body)
		}
		resp, body := b.do(t, http.MethodGet, "/webhooks/v3/77/subscriptions", nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Len(t, results(body), 2)
		resp, _ = b.do(t, http.MethodGet, "/webhooks/v3/78/subscriptions", nil)
		require.Equal(t, http.StatusNotFound, resp.StatusCode)

		id := b.create(t, "companies", map[string]any{"name": "Alfreds", "city": "Berlin"})
		_, err := b.srv.Update("companies", id, map[string]string{"city": "Hamburg", "name": "Alfreds F."})
		require.NoError(t, err)
		_, err = b.srv.Put("contacts", map[string]string{"email": "x@example.com"}) // no subscription
		require.NoError(t, err)

		require.Eventually(t, func() bool { return len(rc.snapshot()) == 2 }, 5*time.Second, 10*time.Millisecond)
		evs := rc.snapshot()
		require.Zero(t, rc.badSig.Load(), "every delivery verifies with the independent implementation")
		oid, _ := strconv.ParseInt(id, 10, 64)
		require.Equal(t, "company.creation", evs[0].SubscriptionType)
		require.Equal(t, "CREATED", evs[0].ChangeFlag)
		require.Equal(t, hubspot.SourceIntegration, evs[0].ChangeSource)
		require.Equal(t, oid, evs[0].ObjectID)
		require.EqualValues(t, 77, evs[0].AppID)
		require.NotZero(t, evs[0].PortalID)
		require.NotZero(t, evs[0].OccurredAt)
		require.Equal(t, "company.propertyChange", evs[1].SubscriptionType)
		require.Equal(t, "city", evs[1].PropertyName)
		require.Equal(t, "Hamburg", *evs[1].PropertyValue)
		require.Equal(t, hubspot.SourceCRMUI, evs[1].ChangeSource)
		require.NotEqual(t, evs[0].EventID, evs[1].EventID)
		// The receiver has the events before the sandbox has its answer:
		// wait for the sandbox to count the delivery.
		require.Eventually(t, func() bool {
			delivered, _ := b.srv.WebhookStats()
			return delivered == 2
		}, 5*time.Second, 10*time.Millisecond)
		_, failed := b.srv.WebhookStats()
		require.Zero(t, failed)
	})

	t.Run("RetriesWithBackoff", func(t *testing.T) {
		t.Parallel()
		rc := newReceiver(t, "s", 2)
		b := setup(t, func(c *hubspot.Config) {
			c.Now = time.Now
			c.Webhook = hubspot.WebhookConfig{URL: rc.url, ClientSecret: "s", MaxAttempts: 4, Backoff: 5 * time.Millisecond, BatchWindow: time.Millisecond}
		})
		_, err := b.srv.Subscribe("deal.creation", "")
		require.NoError(t, err)
		_, err = b.srv.Put("deals", map[string]string{"dealname": "D"})
		require.NoError(t, err)
		require.Eventually(t, func() bool { return len(rc.snapshot()) == 1 }, 5*time.Second, 5*time.Millisecond)
		require.Equal(t, 2, rc.snapshot()[0].AttemptNumber, "third attempt is number 2")
		require.EqualValues(t, 3, rc.calls.Load())
		require.Zero(t, rc.badSig.Load(), "each attempt is re-signed")
	})

	t.Run("GivesUpAfterMaxAttempts", func(t *testing.T) {
		t.Parallel()
		rc := newReceiver(t, "s", 1000)
		b := setup(t, func(c *hubspot.Config) {
			c.Now = time.Now
			c.Webhook = hubspot.WebhookConfig{URL: rc.url, ClientSecret: "s", MaxAttempts: 3, Backoff: time.Millisecond, BatchWindow: time.Millisecond}
		})
		_, err := b.srv.Subscribe("product.deletion", "")
		require.NoError(t, err)
		o, err := b.srv.Put("products", map[string]string{"name": "P"})
		require.NoError(t, err)
		require.NoError(t, b.srv.Archive("products", o.ID))
		require.Eventually(t, func() bool { _, f := b.srv.WebhookStats(); return f == 1 }, 5*time.Second, 5*time.Millisecond)
		require.EqualValues(t, 3, rc.calls.Load(), "bounded retries")
	})

	t.Run("ErrBadSubscription", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		_, err := b.srv.Subscribe("ticket.creation", "")
		require.Error(t, err)
		_, err = b.srv.Subscribe("company.propertyChange", "no_such_property")
		require.Error(t, err)
	})
}
