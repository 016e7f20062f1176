package queue

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"

	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/lease"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/store"
)

// Processor applies a batch; *engine.Engine is one.
type Processor interface {
	Process(ctx context.Context, b engine.Batch, opt engine.ProcessOptions) ([]engine.Outcome, error)
	Bury(ctx context.Context, b engine.Batch, reason string, attempts int) error
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
	// Partitions splits each leg's record batches by record id into this many
	// partitions on a PostgreSQL store, each locked on its own (legLock), so
	// that several nodes apply one leg's batches at once while a record's
	// changes stay in one partition. 1 (the default) locks the whole leg; a
	// SQLite store has one node and always uses 1.
	Partitions int
	// Node names this process among the nodes sharing a PostgreSQL store
	// (River's client id, and its "node:" lease while the workers run, see
	// nodes.go); empty: a random name.
	Node string
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

	// hot keeps the batches this process enqueued, by payload id, so that its own
	// workers need not read and decode them back; the stored payload stays the
	// durable copy. Bounded: past hotMax batches nothing more is kept.
	hotMu sync.Mutex
	hot   map[int64]hotBatch

	// lock is the SQLite store's queue lock file, held while the workers run.
	lock *os.File
	// queueNames are the River queues of the configured legs.
	queueNames []string
	// stopping is set while Stop waits for running batches.
	stopping atomic.Bool

	// worked is closed (and replaced) each time one of this process's workers
	// finishes a job, so that Drain counts pending jobs only when something
	// may have changed.
	workedMu sync.Mutex
	worked   chan struct{}
	// counts is how many times Pending counted the jobs (for tests).
	counts atomic.Int64
	// running is the number of jobs this process's workers are running.
	running atomic.Int32
	// alive holds the node's lease while the workers run on PostgreSQL
	// (nodes.go); stopAlive ends it.
	alive     *lease.Leases
	stopAlive func()
}

// jobWorked wakes the Drain calls waiting for a job to finish.
func (q *Queue) jobWorked() {
	q.workedMu.Lock()
	defer q.workedMu.Unlock()
	if q.worked != nil {
		close(q.worked)
	}
	q.worked = make(chan struct{})
}

// workedChan returns the channel the next finished job closes.
func (q *Queue) workedChan() <-chan struct{} {
	q.workedMu.Lock()
	defer q.workedMu.Unlock()
	if q.worked == nil {
		q.worked = make(chan struct{})
	}
	return q.worked
}

// drainMaxWait is the longest Drain waits between two counts when no job of
// this process finishes (jobs worked by another process, or River marking a
// finished job completed a moment later).
const drainMaxWait = time.Second

// hotBatch is a batch kept for the process's own workers, with the nonce of the
// job that carries it.
type hotBatch struct {
	nonce uint64
	batch engine.Batch
}

// hotMax bounds the batches kept in memory for the process's own workers;
// WaitRoom holds the poller back while they are all taken, so that a backfill
// holds a few batches in memory, not the whole read-ahead.
const hotMax = 8

