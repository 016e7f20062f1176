package hubspot_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/hubspot"
	"github.com/concord-sync/concord/internal/model"
	sandbox "github.com/concord-sync/concord/internal/sandbox/hubspot"
)

const secret = "client-secret-123"

var fixedNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// webhookConn opens a connector (against a throwaway sandbox) with a webhook
// secret and a fixed clock.
func webhookConn(t testing.TB) *hubspot.Conn {
	f := newFixture(t, sandbox.Config{})
	return f.open(t, f.with(map[string]any{"webhook_secret": secret, "entities": map[string]any{
		"account": map[string]any{}, "deal": map[string]any{},
	}}), hubspot.Options{Now: func() time.Time { return fixedNow }})
}

// independentSig computes the v3 signature from HubSpot's documented recipe,
// without the package's code.
func independentSig(method, uri string, body []byte, ts string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(method + uri + string(body) + ts))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func delivery(body []byte, sig, ts string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "https://concord.example.com/webhooks/crm?portal=1", bytes.NewReader(body))
	if sig != "" {
		r.Header.Set(hubspot.HeaderSignatureV3, sig)
	}
	if ts != "" {
		r.Header.Set(hubspot.HeaderTimestamp, ts)
	}
	return r
}

const uri = "https://concord.example.com/webhooks/crm?portal=1"

var events = []byte(`[{"eventId":101,"subscriptionId":7,"portalId":62515,"appId":1,"occurredAt":1748779200000,"subscriptionType":"company.propertyChange","attemptNumber":0,"objectId":1234,"propertyName":"name","propertyValue":"Acme","changeSource":"CRM_UI"},
{"eventId":102,"subscriptionType":"deal.creation","objectId":99,"occurredAt":1748779200000},
{"eventId":103,"subscriptionType":"contact.creation","objectId":5,"occurredAt":1748779200000}]`)

