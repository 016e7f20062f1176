package pipedrive

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
	"sync/atomic"
	"time"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/pipedrive/pipedrivehttp"
	"github.com/concord-sync/concord/internal/model"
)

// Guards.
var (
	_ connector.Connector       = (*Conn)(nil)
	_ connector.WebhookVerifier = (*Conn)(nil)
	_ connector.Pinger          = (*Conn)(nil)
	_ connector.Doctor          = (*Conn)(nil)
)

// Conn is an opened Pipedrive company. It is safe for concurrent use.
type Conn struct {
	system string
	log    *slog.Logger
	cfg    *config
	api    *pipedrivehttp.Client
	now    func() time.Time
	closed atomic.Bool
	// noLink holds why an entity's link field is unusable: its creates fail
	// and Lookup finds nothing.
	noLink map[model.Entity]string
	// problems are what a read-only Open found wrong instead of failing
	// (mapped custom fields missing or of another type), for Diagnose.
	problems []connector.Problem
}

// Options are knobs for tests and embedding; the zero value is production.
type Options struct {
	HTTPClient *http.Client
	// Limiter replaces the process-wide limiter shared per token.
	Limiter *pipedrivehttp.Limiter
	// Now is the clock for webhook timestamps; time.Now when nil.
	Now func() time.Time
}

// Open decodes p.Settings and connects: it resolves every mapped custom field
// and each entity's link field (creating it when create_link_field is set).
func Open(ctx context.Context, p connector.OpenParams) (*Conn, error) {
	return OpenWith(ctx, p, Options{})
}

