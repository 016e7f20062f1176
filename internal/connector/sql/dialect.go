package sqlconn

import (
	"strconv"
	"strings"
	"time"
)

// sqliteTimeLayout is how the connector stores instants in SQLite: UTC text,
// fixed width, microseconds, so text order is time order. Rows written by other
// programs as "YYYY-MM-DD HH:MM:SS" sort correctly against it.
const sqliteTimeLayout = "2006-01-02 15:04:05.000000"

// mysqlTimeLayout is the literal form MySQL and MariaDB accept for DATETIME(6).
const mysqlTimeLayout = "2006-01-02 15:04:05.000000"

// dialect holds what differs between the databases.
type dialect struct {
	name string
	// quote is the identifier quote character. SQLite's is the backtick: a
	// double-quoted name that matches no column is read by SQLite as a string
	// literal, so a renamed column would read as its own name instead of failing.
	quote byte
	// dollar placeholders ($1) instead of ?.
	dollar bool
	// returning: INSERT ... RETURNING is supported (else LastInsertId). MySQL
	// has none; Open turns it on for MariaDB 10.5 and later.
	returning bool
	// stmtRollback: a statement the database refuses (a constraint, a bad
	// value) is undone alone and the transaction goes on (InnoDB), so a batch
	// statement needs no savepoint around it. PostgreSQL aborts the whole
	// transaction instead.
	stmtRollback bool
	// updateJoin: a batch UPDATE joins the table to a derived table of the
	// rows' values (MySQL's multi-table UPDATE), instead of a CASE per column
	// whose cost grows with the square of the rows.
	updateJoin bool
	// forUpdate locks rows read inside a write transaction.
	forUpdate string
	// textType is the CAST target for reading numbers as exact text.
	textType string
	// timeAsText: bind instants as text in timeLayout instead of time.Time.
	timeAsText bool
	timeLayout string
	// boolAsInt: bind booleans as 0/1.
	boolAsInt bool
}

var dialects = map[string]*dialect{
	DriverSQLite:   {name: DriverSQLite, quote: '`', returning: true, textType: "TEXT", timeAsText: true, timeLayout: sqliteTimeLayout, boolAsInt: true},
	DriverPostgres: {name: DriverPostgres, quote: '"', dollar: true, returning: true, forUpdate: " FOR UPDATE", textType: "TEXT"},
	DriverMySQL:    {name: DriverMySQL, quote: '`', forUpdate: " FOR UPDATE", textType: "CHAR", timeAsText: true, timeLayout: mysqlTimeLayout, boolAsInt: true, stmtRollback: true, updateJoin: true},
}

// ident quotes a validated identifier, part by part for "schema.table".
func (d *dialect) ident(parts ...string) string {
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteByte(d.quote)
		b.WriteString(p)
		b.WriteByte(d.quote)
	}
	return b.String()
}

// asText is an expression reading col as exact text.
func (d *dialect) asText(col string) string {
	return "CAST(" + d.ident(col) + " AS " + d.textType + ")"
}

// encodeTime is the bind value for an instant.
func (d *dialect) encodeTime(t time.Time) any {
	t = t.UTC()
	if d.timeAsText {
		return t.Format(d.timeLayout)
	}
	return t
}

// encodeBool is the bind value for a boolean.
func (d *dialect) encodeBool(b bool) any {
	if !d.boolAsInt {
		return b
	}
	if b {
		return 1
	}
	return 0
}

// args builds a statement's placeholders and arguments.
type args struct {
	d    *dialect
	vals []any
}

// add binds v and returns its placeholder.
func (a *args) add(v any) string {
	a.vals = append(a.vals, v)
	if a.d.dollar {
		return "$" + strconv.Itoa(len(a.vals))
	}
	return "?"
}

// list binds vs and returns "p1, p2, ...".
func (a *args) list(vs []string) string {
	var b strings.Builder
	for i, v := range vs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(a.add(v))
	}
	return b.String()
}
