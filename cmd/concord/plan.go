package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/retry"
)

func newPlanCmd(g *globals) *cobra.Command {
	var flow string
	var asJSON, all bool
	var limit int
	run := defaultRunOptions()
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show what a sync would change, per record and field; nothing is written",
		Long: `plan reads the changes waiting on each flow since its cursor, cleans, links and
diffs them against the target exactly as sync would, and prints the result per
record: create, update (with each field's old and new value), none (the target
already agrees), quarantine (with the field and reason), stale or fail. Nothing is
written to any system or to the store, and cursors do not move. A system that fails
transiently (unreachable, timeout, HTTP 429 or 5xx, database locked) is retried
with backoff for up to --retry-for, with a warning per retry naming it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			a, err := openAppWith(ctx, g, run)
			if err != nil {
				return err
			}
			defer a.Close(context.WithoutCancel(ctx))
			legs, err := a.selectLegs(flow)
			if err != nil {
				return err
			}
			var plans []*engine.RecordPlan
			for _, l := range legs {
				leg, _ := a.eng.Leg(l)
				var p []*engine.RecordPlan
				err := retry.Do(ctx, a.retryPolicy(ctx, "plan", "flow", leg.Flow, "source", leg.Source, "target", leg.Target), func(ctx context.Context) error {
					var err error
					p, err = a.eng.Preview(ctx, l, limit)
					return err
				})
				if err != nil {
					return err
				}
				plans = append(plans, p...)
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if plans == nil {
					plans = []*engine.RecordPlan{}
				}
				return enc.Encode(plans)
			}
			printPlans(cmd.OutOrStdout(), plans, all)
			return printPendingReviews(ctx, cmd.OutOrStdout(), a.store)
		},
	}
	cmd.Flags().StringVar(&flow, "flow", "", "only this flow")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().BoolVar(&all, "all", false, "also list records with nothing to do")
	cmd.Flags().IntVar(&limit, "limit", 1000, "most records to plan per flow")
	retryFlag(cmd, &run)
	return cmd
}

func printPlans(w io.Writer, plans []*engine.RecordPlan, all bool) {
	counts := map[engine.Action]int{}
	for _, p := range plans {
		counts[p.Action]++
		if !all && (p.Action == engine.ActionNone || p.Action == engine.ActionSkip) {
			continue
		}
		target := p.TargetID
		if target == "" {
			target = "(new)"
		}
		fmt.Fprintf(w, "%-10s %s  %s %s -> %s\n", p.Action, p.Leg, p.Source.Entity, safeText(p.Source.ID), safeText(target))
		for _, c := range p.Changes {
			fmt.Fprintf(w, "    %-18s %q -> %q\n", safeText(c.Field), c.From.String(), c.To.String())
		}
		if p.Reason != "" {
			field := ""
			if p.Field != "" {
				field = safeText(p.Field) + ": "
			}
			fmt.Fprintf(w, "    %s%s\n", field, safeText(p.Reason))
		}
	}
	var parts []string
	for _, a := range []engine.Action{engine.ActionCreate, engine.ActionUpdate, engine.ActionNone, engine.ActionSkip, engine.ActionStale, engine.ActionQuarantine, engine.ActionFail, engine.ActionReview, engine.ActionNotCreated} {
		parts = append(parts, fmt.Sprintf("%d %s", counts[a], a))
	}
	fmt.Fprintf(w, "plan: %s (nothing written)\n", strings.Join(parts, ", "))
}
