package pipedrive

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/pipedrive/pipedrivehttp"
	"github.com/concord-sync/concord/internal/model"
)

// entityOf maps a webhook's meta.entity to the canonical entity it announces.
var entityOf = map[string]model.Entity{
	"organization": model.Account, "person": model.Contact, "deal": model.Deal, "product": model.Product,
}

// VerifyWebhook implements connector.WebhookVerifier for Pipedrive's v2
// webhooks: the delivery must carry the configured HTTP basic auth (compared
// in constant time), its meta.timestamp must be within webhook_tolerance, and
// its body must be one v2 event. A deal product event announces its deal.
// Events about objects the config does not map are returned unrouted.
func (c *Conn) VerifyWebhook(r *http.Request, body []byte) ([]connector.WebhookEvent, error) {
	if c.cfg.webhookUser == "" {
		return nil, fmt.Errorf("%w: webhook_user and webhook_password are not set", connector.ErrWebhookForged)
	}
	user, pass, ok := r.BasicAuth()
	if !ok || subtle.ConstantTimeCompare([]byte(user), []byte(c.cfg.webhookUser)) != 1 ||
		subtle.ConstantTimeCompare([]byte(pass), []byte(c.cfg.webhookPassword)) != 1 {
		return nil, fmt.Errorf("%w: basic auth missing or wrong", connector.ErrWebhookForged)
	}
	var ev struct {
		Meta struct {
			Action    string `json:"action"`
			Entity    string `json:"entity"`
			EntityID  any    `json:"entity_id"`
			ID        any    `json:"id"`
			Timestamp any    `json:"timestamp"`
			Version   string `json:"version"`
		} `json:"meta"`
		Data     pipedrivehttp.Object `json:"data"`
		Previous pipedrivehttp.Object `json:"previous"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&ev); err != nil {
		return nil, fmt.Errorf("%w: %w", connector.ErrWebhookMalformed, err)
	}
	m := ev.Meta
	if m.Version != "2.0" || m.Entity == "" || pipedrivehttp.Str(m.EntityID) == "" {
		return nil, fmt.Errorf("%w: not a v2 webhook event (meta.version, meta.entity, meta.entity_id)", connector.ErrWebhookMalformed)
	}
	at, err := eventTime(m.Timestamp)
	if err != nil {
		return nil, fmt.Errorf("%w: meta.timestamp: %w", connector.ErrWebhookMalformed, err)
	}
	if age := c.now().Sub(at); age > c.cfg.webhookTolerance || age < -c.cfg.webhookTolerance {
		return nil, fmt.Errorf("%w: sent %s ago", connector.ErrWebhookStale, age.Round(time.Second))
	}
	id := pipedrivehttp.Str(m.ID)
	out := connector.WebhookEvent{ID: id, Key: id, RecordID: pipedrivehttp.Str(m.EntityID)}
	entity, known := entityOf[m.Entity]
	if m.Entity == "deal_product" {
		entity, known = model.Deal, true
		src := ev.Data
		if src == nil {
			src = ev.Previous
		}
		out.RecordID = pipedrivehttp.Str(src["deal_id"])
	}
	out.Entity = entity
	switch _, mapped := c.cfg.entities[entity]; {
	case !known:
		out.Unrouted = "pipedrive object " + m.Entity + " is not synced"
	case !mapped:
		out.Unrouted = "entity " + string(entity) + " is not mapped in this system"
	case out.RecordID == "":
		out.Unrouted = "event names no record"
	}
	return []connector.WebhookEvent{out}, nil
}

// eventTime reads meta.timestamp: RFC 3339 as documented for v2, or Unix
// seconds as some deliveries carry.
func eventTime(v any) (time.Time, error) {
	s := pipedrivehttp.Str(v)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time", s)
}
