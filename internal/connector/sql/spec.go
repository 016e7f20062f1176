package sqlconn

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/model"
)

// Name is the connector type in the config file (`connector: sql`).
const Name = "sql"

// Setting names.
const (
	SettingDriver   = "driver"
	SettingDSN      = "dsn"
	SettingPath     = "path"
	SettingPassword = "password"
	SettingOverlap  = "overlap"
	SettingEntities = "entities"
	SettingRates    = "rates"
)

// Drivers.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
	DriverMySQL    = "mysql"
)

// Id kinds: how a created row gets its primary key.
const (
	IDAuto = "auto" // the database generates it
	IDUUID = "uuid" // the connector generates a UUID
	IDLink = "link" // the link key is the id
)

// DefaultOverlap is the change-detection overlap window when none is set.
const DefaultOverlap = 2 * time.Second

// Settings are the sql connector's settings, decoded from the system's settings.
type Settings struct {
	Driver string `json:"driver"`
	// DSN is the data source name: a file path for sqlite, a URL or key=value
	// string for postgres, a go-sql-driver DSN for mysql.
	DSN string `json:"dsn"`
	// Path is an alias of DSN for sqlite.
	Path string `json:"path"`
	// Password, when set, is injected into the DSN (postgres and mysql).
	Password string `json:"password"`
	// Overlap is a Go duration; DefaultOverlap when empty.
	Overlap string `json:"overlap"`
	// Entities maps canonical entity names to tables.
	Entities map[string]EntitySettings `json:"entities"`
	// Rates, optional, names the table of exchange rates (rates.go).
	Rates *RatesSettings `json:"rates"`
}

// EntitySettings maps one canonical entity to one table.
type EntitySettings struct {
	Table     string                  `json:"table"`
	ID        string                  `json:"id"`
	IDKind    string                  `json:"id_kind"`
	UpdatedAt string                  `json:"updated_at"`
	Link      string                  `json:"link"`
	Archived  string                  `json:"archived"`
	Fields    map[string]FieldMapping `json:"fields"`
}

// FieldMapping maps one canonical field to a column, or a lines field to a child
// table. In the config it is either a column name or an object.
type FieldMapping struct {
	Column string `json:"column"`
	// Type is required for custom fields and must match for standard ones.
	Type model.FieldType `json:"type"`
	// Ref is the referenced entity of a custom ref field (the column holds the
	// referenced record's id in this system).
	Ref model.Entity `json:"ref"`
	// Currency is the fixed ISO 4217 currency of a money column.
	Currency string `json:"currency"`
	// CurrencyColumn holds each row's currency for a money column.
	CurrencyColumn string `json:"currency_column"`

	// Table is the child table of a lines field; "schema.table" is allowed.
	Table string `json:"table"`
	// Parent is the child table's column holding the parent row's id.
	Parent string `json:"parent"`
	// ID is the child table's primary key column.
	ID string `json:"id"`
	// IDKind is how a line gets its primary key: auto (default) or uuid.
	IDKind string `json:"id_kind"`
	// Position, optional, is the column ordering the lines (1, 2, ...).
	Position string `json:"position"`
	// Fields maps the child entity's canonical fields to the child table's
	// columns.
	Fields map[string]FieldMapping `json:"fields"`
}

// UnmarshalJSON accepts a bare column name or the object form.
func (m *FieldMapping) UnmarshalJSON(b []byte) error {
	type plain FieldMapping
	var p plain
	err := connector.DecodeShorthand(b, func(col string) { p = plain{Column: col} }, &p)
	*m = FieldMapping(p)
	return err
}

