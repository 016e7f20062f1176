package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/concord-sync/concord/internal/bench"
)

func newBenchCmd(g *globals) *cobra.Command {
	var p bench.Params
	var stores, scenarios []string
	var mysqlDSN string
	var repeat int
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure sync throughput and memory through the real store and queue",
		Long: `bench syncs --records accounts from one system to another through the real
store and the real durable queue (clean, link, plan, write, record), and prints
changes/s and memory next to the raw rate of inserting the same rows (events, links,
fingerprints) into the same kind of store in one transaction.

--systems stream (the default) reads from a generated source and writes to a counting
sink, which hold nothing per record: the memory printed is Concord's own, and the
resident memory (RSS) at 10 %, 50 % and 100 % of the records shows whether it stays
flat. --systems memory uses two in-memory systems that hold every record.

PostgreSQL is measured when --store includes postgres (DSN from --dsn or
TEST_DATABASE_URL). No config file is needed. Figures are recorded in
docs/benchmarks.md.

--scenario NAME[,NAME] runs named scenarios instead, each printing its figure next
to a baseline measured in the same run (--scenario list names them and what each
needs; --scenario all runs every one). --records and --batch, when given, change a
scenario's size and batch; unset, each scenario uses its own defaults.

concord bench webhook --url URL drives a running receiver (your own concord serve)
with signed HubSpot deliveries and prints their acknowledgement latency.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			p.Log = log
			if p.DSN == "" {
				p.DSN = os.Getenv("TEST_DATABASE_URL")
			}
			if mysqlDSN == "" {
				mysqlDSN = os.Getenv("TEST_MYSQL_DSN")
			}
			if len(scenarios) > 0 {
				env := bench.Env{Records: p.Records, BatchSize: p.BatchSize, Repeat: repeat, Stores: stores, PostgresDSN: p.DSN, MySQLDSN: mysqlDSN,
					Log: log, Progress: cmd.ErrOrStderr()}
				// Unset, --records and --batch leave each scenario its own defaults.
				if !cmd.Flags().Changed("records") {
					env.Records = 0
				}
				if !cmd.Flags().Changed("batch") {
					env.BatchSize = 0
				}
				return runScenarios(cmd.Context(), cmd.OutOrStdout(), env, scenarios)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintf(w, "STORE\tSYSTEMS\tRECORDS\tSECONDS\tCHANGES/S\tRAW INSERT/S\tRAW/SYNC\tPEAK HEAP MB\tRSS 10%% MB\tRSS 50%% MB\tRSS 100%% MB\tPEAK RSS MB\t\n")
			for _, s := range stores {
				dir, err := os.MkdirTemp("", "concord-bench-")
				if err != nil {
					return err
				}
				p.Store, p.Dir = s, dir
				if s == "postgres" && p.DSN == "" {
					os.RemoveAll(dir)
					return usageErr(fmt.Errorf("--store postgres needs --dsn or TEST_DATABASE_URL"))
				}
				r, err := bench.Run(cmd.Context(), p)
				os.RemoveAll(dir)
				if err != nil {
					return err
				}
				rss := func(b uint64) string {
					if b == 0 {
						return "-"
					}
					return fmt.Sprintf("%.0f", float64(b)/(1<<20))
				}
				fmt.Fprintf(w, "%s\t%s\t%d\t%.2f\t%.0f\t%.0f\t%.2fx\t%.0f\t%s\t%s\t%s\t%s\t\n", r.Store, p.Systems, r.Records, r.Elapsed.Seconds(), r.ChangesPerS, r.RawPerS, r.Ratio(),
					float64(r.PeakHeap)/(1<<20), rss(r.RSSAt[0]), rss(r.RSSAt[1]), rss(r.RSSAt[2]), rss(r.PeakRSS))
				if err := w.Flush(); err != nil { // each store's row as soon as it is measured
					return err
				}
			}
			fmt.Fprintf(w, "\n(go %s, %s/%s, %d CPUs; MB = MiB)\t\t\t\t\t\t\t\t\t\t\t\t\n", runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
			return w.Flush()
		},
	}
	cmd.Flags().IntVar(&p.Records, "records", 100000, "changes to sync (with --scenario: each scenario's default when unset)")
	cmd.Flags().IntVar(&p.BatchSize, "batch", 1000, "records per batch (with --scenario: each scenario's default when unset)")
	cmd.Flags().StringSliceVar(&stores, "store", []string{"sqlite"}, "stores to measure: sqlite, postgres")
	cmd.Flags().StringVar(&p.DSN, "dsn", "", "PostgreSQL DSN for --store postgres")
	cmd.Flags().StringSliceVar(&scenarios, "scenario", nil, "run these scenarios, each next to its baseline: a name, a comma-separated list, all, or list to name them")
	cmd.Flags().IntVar(&repeat, "repeat", 1, "with --scenario: run each measurement and its baseline this many times, alternately, and print the medians")
	cmd.Flags().StringVar(&mysqlDSN, "mysql-dsn", "", "MySQL/MariaDB DSN for the scenarios that write into one (default TEST_MYSQL_DSN)")
	cmd.AddCommand(newBenchWebhookCmd())
	cmd.Flags().StringVar(&p.Systems, "systems", "stream", "the systems synced: stream (generated source, counting sink: nothing held per record) or memory (in-memory systems)")
	return cmd
}

// runScenarios runs the named scenarios (all, or list to print them) and
// prints one row per figure as soon as its scenario ends.
func runScenarios(ctx context.Context, out io.Writer, env bench.Env, names []string) error {
	if len(names) == 1 && names[0] == "list" {
		w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintf(w, "SCENARIO\tMEASURES\tNEEDS\n")
		for _, s := range bench.Scenarios() {
			fmt.Fprintf(w, "%s\t%s\t%s\n", s.Name, s.Summary, s.Needs)
		}
		return w.Flush()
	}
	var run []bench.Scenario
	for _, n := range names {
		if n == "all" {
			run = bench.Scenarios()
			break
		}
		s, ok := bench.Lookup(n)
		if !ok {
			return usageErr(fmt.Errorf("--scenario %q: no such scenario (have %s; list describes them)", n, bench.Names()))
		}
		run = append(run, s)
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "SCENARIO\tCASE\tCONCORD\tBASELINE\tRATIO\tTARGET\tNOTE\n")
	var failed error
	for _, s := range run {
		dir, err := os.MkdirTemp("", "concord-bench-"+s.Name+"-")
		if err != nil {
			return err
		}
		env.Dir = dir
		figs, err := s.Run(ctx, env)
		os.RemoveAll(dir)
		for _, f := range figs {
			ratio := "-"
			if r := f.Ratio(); r > 0 {
				ratio = fmt.Sprintf("%.2fx", r)
			}
			fmt.Fprintf(w, "%s\t%s\t%s %s\t%s (%s)\t%s\t%s\t%s\n", s.Name, f.Case, num(f.Value), f.Unit, num(f.Baseline), f.BaselineName, ratio, f.Target, f.Note)
		}
		if err != nil {
			if errors.Is(err, bench.ErrMissing) && len(run) > 1 { // all: say what was skipped, go on
				fmt.Fprintf(w, "%s\tnot run: %v\t\t\t\t\t\n", s.Name, err)
			} else {
				if !errors.Is(err, bench.ErrMissing) { // that one names the scenario already
					err = fmt.Errorf("scenario %s: %w", s.Name, err)
				}
				failed = errors.Join(failed, err)
			}
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "\n(go %s, %s/%s, %d CPUs; ratio = times worse than the baseline)\n", runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
	if err := w.Flush(); err != nil {
		return err
	}
	return failed
}

// num prints a figure with the precision its size needs.
func num(v float64) string {
	switch {
	case v == 0:
		return "-"
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}
