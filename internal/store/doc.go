// Package store is the seam between the engine and its durable state: links,
// events, cursors, fingerprints, quarantine and dead letters. It has two
// implementations behind one interface, sqlitestore (the embedded default, WAL)
// and pgstore (PostgreSQL, for many nodes), each with embedded migrations, and one
// conformance suite, storetest, run against both.
//
// Both implementations are built on database/sql so that the durable queue (River)
// can enqueue work in the same *sql.Tx that records it.
package store
