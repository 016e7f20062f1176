// Package logwatch is the owner's watch in the log: an engine.Observer that
// says, at info level, what each poll read and what each recorded piece of a
// batch applied, and at warn or info level every record that was not synced,
// with its id and the reason. The messages and keys are stable and documented
// in docs/operations.md ("Logs"); they name flows as users know them
// (flow=<flow> direction=forward|reverse), never the engine's legs.
package logwatch
