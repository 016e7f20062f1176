package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/concord-sync/concord/internal/model"
)

// ErrNotFound is returned when a looked-up row does not exist.
var ErrNotFound = errors.New("not found")

// Store is the durable state of one Concord installation. All methods are safe for
// concurrent use.
type Store interface {
	Ops

	// InTx runs fn in one transaction: committed if fn returns nil, rolled back
	// otherwise (and on panic). fn must not keep tx after it returns.
	InTx(ctx context.Context, fn func(tx Tx) error) error

	// DB returns the underlying pool, for the queue's driver.
	DB() *sql.DB

	// Dialect returns "sqlite" or "postgres".
	Dialect() string

	// Close closes the pool. It is safe to call more than once.
	Close() error

	// PruneEvents deletes the events that started before p.Before, and the
	// sweep passes last updated before it, in chunks of p.Chunk rows, each in
	// its own short transaction, so that the store stays writable while a
	// large log is pruned. It never deletes an event an open dead letter or a
	// wait points at, nor the events of a record with an open quarantine entry.
	// With p.DryRun it only counts. An error (ctx cancelled) returns what was
	// deleted so far.
	PruneEvents(ctx context.Context, p *PruneEventsParams) (PruneResult, error)

	// AcquireLease takes the lease p.Name for p.Holder until p.TTL from now,
	// when it is free, expired, or already p.Holder's (then it is renewed).
	// It returns whether p.Holder holds the lease now. On PostgreSQL the
	// store's clock decides expiry, so the nodes' clocks need not agree.
	AcquireLease(ctx context.Context, p *LeaseParams) (bool, error)

	// ReleaseLease gives up the lease p.Name when p.Holder holds it, so that
	// another node may take it at once; otherwise it does nothing.
	ReleaseLease(ctx context.Context, p *LeaseParams) error

	// Leases lists the leases by name, expired ones included. It only reads.
	Leases(ctx context.Context) ([]Lease, error)

	// TakeTokens refills the token bucket p.Bucket by the time elapsed since
	// it was last used (p.Rate per second, up to p.Capacity; a new bucket
	// starts full), then takes up to p.Want tokens while leaving p.Floor in
	// it, in one transaction: concurrent callers, on any node, never share a
	// token.
	TakeTokens(ctx context.Context, p *TakeTokensParams) (TokenGrant, error)
}

// Tx is a transaction on the store.
type Tx interface {
	Ops
	// SQL returns the underlying transaction, so that River can enqueue a job in it.
	SQL() *sql.Tx
}

