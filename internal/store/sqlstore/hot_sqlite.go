package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// The engine's hot path on SQLite (events, links and fingerprints, written and
// looked up per batch) runs as statements of power-of-two row counts, prepared
// once at open and reused in every transaction: parsing a 1000-row statement
// per call was a fifth of the batch time. 1000 rows run as 512+256+128+64+32+8.

// hotChunk is the largest hot statement, in rows or ids.
const hotChunk = 512

// hotChunks calls fn with consecutive [lo, hi) ranges of n items whose sizes
// are powers of two of at most hotChunk.
func hotChunks(n int, fn func(lo, hi int) error) error {
	for lo := 0; lo < n; {
		size := hotChunk
		for size > n-lo {
			size >>= 1
		}
		if err := fn(lo, lo+size); err != nil {
			return err
		}
		lo += size
	}
	return nil
}

// oneHotChunk reports whether n items run as one hot statement.
func oneHotChunk(n int) bool { return n <= hotChunk && n&(n-1) == 0 }

func sqliteEventsSQL(rows int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO concord_event (" + eventInsertCols + ") VALUES ")
	valuesList(&b, rows, 17)
	b.WriteString(" RETURNING id")
	return b.String()
}

func sqliteLinksSQL(rows int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO concord_link (" + linkCols + ") VALUES ")
	valuesList(&b, rows, 6)
	b.WriteString(linkUpsertTail)
	return b.String()
}

func sqliteFingerprintsSQL(rows int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO concord_fingerprint (" + fingerprintCols + ") VALUES ")
	valuesList(&b, rows, 7)
	b.WriteString(fingerprintUpsertTail)
	return b.String()
}

func sqliteLinksByExternalSQL(ids int) string {
	var b strings.Builder
	b.WriteString("SELECT " + linkCols + " FROM concord_link WHERE system = ? AND entity = ? AND external_id IN (")
	inList(&b, ids)
	b.WriteByte(')')
	return b.String()
}

// sqliteLinksByConcordSQL names its index: without statistics SQLite may scan a
// primary key prefix instead of probing the concord id index once per id.
func sqliteLinksByConcordSQL(ids int) string {
	var b strings.Builder
	b.WriteString("SELECT " + linkCols + " FROM concord_link INDEXED BY concord_link_concord_idx" +
		" WHERE system = ? AND entity = ? AND concord_id IN (")
	inList(&b, ids)
	b.WriteByte(')')
	return b.String()
}

func sqliteFingerprintsGetSQL(ids int) string {
	var b strings.Builder
	b.WriteString("SELECT " + fingerprintCols +
		" FROM concord_fingerprint WHERE flow = ? AND system = ? AND entity = ? AND external_id IN (")
	inList(&b, ids)
	b.WriteByte(')')
	return b.String()
}

// PrepareHot prepares the SQLite hot-path statements; call it once after
// Migrate and before any other use. On PostgreSQL it does nothing (pgx caches
// its own statements).
func (s *Store) PrepareHot(ctx context.Context) error {
	if s.dialect != SQLite {
		return nil
	}
	builders := []func(int) string{sqliteEventsSQL, sqliteLinksSQL, sqliteFingerprintsSQL,
		sqliteLinksByExternalSQL, sqliteLinksByConcordSQL, sqliteFingerprintsGetSQL}
	stmts := make(map[string]*sql.Stmt, len(builders)*10)
	for _, build := range builders {
		for rows := 1; rows <= hotChunk; rows <<= 1 {
			q := build(rows)
			st, err := s.db.PrepareContext(ctx, q)
			if err != nil {
				closeStmts(stmts)
				return fmt.Errorf("prepare statements: %w", err)
			}
			stmts[q] = st
		}
	}
	for _, q := range []string{webhookEventInsertSQL, markAnnouncedSQL, unmarkAnnouncedSQL} {
		st, err := s.db.PrepareContext(ctx, q)
		if err != nil {
			closeStmts(stmts)
			return fmt.Errorf("prepare statements: %w", err)
		}
		stmts[q] = st
	}
	s.stmts = stmts
	if s.reader == nil {
		return nil
	}
	reads := make(map[string]*sql.Stmt, 3*10)
	for _, build := range []func(int) string{sqliteLinksByExternalSQL, sqliteLinksByConcordSQL, sqliteFingerprintsGetSQL} {
		for rows := 1; rows <= hotChunk; rows <<= 1 {
			q := build(rows)
			st, err := s.reader.PrepareContext(ctx, q)
			if err != nil {
				closeStmts(reads)
				return fmt.Errorf("prepare read statements: %w", err)
			}
			reads[q] = st
		}
	}
	s.readStmts = reads
	return nil
}

func closeStmts(stmts map[string]*sql.Stmt) error {
	var errs []error
	for _, st := range stmts {
		errs = append(errs, st.Close())
	}
	return errors.Join(errs...)
}

// stmt returns the prepared statement of q bound to o's transaction, or nil.
func (o *ops) stmt(ctx context.Context, q string) *sql.Stmt {
	st := o.s.stmts[q]
	if st == nil || o.tx == nil {
		return st
	}
	return o.tx.StmtContext(ctx, st)
}

// exec runs q, prepared if it is a hot statement.
func (o *ops) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st := o.stmt(ctx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return o.q.ExecContext(ctx, q, args...)
}

// read runs the read-only query q: outside a transaction on the reader pool
// when the store has one, else as query does.
func (o *ops) read(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if o.tx != nil || o.s.reader == nil {
		return o.query(ctx, q, args...)
	}
	if st := o.s.readStmts[q]; st != nil {
		return st.QueryContext(ctx, args...)
	}
	return o.s.reader.QueryContext(ctx, q, args...)
}

// query runs q, prepared if it is a hot statement.
func (o *ops) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := o.stmt(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return o.q.QueryContext(ctx, q, args...)
}
