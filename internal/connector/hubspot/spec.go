package hubspot

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/model"
)

// Name is the connector type in the config file (`connector: hubspot`).
const Name = "hubspot"

// Setting names.
const (
	SettingBaseURL            = "base_url"
	SettingToken              = "token"
	SettingWebhookSecret      = "webhook_secret"
	SettingWebhookURL         = "webhook_url"
	SettingRateLimit          = "rate_limit"
	SettingRateInterval       = "rate_interval"
	SettingSearchRateLimit    = "search_rate_limit"
	SettingOverlap            = "overlap"
	SettingCurrency           = "currency"
	SettingCreateLinkProperty = "create_link_property"
	SettingReadArchived       = "read_archived"
	SettingPipeline           = "pipeline"
	SettingStages             = "stages"
	SettingEntities           = "entities"
)

// Defaults.
const (
	DefaultBaseURL = "https://api.hubapi.com"
	// DefaultRateLimit is requests per rate_interval: HubSpot's burst limit for
	// private apps on Professional and Enterprise portals is 190 per 10 s.
	DefaultRateLimit = 190
	// DefaultRateInterval is HubSpot's rolling rate-limit window.
	DefaultRateInterval = 10 * time.Second
	// DefaultSearchRateLimit is search calls per second: HubSpot documents five
	// per second per token; one is kept in reserve.
	DefaultSearchRateLimit = 4
	// DefaultOverlap is how far before the cursor each new poll searches again.
	// It must exceed HubSpot's search indexing delay (a change is searchable a
	// few seconds after it is made), with a wide margin.
	DefaultOverlap = 30 * time.Second
	// DefaultLinkProperty is the unique property holding the other system's id.
	DefaultLinkProperty = "erp_id"
	// DefaultPipeline is HubSpot's default deal pipeline.
	DefaultPipeline = "default"
)

// DefaultStages maps the canonical deal stages to the stage ids of HubSpot's
// default sales pipeline.
var DefaultStages = map[string]string{
	"appointment":  "appointmentscheduled",
	"qualified":    "qualifiedtobuy",
	"presentation": "presentationscheduled",
	"decision":     "decisionmakerboughtin",
	"contract":     "contractsent",
	"won":          "closedwon",
	"lost":         "closedlost",
}

// DefaultObjects maps canonical entities to HubSpot object types.
var DefaultObjects = map[model.Entity]string{
	model.Account:   "companies",
	model.Contact:   "contacts",
	model.Deal:      "deals",
	model.Product:   "products",
	model.OrderLine: "line_items",
}

// Settings are the hubspot connector's settings.
type Settings struct {
	BaseURL            string                    `json:"base_url"`
	Token              string                    `json:"token"`
	WebhookSecret      string                    `json:"webhook_secret"`
	WebhookURL         string                    `json:"webhook_url"`
	RateLimit          int                       `json:"rate_limit"`
	RateInterval       string                    `json:"rate_interval"`
	SearchRateLimit    int                       `json:"search_rate_limit"`
	Overlap            string                    `json:"overlap"`
	Currency           string                    `json:"currency"`
	CreateLinkProperty bool                      `json:"create_link_property"`
	ReadArchived       *bool                     `json:"read_archived"`
	Pipeline           string                    `json:"pipeline"`
	Stages             map[string]string         `json:"stages"`
	Entities           map[string]EntitySettings `json:"entities"`
}

// EntitySettings maps one canonical entity to one HubSpot object type.
type EntitySettings struct {
	// Object is the HubSpot object type; DefaultObjects when empty.
	Object string `json:"object"`
	// LinkProperty is the unique property (hasUniqueValue) that holds the
	// other system's id; DefaultLinkProperty when empty.
	LinkProperty string `json:"link_property"`
	// Fields map canonical fields to properties; the entity's default mapping
	// when empty.
	Fields map[string]FieldMapping `json:"fields"`
}

