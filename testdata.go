// Package concord holds files of the repository that Go code embeds: the
// Northwind sample database in testdata/northwind (Microsoft Public License, see
// testdata/northwind/LICENSE), used by internal/northwind. The program itself is
// cmd/concord.
package concord

import _ "embed"

// NorthwindSQL is testdata/northwind/northwind.sql, the Northwind sample database
// as a PostgreSQL dump (github.com/pthom/northwind_psql).
//
//go:embed testdata/northwind/northwind.sql
var NorthwindSQL []byte
