// Package server holds Concord's HTTP side: the webhook receiver that systems
// push changes to. A delivery is verified by the system's connector (signature,
// freshness), stored raw and turned into queued work in one transaction, and
// answered 2xx at once; the records are read from the system later, by the
// queue's workers, never on the request.
package server
