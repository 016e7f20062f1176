package connector

import (
	"context"
	"net/http"

	"github.com/concord-sync/concord/internal/model"
)

// Archiver is implemented by connectors that can archive (soft-delete) records.
// Concord never deletes financial records; a delete in the source archives or flags.
type Archiver interface {
	Archive(ctx context.Context, entity model.Entity, ids []string) ([]Result, error)
}

// WebhookVerifier is implemented by connectors whose system pushes changes. Verify
// checks the delivery's signature and returns the changed record ids per entity.
type WebhookVerifier interface {
	VerifyWebhook(r *http.Request, body []byte) ([]WebhookEvent, error)
}

// WebhookEvent is one change announced by a webhook delivery.
type WebhookEvent struct {
	// ID identifies the delivery event, for duplicate suppression.
	ID       string
	Entity   model.Entity
	RecordID string
}

// Pinger is implemented by connectors that can check their connection cheaply.
type Pinger interface {
	Ping(ctx context.Context) error
}
