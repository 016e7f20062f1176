package initcfg

import (
	"strings"

	"github.com/concord-sync/concord/internal/connector"
	sqlconn "github.com/concord-sync/concord/internal/connector/sql"
)

// The sql drivers, as in docs/connectors/sql.md.
const (
	driverSQLite = sqlconn.DriverSQLite
)

// sqlDDL fills m.UpdatedAt and m.Link (when they are missing, with the names
// the DDL adds: updated_at and linkName) and returns the statements that add
// what o lacks (sqlconn.ChangeDetectionDDL, sqlconn.LinkDDL): the updated_at
// column, an index on (updated_at, id), the triggers that maintain updated_at
// when other programs change a row without setting it, and a link column with
// a unique index.
func sqlDDL(driver string, o *connector.Object, m *EntityMap, linkName string) []string {
	table := strings.Split(o.Name, ".")
	haveColumn := m.UpdatedAt != ""
	if !haveColumn {
		m.UpdatedAt = "updated_at"
	}
	cd := sqlconn.ChangeDetection{Driver: driver, Table: table, ID: m.ID, UpdatedAt: m.UpdatedAt,
		AddColumn: !haveColumn, AddIndex: !hasIndexOn(o, m.UpdatedAt), AddTrigger: !haveColumn || !maintained(o, m.UpdatedAt)}
	if c := catalogColumn(o, m.UpdatedAt); c != nil {
		cd.UpdatedAtType = c.Type
	}
	out := sqlconn.ChangeDetectionDDL(cd)
	addLink := m.Link == ""
	if addLink {
		m.Link = linkName
	}
	if c := catalogColumn(o, m.Link); addLink || c == nil || !c.Unique {
		out = append(out, sqlconn.LinkDDL(driver, table, m.Link, addLink)...)
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
