package sqlconn

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/concord-sync/concord/internal/connector"
)

// batchSavepoint isolates one batch statement, so a statement the database
// refuses is rolled back alone and its rows are tried again in halves.
const batchSavepoint = "concord_batch"

// maxBatchParams bounds the bind values of one batch statement, below SQLite's
// 32,766 and the 65,535 of PostgreSQL and MySQL.
const maxBatchParams = 30000

// maxUpdateRows bounds the rows of one batch UPDATE in the CASE form (not
// updateJoin): each column is a CASE over the rows, so its cost grows with the
// square of the rows.
const maxUpdateRows = 250

// errRedo says a batch statement failed after it may have changed rows, with
// no savepoint to undo it alone: the transaction is rolled back and the batch
// written row by row.
var errRedo = errors.New("batch statement failed without a savepoint")

// errUnresolved says a batch statement's rows could not be matched to their
// ops (an id or link key that reads back in another form); the rows are then
// written one by one.
var errUnresolved = errors.New("batch rows not matched to their ops")

// batchRow is one op of a batch: an insert or an update of one row.
type batchRow struct {
	i    int // index in ops
	op   connector.Op
	id   string // the row's id: the target for updates, known or found after insert
	sets []assignment
	now  time.Time
	// version is checked by the batch read before updates; found marks a create
	// whose link key is already stored (an update without version).
	version string
	found   bool
}

// batchTx writes ops without lines in one transaction with a few statements
// per batch: one lookup of every create's link key, one read of every
// update's row (locked when versions are checked), multi-row INSERTs and
// UPDATEs. A batch statement runs inside a savepoint; when the database
// refuses it, it is rolled back and its rows are tried again in halves until
// the refused rows are alone, and a row alone is written exactly like
// perRowTx writes it, so each op still gets its own outcome. Ops that touch a
// row an earlier op of the batch touches run afterwards, one by one, in order.
func (c *Conn) batchTx(ctx context.Context, op string, t *table, ops []connector.Op) ([]connector.Result, error) {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: begin: %w", op, err)
	}
	defer func() { _ = tx.Rollback() }()
	results := make([]connector.Result, len(ops))
	b := &batch{c: c, tx: tx, t: t, op: op, ops: ops, results: results}
	ok, err := b.run(ctx)
	if errors.Is(err, errRedo) {
		ok, err = false, nil
	}
	if err != nil {
		return nil, err
	}
	if !ok {
		_ = tx.Rollback()
		c.log.DebugContext(ctx, "sql batch not matched, writing row by row", slog.String("op", op))
		return c.perRowTx(ctx, op, len(ops), func(tx *sql.Tx, i int, attempt int) connector.Result {
			return c.applyOp(ctx, tx, t, ops[i], attempt)
		})
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("%s: commit: %w", op, err)
	}
	return results, nil
}

// batch is the state of one batchTx attempt.
type batch struct {
	c       *Conn
	tx      *sql.Tx
	t       *table
	op      string
	ops     []connector.Op
	results []connector.Result
}

