package bench

import (
	"context"
	"crypto/hmac"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/hubspot"
	"github.com/concord-sync/concord/internal/connector/memory"
	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/queue"
	hsbox "github.com/concord-sync/concord/internal/sandbox/hubspot"
	"github.com/concord-sync/concord/internal/server"
	"github.com/concord-sync/concord/internal/webhookload"
)

// WebhookParams configure a webhook ingest run.
type WebhookParams struct {
	// Store is "sqlite" (a file in Dir) or "postgres" (a schema of its own on DSN).
	Store string
	DSN   string
	Dir   string
	// Rate is deliveries per second for Duration (defaults 500 and 60 s);
	// Records is the number of distinct companies they announce (default 100).
	Rate     int
	Duration time.Duration
	Records  int
	Log      *slog.Logger
}

// WebhookResult is what a webhook ingest run measured.
type WebhookResult struct {
	// Concord is the load against serve's receiver, Minimal against a receiver
	// doing the same signature check and one SQLite insert per delivery, run
	// just before it.
	Concord, Minimal webhookload.Result
	// Receiver is what serve's receiver counted, the warm-up deliveries
	// included (5 before the measured ones).
	Receiver server.WebhookStats
	// JobsQueued counts the jobs the deliveries queued during the run,
	// JobsPending those not finished when the last delivery was answered.
	JobsQueued, JobsPending int
	// Applied is how many of the announced companies reached the target once
	// the queue drained.
	Applied int
}

const webhookSecret = "bench-webhook-secret"

// RunWebhook drives serve's webhook receiver (the HubSpot connector's verifier,
// the real store, queue and workers reading the announced companies from a
// HubSpot sandbox) with signed deliveries, next to a minimal receiver measured
// just before it, then drains the queue and checks every company arrived.
func RunWebhook(ctx context.Context, p WebhookParams) (WebhookResult, error) {
	var res WebhookResult
	if p.Log == nil {
		p.Log = slog.New(slog.DiscardHandler)
	}
	if p.Rate <= 0 {
		p.Rate = 500
	}
	if p.Duration <= 0 {
		p.Duration = time.Minute
	}
	if p.Records <= 0 {
		p.Records = 100
	}
	var err error
	res.Minimal, err = runMinimal(ctx, p)
	if err != nil {
		return res, err
	}

	sb := hsbox.New(hsbox.Config{Token: "bench", Logger: p.Log})
	defer sb.Close()
	sbSrv, sbURL, err := serveOn(sb.Handler())
	if err != nil {
		return res, err
	}
	defer sbSrv.Close()
	ids := make([]int64, p.Records)
	for i := range ids {
		o, err := sb.Put("companies", map[string]string{"name": fmt.Sprintf("Company %d", i)})
		if err != nil {
			return res, fmt.Errorf("bench: seed sandbox: %w", err)
		}
		ids[i], _ = strconv.ParseInt(o.ID, 10, 64)
	}
	hs, err := hubspot.Open(ctx, connector.OpenParams{System: "hubspot", Logger: p.Log, Settings: map[string]any{
		"base_url": sbURL, "token": "bench", "currency": "USD", "create_link_property": true,
		"webhook_secret": webhookSecret, "entities": map[string]any{"account": map[string]any{}},
	}})
	if err != nil {
		return res, err
	}
	defer hs.Close(context.WithoutCancel(ctx))
	erp := memory.New("erp", model.Account)

	st, drop, err := openStore(ctx, Params{Store: p.Store, DSN: p.DSN, Dir: p.Dir, Log: p.Log}, "webhook.db")
	if err != nil {
		return res, err
	}
	defer drop()
	defer st.Close()
	name, _ := model.LookupField(model.Account, "name")
	leg := engine.Leg{Name: "companies", Flow: "companies", Source: "hubspot", Target: "erp", Entity: model.Account, Fields: []string{"name"},
		Trigger: engine.TriggerChange, Owners: map[string]string{"name": "hubspot"}, Defs: map[string]model.FieldDef{"name": name}}
	q, err := queue.New(ctx, st, queue.Config{Legs: []string{leg.Name}}, p.Log)
	if err != nil {
		return res, err
	}
	conns := map[string]connector.Connector{"hubspot": hs, "erp": erp}
	eng, err := engine.New(engine.Params{Store: st, Connectors: conns, Legs: []engine.Leg{leg}, ConfigVersion: "bench", Queue: q, Logger: p.Log})
	if err != nil {
		return res, err
	}
	if err := q.Start(ctx, eng); err != nil {
		return res, err
	}
	defer func() { _ = q.Stop(context.WithoutCancel(ctx)) }()
	recv := server.NewReceiver(st, server.Verifiers(conns), eng, p.Log.With("component", "webhooks"))
	mux := http.NewServeMux()
	recv.Register(mux)
	srv, url, err := serveOn(mux)
	if err != nil {
		return res, err
	}
	defer srv.Close()

	if err := warmUp(ctx, url, ids); err != nil {
		return res, err
	}
	res.Concord, err = webhookload.Run(ctx, webhookload.Config{URL: url + "/webhooks/hubspot", Secret: webhookSecret,
		Rate: p.Rate, Duration: p.Duration, IDs: ids})
	if err != nil {
		return res, err
	}
	if res.JobsPending, err = q.Pending(ctx); err != nil {
		return res, err
	}
	if err := st.DB().QueryRowContext(ctx, `SELECT count(*) FROM river_job`).Scan(&res.JobsQueued); err != nil {
		return res, fmt.Errorf("bench: count jobs: %w", err)
	}
	res.Receiver = recv.Stats()[0]
	dctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if err := q.Drain(dctx, 10*time.Millisecond); err != nil {
		return res, fmt.Errorf("bench: drain the queue: %w", err)
	}
	res.Applied = erp.Count(model.Account)
	return res, nil
}

