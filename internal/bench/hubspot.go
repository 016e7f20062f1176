package bench

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/all"
	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/queue"
	hubspotsandbox "github.com/concord-sync/concord/internal/sandbox/hubspot"
)

// The HubSpot budget the scenario runs under: the sandbox's rate limit and the
// connector's rate_limit, HubSpot's burst limit for private apps on
// Professional and Enterprise portals.
const (
	hubspotLimit      = 190
	hubspotWindow     = 10 * time.Second
	hubspotPerRequest = 100 // records per batch upsert, HubSpot's batch maximum
	hubspotUpsertPath = "/crm/v3/objects/companies/batch/upsert"
	hubspotReadPath   = "/crm/v3/objects/companies/batch/read"
)

// hubspotScenario creates generated ERP accounts as HubSpot companies in the
// in-process sandbox through the real connector, engine, store and queue, and
// compares the steady rate with the ceiling the rate budget allows.
func hubspotScenario() Scenario {
	return Scenario{
		Name: "hubspot",
		Summary: fmt.Sprintf("accounts created as companies in the in-process HubSpot sandbox (%d requests per %s) through the real connector, store and queue; "+
			"records/s after the first window against the budget's ceiling (default 40,000 records; a run under ~20,000 is all first burst)", hubspotLimit, hubspotWindow),
		Needs: "nothing (--store postgres needs --dsn or TEST_DATABASE_URL)",
		Run: func(ctx context.Context, env Env) ([]Figure, error) {
			records := env.Records
			if records == 0 {
				records = 40_000
			}
			batch := env.BatchSize
			if batch == 0 {
				batch = 500
			}
			stores := env.Stores
			if len(stores) == 0 {
				stores = []string{"sqlite"}
			}
			var out []Figure
			for _, s := range stores {
				if s == "postgres" && env.PostgresDSN == "" {
					return out, missing("hubspot", "--dsn or TEST_DATABASE_URL for --store postgres")
				}
				runs := max(env.Repeat, 1)
				var results []hubspotResult
				for k := range runs {
					dir, err := os.MkdirTemp(env.Dir, "hubspot-")
					if err != nil {
						return out, err
					}
					fmt.Fprintf(env.Progress, "hubspot: %d records on %s, run %d of %d (%d requests per %s: a burst, then at most %.0f records/s)\n",
						records, s, k+1, runs, hubspotLimit, hubspotWindow, hubspotCeiling(hubspotLimit, hubspotWindow))
					r, err := runHubSpot(ctx, hubspotParams{Records: records, BatchSize: batch, Store: s, DSN: env.PostgresDSN,
						Dir: dir, Limit: hubspotLimit, Log: env.Log})
					if err != nil {
						return out, err
					}
					results = append(results, r)
				}
				out = append(out, hubspotFigure(s, results))
			}
			return out, nil
		},
	}
}

// hubspotCeiling is the records/s a budget of limit requests per window allows
// at hubspotPerRequest records per request.
func hubspotCeiling(limit int, window time.Duration) float64 {
	return float64(limit*hubspotPerRequest) / window.Seconds()
}

// hubspotParams configure one HubSpot run.
type hubspotParams struct {
	Records   int
	BatchSize int
	Store     string // sqlite (a file in Dir) or postgres (DSN)
	DSN       string
	Dir       string
	// Limit is the sandbox's and the connector's budget of requests per
	// hubspotWindow.
	Limit int
	Log   *slog.Logger
}

// hubspotResult is what one HubSpot run measured.
type hubspotResult struct {
	Records int
	Limit   int
	// Elapsed is the whole sync: from the first tick to the drained queue.
	Elapsed time.Duration
	// Steady is the records/s of the upserts sent after the first window (see
	// steadyRate); SteadyUpserts is how many it counts, 0 when every upsert went
	// out in the first burst (Steady is then 0).
	Steady        float64
	SteadyUpserts int
	Ceiling       float64
	// Requests counts every request the sandbox received; Upserts and
	// BatchReads the companies' batch upserts and batch reads; Failed the
	// answers 429 or 5xx.
	Requests, Upserts, BatchReads, Failed int
}

// rate is the run's figure: the steady rate, or the whole run's when it was
// all first burst.
func (r hubspotResult) rate() float64 {
	if r.SteadyUpserts == 0 {
		return float64(r.Records) / r.Elapsed.Seconds()
	}
	return r.Steady
}

