package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"regexp"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/store"
)

// Processor applies a batch; *engine.Engine is one.
type Processor interface {
	Process(ctx context.Context, b engine.Batch) ([]engine.Outcome, error)
	Bury(ctx context.Context, b engine.Batch, reason string) error
}

// Config configures a Queue.
type Config struct {
	// Legs are the legs whose work the queue carries; each gets its own River queue.
	Legs []string
	// MaxAttempts is how often River runs a batch whose processing fails as a
	// whole (store or network down) before its records are dead-lettered.
	MaxAttempts int
	// Backoff is the first retry delay of a failed job; it doubles per attempt,
	// with jitter, up to MaxBackoff.
	Backoff    time.Duration
	MaxBackoff time.Duration
	// PollInterval is how often idle workers look for new jobs.
	PollInterval time.Duration
	// JobTimeout bounds one batch.
	JobTimeout time.Duration
}

// DefaultConfig returns the defaults: 5 attempts, 1 s backoff up to 5 min, a 50 ms
// poll interval, 5 min per batch.
func DefaultConfig() Config {
	return Config{MaxAttempts: 5, Backoff: time.Second, MaxBackoff: 5 * time.Minute, PollInterval: 50 * time.Millisecond, JobTimeout: 5 * time.Minute}
}

// Queue carries batches between the pollers and the workers.
type Queue struct {
	st     store.Store
	client *river.Client[*sql.Tx]
	queues map[string]string // leg -> River queue
	log    *slog.Logger
	cfg    Config
	worker *applyWorker
}

// applyArgs are the arguments of one apply job.
type applyArgs struct {
	Batch engine.Batch `json:"batch"`
}

// Kind implements river.JobArgs.
func (applyArgs) Kind() string { return "concord_apply" }

// New migrates River's tables in the store's database and returns a queue whose
// workers are not started. proc may be nil for a queue that only enqueues.
func New(ctx context.Context, st store.Store, cfg Config, logger *slog.Logger) (*Queue, error) {
	def := DefaultConfig()
	if cfg.MaxAttempts < 1 {
		cfg.MaxAttempts = def.MaxAttempts
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = def.Backoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = def.MaxBackoff
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = def.PollInterval
	}
	if cfg.JobTimeout <= 0 {
		cfg.JobTimeout = def.JobTimeout
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var driver riverdriver.Driver[*sql.Tx]
	switch st.Dialect() {
	case "sqlite":
		driver = riversqlite.New(st.DB())
	case "postgres":
		driver = riverdatabasesql.New(st.DB())
	default:
		return nil, fmt.Errorf("queue: unsupported store dialect %q", st.Dialect())
	}
	migrator, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: quiet(logger)})
	if err != nil {
		return nil, fmt.Errorf("queue: migrator: %w", err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return nil, fmt.Errorf("queue: migrate river tables: %w", err)
	}
	q := &Queue{st: st, queues: map[string]string{}, log: logger, cfg: cfg, worker: &applyWorker{}}
	queues := map[string]river.QueueConfig{}
	for _, leg := range cfg.Legs {
		name := QueueName(leg)
		q.queues[leg] = name
		queues[name] = river.QueueConfig{MaxWorkers: 1}
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, q.worker)
	rcfg := &river.Config{
		Logger:                      quiet(logger),
		Workers:                     workers,
		MaxAttempts:                 cfg.MaxAttempts,
		RetryPolicy:                 &backoff{p: engine.RetryPolicy{MaxAttempts: cfg.MaxAttempts, Backoff: cfg.Backoff, MaxBackoff: cfg.MaxBackoff}},
		FetchPollInterval:           cfg.PollInterval,
		FetchCooldown:               cfg.PollInterval / 5,
		JobTimeout:                  cfg.JobTimeout,
		RescueStuckJobsAfter:        2 * cfg.JobTimeout,
		CompletedJobRetentionPeriod: 10 * time.Minute,
		PollOnly:                    true,
	}
	if len(queues) > 0 {
		rcfg.Queues = queues
	}
	q.client, err = river.NewClient(driver, rcfg)
	if err != nil {
		return nil, fmt.Errorf("queue: river client: %w", err)
	}
	return q, nil
}

// quiet keeps River's own chatter at warnings and above.
func quiet(l *slog.Logger) *slog.Logger {
	return slog.New(levelFilter{h: l.Handler(), min: slog.LevelWarn})
}

type levelFilter struct {
	h   slog.Handler
	min slog.Level
}

func (f levelFilter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= f.min && f.h.Enabled(ctx, l)
}
func (f levelFilter) Handle(ctx context.Context, r slog.Record) error { return f.h.Handle(ctx, r) }
func (f levelFilter) WithAttrs(a []slog.Attr) slog.Handler {
	return levelFilter{h: f.h.WithAttrs(a), min: f.min}
}
func (f levelFilter) WithGroup(n string) slog.Handler {
	return levelFilter{h: f.h.WithGroup(n), min: f.min}
}

