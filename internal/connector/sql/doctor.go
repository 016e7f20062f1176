package sqlconn

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/model"
)

var _ connector.Doctor = (*Conn)(nil)

// Diagnose implements connector.Doctor with reads of the database's catalog
// only (Inspect, trigger definitions, privileges); it never writes. For each
// mapped entity it checks that the table and every mapped column exist (also
// the child tables of lines fields), that the link column is unique (a unique
// index or the primary key), that updated_at is indexed (a warning when not)
// and maintained when other programs change a row (a trigger on UPDATE whose
// definition sets it, or MySQL's ON UPDATE), and that the credentials may
// SELECT, INSERT and UPDATE the table (PostgreSQL has_table_privilege, MySQL
// SHOW GRANTS, SQLite: the file is writable). Each problem's Fix is the DDL
// (or GRANT) to run, which Concord never runs itself.
func (c *Conn) Diagnose(ctx context.Context) ([]connector.Problem, error) {
	cat, err := c.Inspect(ctx)
	if err != nil {
		return nil, err
	}
	byName := map[string]*connector.Object{}
	var names []string
	for i := range cat.Objects {
		byName[cat.Objects[i].Name] = &cat.Objects[i]
		names = append(names, cat.Objects[i].Name)
	}
	rights, err := c.rights(ctx)
	if err != nil {
		return nil, fmt.Errorf("diagnose sql system %s: %w", c.system, err)
	}
	var probs []connector.Problem
	for _, e := range sortedEntities(c.cfg.entities) {
		t := c.cfg.entities[e]
		path := SettingEntities + "." + string(e)
		o := byName[t.name[len(t.name)-1]]
		if o == nil {
			probs = append(probs, connector.Problem{Setting: path + ".table", Entity: e,
				Msg: fmt.Sprintf("table %s (%s) does not exist", strings.Join(t.name, "."), e),
				Fix: orSuggest(t.name[len(t.name)-1], names, "create it, or set table to an existing table")})
			continue
		}
		probs = append(probs, c.tableProblems(ctx, e, path, t, o, byName, names)...)
		p, err := rights(ctx, e, path, t)
		if err != nil {
			return nil, fmt.Errorf("diagnose sql system %s: privileges on %s: %w", c.system, strings.Join(t.name, "."), err)
		}
		probs = append(probs, p...)
	}
	return probs, nil
}