// hubspotFigure is the figure of the runs on store: the median run's (the
// lower of the two middle ones for an even count), with every run's rate in
// the note when there are several.
func hubspotFigure(store string, runs []hubspotResult) Figure {
	sorted := slices.Clone(runs)
	slices.SortStableFunc(sorted, func(a, b hubspotResult) int { return cmp.Compare(a.rate(), b.rate()) })
	f := sorted[(len(sorted)-1)/2].figure(store)
	if len(runs) > 1 {
		rates := make([]string, len(runs))
		for i, r := range runs {
			rates[i] = fmt.Sprintf("%.0f", r.rate())
		}
		f.Case += fmt.Sprintf(", median run of %d", len(runs))
		f.Note += "; the runs' records/s " + strings.Join(rates, ", ")
	}
	return f
}

// figure is r as the scenario's figure for store.
func (r hubspotResult) figure(store string) Figure {
	f := Figure{Scenario: "hubspot", Unit: "records/s", Baseline: r.Ceiling,
		BaselineName: fmt.Sprintf("ceiling of %d requests per %s at %d records per request", r.Limit, hubspotWindow, hubspotPerRequest)}
	note := fmt.Sprintf("%d requests: %d upserts, %d batch reads, %d failed (429/5xx); whole run %.0f records/s in %.1f s",
		r.Requests, r.Upserts, r.BatchReads, r.Failed, float64(r.Records)/r.Elapsed.Seconds(), r.Elapsed.Seconds())
	if r.SteadyUpserts == 0 {
		// Nothing was sent after the first window: the figure would be the
		// burst's, which the budget allows once, not per window.
		f.Case = fmt.Sprintf("%s, %d creates: no steady figure, all in the first %s burst", store, r.Records, hubspotWindow)
		f.Value = r.rate()
		f.Baseline = 0 // a burst is not comparable with the ceiling: no ratio
		f.BaselineName = fmt.Sprintf("not compared with the ceiling of %.0f/s", r.Ceiling)
		f.Note = note + "; run 20,000+ records for the steady figure"
		return f
	}
	f.Case = fmt.Sprintf("%s, %d creates, steady after the first %s", store, r.Records, hubspotWindow)
	f.Value = r.Steady
	f.Target = ">= 95 % of the ceiling (<= 1.05x), 0 batch reads, 0 failed"
	f.Note = note
	return f
}