// Spec returns the sql connector's spec.
func Spec() connector.Spec {
	return connector.Spec{
		Name:    Name,
		Summary: "Reads and writes tables of an in-house CRM or ERP database (SQLite, PostgreSQL, MySQL/MariaDB).",
		Fields: []connector.Field{
			{Name: SettingDriver, Type: "string", Required: true, Example: "postgres",
				Description: "Database driver: sqlite, postgres or mysql (also MariaDB)."},
			{Name: SettingDSN, Type: "string", Required: true, Example: "postgres://erp@db.internal/erp",
				Description: "Data source name: a file path for sqlite, a URL or key=value string for postgres, user@tcp(host:3306)/db for mysql. Keep credentials out of it; use password."},
			{Name: SettingPath, Type: "string", Example: "./crm.db",
				Description: "For sqlite, the database file, as an alternative to dsn; used as given."},
			{Name: SettingPassword, Type: "string", Secret: true, Example: "env:CRM_DB_PASSWORD",
				Description: "Database password, injected into the DSN (postgres and mysql)."},
			{Name: SettingOverlap, Type: "duration", Default: DefaultOverlap.String(), Example: "5s",
				Description: "Change-detection overlap window: each read re-reads rows this much older than the cursor, to catch transactions that committed late."},
			{Name: SettingEntities, Type: "map", Required: true,
				Example:     "account: {table: customers, id: customer_id, updated_at: updated_at, link: crm_id, fields: {name: company_name}}",
				Description: "Per canonical entity: table, id, id_kind (auto|uuid|link), updated_at, link, archived and fields (canonical field -> column or {column, type, ref, currency, currency_column}; a lines field -> {table, parent, id, id_kind, position, fields} of a child table)."},
			{Name: SettingRates, Type: "object", Example: "{table: exchange_rates, currency: currency, date: valid_from, rate: rate, base_currency: EUR}",
				Description: "Optional: the ERP's table of exchange rates, for reconcile --currency and report --currency: table, currency, date and rate columns, and base (a column) or base_currency (fixed). A row says: from date on, 1 base = rate currency."},
		},
		Validate: Validate,
		Open: func(ctx context.Context, p connector.OpenParams) (connector.Connector, error) {
			return Open(ctx, p)
		},
	}
}

// Register adds the sql connector to reg.
func Register(reg *connector.Registry) { reg.Register(Spec()) }

// Validate checks settings without side effects and returns every problem as a
// *connector.SettingError with a dotted path.
func Validate(settings map[string]any) []error {
	_, errs := decode(settings, true)
	return errs
}

// config is the validated, resolved form of Settings.
type config struct {
	driver   string
	dsn      string
	password string
	overlap  time.Duration
	entities map[model.Entity]*table
	rates    *ratesTable // nil without a rates setting
}

// table is one entity's resolved mapping, or the child table of a lines field.
type table struct {
	entity    model.Entity
	name      []string // possibly schema-qualified
	id        string
	idKind    string
	updatedAt string // empty for child tables
	link      string // empty only when idKind is link and the id is the link, and for child tables
	archived  string
	parent    string    // child tables: the column holding the parent's id
	position  string    // child tables: the optional ordering column
	fields    []*column // sorted by canonical name
	byName    map[string]*column
	scalars   []*column // fields held in columns of the table itself
	children  []*column // lines fields, held in child tables
}

// split fills t.scalars and t.children from t.fields.
func (t *table) split() {
	for _, f := range t.fields {
		if f.lines != nil {
			t.children = append(t.children, f)
		} else {
			t.scalars = append(t.scalars, f)
		}
	}
}

// column is one mapped canonical field: a column of the table, or, for a lines
// field, a child table.
type column struct {
	field          string
	col            string // empty for lines fields
	typ            model.FieldType
	ref            model.Entity
	currency       string
	currencyColumn string
	lines          *table // lines fields only
}

