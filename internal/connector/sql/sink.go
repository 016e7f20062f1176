package sqlconn

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"log/slog"

	"github.com/google/uuid"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/model"
)

// savepoint is the name of the per-row savepoint; it is released after each row.
const savepoint = "concord_row"

// retryError asks the write loop to roll the row back and apply it once more: a
// create lost a race on the link key, and the retry finds the row to update.
type retryError struct{ err error }

func (e *retryError) Error() string { return "retry row: " + e.err.Error() }
func (e *retryError) Unwrap() error { return e.err }

// perRow runs n row functions in one transaction, each inside a savepoint, so a
// row the database refuses is rolled back alone and the others commit. The
// returned error is a whole-call failure.
func (c *Conn) perRow(ctx context.Context, op string, n int, row func(tx *sql.Tx, i int, attempt int) connector.Result) ([]connector.Result, error) {
	return c.retryTx(ctx, op, func() ([]connector.Result, error) { return c.perRowTx(ctx, op, n, row) })
}

// retryTx runs one transaction attempt and repeats it, up to txAttempts times,
// when the database aborted it to break a deadlock.
func (c *Conn) retryTx(ctx context.Context, op string, attempt func() ([]connector.Result, error)) ([]connector.Result, error) {
	var err error
	for try := range txAttempts {
		var results []connector.Result
		results, err = attempt()
		if err == nil || !isTxAbort(err) {
			return results, err
		}
		c.log.DebugContext(ctx, "sql transaction aborted, retrying", slog.String("op", op), slog.Int("try", try+1))
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%s: %w", op, ctx.Err())
		case <-time.After(time.Duration(try+1) * 20 * time.Millisecond):
		}
	}
	return nil, err
}

// txAttempts is how often a batch is tried when the database aborts it to
// resolve a deadlock.
const txAttempts = 5

func (c *Conn) perRowTx(ctx context.Context, op string, n int, row func(tx *sql.Tx, i int, attempt int) connector.Result) ([]connector.Result, error) {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: begin: %w", op, err)
	}
	defer func() { _ = tx.Rollback() }()
	results := make([]connector.Result, n)
	for i := range n {
		res, err := c.oneRow(ctx, tx, op, i, func(attempt int) connector.Result { return row(tx, i, attempt) })
		if err != nil {
			return nil, err
		}
		results[i] = res
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("%s: commit: %w", op, err)
	}
	return results, nil
}

// oneRow applies one row inside the savepoint: a refused row is rolled back
// alone, and a row asking for a retry (a create that lost a race on the link
// key) is applied once more. The error is a whole-call failure.
func (c *Conn) oneRow(ctx context.Context, tx *sql.Tx, op string, i int, row func(attempt int) connector.Result) (connector.Result, error) {
	for attempt := 0; ; attempt++ {
		if _, err := tx.ExecContext(ctx, "SAVEPOINT "+savepoint); err != nil {
			return connector.Result{}, fmt.Errorf("%s: savepoint: %w", op, err)
		}
		res := row(attempt)
		if res.Err != nil {
			if _, err := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT "+savepoint); err != nil {
				return connector.Result{}, fmt.Errorf("%s: rollback row %d: %w (row error: %w)", op, i, err, res.Err)
			}
		}
		if _, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT "+savepoint); err != nil {
			return connector.Result{}, fmt.Errorf("%s: release savepoint: %w", op, err)
		}
		var retry *retryError
		if errors.As(res.Err, &retry) {
			if attempt == 0 {
				continue
			}
			res.Err = retry.err
		}
		return res, nil
	}
}

// Write implements connector.Connector. The batch runs in one transaction;
// entities without lines fields are written with multi-row statements (see
// batchTx), the others with a savepoint per op. Either way a row the database
// refuses (constraint, bad value) gets a permanent per-record error naming the
// field when the database names the column, and the other rows commit. A create whose link key is already stored updates
// that row instead, so a retried create never duplicates. Every write sets
// updated_at. A non-empty Op.Version is compared with the row's updated_at and a
// mismatch is refused with connector.ErrConflict. An unmapped entity fails every
// op with a permanent error wrapping connector.ErrUnsupported.
func (c *Conn) Write(ctx context.Context, entity model.Entity, ops []connector.Op) ([]connector.Result, error) {
	t, err := c.table("write", entity)
	if err != nil {
		results := make([]connector.Result, len(ops))
		for i := range results {
			results[i].Err = connector.Permanent("", err)
		}
		return results, nil
	}
	op := "write " + string(entity)
	if len(ops) > 1 && len(t.children) == 0 {
		return c.retryTx(ctx, op, func() ([]connector.Result, error) { return c.batchTx(ctx, op, t, ops) })
	}
	return c.perRow(ctx, op, len(ops), func(tx *sql.Tx, i int, attempt int) connector.Result {
		return c.applyOp(ctx, tx, t, ops[i], attempt)
	})
}

