package hubspot

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Webhook signature errors returned by VerifySignatureV3.
var (
	ErrSignatureExpired  = errors.New("hubspot signature timestamp is older than 5 minutes")
	ErrSignatureMismatch = errors.New("hubspot signature does not match")
)

// signatureMaxAge is how old a request timestamp may be (HubSpot: reject
// requests whose timestamp is older than 5 minutes).
const signatureMaxAge = 5 * time.Minute

// maxEventsPerRequest is the most events one delivery carries.
const maxEventsPerRequest = 100

// uriDecoder decodes the URL-encoded characters HubSpot's v3 signature
// instructions list; the "?" starting the query string stays as it is.
var uriDecoder = strings.NewReplacer(
	"%3A", ":", "%2F", "/", "%3F", "?", "%40", "@", "%21", "!", "%24", "$",
	"%27", "'", "%28", "(", "%29", ")", "%2A", "*", "%2C", ",", "%3B", ";",
	"%3a", ":", "%2f", "/", "%3f", "?", "%2a", "*", "%2c", ",", "%3b", ";",
)

// SignatureV3 returns the X-HubSpot-Signature-v3 value of a request:
// base64(HMAC-SHA256(clientSecret, method + uri + body + timestamp)), where
// uri is the full request URL with the listed characters decoded and
// timestamp is the X-HubSpot-Request-Timestamp header (epoch ms).
func SignatureV3(clientSecret, method, uri string, body []byte, timestamp string) string {
	mac := hmac.New(sha256.New, []byte(clientSecret))
	mac.Write([]byte(method))
	mac.Write([]byte(uriDecoder.Replace(uri)))
	mac.Write(body)
	mac.Write([]byte(timestamp))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// VerifySignatureV3 checks a received request's v3 signature. It returns
// ErrSignatureExpired when timestamp is more than 5 minutes before now (or
// unreadable) and ErrSignatureMismatch when the signature is wrong; the
// comparison is constant-time.
func VerifySignatureV3(clientSecret, method, uri string, body []byte, timestamp, signature string, now time.Time) error {
	ms, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("read timestamp: %w", ErrSignatureExpired)
	}
	if now.Sub(time.UnixMilli(ms)) > signatureMaxAge {
		return ErrSignatureExpired
	}
	want := SignatureV3(clientSecret, method, uri, body, timestamp)
	if !hmac.Equal([]byte(want), []byte(signature)) {
		return ErrSignatureMismatch
	}
	return nil
}

// Subscription is a webhook subscription, as the webhooks v3 API shows it.
type Subscription struct {
	ID        int64  `json:"id"`
	EventType string `json:"eventType"`
	// ObjectTypeID is set on subscriptions of the generic format
	// ("object.creation" for objectTypeId "0-2").
	ObjectTypeID string    `json:"objectTypeId,omitempty"`
	PropertyName string    `json:"propertyName,omitempty"`
	Active       bool      `json:"active"`
	CreatedAt    time.Time `json:"createdAt"`
	UpdatedAt    time.Time `json:"updatedAt"`
}

// Event is one webhook event in HubSpot's payload shape; a delivery's body
// is a JSON array of them.
type Event struct {
	EventID          int64   `json:"eventId"`
	SubscriptionID   int64   `json:"subscriptionId"`
	PortalID         int64   `json:"portalId"`
	AppID            int64   `json:"appId"`
	OccurredAt       int64   `json:"occurredAt"`
	SubscriptionType string  `json:"subscriptionType"`
	ObjectTypeID     string  `json:"objectTypeId,omitempty"` // generic format only
	AttemptNumber    int     `json:"attemptNumber"`
	ObjectID         int64   `json:"objectId"`
	PropertyName     string  `json:"propertyName,omitempty"`
	PropertyValue    *string `json:"propertyValue,omitempty"`
	ChangeFlag       string  `json:"changeFlag,omitempty"`
	ChangeSource     string  `json:"changeSource"`
	SourceID         string  `json:"sourceId,omitempty"`
}

// dispatcher owns subscriptions and queued events (both guarded by the
// Server's mu) and delivers them from one goroutine, started lazily.
type dispatcher struct {
	s         *Server
	subs      []*Subscription
	nextSub   int64
	nextEvent int64
	pending   []Event
	suppress  bool

	notify    chan struct{}
	start     sync.Once
	ctx       context.Context //nolint:containedctx // lifecycle ctx of the delivery goroutine
	cancel    context.CancelFunc
	done      chan struct{}
	started   atomic.Bool
	delivered atomic.Int64
	failed    atomic.Int64
}

// newDispatcher starts event ids at the clock in microseconds, so that a
// restarted sandbox never reuses the ids of events it sent before (a receiver
// that deduplicated on eventId alone would drop the new events).
func newDispatcher(s *Server) *dispatcher {
	ctx, cancel := context.WithCancel(context.Background())
	first := max(s.cfg.Now().UnixMicro(), 1)
	return &dispatcher{s: s, nextSub: 100, nextEvent: first, notify: make(chan struct{}, 1), ctx: ctx, cancel: cancel, done: make(chan struct{})}
}