// OpenWith is Open with Options.
func OpenWith(ctx context.Context, p connector.OpenParams, o Options) (*Conn, error) {
	cfg, errs := decode(p.Settings)
	if len(errs) > 0 {
		return nil, fmt.Errorf("open pipedrive %s: %w: %w", p.System, errDecode, errors.Join(errs...))
	}
	log := p.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	lim := o.Limiter
	if lim == nil {
		sum := sha256.Sum256([]byte(cfg.baseURL + "\x00" + cfg.token))
		lim = pipedrivehttp.SharedLimiter(hex.EncodeToString(sum[:]), cfg.rateLimit, cfg.rateInterval)
	}
	var shared pipedrivehttp.SharedBudget
	if p.Budgets != nil {
		// Every node on the store shares the token's budget; the limiter
		// above keeps this process's calls in order.
		sum := sha256.Sum256([]byte(cfg.baseURL + "\x00" + cfg.token))
		shared = p.Budgets.Budget("pipedrive:"+hex.EncodeToString(sum[:8]), cfg.rateLimit, cfg.rateInterval)
	}
	api, err := pipedrivehttp.New(pipedrivehttp.Config{BaseURL: cfg.baseURL, Token: cfg.token, OAuth: cfg.oauth,
		Limiter: lim, HTTPClient: o.HTTPClient, Logger: log, Shared: shared, Live: connector.IsLive})
	if err != nil {
		return nil, fmt.Errorf("open pipedrive %s: %w", p.System, err)
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	c := &Conn{system: p.System, log: log, cfg: cfg, api: api, now: now, noLink: map[model.Entity]string{}}
	for _, e := range c.sortedEntities() {
		if err := c.resolveFields(ctx, cfg.entities[e], p.ReadOnly); err != nil {
			return nil, fmt.Errorf("open pipedrive %s: %w", p.System, err)
		}
	}
	return c, nil
}

// resolveFields finds the hash keys of o's custom fields and link field.
func (c *Conn) resolveFields(ctx context.Context, o *object, readOnly bool) error {
	singular := singulars[o.kind]
	fs, err := c.api.Fields(ctx, singular)
	if err != nil {
		return fmt.Errorf("list %s fields: %w", singular, c.callErr(err))
	}
	find := func(nameOrKey string) *pipedrivehttp.Field {
		for i, f := range fs {
			if f.EditFlag && (f.Key == nameOrKey || (!keyRe.MatchString(nameOrKey) && strings.EqualFold(f.Name, nameOrKey))) {
				return &fs[i]
			}
		}
		return nil
	}
	for _, f := range o.fields {
		if f.custom == "" {
			continue
		}
		pf := find(f.custom)
		var problem error
		switch {
		case pf == nil:
			problem = fmt.Errorf("%s custom field %q (entities.%s.fields.%s) does not exist", singular, f.custom, o.entity, f.name)
		case !customFits(pf.FieldType, f.typ):
			problem = fmt.Errorf("%s custom field %q is %s and cannot hold %s field %s", singular, f.custom, pf.FieldType, f.typ, f.name)
		}
		if problem != nil && !readOnly {
			return problem
		}
		if problem != nil {
			c.problems = append(c.problems, connector.Problem{Setting: SettingEntities + "." + string(o.entity) + ".fields." + f.name,
				Msg: problem.Error(), Entity: o.entity,
				Fix: fmt.Sprintf("create a %s custom field named %q in Pipedrive (Settings > Data fields), or map another field", typeHint(f.typ), f.custom)})
			continue
		}
		f.key, f.ctype = pf.Key, pf.FieldType
		f.options = map[int]string{}
		for _, op := range pf.Options {
			f.options[op.ID] = op.Label
		}
	}
	link := find(c.cfg.linkField)
	switch {
	case link == nil && c.cfg.createLink && !readOnly:
		nf, err := c.api.AddField(ctx, singular, c.cfg.linkField, "varchar")
		if err != nil {
			return fmt.Errorf("create link field %s.%q: %w", singular, c.cfg.linkField, c.callErr(err))
		}
		c.log.InfoContext(ctx, "created link field", "object", singular, "field", c.cfg.linkField)
		o.linkKey = nf.Key
	case link == nil:
		c.noLink[o.entity] = fmt.Sprintf("link field %s.%q does not exist (create a text custom field, or set %s)", singular, c.cfg.linkField, SettingCreateLinkField)
		c.log.WarnContext(ctx, "link field missing; creates will fail", "object", singular, "field", c.cfg.linkField)
	case link.FieldType != "varchar" && link.FieldType != "text":
		return fmt.Errorf("link field %s.%q is %s, want a text field (varchar)", singular, c.cfg.linkField, link.FieldType)
	default:
		o.linkKey = link.Key
	}
	return nil
}

// typeHint names the Pipedrive field type that holds canonical type t.
func typeHint(t model.FieldType) string {
	switch t {
	case model.TypeMoney:
		return "monetary"
	case model.TypeDecimal:
		return "numerical"
	case model.TypeDate:
		return "date"
	case model.TypeBool:
		return "single option (Yes, No)"
	}
	return "text"
}

// Diagnose implements connector.Doctor: the mapped custom fields a read-only
// Open could not find (or found of another type), and the link fields that
// are missing, which only matters for writes.
func (c *Conn) Diagnose(context.Context) ([]connector.Problem, error) {
	out := slices.Clone(c.problems)
	for _, e := range c.sortedEntities() {
		if why, broken := c.noLink[e]; broken {
			out = append(out, connector.Problem{Setting: SettingLinkField, Msg: why, Entity: e, Writes: true,
				Fix: fmt.Sprintf("set %s: true, or create a text custom field named %q", SettingCreateLinkField, c.cfg.linkField)})
		}
	}
	return out, nil
}

// customFits reports whether a custom field of Pipedrive type t holds
// canonical type ft.
func customFits(t string, ft model.FieldType) bool {
	switch t {
	case "varchar", "text", "varchar_auto", "phone", "address":
		return ft == model.TypeText || ft == model.TypeEnum
	case "enum":
		return ft == model.TypeText || ft == model.TypeEnum || ft == model.TypeBool
	case "double":
		return ft == model.TypeDecimal || ft == model.TypeMoney
	case "monetary":
		return ft == model.TypeMoney
	case "date":
		return ft == model.TypeDate
	}
	return false
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
		info := connector.EntityInfo{Entity: e}
		for _, f := range c.cfg.entities[e].fields {
			info.Fields = append(info.Fields, f.name)
		}
		out = append(out, info)
	}
	return out
}

// Ping implements connector.Pinger: one call listing the deal fields, which
// every token may read.
func (c *Conn) Ping(ctx context.Context) error {
	_, err := c.api.Fields(ctx, "deal")
	return c.callErr(err)
}

