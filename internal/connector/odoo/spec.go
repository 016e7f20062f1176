package odoo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/odoo/odoorpc"
	"github.com/concord-sync/concord/internal/model"
)

// Name is the connector type in the config file.
const Name = "odoo"

// Setting names.
const (
	SettingURL              = "url"
	SettingDatabase         = "database"
	SettingUsername         = "username"
	SettingPassword         = "password"
	SettingOverlap          = "overlap"
	SettingBatchSize        = "batch_size"
	SettingPartnerLinkField = "partner_link_field"
	SettingProductLinkField = "product_link_field"
	SettingWarehouse        = "warehouse"
	SettingInvoiceOrders    = "invoice_orders"
)

// Defaults.
const (
	// DefaultOverlap is long because write_date is the time the writing
	// transaction began: a create of 1,000 records commits some 15 s later.
	DefaultOverlap          = 30 * time.Second
	DefaultBatchSize        = 100
	DefaultReadLimit        = 200
	DefaultPartnerLinkField = "ref"
	DefaultProductLinkField = "barcode"
	DefaultInvoiceOrders    = InvoiceDraft
)

// Settings are the decoded settings of one Odoo system.
type Settings struct {
	URL      string `json:"url"`
	Database string `json:"database"`
	Username string `json:"username"`
	// Password is the user's password or an API key.
	Password string `json:"password"`
	// Overlap is how far back each poll looks before the cursor (Go duration).
	Overlap string `json:"overlap,omitempty"`
	// BatchSize is how many records one create call carries.
	BatchSize int `json:"batch_size,omitempty"`
	// PartnerLinkField and ProductLinkField are the char fields holding the
	// CRM id.
	PartnerLinkField string `json:"partner_link_field,omitempty"`
	ProductLinkField string `json:"product_link_field,omitempty"`
	// Warehouse is the code of the warehouse whose quantity on hand is a
	// product's stock; empty means every warehouse of the company.
	Warehouse string `json:"warehouse,omitempty"`
	// InvoiceOrders says what follows the confirmation of a handed-off
	// order: none, draft (an invoice is created) or posted.
	InvoiceOrders string `json:"invoice_orders,omitempty"`
}

