package pipedrivehttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Object is one API object as decoded, numbers as json.Number.
type Object map[string]any

// ID returns the object's id as a string.
func (o Object) ID() string { return Str(o["id"]) }

// Str renders a JSON scalar as a string ("" for null).
func Str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v)
}

// Error is a refusal by the API.
type Error struct {
	StatusCode int
	Message    string
	Code       string
	RetryAfter time.Duration
}

// Error implements error.
func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.StatusCode)
	}
	return fmt.Sprintf("pipedrive: %d %s", e.StatusCode, msg)
}

// Transient reports whether a retry may succeed: rate limits and server errors.
func (e *Error) Transient() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500
}

// RetryDelay is the wait the server asked for, 0 when none.
func (e *Error) RetryDelay() time.Duration { return e.RetryAfter }

// StatusOf returns the HTTP status of an *Error in err's chain, 0 otherwise.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.StatusCode
	}
	return 0
}

// Config configures a Client.
type Config struct {
	BaseURL string
	// Token is the API token, sent as x-api-token; with OAuth, the access
	// token sent as a bearer token.
	Token   string
	OAuth   bool
	Limiter *Limiter
	// HTTPClient sends the requests; a client with a 60 s timeout when nil.
	HTTPClient *http.Client
	Logger     *slog.Logger
	// Max429 is how many times one call is sent again after a 429; 8 when 0.
	Max429 int
	// Shared, when set, is the token's budget shared with the other
	// processes on the store (several serve nodes): every call takes a
	// token from it too, after the per-process Limiter.
	Shared SharedBudget
	// Live, when set, tells whether a call's ctx carries live work, which
	// may take the shared budget's last tokens.
	Live func(ctx context.Context) bool
}

// SharedBudget is a rate budget shared with other processes.
type SharedBudget interface {
	// Take waits until one request may be sent; live callers go first. It
	// returns ctx's error when ctx ends first.
	Take(ctx context.Context, live bool) error
}

// Client calls one Pipedrive company. It is safe for concurrent use.
type Client struct {
	base string
	cfg  Config
	http *http.Client
	lim  *Limiter
	log  *slog.Logger
}

// New returns a client for cfg.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("base url %q is not a URL", cfg.BaseURL)
	}
	if cfg.Limiter == nil {
		cfg.Limiter = NewLimiter(80, 2*time.Second)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 60 * time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Max429 == 0 {
		cfg.Max429 = 8
	}
	return &Client{base: strings.TrimRight(cfg.BaseURL, "/"), cfg: cfg, http: cfg.HTTPClient, lim: cfg.Limiter, log: cfg.Logger}, nil
}

// Limiter returns the client's limiter.
func (c *Client) Limiter() *Limiter { return c.lim }

// envelope is every response's body.
type envelope struct {
	Success        bool            `json:"success"`
	Data           json.RawMessage `json:"data"`
	AdditionalData struct {
		NextCursor *string `json:"next_cursor"`
	} `json:"additional_data"`
	Error string `json:"error"`
	Code  any    `json:"code"`
}