// runHubSpot serves a fresh sandbox on a loopback port, opens the hubspot
// connector on it through the registry, and syncs p.Records generated accounts
// into it as sync --once does (tick, poll until the source is drained while the
// workers write, drain the queue). It fails unless every record was created.
func runHubSpot(ctx context.Context, p hubspotParams) (hubspotResult, error) {
	if p.Log == nil {
		p.Log = slog.New(slog.DiscardHandler)
	}
	res := hubspotResult{Records: p.Records, Limit: p.Limit, Ceiling: hubspotCeiling(p.Limit, hubspotWindow)}
	const token = "pat-bench"
	sbCfg := hubspotsandbox.DefaultConfig()
	sbCfg.Token = token
	sbCfg.RateLimit = p.Limit
	sbCfg.SearchDelay = 10 * time.Millisecond
	sb := hubspotsandbox.New(sbCfg)
	defer sb.Close()
	calls := &callLog{next: sb.Handler()}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, fmt.Errorf("hubspot sandbox: listen: %w", err)
	}
	srv := &http.Server{Handler: calls, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		_ = srv.Shutdown(context.WithoutCancel(ctx))
		if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			p.Log.Warn("hubspot sandbox stopped", "err", err)
		}
	}()

	reg := all.Registry(all.Deps{})
	spec, ok := reg.Lookup("hubspot")
	if !ok {
		return res, errors.New("hubspot scenario: no hubspot connector in the registry")
	}
	settings := map[string]any{
		"base_url": "http://" + ln.Addr().String(), "token": token, "currency": "USD",
		"create_link_property": true, "rate_limit": p.Limit,
		"entities": map[string]any{"account": map[string]any{"fields": map[string]any{"name": "name", "city": "city"}}},
	}
	if errs := spec.Validate(settings); len(errs) > 0 {
		return res, fmt.Errorf("hubspot scenario: settings: %w", errors.Join(errs...))
	}
	crm, err := spec.Open(ctx, connector.OpenParams{System: "crm", Settings: settings, Logger: p.Log.With("system", "crm")})
	if err != nil {
		return res, fmt.Errorf("hubspot scenario: %w", err)
	}
	defer crm.Close(context.WithoutCancel(ctx))

	st, drop, err := openStore(ctx, Params{Store: p.Store, DSN: p.DSN, Dir: p.Dir, Log: p.Log}, "hubspot.db")
	if err != nil {
		return res, err
	}
	defer drop()
	defer st.Close()

	fields := []string{"city", "name"}
	defs := map[string]model.FieldDef{}
	owners := map[string]string{}
	for _, f := range fields {
		defs[f], _ = model.LookupField(model.Account, f)
		owners[f] = "erp"
	}
	const legName = "customers"
	leg := engine.Leg{Name: legName, Flow: legName, Source: "erp", Target: "crm", Entity: model.Account, Fields: fields,
		Trigger: engine.TriggerChange, Owners: owners, Defs: defs, Required: map[string]bool{"name": true},
		Unlinked: engine.UnlinkedCreate}
	qcfg := queue.DefaultConfig()
	qcfg.Legs = []string{legName}
	q, err := queue.New(ctx, st, qcfg, p.Log)
	if err != nil {
		return res, err
	}
	eng, err := engine.New(engine.Params{Store: st, Connectors: map[string]connector.Connector{"erp": newStreamSource(p.Records), "crm": crm},
		Legs: []engine.Leg{leg}, ConfigVersion: "bench", Queue: q, BatchSize: p.BatchSize, Logger: p.Log})
	if err != nil {
		return res, err
	}
	start := time.Now()
	if err := syncOnce(ctx, eng, q, legName); err != nil {
		return res, err
	}
	res.Elapsed = time.Since(start)

	var created, failed int
	for _, s := range eng.Stats() {
		created += s.Created
		failed += s.Failed + s.Quarantined + s.Retrying + s.Waiting
	}
	if got := len(sb.Objects("companies")); got != p.Records || created != p.Records || failed != 0 {
		return res, fmt.Errorf("hubspot scenario: the sandbox holds %d companies and the engine created %d (%d not done) of %d records",
			got, created, failed, p.Records)
	}
	for k, n := range sb.Requests() {
		res.Requests += n
		switch k {
		case "POST " + hubspotUpsertPath:
			res.Upserts = n
		case "POST " + hubspotReadPath:
			res.BatchReads = n
		}
	}
	upserts, failedCalls := calls.snapshot()
	res.Failed = failedCalls
	res.Steady, res.SteadyUpserts = steadyRate(upserts, hubspotWindow)
	return res, nil
}

// upsertCall is one batch upsert as the sandbox saw it.
type upsertCall struct {
	arrived, answered time.Time
	records           int
}

// callLog notes every batch upsert (when it arrived and was answered, and how
// many records it carried) and counts failed requests: answers 429 or 5xx (a
// 404 for the link property the connector then creates is an answer, not a
// failure).
type callLog struct {
	next http.Handler

	mu      sync.Mutex
	upserts []upsertCall
	failed  int
}

func (c *callLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	records := 0
	upsert := r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, hubspotUpsertPath)
	if upsert {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "read body", http.StatusBadRequest)
			return
		}
		var in struct {
			Inputs []json.RawMessage `json:"inputs"`
		}
		if json.Unmarshal(body, &in) == nil {
			records = len(in.Inputs)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	c.next.ServeHTTP(sw, r)
	c.mu.Lock()
	defer c.mu.Unlock()
	if sw.status == http.StatusTooManyRequests || sw.status >= 500 {
		c.failed++
		return
	}
	if upsert && sw.status < 300 {
		c.upserts = append(c.upserts, upsertCall{arrived: at, answered: time.Now(), records: records})
	}
}

func (c *callLog) snapshot() ([]upsertCall, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]upsertCall(nil), c.upserts...), c.failed
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// steadyRate is the rate after the first window's burst: the records of the
// upserts that arrived one window or more after the first upsert arrived, over
// the time from then to the last upsert's answer. n is how many upserts it
// counts; 0 (and a rate of 0) when all of them arrived within the first window.
func steadyRate(calls []upsertCall, window time.Duration) (rate float64, n int) {
	if len(calls) == 0 {
		return 0, 0
	}
	first, last := calls[0].arrived, calls[0].answered
	for _, c := range calls {
		if c.arrived.Before(first) {
			first = c.arrived
		}
		if c.answered.After(last) {
			last = c.answered
		}
	}
	from := first.Add(window)
	records := 0
	for _, c := range calls {
		if !c.arrived.Before(from) {
			records += c.records
			n++
		}
	}
	if n == 0 || !last.After(from) {
		return 0, 0
	}
	return float64(records) / last.Sub(from).Seconds(), n
}
