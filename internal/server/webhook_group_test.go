package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/server"
	"github.com/concord-sync/concord/internal/store"
	"github.com/concord-sync/concord/internal/store/storetest"
)

// send posts a signed delivery from any goroutine and returns the status and
// the answer's body.
func (b *testBundle) send(body string) (int, string, error) {
	req, err := http.NewRequest(http.MethodPost, b.srv.URL+"/webhooks/crm", strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	stamp := strconv.FormatInt(time.Now().Unix(), 10)
	req.Header.Set("X-Timestamp", stamp)
	req.Header.Set("X-Signature", sign(stamp, body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(out)), err
}

// eachStore runs f as subtest sqlite and, with TEST_DATABASE_URL (required
// when CI=true), postgres; store is the setup option that picks the store
// (each setup gets a store of its own).
func eachStore(t *testing.T, f func(t *testing.T, store func(*testBundle))) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		f(t, func(*testBundle) {})
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		storetest.PostgresURL(t) // skips (or fails when CI=true) without it
		f(t, func(b *testBundle) { b.postgres = true })
	})
}

// hookAnnouncer counts the calls to the engine's EnqueueAnnounced, can hold the
// first one (inside its transaction) until released, and refuses the calls
// naming the record fail.
type hookAnnouncer struct {
	next    server.Announcer
	calls   atomic.Int64
	entered chan struct{}
	release chan struct{}
	fail    string
}

func (h *hookAnnouncer) EnqueueAnnounced(ctx context.Context, tx store.Tx, system string, entity model.Entity, ids []string) (int, error) {
	if h.calls.Add(1) == 1 && h.release != nil {
		h.entered <- struct{}{}
		<-h.release
	}
	if h.fail != "" && slices.Contains(ids, h.fail) {
		return 0, errors.New("refused by the test")
	}
	return h.next.EnqueueAnnounced(ctx, tx, system, entity, ids)
}

// TestReceiver_CoalesceRecords: deliveries about many distinct records made
// while their job waits join that job: one job per leg, one read of all of them.
func TestReceiver_CoalesceRecords(t *testing.T) {
	t.Parallel()
	eachStore(t, testCoalesceRecords)
}

func testCoalesceRecords(t *testing.T, store func(*testBundle)) {
	b := setup(t, store)
	for i := range 40 {
		id := fmt.Sprintf("c%d", i)
		b.crm.Put(model.Record{Entity: model.Account, ID: id, Fields: model.Fields{"name": model.Text("Company " + id)}})
		resp, out := b.post(t, "crm", fmt.Sprintf(`[{"id":"e%d","entity":"account","record":%q}]`, i, id), time.Now(), "")
		require.Equal(t, http.StatusOK, resp.StatusCode, out)
	}
	require.Equal(t, 1, b.pending(t), "40 records announced one by one wait as one job")
	b.drain(t)
	require.Equal(t, int64(1), b.crm.gets.Load(), "one read")
	require.Equal(t, int64(40), b.crm.read.Load(), "of the 40 records")
	require.Equal(t, 40, b.erp.Count(model.Account))
}

// TestReceiver_ChangeWhileRunning: a record announced again while its job runs
// (after the job read it) is not merged into the running job: a new job reads
// it afterwards, so the change is applied.
func TestReceiver_ChangeWhileRunning(t *testing.T) {
	t.Parallel()
	eachStore(t, testChangeWhileRunning)
}

func testChangeWhileRunning(t *testing.T, store func(*testBundle)) {
	gate := &getGate{reading: make(chan struct{}, 10), release: make(chan struct{})}
	b := setup(t, store, func(b *testBundle) { b.crm.gate = gate })
	b.crm.Put(model.Record{Entity: model.Account, ID: "c0", Fields: model.Fields{"name": model.Text("Acme v1")}})
	resp, out := b.post(t, "crm", `[{"id":"e1","entity":"account","record":"c0"}]`, time.Now(), "")
	require.Equal(t, http.StatusOK, resp.StatusCode, out)

	require.NoError(t, b.q.Start(b.ctx, b.eng))
	var release sync.Once
	t.Cleanup(func() {
		release.Do(func() { close(gate.release) }) // a failed test must not leave the worker held
		_ = b.q.Stop(context.Background())
	})
	select {
	case <-gate.reading: // the job runs: it has read v1 and is held
	case <-time.After(20 * time.Second):
		t.Fatal("the job did not read the record")
	}
	b.crm.Put(model.Record{Entity: model.Account, ID: "c0", Fields: model.Fields{"name": model.Text("Acme v2")}})
	code, out, err := b.send(`[{"id":"e2","entity":"account","record":"c0"}]`)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code, out)
	require.Equal(t, `{"queued":1,"duplicates":0,"unrouted":0}`, out)
	require.Equal(t, 2, b.pending(t), "the running job and a new one for the change it may have missed")

	release.Do(func() { close(gate.release) })
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	require.NoError(t, b.q.Drain(ctx, 5*time.Millisecond))
	require.Equal(t, int64(2), b.crm.gets.Load())
	recs := b.erp.All(model.Account)
	require.Len(t, recs, 1)
	for _, r := range recs {
		require.Equal(t, model.Text("Acme v2"), r.Fields["name"], "the change made while the first job ran is applied")
	}
}

