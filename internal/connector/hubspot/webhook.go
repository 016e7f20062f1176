package hubspot

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
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
	// ErrWebhookStale: the request timestamp is more than 5 minutes old, or more
	// than WebhookClockSkew ahead of now.
	ErrWebhookStale = fmt.Errorf("hubspot webhook: %w", connector.ErrWebhookStale)
	// ErrWebhookForged: the signature does not match.
	ErrWebhookForged = fmt.Errorf("hubspot webhook: %w", connector.ErrWebhookForged)
)

// Webhook v3 headers.
const (
	HeaderSignatureV3 = "X-HubSpot-Signature-v3"
	HeaderTimestamp   = "X-HubSpot-Request-Timestamp"
)

// WebhookMaxAge is how old a delivery's timestamp may be (HubSpot: reject
// requests older than 5 minutes).
const WebhookMaxAge = 5 * time.Minute

// WebhookClockSkew is how far a delivery's timestamp may be ahead of this
// machine's clock: HubSpot's clock and ours never agree exactly.
const WebhookClockSkew = 30 * time.Second

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

// VerifyWebhook implements connector.WebhookVerifier for HubSpot's v3
// signature. It refuses a delivery whose timestamp is more than 5 minutes old or
// more than WebhookClockSkew ahead (ErrWebhookStale), whose signature does not
// match (ErrWebhookForged, compared in constant time) or whose body is not a
// JSON array of events (ErrWebhookMalformed). It returns one event per HubSpot
// event, in both formats (legacy "company.propertyChange" and generic
// "object.propertyChange" with objectTypeId); see parseEvents. It has no side
// effects.
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
	switch age := c.now().Sub(time.UnixMilli(ms)); {
	case age > WebhookMaxAge:
		return nil, fmt.Errorf("%w: timestamp %s old, more than %s", ErrWebhookStale, age.Round(time.Second), WebhookMaxAge)
	case age < -WebhookClockSkew:
		return nil, fmt.Errorf("%w: timestamp %s ahead of this machine's clock, more than %s", ErrWebhookStale, (-age).Round(time.Second), WebhookClockSkew)
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

// standardObjectTypes maps HubSpot's objectTypeId of the standard objects to
// their object type names.
var standardObjectTypes = map[string]string{
	"0-1": "contacts", "0-2": "companies", "0-3": "deals", "0-5": "tickets",
	"0-7": "products", "0-8": "line_items", "0-14": "quotes",
}

// routedKinds are the event kinds that announce a change of the record named
// by the event: Concord reads it again. Association changes, privacy deletions
// and anything else are recorded and skipped.
var routedKinds = map[string]bool{
	"creation": true, "propertyChange": true, "deletion": true, "restore": true, "merge": true,
}

// webhookEvent is the part of a HubSpot event Concord routes by. The whole
// event, without attemptNumber, makes the deduplication key.
type webhookEvent struct {
	EventID          json.Number `json:"eventId"`
	SubscriptionType string      `json:"subscriptionType"`
	ObjectTypeID     string      `json:"objectTypeId"`
	ObjectID         json.Number `json:"objectId"`
	// Merge events name the surviving record.
	PrimaryObjectID json.Number `json:"primaryObjectId"`
	NewObjectID     json.Number `json:"newObjectId"`
}

// parseEvents reads a verified delivery's body: a JSON array of events. Each
// event gets a Key: the SHA-256 of the event with its keys sorted and without
// attemptNumber, the one field HubSpot changes when it delivers an event again.
// HubSpot's eventId is not guaranteed unique, so it is only part of the key.
// An event that names no record Concord reads (an association change, an
// unmapped or unknown object type, a malformed event) is returned with the
// reason in Unrouted instead of refusing the delivery, whose other events are
// valid.
func (c *Conn) parseEvents(body []byte) ([]connector.WebhookEvent, error) {
	var raw []json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("%w: body is not a JSON array of events: %w", ErrWebhookMalformed, err)
	}
	if len(raw) > maxWebhookEvents {
		return nil, fmt.Errorf("%w: %d events in one delivery", ErrWebhookMalformed, len(raw))
	}
	out := make([]connector.WebhookEvent, 0, len(raw))
	for i, r := range raw {
		ev, err := c.parseEvent(r)
		if err != nil {
			return nil, fmt.Errorf("%w: event %d: %w", ErrWebhookMalformed, i, err)
		}
		out = append(out, ev)
	}
	return out, nil
}

func (c *Conn) parseEvent(raw json.RawMessage) (connector.WebhookEvent, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return connector.WebhookEvent{}, fmt.Errorf("not a JSON object: %w", err)
	}
	delete(fields, "attemptNumber")
	canon, err := json.Marshal(fields) // keys sorted, values compacted
	if err != nil {
		return connector.WebhookEvent{}, fmt.Errorf("encode: %w", err)
	}
	sum := sha256.Sum256(canon)
	out := connector.WebhookEvent{Key: "hs1:" + hex.EncodeToString(sum[:])}

	var ev webhookEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		// A field of an unexpected type: keep the event, skip it.
		out.Unrouted = "unreadable event: " + truncate(err.Error())
		return out, nil
	}
	out.ID = ev.EventID.String()
	obj, kind, ok := strings.Cut(ev.SubscriptionType, ".")
	objectID := ev.ObjectID.String()
	if kind == "merge" {
		for _, id := range []json.Number{ev.NewObjectID, ev.PrimaryObjectID} {
			if id != "" && id != "0" {
				objectID = id.String()
				break
			}
		}
	}
	out.RecordID = objectID
	var name string
	switch {
	case !ok:
		out.Unrouted = fmt.Sprintf("subscriptionType %q is not <object>.<event>", truncate(ev.SubscriptionType))
		return out, nil
	case obj == "object":
		if ev.ObjectTypeID == "" {
			out.Unrouted = fmt.Sprintf("%s event without objectTypeId", truncate(ev.SubscriptionType))
			return out, nil
		}
		name = standardObjectTypes[ev.ObjectTypeID]
		if name == "" {
			name = ev.ObjectTypeID // a custom object configured by its id
		}
	default:
		name = obj
	}
	if !routedKinds[kind] {
		out.Unrouted = fmt.Sprintf("%s events are not read", truncate(ev.SubscriptionType))
		return out, nil
	}
	if _, err := strconv.ParseUint(objectID, 10, 64); err != nil {
		out.Unrouted = fmt.Sprintf("%s event with objectId %q", truncate(ev.SubscriptionType), truncate(objectID))
		return out, nil
	}
	entity, mapped := c.entityOfObject(name)
	if !mapped {
		what := name
		if obj == "object" {
			what = fmt.Sprintf("%s (objectTypeId %s)", name, truncate(ev.ObjectTypeID))
		}
		out.Unrouted = fmt.Sprintf("object type %s is not in this system's entities", truncate(what))
		return out, nil
	}
	out.Entity = entity
	return out, nil
}

// entityOfObject finds the entity configured for a HubSpot object type given by
// its name ("companies"), its singular ("company") or, for custom objects, the
// id it was configured with.
func (c *Conn) entityOfObject(name string) (model.Entity, bool) {
	for e, o := range c.cfg.entities {
		if o.name == name || singular(o.name) == name {
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
