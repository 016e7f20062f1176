package salesforce

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/model"
)

// Name is the connector type in the config file (`connector: salesforce`).
const Name = "salesforce"

// Setting names.
const (
	SettingLoginURL        = "login_url"
	SettingAPIVersion      = "api_version"
	SettingClientID        = "client_id"
	SettingClientSecret    = "client_secret"
	SettingUsername        = "username"
	SettingPrivateKey      = "private_key"
	SettingRateLimit       = "rate_limit"
	SettingRateInterval    = "rate_interval"
	SettingOverlap         = "overlap"
	SettingCurrency        = "currency"
	SettingCreateLinkField = "create_link_field"
	SettingStages          = "stages"
	SettingEntities        = "entities"
)

// Defaults.
const (
	DefaultLoginURL   = "https://login.salesforce.com"
	DefaultAPIVersion = "62.0"
	// DefaultRateLimit is requests per rate_interval: the smallest daily
	// allocation Salesforce documents (Developer Edition, 15,000 per 24 h).
	// Set it to this integration's share of the org's allocation.
	DefaultRateLimit    = 15000
	DefaultRateInterval = 24 * time.Hour
	// DefaultOverlap is how far before the cursor each poll reads again:
	// SystemModstamp is set when a transaction starts, so a long
	// transaction commits changes older than ones already read.
	DefaultOverlap = 2 * time.Minute
	// DefaultLinkField is the External ID field holding the other system's id.
	DefaultLinkField = "Concord_Id__c"
)

// DefaultStages maps the canonical deal stages to the StageName values of a
// new org's sales process.
var DefaultStages = map[string]string{
	"appointment":  "Prospecting",
	"qualified":    "Qualification",
	"presentation": "Value Proposition",
	"decision":     "Id. Decision Makers",
	"contract":     "Negotiation/Review",
	"won":          "Closed Won",
	"lost":         "Closed Lost",
}

// readStages maps the other default stages when reading; IsWon and IsClosed
// decide won and lost whatever the stage is called.
var readStages = map[string]string{
	"Needs Analysis":       "qualified",
	"Perception Analysis":  "decision",
	"Proposal/Price Quote": "contract",
}

// DefaultObjects maps canonical entities to sObjects.
var DefaultObjects = map[model.Entity]string{
	model.Account:   "Account",
	model.Contact:   "Contact",
	model.Deal:      "Opportunity",
	model.Product:   "Product2",
	model.OrderLine: "OpportunityLineItem",
}

// Settings are the salesforce connector's settings.
type Settings struct {
	LoginURL        string                    `json:"login_url"`
	APIVersion      string                    `json:"api_version"`
	ClientID        string                    `json:"client_id"`
	ClientSecret    string                    `json:"client_secret"`
	Username        string                    `json:"username"`
	PrivateKey      string                    `json:"private_key"`
	RateLimit       int                       `json:"rate_limit"`
	RateInterval    string                    `json:"rate_interval"`
	Overlap         string                    `json:"overlap"`
	Currency        string                    `json:"currency"`
	CreateLinkField bool                      `json:"create_link_field"`
	Stages          map[string]string         `json:"stages"`
	Entities        map[string]EntitySettings `json:"entities"`
}

// EntitySettings maps one canonical entity to one sObject.
type EntitySettings struct {
	// Object is the sObject; DefaultObjects when empty.
	Object string `json:"object"`
	// LinkField is the External ID field holding the other system's id;
	// DefaultLinkField when empty.
	LinkField string `json:"link_field"`
	// Fields map canonical fields to sObject fields; the entity's default
	// mapping when empty.
	Fields map[string]FieldMapping `json:"fields"`
}

// FieldMapping maps one canonical field. In the config it is a field name or
// an object.
type FieldMapping struct {
	// Field is the sObject field (API name).
	Field string `json:"field"`
	// StandardPrice maps a product's money field to the UnitPrice of its
	// entry in the standard price book.
	StandardPrice bool `json:"standard_price"`
	// Type is required for custom fields and must match for standard ones.
	Type model.FieldType `json:"type"`
	// Percent: the field holds a percentage of the canonical fraction.
	Percent bool `json:"percent"`
	// ReadOnly: Salesforce computes the field; it is never written.
	ReadOnly bool `json:"read_only"`
}

// UnmarshalJSON accepts a bare field name or the object form.
func (m *FieldMapping) UnmarshalJSON(b []byte) error {
	type plain FieldMapping
	var v plain
	err := connector.DecodeShorthand(b, func(f string) { v = plain{Field: f} }, &v)
	*m = FieldMapping(v)
	return err
}