// TestReceiver_GroupCommit: deliveries arriving while a transaction commits are
// stored together in the next one, each answered with its own counts; a
// delivery the store refuses fails alone.
func TestReceiver_GroupCommit(t *testing.T) {
	t.Parallel()
	eachStore(t, testGroupCommit)
}

func testGroupCommit(t *testing.T, store func(*testBundle)) {

	// held starts a delivery whose transaction is held, then sends bodies
	// concurrently while it is, releases it and returns the answers.
	held := func(t *testing.T, b *testBundle, h *hookAnnouncer, bodies []string) ([]int, []string) {
		t.Helper()
		var once sync.Once
		release := func() { once.Do(func() { close(h.release) }) }
		t.Cleanup(release) // a failed test must not leave the transaction held
		first := make(chan error, 1)
		go func() {
			code, out, err := b.send(`[{"id":"first","entity":"account","record":"c0"}]`)
			if err == nil && code != http.StatusOK {
				err = fmt.Errorf("first delivery: %d %s", code, out)
			}
			first <- err
		}()
		select {
		case <-h.entered:
		case <-time.After(20 * time.Second):
			t.Fatal("the first delivery did not reach its transaction")
		}
		codes, outs := make([]int, len(bodies)), make([]string, len(bodies))
		errs := make([]error, len(bodies))
		var wg sync.WaitGroup
		for i, body := range bodies {
			wg.Go(func() { codes[i], outs[i], errs[i] = b.send(body) })
		}
		// Give the deliveries time to be verified and wait for the commit;
		// a late one only makes a group of its own.
		time.Sleep(300 * time.Millisecond)
		release()
		wg.Wait()
		require.NoError(t, <-first)
		require.NoError(t, errors.Join(errs...))
		return codes, outs
	}

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		h := &hookAnnouncer{entered: make(chan struct{}, 1), release: make(chan struct{})}
		b := setup(t, store, func(b *testBundle) { b.wrap = func(a server.Announcer) server.Announcer { h.next = a; return h } })
		var bodies []string
		for i := 1; i <= 20; i++ {
			b.crm.Put(model.Record{Entity: model.Account, ID: fmt.Sprintf("c%d", i), Fields: model.Fields{"name": model.Text(fmt.Sprint("Company ", i))}})
			bodies = append(bodies, fmt.Sprintf(`[{"id":"e%d","entity":"account","record":"c%d"}]`, i, i))
		}
		// The same event delivered twice at once: one is queued, the other is a
		// duplicate, though both are in one transaction.
		bodies = append(bodies, `[{"id":"dup","entity":"account","record":"c1"}]`, `[{"id":"dup","entity":"account","record":"c1"}]`)
		codes, outs := held(t, b, h, bodies)
		var queued, dups int
		for i, code := range codes {
			require.Equal(t, http.StatusOK, code, outs[i])
			switch outs[i] {
			case `{"queued":1,"duplicates":0,"unrouted":0}`:
				queued++
			case `{"queued":0,"duplicates":1,"unrouted":0}`:
				dups++
			default:
				t.Fatalf("delivery %d answered %s", i, outs[i])
			}
		}
		require.Equal(t, 21, queued)
		require.Equal(t, 1, dups)
		require.LessOrEqual(t, h.calls.Load(), int64(3), "22 deliveries made one group (two at worst) after the held one, not 22 transactions")
		require.Equal(t, server.WebhookStats{System: "crm", Deliveries: 23, Events: 22, Duplicates: 1}, b.recv.Stats()[0])
		require.Equal(t, 22, b.count(t, `SELECT count(*) FROM concord_webhook_event`))
		b.drain(t)
		require.Equal(t, 20, b.erp.Count(model.Account), "c1..c20 (c0 does not exist in the CRM)")
	})

	t.Run("ErrOneRefused", func(t *testing.T) {
		t.Parallel()
		h := &hookAnnouncer{entered: make(chan struct{}, 1), release: make(chan struct{}), fail: "bad"}
		b := setup(t, store, func(b *testBundle) { b.wrap = func(a server.Announcer) server.Announcer { h.next = a; return h } })
		bodies := []string{
			`[{"id":"g1","entity":"account","record":"c1"}]`,
			`[{"id":"b1","entity":"account","record":"bad"}]`,
			`[{"id":"g2","entity":"account","record":"c2"}]`,
		}
		codes, outs := held(t, b, h, bodies)
		require.Equal(t, http.StatusOK, codes[0], outs[0])
		require.Equal(t, http.StatusServiceUnavailable, codes[1], "the refused delivery fails: its sender retries")
		require.Equal(t, http.StatusOK, codes[2], outs[2])
		require.Equal(t, 3, b.count(t, `SELECT count(*) FROM concord_webhook_event`), "first, g1 and g2; not b1")
		require.Zero(t, b.count(t, `SELECT count(*) FROM concord_webhook_event WHERE event_id = 'b1'`))
		st := b.recv.Stats()[0]
		require.Equal(t, int64(1), st.Failed)
		require.Equal(t, int64(3), st.Deliveries)
	})
}
