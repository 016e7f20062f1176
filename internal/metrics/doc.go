// Package metrics exposes Concord's Prometheus metrics at /metrics: what the
// engine did (records read, outcomes, write latency, piece duration, queue
// wait, failed batches), the state the health snapshot holds (lag, queue
// depth, dead letters, quarantine, waits, pending reviews, systems and the
// store), webhook deliveries, rate-limit waits, build info, and the Go
// runtime's and the process's own metrics.
//
// Labels are config names (flow, system), a direction (forward, reverse) and
// fixed vocabularies (outcome, result): never record ids, field values or
// error text, so that the number of series stays bounded by the config.
// docs/metrics.md lists every metric.
package metrics
