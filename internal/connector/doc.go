// Package connector is the contract between the sync engine and the thin
// translation layer for one product (SQL database, Tryton, HubSpot, ...).
//
// A connector reads changes since a cursor, fetches and looks up records, writes
// batches with a result per record, and describes its fields. Optional
// capabilities are separate small interfaces found by type assertion. Connectors
// register themselves in a Registry built by the caller; there are no init globals.
// The conformance suite in connectortest checks every connector against this
// contract.
package connector
