package connector

import (
	"context"
	"time"

	"github.com/concord-sync/concord/internal/model"
)

// Connector is an opened connection to one system. All methods are safe for
// concurrent use unless the connector says otherwise in its package doc.
type Connector interface {
	// Entities returns the canonical entities this system is configured for, with
	// the canonical fields each one maps.
	Entities() []EntityInfo

	// Read returns the changes to entity since cursor, oldest first, at most
	// req.Limit records. An empty cursor reads from the beginning. The returned
	// Next cursor, once the caller has durably queued the records, is passed to the
	// next Read; Done is true when nothing newer is waiting. Sources that detect
	// changes with an overlap window may return records already seen; the engine
	// deduplicates by id and version.
	Read(ctx context.Context, req ReadRequest) (ReadResult, error)

	// Get returns the current records with the given ids in this system. Ids that do
	// not exist are absent from the map, not an error.
	Get(ctx context.Context, entity model.Entity, ids []string) (map[string]model.Record, error)

	// Lookup finds records by the id the other system gave them: the value stored
	// in this system's link field (a column, a unique property, a party
	// identifier). It returns records keyed by that link key; keys that match
	// nothing are absent. This is how a retried create finds the record an earlier
	// attempt made before it crashed.
	Lookup(ctx context.Context, entity model.Entity, linkKeys []string) (map[string]model.Record, error)

	// Write applies a batch of creates and updates and returns one result per op,
	// in op order. A record the system refuses is a per-record failure in its
	// Result; the returned error is for failures of the whole call (network down,
	// bad credentials), after which no result is trusted.
	Write(ctx context.Context, entity model.Entity, ops []Op) ([]Result, error)

	// Close releases the connection. It is safe to call more than once.
	Close(ctx context.Context) error
}

// EntityInfo describes one entity as a system maps it.
type EntityInfo struct {
	Entity model.Entity
	// Fields are the canonical field names the system can read or write.
	Fields []string
	// ReadOnly lists fields the system computes and never accepts in a write.
	ReadOnly []string
}

// ReadRequest asks for changes since a cursor.
type ReadRequest struct {
	Entity model.Entity
	Cursor string
	// Limit is the most records to return; 0 means the connector's default.
	Limit int
	// Fields are the canonical fields the caller needs; nil means all.
	Fields []string
}

// ReadResult is one page of changes.
type ReadResult struct {
	Records []model.Record
	// Next is the cursor to pass to the next Read. It is opaque to the engine.
	Next string
	// Done is true when no newer changes are waiting.
	Done bool
}

// OpKind says whether an Op creates or updates.
type OpKind string

// The kinds of write.
const (
	OpCreate OpKind = "create"
	OpUpdate OpKind = "update"
)

// Op is one record to write.
type Op struct {
	Kind OpKind
	// ID is the target record's id, for updates.
	ID string
	// LinkKey is the source record's id, stored in the target's link field on
	// create so that a retry can find the record with Lookup.
	LinkKey string
	// Version, when not empty, is the version the update was planned against;
	// connectors with optimistic concurrency refuse the write if it changed.
	Version string
	// Fields are the values to set; only these fields are written.
	Fields model.Fields
}

// Result is the outcome of one Op.
type Result struct {
	// ID is the record's id in the target (new for creates).
	ID string
	// Version is the record's version after the write, when the system has one.
	Version string
	// UpdatedAt is the record's modification time after the write, when known.
	UpdatedAt time.Time
	// Existed is set on the result of a create that a CreateUpserter applied
	// to a record already holding the op's link key (one an earlier attempt
	// made): the record was updated, not added.
	Existed bool
	// Err is the per-record failure, nil on success. Wrap it with Permanent when a
	// retry cannot succeed (validation refused); anything else is retried.
	Err error
}