// applyArgs are the arguments of one apply job. The batch itself is stored in
// concord_queue_payload, in the same transaction, and the job carries its id: a
// claim check. River keeps job arguments as JSON documents that SQLite and
// PostgreSQL parse on every insert and fetch; a batch of a thousand records is
// cheaper as one opaque blob.
type applyArgs struct {
	Leg     string `json:"leg"`
	Payload int64  `json:"payload"`
	// Nonce tells this job's payload from a rolled-back one that had the same id
	// (SQLite reuses ids after a rollback) in the in-memory hand-over.
	Nonce   uint64 `json:"nonce"`
	Records int    `json:"records"`
	Attempt int    `json:"attempt"`
	// Announce marks a job of records announced by webhook: until it starts,
	// AnnounceTx appends newly announced ids to its batch.
	Announce bool `json:"announce,omitempty"`
	// Part is the job's partition plus one (Config.Partitions); 0 is a job
	// of the whole leg, which takes every partition's lock.
	Part int `json:"part,omitempty"`
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
	if cfg.Node == "" {
		cfg.Node = randomNode()
	}
	if cfg.Partitions < 1 || st.Dialect() != "postgres" {
		cfg.Partitions = 1
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
	if err := migrate(ctx, st, driver, logger); err != nil {
		return nil, err
	}
	q := &Queue{st: st, queues: map[string]string{}, log: logger, cfg: cfg, hot: map[int64]hotBatch{}}
	q.worker = &applyWorker{q: q}
	queues := map[string]river.QueueConfig{}
	for _, leg := range cfg.Legs {
		name := QueueName(leg)
		q.queues[leg] = name
		q.queueNames = append(q.queueNames, name)
		queues[name] = river.QueueConfig{MaxWorkers: 1}
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, q.worker)
	rcfg := &river.Config{
		ID:                          cfg.Node,
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
	var err error
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
	return q.enqueue(ctx, tx, batches, at, false)
}

// enqueue inserts the batches' jobs in tx; announce marks them as jobs
// AnnounceTx may append record ids to until they start.
func (q *Queue) enqueue(ctx context.Context, tx store.Tx, batches []engine.Batch, at time.Time, announce bool) error {
	params := make([]river.InsertManyParams, 0, len(batches))
	parts := make([]int, 0, len(batches))
	if q.cfg.Partitions > 1 && !announce {
		batches, parts = q.partition(batches)
	}
	for i, b := range batches {
		name, ok := q.queues[b.Leg]
		if !ok {
			return fmt.Errorf("enqueue: leg %q has no queue", b.Leg)
		}
		prio := 2
		if b.Live {
			prio = 1
		}
		blob, err := b.MarshalJSON() // hand-written: encoding/json would re-validate its output
		if err != nil {
			return fmt.Errorf("enqueue: encode batch: %w", err)
		}
		var id int64
		if err := tx.SQL().QueryRowContext(ctx, q.sql(`INSERT INTO concord_queue_payload (batch) VALUES ($1) RETURNING id`), blob).Scan(&id); err != nil {
			return fmt.Errorf("enqueue: store batch: %w", err)
		}
		nonce := rand.Uint64()
		q.keep(id, nonce, b)
		args := applyArgs{Leg: b.Leg, Payload: id, Nonce: nonce, Records: len(b.Records), Attempt: b.Attempt, Announce: announce}
		if i < len(parts) {
			args.Part = parts[i]
		}
		params = append(params, river.InsertManyParams{Args: args, InsertOpts: &river.InsertOpts{Queue: name, Priority: prio, ScheduledAt: at}})
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
		if err := q.lockSQLite(ctx); err != nil {
			return err
		}
		// A job killed while running did not fail: the attempt it spent is
		// given back, so that frequent crashes never exhaust a batch's attempts.
		res, err := q.st.DB().ExecContext(ctx, `UPDATE river_job SET state = 'available', attempt = max(attempt - 1, 0) WHERE state = 'running'`)
		if err != nil {
			return fmt.Errorf("queue: rescue jobs of a crashed run: %w", err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			q.log.InfoContext(ctx, "resumed batches of a crashed run", "batches", n)
		}
	}
	if q.st.Dialect() == "postgres" {
		if err := q.startAlive(ctx); err != nil {
			return err
		}
	}
	// The workers outlive ctx: a cancelled ctx (SIGTERM) must not cut running
	// batches short; Stop lets them finish.
	if err := q.client.Start(context.WithoutCancel(ctx)); err != nil {
		q.unlock()
		q.endAlive()
		return fmt.Errorf("queue: start: %w", err)
	}
	return nil
}

// lockSQLite takes the embedded store's queue lock: one process at a time runs
// workers on a SQLite store (its jobs left running by a crash are made available
// again at start, which is only safe when no other process runs them).
func (q *Queue) lockSQLite(ctx context.Context) error {
	var seq int
	var name, file string
	if err := q.st.DB().QueryRowContext(ctx, `PRAGMA database_list`).Scan(&seq, &name, &file); err != nil {
		return fmt.Errorf("queue: store file: %w", err)
	}
	if file == "" {
		return nil // an in-memory store belongs to this process alone
	}
	f, err := os.OpenFile(file+".queue.lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("queue: lock file: %w", err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return fmt.Errorf("queue: another concord process is running sync, serve or demo on %s; stop it first: %w", file, ErrBusy)
	}
	q.lock = f
	return nil
}

func (q *Queue) unlock() {
	if q.lock != nil {
		_ = unlockFile(q.lock)
		_ = q.lock.Close()
		q.lock = nil
	}
}

// ErrBusy means another process runs the queue of this SQLite store.
var ErrBusy = errors.New("store busy")

// Stop waits for running batches to finish and stops the workers. It is safe to
// call more than once and before Start.
func (q *Queue) Stop(ctx context.Context) error {
	defer q.unlock()
	defer q.endAlive() // after the running batches: they are this node's until then
	// Running batches stop after the piece they are writing.
	q.stopping.Store(true)
	defer q.stopping.Store(false)
	err := q.client.Stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		// Running batches did not finish in time: cancel them; they are retried.
		err = q.client.StopAndCancel(context.WithoutCancel(ctx))
	}
	if err != nil && !strings.Contains(err.Error(), "not started") {
		return fmt.Errorf("queue: stop: %w", err)
	}
	return nil
}

// Pending returns the number of jobs not yet finished: available, running,
// scheduled (retries waiting for their backoff) or retryable.
func (q *Queue) Pending(ctx context.Context) (int, error) {
	q.counts.Add(1)
	if len(q.queueNames) == 0 {
		return 0, nil
	}
	query := `SELECT count(*) FROM river_job WHERE state IN ('available', 'running', 'scheduled', 'retryable', 'pending') AND queue IN (`
	args := make([]any, len(q.queueNames))
	for i, name := range q.queueNames {
		if i > 0 {
			query += ", "
		}
		query += fmt.Sprintf("$%d", i+1)
		args[i] = name
	}
	var n int
	if err := q.st.DB().QueryRowContext(ctx, q.sql(query+")"), args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("queue: count pending jobs: %w", err)
	}
	return n, nil
}

// Orphans counts waiting jobs of queues no configured leg has (a flow renamed or
// removed since they were queued); they are not worked until the flow is back.
func (q *Queue) Orphans(ctx context.Context) (int, error) {
	var total int
	if err := q.st.DB().QueryRowContext(ctx, `SELECT count(*) FROM river_job WHERE state IN ('available', 'running', 'scheduled', 'retryable', 'pending')`).Scan(&total); err != nil {
		return 0, fmt.Errorf("queue: count jobs: %w", err)
	}
	ours, err := q.Pending(ctx)
	if err != nil {
		return 0, err
	}
	return total - ours, nil
}

// Drain waits until no job is pending. It counts the pending jobs only while
// none of this process's workers is running a job (a running job's end wakes
// it), or once a second for jobs other processes run; between counts it waits
// for a job to finish or for a wait that starts at every and doubles up to a
// second. So the count is not polled while batches run.
func (q *Queue) Drain(ctx context.Context, every time.Duration) error {
	wait := every
	var last time.Time
	for {
		worked := q.workedChan()
		if q.running.Load() == 0 || time.Since(last) >= drainMaxWait {
			n, err := q.Pending(ctx)
			if err != nil {
				return err
			}
			if n == 0 {
				return nil
			}
			last = time.Now()
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-worked:
			t.Stop()
			wait = every
			// River records the job's completion a moment after Work returns.
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(every):
			}
		case <-t.C:
			wait = min(2*wait, max(every, drainMaxWait))
		}
	}
}

// legLock serialises the batches of one leg across every process sharing a
// PostgreSQL store, with a session advisory lock held on a pinned connection
// while the batch runs: River's one worker per queue only holds within one
// process. On SQLite one process runs the queue (lockSQLite), so nothing to do.
//
// With Config.Partitions above 1 a job of one partition (part > 0) takes that
// partition's lock only, and a job of the whole leg (part 0) takes every
// partition's lock, in order, so that lockers never wait on each other in a
// cycle.
func (q *Queue) legLock(ctx context.Context, leg string, part int) (func(), error) {
	if q.st.Dialect() != "postgres" {
		return func() {}, nil
	}
	var keys []int64
	switch {
	case q.cfg.Partitions <= 1:
		keys = []int64{lockKey("concord leg " + leg)}
	case part > 0:
		keys = []int64{lockKey(fmt.Sprintf("concord leg %s#%d", leg, part-1))}
	default:
		for p := range q.cfg.Partitions {
			keys = append(keys, lockKey(fmt.Sprintf("concord leg %s#%d", leg, p)))
		}
	}
	conn, err := q.st.DB().Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("queue: lock leg %s: %w", leg, err)
	}
	for _, key := range keys {
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, key); err != nil {
			conn.Close() // the session's locks go with it
			return nil, fmt.Errorf("queue: lock leg %s: %w", leg, err)
		}
	}
	return func() {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock_all()`)
		conn.Close()
	}, nil
}

func lockKey(s string) int64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return int64(h.Sum64())
}

// partition splits the batches that carry records only (polls, their
// retries) by record id into Config.Partitions batches each; parts[i] is the
// partition of out[i] plus one, or 0 for a batch kept whole (reads by id,
// overrides, status writes).
func (q *Queue) partition(batches []engine.Batch) (out []engine.Batch, parts []int) {
	n := q.cfg.Partitions
	for _, b := range batches {
		if len(b.Records) == 0 || len(b.Fetch) > 0 || len(b.Set) > 0 || len(b.Status) > 0 {
			out, parts = append(out, b), append(parts, 0)
			continue
		}
		split := make([][]model.Record, n)
		for _, r := range b.Records {
			h := fnv.New32a()
			h.Write([]byte(r.ID))
			p := int(h.Sum32() % uint32(n))
			split[p] = append(split[p], r)
		}
		for p, recs := range split {
			if len(recs) == 0 {
				continue
			}
			sub := b
			sub.Records = recs
			out, parts = append(out, sub), append(parts, p+1)
		}
	}
	return out, parts
}

// payloadDDL creates the claim-check table per dialect.
var payloadDDL = map[string]string{
	"sqlite":   `CREATE TABLE IF NOT EXISTS concord_queue_payload (id INTEGER PRIMARY KEY AUTOINCREMENT, batch BLOB NOT NULL)`,
	"postgres": `CREATE TABLE IF NOT EXISTS concord_queue_payload (id BIGSERIAL PRIMARY KEY, batch BYTEA NOT NULL)`,
}

// sql rewrites $n placeholders for SQLite.
func (q *Queue) sql(query string) string {
	if q.st.Dialect() == "sqlite" {
		return placeholder.ReplaceAllString(query, "?")
	}
	return query
}

var placeholder = regexp.MustCompile(`\$[0-9]+`)

// load reads a job's batch; ok is false when the payload is gone because an
// earlier run of the job applied it and crashed before River recorded that.
func (q *Queue) load(ctx context.Context, id int64, nonce uint64) (b engine.Batch, ok bool, err error) {
	if b, ok := q.take(id, nonce); ok {
		// Kept at enqueue; its transaction committed, or River would not run the job.
		return b, true, nil
	}
	var blob []byte
	err = q.st.DB().QueryRowContext(ctx, q.sql(`SELECT batch FROM concord_queue_payload WHERE id = $1`), id).Scan(&blob)
	if errors.Is(err, sql.ErrNoRows) {
		return b, false, nil
	}
	if err != nil {
		return b, false, fmt.Errorf("load batch %d: %w", id, err)
	}
	if err := json.Unmarshal(blob, &b); err != nil {
		return b, false, fmt.Errorf("decode batch %d: %w", id, err)
	}
	return b, true, nil
}

// WaitRoom blocks while the batches this process enqueued and its own
// workers have not run yet fill the in-memory hand-over, so that a poller
// that reads faster than the batches are applied waits for them instead of
// growing memory (or handing batches over through the store, decoded again).
// It returns at once when no worker of this process runs (Start was not
// called, or Stop was), and when ctx ends.
func (q *Queue) WaitRoom(ctx context.Context) error {
	for {
		worked := q.workedChan()
		q.hotMu.Lock()
		full := len(q.hot) >= hotMax
		q.hotMu.Unlock()
		if !full || q.worker.proc == nil || q.stopping.Load() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-worked:
		case <-time.After(drainMaxWait):
			// No batch of ours finished for a second (a kept batch another
			// process ran never reaches our workers): go on.
			return nil
		}
	}
}

func (q *Queue) keep(id int64, nonce uint64, b engine.Batch) {
	q.hotMu.Lock()
	defer q.hotMu.Unlock()
	if _, stale := q.hot[id]; stale || len(q.hot) < hotMax {
		q.hot[id] = hotBatch{nonce: nonce, batch: b}
	}
}

// take hands over a kept batch when it is the one the job carries; a batch of a
// rolled-back transaction under the same id is dropped.
func (q *Queue) take(id int64, nonce uint64) (engine.Batch, bool) {
	q.hotMu.Lock()
	defer q.hotMu.Unlock()
	h, ok := q.hot[id]
	delete(q.hot, id)
	if !ok || h.nonce != nonce {
		return engine.Batch{}, false
	}
	return h.batch, true
}

// checkpoint replaces a job's payload with what is left of its batch, inside
// the transaction that records the part done.
func (q *Queue) checkpoint(ctx context.Context, tx store.Tx, id int64, rest engine.Batch) error {
	blob, err := rest.MarshalJSON()
	if err != nil {
		return fmt.Errorf("encode rest of batch %d: %w", id, err)
	}
	if _, err := tx.SQL().ExecContext(ctx, q.sql(`UPDATE concord_queue_payload SET batch = $1 WHERE id = $2`), blob, id); err != nil {
		return fmt.Errorf("checkpoint batch %d: %w", id, err)
	}
	return nil
}

func (q *Queue) forget(ctx context.Context, id int64) error {
	if _, err := q.st.DB().ExecContext(ctx, q.sql(`DELETE FROM concord_queue_payload WHERE id = $1`), id); err != nil {
		return fmt.Errorf("delete batch %d: %w", id, err)
	}
	return nil
}

// applyWorker runs one batch through the engine.
type applyWorker struct {
	river.WorkerDefaults[applyArgs]
	q    *Queue
	proc Processor
	log  *slog.Logger
}

// Work implements river.Worker. A failure of the whole batch is returned to River,
// which retries it; on the last attempt the records are dead-lettered instead.
func (w *applyWorker) Work(ctx context.Context, job *river.Job[applyArgs]) error {
	w.q.running.Add(1)
	defer w.q.jobWorked()
	defer w.q.running.Add(-1)
	if w.proc == nil {
		return errors.New("queue: no processor")
	}
	unlock, err := w.q.legLock(ctx, job.Args.Leg, job.Args.Part)
	if err != nil {
		return err
	}
	defer unlock()
	b, ok, err := w.q.load(ctx, job.Args.Payload, job.Args.Nonce)
	if err != nil {
		return err
	}
	if !ok {
		w.log.DebugContext(ctx, "batch already applied", engine.FlowAttr(job.Args.Leg))
		return nil
	}
	opt := engine.ProcessOptions{
		// Each piece of the batch that is recorded leaves the rest as the
		// job's payload: a killed process resumes there.
		Checkpoint: func(ctx context.Context, tx store.Tx, rest engine.Batch) error {
			return w.q.checkpoint(ctx, tx, job.Args.Payload, rest)
		},
		Stop:     w.q.stopping.Load,
		QueuedAt: job.ScheduledAt,
	}
	_, err = w.proc.Process(ctx, b, opt)
	if err == nil {
		return w.q.forget(ctx, job.Args.Payload)
	}
	if errors.Is(err, engine.ErrStopped) {
		// Shutting down between two pieces: the rest is the payload now; the
		// next start runs it. Snoozing spends no attempt.
		w.log.InfoContext(ctx, "batch paused for shutdown", engine.FlowAttr(b.Leg), "records", len(b.Records))
		return river.JobSnooze(time.Second)
	}
	if job.Attempt < job.MaxAttempts {
		w.log.WarnContext(ctx, "batch failed, retrying", engine.FlowAttr(b.Leg), "records", len(b.Records), "attempt", job.Attempt, "max_attempts", job.MaxAttempts, "err", err)
		return err
	}
	// Pieces recorded before the failure checkpointed the rest: bury only that.
	if rest, ok, lerr := w.q.load(context.WithoutCancel(ctx), job.Args.Payload, 0); lerr == nil && ok {
		b = rest
	}
	if berr := w.proc.Bury(context.WithoutCancel(ctx), b, fmt.Sprintf("batch failed %d times: %v", job.Attempt, err), job.Attempt); berr != nil {
		// Never let River discard a batch that is not dead-lettered: try again
		// later without spending an attempt.
		w.log.ErrorContext(ctx, "dead-letter batch failed; retrying later", engine.FlowAttr(b.Leg), "records", len(b.Records), "err", errors.Join(err, berr))
		return river.JobSnooze(w.q.cfg.Backoff)
	}
	w.log.ErrorContext(ctx, "batch dead-lettered", engine.FlowAttr(b.Leg), "records", len(b.Records), "attempts", job.Attempt, "err", err)
	return w.q.forget(ctx, job.Args.Payload)
}

// backoff is the engine's retry policy as River's: exponential with ±50% jitter.
type backoff struct{ p engine.RetryPolicy }

// NextRetry implements river.ClientRetryPolicy.
func (b *backoff) NextRetry(job *rivertype.JobRow) time.Time {
	return time.Now().Add(b.p.Delay(job.Attempt, rand.Float64()))
}

var _ Processor = (*engine.Engine)(nil)

// Depth is the work a leg has queued and not finished.
type Depth struct {
	// Batches counts the jobs waiting, running or scheduled for a retry.
	Batches int
	// Records counts their records, as queued (a batch recorded in part
	// still counts whole).
	Records int
	// Oldest is when the oldest of them was queued; zero without any.
	Oldest time.Time
}

// pendingStates are the River job states of work not finished.
const pendingStates = `('available', 'running', 'scheduled', 'retryable', 'pending')`

// Depth returns, per configured leg, the work queued and not finished; legs
// with none are absent. It only reads.
func (q *Queue) Depth(ctx context.Context) (map[string]Depth, error) {
	out := map[string]Depth{}
	if len(q.queueNames) == 0 {
		return out, nil
	}
	leg := map[string]string{}
	for l, name := range q.queues {
		leg[name] = l
	}
	records := `json_extract(args, '$.records')`
	if q.st.Dialect() == "postgres" {
		records = `(args->>'records')::bigint`
	}
	query := `SELECT queue, count(*), coalesce(sum(` + records + `), 0), min(id) FROM river_job WHERE state IN ` + pendingStates + ` AND queue IN (`
	args := make([]any, len(q.queueNames))
	for i, name := range q.queueNames {
		if i > 0 {
			query += ", "
		}
		query += fmt.Sprintf("$%d", i+1)
		args[i] = name
	}
	rows, err := q.st.DB().QueryContext(ctx, q.sql(query+") GROUP BY queue"), args...)
	if err != nil {
		return nil, fmt.Errorf("queue: count queued work: %w", err)
	}
	oldest := map[string]int64{}
	for rows.Next() {
		var name string
		var d Depth
		var id int64
		if err := rows.Scan(&name, &d.Batches, &d.Records, &id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("queue: count queued work: %w", err)
		}
		out[leg[name]] = d
		oldest[leg[name]] = id
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("queue: count queued work: %w", err)
	}
	for l, id := range oldest {
		job, err := q.client.JobGet(ctx, id)
		if errors.Is(err, river.ErrNotFound) {
			continue // finished meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("queue: oldest job of %s: %w", l, err)
		}
		d := out[l]
		d.Oldest = job.CreatedAt
		out[l] = d
	}
	return out, nil
}