// DefaultFields returns the default mapping of e, nil for entities without one.
func DefaultFields(e model.Entity) map[string]FieldMapping {
	f := func(name string) FieldMapping { return FieldMapping{Field: name} }
	switch e {
	case model.Account:
		return map[string]FieldMapping{"name": f("Name"), "domain": f("Website"), "phone": f("Phone"),
			"street": f("BillingStreet"), "city": f("BillingCity"), "zip": f("BillingPostalCode"),
			"region": f("BillingState"), "country": f("BillingCountry"), "customer_number": f("AccountNumber")}
	case model.Contact:
		return map[string]FieldMapping{"first_name": f("FirstName"), "last_name": f("LastName"), "email": f("Email"),
			"phone": f("Phone"), "title": f("Title"), "account": f("AccountId")}
	case model.Product:
		return map[string]FieldMapping{"sku": f("ProductCode"), "name": f("Name"), "description": f("Description"),
			"active": f("IsActive"), "list_price": {StandardPrice: true}}
	case model.Deal:
		return map[string]FieldMapping{"name": f("Name"), "stage": f("StageName"), "amount": f("Amount"),
			"close_date": f("CloseDate"), "account": f("AccountId"), "contact": f("ContactId"),
			"lines": f("OpportunityLineItem")}
	case model.OrderLine:
		return map[string]FieldMapping{"product": f("Product2Id"), "description": f("Description"),
			"quantity": f("Quantity"), "unit_price": f("UnitPrice"),
			"discount": {Field: "Discount", Percent: true}, "amount": {Field: "TotalPrice", ReadOnly: true}}
	}
	return nil
}

// Spec returns the salesforce connector's spec.
func Spec() connector.Spec {
	return connector.Spec{
		Name:    Name,
		Summary: "Salesforce CRM over its REST API: Accounts, Contacts, Opportunities with line items and products, upserts by External ID and a shared request budget.",
		Fields: []connector.Field{
			{Name: SettingLoginURL, Type: "string", Default: DefaultLoginURL, Example: "http://127.0.0.1:8090",
				Description: "Where tokens are requested (https://test.salesforce.com for a sandbox org, your My Domain URL, or `concord sandbox salesforce`); the API is then called at the instance_url the token names."},
			{Name: SettingAPIVersion, Type: "string", Default: DefaultAPIVersion, Description: "REST API version (46.0 or later: sObject Collections upsert)."},
			{Name: SettingClientID, Type: "string", Required: true, Example: "3MVG9your.consumer.key",
				Description: "The connected app's consumer key (not a secret: given inline)."},
			{Name: SettingClientSecret, Type: "string", Secret: true, Example: "env:SALESFORCE_CLIENT_SECRET",
				Description: "The connected app's consumer secret, for the OAuth 2.0 client credentials flow (the app's run-as user makes the changes)."},
			{Name: SettingUsername, Type: "string", Example: "integration@example.com",
				Description: "With private_key: the user the JWT bearer flow signs in as."},
			{Name: SettingPrivateKey, Type: "string", Secret: true, Example: "file:salesforce.key",
				Description: "PEM private key (PKCS #1 or #8) whose certificate is uploaded to the connected app: selects the OAuth 2.0 JWT bearer flow instead of client credentials."},
			{Name: SettingRateLimit, Type: "int", Default: fmt.Sprint(DefaultRateLimit), Example: "20000",
				Description: "API requests per rate_interval this process may send to the org: its share of the org's daily allocation, which other integrations use too. Every process of this org shares one budget; live work goes before backfills."},
			{Name: SettingRateInterval, Type: "duration", Default: "24h", Description: "The window of rate_limit (Salesforce counts requests per rolling 24 hours)."},
			{Name: SettingOverlap, Type: "duration", Default: DefaultOverlap.String(),
				Description: "Each poll reads again this far before the cursor, for changes committed by transactions that started earlier."},
			{Name: SettingCurrency, Type: "string", Required: true, Example: "USD",
				Description: "The org's currency (ISO 4217): money fields hold amounts in it. Multi-currency orgs are not supported yet."},
			{Name: SettingCreateLinkField, Type: "bool", Default: "false",
				Description: "Create a missing link field (Text(255), External ID, unique) through the Tooling API on open. Without it, a missing link field makes creates of that entity fail."},
			{Name: SettingStages, Type: "map", Example: "{won: Closed Won, lost: Closed Lost}",
				Description: "Canonical deal stage -> Opportunity StageName; a new org's default stages when empty. Reading, IsWon and IsClosed decide won and lost."},
			{Name: SettingEntities, Type: "map", Required: true,
				Example:     "account: {object: Account, link_field: Concord_Id__c, fields: {name: Name, vat: {field: VAT__c, type: text}}}",
				Description: "Per canonical entity: object (sObject), link_field (External ID field holding the other system's id) and fields (canonical field -> field API name or {field | standard_price, type, percent, read_only}); defaults per entity."},
		},
		Validate: Validate,
		Open: func(ctx context.Context, p connector.OpenParams) (connector.Connector, error) {
			return Open(ctx, p)
		},
	}
}

