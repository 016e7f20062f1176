// Package retry calls an operation again after transient failures, with
// exponential backoff and jitter, honouring the wait a system asked for
// (Retry-After). It knows nothing of connectors: the caller says which errors
// are transient (connector.IsTransient) and how long a system asked to wait
// (connector.RetryAfter). The commands use it to open systems and to poll them.
package retry
