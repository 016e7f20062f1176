package pipedrive

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Webhook is one v2 webhook subscription.
type Webhook struct {
	ID               int    `json:"id"`
	CompanyID        int    `json:"company_id"`
	OwnerID          int    `json:"owner_id"`
	UserID           int    `json:"user_id"`
	EventAction      string `json:"event_action"`
	EventObject      string `json:"event_object"`
	SubscriptionURL  string `json:"subscription_url"`
	Version          string `json:"version"`
	IsActive         int    `json:"is_active"`
	AddTime          string `json:"add_time"`
	Type             string `json:"type"`
	HTTPAuthUser     string `json:"http_auth_user,omitempty"`
	HTTPAuthPassword string `json:"http_auth_password,omitempty"`
}

var (
	hookActions = []string{"create", "change", "delete", "*"}
	hookObjects = []string{"deal", "person", "organization", "product", "deal_product", "*"}
)

// delivery is one webhook POST to make.
type delivery struct {
	hook    Webhook
	body    map[string]any
	attempt int
}

// hooks holds the subscriptions and delivers events in order from one
// goroutine; failed deliveries are retried after Config.WebhookRetries.
type hooks struct {
	s      *Server
	subs   []Webhook
	nextID int
	queue  chan delivery
	stop   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
	client *http.Client
	// Sent counts deliveries answered 2xx, for tests.
	sent int
}

func newHooks(s *Server) *hooks {
	h := &hooks{s: s, nextID: 1, queue: make(chan delivery, 10000), stop: make(chan struct{}),
		client: &http.Client{Timeout: 10 * time.Second}}
	h.wg.Add(1)
	go h.run()
	return h
}

func (h *hooks) close() {
	h.once.Do(func() { close(h.stop) })
	h.wg.Wait()
}

// emitLocked queues a delivery of the event to every matching subscription.
// Callers hold Server.mu.
func (h *hooks) emitLocked(action, entity string, id int, data, previous map[string]any) {
	if len(h.subs) == 0 {
		return
	}
	now := h.s.now().UTC()
	for _, sub := range h.subs {
		if (sub.EventAction != "*" && sub.EventAction != action) || (sub.EventObject != "*" && sub.EventObject != entity) {
			continue
		}
		meta := map[string]any{
			"action": action, "entity": entity, "entity_id": strconv.Itoa(id), "id": newEventID(),
			"company_id": "1", "user_id": "1", "version": "2.0", "webhook_id": strconv.Itoa(sub.ID),
			"webhook_owner_id": "1", "timestamp": now.Format("2006-01-02T15:04:05.000Z"), "type": "general",
			"change_source": "api", "is_bulk_edit": false, "host": "sandbox.pipedrive.com", "permitted_user_ids": []string{"1"},
		}
		body := map[string]any{"meta": meta, "data": data, "previous": previous}
		select {
		case h.queue <- delivery{hook: sub, body: body, attempt: 1}:
		default:
			h.s.log.Warn("webhook queue full; event dropped", "webhook", sub.ID)
		}
	}
}

func newEventID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%s-%s-%s-%s", hex.EncodeToString(b[0:4]), hex.EncodeToString(b[4:6]),
		hex.EncodeToString(b[6:8]), hex.EncodeToString(b[8:10]), hex.EncodeToString(b[10:16]))
}

func (h *hooks) run() {
	defer h.wg.Done()
	for {
		select {
		case <-h.stop:
			return
		case d := <-h.queue:
			h.deliver(d)
		}
	}
}

