package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/concord-sync/concord/internal/connector/all"
	"github.com/concord-sync/concord/internal/health"
	"github.com/concord-sync/concord/internal/queue"
	"github.com/concord-sync/concord/internal/server"
	"github.com/concord-sync/concord/internal/store"
)

func newStatusCmd(g *globals) *cobra.Command {
	var addr string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the health of a running serve: per flow, per system and the store",
		Long: `status asks the concord serve listening on --addr for its health (GET /readyz)
and prints a table per flow (last successful poll, last applied change, lag,
error streak, queued changes, open dead letters, quarantine, pending reviews,
waiting changes), per system (reachable, last success, error streak, share of
the rate-limit budget in use) and the store (writable), then the reasons it is
not ready, if any. --json prints the snapshot as serve returns it.

When no serve answers, status says so and reads what it can from the store of
the config file: per flow the open dead letters, quarantine, pending reviews,
waiting and queued changes and the time of its latest event.

Exit codes: 0 ready, 1 not ready (or serve not running), 2 usage.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			snap, err := fetchSnapshot(ctx, addr)
			serving := err == nil
			if !serving {
				snap, err = storeSnapshot(ctx, g, addr, err)
				if err != nil {
					return err
				}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				if err := writeJSON(out, snap); err != nil {
					return err
				}
			} else if err := printStatus(out, snap, serving, addr); err != nil {
				return err
			}
			switch {
			case !serving:
				return &exitError{code: exitRuntime, err: errors.New("serve is not running")}
			case !snap.Ready:
				return &exitError{code: exitRuntime, err: errors.New("not ready")}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8088", "address of the running concord serve (its --addr)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// fetchSnapshot asks the serve at addr for its health snapshot.
func fetchSnapshot(ctx context.Context, addr string) (health.Snapshot, error) {
	var snap health.Snapshot
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/readyz", nil)
	if err != nil {
		return snap, fmt.Errorf("--addr %s: %w", addr, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return snap, fmt.Errorf("no concord serve answers at %s", addr)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusServiceUnavailable {
		return snap, fmt.Errorf("%s/readyz answered %s: not a concord serve", addr, resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(&snap); err != nil {
		return snap, fmt.Errorf("%s/readyz: not a concord serve: %w", addr, err)
	}
	return snap, nil
}

// storeSnapshot is what status can tell without serve: the open counts and
// each flow's latest event from the store, and whether the store takes a
// write. It is never ready.
func storeSnapshot(ctx context.Context, g *globals, addr string, why error) (health.Snapshot, error) {
	log, err := g.logger()
	if err != nil {
		return health.Snapshot{}, err
	}
	cfg, err := loadConfig(g, all.Registry(all.Deps{}))
	if err != nil {
		return health.Snapshot{}, err
	}
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return health.Snapshot{}, fmt.Errorf("%s, and the store cannot be opened: %w", why.Error(), err)
	}
	defer st.Close()
	now := time.Now()
	snap := health.Snapshot{At: now, Reasons: []string{"serve is not running: " + why.Error()}, Systems: []health.System{}, Flows: []health.Flow{}}
	snap.Store = health.Store{Writable: true, CheckedAt: now}
	if err := st.Heartbeat(ctx, "concord status", now); err != nil {
		snap.Store = health.Store{CheckedAt: now, LastError: err.Error()}
		snap.Reasons = append(snap.Reasons, "store is not writable: "+err.Error())
	}
	backlog, err := st.Backlog(ctx, &store.BacklogParams{LastEvent: true})
	if err != nil {
		return health.Snapshot{}, err
	}
	legs := Legs(cfg)
	names := make([]string, len(legs))
	for i, l := range legs {
		names[i] = l.Name
	}
	depth := map[string]queue.Depth{}
	if q, err := queue.New(ctx, st, queue.Config{Legs: names}, log); err == nil {
		if d, err := q.Depth(ctx); err == nil {
			depth = d
		}
	}
	for _, l := range legs {
		b, d := backlog[l.Name], depth[l.Name]
		f := health.Flow{Flow: l.Flow, Leg: l.Name, Source: l.Source, Target: l.Target, LastEvent: b.LastEvent,
			QueueDepth: d.Records, DeadLetters: b.DeadLetters, Quarantine: b.Quarantine, Waiting: b.Waiting,
			PendingReviews: b.PendingReviews, OldestReview: b.OldestReview}
		snap.Flows = append(snap.Flows, f)
	}
	for _, s := range cfg.Systems {
		snap.Systems = append(snap.Systems, health.System{Name: s.Name, Connector: s.Connector, RateLimitUse: -1})
	}
	return snap, nil
}

// printStatus prints the snapshot as tables.
func printStatus(out io.Writer, snap health.Snapshot, serving bool, addr string) error {
	switch {
	case !serving:
		fmt.Fprintf(out, "serve is not running (nothing answers at %s); from the store:\n", addr)
	case snap.Ready:
		fmt.Fprintf(out, "ready (concord serve at %s, %s)\n", addr, snap.At.Local().Format(time.DateTime))
	default:
		fmt.Fprintf(out, "not ready (concord serve at %s, %s)\n", addr, snap.At.Local().Format(time.DateTime))
	}
	now := snap.At
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w)
	if serving {
		fmt.Fprintln(w, "FLOW\tLAST POLL OK\tLAST APPLIED\tLAG\tERRORS\tQUEUED\tDEAD LETTERS\tQUARANTINE\tREVIEWS\tWAITING")
		for _, f := range snap.Flows {
			fmt.Fprintln(w, safeCell(fmt.Sprintf("%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d", f.Leg, ago(now, f.LastPollOK), ago(now, f.LastApplied),
				lag(f.Lag), f.ErrorStreak, f.QueueDepth, f.DeadLetters, f.Quarantine, f.PendingReviews, f.Waiting)))
		}
		fmt.Fprintln(w)
		fmt.Fprintln(w, "SYSTEM\tCONNECTOR\tREACHABLE\tLAST OK\tERRORS\tRATE LIMIT\tWEBHOOK REFUSALS")
		for _, s := range snap.Systems {
			fmt.Fprintln(w, safeCell(fmt.Sprintf("%s\t%s\t%s\t%s\t%d\t%s\t%d", s.Name, s.Connector, yesNo(s.Reachable), ago(now, s.LastOK),
				s.ErrorStreak, share(s.RateLimitUse), s.WebhookRefusals)))
		}
	} else {
		fmt.Fprintln(w, "FLOW\tLAST EVENT\tQUEUED\tDEAD LETTERS\tQUARANTINE\tREVIEWS\tWAITING")
		for _, f := range snap.Flows {
			fmt.Fprintln(w, safeCell(fmt.Sprintf("%s\t%s\t%d\t%d\t%d\t%d\t%d", f.Leg, ago(now, f.LastEvent), f.QueueDepth,
				f.DeadLetters, f.Quarantine, f.PendingReviews, f.Waiting)))
		}
	}
	fmt.Fprintln(w)
	if snap.Store.Writable {
		fmt.Fprintln(w, "STORE\twritable")
	} else {
		fmt.Fprintln(w, safeCell("STORE\tnot writable: "+snap.Store.LastError))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if len(snap.Reasons) > 0 {
		fmt.Fprintln(out)
		for _, r := range snap.Reasons {
			fmt.Fprintln(out, "- "+safeMessage(strings.ReplaceAll(r, "\n", " ")))
		}
	}
	return nil
}

// ago prints a time as how long before now it was; "-" for never.
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	if d < 0 {
		d = 0
	}
	return d.Round(time.Second).String() + " ago"
}

func lag(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return d.Round(time.Second).String()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "NO"
}

// share prints a rate-limit use; "-" when the system has no known budget.
func share(f float64) string {
	if f < 0 {
		return "-"
	}
	return strconv.Itoa(int(f*100+0.5)) + "%"
}

// healthSources are what serve's health collector reads.
func healthSources(a *app, webhooks func() []server.WebhookStats) health.Sources {
	host, _ := os.Hostname()
	src := health.Sources{Store: a.store, Depth: a.queue.Depth, Webhooks: webhooks, Node: host + ":" + strconv.Itoa(os.Getpid())}
	for _, name := range a.eng.Legs() {
		l, _ := a.eng.Leg(name)
		src.Legs = append(src.Legs, health.LegInfo{Leg: l.Name, Flow: l.Flow, Source: l.Source, Target: l.Target})
	}
	for _, s := range a.cfg.Systems {
		src.Systems = append(src.Systems, health.SystemInfo{Name: s.Name, Connector: s.Connector, Conn: a.conns[s.Name]})
	}
	return src
}
