package config

import (
	"path/filepath"
	"time"
)

// Report configures the reporting database (`concord report`): where it is
// and how often serve refreshes it. Section present or not, the reporting
// database is kept up to date once it exists.
type Report struct {
	// Configured is true when the file has a report section: sync --once and
	// serve then refresh the reporting database even before it exists.
	Configured bool
	// Path is the absolute path of the SQLite reporting database, used when
	// the store is SQLite; by default concord-report.db next to the store's
	// file. With a PostgreSQL store the reporting database is the schema
	// Schema of the store's database.
	Path string
	// Schema is the PostgreSQL schema of the reporting database.
	Schema string
	// Every is how often serve refreshes it.
	Every time.Duration
	// Dir is a directory of the user's own reports (NAME.sql files), absolute;
	// empty for none.
	Dir string
	// Currency, when set, is the ISO 4217 currency reports convert money
	// into with the ERP's rates (concord report --currency overrides it);
	// empty: per currency.
	Currency string
}

// Report defaults.
const (
	DefaultReportEvery  = 15 * time.Minute
	DefaultReportSchema = "concord_report"
	DefaultReportFile   = "concord-report.db"
)

var reportSchema = object("The reporting database `concord report` queries (see docs/reporting.md). Optional: once the reporting database exists (after a first concord report refresh) sync --once and serve keep it up to date; with this section they do from the start.", map[string]*jsonSchema{
	"path": {Type: "string", MinLength: ptr(1), Default: DefaultReportFile,
		Description: "SQLite file of the reporting database (store driver sqlite), relative to the config file. Default: concord-report.db next to the store's file."},
	"schema": {Type: "string", Pattern: `^[a-z_][a-z0-9_]*$`, Default: DefaultReportSchema,
		Description: "PostgreSQL schema of the reporting database (store driver postgres), in the store's database."},
	"every":    duration("How often concord serve refreshes the reporting database from both systems.", "15m"),
	"currency": currencySchema("The currency concord report converts money into (--currency overrides it), with the ERP's own exchange rates at each record's date. Not set: per currency, nothing converted."),
	"reports_dir": {Type: "string", MinLength: ptr(1), Examples: []any{"reports"},
		Description: "Directory of your own reports, one NAME.sql file each, relative to the config file; a file with a built-in report's name replaces it."},
})

func (l *loader) report(n *node) {
	m := l.object(n, "report", reportSchema)
	r := &l.cfg.Report
	r.Configured = n != nil
	r.Schema = DefaultReportSchema
	r.Every = DefaultReportEvery
	r.Path = ""
	if l.cfg.Store.Path != "" {
		r.Path = filepath.Join(filepath.Dir(l.cfg.Store.Path), DefaultReportFile)
	}
	if e, ok := m["path"]; ok {
		if p, ok := l.str(e.v, "report.path"); ok {
			if l.cfg.Store.Driver == DriverPostgres {
				l.add(e.k, "report.path applies to a sqlite store; with postgres the reporting database is report.schema in the store's database")
			}
			if !filepath.IsAbs(p) {
				p = filepath.Join(l.cfg.Dir, p)
			}
			r.Path = p
		}
	}
	if e, ok := m["schema"]; ok {
		if s, ok := l.str(e.v, "report.schema"); ok {
			r.Schema = s
		}
	}
	if e, ok := m["every"]; ok {
		if v, ok := l.duration(e.v, "report.every"); ok {
			if v < time.Minute {
				l.add(e.v, "report.every is %s; refresh at most once a minute (each refresh reads both systems' changes)", v)
			} else {
				r.Every = v
			}
		}
	}
	if e, ok := m["reports_dir"]; ok {
		if p, ok := l.str(e.v, "report.reports_dir"); ok {
			if !filepath.IsAbs(p) {
				p = filepath.Join(l.cfg.Dir, p)
			}
			r.Dir = p
		}
	}
	if e, ok := m["currency"]; ok {
		r.Currency, _ = l.currency(e.v, "report.currency")
	}
}
