package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/concord-sync/concord/internal/config"
	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/all"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/report"
	"github.com/concord-sync/concord/internal/tracing"
)

func newReportCmd(g *globals) *cobra.Command {
	var format, output, since, currency string
	var refresh bool
	cmd := &cobra.Command{
		Use:   "report NAME | report list | report refresh | report export",
		Short: "Reports across both systems: revenue per segment, margin per client, pipeline vs invoiced, days to cash, overdue balances",
		Long: `report NAME runs one report on the reporting database: a copy of what the CRM and the
ERP hold, in a star schema (customers with their CRM segment and ERP customer number,
products with their ERP cost, deals, invoice lines, payments), which concord report
refresh brings up to date from both systems. Once it exists, sync --once refreshes it
at the end of every run and serve every report.every (default 15m).

Built-in reports (concord report list shows them with yours):
  revenue-by-segment     revenue per CRM segment per month
  margin-by-client       revenue less cost of goods per customer and segment
  pipeline-vs-invoiced   open pipeline, won and invoiced amounts per month
  won-to-paid            days from won to invoiced to paid, per month won
  overdue-balances       the 20 customers owing the most past due

Every report is a readable SQL file (internal/report/sql/); add your own as NAME.sql in
report.reports_dir (docs/reporting.md shows how). Money is exact and per currency;
--currency EUR (or report.currency in the config) converts every amount into EUR with
the ERP's own exchange rates, each at the rate of its record's date (the refresh copies
the rates into dim_rate), rounded once in the final figure; the report names the rates
it used, and an amount with no rate stays in its own currency, with a note.

  concord report margin-by-client --format html --output margin.html
  concord report revenue-by-segment --since 2026-01 --format csv
  concord report revenue-by-segment --currency EUR
  concord report refresh [--full]
  concord report export --format parquet --output bi/

Exit codes: 0 ok, 1 a system or the reporting database failed, 2 unknown report or
bad flags.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErr(errors.New("report needs a report name, or list, refresh or export (concord report list shows the reports)"))
			}
			ctx := cmd.Context()
			reg := all.Registry(all.Deps{})
			cfg, err := loadConfig(g, reg)
			if err != nil {
				return err
			}
			cat, err := report.LoadCatalog(cfg.Report.Dir)
			if err != nil {
				return usageErr(err)
			}
			r, ok := cat.Lookup(args[0])
			if !ok {
				return usageErr(fmt.Errorf("no report named %q; reports: %s", args[0], strings.Join(cat.Names(), ", ")))
			}
			if format == "" {
				format = formatOf(output)
			}
			if !slices.Contains(report.Formats, format) {
				return usageErr(fmt.Errorf("--format %q: want %s", format, strings.Join(report.Formats, ", ")))
			}
			p := report.Params{Currency: cfg.Report.Currency}
			if currency != "" {
				if !currencyRe.MatchString(currency) {
					return usageErr(fmt.Errorf("--currency %q: want an ISO 4217 code such as EUR", currency))
				}
				p.Currency = strings.ToUpper(currency)
			}
			if since != "" {
				if p.Since, err = parseSince(since); err != nil {
					return usageErr(err)
				}
			}
			db, err := openReportDB(ctx, cfg)
			if err != nil {
				return err
			}
			defer db.Close()
			if refresh {
				if _, err := refreshReport(ctx, g, cfg, reg, db, false); err != nil {
					return err
				}
			}
			if err := requireRefreshed(ctx, db); err != nil {
				return err
			}
			res, err := report.Run(ctx, db, r, p)
			if err != nil {
				return err
			}
			if format == "table" {
				res = safeResult(res)
			}
			return writeOutput(cmd.OutOrStdout(), output, func(w io.Writer) error { return report.Render(w, res, format, time.Now()) })
		},
	}
	cmd.Flags().StringVar(&format, "format", "", "output: table, csv, json or html (default: from --output's extension, else table)")
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to this file instead of standard output")
	cmd.Flags().StringVar(&since, "since", "", "only from this date on: YYYY-MM-DD or YYYY-MM")
	cmd.Flags().BoolVar(&refresh, "refresh", false, "refresh the reporting database from both systems first")
	cmd.Flags().StringVar(&currency, "currency", "", "report money in this currency (ISO code such as EUR), converted with the ERP's exchange rates (default: report.currency, else per currency)")
	cmd.AddCommand(newReportListCmd(g), newReportRefreshCmd(g), newReportExportCmd(g))
	return cmd
}

func newReportListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the reports: built-in and from report.reports_dir",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir := ""
			if cfg, err := loadConfig(g, all.Registry(all.Deps{})); err == nil {
				dir = cfg.Report.Dir
			} else if _, statErr := os.Stat(g.config); statErr == nil {
				return err
			}
			cat, err := report.LoadCatalog(dir)
			if err != nil {
				return usageErr(err)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tTITLE\tSOURCE")
			for _, r := range cat.Reports() {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Name, safeCell(r.Title), safeCell(r.Source))
			}
			return tw.Flush()
		},
	}
}

func newReportRefreshCmd(g *globals) *cobra.Command {
	var full bool
	cmd := &cobra.Command{
		Use:   "refresh [--full]",
		Short: "Bring the reporting database up to date from both systems",
		Long: `refresh reads, for each entity the reporting database takes from the CRM (accounts,
deals) and the ERP (accounts, products, orders with their lines, invoices, payments when
mapped), the changes since its own cursor, page by page, and upserts them; each page and
its cursor are saved together, so a stopped refresh goes on where it stopped. The first
refresh reads everything; later ones only what changed, so a refresh with nothing
changed is one empty read per entity. --full reads everything again and replaces each
entity's rows, which is how records deleted in a system leave the reporting database.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			reg := all.Registry(all.Deps{})
			cfg, err := loadConfig(g, reg)
			if err != nil {
				return err
			}
			db, err := openReportDB(ctx, cfg)
			if err != nil {
				return err
			}
			defer db.Close()
			st, err := refreshReport(ctx, g, cfg, reg, db, full)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "SYSTEM\tENTITY\tREAD\tPAGES")
			for _, e := range st.Entities {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\n", e.System, e.Entity, e.Read, e.Pages)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "refreshed %s: %d records read in %s\n", db.Where(), st.Total(), st.Took.Round(time.Millisecond))
			return err
		},
	}
	cmd.Flags().BoolVar(&full, "full", false, "read everything again and replace the rows (drops records deleted in a system)")
	return cmd
}

