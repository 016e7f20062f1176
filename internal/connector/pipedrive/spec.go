package pipedrive

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/model"
)

// Name is the connector type in the config file (`connector: pipedrive`).
const Name = "pipedrive"

// Setting names.
const (
	SettingBaseURL          = "base_url"
	SettingAPIToken         = "api_token"
	SettingOAuthToken       = "oauth_token"
	SettingWebhookUser      = "webhook_user"
	SettingWebhookPassword  = "webhook_password"
	SettingRateLimit        = "rate_limit"
	SettingRateInterval     = "rate_interval"
	SettingOverlap          = "overlap"
	SettingCurrency         = "currency"
	SettingLinkField        = "link_field"
	SettingCreateLinkField  = "create_link_field"
	SettingStages           = "stages"
	SettingEntities         = "entities"
	SettingWebhookTolerance = "webhook_tolerance"
)

// Defaults.
const (
	DefaultBaseURL = "https://api.pipedrive.com"
	// DefaultRateLimit is requests per rate_interval: Pipedrive's burst limit
	// for an API token on the Professional plan is 80 per 2 s.
	DefaultRateLimit = 80
	// DefaultRateInterval is Pipedrive's rate-limit window.
	DefaultRateInterval = 2 * time.Second
	// DefaultOverlap is how far before the cursor each poll lists again:
	// update_time has whole seconds, and a change committed while a poll
	// reads may carry an earlier second.
	DefaultOverlap = 10 * time.Second
	// DefaultLinkField is the name of the custom field holding the other
	// system's id.
	DefaultLinkField = "Concord link"
	// DefaultWebhookTolerance is how old a webhook's meta.timestamp may be;
	// Pipedrive retries a failed delivery for a few minutes.
	DefaultWebhookTolerance = 15 * time.Minute
)

// DefaultStages maps the canonical open deal stages to the stage ids of
// Pipedrive's default pipeline; won and lost are deal statuses, not stages.
var DefaultStages = map[string]int{
	"qualified": 1, "appointment": 2, "presentation": 3, "decision": 4, "contract": 5,
}

// Kinds maps canonical entities to Pipedrive object kinds.
var Kinds = map[model.Entity]string{
	model.Account: "organizations",
	model.Contact: "persons",
	model.Deal:    "deals",
	model.Product: "products",
}

var singulars = map[string]string{"organizations": "organization", "persons": "person", "deals": "deal", "products": "product"}

// Settings are the pipedrive connector's settings.
type Settings struct {
	BaseURL          string                    `json:"base_url"`
	APIToken         string                    `json:"api_token"`
	OAuthToken       string                    `json:"oauth_token"`
	WebhookUser      string                    `json:"webhook_user"`
	WebhookPassword  string                    `json:"webhook_password"`
	WebhookTolerance string                    `json:"webhook_tolerance"`
	RateLimit        int                       `json:"rate_limit"`
	RateInterval     string                    `json:"rate_interval"`
	Overlap          string                    `json:"overlap"`
	Currency         string                    `json:"currency"`
	LinkField        string                    `json:"link_field"`
	CreateLinkField  bool                      `json:"create_link_field"`
	Stages           map[string]int            `json:"stages"`
	Entities         map[string]EntitySettings `json:"entities"`
}

// EntitySettings maps one canonical entity.
type EntitySettings struct {
	// Fields map canonical fields to Pipedrive fields; the entity's default
	// mapping when empty.
	Fields map[string]FieldMapping `json:"fields"`
}

// FieldMapping maps one canonical field: a standard Pipedrive field
// ("name", "address.locality", "prices.price"), or a custom field by its
// name or 40-character key. In the config it is a string or an object.
type FieldMapping struct {
	Field string `json:"field"`
	// Type is required for canonical fields outside the standard schema.
	Type model.FieldType `json:"type"`
	// Currency is the fixed currency of a number custom field mapped to money.
	Currency string `json:"currency"`
}

// UnmarshalJSON accepts a bare field name or the object form.
func (m *FieldMapping) UnmarshalJSON(b []byte) error {
	type plain FieldMapping
	var v plain
	err := connector.DecodeShorthand(b, func(f string) { v = plain{Field: f} }, &v)
	*m = FieldMapping(v)
	return err
}