func settingErr(path, format string, args ...any) error {
	return &connector.SettingError{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// checkIdent refuses identifiers that could break quoting.
func checkIdent(path, name string, required bool) []error {
	if name == "" {
		if required {
			return []error{settingErr(path, "required")}
		}
		return nil
	}
	if strings.ContainsAny(name, "\"`\x00") {
		return []error{settingErr(path, "identifier %q contains a quote or NUL character", name)}
	}
	if len(name) > 128 {
		return []error{settingErr(path, "identifier longer than 128 characters")}
	}
	return nil
}

// decode resolves settings and returns every problem; needEntities refuses
// settings that map no entity (a config's system must map one, Inspect need not).
func decode(settings map[string]any, needEntities bool) (*config, []error) {
	var s Settings
	var errs []error
	if err := connector.DecodeSettings(settings, &s); err != nil {
		// Unknown keys and wrong types; what is left is checked too.
		errs = append(errs, err)
	}
	cfg := &config{driver: s.Driver, dsn: s.DSN, password: s.Password, overlap: DefaultOverlap, entities: map[model.Entity]*table{}}
	switch s.Driver {
	case DriverSQLite:
		if s.DSN != "" && s.Path != "" {
			errs = append(errs, settingErr(SettingPath, "give dsn or path, not both"))
		}
		if s.DSN == "" {
			cfg.dsn = s.Path
		}
		if s.Password != "" {
			errs = append(errs, settingErr(SettingPassword, "sqlite has no password"))
		}
	case DriverPostgres, DriverMySQL:
		if s.Path != "" {
			errs = append(errs, settingErr(SettingPath, "only for sqlite; use dsn"))
		}
	case "":
		errs = append(errs, settingErr(SettingDriver, "required (sqlite, postgres or mysql)"))
	default:
		errs = append(errs, settingErr(SettingDriver, "unknown driver %q (want sqlite, postgres or mysql)", s.Driver))
	}
	if cfg.dsn == "" {
		errs = append(errs, settingErr(SettingDSN, "required"))
	}
	if s.Overlap != "" {
		d, err := time.ParseDuration(s.Overlap)
		switch {
		case err != nil:
			errs = append(errs, settingErr(SettingOverlap, "not a duration: %q", s.Overlap))
		case d < 0:
			errs = append(errs, settingErr(SettingOverlap, "must not be negative"))
		default:
			cfg.overlap = d
		}
	}
	if s.Rates != nil {
		var rerrs []error
		cfg.rates, rerrs = decodeRates(SettingRates, *s.Rates)
		errs = append(errs, rerrs...)
	}
	if len(s.Entities) == 0 && needEntities {
		errs = append(errs, settingErr(SettingEntities, "map at least one entity"))
	}
	names := make([]string, 0, len(s.Entities))
	for n := range s.Entities {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t, terrs := decodeEntity(SettingEntities+"."+n, model.Entity(n), s.Entities[n])
		errs = append(errs, terrs...)
		if t != nil {
			cfg.entities[t.entity] = t
		}
	}
	return cfg, errs
}

func decodeEntity(path string, e model.Entity, s EntitySettings) (*table, []error) {
	var errs []error
	if !e.Valid() {
		return nil, []error{settingErr(path, "unknown canonical entity %q", e)}
	}
	t := &table{entity: e, id: s.ID, idKind: s.IDKind, updatedAt: s.UpdatedAt, link: s.Link, archived: s.Archived, byName: map[string]*column{}}
	if s.Table == "" {
		errs = append(errs, settingErr(path+".table", "required"))
	} else {
		var terrs []error
		t.name, terrs = decodeTableName(path+".table", s.Table)
		errs = append(errs, terrs...)
	}
	errs = append(errs, checkIdent(path+".id", s.ID, true)...)
	errs = append(errs, checkIdent(path+".updated_at", s.UpdatedAt, true)...)
	errs = append(errs, checkIdent(path+".archived", s.Archived, false)...)
	switch s.IDKind {
	case "":
		t.idKind = IDAuto
	case IDAuto, IDUUID, IDLink:
	default:
		errs = append(errs, settingErr(path+".id_kind", "unknown id kind %q (want auto, uuid or link)", s.IDKind))
	}
	if t.idKind == IDLink && s.Link == "" {
		t.link = s.ID
	}
	errs = append(errs, checkIdent(path+".link", s.Link, t.idKind != IDLink)...)
	if len(s.Fields) == 0 {
		errs = append(errs, settingErr(path+".fields", "map at least one field"))
	}
	for _, name := range slices.Sorted(maps.Keys(s.Fields)) {
		c, cerrs := decodeField(path+".fields."+name, e, name, s.Fields[name], false)
		errs = append(errs, cerrs...)
		if c != nil {
			t.fields = append(t.fields, c)
			t.byName[name] = c
		}
	}
	t.split()
	return t, errs
}

// decodeTableName splits and checks a table name, "schema.table" allowed.
func decodeTableName(path, name string) ([]string, []error) {
	if name == "" {
		return nil, []error{settingErr(path, "required")}
	}
	errs := checkIdent(path, name, true)
	parts := strings.Split(name, ".")
	for _, part := range parts {
		if part == "" {
			errs = append(errs, settingErr(path, "empty name part in %q", name))
			break
		}
	}
	return parts, errs
}

// decodeLines resolves the child table of a lines field whose lines are records
// of entity child.
func decodeLines(path string, child model.Entity, m FieldMapping) (*table, []error) {
	t := &table{entity: child, id: m.ID, idKind: m.IDKind, parent: m.Parent, position: m.Position, byName: map[string]*column{}}
	name, errs := decodeTableName(path+".table", m.Table)
	t.name = name
	errs = append(errs, checkIdent(path+".parent", m.Parent, true)...)
	errs = append(errs, checkIdent(path+".id", m.ID, true)...)
	errs = append(errs, checkIdent(path+".position", m.Position, false)...)
	switch m.IDKind {
	case "":
		t.idKind = IDAuto
	case IDAuto:
	case IDUUID:
		if m.Position == "" {
			errs = append(errs, settingErr(path+".position", "required with id_kind uuid: uuids do not keep the order of the lines"))
		}
	default:
		errs = append(errs, settingErr(path+".id_kind", "unknown id kind %q for lines (want auto or uuid)", m.IDKind))
	}
	if len(m.Fields) == 0 {
		errs = append(errs, settingErr(path+".fields", "map at least one field"))
	}
	for _, fname := range slices.Sorted(maps.Keys(m.Fields)) {
		c, cerrs := decodeField(path+".fields."+fname, child, fname, m.Fields[fname], true)
		errs = append(errs, cerrs...)
		if c != nil {
			t.fields = append(t.fields, c)
			t.byName[fname] = c
		}
	}
	t.split()
	return t, errs
}

// decodeField resolves one field mapping of entity e; nested is true inside a
// lines field, where lines cannot nest.
func decodeField(path string, e model.Entity, name string, m FieldMapping, nested bool) (*column, []error) {
	var errs []error
	c := &column{field: name, col: m.Column, typ: m.Type, ref: m.Ref, currency: strings.ToUpper(m.Currency), currencyColumn: m.CurrencyColumn}
	if def, ok := model.LookupField(e, name); ok {
		if m.Type != "" && m.Type != def.Type {
			errs = append(errs, settingErr(path+".type", "standard field %s is %s, not %s", name, def.Type, m.Type))
		}
		if m.Ref != "" && m.Ref != def.Ref {
			errs = append(errs, settingErr(path+".ref", "standard field %s refers to %s, not %s", name, def.Ref, m.Ref))
		}
		c.typ, c.ref = def.Type, def.Ref
	} else {
		switch {
		case m.Type == "":
			errs = append(errs, settingErr(path, "unknown field of %s: custom fields need a type", e))
		case !slices.Contains(model.FieldTypes, m.Type):
			errs = append(errs, settingErr(path+".type", "unknown type %q", m.Type))
		case m.Type == model.TypeRef && m.Ref == "":
			errs = append(errs, settingErr(path+".ref", "custom ref fields need the referenced entity"))
		case m.Type == model.TypeRef && !m.Ref.Valid():
			errs = append(errs, settingErr(path+".ref", "unknown canonical entity %q", m.Ref))
		case m.Type == model.TypeLines:
			c.ref = model.OrderLine
		}
		if m.Ref != "" && m.Type != model.TypeRef {
			errs = append(errs, settingErr(path+".ref", "only ref fields refer to an entity"))
		}
	}
	isLines := c.typ == model.TypeLines
	if !isLines {
		errs = append(errs, checkIdent(path+".column", m.Column, true)...)
		if m.Table != "" || m.Parent != "" || m.ID != "" || m.IDKind != "" || m.Position != "" || len(m.Fields) > 0 {
			errs = append(errs, settingErr(path, "table, parent, id, id_kind, position and fields only apply to lines fields"))
		}
	}
	errs = append(errs, checkIdent(path+".currency_column", m.CurrencyColumn, false)...)
	switch c.typ {
	case model.TypeLines:
		switch {
		case nested:
			errs = append(errs, settingErr(path, "lines fields cannot nest"))
		case m.Column != "":
			errs = append(errs, settingErr(path, "a lines field maps a child table: give {table, parent, id, fields}, not a column"))
		default:
			lt, lerrs := decodeLines(path, c.ref, m)
			errs = append(errs, lerrs...)
			c.lines = lt
		}
		if c.currency != "" || c.currencyColumn != "" {
			errs = append(errs, settingErr(path, "currency only applies to money fields"))
		}
	case model.TypeMoney:
		switch {
		case c.currency == "" && c.currencyColumn == "":
			errs = append(errs, settingErr(path, "money needs currency or currency_column"))
		case c.currency != "" && c.currencyColumn != "":
			errs = append(errs, settingErr(path, "give currency or currency_column, not both"))
		case c.currency != "" && len(c.currency) != 3:
			errs = append(errs, settingErr(path+".currency", "%q is not an ISO 4217 code", m.Currency))
		}
	default:
		if c.currency != "" || c.currencyColumn != "" {
			errs = append(errs, settingErr(path, "currency only applies to money fields"))
		}
	}
	if c.typ == model.TypeLines && c.lines == nil {
		// Keep the field out of the resolved mapping; the errors say why.
		return nil, errs
	}
	return c, errs
}

// errDecode wraps the first settings problem for Open.
var errDecode = errors.New("invalid settings")
