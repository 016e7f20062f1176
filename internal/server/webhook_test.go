package server_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/memory"
	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/queue"
	"github.com/concord-sync/concord/internal/server"
	"github.com/concord-sync/concord/internal/store"
	"github.com/concord-sync/concord/internal/store/pgstore"
	"github.com/concord-sync/concord/internal/store/sqlitestore"
	"github.com/concord-sync/concord/internal/store/storetest"
)

const secret = "s3cret"

// pushCRM is an in-memory CRM that pushes webhooks signed with HMAC-SHA256 over
// timestamp + body, refusing timestamps older than 5 minutes.
type pushCRM struct {
	*memory.Conn
	// gets counts the record reads (Get calls) and the ids read.
	gets, read *atomic.Int64
	// gate, when set, holds every read after it took the records' values,
	// until the test lets it go.
	gate *getGate
}

// getGate holds a read: the read sends on reading, then waits on release.
type getGate struct{ reading, release chan struct{} }

func (c pushCRM) Get(ctx context.Context, entity model.Entity, ids []string) (map[string]model.Record, error) {
	c.gets.Add(1)
	c.read.Add(int64(len(ids)))
	recs, err := c.Conn.Get(ctx, entity, ids)
	if c.gate != nil {
		c.gate.reading <- struct{}{}
		<-c.gate.release
	}
	return recs, err
}

type delivery struct {
	ID     string `json:"id"`
	Key    string `json:"key"`
	Entity string `json:"entity"`
	Record string `json:"record"`
	// Skip makes the event unroutable, with this reason.
	Skip string `json:"skip"`
}

func sign(ts, body string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + body))
	return hex.EncodeToString(m.Sum(nil))
}

func (c pushCRM) VerifyWebhook(r *http.Request, body []byte) ([]connector.WebhookEvent, error) {
	ts := r.Header.Get("X-Timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("timestamp: %w", connector.ErrWebhookMalformed)
	}
	if !hmac.Equal([]byte(sign(ts, string(body))), []byte(r.Header.Get("X-Signature"))) {
		return nil, connector.ErrWebhookForged
	}
	if time.Since(time.Unix(sec, 0)) > 5*time.Minute {
		return nil, connector.ErrWebhookStale
	}
	var ds []delivery
	if err := json.Unmarshal(body, &ds); err != nil {
		return nil, fmt.Errorf("%w: %v", connector.ErrWebhookMalformed, err)
	}
	out := make([]connector.WebhookEvent, len(ds))
	for i, d := range ds {
		out[i] = connector.WebhookEvent{ID: d.ID, Key: d.Key, Entity: model.Entity(d.Entity), RecordID: d.Record, Unrouted: d.Skip}
	}
	return out, nil
}

type testBundle struct {
	ctx  context.Context
	st   store.Store
	crm  pushCRM
	erp  *memory.Conn
	q    *queue.Queue
	eng  *engine.Engine
	recv *server.Receiver
	srv  *httptest.Server
	// postgres makes the store PostgreSQL (a schema of the test's own on
	// TEST_DATABASE_URL) instead of SQLite.
	postgres bool
	// wrap, when set, wraps the engine as the receiver's Announcer.
	wrap func(server.Announcer) server.Announcer
}

// setup builds the bundle; opts change it before the engine and receiver are
// built from it.
func setup(t *testing.T, opts ...func(*testBundle)) *testBundle {
	t.Helper()
	b := &testBundle{ctx: context.Background(), crm: pushCRM{Conn: memory.New("crm", model.Account), gets: &atomic.Int64{}, read: &atomic.Int64{}}, erp: memory.New("erp", model.Account)}
	for _, o := range opts {
		o(b)
	}
	var err error
	if b.postgres {
		b.st, err = pgstore.Open(b.ctx, storetest.PostgresSchema(t, storetest.PostgresURL(t)), storetest.Logger(t))
	} else {
		b.st, err = sqlitestore.Open(b.ctx, t.TempDir()+"/concord.db", storetest.Logger(t))
	}
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.st.Close() })
	name, _ := model.LookupField(model.Account, "name")
	leg := engine.Leg{Name: "customers", Flow: "customers", Source: "crm", Target: "erp", Entity: model.Account, Fields: []string{"name"},
		Trigger: engine.TriggerChange, Owners: map[string]string{"name": "crm"}, Defs: map[string]model.FieldDef{"name": name}}
	b.q, err = queue.New(b.ctx, b.st, queue.Config{Legs: []string{"customers"}, PollInterval: 10 * time.Millisecond}, storetest.Logger(t))
	require.NoError(t, err)
	conns := map[string]connector.Connector{"crm": b.crm, "erp": b.erp}
	b.eng, err = engine.New(engine.Params{Store: b.st, Connectors: conns, Legs: []engine.Leg{leg}, Queue: b.q})
	require.NoError(t, err)
	var ann server.Announcer = b.eng
	if b.wrap != nil {
		ann = b.wrap(b.eng)
	}
	b.recv = server.NewReceiver(b.st, server.Verifiers(conns), ann, storetest.Logger(t))
	mux := http.NewServeMux()
	b.recv.Register(mux)
	b.srv = httptest.NewServer(mux)
	t.Cleanup(b.srv.Close)
	return b
}

