// Package sqlconn is the sql connector: it syncs an in-house CRM or ERP through
// its database (SQLite via modernc.org/sqlite, PostgreSQL via pgx, MySQL and
// MariaDB via go-sql-driver/mysql), one table per canonical entity.
//
// Change detection reads rows in (updated_at, id) order after a cursor and
// re-delivers rows from an overlap window before it, so rows whose transaction
// committed late are not lost; the engine deduplicates by id and version (the
// row's updated_at). Writes run in one transaction per batch, with multi-row
// statements in a savepoint that is split in halves when the database refuses
// it (row by row with a savepoint each for entities with lines), so a refused
// row fails alone. Table and column names come from the config,
// are validated and always quoted; values are always bound parameters. Numbers
// are read as text and converted with shopspring/decimal, never through float64.
//
// A lines field (the order lines of an order, deal or invoice) maps to a child
// table: reads load the lines of a page of parents with one IN query per chunk,
// writes insert or replace them inside the parent's savepoint and set the
// parent's updated_at, so a line change is a change of the parent.
// See docs/connectors/sql.md for the settings and the storage formats.
//
// A Conn is safe for concurrent use.
package sqlconn
