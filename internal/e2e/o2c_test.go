package e2e

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector/tryton"
	"github.com/concord-sync/concord/internal/connector/tryton/trytonrpc"
	"github.com/concord-sync/concord/internal/connector/tryton/trytontest"
	"github.com/concord-sync/concord/internal/demo"
	"github.com/concord-sync/concord/internal/faultproxy"
	"github.com/concord-sync/concord/internal/sandbox/hubspot"
)

// This file drives an order-to-cash run through `concord serve` with the
// demo's config (internal/demo/concord-tryton.yaml.tmpl: its batch size, poll
// interval and retries), for TestIntegrationCleanRun_100Deals and
// TestIntegrationFaults_OrderToCash: products reach the CRM, sales reps win
// deals in waves while Concord hands the earlier ones over, an accountant
// posts and pays some of the invoices in Tryton, and the run is judged on what
// the two systems hold, not on Concord's own account of it.

// o2cWorld is a world whose config is the demo's, optionally with a fault
// proxy in front of each system.
type o2cWorld struct {
	*world
	crmProxy, erpProxy *faultproxy.Proxy // nil in a clean run
}

// newO2CWorld sets up the sandbox CRM, a Tryton clone and the demo config
// pointing at them, through fault proxies when withProxies (seeded by seed;
// they inject nothing until told).
func newO2CWorld(t *testing.T, withProxies bool, seed uint64) *o2cWorld {
	t.Helper()
	db := trytontest.Clone(t)
	w := &o2cWorld{world: &world{t: t, dir: t.TempDir(), db: db}}

	cfg := hubspot.DefaultConfig()
	cfg.Token = demo.Token
	cfg.SearchDelay = 5 * time.Millisecond
	cfg.RateLimit = -1 // the connector keeps its own budget; 429s come from the proxy
	w.crm = hubspot.New(cfg)
	t.Cleanup(func() { _ = w.crm.Close() })
	hs := httptest.NewServer(w.crm.Handler())
	t.Cleanup(hs.Close)
	require.NoError(t, demo.DefineProperties(w.crm))

	crmURL, erpURL := hs.URL, db.URL
	if withProxies {
		log := slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelError}))
		var err error
		w.crmProxy, err = faultproxy.New("crm", hs.URL, seed, log)
		require.NoError(t, err)
		t.Cleanup(func() { _ = w.crmProxy.Close() })
		w.erpProxy, err = faultproxy.New("erp", db.URL, seed+1, log)
		require.NoError(t, err)
		t.Cleanup(func() { _ = w.erpProxy.Close() })
		crmURL, erpURL = w.crmProxy.URL(), w.erpProxy.URL()
	}
	path, err := demo.WriteConfig(w.dir, crmURL, &demo.Tryton{URL: erpURL, Database: db.Database, User: db.User, Password: db.Password})
	require.NoError(t, err)
	w.cfg = path
	out, code := w.concord("validate")
	require.Zero(t, code, "the demo config validates: %s", out)
	t.Cleanup(func() {
		if t.Failed() {
			w.logFailures()
		}
	})

	log := slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	erp, err := tryton.Open(context.Background(), tryton.Settings{URL: db.URL, Database: db.Database, Username: db.User, Password: db.Password}, log)
	require.NoError(t, err)
	t.Cleanup(func() { _ = erp.Close(context.Background()) })
	w.erp = erp
	return w
}

// serveProc is a running `concord serve`.
type serveProc struct {
	cmd  *exec.Cmd
	log  string // its output, in the world's directory
	done chan struct{}
	err  error // set when done is closed
}

// serve starts `concord serve` (no HTTP listener) with its output in serve.log.
// If the test ends with it still running, it is killed.
func (w *o2cWorld) serve() *serveProc {
	w.t.Helper()
	p := &serveProc{log: filepath.Join(w.dir, "serve.log"), done: make(chan struct{})}
	f, err := os.Create(p.log)
	require.NoError(w.t, err)
	p.cmd = exec.Command(concordBin, "serve", "--addr", "", "--log-level", "info", "--config", w.cfg)
	p.cmd.Dir = w.dir
	p.cmd.Stdout, p.cmd.Stderr = f, f
	require.NoError(w.t, p.cmd.Start())
	go func() {
		p.err = p.cmd.Wait()
		_ = f.Close()
		close(p.done)
	}()
	w.t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if w.t.Failed() {
			w.t.Logf("serve.log (last lines):\n%s", tail(p.log, 80))
		}
	})
	return p
}