// do sends one call, waiting for the limiter and sending it again after a
// 429 (the server did no work), and decodes data into out.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, body any, out any) (*envelope, error) {
	var payload []byte
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		payload = b
	}
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(payload))
		if err != nil {
			return nil, fmt.Errorf("build %s %s: %w", method, path, err)
		}
		release, err := c.lim.Acquire(ctx)
		if err != nil {
			return nil, err
		}
		if c.cfg.Shared != nil {
			if err := c.cfg.Shared.Take(ctx, c.cfg.Live != nil && c.cfg.Live(ctx)); err != nil {
				release(nil)
				return nil, fmt.Errorf("%s %s: wait for the token's shared budget: %w", method, path, err)
			}
		}
		req.Header.Set("Accept", "application/json")
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if c.cfg.OAuth {
			req.Header.Set("Authorization", "Bearer "+c.cfg.Token)
		} else {
			req.Header.Set("x-api-token", c.cfg.Token)
		}
		resp, err := c.http.Do(req)
		if err != nil {
			release(nil)
			return nil, fmt.Errorf("%s %s: %w", method, path, err)
		}
		release(resp.Header)
		raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		_ = resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("%s %s: read body: %w", method, path, err)
		}
		if resp.StatusCode == http.StatusTooManyRequests {
			wait := retryAfter(resp.Header)
			c.lim.Pause(wait)
			if attempt < c.cfg.Max429 {
				c.log.DebugContext(ctx, "rate limited; waiting", "wait", wait)
				continue
			}
		}
		var env envelope
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		decErr := dec.Decode(&env)
		if resp.StatusCode/100 != 2 || (decErr == nil && !env.Success) {
			e := &Error{StatusCode: resp.StatusCode, Message: env.Error, Code: Str(env.Code)}
			if resp.StatusCode == http.StatusTooManyRequests {
				e.RetryAfter = retryAfter(resp.Header)
			}
			return nil, e
		}
		if decErr != nil {
			return nil, fmt.Errorf("%s %s: decode: %w", method, path, decErr)
		}
		if out != nil && len(env.Data) > 0 {
			d := json.NewDecoder(bytes.NewReader(env.Data))
			d.UseNumber()
			if err := d.Decode(out); err != nil {
				return nil, fmt.Errorf("%s %s: decode data: %w", method, path, err)
			}
		}
		return &env, nil
	}
}

func retryAfter(h http.Header) time.Duration {
	for _, k := range []string{"Retry-After", "x-ratelimit-reset"} {
		if n, err := strconv.Atoi(h.Get(k)); err == nil && n > 0 {
			return time.Duration(n) * time.Second
		}
	}
	return 2 * time.Second
}

// ListParams are the query of a v2 list call.
type ListParams struct {
	Cursor        string
	Limit         int
	UpdatedSince  time.Time
	SortBy        string
	SortDirection string
	IDs           []string
	Status        string
}

// Page is one page of a list.
type Page struct {
	Items []Object
	// Next is the cursor of the next page, empty on the last.
	Next string
}

// List calls GET /api/v2/{kind}.
func (c *Client) List(ctx context.Context, kind string, p ListParams) (Page, error) {
	q := url.Values{}
	if p.Cursor != "" {
		q.Set("cursor", p.Cursor)
	}
	if p.Limit > 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	if !p.UpdatedSince.IsZero() {
		q.Set("updated_since", p.UpdatedSince.UTC().Format(time.RFC3339))
	}
	if p.SortBy != "" {
		q.Set("sort_by", p.SortBy)
	}
	if p.SortDirection != "" {
		q.Set("sort_direction", p.SortDirection)
	}
	if len(p.IDs) > 0 {
		q.Set("ids", strings.Join(p.IDs, ","))
	}
	if p.Status != "" {
		q.Set("status", p.Status)
	}
	var items []Object
	env, err := c.do(ctx, http.MethodGet, "/api/v2/"+kind, q, nil, &items)
	if err != nil {
		return Page{}, err
	}
	pg := Page{Items: items}
	if env.AdditionalData.NextCursor != nil {
		pg.Next = *env.AdditionalData.NextCursor
	}
	return pg, nil
}

// Get calls GET /api/v2/{kind}/{id}.
func (c *Client) Get(ctx context.Context, kind, id string) (Object, error) {
	var o Object
	_, err := c.do(ctx, http.MethodGet, "/api/v2/"+kind+"/"+url.PathEscape(id), nil, nil, &o)
	return o, err
}

// Create calls POST /api/v2/{kind}.
func (c *Client) Create(ctx context.Context, kind string, body map[string]any) (Object, error) {
	var o Object
	_, err := c.do(ctx, http.MethodPost, "/api/v2/"+kind, nil, body, &o)
	return o, err
}

// Update calls PATCH /api/v2/{kind}/{id}.
func (c *Client) Update(ctx context.Context, kind, id string, body map[string]any) (Object, error) {
	var o Object
	_, err := c.do(ctx, http.MethodPatch, "/api/v2/"+kind+"/"+url.PathEscape(id), nil, body, &o)
	return o, err
}

