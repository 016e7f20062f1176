package hubspot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/hubspot/hubspothttp"
	"github.com/concord-sync/concord/internal/model"
)

// Guards.
var (
	_ connector.Connector       = (*Conn)(nil)
	_ connector.Archiver        = (*Conn)(nil)
	_ connector.CreateUpserter  = (*Conn)(nil)
	_ connector.WriteBatchSizer = (*Conn)(nil)
	_ connector.WebhookVerifier = (*Conn)(nil)
)

// Conn is an opened HubSpot portal. It is safe for concurrent use.
type Conn struct {
	system string
	log    *slog.Logger
	cfg    *config
	api    *hubspothttp.Client
	now    func() time.Time
	closed atomic.Bool
	// noLink holds the entities whose link property is missing or not unique:
	// their creates fail and Lookup finds nothing.
	noLink map[model.Entity]string
	// readOnly: opened by a caller that only looks; Open creates nothing.
	readOnly bool
}

// Options are knobs for tests and embedding; the zero value is the production
// behaviour.
type Options struct {
	// HTTPClient sends the requests.
	HTTPClient *http.Client
	// Limiter replaces the process-wide limiter shared per portal.
	Limiter *hubspothttp.Limiter
	// Now is the clock for webhook timestamps; time.Now when nil.
	Now func() time.Time
}

// Open decodes p.Settings and connects: it checks each entity's link property
// (creating it when create_link_property is set). It fails on invalid settings
// or when the portal refuses the token.
func Open(ctx context.Context, p connector.OpenParams) (*Conn, error) {
	return OpenWith(ctx, p, Options{})
}