// Spec returns the connector's spec.
func Spec() connector.Spec {
	return connector.Spec{
		Name:    Name,
		Summary: "Odoo ERP (17.0) over JSON-RPC: companies, their contacts, products, sale orders (confirmed and invoiced) and customer invoices with their payment status.",
		Fields: []connector.Field{
			{Name: SettingURL, Type: "string", Description: "Base URL of the Odoo server.", Example: "http://127.0.0.1:8069", Required: true},
			{Name: SettingDatabase, Type: "string", Description: "Odoo database name.", Example: "concord", Required: true},
			{Name: SettingUsername, Type: "string", Description: "Login of a non-admin user with Contact Creation, Sales: Administrator, Invoicing: Billing and Inventory: User.", Example: "concord", Required: true},
			{Name: SettingPassword, Type: "string", Description: "That user's password or one of its API keys.", Example: "env:ODOO_API_KEY", Required: true, Secret: true},
			{Name: SettingOverlap, Type: "duration", Description: "How far before the cursor each poll looks again, for transactions that commit late (write_date is when a transaction began).", Default: DefaultOverlap.String()},
			{Name: SettingBatchSize, Type: "int", Description: "Records per create call.", Default: fmt.Sprint(DefaultBatchSize)},
			{Name: SettingPartnerLinkField, Type: "string", Description: "Char field of res.partner that holds the CRM id.", Default: DefaultPartnerLinkField},
			{Name: SettingProductLinkField, Type: "string", Description: "Char field of product.product that holds the CRM id.", Default: DefaultProductLinkField},
			{Name: SettingWarehouse, Type: "string", Description: "Code of the warehouse whose quantity on hand is a product's stock; empty for all the company's warehouses.", Default: ""},
			{Name: SettingInvoiceOrders, Type: "string", Description: "After a handed-off order is confirmed: none (finance invoices in Odoo), draft (Concord creates the invoice through Odoo's invoicing wizard, left in draft) or posted (created and posted).", Default: DefaultInvoiceOrders},
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

// Register adds the odoo connector to reg.
func Register(reg *connector.Registry) { reg.Register(Spec()) }

var fieldName = func(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '_' {
			return false
		}
	}
	return true
}

func decode(settings map[string]any) (Settings, []error) {
	var s Settings
	var errs []error
	if err := connector.DecodeSettings(settings, &s); err != nil {
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
			errs = append(errs, &connector.SettingError{Path: SettingOverlap, Msg: "must be a non-negative duration such as 30s"})
		}
	}
	switch s.InvoiceOrders {
	case "", InvoiceNone, InvoiceDraft, InvoicePosted:
	default:
		errs = append(errs, &connector.SettingError{Path: SettingInvoiceOrders, Msg: fmt.Sprintf("is %q: want none, draft or posted", s.InvoiceOrders)})
	}
	if s.BatchSize < 0 || s.BatchSize > 1000 {
		errs = append(errs, &connector.SettingError{Path: SettingBatchSize, Msg: "must be between 1 and 1000"})
	}
	for name, v := range map[string]string{SettingPartnerLinkField: s.PartnerLinkField, SettingProductLinkField: s.ProductLinkField} {
		if v != "" && !fieldName(v) {
			errs = append(errs, &connector.SettingError{Path: name, Msg: "must be a field name (lower-case letters, digits, _)"})
		}
	}
	return s, errs
}

// Conn is an opened Odoo system. It is safe for concurrent use.
type Conn struct {
	rpc                *odoorpc.Client
	log                *slog.Logger
	overlap            time.Duration
	batch              int
	partnerLink        string
	productLink        string
	database, username string
	baseURL            string // the server's URL, for record pages
	// invoiceOrders: InvoiceNone, InvoiceDraft or InvoicePosted.
	invoiceOrders string
	closeOnce     sync.Once

	// Looked up once at Open.
	company        int64
	companyPartner int64
	currency       string // company currency, ISO 4217
	warehouse      int64  // 0: all warehouses
	countryByID    map[int64]string
	countryByCode  map[string]int64
	uomByName      map[string]int64 // lower case
}

var (
	_ connector.Connector = (*Conn)(nil)
	_ connector.Pinger    = (*Conn)(nil)
	_ connector.Archiver  = (*Conn)(nil)
)

// Open logs in and looks up what the mapping needs (company, currency,
// countries, units, warehouse). It fails with ErrUnauthorized-wrapping errors
// when the login is refused.
func Open(ctx context.Context, s Settings, log *slog.Logger) (*Conn, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Conn{log: log, overlap: DefaultOverlap, batch: s.BatchSize, database: s.Database, username: s.Username,
		partnerLink: s.PartnerLinkField, productLink: s.ProductLinkField, baseURL: strings.TrimRight(s.URL, "/")}
	if s.Overlap != "" {
		d, err := time.ParseDuration(s.Overlap)
		if err != nil {
			return nil, fmt.Errorf("open odoo: overlap: %w", err)
		}
		c.overlap = d
	}
	if c.batch <= 0 {
		c.batch = DefaultBatchSize
	}
	if c.partnerLink == "" {
		c.partnerLink = DefaultPartnerLinkField
	}
	if c.productLink == "" {
		c.productLink = DefaultProductLinkField
	}
	c.invoiceOrders = s.InvoiceOrders
	if c.invoiceOrders == "" {
		c.invoiceOrders = DefaultInvoiceOrders
	}
	rpc, err := odoorpc.New(odoorpc.Config{URL: s.URL, Database: s.Database, Username: s.Username, Password: s.Password, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("open odoo: %w", err)
	}
	c.rpc = rpc
	if err := c.lookupSetup(ctx, s); err != nil {
		_ = rpc.Close(ctx)
		return nil, fmt.Errorf("open odoo %s: %w", s.Database, mapErr(err))
	}
	return c, nil
}

func (c *Conn) lookupSetup(ctx context.Context, s Settings) error {
	if err := c.rpc.Login(ctx); err != nil {
		return err
	}
	users, err := c.rpc.Read(ctx, "res.users", []int64{c.rpc.UserID()}, []string{"company_id"}, nil)
	if err != nil {
		return fmt.Errorf("read the user's company: %w", err)
	}
	if len(users) == 0 || users[0].Int("company_id") == 0 {
		return errors.New("the user has no company")
	}
	c.company = users[0].Int("company_id")
	comps, err := c.rpc.Read(ctx, "res.company", []int64{c.company}, []string{"currency_id", "partner_id"}, nil)
	if err != nil {
		return fmt.Errorf("read company %d: %w", c.company, err)
	}
	if len(comps) == 0 {
		return fmt.Errorf("company %d not found", c.company)
	}
	_, c.currency = comps[0].Many2one("currency_id")
	c.companyPartner = comps[0].Int("partner_id")
	countries, err := c.rpc.SearchRead(ctx, "res.country", nil, []string{"code"}, odoorpc.SearchOptions{})
	if err != nil {
		return fmt.Errorf("read countries: %w", err)
	}
	c.countryByID, c.countryByCode = map[int64]string{}, map[string]int64{}
	for _, r := range countries {
		c.countryByID[r.ID()] = r.String("code")
		c.countryByCode[r.String("code")] = r.ID()
	}
	uoms, err := c.rpc.SearchRead(ctx, "uom.uom", nil, []string{"name"}, odoorpc.SearchOptions{})
	if err != nil {
		return fmt.Errorf("read units of measure: %w", err)
	}
	c.uomByName = map[string]int64{}
	for _, r := range uoms {
		c.uomByName[strings.ToLower(r.String("name"))] = r.ID()
	}
	if s.Warehouse != "" {
		whs, err := c.rpc.Search(ctx, "stock.warehouse", odoorpc.Domain{odoorpc.Leaf("code", "=", s.Warehouse)}, odoorpc.SearchOptions{Limit: 1})
		if err != nil {
			return fmt.Errorf("find warehouse %s: %w", s.Warehouse, err)
		}
		if len(whs) == 0 {
			return fmt.Errorf("no warehouse with code %q (setting %s)", s.Warehouse, SettingWarehouse)
		}
		c.warehouse = whs[0]
	}
	for _, lf := range []struct{ model, field, setting string }{
		{"res.partner", c.partnerLink, SettingPartnerLinkField},
		{"product.product", c.productLink, SettingProductLinkField},
	} {
		res, err := c.rpc.ExecuteKw(ctx, lf.model, "fields_get", []any{[]string{lf.field}}, odoorpc.Kwargs{"attributes": []string{"type"}})
		if err != nil {
			return fmt.Errorf("check %s.%s: %w", lf.model, lf.field, err)
		}
		m, _ := res.(map[string]any)
		f, _ := m[lf.field].(map[string]any)
		if f == nil || f["type"] != "char" {
			return fmt.Errorf("%s has no char field %q (setting %s)", lf.model, lf.field, lf.setting)
		}
	}
	return nil
}

// Client returns the underlying JSON-RPC client (for tests and tools).
func (c *Conn) Client() *odoorpc.Client { return c.rpc }

// Entities implements connector.Connector.
func (c *Conn) Entities() []connector.EntityInfo {
	out := make([]connector.EntityInfo, 0, len(entityOrder))
	for _, e := range entityOrder {
		d := entities[e]
		out = append(out, connector.EntityInfo{Entity: e, Fields: d.fields, ReadOnly: d.readOnly})
	}
	return out
}

// Ping implements connector.Pinger.
func (c *Conn) Ping(ctx context.Context) error {
	if _, err := c.rpc.Version(ctx); err != nil {
		return fmt.Errorf("ping odoo: %w", mapErr(err))
	}
	return nil
}

// Close releases the client. It is safe to call more than once.
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