// Register adds the salesforce connector to reg.
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
	loginURL     string
	apiVersion   string
	clientID     string
	clientSecret string
	username     string
	privateKey   *rsa.PrivateKey
	rateLimit    int
	rateInterval time.Duration
	overlap      time.Duration
	currency     string
	createLink   bool
	stageToSF    map[string]string
	stageFromSF  map[string]string
	entities     map[model.Entity]*object
}

// object is one entity's resolved mapping.
type object struct {
	entity model.Entity
	name   string // sObject
	link   string // External ID field
	fields []*field
	byName map[string]*field
	lines  *object // the order_line mapping, for a lines field
}

// field is one mapped canonical field.
type field struct {
	name     string
	typ      model.FieldType
	ref      model.Entity
	sf       string // sObject field; "" for standard_price
	stdPrice bool
	percent  bool
	readOnly bool
}

func settingErr(path, format string, args ...any) error {
	return &connector.SettingError{Path: path, Msg: fmt.Sprintf(format, args...)}
}

var errDecode = errors.New("invalid settings")

var (
	apiNameRE    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,79}$`)
	apiVersionRE = regexp.MustCompile(`^[0-9]{2}\.0$`)
)

func decode(settings map[string]any) (*config, []error) {
	var s Settings
	var errs []error
	if err := connector.DecodeSettings(settings, &s); err != nil {
		errs = append(errs, err)
	}
	cfg := &config{loginURL: s.LoginURL, apiVersion: s.APIVersion, clientID: s.ClientID, clientSecret: s.ClientSecret,
		username: s.Username, rateLimit: s.RateLimit, rateInterval: DefaultRateInterval, overlap: DefaultOverlap,
		currency: strings.ToUpper(s.Currency), createLink: s.CreateLinkField, entities: map[model.Entity]*object{}}
	if cfg.loginURL == "" {
		cfg.loginURL = DefaultLoginURL
	}
	if u, err := url.Parse(cfg.loginURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, settingErr(SettingLoginURL, "must be an http or https URL"))
	}
	if cfg.apiVersion == "" {
		cfg.apiVersion = DefaultAPIVersion
	}
	if !apiVersionRE.MatchString(cfg.apiVersion) || cfg.apiVersion < "46.0" {
		errs = append(errs, settingErr(SettingAPIVersion, "want a REST API version 46.0 or later, like %s", DefaultAPIVersion))
	}
	if strings.TrimSpace(s.ClientID) == "" {
		errs = append(errs, settingErr(SettingClientID, "required: the connected app's consumer key"))
	}
	switch {
	case s.PrivateKey != "":
		key, err := parseKey(s.PrivateKey)
		if err != nil {
			errs = append(errs, settingErr(SettingPrivateKey, "%v", err))
		}
		cfg.privateKey = key
		if s.Username == "" {
			errs = append(errs, settingErr(SettingUsername, "required with private_key (the user the JWT bearer flow signs in as)"))
		}
	case s.ClientSecret == "":
		errs = append(errs, settingErr(SettingClientSecret, "required (client credentials flow), unless private_key and username select the JWT bearer flow"))
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
	if len(cfg.currency) != 3 || strings.Trim(cfg.currency, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
		errs = append(errs, settingErr(SettingCurrency, "required: the org's currency as an ISO 4217 code, got %q", s.Currency))
	}
	stages := s.Stages
	if len(stages) == 0 {
		stages = DefaultStages
	}
	cfg.stageToSF, cfg.stageFromSF = map[string]string{}, map[string]string{}
	for sf, canon := range readStages {
		cfg.stageFromSF[sf] = canon
	}
	stageDef, _ := model.LookupField(model.Deal, "stage")
	for _, canon := range sortedKeys(stages) {
		sf := stages[canon]
		switch {
		case !slices.Contains(stageDef.Values, canon):
			errs = append(errs, settingErr(SettingStages+"."+canon, "not a canonical deal stage (want one of %s)", strings.Join(stageDef.Values, ", ")))
		case sf == "":
			errs = append(errs, settingErr(SettingStages+"."+canon, "needs a StageName"))
		default:
			cfg.stageToSF[canon], cfg.stageFromSF[sf] = sf, canon
		}
	}
	objects := map[string]model.Entity{}
	for _, n := range sortedKeys(s.Entities) {
		o, oerrs := decodeEntity(SettingEntities+"."+n, model.Entity(n), s.Entities[n])
		errs = append(errs, oerrs...)
		if o == nil {
			continue
		}
		if prev, dup := objects[o.name]; dup {
			errs = append(errs, settingErr(SettingEntities+"."+n+".object", "object %s is already mapped by %s", o.name, prev))
			continue
		}
		objects[o.name] = o.entity
		cfg.entities[o.entity] = o
	}
	lines := cfg.entities[model.OrderLine]
	if lines == nil {
		lines, _ = decodeEntity("", model.OrderLine, EntitySettings{})
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

func parseKey(text string) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode([]byte(text))
	if block == nil {
		return nil, errors.New("not a PEM private key")
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, errors.New("not an RSA private key (PKCS #1 or #8)")
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("not an RSA private key: the JWT bearer flow signs with RS256")
	}
	return rk, nil
}

func decodeEntity(path string, e model.Entity, s EntitySettings) (*object, []error) {
	if !e.Valid() {
		return nil, []error{settingErr(path, "unknown canonical entity %q", e)}
	}
	var errs []error
	o := &object{entity: e, name: s.Object, link: s.LinkField, byName: map[string]*field{}}
	if o.name == "" {
		o.name = DefaultObjects[e]
		if o.name == "" {
			errs = append(errs, settingErr(path+".object", "required: Salesforce has no standard object for %s", e))
		}
	}
	if o.name != "" && !apiNameRE.MatchString(o.name) {
		errs = append(errs, settingErr(path+".object", "%q is not an sObject API name", o.name))
	}
	if o.link == "" {
		o.link = DefaultLinkField
	}
	if !strings.HasSuffix(o.link, "__c") || !apiNameRE.MatchString(o.link) {
		errs = append(errs, settingErr(path+".link_field", "%q is not a custom field API name (it ends in __c)", o.link))
	}
	fields := s.Fields
	if len(fields) == 0 {
		fields = DefaultFields(e)
		if len(fields) == 0 {
			errs = append(errs, settingErr(path+".fields", "map at least one field"))
		}
	}
	for _, name := range sortedKeys(fields) {
		f, ferrs := decodeField(path+".fields."+name, o, name, fields[name])
		errs = append(errs, ferrs...)
		if f != nil {
			o.fields = append(o.fields, f)
			o.byName[name] = f
		}
	}
	return o, errs
}

func decodeField(path string, o *object, name string, m FieldMapping) (*field, []error) {
	var errs []error
	f := &field{name: name, typ: m.Type, sf: m.Field, stdPrice: m.StandardPrice, percent: m.Percent, readOnly: m.ReadOnly}
	if def, ok := model.LookupField(o.entity, name); ok {
		if m.Type != "" && m.Type != def.Type {
			errs = append(errs, settingErr(path+".type", "standard field %s is %s, not %s", name, def.Type, m.Type))
		}
		f.typ, f.ref = def.Type, def.Ref
	} else {
		switch {
		case m.Type == "":
			errs = append(errs, settingErr(path, "unknown field of %s: custom fields need a type", o.entity))
		case !slices.Contains(model.FieldTypes, m.Type):
			errs = append(errs, settingErr(path+".type", "unknown type %q", m.Type))
		case m.Type == model.TypeRef || m.Type == model.TypeLines:
			errs = append(errs, settingErr(path+".type", "custom %s fields are not supported; map the standard field", m.Type))
		}
	}
	switch {
	case m.StandardPrice && m.Field != "":
		errs = append(errs, settingErr(path, "give field or standard_price, not both"))
	case m.StandardPrice:
		if o.entity != model.Product || f.typ != model.TypeMoney {
			errs = append(errs, settingErr(path+".standard_price", "only a product's money field maps to the standard price"))
		}
	case m.Field == "":
		errs = append(errs, settingErr(path+".field", "required"))
	case !apiNameRE.MatchString(m.Field):
		errs = append(errs, settingErr(path+".field", "%q is not a field API name", m.Field))
	case f.typ == model.TypeLines && (o.entity != model.Deal || m.Field != "OpportunityLineItem"):
		errs = append(errs, settingErr(path, "lines map to OpportunityLineItem, on a deal"))
	}
	if f.percent && f.typ != model.TypeDecimal {
		errs = append(errs, settingErr(path+".percent", "only applies to decimal fields"))
	}
	return f, errs
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