var nonName = regexp.MustCompile(`[^a-z0-9_]+`)

// QueueName returns the River queue of a leg: a readable prefix and a short hash,
// so that distinct legs never share a queue.
func QueueName(leg string) string {
	h := fnv.New32a()
	h.Write([]byte(leg))
	base := nonName.ReplaceAllString(strings.ToLower(leg), "_")
	if len(base) > 40 {
		base = base[:40]
	}
	return fmt.Sprintf("leg_%s_%08x", base, h.Sum32())
}

// EnqueueTx implements engine.Enqueuer: the batches are inserted in tx and become
// visible to workers only when tx commits.
func (q *Queue) EnqueueTx(ctx context.Context, tx store.Tx, batches []engine.Batch, at time.Time) error {
	params := make([]river.InsertManyParams, 0, len(batches))
	for _, b := range batches {
		name, ok := q.queues[b.Leg]
		if !ok {
			return fmt.Errorf("enqueue: leg %q has no queue", b.Leg)
		}
		prio := 2
		if b.Live {
			prio = 1
		}
		params = append(params, river.InsertManyParams{Args: applyArgs{Batch: b}, InsertOpts: &river.InsertOpts{Queue: name, Priority: prio, ScheduledAt: at}})
	}
	if len(params) == 0 {
		return nil
	}
	if _, err := q.client.InsertManyTx(ctx, tx.SQL(), params); err != nil {
		return fmt.Errorf("insert %d jobs: %w", len(params), err)
	}
	return nil
}

// Start runs the workers with proc until Stop. With the embedded SQLite store the
// process is the only node, so jobs left running by a crash (kill -9) are made
// available again at once instead of after the rescue delay.
func (q *Queue) Start(ctx context.Context, proc Processor) error {
	q.worker.proc, q.worker.log = proc, q.log
	if q.st.Dialect() == "sqlite" {
		res, err := q.st.DB().ExecContext(ctx, `UPDATE river_job SET state = 'available' WHERE state = 'running'`)
		if err != nil {
			return fmt.Errorf("queue: rescue jobs of a crashed run: %w", err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			q.log.InfoContext(ctx, "rescued jobs of a crashed run", "jobs", n)
		}
	}
	if err := q.client.Start(ctx); err != nil {
		return fmt.Errorf("queue: start: %w", err)
	}
	return nil
}

// Stop waits for running batches to finish and stops the workers. It is safe to
// call more than once and before Start.
func (q *Queue) Stop(ctx context.Context) error {
	err := q.client.Stop(ctx)
	if err != nil && !strings.Contains(err.Error(), "not started") {
		return fmt.Errorf("queue: stop: %w", err)
	}
	return nil
}

// Pending returns the number of jobs not yet finished: available, running,
// scheduled (retries waiting for their backoff) or retryable.
func (q *Queue) Pending(ctx context.Context) (int, error) {
	var n int
	err := q.st.DB().QueryRowContext(ctx, `SELECT count(*) FROM river_job WHERE state IN ('available', 'running', 'scheduled', 'retryable', 'pending')`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("queue: count pending jobs: %w", err)
	}
	return n, nil
}

// Drain waits until no job is pending, checking every interval.
func (q *Queue) Drain(ctx context.Context, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		n, err := q.Pending(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// applyWorker runs one batch through the engine.
type applyWorker struct {
	river.WorkerDefaults[applyArgs]
	proc Processor
	log  *slog.Logger
}

// Work implements river.Worker. A failure of the whole batch is returned to River,
// which retries it; on the last attempt the records are dead-lettered instead.
func (w *applyWorker) Work(ctx context.Context, job *river.Job[applyArgs]) error {
	if w.proc == nil {
		return errors.New("queue: no processor")
	}
	b := job.Args.Batch
	_, err := w.proc.Process(ctx, b)
	if err == nil {
		return nil
	}
	if job.Attempt < job.MaxAttempts {
		w.log.WarnContext(ctx, "batch failed; river retries it", "leg", b.Leg, "records", len(b.Records), "attempt", job.Attempt, "err", err)
		return err
	}
	if berr := w.proc.Bury(ctx, b, fmt.Sprintf("batch failed %d times: %v", job.Attempt, err)); berr != nil {
		return errors.Join(err, fmt.Errorf("dead-letter batch: %w", berr))
	}
	w.log.ErrorContext(ctx, "batch dead-lettered", "leg", b.Leg, "records", len(b.Records), "err", err)
	return nil
}

// backoff is the engine's retry policy as River's: exponential with ±50% jitter.
type backoff struct{ p engine.RetryPolicy }

// NextRetry implements river.ClientRetryPolicy.
func (b *backoff) NextRetry(job *rivertype.JobRow) time.Time {
	return time.Now().Add(b.p.Delay(job.Attempt, rand.Float64()))
}

var _ Processor = (*engine.Engine)(nil)