// exited reports whether serve ended, and how.
func (p *serveProc) exited() (bool, string) {
	select {
	case <-p.done:
		return true, fmt.Sprintf("serve exited (%v):\n%s", p.err, tail(p.log, 40))
	default:
		return false, ""
	}
}

// stop sends SIGTERM and waits for serve to end (at most grace); it returns
// the exit code, -1 when serve had to be killed.
func (p *serveProc) stop(t *testing.T, grace time.Duration) int {
	t.Helper()
	if done, _ := p.exited(); !done {
		require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	}
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
		return -1
	}
	var exit *exec.ExitError
	if errors.As(p.err, &exit) {
		return exit.ExitCode()
	}
	require.NoError(t, p.err)
	return 0
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// o2cCompany is a CRM company with its billing contact.
type o2cCompany struct {
	id, name, contact, email string
}

// o2cDeal is one deal of the run and what the accountant does with its invoice.
type o2cDeal struct {
	id      string
	company int
	win     bool // a prospect's deals stay open
	post    bool // the accountant posts its invoice
	pay     bool // ... and pays it
	wonAt   time.Time
	planted bool // its company cannot reach the ERP (a permanent error)
}

// o2cRun is the state of one order-to-cash run.
type o2cRun struct {
	w         *o2cWorld
	items     []string // CRM product ids
	erpItems  []string // Tryton product ids
	companies []o2cCompany
	deals     []o2cDeal
	// accountant's progress: invoice id -> the state it last moved it to
	booked map[int64]string
}

// newO2CRun seeds Tryton's catalogue (3 products) and the CRM's companies:
// one per four deals, a prospect whose deals stay open, and, when planted, a
// company in a country Tryton does not have (its one deal is won: its account
// fails permanently at the ERP).
func newO2CRun(w *o2cWorld, deals int, planted bool) *o2cRun {
	w.t.Helper()
	r := &o2cRun{w: w, booked: map[int64]string{}}
	tag := strconv.FormatInt(time.Now().UnixNano()%1_000_000, 36)
	for i, p := range []struct{ name, price string }{{"O2C widget", "12.5"}, {"O2C gadget", "80"}, {"O2C service", "150"}} {
		r.erpItems = append(r.erpItems, w.product(fmt.Sprintf("O2C-%d-%s", i, tag), p.name, p.price))
	}
	mk := func(name, country string) o2cCompany {
		c := o2cCompany{name: name}
		c.id = w.put(hubspot.Companies, map[string]string{"name": name, "address": "1 Main Street", "city": "Austin", "zip": "73301", "country": country, "phone": "+1 512 555 0100"})
		c.email = fmt.Sprintf("billing.%s@%s.example", tag, strings.ToLower(strings.ReplaceAll(name, " ", "-")))
		c.contact = w.put(hubspot.Contacts, map[string]string{"firstname": "Bill", "lastname": name, "email": c.email})
		require.NoError(w.t, w.crm.Associate(hubspot.Contacts, c.contact, hubspot.Companies, c.id))
		return c
	}
	for i := range max(1, deals/4) {
		r.companies = append(r.companies, mk(fmt.Sprintf("O2C Customer %d %s", i, tag), "US"))
	}
	prospect := len(r.companies)
	r.companies = append(r.companies, mk("O2C Prospect "+tag, "US"))
	for i := range deals {
		r.deals = append(r.deals, o2cDeal{company: i % prospect, win: true, post: i%2 == 0, pay: i%4 == 0})
	}
	r.deals = append(r.deals, o2cDeal{company: prospect}, o2cDeal{company: prospect})
	if planted {
		r.companies = append(r.companies, mk("O2C Nippon "+tag, "JP")) // valid ISO code, not in Tryton
		r.deals = append(r.deals, o2cDeal{company: len(r.companies) - 1, win: true, planted: true})
	}
	return r
}