// run plans and writes the batch. It reports false when the rows read back
// could not be matched to the ops; nothing is committed then.
func (b *batch) run(ctx context.Context) (bool, error) {
	c, t := b.c, b.t
	var creates, updates []*batchRow
	var tail []int // ops run one by one after the batch statements
	links := map[string]bool{}
	for i, op := range b.ops {
		switch op.Kind {
		case connector.OpCreate:
			if op.LinkKey == "" || t.link == "" || links[op.LinkKey] {
				tail = append(tail, i)
				continue
			}
			sets, _, err := c.encodeFields(t, op.Fields)
			if err != nil {
				b.results[i] = connector.Result{Err: err}
				continue
			}
			links[op.LinkKey] = true
			creates = append(creates, &batchRow{i: i, op: op, sets: sets})
		case connector.OpUpdate:
			sets, _, err := c.encodeFields(t, op.Fields)
			if err != nil {
				b.results[i] = connector.Result{ID: op.ID, Err: err}
				continue
			}
			updates = append(updates, &batchRow{i: i, op: op, id: op.ID, sets: sets, version: op.Version})
		default:
			b.results[i] = c.applyOp(ctx, b.tx, t, op, 0)
		}
	}

	// Creates whose link key is stored update that row.
	found, ok, err := b.ids(ctx, t.link, keysOf(creates, func(r *batchRow) string { return r.op.LinkKey }), false)
	if err != nil || !ok {
		return ok, err
	}
	var inserts []*batchRow
	for _, r := range creates {
		if id, ok := found[r.op.LinkKey]; ok {
			r.id, r.found = fmt.Sprint(id), true
			updates = append(updates, r)
			continue
		}
		inserts = append(inserts, r)
	}

	// Updates in op order, so that of two ops on one row the later runs after.
	slices.SortFunc(updates, func(x, y *batchRow) int { return x.i - y.i })

	// Updates: one read of their rows, checking existence and versions.
	var toCheck []*batchRow
	locking := false
	for _, r := range updates {
		if !r.found {
			toCheck = append(toCheck, r)
			locking = locking || r.version != ""
		}
	}
	versions, ok, err := b.ids(ctx, t.id, keysOf(toCheck, func(r *batchRow) string { return r.id }), locking)
	if err != nil || !ok {
		return ok, err
	}
	ids := map[string]bool{}
	var live []*batchRow
	for _, r := range updates {
		if ids[r.id] {
			tail = append(tail, r.i)
			continue
		}
		if !r.found {
			raw, ok := versions[r.id]
			if !ok {
				b.results[r.i] = connector.Result{ID: r.id, Err: connector.Permanent("", fmt.Errorf("update %s %s: %w", t.entity, r.id, connector.ErrNotFound))}
				continue
			}
			if r.version != "" {
				want, err := parseTimeText(r.version)
				if err != nil {
					b.results[r.i] = connector.Result{ID: r.id, Err: connector.Permanent("", fmt.Errorf("update %s %s: bad version %q", t.entity, r.id, r.version))}
					continue
				}
				if got, err := parseTime(raw); err != nil || !got.Equal(want) {
					b.results[r.i] = connector.Result{ID: r.id, Err: fmt.Errorf("update %s %s: %w", t.entity, r.id, connector.ErrConflict)}
					continue
				}
			}
		}
		ids[r.id] = true
		live = append(live, r)
	}

	if err := b.inserts(ctx, inserts); err != nil {
		return false, err
	}
	maxRows := maxUpdateRows
	if c.d.updateJoin {
		maxRows = chunkSize
	}
	for _, chunk := range rowChunks(live, maxRows, func(r *batchRow) int { return 2*len(r.sets) + 2 }) {
		if err := b.bisect(ctx, chunk, b.update, b.single); err != nil {
			return false, err
		}
	}
	for _, i := range tail {
		res, err := c.oneRow(ctx, b.tx, b.op, i, func(attempt int) connector.Result { return c.applyOp(ctx, b.tx, t, b.ops[i], attempt) })
		if err != nil {
			return false, err
		}
		b.results[i] = res
	}
	return true, nil
}

// keysOf returns the key of each row.
func keysOf(rows []*batchRow, key func(*batchRow) string) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = key(r)
	}
	return out
}

// ids reads the rows whose column col holds one of keys: for the link column
// it maps link key to id, for the id column id to updated_at. It reports false
// when a row reads back with a key that was not asked for (a number column
// given "007"), since its op cannot be told.
func (b *batch) ids(ctx context.Context, col string, keys []string, locking bool) (map[string]any, bool, error) {
	c, t := b.c, b.t
	out := map[string]any{}
	for _, chunk := range chunks(keys) {
		asked := make(map[string]bool, len(chunk))
		for _, k := range chunk {
			asked[k] = true
		}
		a := &args{d: c.d}
		second := c.d.asText(t.id)
		if col == t.id {
			second = c.d.ident(t.updatedAt)
		}
		q := "SELECT " + c.d.asText(col) + ", " + second + " FROM " + c.d.ident(t.name...) + " WHERE " + c.d.ident(col) + " IN (" + a.list(chunk) + ")"
		if locking {
			q += c.d.forUpdate
		}
		rows, err := b.tx.QueryContext(ctx, q, a.vals...)
		if err != nil {
			return nil, false, fmt.Errorf("%s: read %d rows of %s: %w", b.op, len(chunk), t.entity, err)
		}
		unmatched := false
		for rows.Next() {
			var key string
			var val any
			if err := rows.Scan(&key, &val); err != nil {
				_ = rows.Close()
				return nil, false, fmt.Errorf("%s: read rows of %s: %w", b.op, t.entity, err)
			}
			if !asked[key] {
				unmatched = true
				continue
			}
			if _, dup := out[key]; !dup {
				if bs, ok := val.([]byte); ok {
					val = string(bs)
				}
				out[key] = val
			}
		}
		err = rows.Close()
		if err == nil {
			err = rows.Err()
		}
		if err != nil {
			return nil, false, fmt.Errorf("%s: read rows of %s: %w", b.op, t.entity, err)
		}
		if unmatched {
			return nil, false, nil
		}
	}
	return out, true, nil
}

