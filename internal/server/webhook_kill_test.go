package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
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
	"github.com/concord-sync/concord/internal/store/sqlitestore"
	"github.com/concord-sync/concord/internal/store/storetest"
)

// childEnv names the store a re-executed test binary serves the receiver on
// (see TestReceiver_Kill9).
const childEnv = "CONCORD_TEST_WEBHOOK_CHILD"

func TestMain(m *testing.M) {
	if path := os.Getenv(childEnv); path != "" {
		if err := serveChild(path); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		return
	}
	os.Exit(m.Run())
}

// killLeg is the one leg of the kill test: crm accounts to erp.
func killLeg() engine.Leg {
	name, _ := model.LookupField(model.Account, "name")
	return engine.Leg{Name: "customers", Flow: "customers", Source: "crm", Target: "erp", Entity: model.Account, Fields: []string{"name"},
		Trigger: engine.TriggerChange, Owners: map[string]string{"name": "crm"}, Defs: map[string]model.FieldDef{"name": name}}
}

// serveChild serves the receiver (no workers) on the SQLite store at path,
// prints its address and serves until the process is killed.
func serveChild(path string) error {
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, path, nil)
	if err != nil {
		return err
	}
	crm := pushCRM{Conn: memory.New("crm", model.Account), gets: &atomic.Int64{}, read: &atomic.Int64{}}
	q, err := queue.New(ctx, st, queue.Config{Legs: []string{"customers"}}, nil)
	if err != nil {
		return err
	}
	conns := map[string]connector.Connector{"crm": crm, "erp": memory.New("erp", model.Account)}
	eng, err := engine.New(engine.Params{Store: st, Connectors: conns, Legs: []engine.Leg{killLeg()}, Queue: q})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	server.NewReceiver(st, server.Verifiers(conns), eng, nil).Register(mux)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Println(ln.Addr().String())
	return http.Serve(ln, mux)
}

// TestReceiver_Kill9 sends deliveries from many senders at once to a receiver
// in another process and kills it (SIGKILL) while they arrive: every delivery
// answered 2xx is in the reopened store, its record is queued in a job, and
// the jobs, run after the restart, bring every such record to the target.
func TestReceiver_Kill9(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("kills a child process; not under -short")
	}
	path := t.TempDir() + "/concord.db"
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+path)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err, "the child prints its address")
	url := "http://" + strings.TrimSpace(addr) + "/webhooks/crm"

	const records = 50
	var (
		mu    sync.Mutex
		acked = map[string]string{} // event id -> record
		sent  atomic.Int64
		stop  atomic.Bool
		wg    sync.WaitGroup
	)
	client := &http.Client{Timeout: 5 * time.Second}
	for g := range 16 {
		wg.Go(func() {
			for n := 0; !stop.Load(); n++ {
				id, rec := fmt.Sprintf("k%d-%d", g, n), fmt.Sprintf("c%d", (g*1000+n)%records)
				body := fmt.Sprintf(`[{"id":%q,"entity":"account","record":%q}]`, id, rec)
				req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
				stamp := fmt.Sprint(time.Now().Unix())
				req.Header.Set("X-Timestamp", stamp)
				req.Header.Set("X-Signature", sign(stamp, body))
				sent.Add(1)
				resp, err := client.Do(req)
				if err != nil {
					continue // the child is gone: the sender would retry later
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					mu.Lock()
					acked[id] = rec
					mu.Unlock()
				}
			}
		})
	}
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(acked) >= 300 }, 30*time.Second, time.Millisecond)
	require.NoError(t, cmd.Process.Kill()) // while the senders go on
	_ = cmd.Wait()
	time.Sleep(50 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	t.Logf("%d deliveries sent, %d answered 2xx before the kill", sent.Load(), len(acked))

	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, path, storetest.Logger(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	stored, storedRecords := map[string]bool{}, map[string]bool{}
	rows, err := st.DB().QueryContext(ctx, `SELECT event_id, record_id FROM concord_webhook_event`)
	require.NoError(t, err)
	for rows.Next() {
		var id, rec string
		require.NoError(t, rows.Scan(&id, &rec))
		stored[id], storedRecords[rec] = true, true
	}
	require.NoError(t, rows.Err())
	rows.Close()
	queued := map[string]bool{}
	rows, err = st.DB().QueryContext(ctx, `SELECT p.batch FROM river_job j JOIN concord_queue_payload p ON p.id = json_extract(j.args, '$.payload') WHERE j.state = 'available'`)
	require.NoError(t, err)
	for rows.Next() {
		var blob []byte
		require.NoError(t, rows.Scan(&blob))
		var b engine.Batch
		require.NoError(t, json.Unmarshal(blob, &b))
		for _, id := range b.Fetch {
			queued[id] = true
		}
	}
	require.NoError(t, rows.Err())
	rows.Close()
	want := map[string]bool{}
	for id, rec := range acked {
		require.True(t, stored[id], "delivery %s was answered 2xx but is not in the store", id)
		require.True(t, queued[rec], "record %s of delivery %s was answered 2xx but is in no waiting job", rec, id)
		want[rec] = true
	}

	// Restarted: the jobs bring every acknowledged record to the target.
	crm, erp := memory.New("crm", model.Account), memory.New("erp", model.Account)
	for i := range records {
		crm.Put(model.Record{Entity: model.Account, ID: fmt.Sprintf("c%d", i), Fields: model.Fields{"name": model.Text(fmt.Sprint("Company ", i))}})
	}
	q, err := queue.New(ctx, st, queue.Config{Legs: []string{"customers"}, PollInterval: 10 * time.Millisecond}, storetest.Logger(t))
	require.NoError(t, err)
	eng, err := engine.New(engine.Params{Store: st, Connectors: map[string]connector.Connector{"crm": crm, "erp": erp}, Legs: []engine.Leg{killLeg()}, Queue: q})
	require.NoError(t, err)
	require.NoError(t, q.Start(ctx, eng))
	t.Cleanup(func() { _ = q.Stop(context.Background()) })
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	require.NoError(t, q.Drain(dctx, 5*time.Millisecond))
	names := map[string]bool{}
	for _, r := range erp.All(model.Account) {
		names[r.Fields["name"].Str] = true
	}
	for rec := range want {
		require.True(t, names["Company "+strings.TrimPrefix(rec, "c")], "record %s reached the target", rec)
	}
	// A delivery stored whose answer the kill cut off is applied too (its
	// sender retries it, a duplicate); nothing else is.
	for name := range names {
		require.True(t, storedRecords["c"+strings.TrimPrefix(name, "Company ")], "%s reached the target without a stored delivery", name)
	}
}