// FieldMapping maps one canonical field. In the config it is a property name or
// an object.
type FieldMapping struct {
	// Property is the HubSpot property.
	Property string `json:"property"`
	// Association maps a ref or lines field to the records of this object type
	// associated with the record (v4 associations), instead of a property.
	Association string `json:"association"`
	// Type is required for custom fields and must match for standard ones.
	Type model.FieldType `json:"type"`
	// Currency is the fixed currency of a money property; the portal's
	// currency setting when empty.
	Currency string `json:"currency"`
	// CurrencyProperty holds each record's currency (deal_currency_code).
	CurrencyProperty string `json:"currency_property"`
	// Percent: the property holds a percentage of the canonical fraction.
	Percent bool `json:"percent"`
	// ReadOnly: HubSpot computes the property; it is never written.
	ReadOnly bool `json:"read_only"`
}

// UnmarshalJSON accepts a bare property name or the object form.
func (m *FieldMapping) UnmarshalJSON(b []byte) error {
	type plain FieldMapping
	var v plain
	err := connector.DecodeShorthand(b, func(property string) { v = plain{Property: property} }, &v)
	*m = FieldMapping(v)
	return err
}

// DefaultFields returns the default mapping of e, nil for entities without one.
func DefaultFields(e model.Entity) map[string]FieldMapping {
	p := func(name string) FieldMapping { return FieldMapping{Property: name} }
	switch e {
	case model.Account:
		return map[string]FieldMapping{"name": p("name"), "domain": p("domain"), "phone": p("phone"),
			"street": p("address"), "city": p("city"), "zip": p("zip"), "region": p("state"), "country": p("country")}
	case model.Contact:
		return map[string]FieldMapping{"first_name": p("firstname"), "last_name": p("lastname"), "email": p("email"),
			"phone": p("phone"), "title": p("jobtitle"), "account": {Association: "companies"}}
	case model.Product:
		return map[string]FieldMapping{"sku": p("hs_sku"), "name": p("name"), "description": p("description"),
			"list_price": p("price"), "cost_price": p("hs_cost_of_goods_sold")}
	case model.Deal:
		return map[string]FieldMapping{"name": p("dealname"), "stage": p("dealstage"),
			"amount": {Property: "amount", CurrencyProperty: "deal_currency_code"}, "close_date": p("closedate"),
			"account": {Association: "companies"}, "contact": {Association: "contacts"}, "lines": {Association: "line_items"}}
	case model.OrderLine:
		return map[string]FieldMapping{"product": p("hs_product_id"), "description": p("description"),
			"quantity": p("quantity"), "unit_price": p("price"),
			"discount": {Property: "hs_discount_percentage", Percent: true}, "amount": {Property: "amount", ReadOnly: true}}
	}
	return nil
}

