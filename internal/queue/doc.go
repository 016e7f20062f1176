// Package queue is Concord's durable work queue, on River: riversqlite for the
// embedded SQLite store and riverdatabasesql for PostgreSQL, both sharing the
// store's *sql.DB so that a batch is enqueued in the same transaction that
// records the change that produced it.
//
// Each leg has its own River queue with one worker, so the batches of a leg run
// in order (an older change of a record is never applied after a newer one);
// different legs run in parallel. Live work (a won deal) has a higher priority
// than backfills. A job whose processing fails is retried by River with
// exponential backoff and jitter; after its last attempt its records are
// dead-lettered with the reason.
package queue
