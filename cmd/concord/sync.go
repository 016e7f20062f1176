package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/retry"
)

func newSyncCmd(g *globals) *cobra.Command {
	var once bool
	var flow, resync string
	var progress string
	run := defaultRunOptions()
	run.trace = true
	cmd := &cobra.Command{
		Use:   "sync --once",
		Short: "Run one pass of every flow and print a summary",
		Long: `sync --once reads every flow's changes since its cursor, queues them durably, applies
them to the targets, and waits until the queue is empty (retries included), then
prints a summary: read, created, updated, unchanged, skipped (echoes and versions
already applied), stale, quarantined, retrying, failed. It can be stopped at any
moment, kill -9 included: the next run goes on where this one stopped, without
duplicates and without losing changes. For continuous sync use concord serve.

A system that fails transiently while it is opened or read (unreachable, timeout,
connection reset, HTTP 429 or 5xx, database locked) is retried with exponential
backoff and jitter, honouring Retry-After, for up to --retry-for, with a warning
per retry naming the system. A permanent failure (refused credentials, unknown
table or column, unknown database) stops at once and names the system's or the
flow's line in the config file.

SIGTERM or Ctrl-C stops reading at once; the batches already running get
--grace-period to finish their write and recording, then the summary is printed
and sync exits 130. The next sync --once goes on where this one stopped.

A change that needs a record not linked yet (a won deal whose customer was refused
or quarantined, an invoice whose order is not linked to a deal) is not a failure: it
waits, counted in WAITING and listed by concord waits, and is applied by a later
run as soon as that record is linked.

--resync FLOW (a flow, or one leg FLOW:reverse) also brings every record of the
flow already linked in the target in line with the current mapping, after a field was
added to the flow or a column mapped or renamed (concord plan shows what it would
write). The linked records are queued in pages through the normal queue, compared
with the target and written where they differ, never created; the progress shows the
total and an ETA (a bar on a terminal, a line every 5 seconds otherwise). It is
resumable: stopped or killed, the next sync --once (with or without --resync) goes on
with the rest and writes no record twice. When it is done the flow's mapping is
remembered and plan no longer reports it.

With a tracing section in the config (or OTEL_EXPORTER_OTLP_ENDPOINT set), every
poll and batch is sent as an OpenTelemetry trace over OTLP/HTTP, flushed before exit
(at most 5 s); see docs/tracing.md.

Exit codes: 0 ok (changes may still be waiting), 1 when any change failed or a
system could not be reached, 2 invalid config or usage, 130 interrupted (SIGTERM
or Ctrl-C).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !once {
				return usageErr(errors.New("sync needs --once (for continuous sync run concord serve)"))
			}
			ctx := cmd.Context()
			a, err := openAppWith(ctx, g, run)
			if err != nil {
				if ctx.Err() != nil {
					return interrupted("before the sync started; nothing was read")
				}
				return err
			}
			defer a.Close(context.WithoutCancel(ctx))
			legs, err := a.selectLegs(flow)
			if err != nil {
				return err
			}
			var asked []string
			if resync != "" {
				if asked, err = a.selectLegs(resync); err != nil {
					return err
				}
			}
			mode := progressNone
			switch {
			case progress == "on" || (progress == "auto" && term.IsTerminal(int(os.Stderr.Fd()))):
				mode = progressBar
			case progress == "auto":
				mode = progressLines
			}
			resynced, err := a.syncRun(ctx, legs, asked, mode, cmd.ErrOrStderr())
			stats := a.eng.Stats()
			if ctx.Err() != nil {
				printSummary(cmd.OutOrStdout(), stats)
				a.printResyncs(context.WithoutCancel(ctx), cmd.OutOrStdout(), resynced)
				return interrupted("the running batches were given the grace period to finish; the next concord sync --once goes on where this one stopped")
			}
			if err != nil {
				return err
			}
			printSummary(cmd.OutOrStdout(), stats)
			a.printResyncs(ctx, cmd.OutOrStdout(), resynced)
			a.refreshReport(ctx) // the reporting database, when kept (docs/reporting.md)
			for _, s := range stats {
				if s.Failed > 0 {
					return &exitError{code: exitRuntime, err: fmt.Errorf("%d changes failed; see concord events --status failed and concord deadletter list", totalFailed(stats))}
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&once, "once", false, "run one pass and exit")
	cmd.Flags().StringVar(&flow, "flow", "", "only this flow")
	cmd.Flags().StringVar(&resync, "resync", "", "also bring every linked record of this flow (or one leg, FLOW:reverse) in line with the current mapping; resumable")
	cmd.Flags().StringVar(&progress, "progress", "auto", "progress: auto (a bar on a terminal, else a resync's periodic line), on, off")
	retryFlag(cmd, &run)
	graceFlag(cmd, &run)
	return cmd
}

// syncOnce polls legs until their sources are drained, while the workers apply
// the queued batches, then waits for the queue to empty. When ctx is cancelled
// (SIGTERM, Ctrl-C) polling stops at once and the running batches get the grace
// period to finish; the error is then ctx's, which the caller reports.
func (a *app) syncOnce(ctx context.Context, legs []string, show bool, out io.Writer) error {
	mode := progressNone
	if show {
		mode = progressBar
	}
	_, err := a.syncRun(ctx, legs, nil, mode, out)
	return err
}

// syncRun is syncOnce that also resyncs the legs asked (resync.go) and goes on
// with the resyncs a stopped run left unfinished among legs; it returns the
// legs it resynced. mode says how progress shows on out.
func (a *app) syncRun(ctx context.Context, legs, asked []string, mode progressMode, out io.Writer) ([]string, error) {
	if err := a.queue.Start(ctx, a.eng); err != nil {
		return nil, err
	}
	if n, err := a.queue.Orphans(ctx); err == nil && n > 0 {
		a.log.WarnContext(ctx, "queued work of flows no longer in the config is left waiting", "batches", n)
	}
	resync, err := a.startResyncs(ctx, legs, asked)
	if err != nil {
		if serr := a.stopQueue(ctx); serr != nil {
			err = errors.Join(err, serr)
		}
		return nil, err
	}
	shown := a.showResyncs(ctx, resync, mode, out)
	var bar *progressbar.ProgressBar
	if mode == progressBar && len(resync) == 0 {
		bar = progressbar.NewOptions64(-1, progressbar.OptionSetWriter(out), progressbar.OptionSetDescription("syncing"),
			progressbar.OptionShowCount(), progressbar.OptionSetItsString("changes"), progressbar.OptionShowIts(),
			progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
	}
	done := make(chan struct{})
	if bar != nil {
		go func() {
			t := time.NewTicker(200 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
					_ = bar.Set64(int64(applied(a.eng.Stats())))
				}
			}
		}()
	}
	err = a.passWith(ctx, legs, resync)
	close(done)
	if bar != nil {
		_ = bar.Finish()
	}
	shown.Stop()
	if serr := a.stopQueue(ctx); serr != nil && err == nil {
		err = serr
	}
	return resync, err
}

// pass polls legs until their sources are drained (a schedule leg starts a new
// sweep) and waits until the running queue is empty, retries included. It stops
// at once when ctx is cancelled.
func (a *app) pass(ctx context.Context, legs []string) error {
	return a.passWith(ctx, legs, nil)
}

// passWith is pass that also queues every linked record of the resync legs
// not queued yet, and, once the queue drained, finishes their resyncs and
// remembers the mappings the legs' records are in line with.
func (a *app) passWith(ctx context.Context, legs, resync []string) error {
	// First the periodic work: wake what waits for a record linked since,
	// and see whether waits or dead letters exist at all.
	if _, err := a.eng.Tick(ctx); err != nil {
		return err
	}
	for _, leg := range legs {
		if err := a.eng.StartSweep(ctx, leg); err != nil {
			return err
		}
		for {
			// A backfill reads no further ahead than the workers apply.
			if err := a.queue.WaitRoom(ctx); err != nil {
				return err
			}
			res, err := a.poll(ctx, leg)
			if err != nil {
				return err
			}
			if res.Done {
				break
			}
		}
	}
	if err := a.queueResyncs(ctx, resync); err != nil {
		return err
	}
	// Drain the queue; then wake what waited for a record linked meanwhile
	// without being woken (another process linked it) and retry dead letters
	// whose backoff is over, until nothing more is queued.
	for {
		if err := a.queue.Drain(ctx, 25*time.Millisecond); err != nil {
			return fmt.Errorf("wait for queue: %w", err)
		}
		res, err := a.eng.Tick(ctx)
		if err != nil {
			return err
		}
		if res.Woken+res.Retried == 0 {
			if err := a.finishResyncs(ctx, resync); err != nil {
				return err
			}
			return a.rememberMappings(ctx, legs, resync)
		}
	}
}

// poll reads one page of leg's source and queues it, retrying while the source
// fails transiently (see retryPolicy). A permanent failure names the flow's line
// in the config file.
func (a *app) poll(ctx context.Context, leg string) (engine.PollResult, error) {
	l, ok := a.eng.Leg(leg)
	if !ok {
		return engine.PollResult{}, fmt.Errorf("poll: unknown flow %s", leg)
	}
	var res engine.PollResult
	err := retry.Do(ctx, a.retryPolicy(ctx, "poll", "system", l.Source, "flow", l.Flow), func(ctx context.Context) error {
		var err error
		res, err = a.eng.Poll(ctx, leg)
		return err
	})
	if err != nil && ctx.Err() == nil {
		line := 0
		if f, ok := a.cfg.Flow(l.Flow); ok {
			line = f.Line
		}
		return res, fmt.Errorf("%s: flow %s: %w", configAt(a.cfg, line), l.Flow, err)
	}
	return res, err
}

func applied(stats []engine.Stats) int {
	n := 0
	for _, s := range stats {
		n += s.Applied()
	}
	return n
}

func totalFailed(stats []engine.Stats) int {
	n := 0
	for _, s := range stats {
		n += s.Failed
	}
	return n
}

// printSummary prints one row per leg and a total.
func printSummary(w io.Writer, stats []engine.Stats) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "FLOW\tREAD\tCREATED\tUPDATED\tUNCHANGED\tSKIPPED\tSTALE\tQUARANTINED\tRETRYING\tWAITING\tFAILED\t")
	var t engine.Stats
	row := func(s engine.Stats) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", s.Leg, s.Read, s.Created, s.Updated, s.Unchanged, s.Skipped, s.Stale, s.Quarantined, s.Retrying, s.Waiting, s.Failed)
	}
	for _, s := range stats {
		row(s)
		t.Add(s)
	}
	t.Leg = "total"
	row(t)
	tw.Flush()
}
