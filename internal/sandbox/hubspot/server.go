package hubspot

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Config configures a Server. The zero value of every field means "use the
// default" (see DefaultConfig).
type Config struct {
	// Token is the private-app access token clients must send as
	// "Authorization: Bearer <token>". Empty accepts any non-empty token
	// (each distinct token then gets its own rate-limit budget).
	Token string
	// PortalID is the HubSpot account id reported in webhook events.
	PortalID int64
	// RateLimit is the per-token budget of requests per rolling 10 s
	// (HubSpot's TEN_SECONDLY_ROLLING policy). Default 190, the
	// Professional/Enterprise private-app burst limit. Negative disables it.
	RateLimit int
	// SearchRateLimit is the per-token budget of search requests per second
	// (HubSpot documents five). Default 5. Negative disables it.
	SearchRateLimit int
	// SearchDelay is how long after its last change a record becomes
	// visible, with its new values, to search (HubSpot indexes
	// asynchronously). Default 1 s; tests use small values.
	SearchDelay time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives server logs. Default discards them.
	Logger *slog.Logger
	// Webhook configures outgoing webhook deliveries.
	Webhook WebhookConfig
}

// WebhookConfig configures webhook deliveries: events of active
// subscriptions are POSTed in batches to URL, signed with ClientSecret.
type WebhookConfig struct {
	// URL is the target URL; empty disables deliveries.
	URL string
	// ClientSecret is the app's client secret, the HMAC key of the
	// X-HubSpot-Signature-v3 header.
	ClientSecret string
	// AppID is the app id reported in events and used in the
	// /webhooks/v3/{appId}/subscriptions path.
	AppID int64
	// MaxAttempts bounds delivery attempts per batch. Default 5.
	MaxAttempts int
	// Backoff is the wait before the first retry; it doubles per attempt.
	// Default 200 ms.
	Backoff time.Duration
	// BatchWindow is how long events are gathered before a delivery.
	// Default 50 ms.
	BatchWindow time.Duration
	// Client sends the deliveries. Default: a client with a 10 s timeout.
	Client *http.Client
}

// DefaultConfig returns the configuration used for zero fields: token
// "sandbox-token", portal 62515, 190 requests per 10 s, 5 searches per
// second, a 1 s search delay, webhooks disabled.
func DefaultConfig() Config {
	return Config{
		Token:           "sandbox-token",
		PortalID:        62515,
		RateLimit:       190,
		SearchRateLimit: 5,
		SearchDelay:     time.Second,
		Now:             time.Now,
		Logger:          slog.New(slog.NewTextHandler(io.Discard, nil)),
		Webhook: WebhookConfig{
			AppID:       1,
			MaxAttempts: 5,
			Backoff:     200 * time.Millisecond,
			BatchWindow: 50 * time.Millisecond,
		},
	}
}

// Validate reports every problem with c, joined.
func (c Config) Validate() error {
	var errs []error
	if c.SearchDelay < 0 {
		errs = append(errs, errors.New("search delay must not be negative"))
	}
	if c.Webhook.URL != "" {
		if !strings.HasPrefix(c.Webhook.URL, "http://") && !strings.HasPrefix(c.Webhook.URL, "https://") {
			errs = append(errs, errors.New("webhook url must be http or https"))
		}
		if c.Webhook.ClientSecret == "" {
			errs = append(errs, errors.New("webhook client secret is required with a webhook url"))
		}
	}
	if c.Webhook.MaxAttempts < 0 || c.Webhook.Backoff < 0 || c.Webhook.BatchWindow < 0 {
		errs = append(errs, errors.New("webhook attempts, backoff and batch window must not be negative"))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.PortalID == 0 {
		c.PortalID = d.PortalID
	}
	if c.RateLimit == 0 {
		c.RateLimit = d.RateLimit
	}
	if c.SearchRateLimit == 0 {
		c.SearchRateLimit = d.SearchRateLimit
	}
	if c.SearchDelay == 0 {
		c.SearchDelay = d.SearchDelay
	}
	if c.Now == nil {
		c.Now = d.Now
	}
	if c.Logger == nil {
		c.Logger = d.Logger
	}
	if c.Webhook.AppID == 0 {
		c.Webhook.AppID = d.Webhook.AppID
	}
	if c.Webhook.MaxAttempts == 0 {
		c.Webhook.MaxAttempts = d.Webhook.MaxAttempts
	}
	if c.Webhook.Backoff == 0 {
		c.Webhook.Backoff = d.Webhook.Backoff
	}
	if c.Webhook.BatchWindow == 0 {
		c.Webhook.BatchWindow = d.Webhook.BatchWindow
	}
	if c.Webhook.Client == nil {
		c.Webhook.Client = &http.Client{Timeout: 10 * time.Second}
	}
	return c
}

// Server is an in-memory HubSpot-compatible CRM. Create it with New; it is
// safe for concurrent use.
type Server struct {
	cfg    Config
	log    *slog.Logger
	mux    *http.ServeMux
	limits *limiter

	mu      sync.Mutex
	nextID  int64
	records map[string]map[int64]*record    // object type name -> id -> record
	defs    map[string]map[string]*Property // object type name -> property name -> definition
	unique  map[string]map[string]map[string]int64
	assocs  map[assocKey]map[int64][]int // -> to id -> association type ids
	hooks   *dispatcher
	scopes  []string // nil: DefaultScopes

	reqMu sync.Mutex
	reqs  map[string]int // "METHOD /path" -> requests received
}

// count counts every API request by method and path, before authentication
// and rate limiting (a refused request is counted too).
func (s *Server) count(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k := r.Method + " " + r.URL.Path
		s.reqMu.Lock()
		if s.reqs == nil {
			s.reqs = map[string]int{}
		}
		s.reqs[k]++
		s.reqMu.Unlock()
		next.ServeHTTP(w, r)
	})
}