// Spec returns the hubspot connector's spec.
func Spec() connector.Spec {
	return connector.Spec{
		Name:    Name,
		Summary: "HubSpot CRM over its public REST API: companies, contacts, deals, products and line items, with a shared rate limiter and v3 webhook signatures.",
		Fields: []connector.Field{
			{Name: SettingBaseURL, Type: "string", Default: DefaultBaseURL, Example: "http://127.0.0.1:8089",
				Description: "API root; point it at `concord sandbox hubspot` to work offline."},
			{Name: SettingToken, Type: "string", Required: true, Secret: true, Example: "env:HUBSPOT_TOKEN",
				Description: "Private-app access token with the CRM object, schema and association scopes."},
			{Name: SettingWebhookSecret, Type: "string", Secret: true, Example: "env:HUBSPOT_CLIENT_SECRET",
				Description: "The app's client secret, the key of the X-HubSpot-Signature-v3 webhook signature; webhooks are refused without it."},
			{Name: SettingWebhookURL, Type: "string", Example: "https://concord.example.com/webhooks/hubspot",
				Description: "The public URL HubSpot posts webhooks to, when Concord runs behind a proxy that changes scheme, host or path; the signature covers it."},
			{Name: SettingRateLimit, Type: "int", Default: fmt.Sprint(DefaultRateLimit), Example: "100",
				Description: "Requests per rate_interval this process may send to the portal; keep it under the portal's budget, which other apps share. Lowered automatically to X-HubSpot-RateLimit-Max."},
			{Name: SettingRateInterval, Type: "duration", Default: DefaultRateInterval.String(),
				Description: "HubSpot's rolling rate-limit window. Change it only for a sandbox whose clock runs faster."},
			{Name: SettingSearchRateLimit, Type: "int", Default: fmt.Sprint(DefaultSearchRateLimit),
				Description: "Search calls per second (HubSpot allows five per token)."},
			{Name: SettingOverlap, Type: "duration", Default: DefaultOverlap.String(), Example: "1m",
				Description: "Each poll searches again this far before the cursor, to catch changes HubSpot's search index showed late. Must exceed the indexing delay."},
			{Name: SettingCurrency, Type: "string", Required: true, Example: "EUR",
				Description: "The portal's company currency (ISO 4217), the currency of money properties without their own."},
			{Name: SettingCreateLinkProperty, Type: "bool", Default: "false",
				Description: "Create a missing link property (string, unique) on open. Without it a missing link property makes creates of that entity fail."},
			{Name: SettingReadArchived, Type: "bool", Default: "true",
				Description: "Polls also list archived records (HubSpot search never returns them) so that Read reports them with archived set. Costs one call per 100 archived records per poll."},
			{Name: SettingPipeline, Type: "string", Default: DefaultPipeline,
				Description: "Deal pipeline id new deals are created in."},
			{Name: SettingStages, Type: "map", Example: "{won: closedwon, lost: closedlost}",
				Description: "Canonical deal stage -> pipeline stage id; HubSpot's default pipeline stages when empty."},
			{Name: SettingEntities, Type: "map", Required: true,
				Example:     "account: {object: companies, link_property: erp_id, fields: {name: name, vat: {property: vat_number, type: text}}}",
				Description: "Per canonical entity: object (HubSpot object type), link_property (unique property holding the ERP id) and fields (canonical field -> property or {property | association, type, currency, currency_property, percent, read_only}); defaults per entity."},
		},
		Validate: Validate,
		Open: func(ctx context.Context, p connector.OpenParams) (connector.Connector, error) {
			return Open(ctx, p)
		},
	}
}

// Register adds the hubspot connector to reg.
func Register(reg *connector.Registry) { reg.Register(Spec()) }

// Validate checks settings without side effects and returns every problem as a
// *connector.SettingError with a dotted path.
func Validate(settings map[string]any) []error {
	cfg, errs := decode(settings)
	if cfg != nil && len(cfg.entities) == 0 && !slices.ContainsFunc(errs, func(err error) bool {
		var se *connector.SettingError
		return errors.As(err, &se) && strings.HasPrefix(se.Path, SettingEntities+".")
	}) {
		errs = append(errs, settingErr(SettingEntities, "map at least one entity"))
	}
	return errs
}

// config is the validated form of Settings.
type config struct {
	baseURL         string
	token           string
	webhookSecret   string
	webhookURL      string
	rateLimit       int
	rateInterval    time.Duration
	searchRateLimit int
	overlap         time.Duration
	currency        string
	createLink      bool
	readArchived    bool
	pipeline        string
	stageToHS       map[string]string
	stageFromHS     map[string]string
	entities        map[model.Entity]*object
	byObject        map[string]*object
}

// object is one entity's resolved mapping.
type object struct {
	entity model.Entity
	name   string // HubSpot object type
	link   string // link property
	fields []*field
	byName map[string]*field
	// lineMap is the order_line mapping used for a lines field.
	lines *object
}

// field is one mapped canonical field.
type field struct {
	name         string
	typ          model.FieldType
	ref          model.Entity
	property     string
	association  string
	currency     string
	currencyProp string
	percent      bool
	readOnly     bool
}

func settingErr(path, format string, args ...any) error {
	return &connector.SettingError{Path: path, Msg: fmt.Sprintf(format, args...)}
}

var errDecode = errors.New("invalid settings")

