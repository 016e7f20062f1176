package main

import (
	"fmt"
	"os"
	"runtime"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/concord-sync/concord/internal/bench"
)

func newBenchCmd(g *globals) *cobra.Command {
	var p bench.Params
	var stores []string
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
docs/benchmarks.md.`,
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
	cmd.Flags().IntVar(&p.Records, "records", 100000, "changes to sync")
	cmd.Flags().IntVar(&p.BatchSize, "batch", 1000, "records per batch")
	cmd.Flags().StringSliceVar(&stores, "store", []string{"sqlite"}, "stores to measure: sqlite, postgres")
	cmd.Flags().StringVar(&p.DSN, "dsn", "", "PostgreSQL DSN for --store postgres")
	cmd.Flags().StringVar(&p.Systems, "systems", "stream", "the systems synced: stream (generated source, counting sink: nothing held per record) or memory (in-memory systems)")
	return cmd
}
