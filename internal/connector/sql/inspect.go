package sqlconn

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/concord-sync/concord/internal/connector"
)

var _ connector.Inspector = (*Conn)(nil)

// Marks in Column.Default for key columns the database fills itself, so a
// reader of the catalog can tell an autoincrementing key whatever the dialect:
// PostgreSQL gives its own expression (nextval('...') for serial columns,
// DefaultIdentity for identity columns), MySQL/MariaDB DefaultAutoIncrement,
// SQLite DefaultRowID for an INTEGER PRIMARY KEY (an alias of the rowid) and
// DefaultAutoIncrement when it is declared AUTOINCREMENT.
const (
	DefaultAutoIncrement = "AUTO_INCREMENT"
	DefaultIdentity      = "GENERATED AS IDENTITY"
	DefaultRowID         = "ROWID"
)

// AutoIncrement reports whether the catalog column c is filled by the database
// on insert (serial, identity, AUTO_INCREMENT, SQLite rowid alias).
func AutoIncrement(c connector.Column) bool {
	d := strings.ToUpper(c.Default)
	return strings.HasPrefix(d, "NEXTVAL(") || d == DefaultIdentity || d == DefaultAutoIncrement || d == DefaultRowID
}

// Inspect implements connector.Inspector: the base tables of the connection's
// schema (PostgreSQL: current_schema(), set with search_path in the DSN;
// MySQL/MariaDB: the DSN's database; SQLite: the main database), whatever the
// config maps. For each table it returns the columns in declaration order with
// their declared type, nullability and default, the primary key, the indexes
// (a partial or expression index is listed with the columns it names, and a
// partial one is never Unique), the foreign keys of single columns (Ref), the
// triggers and a row estimate (PostgreSQL and MySQL: the planner's statistics,
// -1 when the table was never analysed; SQLite: an exact count). A MySQL/MariaDB
// column maintained with ON UPDATE has it in its Default
// ("CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)"); see the Default*
// constants for autoincrementing keys. Inspect only reads the database's
// catalog; it needs no rights on the tables except, on SQLite, to count them.
func (c *Conn) Inspect(ctx context.Context) (connector.Catalog, error) {
	var (
		cat connector.Catalog
		err error
	)
	switch c.cfg.driver {
	case DriverPostgres:
		cat, err = inspectPostgres(ctx, c.db)
	case DriverMySQL:
		cat, err = inspectMySQL(ctx, c.db)
	case DriverSQLite:
		cat, err = inspectSQLite(ctx, c.db)
	default:
		err = fmt.Errorf("unknown driver %q", c.cfg.driver)
	}
	if err != nil {
		return connector.Catalog{}, fmt.Errorf("inspect sql system %s: %w", c.system, err)
	}
	return cat, nil
}

// catalogBuilder collects a catalog from per-table rows in any order.
type catalogBuilder struct {
	objects map[string]*connector.Object
	order   []string
}

func newCatalogBuilder() *catalogBuilder {
	return &catalogBuilder{objects: map[string]*connector.Object{}}
}

// table adds (or returns) the object name.
func (b *catalogBuilder) table(name string) *connector.Object {
	if o, ok := b.objects[name]; ok {
		return o
	}
	o := &connector.Object{Name: name, Rows: -1}
	b.objects[name] = o
	b.order = append(b.order, name)
	return o
}

// known returns the object name if it was added by table.
func (b *catalogBuilder) known(name string) (*connector.Object, bool) {
	o, ok := b.objects[name]
	return o, ok
}

// catalogColumn returns the column of object o called name, or nil.
func catalogColumn(o *connector.Object, name string) *connector.Column {
	for i := range o.Columns {
		if o.Columns[i].Name == name {
			return &o.Columns[i]
		}
	}
	return nil
}

// addIndex appends an index to o; a unique index over one column marks it
// Unique, and the primary key index (primary) sets o.Key.
func addIndex(o *connector.Object, ix connector.Index, primary bool) {
	if primary {
		o.Key = slices.Clone(ix.Columns)
	}
	if ix.Unique && len(ix.Columns) == 1 {
		if col := catalogColumn(o, ix.Columns[0]); col != nil {
			col.Unique = true
		}
	}
	o.Indexes = append(o.Indexes, ix)
}

// catalog returns the objects sorted by name, with their indexes sorted by
// name and their triggers sorted.
func (b *catalogBuilder) catalog() connector.Catalog {
	names := slices.Sorted(slices.Values(b.order))
	cat := connector.Catalog{Objects: make([]connector.Object, 0, len(names))}
	for _, n := range names {
		o := b.objects[n]
		slices.SortFunc(o.Indexes, func(a, b connector.Index) int { return strings.Compare(a.Name, b.Name) })
		slices.Sort(o.Triggers)
		cat.Objects = append(cat.Objects, *o)
	}
	return cat
}

// each runs q and calls fn for every row; fn scans it.
func each(ctx context.Context, db *sql.DB, what, q string, fn func(*sql.Rows) error, args ...any) error {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("read %s: %w", what, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return fmt.Errorf("read %s: %w", what, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read %s: %w", what, err)
	}
	return nil
}
