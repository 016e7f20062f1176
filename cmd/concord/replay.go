package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/queue"
	"github.com/concord-sync/concord/internal/retry"
	"github.com/concord-sync/concord/internal/store"
)

func newReplayCmd(g *globals) *cobra.Command {
	run := defaultRunOptions()
	cmd := &cobra.Command{
		Use:   "replay ID",
		Short: "Re-apply the change recorded by an event, idempotently",
		Long: `replay takes the source snapshot of an event and runs it through the flow again,
now: clean, link, plan against the target's current values, write only what
differs, record a new event pointing at the replayed one. A replay of an applied
event writes nothing; a change older than the one last applied is refused as stale.
A system that fails transiently is retried with backoff for up to --retry-for.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil {
				return usageErr(fmt.Errorf("event id %q is not a number", args[0]))
			}
			ctx := cmd.Context()
			a, err := openAppWith(ctx, g, run)
			if err != nil {
				return err
			}
			defer a.Close(context.WithoutCancel(ctx))
			// Replaying applies a change of a flow: only the process that runs
			// the queue may (serve holds it on a SQLite store).
			if err := a.queue.Start(ctx, a.eng); errors.Is(err, queue.ErrBusy) {
				src, err := a.eng.QueueReplay(ctx, id)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "event %d queued for replay; the running concord serve applies it (concord events --source-id %s)\n", id, src)
				return nil
			} else if err != nil {
				return err
			}
			var out engine.Outcome
			// A replay is idempotent: an attempt cut short by a transient
			// failure is simply made again.
			err = retry.Do(ctx, a.retryPolicy(ctx, "replay", "event", id), func(ctx context.Context) error {
				var err error
				out, err = a.eng.Replay(ctx, id)
				return err
			})
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("no event %d", id)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "event %d replayed as event %d: %s", id, out.EventID, out.Outcome)
			if out.Reason != "" {
				fmt.Fprintf(cmd.OutOrStdout(), " (%s)", safeText(out.Reason))
			}
			fmt.Fprintln(cmd.OutOrStdout())
			if out.Outcome == store.OutcomeFailed || out.Outcome == store.OutcomeDead || out.Outcome == store.OutcomeRetrying {
				return &exitError{code: exitRuntime, err: errors.New("replay did not apply")}
			}
			return nil
		},
	}
	retryFlag(cmd, &run)
	return cmd
}
