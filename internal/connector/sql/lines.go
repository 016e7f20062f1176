package sqlconn

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/model"
)

// linesSelect returns the query head reading child rows of lt: parent id and
// line id as text, then the mapped columns (numbers as text), in lt.scalars
// order.
func (c *Conn) linesSelect(lt *table) string {
	d := c.d
	cols := []string{d.asText(lt.parent), d.asText(lt.id)}
	cols = c.scalarCols(cols, lt)
	return "SELECT " + strings.Join(cols, ", ") + " FROM " + d.ident(lt.name...)
}

// linesOrder orders child rows by position (rows without one last, the same on
// every database), then by line id. The columns are qualified with the table,
// so that PostgreSQL sorts by them and not by the select list's text casts,
// which take their names ("10" before "2").
func (c *Conn) linesOrder(lt *table) string {
	id := c.d.ident(append(slices.Clone(lt.name), lt.id)...)
	if lt.position == "" {
		return " ORDER BY " + id
	}
	p := c.d.ident(append(slices.Clone(lt.name), lt.position)...)
	return " ORDER BY CASE WHEN " + p + " IS NULL THEN 1 ELSE 0 END, " + p + ", " + id
}

// attachLines sets every lines field of t (those in want, or all when want is
// nil) on recs, reading each child table with one IN query per chunk of parent
// ids, never one per parent. A parent without lines gets an empty lines value.
// recs share their Fields maps with the caller, which sees the result.
func (c *Conn) attachLines(ctx context.Context, q queryer, t *table, recs []model.Record, want []string) error {
	if len(recs) == 0 {
		return nil
	}
	for _, lc := range t.children {
		if want != nil && !slices.Contains(want, lc.field) {
			continue
		}
		ids := make([]string, len(recs))
		for i, r := range recs {
			ids[i] = r.ID
		}
		byParent := make(map[string][]model.Record, len(recs))
		for _, chunk := range chunks(ids) {
			a := &args{d: c.d}
			query := c.linesSelect(lc.lines) + " WHERE " + c.d.ident(lc.lines.parent) + " IN (" + a.list(chunk) + ")" + c.linesOrder(lc.lines)
			rows, err := q.QueryContext(ctx, query, a.vals...)
			if err != nil {
				return fmt.Errorf("read %s %s: %w", t.entity, lc.field, err)
			}
			if err := c.scanLines(lc, rows, byParent); err != nil {
				return fmt.Errorf("read %s %s: %w", t.entity, lc.field, err)
			}
		}
		for _, r := range recs {
			r.Fields[lc.field] = model.Lines(byParent[r.ID])
		}
	}
	return nil
}

// scanLines appends every child row of rows to byParent, in row order.
func (c *Conn) scanLines(lc *column, rows *sql.Rows, byParent map[string][]model.Record) error {
	defer rows.Close()
	lt := lc.lines
	n := 2 + len(lt.scalars)
	for _, f := range lt.scalars {
		if f.currencyColumn != "" {
			n++
		}
	}
	vals := make([]any, n)
	ptrs := make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		clear(vals)
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("scan: %w", err)
		}
		parent, err := asString(vals[0])
		if err != nil {
			return fmt.Errorf("parent id: %w", err)
		}
		id, err := asString(vals[1])
		if err != nil {
			return fmt.Errorf("line id: %w", err)
		}
		line := model.Record{Entity: lt.entity, ID: id, Fields: make(model.Fields, len(lt.scalars))}
		i := 2
		for _, f := range lt.scalars {
			raw := vals[i]
			i++
			var cur any
			if f.currencyColumn != "" {
				cur = vals[i]
				i++
			}
			v, err := decodeValue(f, raw, cur)
			if err != nil {
				return fmt.Errorf("line %s field %s: %w", id, f.field, err)
			}
			line.Fields[f.field] = v
		}
		byParent[parent] = append(byParent[parent], line)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("rows: %w", err)
	}
	return nil
}

// linesWrite is the encoded content of one lines field of an op: the column
// assignments of each line, in line order.
type linesWrite struct {
	col  *column
	rows [][]assignment
}

// linePath names field of line i of the lines field lc, as in lines[2].product;
// "lines[2]" when field is empty.
func linePath(lc *column, i int, field string) string {
	p := lc.field + "[" + strconv.Itoa(i) + "]"
	if field != "" {
		p += "." + field
	}
	return p
}

// encodeLines converts a lines value to child-row assignments. Null and an empty
// list both mean no lines. Unmapped line fields and bad values are permanent
// errors naming lines[i].field.
func (c *Conn) encodeLines(lc *column, v model.Value) (linesWrite, error) {
	out := linesWrite{col: lc}
	if v.IsNull() {
		return out, nil
	}
	if v.Kind != model.KindLines {
		return out, connector.Permanent(lc.field, fmt.Errorf("want lines, got %s", v.Kind))
	}
	lt := lc.lines
	out.rows = make([][]assignment, len(v.Lines))
	for i, line := range v.Lines {
		sets := make([]assignment, 0, len(line.Fields)+2)
		for _, name := range line.Fields.Names() {
			col, ok := lt.byName[name]
			if !ok {
				return out, connector.Permanent(linePath(lc, i, name), fmt.Errorf("field not mapped for %s", lt.entity))
			}
			val, cur, err := c.d.encodeValue(lt.entity, col, line.Fields[name])
			if err != nil {
				var perr *connector.PermanentError
				if errors.As(err, &perr) {
					return out, connector.Permanent(linePath(lc, i, name), perr.Err)
				}
				return out, err
			}
			if sets, err = assign(sets, linePath(lc, i, name), col.col, val); err != nil {
				return out, err
			}
			if col.currencyColumn != "" && val != nil {
				if sets, err = assign(sets, linePath(lc, i, name), col.currencyColumn, cur); err != nil {
					return out, err
				}
			}
		}
		if lt.position != "" {
			sets = append(sets, assignment{lt.position, i + 1})
		}
		if lt.idKind == IDUUID {
			sets = append(sets, assignment{lt.id, uuid.NewString()})
		}
		out.rows[i] = sets
	}
	return out, nil
}