var eventKinds = []string{"creation", "propertyChange", "deletion"}

// queueLocked queues the events a change of r produces for the active
// subscriptions. Caller holds s.mu.
func (d *dispatcher) queueLocked(r *record, kind string, changed []string, source string, at time.Time) {
	if d.suppress || d.s.cfg.Webhook.URL == "" {
		return
	}
	eventType := r.typ.singular + "." + kind
	n := len(d.pending)
	for _, sub := range d.subs {
		generic := sub.ObjectTypeID != "" && sub.ObjectTypeID == r.typ.typeID && sub.EventType == "object."+kind
		if !sub.Active || (sub.EventType != eventType && !generic) {
			continue
		}
		base := Event{
			SubscriptionID: sub.ID, PortalID: d.s.cfg.PortalID, AppID: d.s.cfg.Webhook.AppID,
			OccurredAt: at.UnixMilli(), SubscriptionType: sub.EventType, ObjectID: r.id, ChangeSource: source,
		}
		if generic {
			base.ObjectTypeID = sub.ObjectTypeID
		}
		switch kind {
		case "creation":
			base.ChangeFlag = "CREATED"
			d.add(base)
		case "deletion":
			base.ChangeFlag = "DELETED"
			d.add(base)
		case "propertyChange":
			for _, name := range changed {
				if sub.PropertyName != "" && sub.PropertyName != name {
					continue
				}
				ev := base
				ev.PropertyName = name
				v := r.props[name]
				ev.PropertyValue = &v
				d.add(ev)
			}
		}
	}
	if len(d.pending) == n {
		return
	}
	d.start.Do(func() {
		d.started.Store(true)
		go d.run()
	})
	select {
	case d.notify <- struct{}{}:
	default:
	}
}

func (d *dispatcher) add(ev Event) {
	ev.EventID = d.nextEvent
	d.nextEvent++
	d.pending = append(d.pending, ev)
}

func (d *dispatcher) close() {
	d.cancel()
	if d.started.Load() {
		<-d.done
	}
}

func (d *dispatcher) run() {
	defer close(d.done)
	cfg := d.s.cfg.Webhook
	for {
		select {
		case <-d.ctx.Done():
			return
		case <-d.notify:
		}
		select {
		case <-d.ctx.Done():
			return
		case <-time.After(cfg.BatchWindow):
		}
		for {
			d.s.mu.Lock()
			n := min(len(d.pending), maxEventsPerRequest)
			batch := slices.Clone(d.pending[:n])
			d.pending = d.pending[n:]
			d.s.mu.Unlock()
			if n == 0 {
				break
			}
			d.deliver(batch)
		}
	}
}