func (b *testBundle) post(t *testing.T, system, body string, ts time.Time, sig string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.srv.URL+"/webhooks/"+system, strings.NewReader(body))
	require.NoError(t, err)
	stamp := strconv.FormatInt(ts.Unix(), 10)
	if sig == "" {
		sig = sign(stamp, body)
	}
	req.Header.Set("X-Timestamp", stamp)
	req.Header.Set("X-Signature", sig)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var sb strings.Builder
	_, _ = fmt.Fscan(resp.Body, &sb)
	return resp, sb.String()
}

func (b *testBundle) pending(t *testing.T) int {
	t.Helper()
	n, err := b.q.Pending(b.ctx)
	require.NoError(t, err)
	return n
}

func (b *testBundle) drain(t *testing.T) {
	t.Helper()
	require.NoError(t, b.q.Start(b.ctx, b.eng))
	t.Cleanup(func() { _ = b.q.Stop(context.Background()) })
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	require.NoError(t, b.q.Drain(ctx, 5*time.Millisecond))
}

func (b *testBundle) count(t *testing.T, query string) int {
	t.Helper()
	var n int
	require.NoError(t, b.st.DB().QueryRowContext(b.ctx, query).Scan(&n))
	return n
}

func TestReceiver(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for i := range 3 {
			b.crm.Put(model.Record{Entity: model.Account, ID: fmt.Sprintf("c%d", i), Fields: model.Fields{"name": model.Text(fmt.Sprintf("Company %d", i))}})
		}
		body := `[{"id":"e1","entity":"account","record":"c0"},{"id":"e2","entity":"account","record":"c1"},{"id":"e3","entity":"account","record":"c1"},{"id":"e4","entity":"invoice","record":"i9"}]`
		resp, out := b.post(t, "crm", body, time.Now(), "")
		require.Equal(t, http.StatusOK, resp.StatusCode, out)
		require.Equal(t, 1, b.pending(t), "one batch for the one leg that reads crm accounts; nothing fetched yet")
		require.Zero(t, b.erp.Count(model.Account), "the request did no sync work")

		// The sender retries the same delivery: nothing new is queued.
		resp, _ = b.post(t, "crm", body, time.Now(), "")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, 1, b.pending(t))
		st := b.recv.Stats()[0]
		require.Equal(t, server.WebhookStats{System: "crm", Deliveries: 2, Events: 2, Duplicates: 4, Unrouted: 1}, st)

		// The workers read the announced records from the CRM and apply them.
		require.NoError(t, b.q.Start(b.ctx, b.eng))
		t.Cleanup(func() { _ = b.q.Stop(context.Background()) })
		ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
		defer cancel()
		require.NoError(t, b.q.Drain(ctx, 5*time.Millisecond))
		require.Equal(t, 2, b.erp.Count(model.Account), "c0 and c1, not c2 which was not announced")
	})

	t.Run("ErrRefused", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		body := `[{"id":"e1","entity":"account","record":"c0"}]`
		resp, _ := b.post(t, "crm", body, time.Now(), "forged")
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		resp, _ = b.post(t, "crm", body, time.Now().Add(-10*time.Minute), "")
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "a replayed old delivery")
		resp, _ = b.post(t, "crm", `{not json`, time.Now(), "")
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		resp, _ = b.post(t, "erp", body, time.Now(), "")
		require.Equal(t, http.StatusNotFound, resp.StatusCode, "erp pushes no webhooks")
		resp, _ = b.post(t, "crm", strings.Repeat("x", server.MaxBody+1), time.Now(), "")
		require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)

		require.Equal(t, server.WebhookStats{System: "crm", Forged: 1, Stale: 1, Malformed: 2}, b.recv.Stats()[0])
		require.Zero(t, b.pending(t))
		var n int
		require.NoError(t, b.st.DB().QueryRowContext(b.ctx, `SELECT count(*) FROM concord_webhook_event`).Scan(&n))
		require.Zero(t, n, "refused deliveries store nothing")
	})
}

