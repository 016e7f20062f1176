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

// accept stores the events and queues the new ones in one transaction. Events
// the connector could not route are stored with the reason and counted as
// unrouted; they never refuse the delivery.
func (r *Receiver) accept(ctx context.Context, system string, events []connector.WebhookEvent, body []byte) (acceptResult, error) {
	var res acceptResult
	now := r.now().UTC()
	rows := make([]store.WebhookEvent, len(events))
	for i, e := range events {
		rows[i] = store.WebhookEvent{System: system, EventID: e.ID, Key: e.Key, Entity: e.Entity, RecordID: e.RecordID, Skipped: e.Unrouted, Body: body, ReceivedAt: now}
	}
	var skipped []int
	err := r.st.InTx(ctx, func(tx store.Tx) error {
		res, skipped = acceptResult{}, nil
		fresh, err := tx.InsertWebhookEvents(ctx, rows)
		if err != nil {
			return err
		}
		byEntity := map[model.Entity][]string{}
		var order []model.Entity
		for i, e := range events {
			switch {
			case !fresh[i]:
				res.duplicates++
				continue
			case e.Unrouted != "":
				res.unrouted++
				skipped = append(skipped, i)
				continue
			}
			if _, seen := byEntity[e.Entity]; !seen {
				order = append(order, e.Entity)
			}
			if !slices.Contains(byEntity[e.Entity], e.RecordID) {
				byEntity[e.Entity] = append(byEntity[e.Entity], e.RecordID)
			}
		}
		for _, ent := range order {
			ids := byEntity[ent]
			legs, err := r.ann.EnqueueAnnounced(ctx, tx, system, ent, ids)
			if err != nil {
				return err
			}
			if legs == 0 {
				res.unrouted += len(ids)
			} else {
				res.queued += len(ids)
			}
		}
		return nil
	})
	if err == nil {
		for _, i := range skipped {
			r.log.DebugContext(ctx, "webhook event skipped", "system", system, "event_id", events[i].ID, "record_id", events[i].RecordID, "reason", events[i].Unrouted)
		}
	}
	return res, err
}