// inserts writes the new rows with multi-row INSERTs, one group per column
// list.
func (b *batch) inserts(ctx context.Context, rows []*batchRow) error {
	c, t := b.c, b.t
	groups := map[string][]*batchRow{}
	var order []string
	for _, r := range rows {
		r.now = c.now()
		switch t.idKind {
		case IDUUID:
			r.id = uuid.NewString()
			r.sets = append(r.sets, assignment{t.id, r.id})
		case IDLink:
			r.id = r.op.LinkKey
			r.sets = append(r.sets, assignment{t.id, r.id})
		}
		if t.link != t.id {
			var err error
			if r.sets, err = assign(r.sets, "", t.link, r.op.LinkKey); err != nil {
				b.results[r.i] = connector.Result{Err: err}
				continue
			}
		}
		r.sets = append(r.sets, assignment{t.updatedAt, c.d.encodeTime(r.now)})
		var sig strings.Builder
		for _, s := range r.sets {
			sig.WriteString(s.col)
			sig.WriteByte(0)
		}
		k := sig.String()
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], r)
	}
	for _, k := range order {
		for _, chunk := range rowChunks(groups[k], chunkSize, func(r *batchRow) int { return len(r.sets) }) {
			if err := b.bisect(ctx, chunk, b.insert, b.single); err != nil {
				return err
			}
		}
	}
	return nil
}

// rowChunks splits rows into runs of at most max rows and maxBatchParams bind
// values.
func rowChunks(rows []*batchRow, max int, params func(*batchRow) int) [][]*batchRow {
	var out [][]*batchRow
	start, n := 0, 0
	for i, r := range rows {
		p := params(r)
		if i > start && (i-start >= max || n+p > maxBatchParams) {
			out = append(out, rows[start:i])
			start, n = i, 0
		}
		n += p
	}
	if start < len(rows) {
		out = append(out, rows[start:])
	}
	return out
}

// bisect runs write on rows inside a savepoint. When the database refuses the
// statement it is rolled back and each half is tried again; a row alone goes
// to single. The error is a whole-call failure (a deadlock, a lost
// connection). Where a refused statement is undone alone (stmtRollback) there
// is no savepoint: a refusal is bisected the same way, and any other failure
// returns errRedo, since the statement may have changed rows.
func (b *batch) bisect(ctx context.Context, rows []*batchRow, write func(context.Context, []*batchRow) error, single func(context.Context, *batchRow) error) error {
	if len(rows) == 0 {
		return nil
	}
	if len(rows) == 1 {
		return single(ctx, rows[0])
	}
	guard := !b.c.d.stmtRollback
	if guard {
		if _, err := b.tx.ExecContext(ctx, "SAVEPOINT "+batchSavepoint); err != nil {
			return fmt.Errorf("%s: savepoint: %w", b.op, err)
		}
	}
	err := write(ctx, rows)
	if err == nil {
		if guard {
			if _, err := b.tx.ExecContext(ctx, "RELEASE SAVEPOINT "+batchSavepoint); err != nil {
				return fmt.Errorf("%s: release savepoint: %w", b.op, err)
			}
		}
		for _, r := range rows {
			b.results[r.i] = connector.Result{ID: r.id, UpdatedAt: r.now, Version: r.now.Format(time.RFC3339Nano)}
		}
		return nil
	}
	if isTxAbort(err) || ctx.Err() != nil {
		return fmt.Errorf("%s: %w", b.op, err)
	}
	if guard {
		if _, rerr := b.tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT "+batchSavepoint); rerr != nil {
			return fmt.Errorf("%s: rollback batch: %w (batch error: %w)", b.op, rerr, err)
		}
		if _, rerr := b.tx.ExecContext(ctx, "RELEASE SAVEPOINT "+batchSavepoint); rerr != nil {
			return fmt.Errorf("%s: release savepoint: %w", b.op, rerr)
		}
	} else if ok, _ := refusal(err); !ok {
		b.c.log.DebugContext(ctx, "sql batch failed, redoing row by row", slog.String("op", b.op), slog.Int("rows", len(rows)), slog.String("error", err.Error()))
		return errRedo
	}
	b.c.log.DebugContext(ctx, "sql batch refused, splitting", slog.String("op", b.op), slog.Int("rows", len(rows)), slog.String("error", err.Error()))
	half := len(rows) / 2
	if err := b.bisect(ctx, rows[:half], write, single); err != nil {
		return err
	}
	return b.bisect(ctx, rows[half:], write, single)
}