// waitProducts waits until every Tryton product is in the CRM (the products
// flow of serve), and creates the deals, open, with their lines and contact.
func (r *o2cRun) waitProducts(srv *serveProc, within time.Duration) {
	t := r.w.t
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		byErp := map[string]string{}
		for _, o := range r.w.crm.Objects(hubspot.Products) {
			byErp[prop(o, "erp_id")] = o.ID
		}
		r.items = r.items[:0]
		for _, e := range r.erpItems {
			if id, ok := byErp[e]; ok {
				r.items = append(r.items, id)
			}
		}
		if len(r.items) == len(r.erpItems) {
			break
		}
		if done, why := srv.exited(); done {
			require.FailNow(t, why)
		}
		require.True(t, time.Now().Before(deadline), "the catalogue reached the CRM within %s: %d of %d products", within, len(r.items), len(r.erpItems))
		time.Sleep(500 * time.Millisecond)
	}
	for i := range r.deals {
		d := &r.deals[i]
		c := r.companies[d.company]
		d.id, _ = r.w.deal(fmt.Sprintf("O2C deal %d of %s", i, c.name), c.id,
			lineSpec{r.items[i%3], strconv.Itoa(1 + i%7), []string{"12.5", "80", "150"}[i%3], ""},
			lineSpec{r.items[(i+1)%3], "2", []string{"12.5", "80", "150"}[(i+1)%3], strconv.Itoa(i % 15)})
		require.NoError(t, r.w.crm.Associate(hubspot.Deals, d.id, hubspot.Contacts, c.contact))
	}
}

// winWave wins the next n deals that are to be won and returns how many are left.
func (r *o2cRun) winWave(n int) int {
	left := 0
	for i := range r.deals {
		d := &r.deals[i]
		if !d.win || !d.wonAt.IsZero() {
			continue
		}
		if n > 0 {
			r.w.win(d.id)
			d.wonAt = time.Now()
			n--
			continue
		}
		left++
	}
	return left
}

// o2cSale is a Tryton sale as this file reads it.
type o2cSale struct {
	id       int64
	state    string
	invoices []int64
}

// o2cInvoice is a Tryton invoice as this file reads it.
type o2cInvoice struct {
	number, state string
}

// o2cState is what Tryton holds for the run's deals.
type o2cState struct {
	sales    map[string][]o2cSale // by reference (the deal id)
	invoices map[int64]o2cInvoice
}

// read reads the sales of the run's deals and their invoices from Tryton (directly, never through a proxy).
func (r *o2cRun) read(ctx context.Context) (o2cState, error) {
	refs := make([]string, 0, len(r.deals))
	for _, d := range r.deals {
		refs = append(refs, d.id)
	}
	st := o2cState{sales: map[string][]o2cSale{}, invoices: map[int64]o2cInvoice{}}
	recs, err := r.w.rpc().SearchRead(ctx, "sale.sale", trytonrpc.Domain{trytonrpc.Leaf("reference", "in", refs)}, []string{"reference", "state", "invoices"}, trytonrpc.SearchOptions{})
	if err != nil {
		return st, fmt.Errorf("read sales: %w", err)
	}
	var invIDs []int64
	for _, rec := range recs {
		s := o2cSale{id: rec.ID(), state: rec.String("state"), invoices: rec.IDs("invoices")}
		st.sales[rec.String("reference")] = append(st.sales[rec.String("reference")], s)
		invIDs = append(invIDs, s.invoices...)
	}
	invs, err := r.w.rpc().Read(ctx, "account.invoice", invIDs, []string{"number", "state"}, nil)
	if err != nil {
		return st, fmt.Errorf("read invoices: %w", err)
	}
	for _, inv := range invs {
		st.invoices[inv.ID()] = o2cInvoice{number: inv.String("number"), state: inv.String("state")}
	}
	return st, nil
}

// account posts and pays the invoices the accountant is to post and pay, as
// they appear.
func (r *o2cRun) account(ctx context.Context, st o2cState) error {
	for _, d := range r.deals {
		ss := st.sales[d.id]
		if !d.post || len(ss) != 1 || len(ss[0].invoices) != 1 {
			continue
		}
		inv := ss[0].invoices[0]
		switch st.invoices[inv].state {
		case "draft":
			if err := trytontest.PostInvoice(ctx, r.w.rpc(), inv); err != nil {
				return err
			}
			r.booked[inv] = "posted"
		case "posted":
			if d.pay {
				if err := trytontest.PayInvoice(ctx, r.w.rpc(), inv, "Cash"); err != nil {
					return err
				}
				r.booked[inv] = "paid"
			}
		}
	}
	return nil
}