// deliver posts d; on failure it schedules the next attempt.
func (h *hooks) deliver(d delivery) {
	d.body["meta"].(map[string]any)["attempt"] = d.attempt
	b, err := json.Marshal(d.body)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.hook.SubscriptionURL, bytes.NewReader(b))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Pipedrive Webhooks")
	if d.hook.HTTPAuthUser != "" || d.hook.HTTPAuthPassword != "" {
		req.SetBasicAuth(d.hook.HTTPAuthUser, d.hook.HTTPAuthPassword)
	}
	resp, err := h.client.Do(req)
	if err == nil {
		_ = resp.Body.Close()
		if resp.StatusCode/100 == 2 {
			h.s.mu.Lock()
			h.sent++
			h.s.mu.Unlock()
			return
		}
	}
	retries := h.s.cfg.WebhookRetries
	if d.attempt > len(retries) {
		h.s.log.Warn("webhook delivery failed; giving up", "webhook", d.hook.ID, "attempts", d.attempt)
		return
	}
	wait := retries[d.attempt-1]
	d.attempt++
	time.AfterFunc(wait, func() {
		select {
		case <-h.stop:
		case h.queue <- d:
		}
	})
}

// Delivered returns how many webhook deliveries were answered 2xx.
func (s *Server) Delivered() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hooks.sent
}

func (s *Server) listWebhooks(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Webhook, 0, len(s.hooks.subs))
	for _, h := range s.hooks.subs {
		h.HTTPAuthPassword = ""
		out = append(out, h)
	}
	ok(w, http.StatusOK, out, nil)
}

// addWebhook serves POST /api/v1/webhooks. Only version 2.0 is served.
func (s *Server) addWebhook(w http.ResponseWriter, r *http.Request) {
	var body struct {
		SubscriptionURL  string `json:"subscription_url"`
		EventAction      string `json:"event_action"`
		EventObject      string `json:"event_object"`
		HTTPAuthUser     string `json:"http_auth_user"`
		HTTPAuthPassword string `json:"http_auth_password"`
		Version          string `json:"version"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeError(w, badRequest("the request body must be a JSON object"))
		return
	}
	if u, err := url.Parse(body.SubscriptionURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		writeError(w, badRequest("Parameter 'subscription_url' must be a valid URL"))
		return
	}
	if !slices.Contains(hookActions, body.EventAction) || !slices.Contains(hookObjects, body.EventObject) {
		writeError(w, badRequest(fmt.Sprintf("event_action must be one of %v and event_object one of %v", hookActions, hookObjects)))
		return
	}
	switch body.Version {
	case "", "2.0":
	default:
		writeError(w, badRequest("this sandbox sends webhooks version 2.0 only"))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	hk := Webhook{ID: s.hooks.nextID, CompanyID: 1, OwnerID: 1, UserID: 1, EventAction: body.EventAction,
		EventObject: body.EventObject, SubscriptionURL: body.SubscriptionURL, Version: "2.0", IsActive: 1,
		AddTime: s.now().UTC().Format(time.RFC3339), Type: "general", HTTPAuthUser: body.HTTPAuthUser,
		HTTPAuthPassword: body.HTTPAuthPassword}
	s.hooks.nextID++
	s.hooks.subs = append(s.hooks.subs, hk)
	hk.HTTPAuthPassword = ""
	ok(w, http.StatusCreated, hk, nil)
}

// AddWebhook subscribes url to every event, with basic auth when user or
// password is set, as POST /api/v1/webhooks would.
func (s *Server) AddWebhook(url, user, password string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hooks.subs = append(s.hooks.subs, Webhook{ID: s.hooks.nextID, EventAction: "*", EventObject: "*", SubscriptionURL: url,
		Version: "2.0", IsActive: 1, Type: "general", HTTPAuthUser: user, HTTPAuthPassword: password})
	s.hooks.nextID++
}

func (s *Server) removeWebhook(w http.ResponseWriter, r *http.Request) {
	id, aerr := pathID(r, "id")
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.hooks.subs, func(h Webhook) bool { return h.ID == id })
	if i < 0 {
		writeError(w, notFound("Webhook"))
		return
	}
	s.hooks.subs = slices.Delete(s.hooks.subs, i, i+1)
	ok(w, http.StatusOK, map[string]any{"id": id}, nil)
}
