package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/concord-sync/concord/internal/store"
)

// Dialect names the SQL flavour a Store speaks.
type Dialect string

// The supported dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Config describes one database to New.
type Config struct {
	// DB is the open pool; the Store owns it and closes it on Close.
	DB *sql.DB
	// Dialect selects the SQL flavour.
	Dialect Dialect
	// Logger receives the store's logs; nil discards them.
	Logger *slog.Logger
	// IsUniqueViolation reports whether err is the driver's unique-constraint error.
	IsUniqueViolation func(err error) bool
	// BatchArgs are driver options prepended to the arguments of the PostgreSQL
	// statements whose best plan depends on the batch (unnest and ANY), such as
	// pgx.QueryExecModeCacheDescribe, so that they are planned for the actual
	// arrays instead of falling back to a generic plan.
	BatchArgs []any
	// Reader, when set, is a second pool on the same database, opened read
	// only, for the engine's hot lookups made outside a transaction (links and
	// fingerprints): on SQLite, whose writer pool holds one connection, they
	// then run beside the writing transactions instead of waiting for them.
	// The Store owns it and closes it on Close.
	Reader *sql.DB
}

// Store implements store.Store on database/sql. All methods are safe for
// concurrent use. Inside InTx, fn must use the Tx it is given, never the Store:
// on SQLite the pool holds one connection and a Store call would wait for it
// forever.
type Store struct {
	ops

	db        *sql.DB
	dialect   Dialect
	logger    *slog.Logger
	isUnique  func(error) bool
	batchArgs []any
	// stmts are the prepared SQLite hot-path statements by text; read-only
	// after PrepareHot.
	stmts map[string]*sql.Stmt
	// reader and readStmts are Config.Reader and the hot lookups prepared on
	// it; nil without a reader.
	reader    *sql.DB
	readStmts map[string]*sql.Stmt
	closeOnce sync.Once
	closeErr  error
}

var _ store.Store = (*Store)(nil)

// New wraps an open pool. It does not migrate; call Migrate.
func New(cfg Config) *Store {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	isUnique := cfg.IsUniqueViolation
	if isUnique == nil {
		isUnique = func(error) bool { return false }
	}
	s := &Store{db: cfg.DB, dialect: cfg.Dialect, logger: logger, isUnique: isUnique, batchArgs: cfg.BatchArgs, reader: cfg.Reader}
	s.ops = ops{s: s, q: cfg.DB}
	return s
}

// DB returns the underlying pool.
func (s *Store) DB() *sql.DB { return s.db }

// Dialect returns "sqlite" or "postgres".
func (s *Store) Dialect() string { return string(s.dialect) }

// Close closes the pool. It is safe to call more than once; later calls return
// the first call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		errs := []error{closeStmts(s.stmts), closeStmts(s.readStmts), s.db.Close()}
		if s.reader != nil {
			errs = append(errs, s.reader.Close())
		}
		if err := errors.Join(errs...); err != nil {
			s.closeErr = fmt.Errorf("close store: %w", err)
		}
	})
	return s.closeErr
}

// InTx runs fn in one transaction: committed if fn returns nil, rolled back
// otherwise and on panic (which is then re-raised). fn's error is returned as is.
func (s *Store) InTx(ctx context.Context, fn func(tx store.Tx) error) error {
	return s.inTx(ctx, func(o *ops) error {
		// The caller may go on after a failed call, so each call must undo its
		// own partial writes: the Tx does not own the transaction.
		t := &Tx{ops: *o}
		t.own = false
		return fn(t)
	})
}

func (s *Store) inTx(ctx context.Context, fn func(o *ops) error) (err error) {
	sqlTx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin tx: %w", err)
	}
	done := false
	defer func() {
		if done {
			return
		}
		// fn panicked: roll back, then let the panic continue.
		_ = sqlTx.Rollback()
	}()
	o := &ops{s: s, q: sqlTx, tx: sqlTx, own: true}
	if err := fn(o); err != nil {
		done = true
		if rbErr := sqlTx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
			s.logger.WarnContext(ctx, "rollback tx", slog.String("error", rbErr.Error()))
		}
		return err
	}
	done = true
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit tx: %w", err)
	}
	return nil
}