// standard lists the standard fields the connector maps, per kind, with the
// canonical type each carries.
var standard = map[string]map[string]model.FieldType{
	"organizations": {"name": model.TypeText, "address.value": model.TypeText, "address.route": model.TypeText,
		"address.street_number": model.TypeText, "address.locality": model.TypeText, "address.postal_code": model.TypeText,
		"address.admin_area_level_1": model.TypeText, "address.country": model.TypeText},
	"persons": {"name": model.TypeText, "first_name": model.TypeText, "last_name": model.TypeText, "job_title": model.TypeText,
		"emails": model.TypeText, "phones": model.TypeText, "org_id": model.TypeRef},
	"deals": {"title": model.TypeText, "value": model.TypeMoney, "status": model.TypeEnum, "expected_close_date": model.TypeDate,
		"org_id": model.TypeRef, "person_id": model.TypeRef, "products": model.TypeLines},
	"products": {"name": model.TypeText, "code": model.TypeText, "description": model.TypeText, "unit": model.TypeText,
		"prices.price": model.TypeMoney, "prices.cost": model.TypeMoney},
}

// DefaultFields returns the default mapping of e.
func DefaultFields(e model.Entity) map[string]FieldMapping {
	f := func(name string) FieldMapping { return FieldMapping{Field: name} }
	switch e {
	case model.Account:
		return map[string]FieldMapping{"name": f("name"), "street": f("address.route"), "city": f("address.locality"),
			"zip": f("address.postal_code"), "region": f("address.admin_area_level_1"), "country": f("address.country")}
	case model.Contact:
		return map[string]FieldMapping{"first_name": f("first_name"), "last_name": f("last_name"), "email": f("emails"),
			"phone": f("phones"), "title": f("job_title"), "account": f("org_id")}
	case model.Deal:
		return map[string]FieldMapping{"name": f("title"), "stage": f("status"), "amount": f("value"),
			"close_date": f("expected_close_date"), "account": f("org_id"), "contact": f("person_id"), "lines": f("products")}
	case model.Product:
		return map[string]FieldMapping{"sku": f("code"), "name": f("name"), "description": f("description"), "unit": f("unit"),
			"list_price": f("prices.price"), "cost_price": f("prices.cost")}
	}
	return nil
}

// Spec returns the pipedrive connector's spec.
func Spec() connector.Spec {
	return connector.Spec{
		Name:    Name,
		Summary: "Pipedrive CRM over its public REST API v2: organizations, persons, deals with products, products; a custom link field, a shared rate budget and v2 webhooks with basic auth.",
		Fields: []connector.Field{
			{Name: SettingBaseURL, Type: "string", Default: DefaultBaseURL, Example: "http://127.0.0.1:8091",
				Description: "API root (your company domain, or api.pipedrive.com); point it at `concord sandbox pipedrive` to work offline."},
			{Name: SettingAPIToken, Type: "string", Secret: true, Example: "env:PIPEDRIVE_API_TOKEN",
				Description: "A user's API token, sent as the x-api-token header. Give api_token or oauth_token."},
			{Name: SettingOAuthToken, Type: "string", Secret: true, Example: "env:PIPEDRIVE_ACCESS_TOKEN",
				Description: "An OAuth access token of a Pipedrive app, sent as a bearer token. Concord does not refresh it."},
			{Name: SettingWebhookUser, Type: "string", Example: "concord",
				Description: "The HTTP basic auth user of the webhooks (http_auth_user); webhooks are refused without user and password."},
			{Name: SettingWebhookPassword, Type: "string", Secret: true, Example: "env:PIPEDRIVE_WEBHOOK_PASSWORD",
				Description: "The HTTP basic auth password of the webhooks (http_auth_password)."},
			{Name: SettingWebhookTolerance, Type: "duration", Default: DefaultWebhookTolerance.String(),
				Description: "How old a delivery's meta.timestamp may be before it is refused as a replay."},
			{Name: SettingRateLimit, Type: "int", Default: strconv.Itoa(DefaultRateLimit), Example: "40",
				Description: "Requests per rate_interval this process may send with the token (your plan's burst limit: Essential 20, Advanced 40, Professional 80, Enterprise 120 per 2 s for an API token). Lowered automatically to x-ratelimit-limit."},
			{Name: SettingRateInterval, Type: "duration", Default: DefaultRateInterval.String(),
				Description: "Pipedrive's rate-limit window."},
			{Name: SettingOverlap, Type: "duration", Default: DefaultOverlap.String(),
				Description: "Each poll lists again this far before the cursor (update_time has whole seconds)."},
			{Name: SettingCurrency, Type: "string", Required: true, Example: "EUR",
				Description: "The company's default currency (ISO 4217): product prices are read and written in it."},
			{Name: SettingLinkField, Type: "string", Default: DefaultLinkField,
				Description: "Name (or 40-character key) of the text custom field holding the other system's id, on every mapped object."},
			{Name: SettingCreateLinkField, Type: "bool", Default: "false",
				Description: "Create a missing link field (type varchar) on open. Without it a missing link field makes creates of that entity fail."},
			{Name: SettingStages, Type: "map", Example: "{qualified: 1, contract: 5}",
				Description: "Canonical open deal stage -> stage id; the default pipeline's stages when empty. won and lost are the deal's status."},
			{Name: SettingEntities, Type: "map", Required: true,
				Example:     "account: {fields: {name: name, segment: {field: Segment, type: text}}}",
				Description: "Per canonical entity (account, contact, deal, product): fields (canonical field -> standard field or custom field name/key, or {field, type, currency}); the default mapping of the entity when empty."},
		},
		Validate: Validate,
		Open: func(ctx context.Context, p connector.OpenParams) (connector.Connector, error) {
			return Open(ctx, p)
		},
	}
}

