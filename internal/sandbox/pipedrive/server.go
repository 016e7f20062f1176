package pipedrive

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shopspring/decimal"
)

// Config configures a sandbox.
type Config struct {
	// Token is the API token clients must send (x-api-token header or
	// api_token query parameter); empty accepts any.
	Token string
	// OAuthToken is the OAuth access token clients may send as
	// "Authorization: Bearer"; empty accepts any bearer token.
	OAuthToken string
	// RateLimit is requests per Window per API token (Professional plan: 80
	// per 2 s); negative disables the limit.
	RateLimit int
	// OAuthRateLimit is requests per Window per OAuth token (Professional:
	// 320 per 2 s); negative disables it.
	OAuthRateLimit int
	// Window is the rate-limit window, 2 s as documented.
	Window time.Duration
	// DailyWrites is how many POST, PUT and PATCH requests one API token may
	// send per UTC day (x-daily-requests-left); 0 means 10,000, negative no
	// limit.
	DailyWrites int
	// Logger receives the server's own log lines; discarded when nil.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// WebhookRetries are the delays before the second, third and fourth
	// delivery attempt of a webhook that was not answered 2xx.
	WebhookRetries []time.Duration
}

// DefaultConfig returns Pipedrive's documented limits for a Professional plan.
func DefaultConfig() Config {
	return Config{RateLimit: 80, OAuthRateLimit: 320, Window: 2 * time.Second,
		WebhookRetries: []time.Duration{3 * time.Second, 30 * time.Second, 150 * time.Second}}
}

// Validate reports a config the sandbox cannot run with.
func (c Config) Validate() error {
	if c.Window < 0 {
		return errors.New("rate-limit window must not be negative")
	}
	return nil
}

// Server is a Pipedrive-compatible API server. It is safe for concurrent use.
type Server struct {
	cfg Config
	log *slog.Logger
	now func() time.Time

	mu    sync.Mutex
	st    *store
	rates map[string]*window
	daily map[string]*dayCount
	hooks *hooks
}

// New returns a sandbox with an empty company and the default pipeline.
func New(cfg Config) *Server {
	def := DefaultConfig()
	if cfg.RateLimit == 0 {
		cfg.RateLimit = def.RateLimit
	}
	if cfg.OAuthRateLimit == 0 {
		cfg.OAuthRateLimit = def.OAuthRateLimit
	}
	if cfg.Window <= 0 {
		cfg.Window = def.Window
	}
	if cfg.DailyWrites == 0 {
		cfg.DailyWrites = 10000
	}
	if cfg.WebhookRetries == nil {
		cfg.WebhookRetries = def.WebhookRetries
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	s := &Server{cfg: cfg, log: log, now: now, st: newStore(), rates: map[string]*window{}, daily: map[string]*dayCount{}}
	s.hooks = newHooks(s)
	return s
}

// Close stops webhook deliveries. It is safe to call more than once.
func (s *Server) Close() error {
	s.hooks.close()
	return nil
}

// Handler returns the HTTP handler serving the API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, k := range []string{Organizations, Persons, Deals, Products} {
		mux.HandleFunc("GET /api/v2/"+k, s.list(k))
		mux.HandleFunc("POST /api/v2/"+k, s.create(k))
		mux.HandleFunc("GET /api/v2/"+k+"/search", s.search(k))
		mux.HandleFunc("GET /api/v2/"+k+"/{id}", s.get(k))
		mux.HandleFunc("PATCH /api/v2/"+k+"/{id}", s.update(k))
		mux.HandleFunc("DELETE /api/v2/"+k+"/{id}", s.remove(k))
		mux.HandleFunc("GET /api/v1/"+kinds[k].singular+"Fields", s.listFields(k))
		mux.HandleFunc("POST /api/v1/"+kinds[k].singular+"Fields", s.addField(k))
	}
	mux.HandleFunc("GET /api/v2/deals/products", s.productsOfDeals)
	mux.HandleFunc("GET /api/v2/deals/{id}/products", s.dealProducts)
	mux.HandleFunc("POST /api/v2/deals/{id}/products", s.addDealProduct)
	mux.HandleFunc("PATCH /api/v2/deals/{id}/products/{pid}", s.updateDealProduct)
	mux.HandleFunc("DELETE /api/v2/deals/{id}/products/{pid}", s.removeDealProduct)
	mux.HandleFunc("GET /api/v2/stages", s.listStages)
	mux.HandleFunc("GET /api/v1/users/me", s.me)
	mux.HandleFunc("GET /api/v1/webhooks", s.listWebhooks)
	mux.HandleFunc("POST /api/v1/webhooks", s.addWebhook)
	mux.HandleFunc("DELETE /api/v1/webhooks/{id}", s.removeWebhook)
	return s.guard(mux)
}