func TestConn_VerifyWebhook(t *testing.T) {
	t.Parallel()
	c := webhookConn(t)
	ts := strconv.FormatInt(fixedNow.Add(-time.Minute).UnixMilli(), 10)

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		for name, sig := range map[string]string{
			"sandbox":     sandbox.SignatureV3(secret, http.MethodPost, uri, events, ts),
			"independent": independentSig(http.MethodPost, uri, events, ts),
		} {
			got, err := c.VerifyWebhook(delivery(events, sig, ts), events)
			require.NoError(t, err, name)
			require.Len(t, got, 3, name)
			for i := range got {
				require.Regexp(t, `^hs1:[0-9a-f]{64}$`, got[i].Key)
				got[i].Key = ""
			}
			require.Equal(t, []connector.WebhookEvent{
				{ID: "101", Entity: model.Account, RecordID: "1234"},
				{ID: "102", Entity: model.Deal, RecordID: "99"},
				{ID: "103", RecordID: "5", Unrouted: "object type contact is not in this system's entities"},
			}, got, "contacts are not mapped: kept, unrouted (%s)", name)
		}
	})

	t.Run("GenericFormat", func(t *testing.T) {
		t.Parallel()
		body := []byte(`[{"eventId":1,"subscriptionId":9,"portalId":62515,"appId":1,"occurredAt":1748779200000,"subscriptionType":"object.propertyChange","objectTypeId":"0-2","attemptNumber":0,"objectId":11,"propertyName":"name","propertyValue":"Acme","changeSource":"CRM_UI"},
{"eventId":2,"subscriptionType":"object.creation","objectTypeId":"0-3","objectId":12,"occurredAt":1748779200000},
{"eventId":3,"subscriptionType":"object.deletion","objectTypeId":"0-2","objectId":13,"occurredAt":1748779200000},
{"eventId":4,"subscriptionType":"object.creation","objectTypeId":"0-1","objectId":14,"occurredAt":1748779200000},
{"eventId":5,"subscriptionType":"object.creation","objectTypeId":"2-999","objectId":15,"occurredAt":1748779200000},
{"eventId":6,"subscriptionType":"object.creation","objectId":16,"occurredAt":1748779200000}]`)
		got, err := c.VerifyWebhook(delivery(body, independentSig(http.MethodPost, uri, body, ts), ts), body)
		require.NoError(t, err)
		require.Len(t, got, 6)
		want := []struct {
			entity   model.Entity
			record   string
			unrouted string
		}{
			{model.Account, "11", ""},
			{model.Deal, "12", ""},
			{model.Account, "13", ""},
			{"", "14", "object type contacts (objectTypeId 0-1) is not in this system's entities"},
			{"", "15", "object type 2-999 (objectTypeId 2-999) is not in this system's entities"},
			{"", "16", "object.creation event without objectTypeId"},
		}
		for i, w := range want {
			require.Equal(t, w.entity, got[i].Entity, "event %d", i)
			require.Equal(t, w.record, got[i].RecordID, "event %d", i)
			require.Equal(t, w.unrouted, got[i].Unrouted, "event %d", i)
		}
	})

	t.Run("Unrouted", func(t *testing.T) {
		t.Parallel()
		// One delivery: an association change and an unknown type are kept with a
		// reason; the company change next to them is routed.
		body := []byte(`[{"eventId":1,"subscriptionType":"deal.associationChange","objectId":99,"associationType":"DEAL_TO_COMPANY","fromObjectId":99,"toObjectId":1234,"associationRemoved":false,"occurredAt":1748779200000},
{"eventId":2,"subscriptionType":"company.propertyChange","objectId":1234,"propertyName":"name","propertyValue":"Acme","occurredAt":1748779200000},
{"eventId":3,"subscriptionType":"conversation.creation","objectId":7,"occurredAt":1748779200000},
{"eventId":4,"subscriptionType":"company.creation","objectId":"x1","occurredAt":1748779200000},
{"eventId":5,"subscriptionType":"deal.merge","objectId":50,"primaryObjectId":51,"mergedObjectIds":[50],"newObjectId":0,"occurredAt":1748779200000}]`)
		got, err := c.VerifyWebhook(delivery(body, independentSig(http.MethodPost, uri, body, ts), ts), body)
		require.NoError(t, err, "one unroutable event does not refuse the delivery")
		require.Len(t, got, 5)
		require.Equal(t, "deal.associationChange events are not read", got[0].Unrouted)
		require.Equal(t, "99", got[0].RecordID)
		require.Empty(t, got[1].Unrouted)
		require.Equal(t, model.Account, got[1].Entity)
		require.Equal(t, "object type conversation is not in this system's entities", got[2].Unrouted)
		require.Contains(t, got[3].Unrouted, "unreadable event: ", "objectId is not a number")
		require.Empty(t, got[4].Unrouted)
		require.Equal(t, "51", got[4].RecordID, "a merge reads the surviving record")
	})

	t.Run("DedupKey", func(t *testing.T) {
		t.Parallel()
		// HubSpot: eventId "is not guaranteed to be unique". Events 1 and 2 share
		// it and differ in value; 3 is event 1 delivered again (attemptNumber 2,
		// keys in another order).
		body := []byte(`[{"eventId":7,"subscriptionId":9,"portalId":1,"occurredAt":1748779200000,"subscriptionType":"company.propertyChange","attemptNumber":0,"objectId":1234,"propertyName":"name","propertyValue":"Acme"},
{"eventId":7,"subscriptionId":9,"portalId":1,"occurredAt":1748779200000,"subscriptionType":"company.propertyChange","attemptNumber":0,"objectId":1234,"propertyName":"name","propertyValue":"Acme Ltd"},
{"attemptNumber":2,"objectId":1234,"eventId":7, "subscriptionId":9,"portalId":1,"occurredAt":1748779200000,"subscriptionType":"company.propertyChange","propertyName":"name","propertyValue":"Acme"},
{"eventId":7,"subscriptionId":9,"portalId":1,"occurredAt":1748779200001,"subscriptionType":"company.propertyChange","attemptNumber":0,"objectId":1234,"propertyName":"name","propertyValue":"Acme"}]`)
		got, err := c.VerifyWebhook(delivery(body, independentSig(http.MethodPost, uri, body, ts), ts), body)
		require.NoError(t, err)
		require.Len(t, got, 4)
		for _, ev := range got {
			require.Equal(t, "7", ev.ID)
		}
		require.NotEqual(t, got[0].Key, got[1].Key, "distinct values: distinct events")
		require.Equal(t, got[0].Key, got[2].Key, "a retried delivery: the same event")
		require.NotEqual(t, got[0].Key, got[3].Key, "another moment: another event")
	})

	t.Run("ClockSkew", func(t *testing.T) {
		t.Parallel()
		ahead := strconv.FormatInt(fixedNow.Add(5*time.Second).UnixMilli(), 10)
		_, err := c.VerifyWebhook(delivery(events, independentSig(http.MethodPost, uri, events, ahead), ahead), events)
		require.NoError(t, err, "HubSpot's clock a few seconds ahead of ours")
		old := strconv.FormatInt(fixedNow.Add(-5*time.Minute+time.Second).UnixMilli(), 10)
		_, err = c.VerifyWebhook(delivery(events, independentSig(http.MethodPost, uri, events, old), old), events)
		require.NoError(t, err, "just inside the 5 minutes")
	})

	t.Run("ErrForged", func(t *testing.T) {
		t.Parallel()
		sig := independentSig(http.MethodPost, uri, events, ts)
		tampered := bytes.Replace(events, []byte("1234"), []byte("4321"), 1)
		_, err := c.VerifyWebhook(delivery(tampered, sig, ts), tampered)
		require.ErrorIs(t, err, hubspot.ErrWebhookForged)
		other := hmac.New(sha256.New, []byte("wrong secret"))
		other.Write([]byte(http.MethodPost + uri + string(events) + ts))
		_, err = c.VerifyWebhook(delivery(events, base64.StdEncoding.EncodeToString(other.Sum(nil)), ts), events)
		require.ErrorIs(t, err, hubspot.ErrWebhookForged)
		_, err = c.VerifyWebhook(delivery(events, "not base64!", ts), events)
		require.ErrorIs(t, err, hubspot.ErrWebhookForged)
	})

	t.Run("ErrStale", func(t *testing.T) {
		t.Parallel()
		old := strconv.FormatInt(fixedNow.Add(-5*time.Minute-time.Second).UnixMilli(), 10)
		_, err := c.VerifyWebhook(delivery(events, independentSig(http.MethodPost, uri, events, old), old), events)
		require.ErrorIs(t, err, hubspot.ErrWebhookStale)
		future := strconv.FormatInt(fixedNow.Add(2*time.Minute).UnixMilli(), 10)
		_, err = c.VerifyWebhook(delivery(events, independentSig(http.MethodPost, uri, events, future), future), events)
		require.ErrorIs(t, err, hubspot.ErrWebhookStale, "beyond the clock skew: a forged far-future stamp would stay valid too long")
		require.ErrorContains(t, err, "ahead of this machine's clock")
	})

	t.Run("ErrMalformed", func(t *testing.T) {
		t.Parallel()
		_, err := c.VerifyWebhook(delivery(events, "", ts), events)
		require.ErrorIs(t, err, hubspot.ErrWebhookMalformed)
		_, err = c.VerifyWebhook(delivery(events, "x", "yesterday"), events)
		require.ErrorIs(t, err, hubspot.ErrWebhookMalformed)
		body := []byte(`{"not":"an array"}`)
		_, err = c.VerifyWebhook(delivery(body, independentSig(http.MethodPost, uri, body, ts), ts), body)
		require.ErrorIs(t, err, hubspot.ErrWebhookMalformed)
	})

	t.Run("ErrUnconfigured", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, sandbox.Config{})
		_, err := f.open(t, nil).VerifyWebhook(delivery(events, "x", ts), events)
		require.ErrorIs(t, err, hubspot.ErrWebhookUnconfigured)
	})
}