// writeLines stores the lines of parentID: when replace is true the parent's
// existing lines are deleted first. It runs inside the row's savepoint, so a
// refused line leaves nothing behind; the refusal is a permanent error naming
// lines[i].field when the database names the column (or, on SQLite, when a
// foreign key of a mapped column points at nothing).
func (c *Conn) writeLines(ctx context.Context, tx *sql.Tx, parent *table, parentID string, lw linesWrite, replace bool) error {
	lc, lt := lw.col, lw.col.lines
	table := c.d.ident(lt.name...)
	if replace {
		a := &args{d: c.d}
		if _, err := tx.ExecContext(ctx, "DELETE FROM "+table+" WHERE "+c.d.ident(lt.parent)+" = "+a.add(parentID), a.vals...); err != nil {
			if ok, _ := refusal(err); ok {
				return connector.Permanent(lc.field, fmt.Errorf("delete %s %s %s: %w", parent.entity, parentID, lc.field, err))
			}
			return fmt.Errorf("delete %s %s %s: %w", parent.entity, parentID, lc.field, err)
		}
	}
	for i, sets := range lw.rows {
		a := &args{d: c.d}
		cols := make([]string, 0, len(sets)+1)
		phs := make([]string, 0, len(sets)+1)
		cols = append(cols, c.d.ident(lt.parent))
		phs = append(phs, a.add(parentID))
		for _, s := range sets {
			cols = append(cols, c.d.ident(s.col))
			phs = append(phs, a.add(s.val))
		}
		q := "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES (" + strings.Join(phs, ", ") + ")"
		if _, err := tx.ExecContext(ctx, q, a.vals...); err != nil {
			ok, text := refusal(err)
			if !ok {
				return fmt.Errorf("insert %s %s line %d: %w", parent.entity, parentID, i, err)
			}
			field := lt.fieldIn(text)
			if field == "" && c.d.name == DriverSQLite {
				field = c.sqliteMissingRef(ctx, tx, lt, sets)
			}
			return connector.Permanent(linePath(lc, i, field), fmt.Errorf("insert %s %s line %d: %w", parent.entity, parentID, i, err))
		}
	}
	return nil
}

// sqliteMissingRef finds which mapped column of a refused child row holds a
// foreign key pointing at no row. SQLite's "FOREIGN KEY constraint failed" names
// neither column nor constraint, so the connector asks the schema
// (pragma_foreign_key_list) and probes each single-column key of a mapped
// field. It returns the canonical field, or "" when it cannot tell.
func (c *Conn) sqliteMissingRef(ctx context.Context, tx *sql.Tx, lt *table, sets []assignment) string {
	tableName, schema := lt.name[len(lt.name)-1], "main"
	if len(lt.name) > 1 {
		schema = lt.name[0]
	}
	rows, err := tx.QueryContext(ctx, `SELECT "id", "table", "from", COALESCE("to", '') FROM pragma_foreign_key_list(?, ?)`, tableName, schema)
	if err != nil {
		return ""
	}
	type fk struct{ table, from, to string }
	keys := map[int64][]fk{}
	var order []int64
	for rows.Next() {
		var id int64
		var k fk
		if err := rows.Scan(&id, &k.table, &k.from, &k.to); err != nil {
			_ = rows.Close()
			return ""
		}
		if _, seen := keys[id]; !seen {
			order = append(order, id)
		}
		keys[id] = append(keys[id], k)
	}
	_ = rows.Close()
	for _, id := range order {
		if len(keys[id]) != 1 {
			continue // composite keys: cannot blame one field
		}
		k := keys[id][0]
		var field string
		var val any
		for _, f := range lt.scalars {
			if strings.EqualFold(f.col, k.from) {
				field = f.field
			}
		}
		for _, s := range sets {
			if strings.EqualFold(s.col, k.from) {
				val = s.val
			}
		}
		if field == "" || val == nil {
			continue
		}
		to := k.to
		if to == "" {
			// REFERENCES t without a column: the referenced table's primary key.
			if err := tx.QueryRowContext(ctx, `SELECT "name" FROM pragma_table_info(?, ?) WHERE "pk" = 1`, k.table, schema).Scan(&to); err != nil {
				to = "rowid"
			}
		}
		var one int
		err := tx.QueryRowContext(ctx, "SELECT 1 FROM "+sqliteQuote(schema)+"."+sqliteQuote(k.table)+" WHERE "+sqliteQuote(to)+" = ? LIMIT 1", val).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return field
		}
	}
	return ""
}

// sqliteQuote quotes a name read from SQLite's own schema, doubling quotes.
func sqliteQuote(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}