// serveOn serves h on a new local port as serve does (its limits and
// timeouts) and returns the server and its base URL.
func serveOn(h http.Handler) (*http.Server, string, error) {
	ln, err := server.Listen("127.0.0.1:0", server.DefaultLimits())
	if err != nil {
		return nil, "", err
	}
	srv := server.NewHTTPServer(h, server.DefaultLimits())
	go func() { _ = srv.Serve(ln) }()
	return srv, "http://" + ln.Addr().String(), nil
}

// runMinimal drives the minimal receiver: the same v3 signature check, then
// one INSERT of the body per delivery into a SQLite file opened as the store
// opens its own (WAL, synchronous NORMAL, one connection), answered after the
// insert.
func runMinimal(ctx context.Context, p WebhookParams) (webhookload.Result, error) {
	path := filepath.Join(p.Dir, "minimal.db")
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate")
	if err != nil {
		return webhookload.Result{}, fmt.Errorf("bench: minimal receiver: %w", err)
	}
	defer os.Remove(path)
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `CREATE TABLE delivery (id INTEGER PRIMARY KEY, body BLOB NOT NULL, received_at INTEGER NOT NULL)`); err != nil {
		return webhookload.Result{}, fmt.Errorf("bench: minimal receiver: %w", err)
	}
	ins, err := db.PrepareContext(ctx, `INSERT INTO delivery (body, received_at) VALUES (?, ?)`)
	if err != nil {
		return webhookload.Result{}, fmt.Errorf("bench: minimal receiver: %w", err)
	}
	defer ins.Close()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, server.MaxBody))
		if err != nil {
			http.Error(w, "unreadable", http.StatusRequestEntityTooLarge)
			return
		}
		if err := verifyV3(r, body); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		if _, err := ins.ExecContext(r.Context(), body, time.Now().UnixNano()); err != nil {
			http.Error(w, "not stored", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	srv, url, err := serveOn(h)
	if err != nil {
		return webhookload.Result{}, err
	}
	defer srv.Close()
	if err := warmUp(ctx, url, nil); err != nil {
		return webhookload.Result{}, err
	}
	return webhookload.Run(ctx, webhookload.Config{URL: url + "/webhooks/hubspot", Secret: webhookSecret,
		Rate: p.Rate, Duration: p.Duration, Records: p.Records})
}

// warmUp sends 5 deliveries, 50 ms apart, before a measured run, so that
// neither receiver's figures carry its first transaction (on PostgreSQL the
// pool's connections and the array types pgx loads once took a second under
// load, and the backlog it left decided the p99 of a minute).
func warmUp(ctx context.Context, url string, ids []int64) error {
	r, err := webhookload.Run(ctx, webhookload.Config{URL: url + "/webhooks/hubspot", Secret: webhookSecret,
		Rate: 20, Duration: time.Second / 4, IDs: ids})
	if err != nil {
		return err
	}
	if r.Errors > 0 {
		return fmt.Errorf("bench: warm-up deliveries refused: %v", r.ErrorKinds)
	}
	return nil
}

// verifyV3 is the HubSpot connector's signature check without the event
// parsing: timestamp within 5 minutes, HMAC compared in constant time.
func verifyV3(r *http.Request, body []byte) error {
	ts := r.Header.Get(hubspot.HeaderTimestamp)
	ms, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || time.Since(time.UnixMilli(ms)) > hubspot.WebhookMaxAge {
		return errors.New("stale")
	}
	got, err := base64.StdEncoding.DecodeString(r.Header.Get(hubspot.HeaderSignatureV3))
	if err != nil {
		return errors.New("forged")
	}
	want, _ := base64.StdEncoding.DecodeString(hubspot.SignV3(webhookSecret, r.Method, "http://"+r.Host+r.URL.RequestURI(), body, ts))
	if !hmac.Equal(got, want) {
		return errors.New("forged")
	}
	return nil
}

// webhookRate is the scenario's delivery rate (issue 13 item 4).
const webhookRate = 500

// webhookScenario is serve's webhook receiver at 500 deliveries/s for 60 s
// (--records N: N deliveries, at the same rate) per store, against a minimal
// receiver in the same run, and the jobs left pending against the distinct
// records announced.
func webhookScenario() Scenario {
	return Scenario{
		Name: "webhook",
		Summary: "signed HubSpot deliveries at 500/s (60 s, or --records deliveries) about 100 companies into serve's webhook receiver (real store, queue and workers), " +
			"p99 acknowledgement against a minimal signature-check-plus-insert receiver in the same run; jobs pending against distinct records",
		Needs: "--store postgres needs --dsn or TEST_DATABASE_URL",
		Run: func(ctx context.Context, env Env) ([]Figure, error) {
			dur := time.Minute
			if env.Records > 0 {
				dur = time.Duration(env.Records) * time.Second / webhookRate
			}
			var out []Figure
			for _, s := range env.Stores {
				if s == "postgres" && env.PostgresDSN == "" {
					return out, missing("webhook", "--dsn or TEST_DATABASE_URL for --store postgres")
				}
				dir, err := os.MkdirTemp(env.Dir, "webhook-")
				if err != nil {
					return out, err
				}
				fmt.Fprintf(env.Progress, "webhook: %d deliveries/s for %s on %s (minimal receiver first)\n", webhookRate, dur, s)
				r, err := RunWebhook(ctx, WebhookParams{Store: s, DSN: env.PostgresDSN, Dir: dir, Rate: webhookRate, Duration: dur, Log: env.Log})
				if err != nil {
					return out, err
				}
				c, m := r.Concord, r.Minimal
				out = append(out,
					Figure{Scenario: "webhook", Case: fmt.Sprintf("%s, %d deliveries/s for %s", s, webhookRate, dur),
						Value: ms(c.P99), Unit: "ms p99", Baseline: ms(m.P99), BaselineName: "minimal signature check + SQLite insert",
						LowerIsBetter: true, Target: "<= 50 ms and <= 5x",
						Note: fmt.Sprintf("p50 %.1f ms, max %.0f ms, %d errors%s; minimal: p50 %.1f ms, %d errors",
							ms(c.P50), ms(c.Max), c.Errors, errKinds(c), ms(m.P50), m.Errors)},
					Figure{Scenario: "webhook", Case: fmt.Sprintf("%s, jobs pending after %d deliveries", s, c.Sent),
						Value: float64(r.JobsPending), Unit: "jobs", Baseline: float64(c.Records), BaselineName: "distinct records announced",
						LowerIsBetter: true, Target: "<= 1x",
						Note: fmt.Sprintf("%d jobs queued in all; %d of %d companies applied after the drain", r.JobsQueued, r.Applied, c.Records)})
			}
			return out, nil
		},
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func errKinds(r webhookload.Result) string {
	if r.Errors == 0 {
		return ""
	}
	return fmt.Sprint(" ", r.ErrorKinds)
}
