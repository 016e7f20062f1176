package tryton

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/tryton/trytonrpc"
	"github.com/concord-sync/concord/internal/model"
)

// Name is the connector type in the config file.
const Name = "tryton"

// Setting names.
const (
	SettingURL                = "url"
	SettingDatabase           = "database"
	SettingUsername           = "username"
	SettingPassword           = "password"
	SettingCompany            = "company"
	SettingOverlap            = "overlap"
	SettingBatchSize          = "batch_size"
	SettingLinkIdentifierType = "link_identifier_type"
	SettingWarehouse          = "warehouse"
	SettingProductCategory    = "product_category"
)

// Defaults.
const (
	DefaultOverlap         = 2 * time.Second
	DefaultBatchSize       = 50
	DefaultWarehouse       = "WH"
	DefaultReadLimit       = 200
	defaultProductCategory = "Accounting VAT 10%"
)

// Settings are the decoded settings of one Tryton system.
type Settings struct {
	URL      string `json:"url"`
	Database string `json:"database"`
	Username string `json:"username"`
	Password string `json:"password"`
	// Company is the company id; 0 uses the user's company.
	Company int64 `json:"company,omitempty"`
	// Overlap is how far back each poll looks before the cursor (Go duration).
	Overlap string `json:"overlap,omitempty"`
	// BatchSize is how many records one create call carries.
	BatchSize int `json:"batch_size,omitempty"`
	// LinkIdentifierType is the party.identifier type holding the CRM id; empty
	// means an identifier without type.
	LinkIdentifierType string `json:"link_identifier_type,omitempty"`
	// Warehouse is the code of the stock location whose quantity is "stock".
	Warehouse string `json:"warehouse,omitempty"`
	// ProductCategory is the accounting category given to products created
	// through the connector.
	ProductCategory string `json:"product_category,omitempty"`
}

// Spec returns the connector's spec.
func Spec() connector.Spec {
	return connector.Spec{
		Name:    Name,
		Summary: "Tryton ERP (6.0) over JSON-RPC: parties, their contacts, products, sales and customer invoices.",
		Fields: []connector.Field{
			{Name: SettingURL, Type: "string", Description: "Base URL of trytond.", Example: "http://127.0.0.1:8000", Required: true},
			{Name: SettingDatabase, Type: "string", Description: "Tryton database name (the URL path).", Example: "concord", Required: true},
			{Name: SettingUsername, Type: "string", Description: "Login of a non-admin user with the groups Party Administration, Product Administration, Sales, Sales Administrator, Account and Stock.", Example: "concord", Required: true},
			{Name: SettingPassword, Type: "string", Description: "That user's password.", Example: "env:TRYTON_PASSWORD", Required: true, Secret: true},
			{Name: SettingCompany, Type: "int", Description: "Company id; default the user's current company.", Default: "0"},
			{Name: SettingOverlap, Type: "duration", Description: "How far before the cursor each poll looks again, for transactions that commit late.", Default: DefaultOverlap.String()},
			{Name: SettingBatchSize, Type: "int", Description: "Records per create call.", Default: fmt.Sprint(DefaultBatchSize)},
			{Name: SettingLinkIdentifierType, Type: "string", Description: "Type of the party identifier that holds the CRM id; empty for an identifier without type.", Default: ""},
			{Name: SettingWarehouse, Type: "string", Description: "Code of the warehouse whose quantity on hand is a product's stock.", Default: DefaultWarehouse},
			{Name: SettingProductCategory, Type: "string", Description: "Accounting product category given to products created through Concord.", Default: defaultProductCategory},
		},
		Validate: func(settings map[string]any) []error {
			_, errs := decode(settings)
			return errs
		},
		Open: func(ctx context.Context, p connector.OpenParams) (connector.Connector, error) {
			s, errs := decode(p.Settings)
			if len(errs) > 0 {
				return nil, errors.Join(errs...)
			}
			return Open(ctx, s, p.Logger)
		},
	}
}

// Register adds the tryton connector to reg.
func Register(reg *connector.Registry) { reg.Register(Spec()) }

