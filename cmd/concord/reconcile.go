package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/concord-sync/concord/internal/alert"
	"github.com/concord-sync/concord/internal/config"
	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/fx"
	"github.com/concord-sync/concord/internal/match"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/reconcile"
)

func newReconcileCmd(g *globals) *cobra.Command {
	var flow, since, format, output, currency string
	var fix, dryRun bool
	run := defaultRunOptions()
	cmd := &cobra.Command{
		Use:   "reconcile [--flow FLOW] [--since 2026-01] [--currency EUR] [--format table|json|csv|html] [--output FILE] [--fix [--dry-run]]",
		Short: "Find where the two systems disagree: drift, unlinked records, missing handoffs, won vs invoiced per month",
		Long: `reconcile reads both live systems in full (each connector's paged bulk read) and
reports, writing nothing:
  drift      linked records whose field values differ; the config's ownership says
             which side is wrong (the field's owner is right)
  unlinked   records of one system with no counterpart linked in the other, with
             likely matches when the entity has match rules
  handoffs   won deals without an ERP order, orders without a posted invoice, paid
             invoices whose deal does not show it paid, deals showing an unpaid
             invoice paid, invoices without a CRM deal, orders whose amount differs
             from the deal's
  months     per month and currency: the CRM's won amount (deals won, by close
             date) against the ERP's invoiced amount (posted and paid invoices, by
             invoice date), the variance explained record by record (timing,
             discount, rounding, tax, credit_note, missing_handoff, not_from_crm)
             and what stays unexplained
Amounts are exact decimals in their own currency. --currency EUR (or
reconcile.currency in the config) reports the months in EUR instead: each amount
converted with the ERP's own exchange rate for its date (the latest on or before
it), exactly, rounded once in the final figure; the rates used are named per
month and per explanation, and an amount the ERP has no rate for stays in its own
currency with a note (see docs/reconcile.md).

--format table (default), json, csv (one table, a section column) or html (one
self-contained page with charts); --output FILE writes it to FILE.
--since 2026-01 keeps the months from January 2026 on (handoffs and drift are
current and always shown). --flow FLOW compares one flow only.

--fix queues the corrections the ownership allows: for each drifted field a
flow carries from its owner, the owner's record is queued on that flow, so the
next sync (or a running serve) writes the owner's value back. It never writes
into a field's owner. The plan of the corrections is printed first; with
--dry-run nothing is queued.

Exit codes: 0 the systems agree, 1 there are findings (or a failure), 2 usage.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if !slices.Contains(reconcile.Formats, format) {
				return usageErr(fmt.Errorf("--format %q: want %s", format, strings.Join(reconcile.Formats, ", ")))
			}
			if dryRun && !fix {
				return usageErr(errors.New("--dry-run goes with --fix"))
			}
			if currency != "" && !currencyRe.MatchString(currency) {
				return usageErr(fmt.Errorf("--currency %q: want an ISO 4217 code such as EUR", currency))
			}
			var from time.Time
			if since != "" {
				t, err := time.Parse("2006-01", since)
				if err != nil {
					return usageErr(fmt.Errorf("--since %q: want a month such as 2026-01", since))
				}
				from = t
			}
			a, err := openAppWith(ctx, g, run)
			if err != nil {
				return err
			}
			defer a.Close(context.WithoutCancel(ctx))
			if flow != "" {
				if _, ok := a.cfg.Flow(flow); !ok {
					return usageErr(fmt.Errorf("no flow named %q", flow))
				}
			}
			if currency == "" {
				currency = a.cfg.Reconcile.Currency
			}
			rep, err := a.reconcile(ctx, flow, from, currency)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if output != "" {
				var buf bytes.Buffer
				if err := reconcile.Write(&buf, rep, format); err != nil {
					return err
				}
				if err := os.WriteFile(output, buf.Bytes(), 0o644); err != nil { //nolint:gosec // a report the user asked for, readable like any output
					return fmt.Errorf("write %s: %w", output, err)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "reconcile: report written to %s\n", output)
			} else {
				var buf bytes.Buffer
				if err := reconcile.Write(&buf, rep, format); err != nil {
					return err
				}
				b := buf.Bytes()
				if format != reconcile.FormatHTML && format != reconcile.FormatCSV {
					b = []byte(safeMessage(string(b)))
				}
				if _, err := out.Write(b); err != nil {
					return err
				}
			}
			if fix {
				// The plan goes where it does not mix with a JSON, CSV or HTML report.
				w := out
				if output == "" && format != reconcile.FormatTable {
					w = cmd.ErrOrStderr()
				}
				if err := a.reconcileFix(ctx, w, flow, rep.Drift, dryRun); err != nil {
					return err
				}
			}
			if n := rep.Findings(); n > 0 {
				return &exitError{code: exitRuntime, err: fmt.Errorf("reconcile: %d findings, the systems disagree", n)}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&flow, "flow", "", "compare this flow only")
	cmd.Flags().StringVar(&since, "since", "", "months from this one on (YYYY-MM)")
	cmd.Flags().StringVar(&currency, "currency", "", "report the months in this currency (ISO code such as EUR), converted with the ERP's exchange rates (default: reconcile.currency, else per currency)")
	cmd.Flags().StringVar(&format, "format", reconcile.FormatTable, "output format: table, json, csv or html")
	cmd.Flags().StringVarP(&output, "output", "o", "", "write the report to this file instead of stdout")
	cmd.Flags().BoolVar(&fix, "fix", false, "queue the corrections the ownership allows (the plan is printed first)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "with --fix: print the plan of the corrections, queue nothing")
	retryFlag(cmd, &run)
	return cmd
}

// reconcileSources is what the records comparison needs from the app: the
// legs of flow (all flows when flow is "").
func (a *app) reconcileSources(flow string) reconcile.Sources {
	var legs []engine.Leg
	rules := map[model.Entity]match.Rules{}
	for _, l := range Legs(a.cfg) {
		if flow != "" && l.Flow != flow {
			continue
		}
		legs = append(legs, l)
		if r, ok := a.cfg.MatchRules(l.Entity); ok {
			rules[l.Entity] = r
		}
	}
	return reconcile.Sources{Store: a.store, Conns: a.conns, Legs: legs, Match: rules, PageSize: a.cfg.Sync.BatchSize, Logger: a.log}
}

// o2cFlow returns the flow that turns won deals into ERP orders, if any.
func o2cFlow(cfg *config.Config) (config.Flow, bool) {
	for _, f := range cfg.Flows {
		if f.Entity == model.Deal && f.TargetEntity == model.Order {
			return f, true
		}
	}
	return config.Flow{}, false
}

// reconcile compares the systems: the records of flow's legs (all flows when
// flow is ""), and the order-to-cash chain when the config has a flow from
// deals to orders (and flow is "" or one of the order-to-cash flows).
//
// currency, when set, reports the months in that currency, converted with the
// ERP's exchange rates (connector.RateReader).
func (a *app) reconcile(ctx context.Context, flow string, since time.Time, currency string) (*reconcile.Report, error) {
	rep := &reconcile.Report{At: time.Now().UTC()}
	drift, unlinked, compared, err := reconcile.Records(ctx, a.reconcileSources(flow))
	if err != nil {
		return nil, fmt.Errorf("reconcile records: %w", err)
	}
	rep.Drift, rep.Unlinked, rep.Compared = drift, unlinked, compared
	o2c, ok := o2cFlow(a.cfg)
	if !ok {
		if flow == "" {
			rep.Notes = append(rep.Notes, "no flow turns won deals into orders (entity: deal, target_entity: order): handoffs and months are not checked")
		}
		return rep, nil
	}
	if flow != "" && flow != o2c.Name && !a.isPaymentsFlow(flow, o2c) {
		return rep, nil
	}
	p := reconcile.O2CParams{
		CRM: o2c.Source, ERP: o2c.Target, CRMSys: a.conns[o2c.Source], ERPSys: a.conns[o2c.Target],
		Links: a.store, Since: since, Logger: a.log,
	}
	if currency != "" {
		if p.Rates, err = erpRates(ctx, a.cfg, o2c.Target, a.conns[o2c.Target], &rep.Notes); err != nil {
			return nil, err
		}
		p.Currency = strings.ToUpper(currency)
	}
	err = reconcile.OrderToCash(ctx, p, rep)
	if err != nil {
		return nil, fmt.Errorf("reconcile order to cash (flow %s, %s): %w", o2c.Name, configAt(a.cfg, o2c.Line), err)
	}
	return rep, nil
}

// currencyRe is an ISO 4217 currency code, in either case.
var currencyRe = regexp.MustCompile(`^[A-Za-z]{3}$`)

// erpRates reads the exchange rates the ERP system holds. A connector that
// reads none is an error naming the system; a system that holds none gives an
// empty table and a note.
func erpRates(ctx context.Context, cfg *config.Config, system string, c connector.Connector, notes *[]string) (*fx.Table, error) {
	rr, ok := c.(connector.RateReader)
	if !ok {
		kind := ""
		if sys, found := cfg.System(system); found {
			kind = " (connector " + sys.Connector + ")"
		}
		return nil, usageErr(fmt.Errorf("--currency: system %s%s reads no exchange rates, and Concord converts only with the ERP's own; the sql connector reads them with its rates setting, tryton from its currencies (docs/reconcile.md)", system, kind))
	}
	rates, err := rr.Rates(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the exchange rates of %s: %w", system, err)
	}
	if len(rates) == 0 {
		*notes = append(*notes, fmt.Sprintf("%s holds no exchange rates: nothing is converted", system))
	}
	return fx.NewTable(rates), nil
}

// isPaymentsFlow reports whether flow carries the ERP's invoices back onto
// the deals of the order-to-cash flow o2c.
func (a *app) isPaymentsFlow(flow string, o2c config.Flow) bool {
	f, ok := a.cfg.Flow(flow)
	return ok && f.Entity == model.Invoice && f.Source == o2c.Target && f.Target == o2c.Source
}

// reconcileFix prints the plan of the fixable drift's corrections and, unless
// dryRun, queues them.
func (a *app) reconcileFix(ctx context.Context, w io.Writer, flow string, drift []reconcile.Drift, dryRun bool) error {
	var fixable []reconcile.Drift
	for _, d := range drift {
		if d.Fixable {
			fixable = append(fixable, d)
		}
	}
	if len(fixable) == 0 {
		fmt.Fprintf(w, "fix: nothing to correct (%d drifted fields, none a flow carries from its owner)\n", len(drift))
		return nil
	}
	src := a.reconcileSources(flow)
	plans, err := reconcile.PlanFix(ctx, src, a.eng, fixable)
	if err != nil {
		return fmt.Errorf("plan the corrections: %w", err)
	}
	fmt.Fprintf(w, "fix: %d drifted fields a flow carries from its owner; the plan:\n", len(fixable))
	printPlans(w, plans, false)
	if dryRun {
		fmt.Fprintln(w, "fix: --dry-run, nothing queued")
		return nil
	}
	n, err := reconcile.Fix(ctx, src, a.queue, fixable)
	if err != nil {
		return fmt.Errorf("queue the corrections: %w", err)
	}
	fmt.Fprintf(w, "fix: %d records queued; the next concord sync --once (or the running concord serve) writes them\n", n)
	return nil
}

// reconcileLoop runs reconcile every reconcile.every inside serve (nothing
// when it is not set): it keeps the last report for GET /reconcile and tells
// the alerts what it found.
func (a *app) reconcileLoop(ctx context.Context, last *atomic.Pointer[reconcile.Report]) {
	every := a.cfg.Reconcile.Every
	if every <= 0 {
		return
	}
	months := max(a.cfg.Reconcile.Months, 1)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		now := time.Now().UTC()
		since := time.Date(now.Year(), now.Month()-time.Month(months-1), 1, 0, 0, 0, 0, time.UTC)
		rep, err := a.reconcile(ctx, "", since, a.cfg.Reconcile.Currency)
		switch {
		case err != nil && ctx.Err() == nil:
			a.log.ErrorContext(ctx, "reconcile failed", "err", err)
		case err == nil:
			last.Store(rep)
			a.alerts.Reconciled(reconciledFindings(rep))
			a.log.InfoContext(ctx, "reconciled", "findings", rep.Findings(), "drift", len(rep.Drift), "unlinked", len(rep.Unlinked),
				"handoffs", len(rep.Handoffs), "months", len(rep.Months))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// reconcileHandler serves the last scheduled report: GET /reconcile, JSON by
// default, ?format=html, csv or table.
func reconcileHandler(cfg *config.Config, last *atomic.Pointer[reconcile.Report]) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rep := last.Load()
		if rep == nil {
			msg := "no reconcile yet: the first one runs once the systems are open"
			if cfg.Reconcile.Every <= 0 {
				msg = "scheduled reconcile is off: set reconcile.every in the config (docs/reconcile.md)"
			}
			http.Error(w, msg, http.StatusNotFound)
			return
		}
		format := r.URL.Query().Get("format")
		if format == "" {
			format = reconcile.FormatJSON
		}
		if !slices.Contains(reconcile.Formats, format) {
			http.Error(w, "format: want json, html, csv or table", http.StatusBadRequest)
			return
		}
		var buf bytes.Buffer
		if err := reconcile.Write(&buf, rep, format); err != nil {
			http.Error(w, "render failed", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", map[string]string{
			reconcile.FormatJSON: "application/json", reconcile.FormatHTML: "text/html; charset=utf-8",
			reconcile.FormatCSV: "text/csv; charset=utf-8", reconcile.FormatTable: "text/plain; charset=utf-8",
		}[format])
		_, _ = w.Write(buf.Bytes())
	})
}

// reconciledFindings counts a report's findings per alert subject: drift per
// flow, unlinked records per system, handoffs per kind, months with an
// unexplained variance.
func reconciledFindings(rep *reconcile.Report) alert.Reconciled {
	out := alert.Reconciled{At: rep.At}
	type tally struct {
		n     int
		wrong map[string]int
	}
	byFlow := map[string]*tally{}
	for _, d := range rep.Drift {
		t := byFlow[d.Flow]
		if t == nil {
			t = &tally{wrong: map[string]int{}}
			byFlow[d.Flow] = t
		}
		t.n++
		t.wrong[d.Other]++
	}
	for _, f := range sortedKeys(byFlow) {
		t := byFlow[f]
		var sides []string
		for _, s := range sortedKeys(t.wrong) {
			sides = append(sides, fmt.Sprintf("%d wrong in %s", t.wrong[s], s))
		}
		out.Findings = append(out.Findings, alert.Finding{Subject: alert.Subject{Kind: alert.KindFlow, Name: f}, Count: t.n,
			Summary: fmt.Sprintf("flow %s: %d fields drifted from their owner's value (%s)", f, t.n, strings.Join(sides, ", "))})
	}
	unlinked := map[string]int{}
	for _, u := range rep.Unlinked {
		unlinked[u.System]++
	}
	for _, s := range sortedKeys(unlinked) {
		out.Findings = append(out.Findings, alert.Finding{Subject: alert.Subject{Kind: alert.KindSystem, Name: s}, Count: unlinked[s],
			Summary: fmt.Sprintf("system %s: %d records with no counterpart linked in the other system", s, unlinked[s])})
	}
	handoffs := map[string]int{}
	for _, h := range rep.Handoffs {
		handoffs[h.Kind]++
	}
	for _, k := range sortedKeys(handoffs) {
		out.Findings = append(out.Findings, alert.Finding{Subject: alert.Subject{Kind: alert.KindOrderToCash, Name: k}, Count: handoffs[k],
			Summary: fmt.Sprintf("%d x %s", handoffs[k], strings.ReplaceAll(k, "_", " "))})
	}
	var months []string
	for _, m := range rep.Months {
		if !m.Unexplained.IsZero() {
			months = append(months, fmt.Sprintf("%s %s %s", m.Month, m.Unexplained, m.Currency))
		}
	}
	if len(months) > 0 {
		out.Findings = append(out.Findings, alert.Finding{Subject: alert.Subject{Kind: alert.KindOrderToCash, Name: "months"}, Count: len(months),
			Summary: "won vs invoiced: unexplained variance in " + strings.Join(months, ", ")})
	}
	return out
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