// Requests returns how many API requests the server received since it
// started, keyed by method and path ("POST
// /crm/v3/objects/companies/batch/upsert"), answered or refused (401, 429).
// The map is a copy; it is safe to call concurrently with requests.
func (s *Server) Requests() map[string]int {
	s.reqMu.Lock()
	defer s.reqMu.Unlock()
	out := make(map[string]int, len(s.reqs))
	for k, v := range s.reqs {
		out[k] = v
	}
	return out
}

// New returns a Server for cfg (zero fields take DefaultConfig values). It
// starts no goroutines until the first webhook event is queued. It panics
// if cfg does not Validate, since that is a programming error; check
// Validate first when cfg comes from user input.
func New(cfg Config) *Server {
	if err := cfg.Validate(); err != nil {
		panic("hubspot sandbox: invalid config: " + err.Error())
	}
	cfg = cfg.withDefaults()
	s := &Server{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "sandbox.hubspot"),
		limits:  newLimiter(cfg.RateLimit, cfg.SearchRateLimit),
		nextID:  1000,
		records: map[string]map[int64]*record{},
		defs:    map[string]map[string]*Property{},
		unique:  map[string]map[string]map[string]int64{},
		assocs:  map[assocKey]map[int64][]int{},
	}
	for _, t := range objectTypes {
		s.records[t.name] = map[int64]*record{}
		s.defs[t.name] = defaultProperties(t)
		s.unique[t.name] = map[string]map[string]int64{}
		for name, p := range s.defs[t.name] {
			if p.HasUniqueValue {
				s.unique[t.name][name] = map[string]int64{}
			}
		}
	}
	s.hooks = newDispatcher(s)
	s.routes()
	return s
}

// Close stops webhook delivery, abandoning queued events and retries. It is
// safe to call more than once and on a Server that never delivered.
func (s *Server) Close() error {
	s.hooks.close()
	return nil
}

// Handler returns the HTTP handler serving the API.
func (s *Server) Handler() http.Handler { return s.mux }

func (s *Server) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Millisecond) }

func (s *Server) routes() {
	m := http.NewServeMux()
	api := func(pattern string, h func(http.ResponseWriter, *http.Request), search bool) {
		m.Handle(pattern, s.count(s.authenticate(s.rateLimit(http.HandlerFunc(h), search))))
	}
	api("GET /crm/v3/objects/{type}", s.handleList, false)
	api("POST /crm/v3/objects/{type}", s.handleCreate, false)
	api("GET /crm/v3/objects/{type}/{id}", s.handleGet, false)
	api("PATCH /crm/v3/objects/{type}/{id}", s.handleUpdate, false)
	api("DELETE /crm/v3/objects/{type}/{id}", s.handleArchive, false)
	api("POST /crm/v3/objects/{type}/batch/{op}", s.handleBatch, false)
	api("POST /crm/v3/objects/{type}/search", s.handleSearch, true)

	api("GET /crm/v3/properties/{type}", s.handleListProperties, false)
	api("POST /crm/v3/properties/{type}", s.handleCreateProperty, false)
	api("GET /crm/v3/properties/{type}/{name}", s.handleGetProperty, false)

	api("GET /crm/v3/schemas", s.handleListSchemas, false)
	m.HandleFunc("POST /oauth/v2/private-apps/get/access-token-info", s.handleTokenInfo)

	api("GET /crm/v3/pipelines/{type}", s.handleListPipelines, false)
	api("GET /crm/v3/pipelines/{type}/{pipelineId}", s.handleGetPipeline, false)
	api("GET /crm/v3/pipelines/{type}/{pipelineId}/stages", s.handleListStages, false)

	api("GET /crm/v4/objects/{from}/{id}/associations/{to}", s.handleListAssociations, false)
	api("PUT /crm/v4/objects/{from}/{id}/associations/default/{to}/{toId}", s.handlePutDefaultAssociation, false)
	api("PUT /crm/v4/objects/{from}/{id}/associations/{to}/{toId}", s.handlePutLabelledAssociation, false)
	api("DELETE /crm/v4/objects/{from}/{id}/associations/{to}/{toId}", s.handleDeleteAssociation, false)
	api("POST /crm/v4/associations/{from}/{to}/batch/{op}", s.handleBatchAssociations, false)
	api("POST /crm/v4/associations/{from}/{to}/batch/associate/default", s.handleBatchAssociateDefault, false)

	api("GET /webhooks/v3/{appId}/subscriptions", s.handleListSubscriptions, false)
	api("POST /webhooks/v3/{appId}/subscriptions", s.handleCreateSubscription, false)
	api("DELETE /webhooks/v3/{appId}/subscriptions/{subId}", s.handleDeleteSubscription, false)

	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errNotFound("No route for %s %s", r.Method, r.URL.Path))
	})
	s.mux = m
}

type ctxKey struct{}

// authenticate checks the private-app bearer token and answers 401 with
// HubSpot's body when it is missing or wrong.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		token, ok := strings.CutPrefix(auth, "Bearer ")
		token = strings.TrimSpace(token)
		switch {
		case !ok || token == "":
			writeError(w, newError(http.StatusUnauthorized, CategoryAuthentication,
				"Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"))
			return
		case s.cfg.Token != "" && token != s.cfg.Token:
			writeError(w, newError(http.StatusUnauthorized, CategoryAuthentication,
				"Authentication credentials not found. The access token provided is invalid or has been revoked."))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, token)))
	})
}