// OpenWith is Open with Options.
func OpenWith(ctx context.Context, p connector.OpenParams, o Options) (*Conn, error) {
	cfg, errs := decode(p.Settings)
	if len(errs) > 0 {
		return nil, fmt.Errorf("open hubspot %s: %w: %w", p.System, errDecode, errors.Join(errs...))
	}
	log := p.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	lim := o.Limiter
	if lim == nil {
		sum := sha256.Sum256([]byte(cfg.baseURL + "\x00" + cfg.token))
		lim = hubspothttp.SharedLimiter(hex.EncodeToString(sum[:]), cfg.rateLimit, cfg.rateInterval)
	}
	searchKey := sha256.Sum256([]byte("search\x00" + cfg.baseURL + "\x00" + cfg.token))
	search := hubspothttp.SharedLimiter(hex.EncodeToString(searchKey[:]), cfg.searchRateLimit, cfg.rateInterval/10)
	if o.Limiter != nil {
		search = hubspothttp.NewLimiter(cfg.searchRateLimit, lim.Interval()/10)
	}
	var shared hubspothttp.SharedBudget
	if p.Budgets != nil && o.Limiter == nil {
		// Every node on the store shares the portal's budget; the limiter
		// above keeps this process's share in order (live first).
		sum := sha256.Sum256([]byte(cfg.baseURL + "\x00" + cfg.token))
		shared = p.Budgets.Budget("hubspot:"+hex.EncodeToString(sum[:8]), cfg.rateLimit, cfg.rateInterval)
	}
	api, err := hubspothttp.New(hubspothttp.Config{BaseURL: cfg.baseURL, Token: cfg.token, Limiter: lim, SearchLimiter: search,
		Shared: shared, Live: connector.IsLive, HTTPClient: o.HTTPClient, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("open hubspot %s: %w", p.System, err)
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	c := &Conn{system: p.System, log: log, cfg: cfg, api: api, now: now, noLink: map[model.Entity]string{}, readOnly: p.ReadOnly}
	for _, e := range c.sortedEntities() {
		if err := c.checkLinkProperty(ctx, c.cfg.entities[e]); err != nil {
			return nil, fmt.Errorf("open hubspot %s: %w", p.System, err)
		}
	}
	return c, nil
}

// RateLimitUse returns the share of the portal's rate-limit budget this
// process is using now, in [0,1], for the owner's watch (internal/health).
func (c *Conn) RateLimitUse() float64 { return c.api.RateLimitUse() }

// checkLinkProperty makes sure o's link property exists and is unique.
func (c *Conn) checkLinkProperty(ctx context.Context, o *object) error {
	p, err := c.api.GetProperty(ctx, o.name, o.link)
	switch {
	case hubspothttp.StatusOf(err) == http.StatusNotFound && c.cfg.createLink && !c.readOnly:
		_, err = c.api.CreateProperty(ctx, o.name, hubspothttp.Property{
			Name: o.link, Label: "Concord link (" + o.link + ")", Type: "string", FieldType: "text",
			GroupName: singular(o.name) + "information", HasUniqueValue: true,
			Description: "The id of this record in the other system, written by Concord. Do not edit.",
		})
		if hubspothttp.StatusOf(err) == http.StatusConflict {
			// It exists: an earlier try created it and its answer was lost
			// (a connection reset after the work).
			if p, gerr := c.api.GetProperty(ctx, o.name, o.link); gerr == nil {
				if !p.HasUniqueValue {
					c.noLink[o.entity] = fmt.Sprintf("link property %s.%s is not unique (hasUniqueValue): retried creates could duplicate", o.name, o.link)
				}
				return nil
			}
		}
		if err != nil {
			return fmt.Errorf("create link property %s.%s: %w", o.name, o.link, c.callErr(err))
		}
		c.log.InfoContext(ctx, "created link property", "object", o.name, "property", o.link)
		return nil
	case hubspothttp.StatusOf(err) == http.StatusNotFound:
		c.noLink[o.entity] = fmt.Sprintf("link property %s.%s does not exist (create it with hasUniqueValue, or set %s)", o.name, o.link, SettingCreateLinkProperty)
		c.log.WarnContext(ctx, "link property missing; creates will fail", "object", o.name, "property", o.link)
		return nil
	case err != nil:
		return fmt.Errorf("check link property %s.%s: %w", o.name, o.link, c.callErr(err))
	case !p.HasUniqueValue:
		c.noLink[o.entity] = fmt.Sprintf("link property %s.%s is not unique (hasUniqueValue): retried creates could duplicate", o.name, o.link)
		c.log.WarnContext(ctx, "link property not unique; creates will fail", "object", o.name, "property", o.link)
	}
	return nil
}

func singular(objectType string) string {
	switch objectType {
	case "companies":
		return "company"
	case "line_items":
		return "line_item"
	}
	if n := len(objectType); n > 1 && objectType[n-1] == 's' {
		return objectType[:n-1]
	}
	return objectType
}

func (c *Conn) sortedEntities() []model.Entity {
	out := make([]model.Entity, 0, len(c.cfg.entities))
	for e := range c.cfg.entities {
		out = append(out, e)
	}
	slices.Sort(out)
	return out
}

// Client returns the HTTP client, for its Stats.
func (c *Conn) Client() *hubspothttp.Client { return c.api }

// Entities implements connector.Connector.
func (c *Conn) Entities() []connector.EntityInfo {
	var out []connector.EntityInfo
	for _, e := range c.sortedEntities() {
		o := c.cfg.entities[e]
		info := connector.EntityInfo{Entity: e}
		for _, f := range o.fields {
			info.Fields = append(info.Fields, f.name)
			if f.readOnly {
				info.ReadOnly = append(info.ReadOnly, f.name)
			}
		}
		out = append(out, info)
	}
	return out
}

// Close implements connector.Connector. It is safe to call more than once.
func (c *Conn) Close(context.Context) error {
	c.closed.Store(true)
	return nil
}

var errClosed = errors.New("hubspot connection closed")

func (c *Conn) object(e model.Entity) (*object, error) {
	if c.closed.Load() {
		return nil, errClosed
	}
	o, ok := c.cfg.entities[e]
	if !ok {
		return nil, fmt.Errorf("entity %s is not mapped in hubspot system %s: %w", e, c.system, connector.ErrUnsupported)
	}
	return o, nil
}

// callErr translates a whole-call client error to the connector's errors.
func (c *Conn) callErr(err error) error {
	var he *hubspothttp.Error
	if !errors.As(err, &he) {
		return err
	}
	switch {
	case he.StatusCode == http.StatusUnauthorized || he.StatusCode == http.StatusForbidden:
		return fmt.Errorf("%w: %w", connector.ErrUnauthorized, err)
	case he.StatusCode == http.StatusTooManyRequests:
		return &connector.RetryAfterError{After: he.RetryAfter, Err: fmt.Errorf("%w: %w", connector.ErrRateLimited, err)}
	}
	return err
}

// properties returns the properties to request for o: link, last-modified and
// every mapped property.
func (o *object) properties() []string {
	set := map[string]bool{o.link: true, propModified: true}
	for _, f := range o.fields {
		if f.property != "" {
			set[f.property] = true
		}
		if f.currencyProp != "" {
			set[f.currencyProp] = true
		}
	}
	return sortedKeys(set)
}

// Get implements connector.Connector: a batch read by id (100 per call), then
// the ids not found among live records are read among archived ones.
func (c *Conn) Get(ctx context.Context, entity model.Entity, ids []string) (map[string]model.Record, error) {
	o, err := c.object(entity)
	if err != nil {
		return nil, err
	}
	objs, err := c.batchRead(ctx, o, ids, "", false)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", entity, err)
	}
	var missing []string
	for _, id := range ids {
		if _, ok := objs[id]; !ok {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		arch, err := c.batchRead(ctx, o, missing, "", true)
		if err != nil {
			return nil, fmt.Errorf("get archived %s: %w", entity, err)
		}
		for id, ob := range arch {
			objs[id] = ob
		}
	}
	list := make([]hubspothttp.Object, 0, len(objs))
	for _, ob := range objs {
		list = append(list, ob)
	}
	recs, err := c.records(ctx, o, list, nil)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", entity, err)
	}
	out := make(map[string]model.Record, len(recs))
	for _, r := range recs {
		out[r.ID] = r
	}
	return out, nil
}

// Lookup implements connector.Connector: a batch read with idProperty set to
// the link property.
func (c *Conn) Lookup(ctx context.Context, entity model.Entity, linkKeys []string) (map[string]model.Record, error) {
	o, err := c.object(entity)
	if err != nil {
		return nil, err
	}
	if _, broken := c.noLink[entity]; broken {
		return map[string]model.Record{}, nil
	}
	objs, err := c.batchRead(ctx, o, linkKeys, o.link, false)
	if err != nil {
		return nil, fmt.Errorf("lookup %s: %w", entity, err)
	}
	list := make([]hubspothttp.Object, 0, len(objs))
	for _, ob := range objs {
		list = append(list, ob)
	}
	recs, err := c.records(ctx, o, list, nil)
	if err != nil {
		return nil, fmt.Errorf("lookup %s: %w", entity, err)
	}
	out := make(map[string]model.Record, len(recs))
	for _, r := range recs {
		if r.LinkKey != "" {
			out[r.LinkKey] = r
		}
	}
	return out, nil
}

// batchRead reads keys (ids, or values of idProperty) 100 at a time; keys that
// match nothing are absent. The result is keyed by the key asked for.
func (c *Conn) batchRead(ctx context.Context, o *object, keys []string, idProperty string, archived bool) (map[string]hubspothttp.Object, error) {
	out := map[string]hubspothttp.Object{}
	keys = dedupe(keys)
	props := o.properties()
	for start := 0; start < len(keys); start += hubspothttp.MaxBatch {
		chunk := keys[start:min(start+hubspothttp.MaxBatch, len(keys))]
		res, err := c.api.BatchRead(ctx, o.name, chunk, idProperty, props, archived)
		if err != nil {
			return nil, c.callErr(err)
		}
		for _, ob := range res.Results {
			key := ob.ID
			if idProperty != "" {
				key = ob.Value(idProperty)
			}
			out[key] = ob
		}
	}
	return out, nil
}

func dedupe(keys []string) []string {
	seen := make(map[string]bool, len(keys))
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		if k != "" && !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}