// applyOp writes one op on its own, the way a row is written when it is not
// part of a batch statement.
func (c *Conn) applyOp(ctx context.Context, tx *sql.Tx, t *table, op connector.Op, attempt int) connector.Result {
	switch op.Kind {
	case connector.OpCreate:
		return c.create(ctx, tx, t, op, attempt > 0)
	case connector.OpUpdate:
		return c.update(ctx, tx, t, op.ID, op.Version, op.Fields)
	}
	return connector.Result{Err: connector.Permanent("", fmt.Errorf("unknown op kind %q: %w", op.Kind, connector.ErrUnsupported))}
}

// assignment is one column and its bind value.
type assignment struct {
	col string
	val any
}

// encodeFields converts op fields to column assignments of t's table and the
// rows of its lines fields; unmapped fields and bad values are permanent errors
// naming the field (lines[i].field inside lines).
func (c *Conn) encodeFields(t *table, fields model.Fields) ([]assignment, []linesWrite, error) {
	out := make([]assignment, 0, len(fields)+1)
	var lines []linesWrite
	for _, name := range fields.Names() {
		col, ok := t.byName[name]
		if !ok {
			return nil, nil, connector.Permanent(name, fmt.Errorf("field not mapped for %s", t.entity))
		}
		if col.lines != nil {
			lw, err := c.encodeLines(col, fields[name])
			if err != nil {
				return nil, nil, err
			}
			lines = append(lines, lw)
			continue
		}
		val, cur, err := c.d.encodeValue(t.entity, col, fields[name])
		if err != nil {
			return nil, nil, err
		}
		if out, err = assign(out, name, col.col, val); err != nil {
			return nil, nil, err
		}
		if col.currencyColumn != "" && val != nil {
			if out, err = assign(out, name, col.currencyColumn, cur); err != nil {
				return nil, nil, err
			}
		}
	}
	return out, lines, nil
}

// assign appends col = val to sets. A column two fields share (an order's
// currency column, also the currency column of its total) is written once; two
// different values for it are a permanent error naming field.
func assign(sets []assignment, field, col string, val any) ([]assignment, error) {
	for _, s := range sets {
		if strings.EqualFold(s.col, col) {
			if s.val != val {
				return sets, connector.Permanent(field, fmt.Errorf("column %s is given both %v and %v", col, s.val, val))
			}
			return sets, nil
		}
	}
	return append(sets, assignment{col, val}), nil
}

// findByLink returns the id of the row holding linkKey; "" when none. A locking
// read sees rows committed after the transaction's snapshot (MySQL's repeatable
// read), but locks gaps, so it is only used on the retry after a unique
// violation.
func (c *Conn) findByLink(ctx context.Context, tx *sql.Tx, t *table, linkKey string, locking bool) (string, error) {
	a := &args{d: c.d}
	q := "SELECT " + c.d.asText(t.id) + " FROM " + c.d.ident(t.name...) + " WHERE " + c.d.ident(t.link) + " = " + a.add(linkKey)
	if locking {
		q += c.d.forUpdate
	}
	var id string
	err := tx.QueryRowContext(ctx, q, a.vals...).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("find %s by link: %w", t.entity, err)
	}
	return id, nil
}