// o2cReport is how far the run is from its end state.
type o2cReport struct {
	won, handedOver, withStatus int
	duplicates, missing         []string // deals with more than one sale / none yet
	wrong                       []string // deals whose CRM view differs from Tryton
	unbooked                    int      // invoices the accountant has still to move
}

// ok reports whether every won deal is one confirmed, invoiced sale whose
// invoice state and number are on the deal, and the accountant is done.
func (rep o2cReport) ok() bool {
	return len(rep.duplicates) == 0 && len(rep.missing) == 0 && len(rep.wrong) == 0 && rep.unbooked == 0
}

func (rep o2cReport) String() string {
	first := func(s []string) []string { return s[:min(len(s), 5)] }
	return fmt.Sprintf("%d won: %d handed over, %d with their invoice status; %d duplicated %v, %d missing %v, %d wrong %v; %d invoices to book",
		rep.won, rep.handedOver, rep.withStatus, len(rep.duplicates), first(rep.duplicates), len(rep.missing), first(rep.missing), len(rep.wrong), first(rep.wrong), rep.unbooked)
}

// report compares the CRM's deals with Tryton's sales and invoices.
func (r *o2cRun) report(st o2cState) o2cReport {
	var rep o2cReport
	for _, d := range r.deals {
		ss := st.sales[d.id]
		if !d.win || d.planted {
			if len(ss) > 0 {
				rep.duplicates = append(rep.duplicates, d.id+" (must have no sale)")
			}
			continue
		}
		if d.wonAt.IsZero() {
			rep.missing = append(rep.missing, d.id+" (not won yet)")
			continue
		}
		rep.won++
		switch {
		case len(ss) > 1:
			rep.duplicates = append(rep.duplicates, fmt.Sprintf("%s (%d sales)", d.id, len(ss)))
			continue
		case len(ss) == 0 || ss[0].state != "processing" || len(ss[0].invoices) != 1:
			rep.missing = append(rep.missing, d.id)
			continue
		}
		rep.handedOver++
		s := ss[0]
		inv := st.invoices[s.invoices[0]]
		if d.post && inv.state == "draft" || d.pay && inv.state != "paid" {
			rep.unbooked++
		}
		deal, _ := r.w.crm.Get(hubspot.Deals, d.id)
		status, state, number := prop(deal, "erp_sync_status"), prop(deal, "erp_invoice_state"), prop(deal, "erp_invoice_number")
		switch {
		case !strings.HasPrefix(status, fmt.Sprintf("synced to erp order %d ", s.id)):
			rep.wrong = append(rep.wrong, fmt.Sprintf("%s status %q", d.id, status))
		case state != inv.state || number != inv.number:
			rep.wrong = append(rep.wrong, fmt.Sprintf("%s invoice %q %q, tryton %q %q", d.id, state, number, inv.state, inv.number))
		default:
			rep.withStatus++
		}
	}
	return rep
}

// step reads Tryton, lets the accountant work and reports.
func (r *o2cRun) step(ctx context.Context) o2cReport {
	t := r.w.t
	t.Helper()
	st, err := r.read(ctx)
	require.NoError(t, err)
	require.NoError(t, r.account(ctx, st), "the accountant posts and pays in Tryton")
	return r.report(st)
}

// stallAfter is how long converge waits without any progress before it
// fails: longer than the demo's poll interval plus its longest backoff.
const stallAfter = 2 * time.Minute