// Register adds the pipedrive connector to reg.
func Register(reg *connector.Registry) { reg.Register(Spec()) }

// Validate checks settings without side effects and returns every problem.
func Validate(settings map[string]any) []error {
	cfg, errs := decode(settings)
	if cfg != nil && len(cfg.entities) == 0 && len(errs) == 0 {
		errs = append(errs, settingErr(SettingEntities, "map at least one entity"))
	}
	return errs
}

type config struct {
	baseURL          string
	token            string
	oauth            bool
	webhookUser      string
	webhookPassword  string
	webhookTolerance time.Duration
	rateLimit        int
	rateInterval     time.Duration
	overlap          time.Duration
	currency         string
	linkField        string
	createLink       bool
	stageToID        map[string]int
	stageFromID      map[int]string
	entities         map[model.Entity]*object
}

// object is one entity's resolved mapping.
type object struct {
	entity model.Entity
	kind   string
	fields []*field
	// linkKey is the link field's hash key, set on open.
	linkKey string
}

type field struct {
	name     string
	typ      model.FieldType
	ref      model.Entity
	std      string // standard field, or "" for a custom one
	custom   string // custom field name or key as configured
	key      string // custom field hash key, set on open
	ctype    string // custom field type, set on open
	options  map[int]string
	currency string
}

var keyRe = regexp.MustCompile(`^[0-9a-f]{40}$`)

func settingErr(path, format string, args ...any) error {
	return &connector.SettingError{Path: path, Msg: fmt.Sprintf(format, args...)}
}

var errDecode = errors.New("invalid settings")

