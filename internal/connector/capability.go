package connector

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/shopspring/decimal"

	"github.com/concord-sync/concord/internal/model"
)

// Archiver is implemented by connectors that can archive (soft-delete) records.
// Concord never deletes financial records; a delete in the source archives or flags.
type Archiver interface {
	Archive(ctx context.Context, entity model.Entity, ids []string) ([]Result, error)
}

// WebhookVerifier is implemented by connectors whose system pushes changes.
// VerifyWebhook checks the delivery's signature and freshness and returns the
// changes it announces. Its errors wrap ErrWebhookForged, ErrWebhookStale or
// ErrWebhookMalformed, so the receiver can count refusals by kind.
type WebhookVerifier interface {
	VerifyWebhook(r *http.Request, body []byte) ([]WebhookEvent, error)
}

// Webhook refusals, checked with errors.Is.
var (
	// ErrWebhookForged: the signature is missing or does not match.
	ErrWebhookForged = errors.New("webhook signature does not match")
	// ErrWebhookStale: the delivery's timestamp is too old (a replay).
	ErrWebhookStale = errors.New("webhook timestamp too old")
	// ErrWebhookMalformed: the body or headers cannot be read.
	ErrWebhookMalformed = errors.New("webhook delivery malformed")
)

// WebhookEvent is one change announced by a webhook delivery.
type WebhookEvent struct {
	// ID is the system's id for the event, as sent; it need not be unique.
	ID string
	// Key identifies the event for duplicate suppression: the same for every
	// delivery of one event, different for different events. Empty means ID.
	Key      string
	Entity   model.Entity
	RecordID string
	// Unrouted, when not empty, says why the event announces no record Concord
	// reads (an association change, an unmapped object type): the receiver
	// records it and goes on with the delivery's other events.
	Unrouted string
}

// Pinger is implemented by connectors that can check their connection cheaply.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Inspector is implemented by connectors that can describe what their system
// holds, whatever the config maps: tables and columns, object types and
// properties, models and fields. `concord init` proposes a mapping from it and
// `concord doctor` checks the config against it. A connector implementing it
// opens with no entities configured.
type Inspector interface {
	Inspect(ctx context.Context) (Catalog, error)
}

// Catalog is what a system holds.
type Catalog struct {
	// Objects are the tables, object types or models, sorted by name.
	Objects []Object
}

// Object is one table, object type or model.
type Object struct {
	Name string
	// Label is a human name when the system has one ("Party", "Companies").
	Label string
	// Key lists the primary key columns (sql), empty where the system has its own ids.
	Key     []string
	Columns []Column
	// Indexes lists the indexes over columns (sql).
	Indexes []Index
	// Triggers names the triggers on the table (sql).
	Triggers []string
	// Rows is an estimate of the number of records, -1 when unknown.
	Rows int64
}

// Column is one column, property or field.
type Column struct {
	Name  string
	Label string
	// Type is the system's own type name (integer, varchar(40), string, many2one).
	Type string
	// Ref names the object a reference column points to, when known.
	Ref      string
	Nullable bool
	ReadOnly bool
	// Unique is true when a unique index or constraint covers the column alone.
	Unique bool
	// Default is the column's default expression, if any.
	Default string
}

// Index is one index.
type Index struct {
	Name    string
	Columns []string
	Unique  bool
}

// Doctor is implemented by connectors that check their configured mapping
// against the live system: every mapped table, column, property and model
// exists, link fields are unique, change detection works, the credentials may
// read and write what the flows need.
type Doctor interface {
	Diagnose(ctx context.Context) ([]Problem, error)
}

// Problem is one thing a Doctor found wrong.
type Problem struct {
	// Setting is the dotted path of the connector setting at fault
	// ("entities.account.fields.phone"), used to name its line in the config;
	// empty when no one setting is.
	Setting string
	// Msg says what is wrong, naming the table, column, property or model.
	Msg string
	// Fix says what to do about it (a DDL statement, a setting to change).
	Fix string
	// Warning marks a problem that does not stop a sync (a missing index).
	Warning bool
	// Entity is the canonical entity the problem is about, when one is.
	Entity model.Entity
	// Writes marks a problem that matters only when a flow writes Entity into
	// the system (the credentials may not write it, a mapped property is
	// read-only): `concord doctor` leaves it out for a system that is only
	// read from.
	Writes bool
}

// RateReader is implemented by connectors whose system holds exchange rates
// (an ERP). Reconcile and the reports convert amounts between currencies only
// with the rates it returns, never with rates from elsewhere. Rates returns
// every rate the system holds, in no particular order; a system that holds
// none returns an empty list and no error. ctx cancels the read.
type RateReader interface {
	Rates(ctx context.Context) ([]Rate, error)
}

// Rate is one exchange rate a system holds: from Date on (until the next rate
// of the same pair), one unit of Base is worth Rate units of Currency. This
// is Tryton's convention (a currency's rate against the company currency):
// with Base EUR, Currency USD and Rate 1.08, 100 EUR are 108 USD and 108 USD
// are 100 EUR.
type Rate struct {
	Currency string
	Base     string
	// Date is the day the rate applies from, at midnight UTC.
	Date time.Time
	Rate decimal.Decimal
}

// CreateUpserter is implemented by connectors whose creates are upserts by the
// link key: in one atomic step the target updates the record that already
// holds the op's LinkKey in its link field, or adds it when none does, so a
// retried create never duplicates (Result.Existed tells which happened).
// CreatesUpsert reports whether that holds for creates of entity right now
// (a HubSpot link property that is not unique makes it false). The engine then
// skips the Lookup before creating where its answer could not change what the
// create does.
type CreateUpserter interface {
	CreatesUpsert(entity model.Entity) bool
}

// WriteBatchSizer is implemented by connectors whose Write sends records in
// requests of a fixed size (HubSpot: 100 per batch call). WriteBatchSize
// returns it for entity; the engine then writes pieces of a multiple of it,
// so that no request goes out part-empty while the system's request budget
// is what limits the sync.
type WriteBatchSizer interface {
	WriteBatchSize(entity model.Entity) int
}

// RecordLinker is implemented by connectors that know the web page of a
// record in their system (the console links to it).
type RecordLinker interface {
	// RecordURL returns the page of the record, or "" when there is none.
	RecordURL(entity model.Entity, id string) string
}
