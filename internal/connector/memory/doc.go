// Package memory is an in-memory connector: a fake system for tests, demos and
// the engine benchmark.
//
// A Conn holds records per entity in a map keyed by id, an index from link key to
// id, and an append-only change log ordered by a per-connection sequence number.
// Every write (Write, Archive, Put) gives the record the next sequence number and a
// strictly increasing UpdatedAt, so Read is a binary search in the log plus a walk
// over at most Limit live entries: the cursor is the last sequence number
// returned. Ids are "m" followed by the sequence number of the record's creation;
// Version is the sequence number of its last change.
//
// A Conn is safe for concurrent use. Tests inject failures with SetFailFunc (per
// record) and SetWriteErr (whole call). Conns opened through the registry come from
// a Hub, so instances with the same system name share state within a process and a
// test can seed and inspect them.
package memory
