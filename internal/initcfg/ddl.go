package initcfg

import (
	"fmt"
	"strings"

	"github.com/concord-sync/concord/internal/connector"
)

// The sql drivers, as in docs/connectors/sql.md.
const (
	driverSQLite   = "sqlite"
	driverPostgres = "postgres"
	driverMySQL    = "mysql"
)

// sqliteNow is the SQLite expression for now in the text format the sql
// connector writes (it sorts with the connector's own timestamps).
const sqliteNow = `strftime('%Y-%m-%d %H:%M:%f000', 'now')`

// quoter quotes identifiers for one dialect.
type quoter byte

func (q quoter) id(parts ...string) string {
	var b strings.Builder
	s := string(q)
	for i, p := range parts {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s + strings.ReplaceAll(p, s, s+s) + s)
	}
	return b.String()
}

// sqlDDL fills m.UpdatedAt and m.Link (when they are missing, with the names
// the DDL adds: updated_at and linkName) and
// returns the statements that add what o lacks: the updated_at column, an
// index on (updated_at, id), a trigger that maintains updated_at when other
// programs change a row without setting it, and a link column with a unique
// index. The triggers leave a value the writer set alone: the sql connector
// sets updated_at itself and returns it as the row's version.
func sqlDDL(driver string, o *connector.Object, m *EntityMap, linkName string) []string {
	q := quoter('"')
	if driver == driverMySQL {
		q = '`'
	}
	parts := strings.Split(o.Name, ".")
	base := parts[len(parts)-1]
	tbl := q.id(parts...)
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }

	col := m.UpdatedAt
	haveColumn := col != ""
	if !haveColumn {
		col = "updated_at"
		m.UpdatedAt = col
	}
	uc, id := q.id(col), q.id(m.ID)
	typ := ""
	if c := catalogColumn(o, col); c != nil {
		typ = strings.ToLower(c.Type)
	}
	if !haveColumn {
		switch driver {
		case driverPostgres:
			typ = "timestamptz"
			add("ALTER TABLE %s ADD COLUMN %s timestamptz NOT NULL DEFAULT now()", tbl, uc)
		case driverMySQL:
			add("ALTER TABLE %s ADD COLUMN %s DATETIME(6) NULL", tbl, uc)
			add("UPDATE %s SET %s = UTC_TIMESTAMP(6)", tbl, uc)
		default:
			add("ALTER TABLE %s ADD COLUMN %s TEXT", tbl, uc)
			add("UPDATE %s SET %s = %s", tbl, uc, sqliteNow)
		}
	}
	if !hasIndexOn(o, col) {
		add("CREATE INDEX %s ON %s (%s, %s)", q.id(base+"_"+col+"_idx"), tbl, uc, id)
	}
	if !haveColumn || !maintained(o, col) {
		trig := q.id(base + "_" + col + "_touch")
		switch driver {
		case driverPostgres:
			now := "clock_timestamp()"
			if strings.Contains(typ, "without time zone") || typ == "timestamp" {
				now = "(clock_timestamp() AT TIME ZONE 'UTC')"
			}
			add("CREATE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n  IF NEW.%s IS NOT DISTINCT FROM OLD.%s THEN NEW.%s := %s; END IF;\n  RETURN NEW;\nEND $$",
				trig, uc, uc, uc, now)
			add("CREATE TRIGGER %s BEFORE UPDATE ON %s FOR EACH ROW EXECUTE FUNCTION %s()", trig, tbl, trig)
		case driverMySQL:
			add("CREATE TRIGGER %s BEFORE INSERT ON %s FOR EACH ROW SET NEW.%s = COALESCE(NEW.%s, UTC_TIMESTAMP(6))",
				q.id(base+"_"+col+"_insert"), tbl, uc, uc)
			add("CREATE TRIGGER %s BEFORE UPDATE ON %s FOR EACH ROW SET NEW.%s = IF(NEW.%s <=> OLD.%s, UTC_TIMESTAMP(6), NEW.%s)",
				trig, tbl, uc, uc, uc, uc)
		default:
			add("CREATE TRIGGER %s AFTER INSERT ON %s FOR EACH ROW WHEN NEW.%s IS NULL BEGIN\n  UPDATE %s SET %s = %s WHERE %s = NEW.%s;\nEND",
				q.id(base+"_"+col+"_insert"), tbl, uc, tbl, uc, sqliteNow, id, id)
			add("CREATE TRIGGER %s AFTER UPDATE ON %s FOR EACH ROW WHEN NEW.%s IS OLD.%s BEGIN\n  UPDATE %s SET %s = %s WHERE %s = NEW.%s;\nEND",
				trig, tbl, uc, uc, tbl, uc, sqliteNow, id, id)
		}
	}

	link := m.Link
	if link == "" {
		link = linkName
		m.Link = link
		switch driver {
		case driverPostgres, driverSQLite:
			add("ALTER TABLE %s ADD COLUMN %s TEXT", tbl, q.id(link))
		default:
			add("ALTER TABLE %s ADD COLUMN %s VARCHAR(64) NULL", tbl, q.id(link))
		}
	}
	if c := catalogColumn(o, link); c == nil || !c.Unique {
		add("CREATE UNIQUE INDEX %s ON %s (%s)", q.id(base+"_"+link+"_key"), tbl, q.id(link))
	}
	return out
}

// hasIndexOn reports whether an index of o starts with col.
func hasIndexOn(o *connector.Object, col string) bool {
	for _, ix := range o.Indexes {
		if len(ix.Columns) > 0 && ix.Columns[0] == col {
			return true
		}
	}
	return false
}

// maintained reports whether something keeps col current when other programs
// change a row: MySQL's ON UPDATE, or a trigger whose name says so. A trigger
// is not read, only named; a wrong guess shows in `concord doctor`.
func maintained(o *connector.Object, col string) bool {
	if c := catalogColumn(o, col); c != nil && strings.Contains(strings.ToUpper(c.Default), "ON UPDATE") {
		return true
	}
	for _, t := range o.Triggers {
		n := strings.ToLower(t)
		if strings.Contains(n, strings.ToLower(col)) || strings.Contains(n, "touch") || strings.Contains(n, "modif") || strings.Contains(n, "timestamp") {
			return true
		}
	}
	return false
}