func newReportExportCmd(g *globals) *cobra.Command {
	var format, output string
	cmd := &cobra.Command{
		Use:   "export --format csv|parquet --output DIR",
		Short: "Export the whole star schema as CSV or Parquet files for a BI tool",
		Long: `export writes every table of the reporting database's star schema (dim_customer,
dim_product, dim_date, dim_rate, fact_deal, fact_invoice, fact_invoice_line,
fact_payment) into DIR as TABLE.csv or TABLE.parquet. Decimals (money, quantities) are exact text in both; in
Parquet integer columns are INT64. It exports what the last refresh read (add --refresh
to refresh first).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if !slices.Contains(report.ExportFormats, format) {
				return usageErr(fmt.Errorf("--format %q: want csv or parquet", format))
			}
			if output == "" {
				return usageErr(errors.New("export needs --output DIR"))
			}
			reg := all.Registry(all.Deps{})
			cfg, err := loadConfig(g, reg)
			if err != nil {
				return err
			}
			db, err := openReportDB(ctx, cfg)
			if err != nil {
				return err
			}
			defer db.Close()
			if refresh, _ := cmd.Flags().GetBool("refresh"); refresh {
				if _, err := refreshReport(ctx, g, cfg, reg, db, false); err != nil {
					return err
				}
			}
			if err := requireRefreshed(ctx, db); err != nil {
				return err
			}
			files, err := report.Export(ctx, db, format, output)
			if err != nil {
				return err
			}
			paths := make([]string, 0, len(files))
			for p := range files {
				paths = append(paths, p)
			}
			slices.Sort(paths)
			for _, p := range paths {
				fmt.Fprintf(cmd.OutOrStdout(), "%s\t%d rows\n", p, files[p])
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "csv", "csv or parquet")
	cmd.Flags().StringVarP(&output, "output", "o", "", "directory to write the files into (created if needed)")
	cmd.Flags().Bool("refresh", false, "refresh the reporting database from both systems first")
	return cmd
}

// formatOf guesses a report's format from the output file's extension.
func formatOf(output string) string {
	switch strings.ToLower(filepath.Ext(output)) {
	case ".html", ".htm":
		return "html"
	case ".csv":
		return "csv"
	case ".json":
		return "json"
	}
	return "table"
}

// parseSince reads --since: YYYY-MM-DD or YYYY-MM.
func parseSince(s string) (string, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.Format(time.DateOnly), nil
	}
	if t, err := time.Parse("2006-01", s); err == nil {
		return t.Format(time.DateOnly), nil
	}
	return "", fmt.Errorf("--since %q: want a date, YYYY-MM-DD or YYYY-MM", s)
}

// writeOutput writes with write to the file output, or to stdout when empty.
func writeOutput(stdout io.Writer, output string, write func(io.Writer) error) error {
	if output == "" {
		return write(stdout)
	}
	f, err := os.Create(output)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// reportConfig is where the reporting database of cfg is.
func reportConfig(cfg *config.Config) report.Config {
	if cfg.Store.Driver == config.DriverPostgres {
		return report.Config{Driver: report.Postgres, DSN: cfg.Store.DSN, Schema: cfg.Report.Schema}
	}
	return report.Config{Driver: report.SQLite, Path: cfg.Report.Path}
}

// openReportDB opens (creating) the reporting database of cfg.
func openReportDB(ctx context.Context, cfg *config.Config) (*report.DB, error) {
	db, err := report.Open(ctx, reportConfig(cfg))
	if err != nil {
		return nil, fmt.Errorf("open the reporting database: %w", err)
	}
	return db, nil
}

// reportExists reports whether sync --once and serve keep the reporting
// database up to date: the config has a report section, or the database was
// created by an earlier concord report.
func reportExists(ctx context.Context, cfg *config.Config) bool {
	if cfg.Report.Configured {
		return true
	}
	rc := reportConfig(cfg)
	if rc.Driver == report.SQLite {
		_, err := os.Stat(rc.Path)
		return err == nil
	}
	db, err := sql.Open("pgx", rc.DSN)
	if err != nil {
		return false
	}
	defer db.Close()
	var n int
	err = db.QueryRowContext(ctx, `SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1`, rc.Schema).Scan(&n)
	return err == nil && n > 0
}

// requireRefreshed refuses to run reports on a reporting database no refresh
// has filled.
func requireRefreshed(ctx context.Context, db *report.DB) error {
	var n int
	if err := db.SQL().QueryRowContext(ctx, `SELECT count(*) FROM report_cursor`).Scan(&n); err != nil {
		return fmt.Errorf("reporting database %s: %w", db.Where(), err)
	}
	if n == 0 {
		return &exitError{code: exitRuntime, err: fmt.Errorf("the reporting database (%s) is empty: run concord report refresh first, or add --refresh", db.Where())}
	}
	return nil
}

// refreshReport opens the systems of cfg and refreshes db from them.
func refreshReport(ctx context.Context, g *globals, cfg *config.Config, reg *connector.Registry, db *report.DB, full bool) (report.Stats, error) {
	log, err := g.logger()
	if err != nil {
		return report.Stats{}, err
	}
	a := &app{cfg: cfg, log: log, conns: map[string]connector.Connector{}, run: defaultRunOptions(), tracer: tracing.Off()}
	defer a.Close(context.WithoutCancel(ctx))
	if err := a.openSystems(ctx, reg); err != nil {
		return report.Stats{}, err
	}
	return a.refreshReportWith(ctx, db, full)
}

// refreshReportWith refreshes db from a's open systems.
func (a *app) refreshReportWith(ctx context.Context, db *report.DB, full bool) (report.Stats, error) {
	crm, erp, err := reportSides(a.cfg, a.conns)
	if err != nil {
		return report.Stats{}, usageErr(err)
	}
	ref := &report.Refresher{DB: db, CRM: crm, ERP: erp, PageSize: a.cfg.Sync.BatchSize, Log: a.log.With("component", "report")}
	return ref.Refresh(ctx, full)
}

// refreshReport refreshes the reporting database at the end of sync --once
// and in serve, when it is kept (reportExists); a failure is logged, the sync
// stands.
func (a *app) refreshReport(ctx context.Context) {
	if !reportExists(ctx, a.cfg) {
		return
	}
	db, err := openReportDB(ctx, a.cfg)
	if err == nil {
		var st report.Stats
		st, err = a.refreshReportWith(ctx, db, false)
		_ = db.Close()
		if err == nil {
			a.log.InfoContext(ctx, "reporting database refreshed", "read", st.Total(), "took", st.Took)
			return
		}
	}
	if ctx.Err() == nil {
		a.log.ErrorContext(ctx, "reporting database not refreshed", "err", err)
	}
}

// reportLoop refreshes the reporting database every report.every until ctx
// is done (serve).
func (a *app) reportLoop(ctx context.Context) {
	t := time.NewTicker(a.cfg.Report.Every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			a.refreshReport(ctx)
		}
	}
}

// reportSides picks the CRM (the system that maps deals) and the ERP (the
// other one that maps invoices or orders) among the configured systems.
func reportSides(cfg *config.Config, conns map[string]connector.Connector) (crm, erp report.System, err error) {
	maps := func(c connector.Connector, e model.Entity) bool {
		return slices.ContainsFunc(c.Entities(), func(i connector.EntityInfo) bool { return i.Entity == e })
	}
	for _, sys := range cfg.Systems {
		c := conns[sys.Name]
		if c == nil {
			continue
		}
		switch {
		case crm.Reader == nil && maps(c, model.Deal) && !maps(c, model.Invoice):
			crm = report.System{Name: sys.Name, Reader: c}
		case erp.Reader == nil && (maps(c, model.Invoice) || maps(c, model.Order)):
			erp = report.System{Name: sys.Name, Reader: c}
		}
	}
	if crm.Reader == nil && erp.Reader == nil {
		return crm, erp, errors.New("report: no system maps deals (the CRM) or invoices or orders (the ERP)")
	}
	return crm, erp, nil
}

// safeResult escapes the control characters of a report's text cells (values
// typed in the systems) before they are printed as a terminal table.
func safeResult(res *report.Result) *report.Result {
	out := *res
	out.Rows = make([][]any, len(res.Rows))
	for i, row := range res.Rows {
		out.Rows[i] = make([]any, len(row))
		for j, v := range row {
			if s, ok := v.(string); ok {
				v = safeCell(s)
			}
			out.Rows[i][j] = v
		}
	}
	out.Notes = make([]string, len(res.Notes))
	for i, n := range res.Notes {
		out.Notes[i] = safeCell(n)
	}
	return &out
}
