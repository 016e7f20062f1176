package sqlconn

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/concord-sync/concord/internal/model"
)

// FieldDigits implements engine.Limiter: the mapped decimal and money fields
// held in numeric(p,s) / decimal(p,s) columns, as the database declares them
// (read once when the connector opens; SQLite declares none). A lines field's
// columns are named "lines.unit_price".
func (c *Conn) FieldDigits(entity model.Entity) map[string]model.Digits {
	return c.digits[entity]
}

// loadDigits reads the precision and scale of the numeric columns the
// mapping writes, from information_schema (PostgreSQL, MySQL/MariaDB). A
// database that does not answer leaves the limits out: the database itself
// still refuses what it cannot hold, at the write.
func (c *Conn) loadDigits(ctx context.Context) {
	if c.cfg.driver == DriverSQLite {
		return
	}
	c.digits = map[model.Entity]map[string]model.Digits{}
	for e, t := range c.cfg.entities {
		out := map[string]model.Digits{}
		if err := c.tableDigits(ctx, t, "", out); err != nil {
			c.log.WarnContext(ctx, "read column digits; the database checks them at the write", "table", t.name, "err", err)
			continue
		}
		for _, f := range t.children {
			if err := c.tableDigits(ctx, f.lines, f.field+".", out); err != nil {
				c.log.WarnContext(ctx, "read column digits; the database checks them at the write", "table", f.lines.name, "err", err)
			}
		}
		if len(out) > 0 {
			c.digits[e] = out
		}
	}
}

// tableDigits adds the digits of t's numeric columns mapped to decimal or
// money fields to out, keyed by prefix + canonical field name.
func (c *Conn) tableDigits(ctx context.Context, t *table, prefix string, out map[string]model.Digits) error {
	byCol := map[string]string{}
	for _, col := range t.scalars {
		if col.typ == model.TypeDecimal || col.typ == model.TypeMoney {
			byCol[col.col] = col.field
		}
	}
	if len(byCol) == 0 {
		return nil
	}
	name, schema := t.name[len(t.name)-1], ""
	if len(t.name) > 1 {
		schema = t.name[0]
	}
	q := `SELECT column_name, numeric_precision, numeric_scale FROM information_schema.columns
WHERE table_name = $1 AND table_schema = COALESCE(NULLIF($2, ''), current_schema()) AND data_type IN ('numeric', 'decimal')`
	if c.cfg.driver == DriverMySQL {
		q = `SELECT column_name, numeric_precision, numeric_scale FROM information_schema.columns
WHERE table_name = ? AND table_schema = COALESCE(NULLIF(?, ''), DATABASE()) AND data_type = 'decimal'`
	}
	rows, err := c.db.QueryContext(ctx, q, name, schema)
	if err != nil {
		return fmt.Errorf("column digits of %s: %w", name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var col string
		var precision, scale sql.NullInt32
		if err := rows.Scan(&col, &precision, &scale); err != nil {
			return fmt.Errorf("column digits of %s: %w", name, err)
		}
		field, ok := byCol[col]
		if !ok || !precision.Valid || !scale.Valid {
			continue // an unconstrained numeric holds any number
		}
		out[prefix+field] = model.Digits{Precision: precision.Int32, Scale: scale.Int32}
	}
	return rows.Err()
}