// tableProblems checks the columns of one mapped table, its link and its
// change detection.
func (c *Conn) tableProblems(ctx context.Context, e model.Entity, path string, t *table, o *connector.Object, byName map[string]*connector.Object, names []string) []connector.Problem {
	var probs []connector.Problem
	tbl := c.d.ident(t.name...)
	cols := make([]string, 0, len(o.Columns))
	for _, col := range o.Columns {
		cols = append(cols, col.Name)
	}
	missing := func(setting, col string, typ model.FieldType) {
		probs = append(probs, connector.Problem{Setting: setting, Entity: e,
			Msg: fmt.Sprintf("column %s.%s (%s) does not exist", o.Name, col, e),
			Fix: orSuggest(col, cols, fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s %s;", tbl, c.d.ident(col), c.columnType(typ)))})
	}
	has := func(col string) bool { return catalogColumn(o, col) != nil }
	if !has(t.id) {
		missing(path+".id", t.id, model.TypeText)
	}
	if key := catalogColumn(o, t.id); key != nil && t.idKind == IDAuto && !AutoIncrement(*key) {
		probs = append(probs, connector.Problem{Setting: path + ".id_kind", Entity: e, Writes: true,
			Msg: fmt.Sprintf("id_kind is auto (the default), but the database does not fill %s.%s (%s %s): every create would fail", o.Name, t.id, e, key.Type),
			Fix: idKindFix(key.Type)})
	}
	if t.link != "" && t.link != t.id {
		if !has(t.link) {
			missing(path+".link", t.link, model.TypeText)
		}
	}
	if t.link != "" && has(t.link) && !catalogColumn(o, t.link).Unique && !(len(o.Key) == 1 && o.Key[0] == t.link) {
		probs = append(probs, connector.Problem{Setting: path + ".link", Entity: e, Writes: true,
			Msg: fmt.Sprintf("link column %s.%s (%s) has no unique index: a retried create could make a duplicate", o.Name, t.link, e),
			Fix: statements(LinkDDL(c.cfg.driver, t.name, t.link, false))})
	}
	if t.archived != "" && !has(t.archived) {
		missing(path+".archived", t.archived, model.TypeBool)
	}
	for _, f := range t.fields {
		fpath := path + ".fields." + f.field
		switch {
		case f.lines != nil:
			probs = append(probs, c.linesProblems(ctx, e, fpath, f.lines, byName, names)...)
			continue
		case !has(f.col):
			missing(fpath, f.col, f.typ)
		}
		if f.currencyColumn != "" && !has(f.currencyColumn) {
			missing(fpath+".currency_column", f.currencyColumn, model.TypeText)
		}
	}
	if t.updatedAt == "" {
		return probs
	}
	upath := path + ".updated_at"
	if !has(t.updatedAt) {
		probs = append(probs, connector.Problem{Setting: upath, Entity: e,
			Msg: fmt.Sprintf("column %s.%s (%s), which change detection reads, does not exist", o.Name, t.updatedAt, e),
			Fix: statements(c.changeDetectionDDL(t, o, true, true, true))})
		return probs
	}
	if !indexedFirst(o, t.updatedAt) {
		probs = append(probs, connector.Problem{Setting: upath, Entity: e, Warning: true,
			Msg: fmt.Sprintf("column %s.%s (%s) has no index: every poll reads the whole table", o.Name, t.updatedAt, e),
			Fix: statements(c.changeDetectionDDL(t, o, false, true, false))})
	}
	ok, err := c.maintained(ctx, t, o)
	switch {
	case err != nil:
		probs = append(probs, connector.Problem{Setting: upath, Entity: e, Warning: true,
			Msg: fmt.Sprintf("cannot read the triggers of %s to see whether %s is maintained: %v", o.Name, t.updatedAt, err)})
	case !ok:
		probs = append(probs, connector.Problem{Setting: upath, Entity: e,
			Msg: fmt.Sprintf("nothing maintains %s.%s (%s): no trigger on UPDATE sets it, so a change another program makes without setting it is never synced", o.Name, t.updatedAt, e),
			Fix: statements(c.changeDetectionDDL(t, o, false, false, true))})
	}
	return probs
}

// linesProblems checks the child table of a lines field.
func (c *Conn) linesProblems(_ context.Context, e model.Entity, path string, t *table, byName map[string]*connector.Object, names []string) []connector.Problem {
	o := byName[t.name[len(t.name)-1]]
	if o == nil {
		return []connector.Problem{{Setting: path + ".table", Entity: e,
			Msg: fmt.Sprintf("table %s (lines of %s) does not exist", strings.Join(t.name, "."), e),
			Fix: orSuggest(t.name[len(t.name)-1], names, "create it, or set table to an existing table")}}
	}
	var probs []connector.Problem
	tbl := c.d.ident(t.name...)
	var cols []string
	for _, col := range o.Columns {
		cols = append(cols, col.Name)
	}
	check := func(setting, col string, typ model.FieldType) {
		if col != "" && catalogColumn(o, col) == nil {
			probs = append(probs, connector.Problem{Setting: setting, Entity: e,
				Msg: fmt.Sprintf("column %s.%s (lines of %s) does not exist", o.Name, col, e),
				Fix: orSuggest(col, cols, fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s %s;", tbl, c.d.ident(col), c.columnType(typ)))})
		}
	}
	check(path+".id", t.id, model.TypeText)
	check(path+".parent", t.parent, model.TypeText)
	check(path+".position", t.position, "int")
	for _, f := range t.fields {
		check(path+".fields."+f.field, f.col, f.typ)
		check(path+".fields."+f.field+".currency_column", f.currencyColumn, model.TypeText)
	}
	return probs
}

// orSuggest returns "did you mean X?" when name is a near miss of one of
// known, else fix.
func orSuggest(name string, known []string, fix string) string {
	s := connector.Suggest(name, known)
	if near, ok := strings.CutPrefix(s, "; did you mean \""); ok {
		return fmt.Sprintf("did you mean %s? (else: %s)", strings.TrimSuffix(near, "\"?"), fix)
	}
	return fix
}

// indexedFirst reports whether an index of o starts with col.
func indexedFirst(o *connector.Object, col string) bool {
	for _, ix := range o.Indexes {
		if len(ix.Columns) > 0 && ix.Columns[0] == col {
			return true
		}
	}
	return false
}

// columnType is a column type of the dialect that holds values of typ.
func (c *Conn) columnType(typ model.FieldType) string {
	switch typ {
	case model.TypeDecimal, model.TypeMoney:
		return "NUMERIC(18,4)"
	case model.TypeDate:
		if c.cfg.driver == DriverSQLite {
			return "TEXT"
		}
		return "DATE"
	case model.TypeDateTime:
		switch c.cfg.driver {
		case DriverPostgres:
			return "TIMESTAMPTZ"
		case DriverMySQL:
			return "DATETIME(6)"
		}
		return "TEXT"
	case model.TypeBool:
		return "BOOLEAN"
	case "int":
		return "INTEGER"
	}
	if c.cfg.driver == DriverMySQL {
		return "VARCHAR(255)"
	}
	return "TEXT"
}

// changeDetectionDDL is ChangeDetectionDDL for t.
func (c *Conn) changeDetectionDDL(t *table, o *connector.Object, column, index, trigger bool) []string {
	cd := ChangeDetection{Driver: c.cfg.driver, Table: t.name, ID: t.id, UpdatedAt: t.updatedAt, AddColumn: column, AddIndex: index, AddTrigger: trigger}
	if col := catalogColumn(o, t.updatedAt); col != nil {
		cd.UpdatedAtType = col.Type
	}
	return ChangeDetectionDDL(cd)
}

// statements joins DDL statements, one per line, each ending in ;.
func statements(ddl []string) string {
	return strings.Join(ddl, ";\n") + ";"
}

// maintained reports whether t's updated_at column is set when a row is
// updated: MySQL's ON UPDATE, or an UPDATE trigger whose definition (or, on
// PostgreSQL, whose function's body) names the column.
func (c *Conn) maintained(ctx context.Context, t *table, o *connector.Object) (bool, error) {
	if col := catalogColumn(o, t.updatedAt); col != nil && strings.Contains(strings.ToUpper(col.Default), "ON UPDATE") {
		return true, nil
	}
	var q string
	arg := o.Name
	switch c.cfg.driver {
	case DriverPostgres:
		q = `SELECT pg_get_triggerdef(t.oid) || ' ' || coalesce(p.prosrc, '')
			FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
			WHERE t.tgrelid = to_regclass($1) AND NOT t.tgisinternal AND (t.tgtype & 16) <> 0`
		arg = c.d.ident(t.name...)
	case DriverMySQL:
		q = `SELECT ACTION_STATEMENT FROM information_schema.TRIGGERS
			WHERE EVENT_OBJECT_SCHEMA = DATABASE() AND EVENT_OBJECT_TABLE = ? AND EVENT_MANIPULATION = 'UPDATE'`
	default:
		q = `SELECT sql FROM sqlite_schema WHERE type = 'trigger' AND tbl_name = ? AND upper(sql) LIKE '%UPDATE%'`
	}
	rows, err := c.db.QueryContext(ctx, q, arg)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	col := regexp.MustCompile(`(?i)\b` + regexp.QuoteMeta(t.updatedAt) + `\b`)
	for rows.Next() {
		var def string
		if err := rows.Scan(&def); err != nil {
			return false, err
		}
		if col.MatchString(def) {
			return true, nil
		}
	}
	return false, rows.Err()
}

// rightsFunc checks the privileges on one mapped table.
type rightsFunc func(ctx context.Context, e model.Entity, path string, t *table) ([]connector.Problem, error)

// rights returns the privilege check of the connection's dialect.
func (c *Conn) rights(ctx context.Context) (rightsFunc, error) {
	problem := func(e model.Entity, t *table, miss []string, fix string) []connector.Problem {
		if len(miss) == 0 {
			return nil
		}
		writes := !slices.Contains(miss, "SELECT")
		return []connector.Problem{{Setting: SettingDSN, Entity: e, Writes: writes,
			Msg: fmt.Sprintf("the database user may not %s table %s (%s)", strings.Join(miss, ", "), strings.Join(t.name, "."), e),
			Fix: fix}}
	}
	switch c.cfg.driver {
	case DriverPostgres:
		var user string
		if err := c.db.QueryRowContext(ctx, `SELECT current_user`).Scan(&user); err != nil {
			return nil, fmt.Errorf("current user: %w", err)
		}
		return func(ctx context.Context, e model.Entity, _ string, t *table) ([]connector.Problem, error) {
			name := c.d.ident(t.name...)
			var sel, ins, upd bool
			err := c.db.QueryRowContext(ctx, `SELECT has_table_privilege($1, 'SELECT'), has_table_privilege($1, 'INSERT'), has_table_privilege($1, 'UPDATE')`, name).Scan(&sel, &ins, &upd)
			if err != nil {
				return nil, err
			}
			miss := missingPrivs(sel, ins, upd)
			return problem(e, t, miss, fmt.Sprintf("GRANT %s ON %s TO %s;", strings.Join(miss, ", "), name, c.d.ident(user))), nil
		}, nil
	case DriverMySQL:
		var user, db string
		if err := c.db.QueryRowContext(ctx, `SELECT CURRENT_USER(), COALESCE(DATABASE(), '')`).Scan(&user, &db); err != nil {
			return nil, fmt.Errorf("current user: %w", err)
		}
		grants, err := c.showGrants(ctx)
		if err != nil {
			return nil, err
		}
		grantee := user
		if u, h, ok := strings.Cut(user, "@"); ok {
			grantee = fmt.Sprintf("'%s'@'%s'", u, h)
		}
		return func(_ context.Context, e model.Entity, _ string, t *table) ([]connector.Problem, error) {
			schema, name := db, t.name[len(t.name)-1]
			if len(t.name) > 1 {
				schema = t.name[0]
			}
			miss := missingPrivs(grants.allows(schema, name, "SELECT"), grants.allows(schema, name, "INSERT"), grants.allows(schema, name, "UPDATE"))
			return problem(e, t, miss, fmt.Sprintf("GRANT %s ON %s TO %s;", strings.Join(miss, ", "), c.d.ident(schema, name), grantee)), nil
		}, nil
	default:
		file := sqliteFile(c.cfg.dsn)
		fileWritable := file == "" || writable(file)
		dirWritable := file == "" || writable(filepath.Dir(file))
		return func(_ context.Context, e model.Entity, _ string, t *table) ([]connector.Problem, error) {
			switch {
			case !fileWritable:
				return []connector.Problem{{Setting: SettingDSN, Entity: e, Writes: true,
					Msg: fmt.Sprintf("database file %s is not writable by this user: writes to %s (%s) fail", file, strings.Join(t.name, "."), e),
					Fix: fmt.Sprintf("chmod u+w %s (or run concord as the file's owner)", file)}}, nil
			case !dirWritable:
				return []connector.Problem{{Setting: SettingDSN, Entity: e, Writes: true,
					Msg: fmt.Sprintf("the directory of database file %s is not writable by this user: SQLite cannot create its journal, so writes to %s (%s) fail", file, strings.Join(t.name, "."), e),
					Fix: fmt.Sprintf("chmod u+w %s", filepath.Dir(file))}}, nil
			}
			return nil, nil
		}, nil
	}
}

func missingPrivs(sel, ins, upd bool) []string {
	var out []string
	for _, p := range []struct {
		ok   bool
		name string
	}{{sel, "SELECT"}, {ins, "INSERT"}, {upd, "UPDATE"}} {
		if !p.ok {
			out = append(out, p.name)
		}
	}
	return out
}

// sqliteFile returns the file of a SQLite DSN, "" for an in-memory database.
func sqliteFile(dsn string) string {
	f := strings.TrimPrefix(dsn, "file:")
	f, _, _ = strings.Cut(f, "?")
	if f == "" || f == ":memory:" {
		return ""
	}
	if _, err := os.Stat(f); err != nil {
		return ""
	}
	return f
}

// grants are the privileges of SHOW GRANTS: scope ("*.*", "db.*", "db.table",
// unquoted, lower case) -> privileges (upper case; ALL PRIVILEGES as ALL).
type grants map[string]map[string]bool

var grantRe = regexp.MustCompile("(?i)^GRANT (.+?) ON (?:TABLE )?(\\S+) TO ")

// showGrants reads the current user's grants.
func (c *Conn) showGrants(ctx context.Context) (grants, error) {
	rows, err := c.db.QueryContext(ctx, "SHOW GRANTS FOR CURRENT_USER()")
	if err != nil {
		return nil, fmt.Errorf("show grants: %w", err)
	}
	defer rows.Close()
	out := grants{}
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return nil, fmt.Errorf("show grants: %w", err)
		}
		m := grantRe.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		scope := strings.ToLower(strings.ReplaceAll(m[2], "`", ""))
		scope = strings.ReplaceAll(scope, `\_`, "_")
		if out[scope] == nil {
			out[scope] = map[string]bool{}
		}
		for _, p := range strings.Split(m[1], ",") {
			p = strings.ToUpper(strings.TrimSpace(p))
			if strings.Contains(p, "(") {
				continue // column privileges cover part of a table only
			}
			if p == "ALL PRIVILEGES" || p == "ALL" {
				p = "ALL"
			}
			out[scope][p] = true
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("show grants: %w", err)
	}
	return out, nil
}

// allows reports whether priv on schema.table is granted at the global,
// database or table level.
func (g grants) allows(schema, table, priv string) bool {
	schema, table = strings.ToLower(schema), strings.ToLower(table)
	for _, scope := range []string{"*.*", schema + ".*", schema + "." + table} {
		if g[scope]["ALL"] || g[scope][priv] {
			return true
		}
	}
	return false
}

func sortedEntities(m map[model.Entity]*table) []model.Entity {
	return slices.Sorted(maps.Keys(m))
}

// idKindFix is the id_kind to use for a key the database does not fill: uuid
// when a UUID fits the column, else link (new rows take the other system's id).
func idKindFix(typ string) string {
	t := strings.ToLower(typ)
	n := 0
	if i := strings.IndexByte(t, '('); i >= 0 {
		_, _ = fmt.Sscanf(t[i+1:], "%d", &n)
	}
	textual := strings.Contains(t, "char") || strings.Contains(t, "text") || t == "uuid" || t == ""
	if textual && (n == 0 || n >= 36) {
		return "set id_kind: uuid (Concord generates the key) or link (new rows take the other system's id)"
	}
	return "set id_kind: link: new rows take the other system's id as key"
}