// converge steps until the run reaches its end state; it fails the test with
// the report when it does not within passes, when nothing moved for
// stallAfter, or when serve exits.
func (r *o2cRun) converge(ctx context.Context, srv *serveProc, within time.Duration) time.Duration {
	t := r.w.t
	t.Helper()
	start := time.Now()
	last := time.Now()
	var prev o2cReport
	moved := time.Now()
	for {
		rep := r.step(ctx)
		if rep.ok() {
			return time.Since(start)
		}
		if done, why := srv.exited(); done {
			require.FailNow(t, why, "%s", rep)
		}
		if time.Since(start) > within {
			require.FailNow(t, "the run did not converge", "after %s: %s", within, rep)
		}
		if rep.String() != prev.String() {
			prev, moved = rep, time.Now()
		} else if time.Since(moved) > stallAfter {
			require.FailNow(t, "the run stopped converging", "nothing moved for %s (%s after the start of convergence): %s", stallAfter, time.Since(start).Round(time.Second), rep)
		}
		if time.Since(last) > 15*time.Second {
			t.Logf("%s: %s", time.Since(start).Round(time.Second), rep)
			last = time.Now()
		}
		time.Sleep(2 * time.Second)
	}
}

// checkNoDuplicates requires one Tryton party and one e-mail contact per
// company with a won deal that can reach the ERP, none for the prospect, and one
// CRM product per Tryton product.
func (r *o2cRun) checkNoDuplicates(ctx context.Context) {
	t := r.w.t
	t.Helper()
	wonBy := map[int]bool{}
	for _, d := range r.deals {
		if d.win && !d.planted {
			wonBy[d.company] = true
		}
	}
	var names, emails []string
	for _, c := range r.companies {
		names = append(names, c.name)
		emails = append(emails, c.email)
	}
	parties, err := r.w.rpc().SearchRead(ctx, "party.party", trytonrpc.Domain{trytonrpc.Leaf("name", "in", names)}, []string{"name"}, trytonrpc.SearchOptions{})
	require.NoError(t, err)
	partyCount := map[string]int{}
	for _, p := range parties {
		partyCount[p.String("name")]++
	}
	mechs, err := r.w.rpc().SearchRead(ctx, "party.contact_mechanism", trytonrpc.Domain{trytonrpc.Leaf("value", "in", emails)}, []string{"value"}, trytonrpc.SearchOptions{})
	require.NoError(t, err)
	mechCount := map[string]int{}
	for _, m := range mechs {
		mechCount[m.String("value")]++
	}
	for i, c := range r.companies {
		want := 0
		if wonBy[i] {
			want = 1
		}
		require.Equal(t, want, partyCount[c.name], "tryton parties named %q", c.name)
		require.Equal(t, want, mechCount[c.email], "tryton contact mechanisms %q", c.email)
	}
	crmOf := map[string]int{}
	for _, o := range r.w.crm.Objects(hubspot.Products) {
		crmOf[prop(o, "erp_id")]++
	}
	for _, e := range r.erpItems {
		require.Equal(t, 1, crmOf[e], "crm products linked to tryton product %s", e)
	}
	sales, err := r.w.rpc().SearchCount(ctx, "sale.sale", trytonrpc.Domain{}, nil)
	require.NoError(t, err)
	won := 0
	for _, d := range r.deals {
		if d.win && !d.planted {
			won++
		}
	}
	require.EqualValues(t, won, sales, "tryton holds one sale per won deal and no other")
}

// proxyStats logs what the proxies injected and returns the share of faulted
// requests over both.
func (w *o2cWorld) proxyStats() (requests, faulted int) {
	for name, p := range map[string]*faultproxy.Proxy{"crm": w.crmProxy, "erp": w.erpProxy} {
		if p == nil {
			continue
		}
		st := p.HTTP.Stats()
		kinds := make([]string, 0, len(st.Injected))
		for k, n := range st.Injected {
			kinds = append(kinds, fmt.Sprintf("%s=%d", k, n))
		}
		slices.Sort(kinds)
		w.t.Logf("proxy %s: %d requests, %d faulted (%s), %d forwarded, %d churned", name, st.Requests, st.Faulted(), strings.Join(kinds, " "), st.Forwarded, st.Churned)
		requests += st.Requests
		faulted += st.Faulted()
	}
	return requests, faulted
}

// envInt reads a positive integer from the environment, def when unset.
func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	require.NoError(t, err, "%s=%q", name, s)
	require.Positive(t, n, name)
	return n
}

// envDuration reads a duration from the environment, def when unset.
func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	require.NoError(t, err, "%s=%q", name, s)
	return d
}
