package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/store"
)

// resyncReportEvery is how often a resync prints its plain progress line when
// stderr is not a terminal.
var resyncReportEvery = 5 * time.Second

// progressMode is how a run shows its progress on stderr.
type progressMode int

const (
	progressNone  progressMode = iota
	progressBar                // a bar, on a terminal (or --progress on)
	progressLines              // a periodic plain line (a log file, a pipe)
)

// startResyncs begins the resyncs asked for and goes on with the ones a
// stopped or killed run left running among legs. It returns the legs to
// resync, asked ones first.
func (a *app) startResyncs(ctx context.Context, legs, asked []string) ([]string, error) {
	running, err := a.eng.RunningResyncs(ctx, legs)
	if err != nil {
		return nil, err
	}
	all := slices.Clone(asked)
	for _, l := range running {
		if !slices.Contains(all, l) {
			all = append(all, l)
		}
	}
	for _, l := range all {
		r, err := a.eng.StartResync(ctx, l)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(asked, l) {
			a.log.InfoContext(ctx, "going on with a resync a previous run left unfinished", engine.FlowAttr(l), "queued", r.Queued, "total", r.Total)
		}
	}
	return all, nil
}

// queueResyncs queues every page of the legs' linked records not queued yet.
func (a *app) queueResyncs(ctx context.Context, legs []string) error {
	for _, l := range legs {
		for {
			if err := ctx.Err(); err != nil {
				return err
			}
			all, err := a.eng.QueueResync(ctx, l)
			if err != nil {
				return err
			}
			if all {
				break
			}
		}
	}
	return nil
}

// finishResyncs ends the resyncs whose records are all queued and applied
// (the queue drained), remembering the mapping each applied.
func (a *app) finishResyncs(ctx context.Context, legs []string) error {
	for _, l := range legs {
		if _, err := a.eng.FinishResync(ctx, l); err != nil {
			return err
		}
	}
	return nil
}

// rememberMappings records, after a pass that drained the queue, the mapping
// of each leg that has none remembered yet (its first sync), and of each
// schedule leg (its sweep compared every record with the current mapping). A
// leg whose mapping changed since is logged: its linked records keep the
// values of the old mapping until a resync.
func (a *app) rememberMappings(ctx context.Context, legs, resynced []string) error {
	for _, name := range legs {
		l, _ := a.eng.Leg(name)
		if err := a.eng.RememberMapping(ctx, name, l.Trigger != engine.TriggerSchedule); err != nil {
			return err
		}
		if slices.Contains(resynced, name) {
			continue
		}
		st, err := a.eng.MappingStatus(ctx, name)
		if err != nil {
			return err
		}
		if st.Changed {
			a.log.WarnContext(ctx, "the mapping changed since the records already synced were written; they keep their old values until a resync (concord plan shows the difference)",
				engine.FlowAttr(name), "changed", st.What, "resync", "concord sync --once --resync "+name)
		}
	}
	return nil
}

// resyncProgress shows the progress of resyncs on stderr until stop: a bar
// with the total and an ETA, or a plain line every resyncReportEvery. The
// counts are the store's, so a resumed resync starts where the last run left.
type resyncProgress struct {
	a     *app
	legs  []string
	mode  progressMode
	out   io.Writer
	start time.Time
	first int // records compared when this run began

	stop chan struct{}
	done sync.WaitGroup
}

func (a *app) showResyncs(ctx context.Context, legs []string, mode progressMode, out io.Writer) *resyncProgress {
	p := &resyncProgress{a: a, legs: legs, mode: mode, out: out, start: time.Now(), stop: make(chan struct{})}
	if mode == progressNone || len(legs) == 0 {
		return p
	}
	total, compared, _ := p.counts(ctx)
	p.first = compared
	var bar *progressbar.ProgressBar
	every := resyncReportEvery
	if mode == progressBar {
		every = 200 * time.Millisecond
		bar = progressbar.NewOptions64(int64(max(total, 1)), progressbar.OptionSetWriter(out), progressbar.OptionSetDescription("resync"),
			progressbar.OptionShowCount(), progressbar.OptionSetItsString("records"), progressbar.OptionShowIts(),
			progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
		_ = bar.Set64(int64(compared))
	} else {
		p.line(total, compared, 0)
	}
	p.done.Add(1)
	go func() {
		defer p.done.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				total, compared, changed := p.counts(context.WithoutCancel(ctx))
				if bar != nil {
					_ = bar.Finish()
				} else {
					p.line(total, compared, changed)
				}
				return
			case <-t.C:
				total, compared, changed := p.counts(context.WithoutCancel(ctx))
				if bar != nil {
					if int64(total) > bar.GetMax64() {
						bar.ChangeMax64(int64(total))
					}
					_ = bar.Set64(int64(compared))
					continue
				}
				p.line(total, compared, changed)
			}
		}
	}()
	return p
}

// Stop ends the display, with a last plain line.
func (p *resyncProgress) Stop() {
	if p.mode == progressNone || len(p.legs) == 0 {
		return
	}
	close(p.stop)
	p.done.Wait()
}

func (p *resyncProgress) counts(ctx context.Context) (total, compared, changed int) {
	for _, l := range p.legs {
		r, err := p.a.eng.Resync(ctx, l)
		if err != nil {
			continue
		}
		total += max(r.Total, r.Compared)
		compared += r.Compared
		changed += r.Changed
	}
	return total, compared, changed
}

// line prints "resync customers: 40/88 linked records compared (45%), 23
// updated, ETA 12s".
func (p *resyncProgress) line(total, compared, changed int) {
	pct := 100
	if total > 0 {
		pct = compared * 100 / total
	}
	eta := "ETA unknown"
	if rate := float64(compared-p.first) / time.Since(p.start).Seconds(); compared >= total {
		eta = "done"
	} else if rate > 0 {
		eta = "ETA " + time.Duration(float64(total-compared)/rate*float64(time.Second)).Round(time.Second).String()
	}
	fmt.Fprintf(p.out, "resync %s: %d/%d linked records compared (%d%%), %d updated, %s\n", joinLegs(p.legs), compared, total, pct, changed, eta)
}

func joinLegs(legs []string) string {
	out := ""
	for i, l := range legs {
		if i > 0 {
			out += ", "
		}
		out += l
	}
	return out
}

// printResyncs prints one line per resync leg: how far it got.
func (a *app) printResyncs(ctx context.Context, w io.Writer, legs []string) {
	for _, l := range legs {
		r, err := a.eng.Resync(ctx, l)
		if errors.Is(err, store.ErrNotFound) || err != nil {
			continue
		}
		state := "finished"
		if !r.Finished() {
			state = "not finished: the next concord sync --once goes on with it"
		}
		fmt.Fprintf(w, "resync %s: %d of %d linked records compared, %d updated (%s)\n", l, r.Compared, max(r.Total, r.Compared), r.Changed, state)
	}
}