// TestConn_VerifyWebhookDelivered receives real deliveries from the sandbox.
func TestConn_VerifyWebhookDelivered(t *testing.T) {
	t.Parallel()
	got := make(chan []connector.WebhookEvent, 10)
	var c *hubspot.Conn
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		evs, err := c.VerifyWebhook(r, body)
		if err != nil {
			t.Errorf("verify: %v", err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		got <- evs
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(recv.Close)
	f := newFixture(t, sandbox.Config{Webhook: sandbox.WebhookConfig{URL: recv.URL + "/webhooks/crm", ClientSecret: secret}})
	c = f.open(t, f.with(map[string]any{"webhook_secret": secret}))
	_, err := f.srv.Subscribe("company.creation", "")
	require.NoError(t, err)
	o, err := f.srv.Put("companies", map[string]string{"name": "Hooked"})
	require.NoError(t, err)
	select {
	case evs := <-got:
		require.Len(t, evs, 1)
		require.Equal(t, model.Account, evs[0].Entity)
		require.Equal(t, o.ID, evs[0].RecordID)
		require.NotEmpty(t, evs[0].ID)
	case <-time.After(5 * time.Second):
		require.FailNow(t, "no delivery")
	}
	_, failed := f.srv.WebhookStats()
	require.Zero(t, failed)
	_ = context.Background()
}

// TestConn_VerifyWebhookGeneric receives real deliveries of HubSpot's generic
// format (object.* with objectTypeId) from the sandbox.
func TestConn_VerifyWebhookGeneric(t *testing.T) {
	t.Parallel()
	got := make(chan []connector.WebhookEvent, 10)
	var c *hubspot.Conn
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		evs, err := c.VerifyWebhook(r, body)
		if err != nil {
			t.Errorf("verify: %v", err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		got <- evs
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(recv.Close)
	f := newFixture(t, sandbox.Config{Webhook: sandbox.WebhookConfig{URL: recv.URL + "/webhooks/crm", ClientSecret: secret, BatchWindow: time.Millisecond}})
	c = f.open(t, f.with(map[string]any{"webhook_secret": secret}))
	_, err := f.srv.SubscribeObject("object.propertyChange", "0-2", "name")
	require.NoError(t, err)
	_, err = f.srv.SubscribeObject("object.creation", "0-7", "")
	require.NoError(t, err)
	o, err := f.srv.Put("companies", map[string]string{"name": "Hooked"})
	require.NoError(t, err)
	for _, name := range []string{"Hooked again", "Hooked once more"} {
		_, err = f.srv.Update("companies", o.ID, map[string]string{"name": name})
		require.NoError(t, err)
	}
	var evs []connector.WebhookEvent
	for len(evs) < 2 {
		select {
		case batch := <-got:
			evs = append(evs, batch...)
		case <-time.After(5 * time.Second):
			require.FailNow(t, "no delivery", "got %d events", len(evs))
		}
	}
	require.Len(t, evs, 2, "two name changes (a creation is no propertyChange); no product was created")
	for _, ev := range evs {
		require.Empty(t, ev.Unrouted)
		require.Equal(t, model.Account, ev.Entity)
		require.Equal(t, o.ID, ev.RecordID)
	}
	require.NotEqual(t, evs[0].Key, evs[1].Key)
}

func FuzzVerifyWebhook(f *testing.F) {
	f.Add(events, "", false)
	f.Add([]byte(`[]`), "", false)
	f.Add([]byte(`[{"eventId":1,"subscriptionType":"company.creation","objectId":-1}]`), "", false)
	f.Add([]byte(`[{"eventId":"1","subscriptionType":"deal","objectId":1e99}]`), "", true)
	f.Add([]byte(`null`), "garbage", true)
	c := webhookConn(f)
	ts := strconv.FormatInt(fixedNow.UnixMilli(), 10)
	f.Fuzz(func(t *testing.T, body []byte, sig string, sign bool) {
		if sign {
			sig = independentSig(http.MethodPost, uri, body, ts)
		}
		evs, err := c.VerifyWebhook(delivery(body, sig, ts), body)
		if !sign {
			// Without the secret nothing passes (an empty or random signature).
			require.Error(t, err)
			require.Nil(t, evs)
			return
		}
		if err != nil {
			require.ErrorIs(t, err, hubspot.ErrWebhookMalformed)
			return
		}
		for _, ev := range evs {
			require.NotEmpty(t, ev.Key)
			if ev.Unrouted != "" {
				require.Empty(t, ev.Entity)
				continue
			}
			require.NotEmpty(t, ev.RecordID)
			require.True(t, ev.Entity == model.Account || ev.Entity == model.Deal)
		}
	})
}