func TestReceiver_Unrouted(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.crm.Put(model.Record{Entity: model.Account, ID: "c0", Fields: model.Fields{"name": model.Text("Acme")}})
	// An association change the connector cannot route sits between two valid
	// events: it is recorded and skipped, the others are queued, the reply is 2xx
	// (a refusal would make the sender retry and drop the valid events too).
	body := `[{"id":"e1","entity":"account","record":"c0"},{"id":"e2","record":"9","skip":"deal.associationChange events are not read"},{"id":"e3","entity":"account","record":"c1"}]`
	resp, out := b.post(t, "crm", body, time.Now(), "")
	require.Equal(t, http.StatusOK, resp.StatusCode, out)
	require.Equal(t, server.WebhookStats{System: "crm", Deliveries: 1, Events: 2, Unrouted: 1}, b.recv.Stats()[0])
	require.Equal(t, 1, b.pending(t))
	require.Equal(t, 3, b.count(t, `SELECT count(*) FROM concord_webhook_event`), "all three recorded")
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM concord_webhook_event WHERE skipped = 'deal.associationChange events are not read'`))

	// Delivered again: all three are duplicates, the skipped one included.
	resp, _ = b.post(t, "crm", body, time.Now(), "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, server.WebhookStats{System: "crm", Deliveries: 2, Events: 2, Duplicates: 3, Unrouted: 1}, b.recv.Stats()[0])

	b.drain(t)
	require.Equal(t, 1, b.erp.Count(model.Account), "c0 synced; c1 does not exist in the CRM")
}

func TestReceiver_DedupKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.crm.Put(model.Record{Entity: model.Account, ID: "c0", Fields: model.Fields{"name": model.Text("Acme")}})
	b.crm.Put(model.Record{Entity: model.Account, ID: "c1", Fields: model.Fields{"name": model.Text("Bolt")}})
	// The sender reuses event id 1 for two distinct events (HubSpot does not
	// promise unique ids; the sandbox restarted at 1): both are taken.
	resp, _ := b.post(t, "crm", `[{"id":"1","key":"k-a","entity":"account","record":"c0"}]`, time.Now(), "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, _ = b.post(t, "crm", `[{"id":"1","key":"k-b","entity":"account","record":"c1"}]`, time.Now(), "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	// A retried delivery of the first (same key) is not.
	resp, _ = b.post(t, "crm", `[{"id":"1","key":"k-a","entity":"account","record":"c0"}]`, time.Now(), "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, server.WebhookStats{System: "crm", Deliveries: 3, Events: 2, Duplicates: 1}, b.recv.Stats()[0])
	b.drain(t)
	require.Equal(t, 2, b.erp.Count(model.Account), "the second event with id 1 was not dropped")
}

func TestReceiver_Coalesce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.crm.Put(model.Record{Entity: model.Account, ID: "c0", Fields: model.Fields{"name": model.Text("Acme 0")}})
	// 50 deliveries announce the same record before the worker runs.
	for i := range 50 {
		b.crm.Put(model.Record{Entity: model.Account, ID: "c0", Fields: model.Fields{"name": model.Text(fmt.Sprintf("Acme %d", i))}})
		resp, out := b.post(t, "crm", fmt.Sprintf(`[{"id":"e%d","entity":"account","record":"c0"}]`, i), time.Now(), "")
		require.Equal(t, http.StatusOK, resp.StatusCode, out)
	}
	require.Equal(t, 1, b.pending(t), "one job for the record, not 50")
	require.Equal(t, int64(50), b.recv.Stats()[0].Events, "every event recorded")

	b.drain(t)
	require.Equal(t, int64(1), b.crm.gets.Load(), "one read of the record")
	rec := b.erp.All(model.Account)
	require.Len(t, rec, 1)
	for _, r := range rec {
		require.Equal(t, model.Text("Acme 49"), r.Fields["name"], "the latest values")
	}

	// The job has started and finished: the next announcement queues a new job,
	// which reads the change the first read could not have seen.
	b.crm.Put(model.Record{Entity: model.Account, ID: "c0", Fields: model.Fields{"name": model.Text("Acme 50")}})
	resp, _ := b.post(t, "crm", `[{"id":"e50","entity":"account","record":"c0"}]`, time.Now(), "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	require.NoError(t, b.q.Drain(ctx, 5*time.Millisecond))
	require.Equal(t, int64(2), b.crm.gets.Load())
	rec = b.erp.All(model.Account)
	require.Len(t, rec, 1)
	for _, r := range rec {
		require.Equal(t, model.Text("Acme 50"), r.Fields["name"])
	}
}
