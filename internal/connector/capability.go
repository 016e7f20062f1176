package connector

import (
	"context"
	"errors"
	"net/http"

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
