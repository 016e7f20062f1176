package salesforce

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/hubspot/hubspothttp"
	"github.com/concord-sync/concord/internal/connector/salesforce/sfhttp"
	"github.com/concord-sync/concord/internal/model"
)

// Guards.
var (
	_ connector.Connector       = (*Conn)(nil)
	_ connector.Archiver        = (*Conn)(nil)
	_ connector.CreateUpserter  = (*Conn)(nil)
	_ connector.WriteBatchSizer = (*Conn)(nil)
	_ connector.Pinger          = (*Conn)(nil)
)

// Conn is an opened Salesforce org. It is safe for concurrent use.
type Conn struct {
	system string
	log    *slog.Logger
	cfg    *config
	api    *sfhttp.Client
	closed atomic.Bool
	// noLink holds the entities whose link field is missing or not an
	// External ID: their creates fail and Lookup finds nothing.
	noLink map[model.Entity]string

	bookMu  sync.Mutex
	stdBook string // the standard price book's id, once read
}

// Options are knobs for tests and embedding; the zero value is the production
// behaviour.
type Options struct {
	// HTTPClient sends the requests.
	HTTPClient *http.Client
	// Limiter replaces the process-wide limiter shared per org.
	Limiter *hubspothttp.Limiter
}

// Open decodes p.Settings, signs in and checks each entity's link field
// (creating it when create_link_field is set). It fails on invalid settings
// or when the org refuses the credentials.
func Open(ctx context.Context, p connector.OpenParams) (*Conn, error) {
	return OpenWith(ctx, p, Options{})
}

// OpenWith is Open with Options.
func OpenWith(ctx context.Context, p connector.OpenParams, o Options) (*Conn, error) {
	cfg, errs := decode(p.Settings)
	if len(errs) > 0 {
		return nil, fmt.Errorf("open salesforce %s: %w: %w", p.System, errDecode, errors.Join(errs...))
	}
	log := p.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	lim := o.Limiter
	if lim == nil {
		sum := sha256.Sum256([]byte("salesforce\x00" + cfg.loginURL + "\x00" + cfg.clientID + "\x00" + cfg.username))
		lim = hubspothttp.SharedLimiter(hex.EncodeToString(sum[:]), cfg.rateLimit, cfg.rateInterval)
	}
	var shared hubspothttp.SharedBudget
	if p.Budgets != nil {
		// Every node on the store shares the org's budget; the limiter
		// above keeps this process's calls in order (live first).
		sum := sha256.Sum256([]byte(cfg.loginURL + "\x00" + cfg.clientID + "\x00" + cfg.username))
		shared = p.Budgets.Budget("salesforce:"+hex.EncodeToString(sum[:8]), cfg.rateLimit, cfg.rateInterval)
	}
	api, err := sfhttp.New(sfhttp.Config{LoginURL: cfg.loginURL, ClientID: cfg.clientID, ClientSecret: cfg.clientSecret,
		Username: cfg.username, PrivateKey: cfg.privateKey, APIVersion: cfg.apiVersion, Limiter: lim,
		HTTPClient: o.HTTPClient, Logger: log, Live: connector.IsLive, Shared: shared})
	if err != nil {
		return nil, fmt.Errorf("open salesforce %s: %w", p.System, err)
	}
	c := &Conn{system: p.System, log: log, cfg: cfg, api: api, noLink: map[model.Entity]string{}}
	if err := api.Authenticate(ctx); err != nil {
		return nil, fmt.Errorf("open salesforce %s: %w", p.System, callErr(err))
	}
	for _, e := range c.sortedEntities() {
		o := cfg.entities[e]
		if e == model.OrderLine {
			continue // line items are written with their opportunity
		}
		if err := c.checkLinkField(ctx, o, p.ReadOnly); err != nil {
			return nil, fmt.Errorf("open salesforce %s: %w", p.System, err)
		}
	}
	return c, nil
}

// checkLinkField makes sure o's link field exists and is an External ID.
func (c *Conn) checkLinkField(ctx context.Context, o *object, readOnly bool) error {
	d, err := c.api.Describe(ctx, o.name)
	if err != nil {
		return fmt.Errorf("describe %s: %w", o.name, callErr(err))
	}
	f := d.Field(o.link)
	switch {
	case f == nil && c.cfg.createLink && !readOnly:
		if err := c.api.CreateExternalIDField(ctx, o.name, o.link, "Concord link"); err != nil {
			var se *sfhttp.Error
			if !errors.As(err, &se) || !se.Has("DUPLICATE_DEVELOPER_NAME") {
				return fmt.Errorf("create link field %s.%s: %w", o.name, o.link, callErr(err))
			}
		}
		c.log.InfoContext(ctx, "created link field", "object", o.name, "field", o.link)
	case f == nil:
		c.noLink[o.entity] = fmt.Sprintf("link field %s.%s does not exist (create it as a unique External ID, or set %s)", o.name, o.link, SettingCreateLinkField)
		c.log.WarnContext(ctx, "link field missing; creates will fail", "object", o.name, "field", o.link)
	case !f.ExternalID:
		c.noLink[o.entity] = fmt.Sprintf("link field %s.%s is not an External ID: creates cannot upsert by it", o.name, o.link)
		c.log.WarnContext(ctx, "link field not an external id; creates will fail", "object", o.name, "field", o.link)
	}
	return nil
}

