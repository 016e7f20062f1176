package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/concord-sync/concord/internal/config"
	"github.com/concord-sync/concord/internal/connector/all"
	"github.com/concord-sync/concord/internal/store"
)

// newEventsPruneCmd is `concord events prune`.
func newEventsPruneCmd(g *globals) *cobra.Command {
	var olderThan string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Delete old events and sweep summaries (default: older than retention.events)",
		Long: `prune deletes the events that started longer ago than --older-than (a number of
days such as 30d, or a duration such as 720h; at least 1h), and the summaries of
schedule passes last updated before then. Without --older-than it uses the config's
retention.events (default 90d). It deletes in small chunks, each its own
transaction, so that a running serve is not held up, and prints how many it deleted.
Events an open dead letter or a wait points at, and the events of a record in
quarantine, are kept whatever their age. --dry-run only counts.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			log, err := g.logger()
			if err != nil {
				return err
			}
			cfg, err := loadConfig(g, all.Registry(all.Deps{}))
			if err != nil {
				return err
			}
			period := cfg.Retention.Events
			if cmd.Flags().Changed("older-than") {
				if period, err = config.ParseRetention(olderThan); err != nil {
					return usageErr(fmt.Errorf("--older-than: %w", err))
				}
			}
			if period == 0 {
				return usageErr(fmt.Errorf("%s keeps events forever (retention.events); give --older-than", cfg.Path))
			}
			st, err := openStore(ctx, cfg, log)
			if err != nil {
				return fmt.Errorf("open store: %w", err)
			}
			defer st.Close()
			return pruneEvents(ctx, cmd.OutOrStdout(), st, period, time.Now(), dryRun)
		},
	}
	cmd.Flags().StringVar(&olderThan, "older-than", "", "delete what is older than this: 30d, 720h (default: the config's retention.events)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "count what would be deleted, delete nothing")
	return cmd
}

// pruneEvents prunes what is older than period before now and prints what it
// did. What was deleted before an error is printed too.
func pruneEvents(ctx context.Context, w io.Writer, st store.Store, period time.Duration, now time.Time, dryRun bool) error {
	before := now.Add(-period).UTC()
	res, err := st.PruneEvents(ctx, &store.PruneEventsParams{Before: before, DryRun: dryRun})
	verb := "pruned"
	if dryRun {
		verb = "would prune"
	}
	fmt.Fprintf(w, "%s %d events and %d sweep summaries older than %s (%s)", verb, res.Events, res.Sweeps,
		before.Format("2006-01-02 15:04 UTC"), formatPeriod(period))
	if res.Kept > 0 {
		fmt.Fprintf(w, "; kept %d older events that open dead letters, waits or quarantine entries need", res.Kept)
	}
	fmt.Fprintln(w)
	return err
}

// formatPeriod prints whole days as days (30d), else a Go duration.
func formatPeriod(d time.Duration) string {
	const day = 24 * time.Hour
	if d%day == 0 {
		return fmt.Sprintf("%dd", d/day)
	}
	return d.String()
}

// pruneEvery is how often serve applies retention.events.
const pruneEvery = time.Hour

// pruneLoop applies retention.events now and then every interval until ctx is
// cancelled; a failure is logged and tried again at the next interval.
func (a *app) pruneLoop(ctx context.Context, every time.Duration) {
	period := a.cfg.Retention.Events
	if period <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		res, err := a.store.PruneEvents(ctx, &store.PruneEventsParams{Before: time.Now().Add(-period)})
		switch {
		case err != nil && ctx.Err() == nil:
			a.log.ErrorContext(ctx, "pruning events failed", "err", err, "deleted", res.Events)
		case err == nil && res.Events+res.Sweeps > 0:
			a.log.InfoContext(ctx, "pruned events", "events", res.Events, "sweeps", res.Sweeps, "kept", res.Kept, "older_than", formatPeriod(period))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
