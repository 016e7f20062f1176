package hubspot

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/model"
)

// Webhook verification errors, checked with errors.Is so the receiver can count
// each kind.
var (
	// ErrWebhookUnconfigured: the system has no webhook_secret.
	ErrWebhookUnconfigured = fmt.Errorf("hubspot webhook: no webhook_secret configured: %w", connector.ErrWebhookForged)
	// ErrWebhookMalformed: headers missing or unreadable, or a body that is not
	// a JSON array of events.
	ErrWebhookMalformed = fmt.Errorf("hubspot webhook: %w", connector.ErrWebhookMalformed)
	// ErrWebhookStale: the request timestamp is more than 5 minutes away from now.
	ErrWebhookStale = fmt.Errorf("hubspot webhook: %w (more than 5 minutes)", connector.ErrWebhookStale)
	// ErrWebhookForged: the signature does not match.
	ErrWebhookForged = fmt.Errorf("hubspot webhook: %w", connector.ErrWebhookForged)
)

// Webhook v3 headers.
const (
	HeaderSignatureV3 = "X-HubSpot-Signature-v3"
	HeaderTimestamp   = "X-HubSpot-Request-Timestamp"
)

// WebhookMaxAge is how far a delivery's timestamp may be from now.
const WebhookMaxAge = 5 * time.Minute

// maxWebhookEvents bounds one delivery (HubSpot sends at most 100).
const maxWebhookEvents = 1000

// uriDecoder decodes the URL-encoded characters HubSpot's v3 signature
// instructions list; other escapes stay as they are.
var uriDecoder = strings.NewReplacer(
	"%3A", ":", "%2F", "/", "%3F", "?", "%40", "@", "%21", "!", "%24", "$",
	"%27", "'", "%28", "(", "%29", ")", "%2A", "*", "%2C", ",", "%3B", ";",
	"%3a", ":", "%2f", "/", "%3f", "?", "%2a", "*", "%2c", ",", "%3b", ";",
)

// SignV3 returns the X-HubSpot-Signature-v3 value for a request:
// base64(HMAC-SHA256(secret, method + uri + body + timestamp)), uri being the
// full URL with the listed escapes decoded.
func SignV3(secret, method, uri string, body []byte, timestamp string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(method))
	mac.Write([]byte(uriDecoder.Replace(uri)))
	mac.Write(body)
	mac.Write([]byte(timestamp))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// requestURI reconstructs the URL HubSpot called: webhook_url when set (for a
// receiver behind a proxy), else scheme, host and request URI of r.
func (c *Conn) requestURI(r *http.Request) string {
	if c.cfg.webhookURL != "" {
		u := c.cfg.webhookURL
		if r.URL.RawQuery != "" {
			u += "?" + r.URL.RawQuery
		}
		return u
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "https" || p == "http" {
		scheme = p
	}
	return scheme + "://" + r.Host + r.URL.RequestURI()
}

// webhookEvent is the part of a HubSpot event Concord uses.
type webhookEvent struct {
	EventID          json.Number `json:"eventId"`
	SubscriptionType string      `json:"subscriptionType"`
	ObjectID         json.Number `json:"objectId"`
}

// VerifyWebhook implements connector.WebhookVerifier for HubSpot's v3
// signature. It refuses a delivery whose timestamp is more than 5 minutes from
// now (ErrWebhookStale), whose signature does not match (ErrWebhookForged,
// compared in constant time) or that does not parse (ErrWebhookMalformed), and
// returns one event per HubSpot event of a mapped object type, with the
// eventId for duplicate suppression. Events of unmapped types are dropped. It
// has no side effects.
func (c *Conn) VerifyWebhook(r *http.Request, body []byte) ([]connector.WebhookEvent, error) {
	if c.cfg.webhookSecret == "" {
		return nil, ErrWebhookUnconfigured
	}
	sig, ts := r.Header.Get(HeaderSignatureV3), r.Header.Get(HeaderTimestamp)
	if sig == "" || ts == "" {
		return nil, fmt.Errorf("%w: missing %s or %s", ErrWebhookMalformed, HeaderSignatureV3, HeaderTimestamp)
	}
	ms, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%w: timestamp %q is not epoch milliseconds", ErrWebhookMalformed, truncate(ts))
	}
	if age := c.now().Sub(time.UnixMilli(ms)); age > WebhookMaxAge || age < -WebhookMaxAge {
		return nil, fmt.Errorf("%w: %s old", ErrWebhookStale, age.Round(time.Second))
	}
	got, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return nil, fmt.Errorf("%w: signature is not base64", ErrWebhookForged)
	}
	want, _ := base64.StdEncoding.DecodeString(SignV3(c.cfg.webhookSecret, r.Method, c.requestURI(r), body, ts))
	if !hmac.Equal(got, want) {
		return nil, ErrWebhookForged
	}
	return c.parseEvents(body)
}

// parseEvents reads a verified delivery's body.
func (c *Conn) parseEvents(body []byte) ([]connector.WebhookEvent, error) {
	var events []webhookEvent
	if err := json.Unmarshal(body, &events); err != nil {
		return nil, fmt.Errorf("%w: body: %w", ErrWebhookMalformed, err)
	}
	if len(events) > maxWebhookEvents {
		return nil, fmt.Errorf("%w: %d events in one delivery", ErrWebhookMalformed, len(events))
	}
	out := make([]connector.WebhookEvent, 0, len(events))
	for i, ev := range events {
		kind, _, ok := strings.Cut(ev.SubscriptionType, ".")
		if !ok || ev.EventID == "" || ev.ObjectID == "" {
			return nil, fmt.Errorf("%w: event %d lacks eventId, objectId or subscriptionType", ErrWebhookMalformed, i)
		}
		if _, err := strconv.ParseUint(ev.ObjectID.String(), 10, 64); err != nil {
			return nil, fmt.Errorf("%w: event %d: objectId %q", ErrWebhookMalformed, i, truncate(ev.ObjectID.String()))
		}
		entity, mapped := c.entityOfSingular(kind)
		if !mapped {
			continue
		}
		out = append(out, connector.WebhookEvent{ID: ev.EventID.String(), Entity: entity, RecordID: ev.ObjectID.String()})
	}
	return out, nil
}

func (c *Conn) entityOfSingular(kind string) (model.Entity, bool) {
	for e, o := range c.cfg.entities {
		if singular(o.name) == kind {
			return e, true
		}
	}
	return "", false
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
