package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/assess"
	"github.com/concord-sync/concord/internal/clean"
	"github.com/concord-sync/concord/internal/config"
	"github.com/concord-sync/concord/internal/connector/all"
	"github.com/concord-sync/concord/internal/connector/tryton/trytontest"
	"github.com/concord-sync/concord/internal/demo"
	"github.com/concord-sync/concord/internal/northwind"
	"github.com/concord-sync/concord/internal/sandbox/hubspot"
)

// assessConfig rewrites the world's config for assess: no flows, the deals'
// close date and (when orderDate) the orders' date mapped. It returns the
// path of the new config.
func assessConfig(t *testing.T, w *o2cWorld, orderDate bool) string {
	t.Helper()
	data, err := os.ReadFile(w.Config)
	require.NoError(t, err)
	s := string(data)
	require.Contains(t, s, "close_date: closedate", "the demo config maps the deals' close date")
	if orderDate {
		s = strings.Replace(s, "            account: customer_id\n", "            account: customer_id\n            order_date: order_date\n", 1)
	}
	i := strings.Index(s, "\nflows:")
	require.Positive(t, i)
	s = s[:i] + "\nflows: []\n"
	path := filepath.Join(w.Dir, "assess.yaml")
	require.NoError(t, os.WriteFile(path, []byte(s), 0o600))
	return path
}

// assessWorld is the order-to-cash world with the perturbations assess must
// find, and what the test did to it.
type assessWorld struct {
	*o2cWorld
	cfg        string
	newWon     []string // deals won after the sync: no order
	handInv    string   // an invoice keyed in the ERP for an order with no deal
	dupOf, dup string   // a CRM company and its copy
	badPhones  []string // CRM companies whose phone was garbled
	renamed    string   // the ERP customer whose name was edited by hand
	delays     map[string]int
}

