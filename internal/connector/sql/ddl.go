package sqlconn

import (
	"fmt"
	"strings"
)

// sqliteNow is the SQLite expression for now in the text format the connector
// writes (it sorts with the connector's own timestamps).
const sqliteNow = `strftime('%Y-%m-%d %H:%M:%f000', 'now')`

// ChangeDetection says what a table lacks for the connector to read its
// changes, for ChangeDetectionDDL.
type ChangeDetection struct {
	// Driver is DriverSQLite, DriverPostgres or DriverMySQL.
	Driver string
	// Table is the table's name, with its schema when qualified.
	Table []string
	// ID is the primary key column; UpdatedAt the change column.
	ID, UpdatedAt string
	// UpdatedAtType is the existing column's type, empty when AddColumn.
	UpdatedAtType string
	// What to add: the column, an index on (updated_at, id), the triggers that
	// keep it current when another program changes a row.
	AddColumn, AddIndex, AddTrigger bool
}

// ChangeDetectionDDL returns the statements (without a terminating ;) that
// add what cd says is missing. The triggers leave a value the writer set alone:
// the connector sets updated_at itself and reads it back as the row's version.
// `concord init` prints them and `concord doctor` gives them as fixes; neither
// runs them.
func ChangeDetectionDDL(cd ChangeDetection) []string {
	d := dialects[cd.Driver]
	if d == nil {
		return nil
	}
	base := cd.Table[len(cd.Table)-1]
	tbl, uc, id := d.ident(cd.Table...), d.ident(cd.UpdatedAt), d.ident(cd.ID)
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	typ := strings.ToLower(cd.UpdatedAtType)
	if cd.AddColumn {
		switch cd.Driver {
		case DriverPostgres:
			typ = "timestamptz"
			add("ALTER TABLE %s ADD COLUMN %s timestamptz NOT NULL DEFAULT now()", tbl, uc)
		case DriverMySQL:
			add("ALTER TABLE %s ADD COLUMN %s DATETIME(6) NULL", tbl, uc)
			add("UPDATE %s SET %s = UTC_TIMESTAMP(6)", tbl, uc)
		default:
			add("ALTER TABLE %s ADD COLUMN %s TEXT", tbl, uc)
			add("UPDATE %s SET %s = %s", tbl, uc, sqliteNow)
		}
	}
	if cd.AddIndex {
		add("CREATE INDEX %s ON %s (%s, %s)", d.ident(base+"_"+cd.UpdatedAt+"_idx"), tbl, uc, id)
	}
	if !cd.AddTrigger {
		return out
	}
	trig, ins := d.ident(base+"_"+cd.UpdatedAt+"_touch"), d.ident(base+"_"+cd.UpdatedAt+"_insert")
	switch cd.Driver {
	case DriverPostgres:
		now := "clock_timestamp()"
		if strings.Contains(typ, "without time zone") || typ == "timestamp" {
			now = "(clock_timestamp() AT TIME ZONE 'UTC')"
		}
		add("CREATE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n  IF NEW.%s IS NOT DISTINCT FROM OLD.%s THEN NEW.%s := %s; END IF;\n  RETURN NEW;\nEND $$",
			trig, uc, uc, uc, now)
		add("CREATE TRIGGER %s BEFORE UPDATE ON %s FOR EACH ROW EXECUTE FUNCTION %s()", trig, tbl, trig)
	case DriverMySQL:
		add("CREATE TRIGGER %s BEFORE INSERT ON %s FOR EACH ROW SET NEW.%s = COALESCE(NEW.%s, UTC_TIMESTAMP(6))", ins, tbl, uc, uc)
		add("CREATE TRIGGER %s BEFORE UPDATE ON %s FOR EACH ROW SET NEW.%s = IF(NEW.%s <=> OLD.%s, UTC_TIMESTAMP(6), NEW.%s)",
			trig, tbl, uc, uc, uc, uc)
	default:
		add("CREATE TRIGGER %s AFTER INSERT ON %s FOR EACH ROW WHEN NEW.%s IS NULL BEGIN\n  UPDATE %s SET %s = %s WHERE %s = NEW.%s;\nEND",
			ins, tbl, uc, tbl, uc, sqliteNow, id, id)
		add("CREATE TRIGGER %s AFTER UPDATE ON %s FOR EACH ROW WHEN NEW.%s IS OLD.%s BEGIN\n  UPDATE %s SET %s = %s WHERE %s = NEW.%s;\nEND",
			trig, tbl, uc, uc, tbl, uc, sqliteNow, id, id)
	}
	return out
}

// LinkDDL returns the statements that add a link column (when addColumn) and
// the unique index on it.
func LinkDDL(driver string, table []string, link string, addColumn bool) []string {
	d := dialects[driver]
	if d == nil {
		return nil
	}
	tbl, lc := d.ident(table...), d.ident(link)
	var out []string
	if addColumn {
		typ := "TEXT"
		if driver == DriverMySQL {
			typ = "VARCHAR(64) NULL"
		}
		out = append(out, fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s %s", tbl, lc, typ))
	}
	return append(out, fmt.Sprintf("CREATE UNIQUE INDEX %s ON %s (%s)", d.ident(table[len(table)-1]+"_"+link+"_key"), tbl, lc))
}
