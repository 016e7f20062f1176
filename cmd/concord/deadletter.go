package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/queue"
	"github.com/concord-sync/concord/internal/store"
)

func newDeadLetterCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "deadletter",
		Aliases: []string{"dl"},
		Short:   "List and retry changes that failed for a reason a person must fix",
		Long: `A change whose write failed is retried with exponential backoff and jitter
(sync.retry in the config); after its last attempt, or at once when the target
refused it for good, it becomes a dead letter with its reason. A record has at
most one open letter per flow: a repeated failure of the same cause updates it
(ATTEMPTS adds up), another cause replaces it. A letter closes by itself when its
record later syncs. Letters of passing causes (a system that was down) are retried
automatically with backoff by serve and sync; the others wait for you: fix the
value at the source and retry (the retry reads the record again), or correct it
in the retry with --set field=value.`,
	}
	var flow string
	var asJSON, all bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List open dead letters, oldest first (--all: closed ones too)",
		Args:  cobra.NoArgs,
		RunE: listing[store.DeadLetter]{
			fetch: func(ctx context.Context, st store.Store) ([]store.DeadLetter, error) {
				return st.ListDeadLetters(ctx, &store.ListDeadLettersParams{Flow: flow, IncludeClosed: all})
			},
			header: "ID\tSINCE\tLAST\tFLOW\tRECORD\tATTEMPTS\tSTATE\tEVENT\tREASON",
			row: func(d store.DeadLetter) string {
				return fmt.Sprintf("%d\t%s\t%s\t%s\t%s:%s:%s\t%d\t%s\t%d\t%s", d.ID, d.CreatedAt.Format(time.DateTime), d.UpdatedAt.Format(time.DateTime),
					d.Flow, d.System, d.Entity, d.ExternalID, d.Attempts, letterState(d), d.EventID, d.Reason)
			},
			json: &asJSON,
		}.run(g),
	}
	list.Flags().StringVar(&flow, "flow", "", "only this flow")
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	list.Flags().BoolVar(&all, "all", false, "include closed letters")

	var retryAll bool
	var sets []string
	retry := &cobra.Command{
		Use:   "retry ID... | --all",
		Short: "Read the records again from their source and apply them now",
		RunE: func(cmd *cobra.Command, args []string) error {
			if retryAll == (len(args) > 0) {
				return usageErr(errors.New("give dead letter ids or --all, not both"))
			}
			ctx := cmd.Context()
			a, err := openApp(ctx, g)
			if err != nil {
				return err
			}
			defer a.Close(context.WithoutCancel(ctx))
			var letters []store.DeadLetter
			if retryAll {
				letters, err = a.store.ListDeadLetters(ctx, &store.ListDeadLettersParams{})
				if err != nil {
					return err
				}
			}
			for _, arg := range args {
				id, err := strconv.ParseInt(arg, 10, 64)
				if err != nil {
					return usageErr(fmt.Errorf("dead letter id %q is not a number", arg))
				}
				dl, err := a.store.GetDeadLetter(ctx, id)
				if errors.Is(err, store.ErrNotFound) {
					return usageErr(fmt.Errorf("no dead letter %d", id))
				}
				if err != nil {
					return err
				}
				if !dl.Open() {
					return usageErr(fmt.Errorf("dead letter %d is closed (%s)", id, dl.Resolution))
				}
				letters = append(letters, dl)
			}
			var set model.Fields
			for _, dl := range letters {
				for _, kv := range sets {
					f, v, err := a.eng.ParseOverride(dl.Flow, kv)
					if err != nil {
						return usageErr(fmt.Errorf("--set %s: %w", kv, err))
					}
					if set == nil {
						set = model.Fields{}
					}
					set[f] = v
				}
			}
			n, err := a.eng.RetryDeadLetters(ctx, letters, set)
			skipped := err
			if err != nil && n == 0 {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "re-queued %d dead letters\n", n)
			if n == 0 {
				return nil
			}
			if err := a.syncOnce(ctx, nil, false, cmd.ErrOrStderr()); err != nil {
				if ctx.Err() != nil {
					printSummary(cmd.OutOrStdout(), a.eng.Stats())
					return interrupted("the running batches were given the grace period to finish; the letters stay open, run deadletter retry again for the rest")
				}
				if errors.Is(err, queue.ErrBusy) {
					// concord serve runs the queue of this store: it applies them.
					fmt.Fprintln(cmd.OutOrStdout(), "the running concord serve applies them; see concord events")
					return skipped
				}
				return err
			}
			printSummary(cmd.OutOrStdout(), a.eng.Stats())
			if f := totalFailed(a.eng.Stats()); f > 0 {
				return &exitError{code: exitRuntime, err: errors.Join(fmt.Errorf("%d changes failed again; see concord deadletter list", f), skipped)}
			}
			return skipped
		},
	}
	retry.Flags().BoolVar(&retryAll, "all", false, "retry every open dead letter")
	retry.Flags().StringArrayVar(&sets, "set", nil, "override a source field in the retry, as field=value (repeatable; money as \"12.50 EUR\", dates as 2026-12-01)")
	cmd.AddCommand(list, retry)
	return cmd
}

// letterState says where a dead letter stands.
func letterState(d store.DeadLetter) string {
	switch {
	case !d.Open():
		return "closed: " + d.Resolution
	case d.Pending():
		return "retrying"
	case d.Retryable:
		return "open, auto-retry"
	}
	return "open"
}