// newAssessWorld builds the world and perturbs it: order dates k days after
// the deal's close date, two deals won after the sync, an ERP invoice of an
// order keyed without a deal, a copy of a CRM company, two garbled CRM phones,
// an ERP customer name edited by hand.
func newAssessWorld(t *testing.T, seed uint64) *assessWorld {
	t.Helper()
	w := &assessWorld{o2cWorld: newO2CWorld(t, seed, 40), delays: map[string]int{}}
	exec := func(q string, args ...any) {
		t.Helper()
		_, err := w.ERP.Exec(q, args...)
		require.NoError(t, err)
	}
	exec(`ALTER TABLE sale_orders ADD COLUMN order_date TEXT`)
	rows, err := w.ERP.Query(`SELECT id, crm_deal_id FROM sale_orders WHERE crm_deal_id IS NOT NULL`)
	require.NoError(t, err)
	type ord struct{ id, deal string }
	var orders []ord
	for rows.Next() {
		var o ord
		require.NoError(t, rows.Scan(&o.id, &o.deal))
		orders = append(orders, o)
	}
	require.NoError(t, rows.Close())
	require.NotEmpty(t, orders)
	for i, o := range orders {
		deal, ok := w.CRM.Get(hubspot.Deals, o.deal)
		require.True(t, ok)
		closed, err := time.Parse("2006-01-02T15:04:05.000Z", *deal.Properties["closedate"])
		require.NoError(t, err)
		k := i % 4 * 3 // 0, 3, 6, 9 days
		w.delays[o.deal] = k
		exec(`UPDATE sale_orders SET order_date = ? WHERE id = ?`, closed.AddDate(0, 0, k).Format(time.DateOnly), o.id)
	}

	w.newWon, err = w.Sim.WinDeals(2)
	require.NoError(t, err)
	require.Len(t, w.newWon, 2)

	now := time.Now().UTC().Format(demo.TimeLayout)
	res, err := w.ERP.Exec(`INSERT INTO sale_orders (customer_id, state, updated_at, order_date) VALUES ('ALFKI', 'confirmed', ?, '2026-02-01')`, now)
	require.NoError(t, err)
	orderID, err := res.LastInsertId()
	require.NoError(t, err)
	res, err = w.ERP.Exec(`INSERT INTO invoices (number, order_id, customer_id, state, total, amount_due, invoice_date, due_date, updated_at)
		VALUES ('INV/HAND/1', ?, 'ALFKI', 'posted', '123.45', '123.45', '2026-02-02', '2026-03-04', ?)`, orderID, now)
	require.NoError(t, err)
	invID, err := res.LastInsertId()
	require.NoError(t, err)
	w.handInv = jsonID(invID)

	companies := w.CRM.Objects(hubspot.Companies)
	slices.SortFunc(companies, func(a, b hubspot.Object) int { return cmp.Compare(prop(a, "northwind_id"), prop(b, "northwind_id")) })
	var orig hubspot.Object
	for _, c := range companies {
		if prop(c, "northwind_id") == "AROUT" {
			orig = c
		}
	}
	require.NotEmpty(t, orig.ID)
	copyProps := map[string]string{}
	for _, p := range []string{"name", "city", "country", "phone", "erp_credit_limit", "erp_open_balance", "northwind_id"} {
		copyProps[p] = prop(orig, p)
	}
	dup, err := w.CRM.Put(hubspot.Companies, copyProps)
	require.NoError(t, err)
	w.dupOf, w.dup = orig.ID, dup.ID

	garbled := []string{"12", "call reception"}
	for _, c := range companies {
		if len(w.badPhones) == len(garbled) {
			break
		}
		code, _ := clean.Country(prop(c, "country"))
		if c.ID == orig.ID || prop(c, "phone") == "" {
			continue
		}
		if _, err := clean.Phone(prop(c, "phone"), code); err != nil {
			continue // already bad
		}
		_, err := w.CRM.Update(hubspot.Companies, c.ID, map[string]string{"phone": garbled[len(w.badPhones)]})
		require.NoError(t, err)
		w.badPhones = append(w.badPhones, c.ID)
	}
	require.Len(t, w.badPhones, 2)

	w.renamed = "BERGS"
	exec(`UPDATE customers SET company_name = 'Berglunds snabbkop' WHERE customer_id = 'BERGS'`)
	w.cfg = assessConfig(t, w.o2cWorld, true)
	time.Sleep(50 * time.Millisecond) // the sandbox's search index lags behind writes, as HubSpot's does
	return w
}

func jsonID(id int64) string { return decimal.NewFromInt(id).String() }

// runAssessJSON runs concord assess --format json and decodes the report.
func runAssessJSON(t *testing.T, cfg string, args ...string) *assess.Report {
	t.Helper()
	out, code := run(t, append([]string{"assess", "--config", cfg, "--format", "json"}, args...)...)
	require.Equal(t, exitOK, code, out)
	var r assess.Report
	require.NoError(t, json.Unmarshal([]byte(out), &r), out)
	return &r
}

