// Package connectortest is the conformance suite every connector must pass.
//
// A connector's test builds a Harness (how to open a fresh, empty system and
// what valid, changed and invalid fields look like for one entity) and calls Run.
// Run checks the contract of connector.Connector: batch creates with one result
// per op, Get, Read with paging and change detection, Lookup by link key, partial
// updates, per-record failures, Close and concurrent writes. Features a connector
// does not claim are skipped in their own subtests only.
//
// This package imports testing and must only be imported from tests.
package connectortest