func (c *Conn) create(ctx context.Context, tx *sql.Tx, t *table, op connector.Op, retry bool) connector.Result {
	if t.idKind == IDLink && op.LinkKey == "" {
		return connector.Result{Err: connector.Permanent("", fmt.Errorf("create %s: id_kind link needs a link key", t.entity))}
	}
	sets, lines, err := c.encodeFields(t, op.Fields)
	if err != nil {
		return connector.Result{Err: err}
	}
	if op.LinkKey != "" && t.link != "" {
		id, err := c.findByLink(ctx, tx, t, op.LinkKey, retry)
		if err != nil {
			return connector.Result{Err: err}
		}
		if id != "" {
			return c.update(ctx, tx, t, id, "", op.Fields)
		}
	}
	now := c.now()
	var id string
	switch t.idKind {
	case IDUUID:
		id = uuid.NewString()
		sets = append(sets, assignment{t.id, id})
	case IDLink:
		id = op.LinkKey
		sets = append(sets, assignment{t.id, id})
	}
	if op.LinkKey != "" && t.link != "" && t.link != t.id {
		// A field may map to the link column too (an order's reference holding
		// the CRM deal id): it is written once, and must agree.
		if sets, err = assign(sets, "", t.link, op.LinkKey); err != nil {
			return connector.Result{Err: err}
		}
	}
	sets = append(sets, assignment{t.updatedAt, c.d.encodeTime(now)})

	a := &args{d: c.d}
	cols := make([]string, len(sets))
	phs := make([]string, len(sets))
	for i, s := range sets {
		cols[i] = c.d.ident(s.col)
		phs[i] = a.add(s.val)
	}
	q := "INSERT INTO " + c.d.ident(t.name...) + " (" + strings.Join(cols, ", ") + ") VALUES (" + strings.Join(phs, ", ") + ")"
	switch {
	case id != "":
		_, err = tx.ExecContext(ctx, q, a.vals...)
	case c.d.returning:
		err = tx.QueryRowContext(ctx, q+" RETURNING "+c.d.asText(t.id), a.vals...).Scan(&id)
	default:
		var res sql.Result
		if res, err = tx.ExecContext(ctx, q, a.vals...); err == nil {
			var n int64
			if n, err = res.LastInsertId(); err == nil {
				id = fmt.Sprint(n)
			}
		}
	}
	if err != nil && t.idKind == IDAuto && keyNotFilled(err, t.id) {
		return connector.Result{Err: connector.Permanent("", fmt.Errorf("insert %s: the database does not fill the key column %s, and id_kind is auto (the default): set id_kind: uuid or link for %s (concord doctor checks this): %w", t.entity, t.id, t.entity, err))}
	}
	if err != nil {
		if isUnique(err) && op.LinkKey != "" && t.link != "" {
			// A concurrent create stored the same link key first: roll back and
			// update that row instead.
			return connector.Result{Err: &retryError{err: fmt.Errorf("insert %s: %w", t.entity, t.classify(err))}}
		}
		return connector.Result{Err: fmt.Errorf("insert %s: %w", t.entity, t.classify(err))}
	}
	for _, lw := range lines {
		if err := c.writeLines(ctx, tx, t, id, lw, false); err != nil {
			return connector.Result{Err: err}
		}
	}
	if err := c.touch(ctx, tx, t, id, now, lines); err != nil {
		return connector.Result{Err: err}
	}
	return connector.Result{ID: id, UpdatedAt: now, Version: now.Format(time.RFC3339Nano)}
}

func (c *Conn) update(ctx context.Context, tx *sql.Tx, t *table, id, version string, fields model.Fields) connector.Result {
	sets, lines, err := c.encodeFields(t, fields)
	if err != nil {
		return connector.Result{ID: id, Err: err}
	}
	table, idCol := c.d.ident(t.name...), c.d.ident(t.id)
	if version != "" {
		want, err := parseTimeText(version)
		if err != nil {
			return connector.Result{ID: id, Err: connector.Permanent("", fmt.Errorf("update %s %s: bad version %q", t.entity, id, version))}
		}
		a := &args{d: c.d}
		var raw any
		err = tx.QueryRowContext(ctx, "SELECT "+c.d.ident(t.updatedAt)+" FROM "+table+" WHERE "+idCol+" = "+a.add(id)+c.d.forUpdate, a.vals...).Scan(&raw)
		if errors.Is(err, sql.ErrNoRows) {
			return connector.Result{ID: id, Err: connector.Permanent("", fmt.Errorf("update %s %s: %w", t.entity, id, connector.ErrNotFound))}
		}
		if err != nil {
			return connector.Result{ID: id, Err: fmt.Errorf("update %s %s: read version: %w", t.entity, id, err)}
		}
		got, err := parseTime(raw)
		if err != nil || !got.Equal(want) {
			return connector.Result{ID: id, Err: fmt.Errorf("update %s %s: %w", t.entity, id, connector.ErrConflict)}
		}
	}
	now := c.now()
	sets = append(sets, assignment{t.updatedAt, c.d.encodeTime(now)})
	a := &args{d: c.d}
	parts := make([]string, len(sets))
	for i, s := range sets {
		parts[i] = c.d.ident(s.col) + " = " + a.add(s.val)
	}
	q := "UPDATE " + table + " SET " + strings.Join(parts, ", ") + " WHERE " + idCol + " = " + a.add(id)
	res, err := tx.ExecContext(ctx, q, a.vals...)
	if err != nil {
		return connector.Result{ID: id, Err: fmt.Errorf("update %s %s: %w", t.entity, id, t.classify(err))}
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		// MySQL counts changed rows only; make sure the row is really absent.
		found, err := c.getBy(ctx, tx, t, t.id, []string{id}, false)
		if err != nil {
			return connector.Result{ID: id, Err: err}
		}
		if len(found) == 0 {
			return connector.Result{ID: id, Err: connector.Permanent("", fmt.Errorf("update %s %s: %w", t.entity, id, connector.ErrNotFound))}
		}
	}
	// Lines given are replaced; lines not given are left alone. The parent's
	// updated_at, set above, tells change detection that its lines changed.
	for _, lw := range lines {
		if err := c.writeLines(ctx, tx, t, id, lw, true); err != nil {
			return connector.Result{ID: id, Err: err}
		}
	}
	if err := c.touch(ctx, tx, t, id, now, lines); err != nil {
		return connector.Result{ID: id, Err: err}
	}
	return connector.Result{ID: id, UpdatedAt: now, Version: now.Format(time.RFC3339Nano)}
}