// TestAssess_O2C runs concord assess on the order-to-cash world with its
// flows removed and checks each figure against a calculation of the test's
// own from the sandbox and the ERP database.
func TestAssess_O2C(t *testing.T) {
	t.Parallel()
	w := newAssessWorld(t, 5)
	r := runAssessJSON(t, w.cfg, "--minutes-per-entry", "6", "--hourly-cost", "50")
	require.Equal(t, "crm", r.CRM)
	require.Equal(t, "erp", r.ERP)

	// Customers: the truth is the Northwind id both systems carry.
	companies := map[string]hubspot.Object{}
	for _, c := range w.CRM.Objects(hubspot.Companies) {
		companies[c.ID] = c
	}
	type erpCustomer struct{ id, name, city, country, phone, credit, balance string }
	erpCustomers := map[string]erpCustomer{}
	rows, err := w.ERP.Query(`SELECT customer_id, company_name, coalesce(city, ''), coalesce(country, ''), coalesce(phone, ''), coalesce(credit_limit, ''), open_balance FROM customers`)
	require.NoError(t, err)
	for rows.Next() {
		var c erpCustomer
		require.NoError(t, rows.Scan(&c.id, &c.name, &c.city, &c.country, &c.phone, &c.credit, &c.balance))
		erpCustomers[c.id] = c
	}
	require.NoError(t, rows.Close())
	require.Equal(t, len(companies), r.Customers.CRM)
	require.Equal(t, len(erpCustomers), r.Customers.ERP)
	require.Equal(t, len(erpCustomers), r.Customers.Matched+r.Customers.Likely, "every ERP customer is in the CRM")
	require.Equal(t, 1, r.Customers.OnlyCRM, "the copy")
	for _, p := range r.Customers.Pairs {
		require.Equal(t, p.ERPID, prop(companies[p.CRMID], "northwind_id"), "pair %s ~ %s", p.CRMID, p.ERPID)
	}

	// Drift, field by field, on the true pairs.
	norm := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	num := func(s string) string {
		if s == "" {
			return ""
		}
		return decimal.RequireFromString(s).String()
	}
	expect := map[string]int{}
	for _, c := range companies {
		e, ok := erpCustomers[prop(c, "northwind_id")]
		if !ok || c.ID == w.dup {
			continue
		}
		code, _ := clean.Country(prop(c, "country"))
		ecode, _ := clean.Country(e.country)
		phone := func(s, country string) string {
			if p, err := clean.Phone(norm(s), country); err == nil {
				return p
			}
			return norm(s)
		}
		for f, differ := range map[string]bool{
			"name": norm(prop(c, "name")) != norm(e.name), "city": norm(prop(c, "city")) != norm(e.city),
			"country": code != ecode, "phone": phone(prop(c, "phone"), code) != phone(e.phone, ecode),
			"credit_limit": num(prop(c, "erp_credit_limit")) != num(e.credit), "open_balance": num(prop(c, "erp_open_balance")) != num(e.balance),
		} {
			if differ {
				expect[f]++
			}
		}
	}
	got := map[string]int{}
	for _, d := range r.Drift {
		got[d.Field] = d.Pairs
	}
	require.Equal(t, expect, got)
	require.Equal(t, 1, got["name"], "the ERP name edited by hand")
	require.GreaterOrEqual(t, got["phone"], 2, "the garbled CRM phones")

	// Won deals without an order, invoices without a deal.
	won := demo.WonDeals(w.CRM)
	var ordered []string
	rows, err = w.ERP.Query(`SELECT crm_deal_id FROM sale_orders WHERE crm_deal_id IS NOT NULL`)
	require.NoError(t, err)
	for rows.Next() {
		var id string
		require.NoError(t, rows.Scan(&id))
		ordered = append(ordered, id)
	}
	require.NoError(t, rows.Close())
	var noOrder []string
	lines := 0
	for _, id := range won {
		if !slices.Contains(ordered, id) {
			noOrder = append(noOrder, id)
		}
		lines += len(w.CRM.Associations(hubspot.Deals, id, hubspot.LineItems))
	}
	slices.Sort(noOrder)
	require.ElementsMatch(t, w.newWon, noOrder)
	require.Equal(t, len(won), r.Deals.Won)
	require.Equal(t, lines, r.Deals.Lines)
	require.Equal(t, len(won)-len(noOrder), r.Deals.ByReference+r.Deals.ByMatch)
	var gotNoOrder []string
	for _, it := range r.Deals.WithoutOrder {
		gotNoOrder = append(gotNoOrder, it.ID)
	}
	require.ElementsMatch(t, noOrder, gotNoOrder)
	var invTotal int
	require.NoError(t, w.ERP.QueryRow(`SELECT count(*) FROM invoices`).Scan(&invTotal))
	require.Equal(t, invTotal, r.Invoices.Total)
	require.Len(t, r.Invoices.WithoutDeal, 1)
	require.Equal(t, w.handInv, r.Invoices.WithoutDeal[0].ID)
	require.Equal(t, "123.45", r.Invoices.WithoutDeal[0].Amount.String())
	require.Equal(t, invTotal-1, r.Invoices.WithDeal)

	// Duplicates: the copy and its original form one cluster.
	var found bool
	for _, d := range r.Duplicates {
		if d.System == "crm" && d.Entity == "account" {
			for _, c := range d.Examples {
				found = found || (slices.Contains(c.IDs, w.dup) && slices.Contains(c.IDs, w.dupOf))
			}
			require.GreaterOrEqual(t, d.Extra, 1)
		}
	}
	require.True(t, found, "the copied company is a duplicate: %+v", r.Duplicates)

	// Phones cleaning would quarantine, read in each company's country.
	badPhones := 0
	for _, c := range companies {
		if prop(c, "phone") == "" {
			continue
		}
		code, _ := clean.Country(prop(c, "country"))
		if _, err := clean.Phone(norm(prop(c, "phone")), code); err != nil {
			badPhones++
		}
	}
	var phoneQ *assess.Quality
	for i, q := range r.Quality {
		if q.System == "crm" && q.Entity == "account" && q.Field == "phone" {
			phoneQ = &r.Quality[i]
		}
	}
	require.NotNil(t, phoneQ)
	require.Equal(t, badPhones, phoneQ.Failed)

	// Delay: the order dates were set k days after the close dates.
	require.NotNil(t, r.Delay)
	sum := 0
	for _, k := range w.delays {
		sum += k
	}
	require.Equal(t, len(w.delays), r.Delay.Pairs)
	require.InDelta(t, float64(sum)/float64(len(w.delays)), r.Delay.MeanDays, 0.006)
	require.Equal(t, 9.0, r.Delay.MaxDays)

	// The period: the won deals' close dates, first to last.
	var lo, hi time.Time
	for i, id := range won {
		d, _ := w.CRM.Get(hubspot.Deals, id)
		at, err := time.Parse("2006-01-02T15:04:05.000Z", *d.Properties["closedate"])
		require.NoError(t, err)
		at = at.Truncate(24 * time.Hour)
		if i == 0 || at.Before(lo) {
			lo = at
		}
		if i == 0 || at.After(hi) {
			hi = at
		}
	}
	weeks := decimal.NewFromInt(int64(hi.Sub(lo) / time.Hour)).Div(decimal.NewFromInt(7 * 24))
	require.Equal(t, decimal.Max(weeks, decimal.NewFromInt(1)).Round(2).String(), r.Weeks.String())

	// Costs: count / weeks x minutes / 60 x hourly cost, with the flags.
	require.NotEmpty(t, r.Pains)
	minutes := map[string]string{assess.PainWonNoOrder: "15", assess.PainInvoiceNoDeal: "15", assess.PainDuplicates: "15"}
	counts := map[string]int{
		assess.PainOrderReentry: len(won) + lines, assess.PainCustomerReentry: len(erpCustomers), assess.PainWonNoOrder: 2,
		assess.PainInvoiceNoDeal: 1, assess.PainInvoiceStatus: invTotal - 1, assess.PainQuality: func() int {
			n := 0
			for _, q := range r.Quality {
				n += q.Failed
			}
			return n
		}(),
	}
	for _, p := range r.Pains {
		require.Equal(t, "USD", p.Currency)
		if want, ok := counts[p.Key]; ok {
			require.Equal(t, want, p.Count, p.Key)
		}
		if p.Key == assess.PainOrderDelay {
			continue
		}
		m := decimal.NewFromInt(6)
		if s, ok := minutes[p.Key]; ok {
			m = decimal.RequireFromString(s)
		}
		want := decimal.NewFromInt(int64(p.Count)).Div(r.Weeks).Mul(m).Div(decimal.NewFromInt(60)).Mul(decimal.NewFromInt(50)).Round(2)
		require.True(t, want.Equal(p.CostPerWeek), "%s: want %s, got %s", p.Key, want, p.CostPerWeek)
	}
	for _, k := range []string{assess.PainOrderReentry, assess.PainCustomerReentry, assess.PainDrift, assess.PainWonNoOrder, assess.PainInvoiceNoDeal, assess.PainDuplicates, assess.PainQuality, assess.PainOrderDelay} {
		require.True(t, slices.ContainsFunc(r.Pains, func(p assess.Pain) bool { return p.Key == k }), "pain %s measured", k)
	}
	require.Len(t, r.Top, 5)
	for i := 1; i < len(r.Pains); i++ {
		require.False(t, r.Pains[i].CostPerWeek.GreaterThan(r.Pains[i-1].CostPerWeek), "ranked by cost")
	}

	// The recommendation: the flow whose pains cost the most.
	byFlow := map[string]decimal.Decimal{}
	for _, p := range r.Pains {
		if p.Flow != "" {
			byFlow[p.Flow] = byFlow[p.Flow].Add(p.CostPerWeek)
		}
	}
	best := ""
	for _, f := range []string{assess.FlowCustomers, assess.FlowOrders, assess.FlowPayments} {
		if best == "" || byFlow[f].GreaterThan(byFlow[best]) {
			best = f
		}
	}
	require.NotNil(t, r.Recommend)
	require.Equal(t, best, r.Recommend.Flow)
	requireSnippetLoads(t, w.cfg, r.Recommend.Snippet)
}