// Tx is a transaction on a Store; it is valid only inside the InTx callback that
// received it, and is not safe for concurrent use.
type Tx struct {
	ops
}

var _ store.Tx = (*Tx)(nil)

// SQL returns the underlying transaction.
func (t *Tx) SQL() *sql.Tx { return t.tx }

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// ops implements store.Ops on a pool (tx nil) or a transaction.
type ops struct {
	s  *Store
	q  querier
	tx *sql.Tx
	// own is set when the ops began tx itself, so a failure rolls all of it back
	// and no savepoint is needed.
	own bool
}

// atomic runs fn so that either all of its writes happen or none: in a new
// transaction at pool level, directly in a transaction the ops began, and under
// a savepoint in a caller's transaction (which also keeps a PostgreSQL
// transaction usable after a failed statement).
func (o *ops) atomic(ctx context.Context, fn func(o *ops) error) error {
	if o.tx == nil {
		return o.s.inTx(ctx, fn)
	}
	if o.own {
		return fn(o)
	}
	if _, err := o.tx.ExecContext(ctx, "SAVEPOINT concord_sp"); err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	if err := fn(o); err != nil {
		if _, rbErr := o.tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT concord_sp"); rbErr != nil {
			return errors.Join(err, fmt.Errorf("rollback to savepoint: %w", rbErr))
		}
		if _, relErr := o.tx.ExecContext(ctx, "RELEASE SAVEPOINT concord_sp"); relErr != nil {
			return errors.Join(err, fmt.Errorf("release savepoint: %w", relErr))
		}
		return err
	}
	if _, err := o.tx.ExecContext(ctx, "RELEASE SAVEPOINT concord_sp"); err != nil {
		return fmt.Errorf("release savepoint: %w", err)
	}
	return nil
}

func (o *ops) pg() bool { return o.s.dialect == Postgres }

// batch prepends the store's BatchArgs to args.
func (o *ops) batch(args ...any) []any {
	if len(o.s.batchArgs) == 0 {
		return args
	}
	return append(append(make([]any, 0, len(o.s.batchArgs)+len(args)), o.s.batchArgs...), args...)
}

// rebind rewrites ? placeholders to $n for PostgreSQL. Queries here never hold
// a literal question mark.
func (o *ops) rebind(q string) string {
	if !o.pg() {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// now is the store's clock, truncated to what the databases keep.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// timeArg encodes a time for the dialect; the zero time is NULL.
func (o *ops) timeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	if o.pg() {
		return t.UTC().Truncate(time.Microsecond)
	}
	return t.UnixMicro()
}

// bytesArg stores empty slices as NULL.
func bytesArg(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// timeCol scans either dialect's time column into a UTC time; NULL is zero.
type timeCol struct{ t *time.Time }

func (c timeCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.t = time.Time{}
	case int64:
		*c.t = time.UnixMicro(v).UTC()
	case time.Time:
		*c.t = v.UTC()
	default:
		return fmt.Errorf("scan time: unsupported %T", src)
	}
	return nil
}

// bytesCol scans a nullable blob; NULL and empty are nil.
type bytesCol struct{ b *[]byte }

func (c bytesCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.b = nil
	case []byte:
		if len(v) == 0 {
			*c.b = nil
			return nil
		}
		*c.b = append([]byte(nil), v...)
	case string:
		if v == "" {
			*c.b = nil
			return nil
		}
		*c.b = []byte(v)
	default:
		return fmt.Errorf("scan bytes: unsupported %T", src)
	}
	return nil
}

func limitOr(limit, def int) int {
	if limit <= 0 {
		return def
	}
	return limit
}

// notFound translates sql.ErrNoRows at the seam.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}