// deliver POSTs one batch, retrying non-2xx answers and transport errors
// with doubling backoff, up to MaxAttempts attempts.
func (d *dispatcher) deliver(batch []Event) {
	cfg := d.s.cfg.Webhook
	backoff := cfg.Backoff
	for attempt := range cfg.MaxAttempts {
		for i := range batch {
			batch[i].AttemptNumber = attempt
		}
		status, err := d.post(batch)
		if err == nil && status >= 200 && status < 300 {
			d.delivered.Add(int64(len(batch)))
			return
		}
		d.s.log.WarnContext(d.ctx, "webhook delivery failed", "attempt", attempt, "status", status, "events", len(batch), "err", err)
		if attempt == cfg.MaxAttempts-1 {
			break
		}
		select {
		case <-d.ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff *= 2
	}
	d.failed.Add(int64(len(batch)))
	d.s.log.ErrorContext(d.ctx, "webhook delivery abandoned", "events", len(batch), "first_event_id", batch[0].EventID)
}

func (d *dispatcher) post(batch []Event) (int, error) {
	cfg := d.s.cfg.Webhook
	body, err := json.Marshal(batch)
	if err != nil {
		return 0, fmt.Errorf("encode events: %w", err)
	}
	ts := strconv.FormatInt(d.s.cfg.Now().UnixMilli(), 10)
	req, err := http.NewRequestWithContext(d.ctx, http.MethodPost, cfg.URL, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("build webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "HubSpot Connect 2.0 (concord sandbox)")
	req.Header.Set("X-HubSpot-Request-Timestamp", ts)
	req.Header.Set("X-HubSpot-Signature-v3", SignatureV3(cfg.ClientSecret, http.MethodPost, cfg.URL, body, ts))
	resp, err := cfg.Client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("post webhook: %w", err)
	}
	defer resp.Body.Close()
	return resp.StatusCode, nil
}

// WebhookStats reports how many events were delivered and how many were
// abandoned after the last attempt.
func (s *Server) WebhookStats() (delivered, failed int64) {
	return s.hooks.delivered.Load(), s.hooks.failed.Load()
}

// Subscribe adds an active webhook subscription. eventType is
// "<object>.<creation|propertyChange|deletion>" with object one of
// company, contact, deal, product, line_item. For propertyChange,
// propertyName selects one property; empty means every property (HubSpot
// requires one; the sandbox is lenient).
func (s *Server) Subscribe(eventType, propertyName string) (Subscription, error) {
	return s.subscribe(eventType, "", propertyName)
}

// SubscribeObject adds an active subscription in HubSpot's generic format:
// eventType is "object.<creation|propertyChange|deletion>" and objectTypeID
// the object's type id ("0-1" contacts, "0-2" companies, "0-3" deals, "0-7"
// products, "0-8" line items). Its events carry subscriptionType
// "object.<kind>" and objectTypeId.
func (s *Server) SubscribeObject(eventType, objectTypeID, propertyName string) (Subscription, error) {
	return s.subscribe(eventType, objectTypeID, propertyName)
}

func (s *Server) subscribe(eventType, objectTypeID, propertyName string) (Subscription, error) {
	obj, kind, _ := strings.Cut(eventType, ".")
	var t *objectType
	switch {
	case obj == "object" && objectTypeID != "":
		if t = lookupType(objectTypeID); t == nil || t.typeID != objectTypeID {
			return Subscription{}, errValidation("Unsupported objectTypeId %q", objectTypeID)
		}
	case obj == "object":
		return Subscription{}, errValidation("objectTypeId is required for eventType %q", eventType)
	case objectTypeID != "":
		return Subscription{}, errValidation("objectTypeId is only allowed with object.* event types, not %q", eventType)
	default:
		t = lookupType(obj)
		if t != nil && t.singular != obj {
			t = nil
		}
	}
	if t == nil || !slices.Contains(eventKinds, kind) {
		return Subscription{}, errValidation("Unsupported eventType %q: use <object>.<creation|propertyChange|deletion>", eventType)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if propertyName != "" {
		if _, ok := s.defs[t.name][propertyName]; !ok {
			return Subscription{}, errValidation("Property %q does not exist for %s", propertyName, t.name)
		}
	}
	now := s.now()
	d := s.hooks
	d.nextSub++
	sub := &Subscription{ID: d.nextSub, EventType: eventType, ObjectTypeID: objectTypeID, PropertyName: propertyName, Active: true, CreatedAt: now, UpdatedAt: now}
	d.subs = append(d.subs, sub)
	return *sub, nil
}

// Subscriptions lists the webhook subscriptions.
func (s *Server) Subscriptions() []Subscription {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Subscription, 0, len(s.hooks.subs))
	for _, sub := range s.hooks.subs {
		out = append(out, *sub)
	}
	return out
}

func (s *Server) checkApp(w http.ResponseWriter, r *http.Request) bool {
	if r.PathValue("appId") != strconv.FormatInt(s.cfg.Webhook.AppID, 10) {
		writeError(w, errNotFound("App %s not found", r.PathValue("appId")))
		return false
	}
	return true
}

func (s *Server) handleListSubscriptions(w http.ResponseWriter, r *http.Request) {
	if s.checkApp(w, r) {
		writeJSON(w, http.StatusOK, map[string]any{"results": s.Subscriptions()})
	}
}

func (s *Server) handleCreateSubscription(w http.ResponseWriter, r *http.Request) {
	if !s.checkApp(w, r) {
		return
	}
	var in struct {
		EventType    string `json:"eventType"`
		ObjectTypeID string `json:"objectTypeId"`
		PropertyName string `json:"propertyName"`
		Active       *bool  `json:"active"`
	}
	if e := decodeBody(r, &in); e != nil {
		writeError(w, e)
		return
	}
	sub, err := s.subscribe(in.EventType, in.ObjectTypeID, in.PropertyName)
	if err != nil {
		writeError(w, err.(*Error)) //nolint:errorlint // Subscribe only returns *Error
		return
	}
	if in.Active != nil && !*in.Active {
		s.mu.Lock()
		for _, x := range s.hooks.subs {
			if x.ID == sub.ID {
				x.Active = false
				sub.Active = false
			}
		}
		s.mu.Unlock()
	}
	writeJSON(w, http.StatusCreated, sub)
}

func (s *Server) handleDeleteSubscription(w http.ResponseWriter, r *http.Request) {
	if !s.checkApp(w, r) {
		return
	}
	id, _ := strconv.ParseInt(r.PathValue("subId"), 10, 64)
	s.mu.Lock()
	n := len(s.hooks.subs)
	s.hooks.subs = slices.DeleteFunc(s.hooks.subs, func(x *Subscription) bool { return x.ID == id })
	found := len(s.hooks.subs) < n
	s.mu.Unlock()
	if !found {
		writeError(w, errNotFound("Subscription %s not found", r.PathValue("subId")))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
