package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/concord-sync/concord/internal/queue"
	"github.com/concord-sync/concord/internal/store"
)

func newDeadLetterCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "deadletter",
		Aliases: []string{"dl"},
		Short:   "List and retry changes that failed their last attempt",
		Long: `A change whose write failed is retried with exponential backoff and jitter
(sync.retry in the config); after its last attempt, or at once when the target
refused it for good, it becomes a dead letter with its reason. Fix the cause, then
retry it by hand: the retry goes through the queue like any change and is logged.`,
	}
	var flow string
	var asJSON, retried bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List dead letters, oldest first",
		Args:  cobra.NoArgs,
		RunE: listing[store.DeadLetter]{
			fetch: func(ctx context.Context, st store.Store) ([]store.DeadLetter, error) {
				return st.ListDeadLetters(ctx, &store.ListDeadLettersParams{Flow: flow, IncludeRetried: retried})
			},
			header: "ID\tTIME\tFLOW\tRECORD\tATTEMPTS\tEVENT\tREASON",
			row: func(d store.DeadLetter) string {
				return fmt.Sprintf("%d\t%s\t%s\t%s:%s:%s\t%d\t%d\t%s", d.ID, d.CreatedAt.Format(time.DateTime), d.Flow, d.System, d.Entity, d.ExternalID, d.Attempts, d.EventID, d.Reason)
			},
			json: &asJSON,
		}.run(g),
	}
	list.Flags().StringVar(&flow, "flow", "", "only this flow")
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	list.Flags().BoolVar(&retried, "retried", false, "include letters already retried")

	var retryAll bool
	retry := &cobra.Command{
		Use:   "retry ID... | --all",
		Short: "Put dead letters back on the queue and apply them now",
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
				letters = append(letters, dl)
			}
			n, err := a.eng.RetryDeadLetters(ctx, letters)
			skipped := err
			if err != nil && n == 0 {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "re-queued %d dead letters\n", n)
			if n == 0 {
				return nil
			}
			if err := a.syncOnce(ctx, nil, false, cmd.ErrOrStderr()); err != nil {
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
	retry.Flags().BoolVar(&retryAll, "all", false, "retry every dead letter")
	cmd.AddCommand(list, retry)
	return cmd
}
