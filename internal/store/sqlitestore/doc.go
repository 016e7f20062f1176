// Package sqlitestore is the embedded, single-node store: one SQLite file in WAL
// mode, opened with modernc.org/sqlite (pure Go, driver name "sqlite").
//
// The pool holds exactly one connection, which River's SQLite driver and
// SQLite's single writer both need. Everything is therefore serialised: a
// transaction holds the only connection until it ends, so code running inside
// Store.InTx must use the Tx it was given and never the Store.
package sqlitestore
