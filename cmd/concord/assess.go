package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"github.com/spf13/cobra"

	"github.com/concord-sync/concord/internal/assess"
	"github.com/concord-sync/concord/internal/config"
	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/all"
	"github.com/concord-sync/concord/internal/match"
	"github.com/concord-sync/concord/internal/model"
)

// assessEntities are the entities assess reads from each system that maps
// them.
var assessEntities = []model.Entity{model.Account, model.Contact, model.Product, model.Deal, model.Order, model.Invoice}

func newAssessCmd(g *globals) *cobra.Command {
	a := assess.DefaultAssumptions()
	var format, output, crm, erp string
	run := defaultRunOptions()
	cmd := &cobra.Command{
		Use:   "assess [--format table|json|html] [--output FILE] [--minutes-per-entry 4] [--hourly-cost 45]",
		Short: "Measure, before any flow is on, what the gap between the CRM and the ERP costs a week, and which flow to start with",
		Long: `concord assess reads both systems in full, read-only, and needs only the config's
systems and entities (flows may be empty; Concord's store is not opened). It measures:
  customers present in both systems (matched on name, address, phone, keys; not by
  exact name) and the fields that differ between them after cleaning; won deals
  without an ERP order and ERP invoices without a CRM deal (paired by the ids one
  system holds of the other's records, else by matched customer, amount and date);
  likely duplicates inside each system; values cleaning would quarantine, per
  field; the days from a deal won to its order.
Each measure becomes an estimated weekly cost under the assumptions below (printed
with the report); the top five pains are ranked, and the first flow to switch on is
recommended with its minimal fields and a config snippet to paste under flows.
See docs/assess.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch format {
			case "table", "json", "html":
			default:
				return usageErr(fmt.Errorf("--format %q: want table, json or html", format))
			}
			if err := checkAssumptions(a); err != nil {
				return usageErr(err)
			}
			return runAssess(cmd, g, run, a, format, output, crm, erp)
		},
	}
	f := cmd.Flags()
	f.StringVar(&format, "format", "table", "output: table (terminal), json or html")
	f.StringVarP(&output, "output", "o", "", "write the report to this file instead of stdout")
	f.Var(decimalFlag{&a.MinutesPerEntry}, "minutes-per-entry", "minutes one manual re-entry or correction of a record takes")
	f.Var(decimalFlag{&a.MinutesPerInvestigation}, "minutes-per-investigation", "minutes it takes to chase a broken handoff or merge a duplicate")
	f.Var(decimalFlag{&a.HourlyCost}, "hourly-cost", "cost of one hour of the people doing it, in --currency")
	f.StringVar(&a.Currency, "currency", a.Currency, "currency of --hourly-cost and of the costs (ISO 4217)")
	f.Var(decimalFlag{&a.CapitalRate}, "capital-rate", "yearly cost of money a delayed order costs on its amount (0.08 = 8%)")
	f.Var(decimalFlag{&a.Weeks}, "weeks", "weeks the records accumulated over (default: measured from the won deals' close dates, else 52)")
	f.Var(decimalFlag{&a.AmountTolerance}, "amount-tolerance", "relative difference within which a deal and an order or invoice hold the same amount when paired without a reference (0.01 = 1%)")
	f.IntVar(&a.WindowDays, "window-days", a.WindowDays, "days after a deal's close date its order or invoice may be dated when paired without a reference")
	f.StringVar(&crm, "crm", "", "the CRM system's name (default: the system that maps deals)")
	f.StringVar(&erp, "erp", "", "the ERP system's name (default: the system that maps orders or invoices)")
	retryFlag(cmd, &run)
	return cmd
}

// checkAssumptions refuses assumptions no cost can come from.
func checkAssumptions(a assess.Assumptions) error {
	var errs []error
	for _, c := range []struct {
		name string
		v    decimal.Decimal
	}{{"--minutes-per-entry", a.MinutesPerEntry}, {"--minutes-per-investigation", a.MinutesPerInvestigation}, {"--hourly-cost", a.HourlyCost},
		{"--capital-rate", a.CapitalRate}, {"--weeks", a.Weeks}, {"--amount-tolerance", a.AmountTolerance}} {
		if c.v.IsNegative() {
			errs = append(errs, fmt.Errorf("%s %s: want 0 or more", c.name, c.v))
		}
	}
	if len(a.Currency) != 3 {
		errs = append(errs, fmt.Errorf("--currency %q: want an ISO 4217 code such as EUR", a.Currency))
	}
	if a.WindowDays < 0 {
		errs = append(errs, fmt.Errorf("--window-days %d: want 0 or more", a.WindowDays))
	}
	return errors.Join(errs...)
}

// decimalFlag is a flag holding an exact decimal.
type decimalFlag struct{ d *decimal.Decimal }

func (f decimalFlag) String() string {
	if f.d == nil {
		return ""
	}
	return f.d.String()
}

func (f decimalFlag) Set(s string) error {
	d, err := decimal.NewFromString(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("%q is not a number", s)
	}
	*f.d = d
	return nil
}

func (decimalFlag) Type() string { return "number" }

// runAssess opens the systems (not the store), reads them and prints the
// report.
func runAssess(cmd *cobra.Command, g *globals, run runOptions, a assess.Assumptions, format, output, crm, erp string) error {
	ctx := cmd.Context()
	log, err := g.logger()
	if err != nil {
		return err
	}
	reg := all.Registry(all.Deps{})
	cfg, err := loadConfig(g, reg)
	if err != nil {
		return err
	}
	ap := &app{cfg: cfg, log: log, conns: map[string]connector.Connector{}, run: run}
	defer func() {
		for name, c := range ap.conns {
			if err := c.Close(context.WithoutCancel(ctx)); err != nil {
				log.WarnContext(ctx, "close system", "system", name, "err", err)
			}
		}
	}()
	if err := ap.openSystems(ctx, reg); err != nil {
		return err
	}
	crm, erp, err = assessRoles(cfg, ap.conns, crm, erp)
	if err != nil {
		return usageErr(err)
	}
	in := &assess.Input{Now: time.Now().UTC(), Rules: map[model.Entity]match.Rules{},
		Clean: map[model.Entity]map[string][]string{}, Owners: map[model.Entity]map[string]string{}, Required: map[model.Entity]map[string]bool{}}
	for e, ent := range cfg.Entities {
		in.Clean[e], in.Owners[e], in.Required[e] = map[string][]string{}, map[string]string{}, map[string]bool{}
		for name, fd := range ent.Fields {
			in.Clean[e][name], in.Owners[e][name], in.Required[e][name] = fd.Clean, fd.Owner, fd.Required
		}
	}
	for _, e := range assessEntities {
		if rules, ok := cfg.MatchRules(e); ok {
			in.Rules[e] = rules
		}
	}
	for _, s := range []struct {
		name string
		sys  *assess.System
	}{{crm, &in.CRM}, {erp, &in.ERP}} {
		if err := readSystem(ctx, ap, s.name, s.sys); err != nil {
			return err
		}
	}
	report := assess.Assess(in, a)

	w := cmd.OutOrStdout()
	var file *os.File
	if output != "" {
		file, err = os.Create(output)
		if err != nil {
			return usageErr(fmt.Errorf("--output: %w", err))
		}
		defer file.Close()
		w = file
	}
	if err := writeAssess(w, report, format); err != nil {
		return fmt.Errorf("write the report: %w", err)
	}
	if file != nil {
		if err := file.Close(); err != nil {
			return fmt.Errorf("write %s: %w", output, err)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "wrote %s\n", output)
	}
	return nil
}

func writeAssess(w io.Writer, r *assess.Report, format string) error {
	switch format {
	case "json":
		return assess.WriteJSON(w, r)
	case "html":
		return assess.WriteHTML(w, r)
	}
	return assess.WriteTable(w, r, safeText)
}

// readSystem reads every entity of assessEntities the system maps, in full,
// page by page (sync.batch_size records a page).
func readSystem(ctx context.Context, ap *app, name string, sys *assess.System) error {
	conn := ap.conns[name]
	sys.Name = name
	sys.Fields = map[model.Entity][]string{}
	sys.Records = map[model.Entity][]model.Record{}
	if sc, ok := ap.cfg.System(name); ok {
		sys.DefaultCountry = sc.DefaultCountry
	}
	for _, info := range conn.Entities() {
		if !slices.Contains(assessEntities, info.Entity) {
			continue
		}
		sys.Fields[info.Entity] = info.Fields
		recs, err := assess.ReadAll(ctx, conn, info.Entity, ap.cfg.Sync.BatchSize)
		if err != nil {
			return fmt.Errorf("assess: %s: %w", name, err)
		}
		sys.Records[info.Entity] = recs
	}
	return nil
}

// assessRoles names the CRM and the ERP: the flags, else the system that
// maps deals is the CRM and the one that maps orders or invoices the ERP.
func assessRoles(cfg *config.Config, conns map[string]connector.Connector, crm, erp string) (string, string, error) {
	maps := func(name string, es ...model.Entity) bool {
		c, ok := conns[name]
		if !ok {
			return false
		}
		for _, info := range c.Entities() {
			if slices.Contains(es, info.Entity) {
				return true
			}
		}
		return false
	}
	for _, s := range cfg.Systems {
		if crm == "" && s.Name != erp && maps(s.Name, model.Deal) {
			crm = s.Name
		}
	}
	for _, s := range cfg.Systems {
		if erp == "" && s.Name != crm && maps(s.Name, model.Order, model.Invoice) {
			erp = s.Name
		}
	}
	if crm == "" || erp == "" {
		var names []string
		for _, s := range cfg.Systems {
			if s.Name != crm && s.Name != erp {
				names = append(names, s.Name)
			}
		}
		if crm == "" && len(names) > 0 {
			crm, names = names[0], names[1:]
		}
		if erp == "" && len(names) > 0 {
			erp = names[0]
		}
	}
	for _, n := range []string{crm, erp} {
		if _, ok := conns[n]; !ok {
			return "", "", fmt.Errorf("no system named %q in %s; systems: %s", n, cfg.Path, systemNames(cfg))
		}
	}
	if crm == erp {
		return "", "", fmt.Errorf("--crm and --erp name the same system %s", crm)
	}
	return crm, erp, nil
}

func systemNames(cfg *config.Config) string {
	names := make([]string, len(cfg.Systems))
	for i, s := range cfg.Systems {
		names[i] = s.Name
	}
	return strings.Join(names, ", ")
}
