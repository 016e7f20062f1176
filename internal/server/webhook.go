package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/store"
)

// MaxBody is the largest webhook delivery accepted.
const MaxBody = 1 << 20

// Announcer turns announced changes into queued work inside a transaction;
// *engine.Engine is one.
type Announcer interface {
	EnqueueAnnounced(ctx context.Context, tx store.Tx, system string, entity model.Entity, ids []string) (int, error)
}

// WebhookStats counts what one system's deliveries did.
type WebhookStats struct {
	System     string `json:"system"`
	Deliveries int64  `json:"deliveries"` // accepted deliveries
	Events     int64  `json:"events"`     // new events queued
	Duplicates int64  `json:"duplicates"` // events delivered again, ignored
	Unrouted   int64  `json:"unrouted"`   // events recorded and skipped: no flow reads them, or they name no record (association changes, unmapped types)
	Forged     int64  `json:"forged"`     // refused: bad or missing signature
	Stale      int64  `json:"stale"`      // refused: timestamp too old (replay)
	Malformed  int64  `json:"malformed"`  // refused: unreadable
	Failed     int64  `json:"failed"`     // could not be stored; the sender retries
}

// Receiver answers POST /webhooks/{system}.
type Receiver struct {
	st        store.Store
	verifiers map[string]connector.WebhookVerifier
	ann       Announcer
	log       *slog.Logger
	now       func() time.Time

	mu    sync.Mutex
	stats map[string]*WebhookStats

	// gmu guards the deliveries waiting for the group committer, and whether
	// one runs.
	gmu        sync.Mutex
	waiting    []*delivery
	committing bool
}

// NewReceiver returns a receiver for the systems whose connectors verify
// webhooks. It does no I/O.
func NewReceiver(st store.Store, verifiers map[string]connector.WebhookVerifier, ann Announcer, log *slog.Logger) *Receiver {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Receiver{st: st, verifiers: verifiers, ann: ann, log: log, now: time.Now, stats: map[string]*WebhookStats{}}
	for sys := range verifiers {
		r.stats[sys] = &WebhookStats{System: sys}
	}
	return r
}

// Verifiers returns the webhook-capable systems among conns.
func Verifiers(conns map[string]connector.Connector) map[string]connector.WebhookVerifier {
	out := map[string]connector.WebhookVerifier{}
	for name, c := range conns {
		if v, ok := c.(connector.WebhookVerifier); ok {
			out[name] = v
		}
	}
	return out
}

// Register adds the receiver's route to mux.
func (r *Receiver) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /webhooks/{system}", r.serve)
}

// Stats returns the counters per system, sorted by system.
func (r *Receiver) Stats() []WebhookStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]WebhookStats, 0, len(r.stats))
	for _, s := range r.stats {
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b WebhookStats) int {
		if a.System < b.System {
			return -1
		}
		return 1
	})
	return out
}

