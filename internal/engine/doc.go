// Package engine moves changes along one flow: read -> clean -> translate -> link
// -> plan -> write -> record.
//
// A flow is split into legs, one per direction (a one-way flow has one leg, a
// two-way flow two). Poll reads a page of changes from a leg's source and, in one
// store transaction, enqueues them as a Batch and advances the cursor: the cursor
// never passes a change that is not durably queued. Process takes a Batch (from the
// queue) through Plan, which reads but writes nothing, and Execute, which writes the
// target and then records the events, links, fingerprints, quarantine entries,
// dead letters and retries of the batch in one transaction.
//
// The package is named engine, not sync, so as not to shadow the standard library.
package engine
