package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strconv"
	"time"

	"github.com/concord-sync/concord/internal/lease"
)

// The leases of serve's work that one node at a time does, whatever the
// number of serve nodes on the store (docs/deploy.md): each leg's poller, the
// engine's periodic work, pruning, the reporting refresh, the scheduled
// reconcile, and the alert rules on what all nodes share. The workers run on
// every node.
const (
	tickLease      = "tick"
	pruneLease     = "prune"
	reportLease    = "report"
	reconcileLease = "reconcile"
	alertsLease    = "alerts"
)

// pollLease is the lease of a leg's poller.
func pollLease(leg string) string { return "poll:" + leg }

// nodeName names this serve process in the store's leases: host, pid and a
// random suffix (a restarted container may reuse both).
func nodeName() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "concord"
	}
	var b [3]byte
	_, _ = rand.Read(b[:])
	return host + ":" + strconv.Itoa(os.Getpid()) + ":" + hex.EncodeToString(b[:])
}

// newLeases returns serve's leases on the store.
func (a *app) newLeases() *lease.Leases {
	return lease.New(a.store, lease.Config{Node: a.node, Logger: a.log})
}

// leased runs fn under the lease name (see lease.Leases.Run).
func (a *app) leased(ctx context.Context, name string, fn func(ctx context.Context)) {
	a.leases.Run(ctx, name, fn)
}

// leaseStat is one lease in GET /stats.
type leaseStat struct {
	Name      string    `json:"name"`
	Holder    string    `json:"holder"`
	Since     time.Time `json:"since"`
	ExpiresAt time.Time `json:"expires_at"`
	Expired   bool      `json:"expired,omitempty"`
}

// leaseStats lists the store's leases for GET /stats.
func (a *app) leaseStats(ctx context.Context) ([]leaseStat, error) {
	ls, err := a.store.Leases(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]leaseStat, 0, len(ls))
	for _, l := range ls {
		out = append(out, leaseStat{Name: l.Name, Holder: l.Holder, Since: l.AcquiredAt, ExpiresAt: l.ExpiresAt, Expired: l.Expired})
	}
	return out, nil
}
