package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/retry"
)

func newPlanCmd(g *globals) *cobra.Command {
	var flow, resync string
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
with backoff for up to --retry-for, with a warning per retry naming it.

Records already synced are compared too, when it matters: when a flow's mapping
changed since its records were last brought in line with it (a field added to the
flow, a column renamed, a clean rule changed), plan says what changed and compares
every linked record's current target values with what the current mapping would
write, per record and field: what concord sync --once --resync FLOW would write.
--resync FLOW makes that comparison for a flow whose mapping did not change. For a
schedule flow plan shows what its next sweep would put back (target values edited
by hand). The counts cover every linked record; the details stop at --limit.`,
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
					return a.flowErr(ctx, leg.Flow, err)
				}
				plans = append(plans, p...)
			}
			var forced []string
			if resync != "" {
				if forced, err = a.selectLegs(resync); err != nil {
					return err
				}
			}
			linked, err := a.previewLinked(ctx, legs, forced, limit)
			if err != nil {
				return err
			}
			if asJSON {
				out := make([]planJSON, 0, len(plans))
				for _, p := range plans {
					out = append(out, planJSON{RecordPlan: p})
				}
				for _, lp := range linked {
					for _, p := range lp.Records {
						out = append(out, planJSON{RecordPlan: p, Preview: lp.kind})
					}
				}
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			printPlans(cmd.OutOrStdout(), plans, all)
			for _, lp := range linked {
				printLinked(cmd.OutOrStdout(), lp)
			}
			return printPendingReviews(ctx, cmd.OutOrStdout(), a.store)
		},
	}
	cmd.Flags().StringVar(&flow, "flow", "", "only this flow")
	cmd.Flags().StringVar(&resync, "resync", "", "compare every linked record of this flow (or one leg, FLOW:reverse) with what the current mapping would write, as sync --once --resync does")
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
	}
	printRecords(w, plans, all)
	var parts []string
	for _, a := range []engine.Action{engine.ActionCreate, engine.ActionUpdate, engine.ActionNone, engine.ActionSkip, engine.ActionStale, engine.ActionQuarantine, engine.ActionFail, engine.ActionReview, engine.ActionNotCreated} {
		parts = append(parts, fmt.Sprintf("%d %s", counts[a], a))
	}
	fmt.Fprintf(w, "plan: %s (nothing written)\n", strings.Join(parts, ", "))
}

// printRecords prints each record's plan with its changes; records with
// nothing to do only with all.
func printRecords(w io.Writer, plans []*engine.RecordPlan, all bool) {
	for _, p := range plans {
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
}

// planJSON is one entry of plan --json: a record's plan, and for the records
// already synced that a comparison found different, which comparison:
// "resync" (a changed mapping, or --resync) or "sweep" (a schedule flow's next
// sweep).
type planJSON struct {
	*engine.RecordPlan
	Preview string `json:"preview,omitempty"`
}

// linkedPlan is the comparison of a leg's linked records, with why it is shown.
type linkedPlan struct {
	*engine.LinkedPreview
	kind    string // "resync" or "sweep"
	mapping engine.MappingStatus
}

// previewLinked compares the linked records of the legs that need it: those
// whose mapping changed since their last sync, those asked with --resync, and
// schedule legs (their next sweep). It reads only.
func (a *app) previewLinked(ctx context.Context, legs, forced []string, limit int) ([]linkedPlan, error) {
	var out []linkedPlan
	for _, name := range append(slices.Clone(legs), forced...) {
		if slices.ContainsFunc(out, func(lp linkedPlan) bool { return lp.Leg == name }) {
			continue
		}
		leg, _ := a.eng.Leg(name)
		if leg.LinkBy != "" {
			if slices.Contains(forced, name) {
				return nil, usageErr(fmt.Errorf("flow %s updates the records its link_by field %s points at; its own records are not linked, so there is nothing to resync", leg.Flow, leg.LinkBy))
			}
			continue
		}
		st, err := a.eng.MappingStatus(ctx, name)
		if err != nil {
			return nil, err
		}
		kind := ""
		switch {
		case st.Changed || slices.Contains(forced, name):
			kind = "resync"
		case leg.Trigger == engine.TriggerSchedule:
			kind = "sweep"
		default:
			continue
		}
		var lp *engine.LinkedPreview
		err = retry.Do(ctx, a.retryPolicy(ctx, "plan", "flow", leg.Flow, "source", leg.Source, "target", leg.Target), func(ctx context.Context) error {
			var err error
			lp, err = a.eng.PreviewLinked(ctx, name, limit)
			return err
		})
		if err != nil {
			return nil, err
		}
		out = append(out, linkedPlan{LinkedPreview: lp, kind: kind, mapping: st})
	}
	return out, nil
}

// printLinked prints a comparison of linked records: "flow customers: 88
// linked records, 61 would change (phone 61, zip 12)", then each record.
func printLinked(w io.Writer, lp linkedPlan) {
	fmt.Fprintln(w)
	if lp.mapping.Changed {
		fmt.Fprintf(w, "flow %s: the mapping changed since its records were last synced (%s)\n", lp.Leg, safeText(strings.Join(lp.mapping.What, "; ")))
	}
	var extra []string
	for _, act := range []engine.Action{engine.ActionStale, engine.ActionQuarantine, engine.ActionWait, engine.ActionFail, engine.ActionSkip} {
		if n := lp.Other[act]; n > 0 {
			extra = append(extra, fmt.Sprintf("%d %s", n, act))
		}
	}
	if lp.Gone > 0 {
		extra = append(extra, fmt.Sprintf("%d no longer in the source", lp.Gone))
	}
	tail := ""
	if len(extra) > 0 {
		tail = "; " + strings.Join(extra, ", ")
	}
	fields := ""
	if lp.Change > 0 {
		fields = " (" + safeText(lp.FieldSummary()) + ")"
	}
	if lp.kind == "sweep" {
		fmt.Fprintf(w, "next sweep of flow %s would put back: %d of %d linked records%s%s\n", lp.Leg, lp.Change, lp.Linked, fields, tail)
	} else {
		fmt.Fprintf(w, "flow %s: %d linked records, %d would change%s%s\n", lp.Leg, lp.Linked, lp.Change, fields, tail)
	}
	printRecords(w, lp.Records, true)
	listed := lp.Change
	for _, n := range lp.Other {
		listed += n
	}
	if shown := len(lp.Records); shown < listed {
		fmt.Fprintf(w, "    ... %d more records not shown (--limit %d)\n", listed-shown, shown)
	}
	if lp.kind == "resync" && lp.Change > 0 {
		fmt.Fprintf(w, "apply: concord sync --once --resync %s (nothing written yet)\n", lp.Leg)
	}
}

// flowErr names the flow's config line in a failure of one of its legs, and
// points at concord doctor, which checks the config against the systems.
func (a *app) flowErr(ctx context.Context, flow string, err error) error {
	if ctx.Err() != nil {
		return err
	}
	line := 0
	if f, ok := a.cfg.Flow(flow); ok {
		line = f.Line
	}
	return fmt.Errorf("%s: flow %s: %w (concord doctor checks the config against the systems)", configAt(a.cfg, line), flow, err)
}