// requireSnippetLoads splices the snippet into the config in place of its
// empty flows and checks that the config loads and validates.
func requireSnippetLoads(t *testing.T, cfgPath, snippet string) {
	t.Helper()
	data, err := os.ReadFile(cfgPath)
	require.NoError(t, err)
	s := strings.Replace(string(data), "\nflows: []\n", "\n"+snippet, 1)
	require.NotEqual(t, string(data), s)
	path := filepath.Join(filepath.Dir(cfgPath), "recommended.yaml")
	require.NoError(t, os.WriteFile(path, []byte(s), 0o600))
	cfg, err := config.Load(path, all.Registry(all.Deps{}))
	require.NoError(t, err, s)
	require.NotEmpty(t, cfg.Flows)
	out, code := run(t, "validate", "--config", path)
	require.Equal(t, exitOK, code, out)
}

// TestAssess_Outputs: the table names the top pains and the snippet, the HTML
// parses and is self-contained, --output writes the file, and a config with
// no flows validates.
func TestAssess_Outputs(t *testing.T) {
	t.Parallel()
	w := newO2CWorld(t, 9, 20)
	cfg := assessConfig(t, w, false)
	out, code := run(t, "validate", "--config", cfg)
	require.Equal(t, exitOK, code, out)

	out, code = run(t, "assess", "--config", cfg)
	require.Equal(t, exitOK, code, out)
	require.Regexp(t, `Top [1-5] pains`, out)
	require.Contains(t, out, "Recommended first flow: ")
	require.Contains(t, out, "flows:\n    - name: ")
	require.Contains(t, out, "not measured: the delay from won to order: erp does not map order.order_date")

	path := filepath.Join(w.Dir, "assess.html")
	out, code = run(t, "assess", "--config", cfg, "--format", "html", "--output", path)
	require.Equal(t, exitOK, code, out)
	require.Contains(t, out, "wrote "+path)
	page, err := os.ReadFile(path)
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(page, []byte("<!DOCTYPE html>")))
	require.Contains(t, string(page), "<svg")
	require.Contains(t, string(page), "Recommended first flow")
	require.NotContains(t, string(page), "<script")
	require.NotContains(t, string(page), "http://", "no link out of the file")
	dec := xml.NewDecoder(bytes.NewReader(page))
	dec.Strict, dec.AutoClose, dec.Entity = false, xml.HTMLAutoClose, xml.HTMLEntity
	for {
		_, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
	}

	out, code = run(t, "assess", "--config", cfg, "--format", "yaml")
	require.Equal(t, exitUsage, code, out)
	out, code = run(t, "assess", "--config", cfg, "--hourly-cost", "-3")
	require.Equal(t, exitUsage, code, out)
	require.Contains(t, out, "--hourly-cost -3: want 0 or more")
}

