package sqlconn

import (
	"context"
	"database/sql"
	"strings"

	"github.com/concord-sync/concord/internal/connector"
)

// inspectPostgres reads the catalog of current_schema() from pg_catalog.
func inspectPostgres(ctx context.Context, db *sql.DB) (connector.Catalog, error) {
	b := newCatalogBuilder()
	const tables = `SELECT c.relname, c.reltuples::bigint, COALESCE(obj_description(c.oid, 'pg_class'), '')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition`
	err := each(ctx, db, "tables", tables, func(r *sql.Rows) error {
		var name, label string
		var rows int64
		if err := r.Scan(&name, &rows, &label); err != nil {
			return err
		}
		o := b.table(name)
		o.Label = label
		if rows >= 0 {
			o.Rows = rows
		}
		return nil
	})
	if err != nil {
		return connector.Catalog{}, err
	}
	const columns = `SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
	COALESCE(pg_get_expr(d.adbin, d.adrelid), ''), a.attidentity <> '', a.attgenerated <> '',
	COALESCE(col_description(c.oid, a.attnum), '')
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY c.relname, a.attnum`
	err = each(ctx, db, "columns", columns, func(r *sql.Rows) error {
		var tbl string
		var col connector.Column
		var identity, generated bool
		if err := r.Scan(&tbl, &col.Name, &col.Type, &col.Nullable, &col.Default, &identity, &generated, &col.Label); err != nil {
			return err
		}
		if identity {
			col.Default = DefaultIdentity
		}
		col.ReadOnly = generated
		if o, ok := b.known(tbl); ok {
			o.Columns = append(o.Columns, col)
		}
		return nil
	})
	if err != nil {
		return connector.Catalog{}, err
	}
	// One row per index, its key columns in order; an expression has no name.
	const indexes = `SELECT t.relname, i.relname, ix.indisunique AND ix.indpred IS NULL, ix.indisprimary,
	array_to_string(ARRAY(
		SELECT COALESCE(a.attname, '') FROM unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, n)
		LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
		WHERE k.n <= ix.indnkeyatts ORDER BY k.n), chr(1))
FROM pg_index ix
JOIN pg_class t ON t.oid = ix.indrelid
JOIN pg_class i ON i.oid = ix.indexrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = current_schema()`
	err = each(ctx, db, "indexes", indexes, func(r *sql.Rows) error {
		var tbl, cols string
		var ix connector.Index
		var primary bool
		if err := r.Scan(&tbl, &ix.Name, &ix.Unique, &primary, &cols); err != nil {
			return err
		}
		for _, c := range strings.Split(cols, "\x01") {
			if c != "" {
				ix.Columns = append(ix.Columns, c)
			}
		}
		if o, ok := b.known(tbl); ok {
			addIndex(o, ix, primary)
		}
		return nil
	})
	if err != nil {
		return connector.Catalog{}, err
	}
	const triggers = `SELECT c.relname, t.tgname FROM pg_trigger t
JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND NOT t.tgisinternal`
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
	// Foreign keys of one column, to a table of any schema.
	const refs = `SELECT c.relname, a.attname, f.relname FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_class f ON f.oid = k.confrelid
JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
WHERE n.nspname = current_schema() AND k.contype = 'f' AND array_length(k.conkey, 1) = 1`
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