func decode(settings map[string]any) (Settings, []error) {
	var s Settings
	var errs []error
	if err := connector.DecodeSettings(settings, &s); err != nil {
		// Unknown keys and wrong types; what is left is checked too.
		errs = append(errs, err)
	}
	req := func(name, v string) {
		if strings.TrimSpace(v) == "" {
			errs = append(errs, &connector.SettingError{Path: name, Msg: "is required"})
		}
	}
	req(SettingURL, s.URL)
	req(SettingDatabase, s.Database)
	req(SettingUsername, s.Username)
	req(SettingPassword, s.Password)
	if s.URL != "" && !strings.HasPrefix(s.URL, "http://") && !strings.HasPrefix(s.URL, "https://") {
		errs = append(errs, &connector.SettingError{Path: SettingURL, Msg: "must start with http:// or https://"})
	}
	if s.Overlap != "" {
		if d, err := time.ParseDuration(s.Overlap); err != nil || d < 0 {
			errs = append(errs, &connector.SettingError{Path: SettingOverlap, Msg: "must be a non-negative duration such as 2s"})
		}
	}
	if s.BatchSize < 0 || s.BatchSize > 1000 {
		errs = append(errs, &connector.SettingError{Path: SettingBatchSize, Msg: "must be between 1 and 1000"})
	}
	if s.Company < 0 {
		errs = append(errs, &connector.SettingError{Path: SettingCompany, Msg: "must be a company id"})
	}
	return s, errs
}

// Conn is an opened Tryton system. It is safe for concurrent use; writes are
// serialised because Tryton on SQLite races on sequences when two
// transactions create records at the same time.
type Conn struct {
	rpc       *trytonrpc.Client
	log       *slog.Logger
	database  string // for messages
	baseURL   string // the server's URL, for record pages
	username  string // for messages
	overlap   time.Duration
	batch     int
	linkType  string
	writeMu   sync.Mutex
	closeOnce sync.Once

	// Looked up once at Open.
	company         int64
	currency        string // company currency, ISO 4217
	excluded        []int64
	countryByID     map[int64]string
	countryByCode   map[string]int64
	warehouse       int64
	unit            int64
	unitName        string
	productCategory int64
	uomByID         map[int64]string // unit of measure id -> name
	uomByName       map[string]int64 // name and symbol (lower case) -> id
	categoryByName  map[string]int64 // accounting product categories, lower case
	currencyByCode  map[string]int64
	currencyID      int64 // the company currency
}

var (
	_ connector.Connector = (*Conn)(nil)
	_ connector.Pinger    = (*Conn)(nil)
)

// Open logs in and looks up the ids the mapping needs (company, currency,
// countries, warehouse, unit, product category). It returns *UserError-based
// errors when the database lacks the set-up scripts/tryton.sh makes.
func Open(ctx context.Context, s Settings, log *slog.Logger) (*Conn, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Conn{log: log, overlap: DefaultOverlap, batch: s.BatchSize, linkType: s.LinkIdentifierType, database: s.Database, username: s.Username,
		baseURL: strings.TrimRight(s.URL, "/")}
	if s.Overlap != "" {
		d, err := time.ParseDuration(s.Overlap)
		if err != nil {
			return nil, fmt.Errorf("open tryton: overlap: %w", err)
		}
		c.overlap = d
	}
	if c.batch <= 0 {
		c.batch = DefaultBatchSize
	}
	rpc, err := trytonrpc.New(trytonrpc.Config{
		URL: s.URL, Database: s.Database, Username: s.Username, Password: s.Password,
		Company: s.Company, Logger: log,
	})
	if err != nil {
		return nil, fmt.Errorf("open tryton: %w", err)
	}
	c.rpc = rpc
	if err := c.lookupSetup(ctx, s); err != nil {
		_ = rpc.Close(ctx)
		return nil, fmt.Errorf("open tryton: %w", err)
	}
	return c, nil
}