// Delete calls DELETE /api/v2/{kind}/{id}.
func (c *Client) Delete(ctx context.Context, kind, id string) error {
	_, err := c.do(ctx, http.MethodDelete, "/api/v2/"+kind+"/"+url.PathEscape(id), nil, nil, nil)
	return err
}

// SearchCustom returns the ids of kind whose custom fields hold exactly term
// (GET /api/v2/{kind}/search with fields=custom_fields and exact_match).
func (c *Client) SearchCustom(ctx context.Context, kind, term string) ([]string, error) {
	var ids []string
	cursor := ""
	for {
		q := url.Values{"term": {term}, "fields": {"custom_fields"}, "exact_match": {"true"}, "limit": {"100"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var data struct {
			Items []struct {
				Item Object `json:"item"`
			} `json:"items"`
		}
		env, err := c.do(ctx, http.MethodGet, "/api/v2/"+kind+"/search", q, nil, &data)
		if err != nil {
			return nil, err
		}
		for _, it := range data.Items {
			ids = append(ids, it.Item.ID())
		}
		if env.AdditionalData.NextCursor == nil || *env.AdditionalData.NextCursor == "" {
			return ids, nil
		}
		cursor = *env.AdditionalData.NextCursor
	}
}

// Field is one field of an object type as the Fields API lists it.
type Field struct {
	ID        int      `json:"id"`
	Key       string   `json:"key"`
	Name      string   `json:"name"`
	FieldType string   `json:"field_type"`
	EditFlag  bool     `json:"edit_flag"`
	Options   []Option `json:"options"`
}

// Option is one option of an enum or set field.
type Option struct {
	ID    int    `json:"id"`
	Label string `json:"label"`
}

// Fields calls GET /api/v1/{singular}Fields.
func (c *Client) Fields(ctx context.Context, singular string) ([]Field, error) {
	var fs []Field
	_, err := c.do(ctx, http.MethodGet, "/api/v1/"+singular+"Fields", url.Values{"limit": {"500"}}, nil, &fs)
	return fs, err
}

// AddField calls POST /api/v1/{singular}Fields.
func (c *Client) AddField(ctx context.Context, singular, name, fieldType string) (Field, error) {
	var f Field
	_, err := c.do(ctx, http.MethodPost, "/api/v1/"+singular+"Fields", nil, map[string]any{"name": name, "field_type": fieldType}, &f)
	return f, err
}

// DealProducts returns the products of the deals (at most 100 ids), by
// GET /api/v2/deals/products.
func (c *Client) DealProducts(ctx context.Context, dealIDs []string) ([]Object, error) {
	var out []Object
	cursor := ""
	for {
		q := url.Values{"deal_ids": {strings.Join(dealIDs, ",")}, "limit": {"500"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var items []Object
		env, err := c.do(ctx, http.MethodGet, "/api/v2/deals/products", q, nil, &items)
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
		if env.AdditionalData.NextCursor == nil || *env.AdditionalData.NextCursor == "" {
			return out, nil
		}
		cursor = *env.AdditionalData.NextCursor
	}
}

// AddDealProduct calls POST /api/v2/deals/{id}/products.
func (c *Client) AddDealProduct(ctx context.Context, dealID string, body map[string]any) (Object, error) {
	var o Object
	_, err := c.do(ctx, http.MethodPost, "/api/v2/deals/"+url.PathEscape(dealID)+"/products", nil, body, &o)
	return o, err
}

// UpdateDealProduct calls PATCH /api/v2/deals/{id}/products/{pid}.
func (c *Client) UpdateDealProduct(ctx context.Context, dealID, id string, body map[string]any) (Object, error) {
	var o Object
	_, err := c.do(ctx, http.MethodPatch, "/api/v2/deals/"+url.PathEscape(dealID)+"/products/"+url.PathEscape(id), nil, body, &o)
	return o, err
}

// DeleteDealProduct calls DELETE /api/v2/deals/{id}/products/{pid}.
func (c *Client) DeleteDealProduct(ctx context.Context, dealID, id string) error {
	_, err := c.do(ctx, http.MethodDelete, "/api/v2/deals/"+url.PathEscape(dealID)+"/products/"+url.PathEscape(id), nil, nil, nil)
	return err
}