// Ops are the operations available both on the Store and inside a Tx.
type Ops interface {
	// PutLinks inserts links, or updates the external id of an existing
	// (entity, concord id, system) pairing. A link whose (system, entity,
	// external id) already belongs to another concord id is an error wrapping
	// ErrConflict; nothing of the batch is written then.
	PutLinks(ctx context.Context, p *PutLinksParams) error

	// GetLinks returns the links of the given external ids in one system, keyed by
	// external id. Unlinked ids are absent.
	GetLinks(ctx context.Context, p *GetLinksParams) (map[string]Link, error)

	// GetLinksByConcordID returns the links of the given concord ids in one system,
	// keyed by concord id. Unlinked ids are absent.
	GetLinksByConcordID(ctx context.Context, p *GetLinksByConcordIDParams) (map[string]Link, error)

	// ListLinks lists links, newest first, filtered by p.
	ListLinks(ctx context.Context, p *ListLinksParams) ([]Link, error)

	// InsertEvents appends events and returns their ids in order.
	InsertEvents(ctx context.Context, events []Event) ([]int64, error)

	// GetEvent returns one event, or ErrNotFound.
	GetEvent(ctx context.Context, id int64) (Event, error)

	// ListEvents lists events, newest first, filtered by p.
	ListEvents(ctx context.Context, p *ListEventsParams) ([]Event, error)

	// CountEvents returns the number of events per bucket, flow and outcome
	// since p.Since, oldest bucket first, from counts kept with the events
	// (they stay exact when events are pruned later than p.Since).
	CountEvents(ctx context.Context, p *CountEventsParams) ([]EventCount, error)

	// StartSweep opens a new pass of a schedule flow, started at at: the counts
	// of the pieces recorded after it go into it (AddSweepCounts).
	StartSweep(ctx context.Context, flow string, at time.Time) error

	// AddSweepCounts adds one piece's counts to the latest pass of c.Flow (one
	// summary row per flow and pass, however many pieces it has), opening a pass
	// started at c.At when the flow has none.
	AddSweepCounts(ctx context.Context, c *SweepCounts) error

	// ListSweeps lists sweep passes, newest first, filtered by p.
	ListSweeps(ctx context.Context, p *ListSweepsParams) ([]Sweep, error)

	// GetCursor returns the cursor of a flow's source, or "" when none was saved.
	GetCursor(ctx context.Context, p *CursorKey) (string, error)

	// SetCursor saves a cursor.
	SetCursor(ctx context.Context, p *SetCursorParams) error

	// GetFingerprints returns the saved state of source records for one flow, keyed
	// by external id. Records never applied are absent.
	GetFingerprints(ctx context.Context, p *GetFingerprintsParams) (map[string]Fingerprint, error)

	// PutFingerprints inserts or replaces fingerprints.
	PutFingerprints(ctx context.Context, fps []Fingerprint) error

	// Quarantine records bad input, replacing an open entry for the same record.
	Quarantine(ctx context.Context, entries []QuarantineEntry) error

	// ListQuarantine lists open (unreleased) entries, newest first.
	ListQuarantine(ctx context.Context, p *ListQuarantineParams) ([]QuarantineEntry, error)

	// GetQuarantineEntry returns one entry, open or released, or ErrNotFound.
	GetQuarantineEntry(ctx context.Context, id int64) (QuarantineEntry, error)

	// ReleaseQuarantine closes the open entries of the given records (keyed by
	// external id) in one flow; it is called when a record passes validation again.
	ReleaseQuarantine(ctx context.Context, p *ReleaseQuarantineParams) error

	// InsertDeadLetters records changes that failed for a reason a person must
	// fix (or that outlasted every retry). A record has at most one open letter per
	// flow: a letter for a record whose open letter has the same cause (CauseOf of
	// the reason) updates that letter in place (reason, snapshot, event, retryable,
	// time; the attempts add up); with another cause the open letter is closed as
	// superseded and a new one opened. It returns the letters' ids in order.
	InsertDeadLetters(ctx context.Context, letters []DeadLetter) ([]int64, error)

	// ResolveDeadLetters closes the open letters of the given records of one flow
	// (the record synced later, or was dead-lettered for good by another path);
	// records without an open letter are ignored.
	ResolveDeadLetters(ctx context.Context, p *ResolveDeadLettersParams) error

	// ListDeadLetters lists open dead letters, oldest first, filtered by p.
	ListDeadLetters(ctx context.Context, p *ListDeadLettersParams) ([]DeadLetter, error)

	// GetDeadLetter returns one dead letter, or ErrNotFound.
	GetDeadLetter(ctx context.Context, id int64) (DeadLetter, error)

	// MarkDeadLettersRetried records that open dead letters were re-queued: their
	// RetriedAt is set, and AutoRetries grows for automatic retries. They stay
	// open until the record syncs.
	MarkDeadLettersRetried(ctx context.Context, p *MarkDeadLettersRetriedParams) error

	// PutWaits parks changes until a record they need is linked: one wait per
	// (flow, system, entity, external id). Parking a record that already waits
	// replaces what it waits for and its reason and makes it wakeable again, but
	// keeps its Since and Deadline.
	PutWaits(ctx context.Context, waits []Wait) error

	// DeleteWaits removes the waits of the given records of one flow (they reached
	// another outcome); records without a wait are ignored.
	DeleteWaits(ctx context.Context, p *DeleteWaitsParams) error

	// ReadyWaits returns waits not woken yet whose awaited record is now linked in
	// the system it was awaited in, optionally only those awaiting the given ids.
	ReadyWaits(ctx context.Context, p *ReadyWaitsParams) ([]Wait, error)

	// MarkWaitsWoken records that waits were re-queued, so that ReadyWaits does
	// not return them again until they are parked again.
	MarkWaitsWoken(ctx context.Context, p *DeleteWaitsParams) error

	// WaitedOn returns which of the given records of one system and entity a
	// wait awaits (a won deal waits for its account).
	WaitedOn(ctx context.Context, p *WaitedOnParams) (map[string]bool, error)

	// ListWaits lists waits, oldest first, filtered by p.
	ListWaits(ctx context.Context, p *ListWaitsParams) ([]Wait, error)

	// CountWaits returns the number of waits, of one flow when flow is not "".
	CountWaits(ctx context.Context, flow string) (int, error)

	// InsertWebhookEvents stores raw webhook events and reports, per event, whether
	// it was new: an event whose (system, key) is already stored is a repeated
	// delivery and is not stored again. Events with the same sender event id but
	// different keys are distinct and all stored.
	InsertWebhookEvents(ctx context.Context, events []WebhookEvent) ([]bool, error)

	// MarkAnnounced records that ids of a leg were announced and wait for a job,
	// and reports per id whether it was newly marked: the caller queues a job for
	// those, inside the same transaction. An id already marked is not marked again
	// (its job has not started and will read the latest values) unless its mark is
	// older than staleBefore.
	MarkAnnounced(ctx context.Context, leg string, ids []string, at, staleBefore time.Time) ([]bool, error)

	// UnmarkAnnounced removes the marks of ids of a leg: their job has started, so
	// a later announcement must queue a new one. Unmarked ids are ignored.
	UnmarkAnnounced(ctx context.Context, leg string, ids []string) error

	// PutReviews records candidate pairs waiting for a person: one row per
	// (flow, system, entity, external id, target id). A pair already pending is
	// updated (score, fields, snapshots, event, time); a pair already decided
	// (accepted or rejected) is left as it is.
	PutReviews(ctx context.Context, reviews []Review) error

	// ListReviews lists reviews, oldest first, filtered by p (by default the
	// pending ones).
	ListReviews(ctx context.Context, p *ListReviewsParams) ([]Review, error)

	// GetReview returns one review, or ErrNotFound.
	GetReview(ctx context.Context, id int64) (Review, error)

	// DecideReviews sets the state of the given pending reviews (accepted or
	// rejected) and their decision time; reviews not pending are left alone.
	// It returns how many changed.
	DecideReviews(ctx context.Context, p *DecideReviewsParams) (int, error)

	// CountReviews returns the number of pending reviews, of one flow when flow
	// is not "".
	CountReviews(ctx context.Context, flow string) (int, error)

	// ListLinked returns the external ids of p.System's p.Entity records that
	// are linked to a p.TargetEntity record in p.TargetSystem (they share a
	// concord id), in ascending order after p.After, at most p.Limit of them
	// (0 means 1000): the records a resync of a leg goes through, page by page.
	ListLinked(ctx context.Context, p *ListLinkedParams) ([]string, error)

	// CountLinked counts the records ListLinked pages through (After and Limit
	// are ignored).
	CountLinked(ctx context.Context, p *ListLinkedParams) (int, error)

	// GetLegMapping returns the mapping a leg's linked records were last brought
	// in line with, or ErrNotFound when none was remembered.
	GetLegMapping(ctx context.Context, leg string) (LegMapping, error)

	// PutLegMapping remembers a leg's mapping, replacing the previous one.
	PutLegMapping(ctx context.Context, m *LegMapping) error

	// StartResync begins a resync of r.Leg, replacing the leg's previous one
	// (finished or not): Leg, Mapping, Total and StartedAt are taken from r,
	// the progress starts at nothing queued and nothing compared.
	StartResync(ctx context.Context, r *Resync) error

	// GetResync returns the leg's latest resync, finished or not, or
	// ErrNotFound.
	GetResync(ctx context.Context, leg string) (Resync, error)

	// AdvanceResync records that the leg's resync queued more of its records:
	// After becomes the last id queued, Queued grows by p.Queued, and QueuedAll
	// is set when p.QueuedAll. Called in the transaction that queues them.
	AdvanceResync(ctx context.Context, p *AdvanceResyncParams) error

	// AddResyncCounts adds one recorded piece's counts to the leg's resync
	// while it is not finished; without one it does nothing.
	AddResyncCounts(ctx context.Context, c *ResyncCounts) error

	// FinishResync marks the leg's resync finished at at; a finished or
	// missing one is left as it is.
	FinishResync(ctx context.Context, leg string, at time.Time) error

	// Backlog returns, per leg (the flow column of the store's tables), what
	// is open now: dead letters, quarantine entries, waits and pending
	// reviews, with the oldest wait and review; with p.LastEvent, also the
	// time of the leg's latest event. Legs with nothing open (and, with
	// LastEvent, no event) are absent. It only reads.
	Backlog(ctx context.Context, p *BacklogParams) (map[string]LegBacklog, error)

	// Heartbeat records that node is alive at at, replacing its previous
	// heartbeat: a real write, so that an error means the store is not
	// writable (a full disk, a read-only file, a revoked grant).
	Heartbeat(ctx context.Context, node string, at time.Time) error
}