func (c *Conn) lookupSetup(ctx context.Context, s Settings) error {
	if err := c.rpc.Login(ctx); err != nil {
		return err
	}
	c.company = trytonrpc.Record(c.rpc.Context()).Int("company")
	if c.company == 0 {
		return errors.New("the user has no company (run scripts/tryton.sh setup)")
	}
	comps, err := c.rpc.Read(ctx, "company.company", []int64{c.company}, []string{"party", "currency.code"}, nil)
	if err != nil {
		return fmt.Errorf("read company: %w", err)
	}
	if len(comps) == 0 {
		return fmt.Errorf("company %d not found", c.company)
	}
	c.currency = comps[0].Related("currency").String("code")
	c.excluded = []int64{comps[0].Int("party")}
	emps, err := c.rpc.SearchRead(ctx, "company.employee", nil, []string{"party"}, trytonrpc.SearchOptions{Context: trytonrpc.Context{"active_test": false}})
	if err != nil {
		return fmt.Errorf("read employees: %w", err)
	}
	for _, e := range emps {
		c.excluded = append(c.excluded, e.Int("party"))
	}
	countries, err := c.rpc.SearchRead(ctx, "country.country", nil, []string{"code"}, trytonrpc.SearchOptions{})
	if err != nil {
		return fmt.Errorf("read countries: %w", err)
	}
	c.countryByID = map[int64]string{}
	c.countryByCode = map[string]int64{}
	for _, r := range countries {
		c.countryByID[r.ID()] = r.String("code")
		c.countryByCode[r.String("code")] = r.ID()
	}
	wh := s.Warehouse
	if wh == "" {
		wh = DefaultWarehouse
	}
	locs, err := c.rpc.Search(ctx, "stock.location", trytonrpc.Domain{trytonrpc.Leaf("code", "=", wh), trytonrpc.Leaf("type", "=", "warehouse")}, trytonrpc.SearchOptions{Limit: 1})
	if err != nil {
		return fmt.Errorf("find warehouse %s: %w", wh, err)
	}
	if len(locs) == 0 {
		return fmt.Errorf("no warehouse with code %q", wh)
	}
	c.warehouse = locs[0]
	units, err := c.rpc.SearchRead(ctx, "product.uom", trytonrpc.Domain{trytonrpc.Leaf("symbol", "=", "u")}, []string{"name"}, trytonrpc.SearchOptions{Limit: 1})
	if err != nil {
		return fmt.Errorf("find unit: %w", err)
	}
	if len(units) == 0 {
		return errors.New("no unit of measure with symbol u")
	}
	c.unit, c.unitName = units[0].ID(), units[0].String("name")
	uoms, err := c.rpc.SearchRead(ctx, "product.uom", nil, []string{"name", "symbol"}, trytonrpc.SearchOptions{Context: trytonrpc.Context{"active_test": false}})
	if err != nil {
		return fmt.Errorf("read units: %w", err)
	}
	c.uomByID, c.uomByName = map[int64]string{}, map[string]int64{}
	for _, u := range uoms {
		c.uomByID[u.ID()] = u.String("name")
		c.uomByName[strings.ToLower(u.String("symbol"))] = u.ID()
	}
	for _, u := range uoms { // names win over symbols
		c.uomByName[strings.ToLower(u.String("name"))] = u.ID()
	}
	allCats, err := c.rpc.SearchRead(ctx, "product.category", trytonrpc.Domain{trytonrpc.Leaf("accounting", "=", true)}, []string{"name"}, trytonrpc.SearchOptions{Order: []trytonrpc.Order{{Field: "id"}}})
	if err != nil {
		return fmt.Errorf("read product categories: %w", err)
	}
	c.categoryByName = map[string]int64{}
	for _, r := range allCats {
		if _, dup := c.categoryByName[strings.ToLower(r.String("name"))]; !dup {
			c.categoryByName[strings.ToLower(r.String("name"))] = r.ID()
		}
	}
	curs, err := c.rpc.SearchRead(ctx, "currency.currency", nil, []string{"code"}, trytonrpc.SearchOptions{})
	if err != nil {
		return fmt.Errorf("read currencies: %w", err)
	}
	c.currencyByCode = map[string]int64{}
	for _, r := range curs {
		c.currencyByCode[r.String("code")] = r.ID()
	}
	c.currencyID = c.currencyByCode[c.currency]
	cat := s.ProductCategory
	if cat == "" {
		cat = defaultProductCategory
	}
	cats, err := c.rpc.Search(ctx, "product.category", trytonrpc.Domain{trytonrpc.Leaf("name", "=", cat), trytonrpc.Leaf("accounting", "=", true)}, trytonrpc.SearchOptions{Limit: 1})
	if err != nil {
		return fmt.Errorf("find product category: %w", err)
	}
	if len(cats) > 0 {
		c.productCategory = cats[0]
	} else if s.ProductCategory != "" {
		return fmt.Errorf("no accounting product category %q", cat)
	}
	return nil
}

// Client returns the underlying JSON-RPC client (for tests and tools).
func (c *Conn) Client() *trytonrpc.Client { return c.rpc }

// Entities implements connector.Connector.
func (c *Conn) Entities() []connector.EntityInfo {
	out := make([]connector.EntityInfo, 0, len(entities))
	for _, e := range entityOrder {
		d := entities[e]
		if d == nil {
			continue
		}
		out = append(out, connector.EntityInfo{Entity: e, Fields: d.fields, ReadOnly: d.readOnly})
	}
	return out
}

// Ping implements connector.Pinger.
func (c *Conn) Ping(ctx context.Context) error {
	if _, err := c.rpc.ServerVersion(ctx); err != nil {
		return fmt.Errorf("ping tryton: %w", err)
	}
	return nil
}

// Close logs out. It is safe to call more than once.
func (c *Conn) Close(ctx context.Context) error {
	var err error
	c.closeOnce.Do(func() {
		if c.rpc != nil {
			err = c.rpc.Close(ctx)
		}
	})
	return err
}

// entityOrder lists the supported entities in a stable order.
var entityOrder = []model.Entity{model.Account, model.Contact, model.Product, model.Order, model.Invoice}