func (r *Receiver) count(system string, f func(*WebhookStats)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(r.stats[system])
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	system := req.PathValue("system")
	v, ok := r.verifiers[system]
	if !ok {
		http.Error(w, "no webhook-capable system named "+system, http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, MaxBody))
	if err != nil {
		r.count(system, func(s *WebhookStats) { s.Malformed++ })
		http.Error(w, "body unreadable or larger than 1 MiB", http.StatusRequestEntityTooLarge)
		return
	}
	events, err := v.VerifyWebhook(req, body)
	if err != nil {
		status := http.StatusBadRequest
		switch {
		case errors.Is(err, connector.ErrWebhookForged):
			status = http.StatusUnauthorized
			r.count(system, func(s *WebhookStats) { s.Forged++ })
		case errors.Is(err, connector.ErrWebhookStale):
			status = http.StatusUnauthorized
			r.count(system, func(s *WebhookStats) { s.Stale++ })
		default:
			r.count(system, func(s *WebhookStats) { s.Malformed++ })
		}
		r.log.WarnContext(req.Context(), "webhook refused", "system", system, "status", status, "err", err)
		http.Error(w, http.StatusText(status), status)
		return
	}
	res, err := r.accept(req.Context(), system, events, body)
	if err != nil {
		r.count(system, func(s *WebhookStats) { s.Failed++ })
		r.log.ErrorContext(req.Context(), "webhook not stored", "system", system, "err", err)
		http.Error(w, "not stored; retry", http.StatusServiceUnavailable)
		return
	}
	r.count(system, func(s *WebhookStats) {
		s.Deliveries++
		s.Events += int64(res.queued)
		s.Duplicates += int64(res.duplicates)
		s.Unrouted += int64(res.unrouted)
	})
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"queued":%d,"duplicates":%d,"unrouted":%d}`+"\n", res.queued, res.duplicates, res.unrouted)
}

type acceptResult struct{ queued, duplicates, unrouted int }

// delivery is one verified delivery waiting for its group's commit.
type delivery struct {
	system string
	events []connector.WebhookEvent
	body   []byte
	at     time.Time
	// done receives the delivery's result once its transaction committed (or
	// failed); buffered, so the committer never waits for a gone request.
	done chan acceptOutcome
}

type acceptOutcome struct {
	res acceptResult
	err error
}

// maxGroup bounds the deliveries committed in one transaction.
const maxGroup = 256

// commitTimeout bounds one group's transaction: the committer does not run on
// any one request's ctx, since a sender that hangs up must not roll back the
// deliveries of the others.
const commitTimeout = 30 * time.Second

// accept stores the events of a delivery and queues the new ones, durably,
// before it returns: it hands the delivery to the group committer and waits for
// its transaction. Deliveries that arrive while a transaction commits wait and
// are committed together in the next one (group commit): one transaction, one
// store round of fsync and one job per leg for all of them, instead of one each.
// A group whose transaction fails is committed again delivery by delivery, so
// one delivery the store refuses does not fail the others. accept waits for
// the commit even when ctx ends (a sender that hung up), so that the counts
// say what was stored; commitTimeout bounds the wait.
func (r *Receiver) accept(ctx context.Context, system string, events []connector.WebhookEvent, body []byte) (acceptResult, error) {
	d := &delivery{system: system, events: events, body: body, at: r.now().UTC(), done: make(chan acceptOutcome, 1)}
	r.gmu.Lock()
	r.waiting = append(r.waiting, d)
	if !r.committing {
		r.committing = true
		go r.commitLoop(context.WithoutCancel(ctx))
	}
	r.gmu.Unlock()
	out := <-d.done
	return out.res, out.err
}

// commitLoop commits the waiting deliveries, a group at a time, until none
// waits. One runs at a time (r.committing).
func (r *Receiver) commitLoop(ctx context.Context) {
	for {
		r.gmu.Lock()
		n := min(len(r.waiting), maxGroup)
		if n == 0 {
			r.committing = false
			r.gmu.Unlock()
			return
		}
		group := r.waiting[:n:n]
		r.waiting = r.waiting[n:]
		if len(r.waiting) == 0 {
			r.waiting = nil
		}
		r.gmu.Unlock()
		r.commitGroup(ctx, group)
	}
}

// commitGroup stores a group in one transaction and answers each delivery;
// when that fails and the group has more than one delivery, each is tried
// alone.
func (r *Receiver) commitGroup(ctx context.Context, group []*delivery) {
	res, err := r.storeGroup(ctx, group)
	if err != nil && len(group) > 1 {
		r.log.WarnContext(ctx, "webhook group not stored; storing its deliveries one by one", "deliveries", len(group), "err", err)
		for _, d := range group {
			r.commitGroup(ctx, []*delivery{d})
		}
		return
	}
	for i, d := range group {
		if err != nil {
			d.done <- acceptOutcome{err: err}
			continue
		}
		d.done <- acceptOutcome{res: res[i]}
	}
}

// storeGroup stores the events of the deliveries and queues the new ones in one
// transaction, and returns each delivery's counts. Events the connector could
// not route are stored with the reason and counted as unrouted; they never
// refuse the delivery. The records announced by all deliveries of a system and
// entity are queued with one call, so they share one job per leg.
func (r *Receiver) storeGroup(ctx context.Context, group []*delivery) (_ []acceptResult, err error) {
	// The committer runs outside net/http's per-request recovery: a panic
	// fails the group (its transaction is rolled back) instead of the process.
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("store webhook deliveries: panic: %v", p)
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, commitTimeout)
	defer cancel()
	var rows []store.WebhookEvent
	for _, d := range group {
		for _, e := range d.events {
			rows = append(rows, store.WebhookEvent{System: d.system, EventID: e.ID, Key: e.Key, Entity: e.Entity, RecordID: e.RecordID, Skipped: e.Unrouted, Body: d.body, ReceivedAt: d.at})
		}
	}
	type target struct {
		system string
		entity model.Entity
	}
	var (
		res     []acceptResult
		skipped []*connector.WebhookEvent
	)
	err = r.st.InTx(ctx, func(tx store.Tx) error {
		res, skipped = make([]acceptResult, len(group)), nil
		fresh, err := tx.InsertWebhookEvents(ctx, rows)
		if err != nil {
			return err
		}
		// Per delivery, the distinct records it announces per entity (what it
		// counts as queued or unrouted); per system and entity, the union of
		// all of them (what is queued).
		perDelivery := make([]map[model.Entity][]string, len(group))
		union := map[target][]string{}
		inUnion := map[target]map[string]bool{}
		var order []target
		k := 0
		for i, d := range group {
			byEntity := map[model.Entity][]string{}
			for j := range d.events {
				e := &d.events[j]
				isFresh := fresh[k]
				k++
				switch {
				case !isFresh:
					res[i].duplicates++
					continue
				case e.Unrouted != "":
					res[i].unrouted++
					skipped = append(skipped, e)
					continue
				}
				if slices.Contains(byEntity[e.Entity], e.RecordID) {
					continue
				}
				byEntity[e.Entity] = append(byEntity[e.Entity], e.RecordID)
				t := target{d.system, e.Entity}
				if inUnion[t] == nil {
					inUnion[t] = map[string]bool{}
					order = append(order, t)
				}
				if !inUnion[t][e.RecordID] {
					inUnion[t][e.RecordID] = true
					union[t] = append(union[t], e.RecordID)
				}
			}
			perDelivery[i] = byEntity
		}
		routed := map[target]bool{}
		for _, t := range order {
			legs, err := r.ann.EnqueueAnnounced(ctx, tx, t.system, t.entity, union[t])
			if err != nil {
				return err
			}
			routed[t] = legs > 0
		}
		for i, d := range group {
			for ent, ids := range perDelivery[i] {
				if routed[target{d.system, ent}] {
					res[i].queued += len(ids)
				} else {
					res[i].unrouted += len(ids)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, e := range skipped {
		r.log.DebugContext(ctx, "webhook event skipped", "event_id", e.ID, "record_id", e.RecordID, "reason", e.Unrouted)
	}
	return res, nil
}
