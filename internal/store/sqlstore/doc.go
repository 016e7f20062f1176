// Package sqlstore is the database/sql implementation of store.Store shared by
// sqlitestore and pgstore. It holds everything the two dialects have in common
// (transactions, savepoints, migrations, reads) and switches on the dialect
// only for bulk writes and many-id lookups: SQLite gets chunked multi-row
// VALUES and IN lists, PostgreSQL gets one unnest/ANY statement per call with a
// fixed text, so pgx reuses its prepared statement.
//
// Times are truncated to the microsecond and returned in UTC. SQLite keeps them
// as INTEGER unix microseconds, PostgreSQL as TIMESTAMPTZ. Empty byte slices are
// stored as NULL and read back as nil.
package sqlstore
