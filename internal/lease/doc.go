// Package lease lets several concord serve nodes on one store split the work
// that only one of them may do at a time: each leg's poller, the periodic
// work (waits and dead-letter retries, pruning, the reporting refresh, the
// scheduled reconcile). A lease is a row in the store (store.AcquireLease):
// one holder, an expiry by the store's clock, renewed while the holder works.
//
// A node that stops releases its leases and another takes them at its next
// try (within Renew); a node that dies or loses the store keeps them until
// they expire, so another takes over within TTL + Renew. A node that cannot
// renew stops the work it holds before its lease can expire (TTL - Renew
// after the last renewal), so two nodes never work under one lease at once
// unless a node is paused (not merely slow) for longer than that margin.
package lease