// TestIntegrationAssess_Tryton runs concord assess against the real Tryton:
// the HubSpot sandbox and a Tryton database that the demo's flows filled
// (customers, sales, invoices, payments), then a deal won after the sync and
// the flows removed. The customers both hold are found, the new deal has no
// order, every invoice has its deal, and the snippet loads.
func TestIntegrationAssess_Tryton(t *testing.T) {
	env := trytontest.Clone(t)
	ctx := context.Background()
	dir := t.TempDir()
	nw, err := northwind.Load()
	require.NoError(t, err)
	rnd := rand.New(rand.NewPCG(4, 5))
	hcfg := hubspot.DefaultConfig()
	hcfg.Token = demo.Token
	hcfg.SearchDelay = 10 * time.Millisecond
	crm := hubspot.New(hcfg)
	t.Cleanup(func() { _ = crm.Close() })
	srv := httptest.NewServer(crm.Handler())
	t.Cleanup(srv.Close)

	tryt := &demo.Tryton{URL: env.URL, Database: env.Database, User: env.User, Password: env.Password}
	conn, err := openTryton(ctx, tryt, (&app{log: slog.New(slog.DiscardHandler), run: defaultRunOptions()}).retryPolicy(ctx, "open"))
	require.NoError(t, err)
	defer conn.Close(ctx)
	te := &demo.TrytonERP{Conn: conn, Rnd: rnd}
	products, err := te.LoadProducts(ctx, nw)
	require.NoError(t, err)
	require.NoError(t, demo.SetupCRM(crm, nw, 16, rnd, func(typ, id string) string {
		if typ == hubspot.Products {
			return products[id]
		}
		return ""
	}))
	cfgPath, err := demo.WriteConfig(dir, srv.URL, tryt)
	require.NoError(t, err)
	sync := func() {
		time.Sleep(20 * time.Millisecond)
		out, code := run(t, "sync", "--once", "--config", cfgPath, "--progress", "off")
		require.Equal(t, exitOK, code, out)
	}
	sync()
	_, err = te.Invoice(ctx)
	require.NoError(t, err)
	_, err = te.Pay(ctx, 2)
	require.NoError(t, err)
	sync()
	synced := demo.WonDeals(crm)
	require.NotEmpty(t, synced)
	sim := &demo.Simulator{CRM: crm, ERP: te, Rnd: rnd}
	newWon, err := sim.WinDeals(1)
	require.NoError(t, err)
	require.Len(t, newWon, 1)
	time.Sleep(50 * time.Millisecond) // the search index lags behind writes

	w := &o2cWorld{Dir: dir, Config: cfgPath}
	cfg := assessConfig(t, w, false)
	r := runAssessJSON(t, cfg)
	require.Equal(t, "erp", r.ERP)
	accounts := map[string]bool{}
	for _, id := range synced {
		for _, c := range crm.Associations(hubspot.Deals, id, hubspot.Companies) {
			accounts[c] = true
		}
	}
	require.GreaterOrEqual(t, r.Customers.Matched+r.Customers.Likely, len(accounts), "the won deals' customers are in Tryton: %+v", r.Customers)
	for _, p := range r.Customers.Pairs {
		require.True(t, accounts[p.CRMID], "pair %s ~ %s (%s ~ %s) is a won deal's customer", p.CRMID, p.ERPID, p.CRMName, p.ERPName)
	}
	require.Equal(t, len(synced)+1, r.Deals.Won)
	require.Len(t, r.Deals.WithoutOrder, 1)
	require.Equal(t, newWon[0], r.Deals.WithoutOrder[0].ID)
	require.Positive(t, r.Invoices.Total)
	require.Empty(t, r.Invoices.WithoutDeal)
	require.NotNil(t, r.Recommend)
	requireSnippetLoads(t, cfg, r.Recommend.Snippet)
}