// BacklogParams are the arguments of Backlog.
type BacklogParams struct {
	// LastEvent adds each leg's latest event time (a scan of the event log's
	// index: for concord status without serve, not for every few seconds).
	LastEvent bool
}

// LegBacklog is what is open on one leg now.
type LegBacklog struct {
	DeadLetters    int
	Quarantine     int
	Waiting        int
	OldestWait     time.Time // zero without waits
	PendingReviews int
	OldestReview   time.Time // zero without pending reviews
	LastEvent      time.Time // zero unless asked for, or without events
}

// ListLinkedParams are the arguments of ListLinked and CountLinked.
type ListLinkedParams struct {
	System       string
	Entity       model.Entity
	TargetSystem string
	TargetEntity model.Entity
	// After pages: only ids greater than it.
	After string
	Limit int // 0 means 1000
}

// LegMapping is what decides the values a leg writes (its fields, their types,
// clean rules and renames, the systems' settings for the entities), as the
// leg's linked records were last brought in line with it.
type LegMapping struct {
	Leg string
	// Fingerprint is a hash of Description.
	Fingerprint string
	// Description is the mapping as JSON (an object of strings), kept to say
	// what changed.
	Description string
	UpdatedAt   time.Time
}

// Resync is the progress of one resync of a leg: its linked records queued as
// forced batches, page by page, and compared with the target by them.
type Resync struct {
	Leg string
	// Mapping is the fingerprint of the mapping the resync applies.
	Mapping   string
	StartedAt time.Time
	UpdatedAt time.Time
	// Total is the number of linked records when it started.
	Total int
	// After is the last source id queued; the next page starts after it.
	After  string
	Queued int
	// QueuedAll is set once every linked record is queued.
	QueuedAll bool
	// Compared and Changed count the records its batches compared with the
	// target and the ones they wrote.
	Compared   int
	Changed    int
	FinishedAt time.Time // zero while running
}