// single writes one row of the batch on its own, exactly as a Write of that
// op alone would; a create found by its link key updates the row found.
func (b *batch) single(ctx context.Context, r *batchRow) error {
	res, err := b.c.oneRow(ctx, b.tx, b.op, r.i, func(attempt int) connector.Result {
		if r.found {
			return b.c.update(ctx, b.tx, b.t, r.id, "", r.op.Fields)
		}
		return b.c.applyOp(ctx, b.tx, b.t, r.op, attempt)
	})
	if err != nil {
		return err
	}
	b.results[r.i] = res
	return nil
}

// insert writes rows, which share their column list, with one INSERT and sets
// each row's id: known (uuid, link), RETURNING with the link key, or read back
// by link key (MySQL).
func (b *batch) insert(ctx context.Context, rows []*batchRow) error {
	c, t := b.c, b.t
	a := &args{d: c.d}
	var q strings.Builder
	q.WriteString("INSERT INTO " + c.d.ident(t.name...) + " (")
	for i, s := range rows[0].sets {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString(c.d.ident(s.col))
	}
	q.WriteString(") VALUES ")
	for i, r := range rows {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteByte('(')
		for j, s := range r.sets {
			if j > 0 {
				q.WriteString(", ")
			}
			q.WriteString(a.add(s.val))
		}
		q.WriteByte(')')
	}
	if t.idKind != IDAuto {
		_, err := b.tx.ExecContext(ctx, q.String(), a.vals...)
		return err
	}
	byLink := make(map[string]*batchRow, len(rows))
	for _, r := range rows {
		r.id = "" // an earlier, refused attempt may have set it
		byLink[r.op.LinkKey] = r
	}
	if c.d.returning {
		q.WriteString(" RETURNING " + c.d.asText(t.link) + ", " + c.d.asText(t.id))
		res, err := b.tx.QueryContext(ctx, q.String(), a.vals...)
		if err != nil {
			return err
		}
		for res.Next() {
			var link, id sql.NullString
			if err := res.Scan(&link, &id); err != nil {
				_ = res.Close()
				return err
			}
			r, ok := byLink[link.String]
			if !ok || !id.Valid || r.id != "" {
				_ = res.Close()
				return errUnresolved
			}
			r.id = id.String
		}
		if err := res.Close(); err != nil {
			return err
		}
		if err := res.Err(); err != nil {
			return err
		}
	} else {
		if _, err := b.tx.ExecContext(ctx, q.String(), a.vals...); err != nil {
			return err
		}
		found, ok, err := b.ids(ctx, t.link, keysOf(rows, func(r *batchRow) string { return r.op.LinkKey }), false)
		if err != nil {
			return err
		}
		if !ok {
			return errUnresolved
		}
		for link, id := range found {
			byLink[link].id, _ = id.(string)
		}
	}
	for _, r := range rows {
		if r.id == "" {
			return errUnresolved
		}
	}
	return nil
}