func decode(settings map[string]any) (*config, []error) {
	var s Settings
	var errs []error
	if err := connector.DecodeSettings(settings, &s); err != nil {
		// Unknown keys and wrong types; what is left is checked too.
		errs = append(errs, err)
	}
	cfg := &config{baseURL: s.BaseURL, token: s.Token, webhookSecret: s.WebhookSecret, webhookURL: s.WebhookURL,
		rateLimit: s.RateLimit, rateInterval: DefaultRateInterval, searchRateLimit: s.SearchRateLimit,
		overlap: DefaultOverlap, currency: strings.ToUpper(s.Currency), createLink: s.CreateLinkProperty,
		readArchived: s.ReadArchived == nil || *s.ReadArchived, pipeline: s.Pipeline,
		entities: map[model.Entity]*object{}, byObject: map[string]*object{}}
	if cfg.baseURL == "" {
		cfg.baseURL = DefaultBaseURL
	}
	if u, err := url.Parse(cfg.baseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, settingErr(SettingBaseURL, "must be an http or https URL"))
	}
	if s.WebhookURL != "" {
		if u, err := url.Parse(s.WebhookURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
			errs = append(errs, settingErr(SettingWebhookURL, "must be an http or https URL without a query"))
		}
	}
	if strings.TrimSpace(s.Token) == "" {
		errs = append(errs, settingErr(SettingToken, "required (a private-app token, given as env:NAME or file:PATH)"))
	}
	switch {
	case s.RateLimit == 0:
		cfg.rateLimit = DefaultRateLimit
	case s.RateLimit < 1:
		errs = append(errs, settingErr(SettingRateLimit, "must be at least 1"))
	}
	switch {
	case s.SearchRateLimit == 0:
		cfg.searchRateLimit = DefaultSearchRateLimit
	case s.SearchRateLimit < 1:
		errs = append(errs, settingErr(SettingSearchRateLimit, "must be at least 1"))
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
	if len(cfg.currency) != 3 || strings.Trim(cfg.currency, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
		errs = append(errs, settingErr(SettingCurrency, "required: the portal's company currency as an ISO 4217 code, got %q", s.Currency))
	}
	if cfg.pipeline == "" {
		cfg.pipeline = DefaultPipeline
	}
	stages := s.Stages
	if len(stages) == 0 {
		stages = DefaultStages
	}
	cfg.stageToHS, cfg.stageFromHS = map[string]string{}, map[string]string{}
	stageDef, _ := model.LookupField(model.Deal, "stage")
	for _, canon := range sortedKeys(stages) {
		hs := stages[canon]
		switch {
		case !slices.Contains(stageDef.Values, canon):
			errs = append(errs, settingErr(SettingStages+"."+canon, "not a canonical deal stage (want one of %s)", strings.Join(stageDef.Values, ", ")))
		case hs == "":
			errs = append(errs, settingErr(SettingStages+"."+canon, "needs a pipeline stage id"))
		case cfg.stageFromHS[hs] != "":
			errs = append(errs, settingErr(SettingStages+"."+canon, "stage id %q is already mapped from %s", hs, cfg.stageFromHS[hs]))
		default:
			cfg.stageToHS[canon], cfg.stageFromHS[hs] = hs, canon
		}
	}
	// No entities is valid for Open (`concord init` inspects the portal
	// before anything is mapped); Validate refuses it in a config.
	for _, n := range sortedKeys(s.Entities) {
		o, oerrs := decodeEntity(SettingEntities+"."+n, model.Entity(n), s.Entities[n], cfg.currency)
		errs = append(errs, oerrs...)
		if o == nil {
			continue
		}
		if prev, dup := cfg.byObject[o.name]; dup {
			errs = append(errs, settingErr(SettingEntities+"."+n+".object", "object %s is already mapped by %s", o.name, prev.entity))
			continue
		}
		cfg.entities[o.entity], cfg.byObject[o.name] = o, o
	}
	// A lines field reads and writes line items with the order_line mapping.
	lines := cfg.entities[model.OrderLine]
	if lines == nil {
		lines, _ = decodeEntity("", model.OrderLine, EntitySettings{}, cfg.currency)
	}
	for _, o := range cfg.entities {
		for _, f := range o.fields {
			if f.typ == model.TypeLines {
				o.lines = lines
			}
		}
	}
	return cfg, errs
}

