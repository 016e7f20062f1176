// Package storetest is the conformance suite of store.Store: Exercise runs the
// same subtests against any implementation, and BenchInsertBatch measures the
// engine's per-batch write path. It also holds the helpers the implementations'
// tests share: a test logger and per-test PostgreSQL schemas.
//
// It is for tests only.
package storetest
