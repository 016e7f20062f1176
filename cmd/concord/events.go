package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/concord-sync/concord/internal/connector/all"
	"github.com/concord-sync/concord/internal/store"
)

// openStoreOnly loads the config and opens just the store, for the read-only
// commands that need no system.
func openStoreOnly(ctx context.Context, g *globals) (store.Store, error) {
	log, err := g.logger()
	if err != nil {
		return nil, err
	}
	cfg, err := loadConfig(g, all.Registry(all.Deps{}))
	if err != nil {
		return nil, err
	}
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return st, nil
}

func newEventsCmd(g *globals) *cobra.Command {
	var p store.ListEventsParams
	var status string
	var asJSON, sweeps bool
	cmd := &cobra.Command{
		Use:   "events",
		Short: "List sync events (every attempt to apply a change), newest first",
		Long: `events lists the event log: one event per attempt to apply one change, with the
flow, the source and target records, the outcome (created, updated, unchanged,
stale, quarantined, failed, retrying, waiting, dead) and the error. A create that a
killed attempt made and the next attempt found and finished shows as
"created (adopted)". Each event keeps the source snapshot, the config version, the planned diff and the target's answer:
see them with concord events show ID, and re-apply with concord replay ID.

A schedule flow's pass records events only for the records it changed or could not
send; the records it found unchanged are counted in the pass's summary, listed by
concord events --sweeps. concord events prune deletes old events.`,
		Args: cobra.NoArgs,
	}
	listEvents := listing[store.Event]{
		fetch: func(ctx context.Context, st store.Store) ([]store.Event, error) {
			p.Outcome = store.Outcome(status)
			return st.ListEvents(ctx, &p)
		},
		header: "ID\tTIME\tFLOW\tSOURCE\tTARGET\tOUTCOME\tATTEMPT\tERROR",
		row: func(e store.Event) string {
			return fmt.Sprintf("%d\t%s\t%s\t%s:%s\t%s:%s\t%s\t%d\t%s", e.ID, e.StartedAt.Format(time.DateTime), e.Flow, e.SourceSystem, e.SourceID, e.TargetSystem, e.TargetID, outcomeText(e), e.Attempt, e.Error)
		},
		asJSON: func(evs []store.Event) any { return eventViews(evs) },
		json:   &asJSON,
	}.run(g)
	listSweeps := listing[store.Sweep]{
		fetch: func(ctx context.Context, st store.Store) ([]store.Sweep, error) {
			return st.ListSweeps(ctx, &store.ListSweepsParams{Flow: p.Flow, Limit: p.Limit})
		},
		header: "ID\tFLOW\tSTARTED\tLAST UPDATE\tCOMPARED\tUNCHANGED\tCHANGED\tOTHER",
		row: func(s store.Sweep) string {
			return fmt.Sprintf("%d\t%s\t%s\t%s\t%d\t%d\t%d\t%d", s.ID, s.Flow, s.StartedAt.Format(time.DateTime), s.UpdatedAt.Format(time.DateTime), s.Compared, s.Unchanged, s.Changed, s.Other())
		},
		asJSON: func(sw []store.Sweep) any { return sweepViews(sw) },
		json:   &asJSON,
	}.run(g)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if !sweeps {
			return listEvents(cmd, args)
		}
		for _, f := range []string{"status", "source-id"} {
			if cmd.Flags().Changed(f) {
				return usageErr(fmt.Errorf("--%s filters events, not sweep summaries (--sweeps)", f))
			}
		}
		return listSweeps(cmd, args)
	}
	cmd.Flags().StringVar(&p.Flow, "flow", "", "only this flow")
	cmd.Flags().StringVar(&status, "status", "", "only this outcome: created, updated, unchanged, stale, quarantined, failed, retrying, waiting, dead")
	cmd.Flags().StringVar(&p.SourceID, "source-id", "", "only events of this source record")
	cmd.Flags().IntVar(&p.Limit, "limit", 100, "most events to list")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().BoolVar(&sweeps, "sweeps", false, "list the summaries of schedule flows' passes instead (records compared, unchanged, changed)")
	cmd.AddCommand(newEventsPruneCmd(g))
	cmd.AddCommand(&cobra.Command{
		Use:   "show ID",
		Short: "Show one event whole: snapshot, plan, response",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil {
				return usageErr(fmt.Errorf("event id %q is not a number", args[0]))
			}
			ctx := cmd.Context()
			st, err := openStoreOnly(ctx, g)
			if err != nil {
				return err
			}
			defer st.Close()
			ev, err := st.GetEvent(ctx, id)
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("no event %d", id)
			}
			if err != nil {
				return err
			}
			return writeJSON(cmd.OutOrStdout(), eventView(ev))
		},
	})
	return cmd
}

