package store

import "time"

// LeaseParams are the arguments of AcquireLease and ReleaseLease.
type LeaseParams struct {
	// Name is what is leased, e.g. "poll:customers".
	Name string
	// Holder is the node asking (see Lease.Holder).
	Holder string
	// TTL is how long an acquired or renewed lease lasts from now
	// (AcquireLease only).
	TTL time.Duration
}

// Lease is one row of the store's leases.
type Lease struct {
	Name string
	// Holder is the node that holds it, or held it last.
	Holder     string
	AcquiredAt time.Time
	ExpiresAt  time.Time
	// Expired is set when ExpiresAt has passed by the store's clock: any node
	// may take the lease.
	Expired bool
}

// TakeTokensParams are the arguments of TakeTokens.
type TakeTokensParams struct {
	// Bucket names the budget: one per external account.
	Bucket string
	// Want is how many tokens the caller would like (at least 1).
	Want int
	// Capacity is the most tokens the bucket holds; a new bucket starts full.
	Capacity int
	// Rate is how many tokens are added per second, up to Capacity.
	Rate float64
	// Floor is how many tokens the caller must leave in the bucket: 0 for
	// live work, more for a backfill, so that live work always finds some.
	Floor int
}

// TokenGrant is the answer of TakeTokens.
type TokenGrant struct {
	// Granted is how many tokens were taken, from 0 to Want.
	Granted int
	// Wait, when nothing was granted, is how long until one token above the
	// floor is expected.
	Wait time.Duration
}
