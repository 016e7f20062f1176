package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/match"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/queue"
	"github.com/concord-sync/concord/internal/store"
)

func newMatchCmd(g *globals) *cobra.Command {
	var flow, within string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "match [--flow FLOW] [--json] | match --within SYSTEM ENTITY",
		Short: "Review likely matches before a first create; find duplicates inside one system",
		Long: `A flow with unlinked: match (the default for accounts, contacts and products)
looks, before it creates a record, for the same record in the target: a pair
scoring at or above the entity's auto_link threshold is linked (no create); a
pair between review and auto_link waits here, and nothing is written for that
record until you decide; below review the record is created.

concord match lists the pending pairs side by side (field: source value | target
value), with the score and the fields that decided it (* in the list).
  concord match accept ID...        link the pair; the record then syncs as an update
  concord match accept --above 0.9  accept every pending pair scoring at least 0.9
  concord match reject ID...        never offer this pair again; the record is created
                                    (or matched again without that candidate)
Accepting or rejecting runs the records at once, as sync --once does (or leaves
them to a running concord serve).

concord match --within SYSTEM ENTITY reads every record of ENTITY in SYSTEM and
prints clusters of likely duplicates inside that system, with the scores, so they
can be merged there before the first sync. Concord never merges records inside a
system by itself.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if within != "" {
				if len(args) != 1 {
					return usageErr(errors.New("give one entity after --within SYSTEM, e.g. concord match --within crm account"))
				}
				return runWithin(cmd, g, within, model.Entity(args[0]), asJSON)
			}
			if len(args) > 0 {
				return usageErr(fmt.Errorf("unknown command %q for concord match; use accept or reject", args[0]))
			}
			ctx := cmd.Context()
			st, err := openStoreOnly(ctx, g)
			if err != nil {
				return err
			}
			defer st.Close()
			reviews, err := st.ListReviews(ctx, &store.ListReviewsParams{Flow: flow})
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), reviewsJSON(reviews))
			}
			printReviews(cmd.OutOrStdout(), reviews)
			return nil
		},
	}
	cmd.Flags().StringVar(&flow, "flow", "", "only the reviews of this flow")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().StringVar(&within, "within", "", "find likely duplicates inside this system (give the entity as the argument)")

	var above float64
	accept := &cobra.Command{
		Use:   "accept ID... | --above SCORE",
		Short: "Link the pending pairs; their records then sync as updates",
		RunE: func(cmd *cobra.Command, args []string) error {
			if (above > 0) == (len(args) > 0) {
				return usageErr(errors.New("give review ids or --above SCORE, not both"))
			}
			if above > 1 {
				return usageErr(fmt.Errorf("--above %g: a score is at most 1", above))
			}
			return decide(cmd, g, args, above, store.ReviewAccepted)
		},
	}
	accept.Flags().Float64Var(&above, "above", 0, "accept every pending pair scoring at least this much (0 < SCORE <= 1)")
	reject := &cobra.Command{
		Use:   "reject ID...",
		Short: "Never offer the pairs again; their records are created (or matched again)",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErr(errors.New("give the ids of the reviews to reject"))
			}
			return decide(cmd, g, args, 0, store.ReviewRejected)
		},
	}
	cmd.AddCommand(accept, reject)
	return cmd
}

// decide accepts or rejects reviews, then runs the queue once to apply them.
func decide(cmd *cobra.Command, g *globals, args []string, above float64, state store.ReviewState) error {
	ctx := cmd.Context()
	ids := make([]int64, 0, len(args))
	for _, arg := range args {
		id, err := strconv.ParseInt(arg, 10, 64)
		if err != nil {
			return usageErr(fmt.Errorf("review id %q is not a number", arg))
		}
		ids = append(ids, id)
	}
	a, err := openApp(ctx, g)
	if err != nil {
		return err
	}
	defer a.Close(context.WithoutCancel(ctx))
	if above > 0 {
		reviews, err := a.store.ListReviews(ctx, &store.ListReviewsParams{MinScore: above, Limit: 100000})
		if err != nil {
			return err
		}
		for _, r := range reviews {
			ids = append(ids, r.ID)
		}
	}
	var n int
	var refused error
	if state == store.ReviewAccepted {
		n, refused = a.eng.AcceptReviews(ctx, ids)
	} else {
		n, refused = a.eng.RejectReviews(ctx, ids)
	}
	if refused != nil && n == 0 && len(ids) > 0 {
		return usageErr(refused)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s %d pairs\n", state, n)
	if refused != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "not decided: %v\n", refused)
	}
	if n == 0 {
		return nil
	}
	if err := a.syncOnce(ctx, nil, false, cmd.ErrOrStderr()); err != nil {
		if ctx.Err() != nil {
			return interrupted("the decisions are recorded; the records sync with the next run")
		}
		if errors.Is(err, queue.ErrBusy) {
			fmt.Fprintln(cmd.OutOrStdout(), "the running concord serve applies them; see concord events")
			return nil
		}
		return err
	}
	printSummary(cmd.OutOrStdout(), a.eng.Stats())
	return nil
}

// reviewView is a review as `match --json` prints it.
type reviewView struct {
	ID           int64              `json:"id"`
	Flow         string             `json:"flow"`
	Entity       model.Entity       `json:"entity"`
	System       string             `json:"system"`
	ExternalID   string             `json:"id_in_system"`
	TargetSystem string             `json:"target_system"`
	TargetID     string             `json:"target_id"`
	Score        float64            `json:"score"`
	Key          string             `json:"key,omitempty"`
	Fields       []match.FieldScore `json:"fields"`
	Source       map[string]string  `json:"source"`
	Target       map[string]string  `json:"target"`
	State        store.ReviewState  `json:"state"`
	Since        string             `json:"since"`
}

func reviewsJSON(reviews []store.Review) []reviewView {
	out := make([]reviewView, 0, len(reviews))
	for _, r := range reviews {
		v := reviewView{ID: r.ID, Flow: r.Flow, Entity: r.Entity, System: r.System, ExternalID: r.ExternalID, TargetSystem: r.TargetSystem,
			TargetID: r.TargetID, Score: r.Score, Key: r.Key, State: r.State, Since: r.CreatedAt.Format("2006-01-02 15:04:05"),
			Source: snapshotFields(r.Snapshot), Target: snapshotFields(r.Target)}
		if len(r.Fields) > 0 {
			_ = json.Unmarshal(r.Fields, &v.Fields) // written by the engine
		}
		if v.Fields == nil {
			v.Fields = []match.FieldScore{}
		}
		out = append(out, v)
	}
	return out
}

// snapshotFields returns a stored record's scalar fields as text.
func snapshotFields(snap []byte) map[string]string {
	out := map[string]string{}
	if len(snap) == 0 {
		return out
	}
	var rec model.Record
	if err := json.Unmarshal(snap, &rec); err != nil {
		return out
	}
	for f, v := range rec.Fields {
		if !v.IsNull() && v.Kind != model.KindLines {
			out[f] = v.String()
		}
	}
	return out
}

// printReviews prints each pending pair side by side.
func printReviews(w io.Writer, reviews []store.Review) {
	if len(reviews) == 0 {
		fmt.Fprintln(w, "no pairs wait for review")
		return
	}
	for _, v := range reviewsJSON(reviews) {
		var decided []string
		for _, f := range v.Fields {
			decided = append(decided, f.Field)
		}
		how := "on " + strings.Join(decided, ", ")
		if v.Key != "" {
			how = "on key " + v.Key
		}
		fmt.Fprintf(w, "review %d  flow %s  score %.2f %s  since %s\n", v.ID, safeText(v.Flow), v.Score, safeText(how), v.Since)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "    %s\t%s %s %s\t%s %s %s\n", "field", safeCell(v.System), v.Entity, safeCell(v.ExternalID), safeCell(v.TargetSystem), v.Entity, safeCell(v.TargetID))
		for _, f := range sideBySideFields(v) {
			mark := " "
			if slices.Contains(decided, f) {
				mark = "*"
			}
			fmt.Fprintf(tw, "  %s %s\t%s\t| %s\n", mark, f, safeCell(v.Source[f]), safeCell(v.Target[f]))
		}
		_ = tw.Flush()
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "%d pairs wait for review: concord match accept ID... | reject ID...\n", len(reviews))
}

// sideBySideFields are the fields to show for a pair: the deciding ones first,
// then every other field either side holds, by name.
func sideBySideFields(v reviewView) []string {
	var out []string
	for _, f := range v.Fields {
		if !slices.Contains(out, f.Field) {
			out = append(out, f.Field)
		}
	}
	var rest []string
	for _, m := range []map[string]string{v.Source, v.Target} {
		for f := range m {
			if !slices.Contains(out, f) && !slices.Contains(rest, f) {
				rest = append(rest, f)
			}
		}
	}
	slices.Sort(rest)
	return append(out, rest...)
}

// runWithin prints clusters of likely duplicates inside one system.
func runWithin(cmd *cobra.Command, g *globals, system string, entity model.Entity, asJSON bool) error {
	ctx := cmd.Context()
	if !entity.Valid() {
		return usageErr(fmt.Errorf("unknown entity %q", entity))
	}
	a, err := openApp(ctx, g)
	if err != nil {
		return err
	}
	defer a.Close(context.WithoutCancel(ctx))
	conn, ok := a.conns[system]
	if !ok {
		return usageErr(fmt.Errorf("no system named %s in %s", system, a.cfg.Path))
	}
	rules, ok := a.cfg.MatchRules(entity)
	if !ok {
		return usageErr(fmt.Errorf("entity %s has no match rules; declare entities.%s.match with keys or fields", entity, entity))
	}
	var recs []match.Record
	byID := map[string]map[string]string{}
	cursor := ""
	for {
		res, err := conn.Read(ctx, connector.ReadRequest{Entity: entity, Cursor: cursor, Limit: a.cfg.Sync.BatchSize})
		if err != nil {
			return fmt.Errorf("read %s %s: %w", system, entity, err)
		}
		for _, r := range res.Records {
			if r.Archived {
				continue
			}
			fields := map[string]string{}
			for f, v := range r.Fields {
				if !v.IsNull() && v.Kind != model.KindLines {
					fields[f] = v.String()
				}
			}
			if _, seen := byID[r.ID]; !seen {
				recs = append(recs, match.Record{ID: r.ID, Fields: fields})
			}
			byID[r.ID] = fields
		}
		if res.Done || len(res.Records) == 0 || res.Next == cursor {
			break
		}
		cursor = res.Next
	}
	clusters := match.Within(rules, recs)
	if asJSON {
		type view struct {
			match.Cluster
			Records map[string]map[string]string `json:"records"`
		}
		out := make([]view, 0, len(clusters))
		for _, c := range clusters {
			v := view{Cluster: c, Records: map[string]map[string]string{}}
			for _, id := range c.IDs {
				v.Records[id] = byID[id]
			}
			out = append(out, v)
		}
		return writeJSON(cmd.OutOrStdout(), out)
	}
	w := cmd.OutOrStdout()
	for i, c := range clusters {
		fmt.Fprintf(w, "cluster %d: %d %s records in %s\n", i+1, len(c.IDs), entity, safeText(system))
		for _, p := range c.Pairs {
			how := matchedOn(p.Candidate)
			fmt.Fprintf(w, "  %s ~ %s  score %.2f %s\n", safeText(p.A), safeText(p.ID), p.Score, safeText(how))
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprint(tw, "    field")
		for _, id := range c.IDs {
			fmt.Fprintf(tw, "\t%s", safeCell(id))
		}
		fmt.Fprintln(tw)
		for _, f := range clusterFields(rules, c, byID) {
			fmt.Fprintf(tw, "    %s", f)
			for _, id := range c.IDs {
				fmt.Fprintf(tw, "\t%s", safeCell(byID[id][f]))
			}
			fmt.Fprintln(tw)
		}
		_ = tw.Flush()
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "%d clusters of likely duplicates among %d %s records in %s. Concord never merges records inside a system: merge them in %s before the first sync.\n",
		len(clusters), len(recs), entity, safeText(system), safeText(system))
	return nil
}

func matchedOn(c match.Candidate) string {
	if c.Key != "" {
		return "on key " + c.Key
	}
	var fs []string
	for _, f := range c.Fields {
		fs = append(fs, f.Field)
	}
	return "on " + strings.Join(fs, ", ")
}

// clusterFields are the rules' keys and fields any record of the cluster holds.
func clusterFields(rules match.Rules, c match.Cluster, byID map[string]map[string]string) []string {
	var out []string
	for _, f := range append(slices.Clone(rules.Keys), rules.Fields...) {
		if slices.Contains(out, f) {
			continue
		}
		for _, id := range c.IDs {
			if byID[id][f] != "" {
				out = append(out, f)
				break
			}
		}
	}
	return out
}

// printPendingReviews adds the pending review count to plan's summary.
func printPendingReviews(ctx context.Context, w io.Writer, st store.Store) error {
	n, err := st.CountReviews(ctx, "")
	if err != nil {
		return err
	}
	if n > 0 {
		fmt.Fprintf(w, "review: %d pairs wait for a person (concord match)\n", n)
	}
	return nil
}