// update writes rows with one UPDATE: each column is set by a CASE over the
// rows that give it, and kept by the others (updateJoin: joined to the rows'
// values, see updateJoin).
func (b *batch) update(ctx context.Context, rows []*batchRow) error {
	c, t := b.c, b.t
	var cols []string
	seen := map[string]int{}
	sets := make([][]assignment, len(rows))
	for i, r := range rows {
		r.now = c.now()
		sets[i] = append(slices.Clip(r.sets), assignment{t.updatedAt, c.d.encodeTime(r.now)})
		for _, s := range sets[i] {
			if seen[s.col] == 0 {
				cols = append(cols, s.col)
			}
			seen[s.col]++
		}
	}
	var q strings.Builder
	var a *args
	if c.d.updateJoin {
		q, a = b.updateJoin(rows, cols, sets, seen)
	} else {
		q, a = b.updateCase(rows, cols, sets)
	}
	res, err := b.tx.ExecContext(ctx, q.String(), a.vals...)
	if err != nil {
		return err
	}
	// Every row gets a new updated_at, so MySQL's changed rows are the rows
	// matched too; fewer means a row went away, which the rows alone tell.
	if n, err := res.RowsAffected(); err == nil && n != int64(len(rows)) {
		return fmt.Errorf("update %s: %d of %d rows matched", t.entity, n, len(rows))
	}
	return nil
}

// updateJoin is the UPDATE of rows as a join of the table to a derived table
// holding one row of values per row to update:
//
//	UPDATE t JOIN (SELECT ? AS k, ? AS c1, ? AS g1 UNION ALL SELECT ?, ?, ? ...) v
//	ON t.id = v.k SET t.c1 = CASE WHEN v.g1 = 1 THEN v.c1 ELSE t.c1 END, ...
//
// A column every row gives is set plainly; one only some rows give carries a
// flag column (g1) saying which, and is kept by the others. given counts the
// rows giving each column.
func (b *batch) updateJoin(rows []*batchRow, cols []string, sets [][]assignment, given map[string]int) (strings.Builder, *args) {
	c, t := b.c, b.t
	a := &args{d: c.d}
	var q strings.Builder
	q.WriteString("UPDATE " + c.d.ident(t.name...) + " AS t JOIN (")
	for i, r := range rows {
		if i > 0 {
			q.WriteString(" UNION ALL ")
		}
		q.WriteString("SELECT " + a.add(r.id))
		if i == 0 {
			q.WriteString(" AS k")
		}
		for j, col := range cols {
			var val any
			found := false
			for _, s := range sets[i] {
				if s.col == col {
					val, found = s.val, true
					break
				}
			}
			q.WriteString(", " + a.add(val))
			if i == 0 {
				q.WriteString(" AS v" + strconv.Itoa(j))
			}
			if given[col] < len(rows) {
				q.WriteString(", " + a.add(c.d.encodeBool(found)))
				if i == 0 {
					q.WriteString(" AS g" + strconv.Itoa(j))
				}
			}
		}
	}
	q.WriteString(") AS v ON t." + c.d.ident(t.id) + " = v.k SET ")
	for j, col := range cols {
		if j > 0 {
			q.WriteString(", ")
		}
		dst, v := "t."+c.d.ident(col), "v.v"+strconv.Itoa(j)
		if given[col] < len(rows) {
			v = "CASE WHEN v.g" + strconv.Itoa(j) + " = 1 THEN " + v + " ELSE " + dst + " END"
		}
		q.WriteString(dst + " = " + v)
	}
	return q, a
}

// updateCase is the UPDATE of rows with a CASE per column over the rows that
// give it; the others keep it.
func (b *batch) updateCase(rows []*batchRow, cols []string, sets [][]assignment) (strings.Builder, *args) {
	c, t := b.c, b.t
	a := &args{d: c.d}
	idCol := c.d.ident(t.id)
	var q strings.Builder
	q.WriteString("UPDATE " + c.d.ident(t.name...) + " SET ")
	for i, col := range cols {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString(c.d.ident(col) + " = CASE")
		for i, r := range rows {
			for _, s := range sets[i] {
				if s.col == col {
					q.WriteString(" WHEN " + idCol + " = " + a.add(r.id) + " THEN " + a.add(s.val))
					break
				}
			}
		}
		q.WriteString(" ELSE " + c.d.ident(col) + " END")
	}
	q.WriteString(" WHERE " + idCol + " IN (")
	for i, r := range rows {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString(a.add(r.id))
	}
	q.WriteByte(')')
	return q, a
}