// eventJSON is how an event prints: the stored JSON documents stay JSON.
type eventJSON struct {
	ID            int64           `json:"id"`
	Flow          string          `json:"flow"`
	Entity        string          `json:"entity"`
	Source        string          `json:"source"`
	SourceID      string          `json:"source_id"`
	Target        string          `json:"target"`
	TargetID      string          `json:"target_id,omitempty"`
	ConcordID     string          `json:"concord_id,omitempty"`
	ConfigVersion string          `json:"config_version"`
	Outcome       store.Outcome   `json:"outcome"`
	Error         string          `json:"error,omitempty"`
	Attempt       int             `json:"attempt"`
	ReplayOf      int64           `json:"replay_of,omitempty"`
	StartedAt     time.Time       `json:"started_at"`
	DurationMS    float64         `json:"duration_ms"`
	Snapshot      json.RawMessage `json:"snapshot,omitempty"`
	Plan          json.RawMessage `json:"plan,omitempty"`
	Response      json.RawMessage `json:"response,omitempty"`
}

func eventView(e store.Event) eventJSON {
	return eventJSON{ID: e.ID, Flow: e.Flow, Entity: string(e.Entity), Source: e.SourceSystem, SourceID: e.SourceID,
		Target: e.TargetSystem, TargetID: e.TargetID, ConcordID: e.ConcordID, ConfigVersion: e.ConfigVersion,
		Outcome: e.Outcome, Error: e.Error, Attempt: e.Attempt, ReplayOf: e.Replay, StartedAt: e.StartedAt,
		DurationMS: float64(e.Duration.Microseconds()) / 1000, Snapshot: raw(e.Snapshot), Plan: raw(e.Plan), Response: raw(e.Response)}
}

// sweepJSON is how a sweep summary prints.
type sweepJSON struct {
	ID        int64     `json:"id"`
	Flow      string    `json:"flow"`
	StartedAt time.Time `json:"started_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Compared  int       `json:"compared"`
	Unchanged int       `json:"unchanged"`
	Changed   int       `json:"changed"`
	Other     int       `json:"other"`
}

func sweepViews(sw []store.Sweep) []sweepJSON {
	out := make([]sweepJSON, len(sw))
	for i, s := range sw {
		out[i] = sweepJSON{ID: s.ID, Flow: s.Flow, StartedAt: s.StartedAt, UpdatedAt: s.UpdatedAt,
			Compared: s.Compared, Unchanged: s.Unchanged, Changed: s.Changed, Other: s.Other()}
	}
	return out
}

func eventViews(evs []store.Event) []eventJSON {
	out := make([]eventJSON, len(evs))
	for i, e := range evs {
		out[i] = eventView(e)
	}
	return out
}

func raw(b []byte) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	return json.RawMessage(b)
}

// writeJSON prints v as indented JSON, with the characters a terminal acts on
// escaped (safeJSON).
func writeJSON(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(safeJSON(buf.Bytes()))
	return err
}

// outcomeText is an event's outcome as listed: a create finished by a later
// attempt says so.
func outcomeText(e store.Event) string {
	if e.Outcome == store.OutcomeCreated && bytes.Contains(e.Plan, []byte(`"adopted":true`)) {
		return "created (adopted)"
	}
	return string(e.Outcome)
}