func decode(settings map[string]any) (*config, []error) {
	var s Settings
	var errs []error
	if err := connector.DecodeSettings(settings, &s); err != nil {
		errs = append(errs, err)
	}
	cfg := &config{baseURL: s.BaseURL, webhookUser: s.WebhookUser, webhookPassword: s.WebhookPassword,
		webhookTolerance: DefaultWebhookTolerance, rateLimit: s.RateLimit, rateInterval: DefaultRateInterval,
		overlap: DefaultOverlap, currency: strings.ToUpper(s.Currency), linkField: s.LinkField,
		createLink: s.CreateLinkField, entities: map[model.Entity]*object{}}
	if cfg.baseURL == "" {
		cfg.baseURL = DefaultBaseURL
	}
	if u, err := url.Parse(cfg.baseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, settingErr(SettingBaseURL, "must be an http or https URL"))
	}
	switch api, oauth := strings.TrimSpace(s.APIToken), strings.TrimSpace(s.OAuthToken); {
	case api != "" && oauth != "":
		errs = append(errs, settingErr(SettingOAuthToken, "give api_token or oauth_token, not both"))
	case api != "":
		cfg.token = api
	case oauth != "":
		cfg.token, cfg.oauth = oauth, true
	default:
		errs = append(errs, settingErr(SettingAPIToken, "required: api_token or oauth_token (as env:NAME or file:PATH)"))
	}
	if (s.WebhookUser == "") != (s.WebhookPassword == "") {
		errs = append(errs, settingErr(SettingWebhookPassword, "give webhook_user and webhook_password together"))
	}
	switch {
	case s.RateLimit == 0:
		cfg.rateLimit = DefaultRateLimit
	case s.RateLimit < 1:
		errs = append(errs, settingErr(SettingRateLimit, "must be at least 1"))
	}
	dur := func(name, v string, dst *time.Duration, allowZero bool) {
		if v == "" {
			return
		}
		d, err := time.ParseDuration(v)
		switch {
		case err != nil:
			errs = append(errs, settingErr(name, "not a duration: %q", v))
		case d < 0 || (d == 0 && !allowZero):
			errs = append(errs, settingErr(name, "must be positive"))
		default:
			*dst = d
		}
	}
	dur(SettingRateInterval, s.RateInterval, &cfg.rateInterval, false)
	dur(SettingOverlap, s.Overlap, &cfg.overlap, true)
	dur(SettingWebhookTolerance, s.WebhookTolerance, &cfg.webhookTolerance, false)
	if len(cfg.currency) != 3 || strings.Trim(cfg.currency, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
		errs = append(errs, settingErr(SettingCurrency, "required: the company's default currency as an ISO 4217 code, got %q", s.Currency))
	}
	if cfg.linkField == "" {
		cfg.linkField = DefaultLinkField
	}
	stages := s.Stages
	if len(stages) == 0 {
		stages = DefaultStages
	}
	cfg.stageToID, cfg.stageFromID = map[string]int{}, map[int]string{}
	stageDef, _ := model.LookupField(model.Deal, "stage")
	for _, canon := range sortedKeys(stages) {
		id := stages[canon]
		switch {
		case canon == "won" || canon == "lost":
			errs = append(errs, settingErr(SettingStages+"."+canon, "won and lost are the deal's status in Pipedrive, not stages"))
		case !slices.Contains(stageDef.Values, canon):
			errs = append(errs, settingErr(SettingStages+"."+canon, "not a canonical deal stage (want one of %s)", strings.Join(stageDef.Values, ", ")))
		case id < 1:
			errs = append(errs, settingErr(SettingStages+"."+canon, "needs a stage id"))
		case cfg.stageFromID[id] != "":
			errs = append(errs, settingErr(SettingStages+"."+canon, "stage id %d is already mapped from %s", id, cfg.stageFromID[id]))
		default:
			cfg.stageToID[canon], cfg.stageFromID[id] = id, canon
		}
	}
	for _, n := range sortedKeys(s.Entities) {
		o, oerrs := decodeEntity(SettingEntities+"."+n, model.Entity(n), s.Entities[n], cfg.currency)
		errs = append(errs, oerrs...)
		if o != nil {
			cfg.entities[o.entity] = o
		}
	}
	return cfg, errs
}

func decodeEntity(path string, e model.Entity, s EntitySettings, currency string) (*object, []error) {
	kind, ok := Kinds[e]
	if !ok {
		return nil, []error{settingErr(path, "Pipedrive maps account, contact, deal and product, not %q", e)}
	}
	var errs []error
	o := &object{entity: e, kind: kind}
	fields := s.Fields
	if len(fields) == 0 {
		fields = DefaultFields(e)
	}
	for _, name := range sortedKeys(fields) {
		m := fields[name]
		fp := path + ".fields." + name
		f := &field{name: name, typ: m.Type, currency: strings.ToUpper(m.Currency)}
		if def, ok := model.LookupField(e, name); ok {
			if m.Type != "" && m.Type != def.Type {
				errs = append(errs, settingErr(fp+".type", "standard field %s is %s, not %s", name, def.Type, m.Type))
			}
			f.typ, f.ref = def.Type, def.Ref
		} else if m.Type == "" || !slices.Contains(model.FieldTypes, m.Type) || m.Type == model.TypeRef || m.Type == model.TypeLines {
			errs = append(errs, settingErr(fp, "unknown field of %s: custom fields need a type (text, enum, decimal, money, date, bool)", e))
			continue
		}
		if m.Field == "" {
			errs = append(errs, settingErr(fp+".field", "required"))
			continue
		}
		if st, ok := standard[kind][m.Field]; ok {
			if !compatible(st, f.typ) {
				errs = append(errs, settingErr(fp, "%s.%s holds %s, not %s", kind, m.Field, st, f.typ))
				continue
			}
			f.std = m.Field
		} else {
			if f.typ == model.TypeRef || f.typ == model.TypeLines {
				errs = append(errs, settingErr(fp, "%s fields map to a standard field", f.typ))
				continue
			}
			f.custom = m.Field
		}
		if f.typ == model.TypeMoney && f.currency == "" {
			f.currency = currency
		}
		o.fields = append(o.fields, f)
	}
	return o, errs
}

// compatible reports whether a standard field of type std holds a canonical
// field of type canon: the same type, or text holding an enum.
func compatible(std, canon model.FieldType) bool {
	return std == canon || std == model.TypeText && canon == model.TypeEnum
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