// RateLimitUse returns the share of the token's burst budget this process
// is using now, in [0,1].
func (c *Conn) RateLimitUse() float64 { return c.api.Limiter().Use() }

// RateLimitWaits returns how many requests the limiter held back and how
// long they waited in all.
func (c *Conn) RateLimitWaits() (int64, time.Duration) { return c.api.Limiter().Waits() }

// Close implements connector.Connector. It is safe to call more than once.
func (c *Conn) Close(context.Context) error {
	c.closed.Store(true)
	return nil
}

var errClosed = errors.New("pipedrive connection closed")

func (c *Conn) object(e model.Entity) (*object, error) {
	if c.closed.Load() {
		return nil, errClosed
	}
	o, ok := c.cfg.entities[e]
	if !ok {
		return nil, fmt.Errorf("entity %s is not mapped in pipedrive system %s: %w", e, c.system, connector.ErrUnsupported)
	}
	return o, nil
}

// callErr translates a whole-call client error to the connector's errors.
func (c *Conn) callErr(err error) error {
	var pe *pipedrivehttp.Error
	if !errors.As(err, &pe) {
		return err
	}
	switch pe.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		return fmt.Errorf("%w: %w", connector.ErrUnauthorized, err)
	case http.StatusTooManyRequests:
		return &connector.RetryAfterError{After: pe.RetryAfter, Err: fmt.Errorf("%w: %w", connector.ErrRateLimited, err)}
	}
	return err
}

// maxIDs is the most ids one list call filters by.
const maxIDs = 100

// Get implements connector.Connector: lists by ids, 100 per call.
func (c *Conn) Get(ctx context.Context, entity model.Entity, ids []string) (map[string]model.Record, error) {
	o, err := c.object(entity)
	if err != nil {
		return nil, err
	}
	objs, err := c.byIDs(ctx, o, dedupe(ids))
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", entity, err)
	}
	recs, err := c.records(ctx, o, objs)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", entity, err)
	}
	out := make(map[string]model.Record, len(recs))
	for _, r := range recs {
		out[r.ID] = r
	}
	return out, nil
}

func (c *Conn) byIDs(ctx context.Context, o *object, ids []string) ([]pipedrivehttp.Object, error) {
	var out []pipedrivehttp.Object
	ids = slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return !numeric(id) })
	for start := 0; start < len(ids); start += maxIDs {
		chunk := ids[start:min(start+maxIDs, len(ids))]
		pg, err := c.api.List(ctx, o.kind, pipedrivehttp.ListParams{IDs: chunk, Limit: maxIDs})
		if err != nil {
			return nil, c.callErr(err)
		}
		out = append(out, pg.Items...)
	}
	return out, nil
}

func numeric(s string) bool {
	if s == "" || len(s) > 18 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// Lookup implements connector.Connector: a search on custom fields per link
// key (exact match), then the hits read by id and kept when their link field
// holds the key.
func (c *Conn) Lookup(ctx context.Context, entity model.Entity, linkKeys []string) (map[string]model.Record, error) {
	o, err := c.object(entity)
	if err != nil {
		return nil, err
	}
	out := map[string]model.Record{}
	if _, broken := c.noLink[entity]; broken {
		return out, nil
	}
	var ids []string
	for _, k := range dedupe(linkKeys) {
		hits, err := c.api.SearchCustom(ctx, o.kind, k)
		if err != nil {
			return nil, fmt.Errorf("lookup %s: %w", entity, c.callErr(err))
		}
		ids = append(ids, hits...)
	}
	objs, err := c.byIDs(ctx, o, dedupe(ids))
	if err != nil {
		return nil, fmt.Errorf("lookup %s: %w", entity, err)
	}
	recs, err := c.records(ctx, o, objs)
	if err != nil {
		return nil, fmt.Errorf("lookup %s: %w", entity, err)
	}
	want := map[string]bool{}
	for _, k := range linkKeys {
		want[k] = true
	}
	for _, r := range recs {
		if want[r.LinkKey] {
			out[r.LinkKey] = r
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
