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
		Long: `bench syncs --records accounts from one in-memory system to another through the
real store and the real durable queue (clean, link, plan, write, record), and prints
changes/s and peak memory next to the raw rate of inserting the same rows (events,
links, fingerprints) into the same kind of store in one transaction. PostgreSQL is
measured when --store includes postgres (DSN from --dsn or TEST_DATABASE_URL).
No config file is needed. Figures are recorded in docs/benchmarks.md.`,
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
			fmt.Fprintf(w, "STORE\tRECORDS\tSECONDS\tCHANGES/S\tRAW INSERT/S\tRAW/SYNC\tPEAK HEAP MB\tPEAK RSS MB\t\n")
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
				fmt.Fprintf(w, "%s\t%d\t%.2f\t%.0f\t%.0f\t%.2fx\t%.0f\t%.0f\t\n", r.Store, r.Records, r.Elapsed.Seconds(), r.ChangesPerS, r.RawPerS, r.Ratio(), float64(r.PeakHeap)/1e6, float64(r.PeakRSS)/1e6)
			}
			fmt.Fprintf(w, "\n(go %s, %s/%s, %d CPUs)\t\t\t\t\t\t\t\t\n", runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
			return w.Flush()
		},
	}
	cmd.Flags().IntVar(&p.Records, "records", 100000, "changes to sync")
	cmd.Flags().IntVar(&p.BatchSize, "batch", 1000, "records per batch")
	cmd.Flags().StringSliceVar(&stores, "store", []string{"sqlite"}, "stores to measure: sqlite, postgres")
	cmd.Flags().StringVar(&p.DSN, "dsn", "", "PostgreSQL DSN for --store postgres")
	return cmd
}