// Client returns the HTTP client, for its Stats.
func (c *Conn) Client() *sfhttp.Client { return c.api }

// RateLimitUse returns the share of the org's request budget this process
// is using now, in [0,1].
func (c *Conn) RateLimitUse() float64 { return c.api.Limiter().Use() }

// Ping implements connector.Pinger: one limits call.
func (c *Conn) Ping(ctx context.Context) error {
	_, err := c.api.Query(ctx, "SELECT Id FROM Pricebook2 WHERE IsStandard = true LIMIT 1", false, 0)
	return callErr(err)
}

func (c *Conn) sortedEntities() []model.Entity {
	out := make([]model.Entity, 0, len(c.cfg.entities))
	for e := range c.cfg.entities {
		out = append(out, e)
	}
	slices.Sort(out)
	return out
}

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

var errClosed = errors.New("salesforce connection closed")

func (c *Conn) object(e model.Entity) (*object, error) {
	if c.closed.Load() {
		return nil, errClosed
	}
	o, ok := c.cfg.entities[e]
	if !ok {
		return nil, fmt.Errorf("entity %s is not mapped in salesforce system %s: %w", e, c.system, connector.ErrUnsupported)
	}
	return o, nil
}

// callErr translates a whole-call client error to the connector's errors.
func callErr(err error) error {
	var se *sfhttp.Error
	if err == nil || !errors.As(err, &se) {
		return err
	}
	switch {
	case se.Status == http.StatusUnauthorized || se.Has("INSUFFICIENT_ACCESS") || se.Has("API_DISABLED_FOR_ORG"):
		return fmt.Errorf("%w: %w", connector.ErrUnauthorized, err)
	case se.RateLimited():
		return &connector.RetryAfterError{After: se.RetryAfter, Err: fmt.Errorf("%w: %w", connector.ErrRateLimited, err)}
	case !se.Transient() && se.Status >= 400 && se.Status < 500:
		return connector.Permanent("", err)
	}
	return err
}

// selectFields returns the fields to query for o.
func (o *object) selectFields(withLink bool) []string {
	set := []string{"Id", "SystemModstamp", "IsDeleted"}
	if withLink {
		set = append(set, o.link)
	}
	for _, f := range o.fields {
		if f.sf != "" && f.typ != model.TypeLines && !slices.Contains(set, f.sf) {
			set = append(set, f.sf)
		}
		if f.name == "stage" && o.name == "Opportunity" {
			set = append(set, "IsWon", "IsClosed")
		}
	}
	return set
}

// inList renders ids as a SOQL IN list.
func inList(ids []string) string {
	q := make([]string, len(ids))
	for i, id := range ids {
		q[i] = sfhttp.Quote(id)
	}
	return "(" + strings.Join(q, ", ") + ")"
}

// chunkSize bounds the ids of one IN list (SOQL statements are limited to
// 100,000 characters).
const chunkSize = 200

// Get implements connector.Connector: records by Id, those in the recycle
// bin included (archived).
func (c *Conn) Get(ctx context.Context, entity model.Entity, ids []string) (map[string]model.Record, error) {
	o, err := c.object(entity)
	if err != nil {
		return nil, err
	}
	recs, err := c.queryIn(ctx, o, "Id", dedupe(ids), true)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", entity, err)
	}
	out := make(map[string]model.Record, len(recs))
	for _, r := range recs {
		out[r.ID] = r
	}
	// Salesforce answers 18-character ids; callers may hold 15.
	for _, id := range ids {
		if _, ok := out[id]; ok || len(id) != 15 {
			continue
		}
		for full, r := range out {
			if strings.HasPrefix(full, id) {
				out[id] = r
			}
		}
	}
	return out, nil
}

// Lookup implements connector.Connector: records by the link field.
func (c *Conn) Lookup(ctx context.Context, entity model.Entity, linkKeys []string) (map[string]model.Record, error) {
	o, err := c.object(entity)
	if err != nil {
		return nil, err
	}
	if _, broken := c.noLink[entity]; broken {
		return map[string]model.Record{}, nil
	}
	recs, err := c.queryIn(ctx, o, o.link, dedupe(linkKeys), false)
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

// queryIn reads the records of o whose field is one of values.
func (c *Conn) queryIn(ctx context.Context, o *object, field string, values []string, all bool) ([]model.Record, error) {
	var raw []sfhttp.Record
	cols := strings.Join(o.selectFields(c.noLink[o.entity] == ""), ", ")
	for start := 0; start < len(values); start += chunkSize {
		chunk := values[start:min(start+chunkSize, len(values))]
		soql := "SELECT " + cols + " FROM " + o.name + " WHERE " + field + " IN " + inList(chunk)
		if err := c.api.QueryEach(ctx, soql, all, func(r sfhttp.Record) error {
			raw = append(raw, r)
			return nil
		}); err != nil {
			return nil, callErr(err)
		}
	}
	return c.records(ctx, o, raw, nil)
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