// guard authenticates, applies the rate limits and sets their headers.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, limit, ok := s.authenticate(r)
		if !ok {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"success": false, "error": "unauthorized access",
				"errorCode": 401, "error_info": errorInfo, "data": nil, "additional_data": nil})
			return
		}
		write := r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch
		apiToken := strings.HasPrefix(key, "t:")
		if !s.admit(w, key, limit, write && apiToken) {
			writeJSON(w, http.StatusTooManyRequests, map[string]any{"success": false, "error": "Request over limit",
				"errorCode": 429, "error_info": errorInfo, "data": nil, "additional_data": nil})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// authenticate returns the rate-limit key and budget of the request's token.
func (s *Server) authenticate(r *http.Request) (string, int, bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		tok, found := strings.CutPrefix(h, "Bearer ")
		if !found || tok == "" || (s.cfg.OAuthToken != "" && tok != s.cfg.OAuthToken) {
			return "", 0, false
		}
		return "o:" + tok, s.cfg.OAuthRateLimit, true
	}
	tok := r.Header.Get("x-api-token")
	if tok == "" {
		tok = r.URL.Query().Get("api_token")
	}
	if tok == "" || (s.cfg.Token != "" && tok != s.cfg.Token) {
		return "", 0, false
	}
	return "t:" + tok, s.cfg.RateLimit, true
}

type window struct {
	start time.Time
	n     int
}

type dayCount struct {
	day string
	n   int
}

// admit counts the request in its token's window and sets the x-ratelimit-*
// headers; it refuses the request (429, Retry-After) when the window's budget
// or the day's write budget is spent.
func (s *Server) admit(w http.ResponseWriter, key string, limit int, countWrite bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	h := w.Header()
	var win *window
	if limit >= 0 {
		win = s.rates[key]
		if win == nil || now.Sub(win.start) >= s.cfg.Window {
			win = &window{start: now}
			s.rates[key] = win
		}
		reset := win.start.Add(s.cfg.Window).Sub(now)
		resetSecs := strconv.Itoa(max(1, int((reset+time.Second-1)/time.Second)))
		h.Set("x-ratelimit-limit", strconv.Itoa(limit))
		h.Set("x-ratelimit-reset", resetSecs)
		if win.n >= limit {
			h.Set("x-ratelimit-remaining", "0")
			h.Set("Retry-After", resetSecs)
			return false
		}
	}
	if countWrite && s.cfg.DailyWrites > 0 {
		d := s.daily[key]
		day := now.UTC().Format(time.DateOnly)
		if d == nil || d.day != day {
			d = &dayCount{day: day}
			s.daily[key] = d
		}
		if d.n >= s.cfg.DailyWrites {
			h.Set("x-daily-requests-left", "0")
			midnight := now.UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
			h.Set("Retry-After", strconv.Itoa(int(midnight.Sub(now).Seconds())+1))
			return false
		}
		d.n++
		h.Set("x-daily-requests-left", strconv.Itoa(s.cfg.DailyWrites-d.n))
	}
	if win != nil {
		win.n++
		h.Set("x-ratelimit-remaining", strconv.Itoa(limit-win.n))
	}
	return true
}

// decodeBody reads a JSON object with numbers kept as json.Number.
func decodeBody(r *http.Request) (map[string]any, *apiError) {
	b, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		return nil, badRequest("cannot read the request body")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var body map[string]any
	if err := dec.Decode(&body); err != nil || body == nil {
		return nil, badRequest("the request body must be a JSON object")
	}
	return body, nil
}

func pathID(r *http.Request, name string) (int, *apiError) {
	id, err := strconv.Atoi(r.PathValue(name))
	if err != nil || id < 1 {
		return 0, badRequest("Parameter 'id' must be a positive integer")
	}
	return id, nil
}

// dealProductSum is quantity × item_price less the discount, as a JSON number.
func dealProductSum(std map[string]any) json.Number {
	num := func(k string) decimal.Decimal {
		n, _ := std[k].(json.Number)
		d, err := decimal.NewFromString(n.String())
		if err != nil {
			return decimal.Zero
		}
		return d
	}
	gross := num("quantity").Mul(num("item_price"))
	disc := num("discount")
	if std["discount_type"] == "amount" {
		gross = gross.Sub(disc)
	} else {
		gross = gross.Sub(gross.Mul(disc).Div(decimal.NewFromInt(100)))
	}
	return json.Number(gross.String())
}
