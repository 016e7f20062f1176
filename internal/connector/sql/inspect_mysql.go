package sqlconn

import (
	"context"
	"database/sql"
	"strings"

	"github.com/concord-sync/concord/internal/connector"
)

// inspectMySQL reads the catalog of the connection's database (DATABASE())
// from information_schema; MySQL and MariaDB answer the same.
func inspectMySQL(ctx context.Context, db *sql.DB) (connector.Catalog, error) {
	b := newCatalogBuilder()
	const tables = `SELECT table_name, table_rows, COALESCE(table_comment, '') FROM information_schema.tables
WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE'`
	err := each(ctx, db, "tables", tables, func(r *sql.Rows) error {
		var name, label string
		var rows sql.NullInt64
		if err := r.Scan(&name, &rows, &label); err != nil {
			return err
		}
		o := b.table(name)
		o.Label = label
		if rows.Valid {
			o.Rows = rows.Int64
		}
		return nil
	})
	if err != nil {
		return connector.Catalog{}, err
	}
	const columns = `SELECT table_name, column_name, column_type, is_nullable = 'YES', column_default, LOWER(extra), COALESCE(column_comment, '')
FROM information_schema.columns WHERE table_schema = DATABASE() ORDER BY table_name, ordinal_position`
	err = each(ctx, db, "columns", columns, func(r *sql.Rows) error {
		var tbl, extra string
		var def sql.NullString
		var col connector.Column
		if err := r.Scan(&tbl, &col.Name, &col.Type, &col.Nullable, &def, &extra, &col.Label); err != nil {
			return err
		}
		// MariaDB reports a NULL default as the text NULL (a text default is quoted).
		if def.Valid && def.String != "NULL" {
			col.Default = def.String
		}
		switch {
		case strings.Contains(extra, "auto_increment"):
			col.Default = DefaultAutoIncrement
		case strings.Contains(extra, "on update"):
			i := strings.Index(extra, "on update")
			col.Default = strings.TrimSpace(col.Default + " " + strings.ToUpper(extra[i:]))
		}
		col.ReadOnly = strings.Contains(extra, "generated")
		if o, ok := b.known(tbl); ok {
			o.Columns = append(o.Columns, col)
		}
		return nil
	})
	if err != nil {
		return connector.Catalog{}, err
	}
	// Statistics come one row per index column, in order; an expression index
	// part (MySQL 8) has no column name.
	const indexes = `SELECT table_name, index_name, non_unique = 0, COALESCE(column_name, '')
FROM information_schema.statistics WHERE table_schema = DATABASE() ORDER BY table_name, index_name, seq_in_index`
	type key struct{ tbl, name string }
	var order []key
	byKey := map[key]*connector.Index{}
	err = each(ctx, db, "indexes", indexes, func(r *sql.Rows) error {
		var k key
		var unique bool
		var col string
		if err := r.Scan(&k.tbl, &k.name, &unique, &col); err != nil {
			return err
		}
		ix, ok := byKey[k]
		if !ok {
			ix = &connector.Index{Name: k.name, Unique: unique}
			byKey[k] = ix
			order = append(order, k)
		}
		if col != "" {
			ix.Columns = append(ix.Columns, col)
		}
		return nil
	})
	if err != nil {
		return connector.Catalog{}, err
	}
	for _, k := range order {
		if o, ok := b.known(k.tbl); ok {
			addIndex(o, *byKey[k], k.name == "PRIMARY")
		}
	}
	const triggers = `SELECT event_object_table, trigger_name FROM information_schema.triggers WHERE trigger_schema = DATABASE()`
	err = each(ctx, db, "triggers", triggers, func(r *sql.Rows) error {
		var tbl, name string
		if err := r.Scan(&tbl, &name); err != nil {
			return err
		}
		if o, ok := b.known(tbl); ok {
			o.Triggers = append(o.Triggers, name)
		}
		return nil
	})
	if err != nil {
		return connector.Catalog{}, err
	}
	const refs = `SELECT k.table_name, MIN(k.column_name), MIN(k.referenced_table_name)
FROM information_schema.key_column_usage k
WHERE k.table_schema = DATABASE() AND k.referenced_table_name IS NOT NULL
GROUP BY k.table_name, k.constraint_name HAVING COUNT(*) = 1`
	err = each(ctx, db, "foreign keys", refs, func(r *sql.Rows) error {
		var tbl, col, ref string
		if err := r.Scan(&tbl, &col, &ref); err != nil {
			return err
		}
		if o, ok := b.known(tbl); ok {
			if c := catalogColumn(o, col); c != nil {
				c.Ref = ref
			}
		}
		return nil
	})
	if err != nil {
		return connector.Catalog{}, err
	}
	return b.catalog(), nil
}