// touch sets the parent's updated_at to now once more after its lines were
// written: a trigger on the child table that bumps the parent (the way other
// programs' line changes become visible, see docs/connectors/sql.md) has just
// overwritten it, and the version this write returns must be the row's.
func (c *Conn) touch(ctx context.Context, tx *sql.Tx, t *table, id string, now time.Time, lines []linesWrite) error {
	if len(lines) == 0 {
		return nil
	}
	a := &args{d: c.d}
	q := "UPDATE " + c.d.ident(t.name...) + " SET " + c.d.ident(t.updatedAt) + " = " + a.add(c.d.encodeTime(now)) + " WHERE " + c.d.ident(t.id) + " = " + a.add(id)
	if _, err := tx.ExecContext(ctx, q, a.vals...); err != nil {
		return fmt.Errorf("touch %s %s: %w", t.entity, id, t.classify(err))
	}
	return nil
}

// Archive implements connector.Archiver: it sets the entity's archived column to
// true and bumps updated_at. Entities without an archived column are
// unsupported; unknown ids get a permanent error wrapping connector.ErrNotFound.
func (c *Conn) Archive(ctx context.Context, entity model.Entity, ids []string) ([]connector.Result, error) {
	t, err := c.table("archive", entity)
	if err != nil {
		return nil, err
	}
	if t.archived == "" {
		return nil, fmt.Errorf("archive %s: no archived column: %w", entity, connector.ErrUnsupported)
	}
	return c.perRow(ctx, "archive "+string(entity), len(ids), func(tx *sql.Tx, i int, _ int) connector.Result {
		now := c.now()
		a := &args{d: c.d}
		q := "UPDATE " + c.d.ident(t.name...) + " SET " + c.d.ident(t.archived) + " = " + a.add(c.d.encodeBool(true)) +
			", " + c.d.ident(t.updatedAt) + " = " + a.add(c.d.encodeTime(now)) + " WHERE " + c.d.ident(t.id) + " = " + a.add(ids[i])
		res, err := tx.ExecContext(ctx, q, a.vals...)
		if err != nil {
			return connector.Result{ID: ids[i], Err: fmt.Errorf("archive %s %s: %w", entity, ids[i], t.classify(err))}
		}
		if n, err := res.RowsAffected(); err == nil && n == 0 {
			return connector.Result{ID: ids[i], Err: connector.Permanent("", fmt.Errorf("archive %s %s: %w", entity, ids[i], connector.ErrNotFound))}
		}
		return connector.Result{ID: ids[i], UpdatedAt: now, Version: now.Format(time.RFC3339Nano)}
	})
}

// keyNotFilled reports whether an insert failed because the key column got no
// value: the database does not generate it (a text key). SQLite even stores a
// NULL text key, which then reads back as NULL.
func keyNotFilled(err error, id string) bool {
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "converting null") ||
		strings.Contains(msg, strings.ToLower(id)) && (strings.Contains(msg, "null") || strings.Contains(msg, "default value"))
}