// Finished reports whether the resync ended.
func (r Resync) Finished() bool { return !r.FinishedAt.IsZero() }

// AdvanceResyncParams are the arguments of AdvanceResync.
type AdvanceResyncParams struct {
	Leg       string
	After     string
	Queued    int
	QueuedAll bool
	At        time.Time
}

// ResyncCounts are one recorded piece's counts, added to its leg's resync.
type ResyncCounts struct {
	Leg      string
	Compared int
	Changed  int
	At       time.Time
}

// WebhookEvent is one change a system announced by webhook, as received.
type WebhookEvent struct {
	System string
	// EventID is the sender's id for the event, kept for people; it need not be
	// unique.
	EventID string
	// Key identifies the event for duplicate suppression: the same for every
	// delivery of one event, different for different events. Empty means EventID.
	Key      string
	Entity   model.Entity
	RecordID string
	// Skipped, when not empty, says why the event was recorded but not routed
	// (an association change, an unmapped object type).
	Skipped string
	// Body is the raw delivery the event came in (shared by its events).
	Body       []byte
	ReceivedAt time.Time
}

// ErrConflict is returned when a write would break a uniqueness promise.
var ErrConflict = errors.New("conflict")

// Link pairs a record in one system with its concord id.
type Link struct {
	Entity     model.Entity
	ConcordID  string
	System     string
	ExternalID string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// PutLinksParams are the arguments of PutLinks.
type PutLinksParams struct {
	Links []Link
}

// GetLinksParams are the arguments of GetLinks.
type GetLinksParams struct {
	System      string
	Entity      model.Entity
	ExternalIDs []string
}

// GetLinksByConcordIDParams are the arguments of GetLinksByConcordID.
type GetLinksByConcordIDParams struct {
	System     string
	Entity     model.Entity
	ConcordIDs []string
}

// ListLinksParams filter ListLinks; zero values match everything.
type ListLinksParams struct {
	Entity    model.Entity
	System    string
	ConcordID string
	Limit     int // 0 means 100
}

// Outcome is the result of one event.
type Outcome string

// The outcomes of an event.
const (
	OutcomeCreated     Outcome = "created"
	OutcomeUpdated     Outcome = "updated"
	OutcomeUnchanged   Outcome = "unchanged"   // plan found nothing to write
	OutcomeStale       Outcome = "stale"       // older than the last applied change
	OutcomeQuarantined Outcome = "quarantined" // failed validation
	OutcomeFailed      Outcome = "failed"      // the target refused, or the attempt failed
	OutcomeRetrying    Outcome = "retrying"    // failed, will be retried
	OutcomeDead        Outcome = "dead"        // failed its last attempt; dead-lettered
	OutcomeWaiting     Outcome = "waiting"     // parked until a record it needs is linked
	OutcomeReview      Outcome = "review"      // a possible match waits for a person (concord match); nothing written
	OutcomeOperator    Outcome = "operator"    // a person acted on the record through the console; nothing written by the event itself
	OutcomeNotCreated  Outcome = "not_created" // no link, and the flow never creates (unlinked: update_only)
)

// Event is one attempt to apply one change.
type Event struct {
	ID            int64
	Flow          string
	Entity        model.Entity
	SourceSystem  string
	SourceID      string
	TargetSystem  string
	TargetID      string
	ConcordID     string
	ConfigVersion string
	// Snapshot is the source record as read, JSON (model.Record).
	Snapshot []byte
	// Plan is the planned diff, JSON (sync.Plan of the record).
	Plan []byte
	// Response is the target's answer, JSON.
	Response []byte
	Outcome  Outcome
	Error    string
	Attempt  int
	// Replay is the id of the event this one re-applied, 0 if none.
	Replay    int64
	StartedAt time.Time
	Duration  time.Duration
}

// ListEventsParams filter ListEvents; zero values match everything.
type ListEventsParams struct {
	Flow     string
	Outcome  Outcome
	SourceID string
	// System matches events read from or written to the system.
	System string
	// RecordID matches events whose source or target record has this id.
	RecordID string
	// Since and Until keep the events started in [Since, Until); zero means
	// unbounded.
	Since, Until time.Time
	// BeforeID pages backwards: only events with a smaller id.
	BeforeID int64
	// AfterID pages forwards: only events with a greater id (still listed
	// newest first: the Limit events just above AfterID).
	AfterID int64
	Limit   int // 0 means 100
}

// EventCount is how many events of one flow had one outcome in one minute.
type EventCount struct {
	Minute  time.Time // the start of the minute (or of the bucket), UTC
	Flow    string
	Outcome Outcome
	N       int
}

// CountEventsParams are the arguments of CountEvents.
type CountEventsParams struct {
	// Since is the first minute counted.
	Since time.Time
	// Bucket groups the minutes (a multiple of a minute; 0 means one minute).
	Bucket time.Duration
}

// Sweep is the summary of one pass of a schedule flow: the pass compares every
// record with the target, and only the records it changed (or failed to) get
// an event; the rest are counted here.
type Sweep struct {
	ID        int64
	Flow      string
	StartedAt time.Time // when the pass began (the flow's cursor was reset)
	UpdatedAt time.Time // when its latest piece was recorded
	Compared  int       // records compared with the target
	Unchanged int       // found equal: no event
	Changed   int       // created, updated or newly linked: each has its event
}

// Other is the number of compared records with another outcome (failed,
// waiting, quarantined, stale): each has its event.
func (s Sweep) Other() int { return s.Compared - s.Unchanged - s.Changed }

// SweepCounts are one piece's counts, added to its flow's latest pass.
type SweepCounts struct {
	Flow      string
	At        time.Time
	Compared  int
	Unchanged int
	Changed   int
}

// ListSweepsParams filter ListSweeps; zero values match everything.
type ListSweepsParams struct {
	Flow  string
	Limit int // 0 means 100
}

// PruneEventsParams are the arguments of PruneEvents.
type PruneEventsParams struct {
	// Before: events that started earlier are deleted.
	Before time.Time
	// DryRun counts what would be deleted and deletes nothing.
	DryRun bool
	// Chunk is the most rows deleted per transaction; 0 means 1000.
	Chunk int
}

// PruneResult says what PruneEvents deleted (or, dry, would delete).
type PruneResult struct {
	Events int
	Sweeps int
	// Kept counts the events older than Before kept because an open dead
	// letter, a wait or an open quarantine entry needs them.
	Kept int
}

// CursorKey names a flow's read position.
type CursorKey struct {
	Flow   string
	System string
	Entity model.Entity
}

// SetCursorParams are the arguments of SetCursor.
type SetCursorParams struct {
	CursorKey
	Cursor string
}

// Fingerprint is what the engine remembers of one source record for one flow:
// the hash of the values the flow moves (echo suppression) and the source version
// last applied (an older change never overwrites a newer one).
type Fingerprint struct {
	Flow       string
	System     string
	Entity     model.Entity
	ExternalID string
	Hash       string
	Version    string
	UpdatedAt  time.Time
}

// GetFingerprintsParams are the arguments of GetFingerprints.
type GetFingerprintsParams struct {
	Flow        string
	System      string
	Entity      model.Entity
	ExternalIDs []string
}

// QuarantineEntry is a record that failed validation.
type QuarantineEntry struct {
	ID         int64
	Flow       string
	System     string
	Entity     model.Entity
	ExternalID string
	Field      string
	Reason     string
	Snapshot   []byte
	CreatedAt  time.Time
	ReleasedAt time.Time // zero while open
}

// ListQuarantineParams filter ListQuarantine.
type ListQuarantineParams struct {
	Flow  string
	Limit int // 0 means 100
}

// ReleaseQuarantineParams are the arguments of ReleaseQuarantine.
type ReleaseQuarantineParams struct {
	Flow        string
	System      string
	Entity      model.Entity
	ExternalIDs []string
}

// DeadLetter is a change that failed for a reason a person must fix, or that
// outlasted every retry: one open letter per record and flow.
type DeadLetter struct {
	ID         int64
	Flow       string
	Entity     model.Entity
	System     string // source system
	ExternalID string
	Snapshot   []byte // model.Record JSON
	Reason     string
	// Cause is the reason with its numbers blanked out (CauseOf); "" means CauseOf(Reason).
	Cause string
	// Attempts is how often the change was tried, over every retry.
	Attempts int
	// Retryable letters failed for a passing cause (a system down): they are
	// retried automatically, with backoff.
	Retryable bool
	// AutoRetries counts the automatic retries so far.
	AutoRetries int
	EventID     int64
	CreatedAt   time.Time
	UpdatedAt   time.Time // the latest failure
	RetriedAt   time.Time // zero until re-queued
	ResolvedAt  time.Time // zero while open
	// Resolution says why a letter closed: "synced", "superseded", "expired", ...
	Resolution string
}

// Open reports whether the letter still needs a person or a retry.
func (d DeadLetter) Open() bool { return d.ResolvedAt.IsZero() }

// Pending reports whether the letter was re-queued and its retry has not
// failed yet.
func (d DeadLetter) Pending() bool { return d.RetriedAt.After(d.UpdatedAt) }

// CauseOf is a reason with every run of digits replaced by "#": attempts
// counts, times and amounts vary between failures of the same cause.
func CauseOf(reason string) string {
	b := make([]byte, 0, len(reason))
	digit := false
	for i := 0; i < len(reason); i++ {
		c := reason[i]
		if c >= '0' && c <= '9' {
			if !digit {
				b = append(b, '#')
			}
			digit = true
			continue
		}
		digit = false
		b = append(b, c)
	}
	return string(b)
}

// ListDeadLettersParams filter ListDeadLetters.
type ListDeadLettersParams struct {
	Flow  string
	Limit int // 0 means 1000
	// IncludeClosed lists closed letters too.
	IncludeClosed bool
	// RetryableOnly lists only letters of passing causes.
	RetryableOnly bool
}

// ResolveDeadLettersParams are the arguments of ResolveDeadLetters.
type ResolveDeadLettersParams struct {
	Flow        string
	System      string
	Entity      model.Entity
	ExternalIDs []string
	Resolution  string
}

// MarkDeadLettersRetriedParams are the arguments of MarkDeadLettersRetried.
type MarkDeadLettersRetriedParams struct {
	IDs []int64
	// Auto marks an automatic retry (AutoRetries grows).
	Auto bool
	// At is the time of the retry; zero means now.
	At time.Time
}

// Wait is a change parked until a record it needs is linked: the awaited
// record is named by its id in AwaitSystem, and is there once it is linked to a
// record of AwaitInEntity in AwaitIn.
type Wait struct {
	Flow       string
	System     string // source system of the waiting record
	Entity     model.Entity
	ExternalID string

	AwaitSystem   string
	AwaitEntity   model.Entity
	AwaitID       string
	AwaitIn       string
	AwaitInEntity model.Entity

	Reason  string
	EventID int64
	// Since is when the record first waited; Deadline when it stops waiting
	// and becomes a dead letter.
	Since     time.Time
	Deadline  time.Time
	UpdatedAt time.Time
	WokenAt   time.Time // zero unless re-queued since it was parked
}

// DeleteWaitsParams name records of one flow.
type DeleteWaitsParams struct {
	Flow        string
	System      string
	Entity      model.Entity
	ExternalIDs []string
}

// ReadyWaitsParams filter ReadyWaits.
type ReadyWaitsParams struct {
	// AwaitSystem, AwaitEntity and AwaitIDs, when AwaitIDs is not empty, keep
	// the waits for those records only.
	AwaitSystem string
	AwaitEntity model.Entity
	AwaitIDs    []string
	Limit       int // 0 means 1000
}

// WaitedOnParams are the arguments of WaitedOn.
type WaitedOnParams struct {
	System      string
	Entity      model.Entity
	ExternalIDs []string
}

// ListWaitsParams filter ListWaits; zero values match everything.
type ListWaitsParams struct {
	Flow string
	// AwaitSystem, AwaitEntity and AwaitIDs, when AwaitIDs is not empty, keep
	// the waits for those records only.
	AwaitSystem string
	AwaitEntity model.Entity
	AwaitIDs    []string
	// DeadlineBefore keeps the waits whose deadline is before it.
	DeadlineBefore time.Time
	Limit          int // 0 means 1000
}

// ReviewState is where a match review stands.
type ReviewState string

// The states of a review.
const (
	ReviewPending  ReviewState = "pending"  // waiting for a person; the record is not written
	ReviewAccepted ReviewState = "accepted" // the pair was linked
	ReviewRejected ReviewState = "rejected" // never offered again for this record
)

// Review is a candidate pair a person must decide: a source record with no link
// and a target record that scored between the flow's review and auto_link
// thresholds.
type Review struct {
	ID int64
	// Flow is the leg that matched (the flow name, or "<flow>:reverse").
	Flow       string
	System     string // source system
	Entity     model.Entity
	ExternalID string // source record id

	TargetSystem string
	TargetEntity model.Entity
	TargetID     string

	// Score is the pair's similarity in [0,1]; Key names the deterministic key
	// that matched, if any.
	Score float64
	Key   string
	// Fields are the fields that decided the score, JSON ([]match.FieldScore).
	Fields []byte
	// Snapshot and Target are the source and target records as compared, JSON
	// (model.Record).
	Snapshot []byte
	Target   []byte

	State     ReviewState
	EventID   int64
	CreatedAt time.Time
	UpdatedAt time.Time
	DecidedAt time.Time // zero while pending
}

// ListReviewsParams filter ListReviews; zero values match everything but State,
// which defaults to the pending reviews.
type ListReviewsParams struct {
	Flow string
	// States keeps the reviews in these states; empty means pending only.
	States []ReviewState
	// MinScore keeps the reviews scoring at least this much.
	MinScore float64
	// System, Entity and ExternalIDs, when ExternalIDs is not empty, keep the
	// reviews of those source records only.
	System      string
	Entity      model.Entity
	ExternalIDs []string
	Limit       int // 0 means 1000
}

// DecideReviewsParams are the arguments of DecideReviews.
type DecideReviewsParams struct {
	IDs   []int64
	State ReviewState
	// At is the decision time; zero means now.
	At time.Time
}