func decodeEntity(path string, e model.Entity, s EntitySettings, currency string) (*object, []error) {
	if !e.Valid() {
		return nil, []error{settingErr(path, "unknown canonical entity %q", e)}
	}
	var errs []error
	o := &object{entity: e, name: s.Object, link: s.LinkProperty, byName: map[string]*field{}}
	if o.name == "" {
		o.name = DefaultObjects[e]
		if o.name == "" {
			errs = append(errs, settingErr(path+".object", "required: HubSpot has no standard object for %s", e))
		}
	}
	if o.link == "" {
		o.link = DefaultLinkProperty
	}
	if !propertyName(o.link) {
		errs = append(errs, settingErr(path+".link_property", "%q is not a HubSpot property name", o.link))
	}
	fields := s.Fields
	if len(fields) == 0 {
		fields = DefaultFields(e)
		if len(fields) == 0 {
			errs = append(errs, settingErr(path+".fields", "map at least one field"))
		}
	}
	for _, name := range sortedKeys(fields) {
		f, ferrs := decodeField(path+".fields."+name, e, name, fields[name], currency)
		errs = append(errs, ferrs...)
		if f != nil {
			o.fields = append(o.fields, f)
			o.byName[name] = f
		}
	}
	return o, errs
}

func decodeField(path string, e model.Entity, name string, m FieldMapping, currency string) (*field, []error) {
	var errs []error
	f := &field{name: name, typ: m.Type, property: m.Property, association: m.Association,
		currency: strings.ToUpper(m.Currency), currencyProp: m.CurrencyProperty, percent: m.Percent, readOnly: m.ReadOnly}
	if def, ok := model.LookupField(e, name); ok {
		if m.Type != "" && m.Type != def.Type {
			errs = append(errs, settingErr(path+".type", "standard field %s is %s, not %s", name, def.Type, m.Type))
		}
		f.typ, f.ref = def.Type, def.Ref
	} else {
		switch {
		case m.Type == "":
			errs = append(errs, settingErr(path, "unknown field of %s: custom fields need a type", e))
		case !slices.Contains(model.FieldTypes, m.Type):
			errs = append(errs, settingErr(path+".type", "unknown type %q", m.Type))
		case m.Type == model.TypeRef || m.Type == model.TypeLines:
			errs = append(errs, settingErr(path+".type", "custom %s fields are not supported; map the standard field", m.Type))
		}
	}
	switch {
	case m.Property != "" && m.Association != "":
		errs = append(errs, settingErr(path, "give property or association, not both"))
	case m.Association != "":
		if f.typ != model.TypeRef && f.typ != model.TypeLines {
			errs = append(errs, settingErr(path+".association", "only ref and lines fields map to associations"))
		}
		if !propertyName(m.Association) {
			errs = append(errs, settingErr(path+".association", "%q is not a HubSpot object type", m.Association))
		}
	case m.Property == "":
		errs = append(errs, settingErr(path+".property", "required"))
	case !propertyName(m.Property):
		errs = append(errs, settingErr(path+".property", "%q is not a HubSpot property name", m.Property))
	case f.typ == model.TypeLines:
		errs = append(errs, settingErr(path, "lines fields map to an association (line_items), not a property"))
	}
	if f.currencyProp != "" && !propertyName(f.currencyProp) {
		errs = append(errs, settingErr(path+".currency_property", "%q is not a HubSpot property name", f.currencyProp))
	}
	switch f.typ {
	case model.TypeMoney:
		if f.currency == "" {
			f.currency = currency
		}
		if len(f.currency) != 3 {
			errs = append(errs, settingErr(path+".currency", "%q is not an ISO 4217 code", f.currency))
		}
	default:
		if m.Currency != "" || m.CurrencyProperty != "" {
			errs = append(errs, settingErr(path, "currency only applies to money fields"))
		}
	}
	if f.percent && f.typ != model.TypeDecimal {
		errs = append(errs, settingErr(path+".percent", "only applies to decimal fields"))
	}
	return f, errs
}

// propertyName reports whether s looks like a HubSpot internal name.
func propertyName(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r == '_':
		case (r >= '0' && r <= '9' || r == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
