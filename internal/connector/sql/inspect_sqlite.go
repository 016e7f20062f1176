package sqlconn

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/concord-sync/concord/internal/connector"
)

// inspectSQLite reads the catalog of the main database from sqlite_schema and
// the table-valued pragmas.
func inspectSQLite(ctx context.Context, db *sql.DB) (connector.Catalog, error) {
	b := newCatalogBuilder()
	ddl := map[string]string{}
	const tables = `SELECT name, COALESCE(sql, '') FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\'`
	err := each(ctx, db, "tables", tables, func(r *sql.Rows) error {
		var name, stmt string
		if err := r.Scan(&name, &stmt); err != nil {
			return err
		}
		b.table(name)
		ddl[name] = strings.ToUpper(stmt)
		return nil
	})
	if err != nil {
		return connector.Catalog{}, err
	}
	for _, name := range b.order {
		if err := inspectSQLiteTable(ctx, db, b.objects[name], ddl[name]); err != nil {
			return connector.Catalog{}, fmt.Errorf("table %s: %w", name, err)
		}
	}
	const triggers = `SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'`
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
	return b.catalog(), nil
}

// inspectSQLiteTable fills o's columns, key, indexes, references and row
// count; stmt is its CREATE TABLE statement in upper case.
func inspectSQLiteTable(ctx context.Context, db *sql.DB, o *connector.Object, stmt string) error {
	type pk struct {
		pos  int
		name string
	}
	var pks []pk
	// hidden: 0 plain, 1 hidden (virtual tables), 2 and 3 generated columns.
	err := each(ctx, db, "columns", `SELECT name, type, "notnull", COALESCE(dflt_value, ''), pk, hidden FROM pragma_table_xinfo(?) ORDER BY cid`, func(r *sql.Rows) error {
		var col connector.Column
		var notNull bool
		var pos, hidden int
		if err := r.Scan(&col.Name, &col.Type, &notNull, &col.Default, &pos, &hidden); err != nil {
			return err
		}
		col.Nullable = !notNull && pos == 0
		col.ReadOnly = hidden >= 2
		if pos > 0 {
			pks = append(pks, pk{pos, col.Name})
		}
		o.Columns = append(o.Columns, col)
		return nil
	}, o.Name)
	if err != nil {
		return err
	}
	for i := 1; i <= len(pks); i++ {
		for _, p := range pks {
			if p.pos == i {
				o.Key = append(o.Key, p.name)
			}
		}
	}
	if len(o.Key) == 1 {
		c := catalogColumn(o, o.Key[0])
		c.Unique = true
		// An INTEGER PRIMARY KEY is the rowid: SQLite fills it on insert.
		if strings.EqualFold(c.Type, "INTEGER") && !strings.Contains(stmt, "WITHOUT ROWID") {
			c.Default = DefaultRowID
			if strings.Contains(stmt, "AUTOINCREMENT") {
				c.Default = DefaultAutoIncrement
			}
		}
	}
	type idx struct {
		name    string
		unique  bool
		origin  string
		partial bool
	}
	var idxs []idx
	err = each(ctx, db, "indexes", `SELECT name, "unique", origin, partial FROM pragma_index_list(?)`, func(r *sql.Rows) error {
		var ix idx
		if err := r.Scan(&ix.name, &ix.unique, &ix.origin, &ix.partial); err != nil {
			return err
		}
		idxs = append(idxs, ix)
		return nil
	}, o.Name)
	if err != nil {
		return err
	}
	for _, ix := range idxs {
		out := connector.Index{Name: ix.name, Unique: ix.unique && !ix.partial}
		err := each(ctx, db, "index columns", `SELECT COALESCE(name, '') FROM pragma_index_info(?) ORDER BY seqno`, func(r *sql.Rows) error {
			var col string
			if err := r.Scan(&col); err != nil {
				return err
			}
			if col != "" {
				out.Columns = append(out.Columns, col)
			}
			return nil
		}, ix.name)
		if err != nil {
			return err
		}
		addIndex(o, out, false)
	}
	// Foreign keys of one column: id groups the columns of one key.
	refs := map[int][]string{}
	err = each(ctx, db, "foreign keys", `SELECT id, "table", "from" FROM pragma_foreign_key_list(?)`, func(r *sql.Rows) error {
		var id int
		var ref, from string
		if err := r.Scan(&id, &ref, &from); err != nil {
			return err
		}
		refs[id] = append(refs[id], ref, from)
		return nil
	}, o.Name)
	if err != nil {
		return err
	}
	for _, ref := range refs {
		if len(ref) == 2 {
			if c := catalogColumn(o, ref[1]); c != nil {
				c.Ref = ref[0]
			}
		}
	}
	count := `SELECT COUNT(*) FROM "` + strings.ReplaceAll(o.Name, `"`, `""`) + `"`
	if err := db.QueryRowContext(ctx, count).Scan(&o.Rows); err != nil {
		return fmt.Errorf("count rows: %w", err)
	}
	return nil
}
