package initcfg

import (
	"fmt"
	"slices"
	"strings"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/model"
)

// Role says which side a system is on; it decides ownership and flow
// direction.
type Role string

// The roles.
const (
	CRM Role = "crm"
	ERP Role = "erp"
)

// Connector types init writes settings for; others get their connection
// settings and a comment.
const (
	ConnSQL     = "sql"
	ConnHubSpot = "hubspot"
	ConnTryton  = "tryton"
	ConnOdoo    = "odoo"
)

// fixedMapping reports whether a connector maps its models itself (no
// entities block in its settings): init only says which models it uses.
func fixedMapping(conn string) bool { return conn == ConnTryton || conn == ConnOdoo }

// The sql connector's id kinds, as in docs/connectors/sql.md.
const (
	idAuto = "auto"
	idUUID = "uuid"
	idLink = "link"
)

// Setting is one connection setting written as given (driver, dsn, a secret
// reference), in order.
type Setting struct {
	Key   string
	Value string
}

// System is one system to propose a mapping for.
type System struct {
	// Name is the system's name in the config ("crm", "erp").
	Name string
	Role Role
	// Connector is the connector type (sql, hubspot, tryton, ...).
	Connector string
	// Settings are the connection settings, written before the entities.
	Settings []Setting
	// Driver is the sql driver (sqlite, postgres, mysql); it picks the DDL dialect.
	Driver string
	// Catalog is what Inspect returned.
	Catalog connector.Catalog
	// NotInspected, when not empty, says why the system could not be inspected:
	// it gets its settings and no mapping.
	NotInspected string
	// AutoIncrement reports whether a key column is filled by the database
	// (sqlconn.AutoIncrement for sql); nil means never.
	AutoIncrement func(connector.Column) bool
}

// Options are the choices a person makes.
type Options struct {
	// Owner is the e-mail address of the integration's owner.
	Owner string
	// Currency is the ISO 4217 code of money columns that hold no currency.
	Currency string
}

// Proposal is a proposed config.
type Proposal struct {
	Options
	Systems []*SystemMap
	Flows   []Flow
}

// SystemMap is one system's proposed mapping.
type SystemMap struct {
	System
	Entities []*EntityMap
	// Others names recognised objects init leaves to the reader ("orders (order)").
	Others []string
}

// EntityMap is one entity mapped to one object.
type EntityMap struct {
	Entity model.Entity
	Object string
	// Candidates are other objects that could hold the entity.
	Candidates []string
	// ID, IDKind and IDNote: the key column, the sql id_kind and why.
	ID, IDKind, IDNote string
	// UpdatedAt and Link are the change-detection and link columns (sql),
	// existing or added by DDL.
	UpdatedAt, Link string
	Fields          []FieldMap
	Unsure          []Unsure
	// DDL are the statements a DBA must run for this table (sql).
	DDL []string
	// Notes are comments written above the entity.
	Notes []string
}

// FieldMap maps one canonical field to a column or property.
type FieldMap struct {
	Field    string
	Column   string
	Currency string
	// CurrencyColumn holds each row's currency (sql).
	CurrencyColumn string
	ReadOnly       bool
}

// Unsure is a canonical field init did not map, with the candidates.
type Unsure struct {
	Field      string
	Candidates []string
	Why        string
}

// Flow is one proposed flow.
type Flow struct {
	Name           string
	Source, Target string
	Entity         model.Entity
	Fields         []string
	// Left names fields mapped on one side only, for a comment.
	Left []string
}

// Entity returns the map of entity e, or nil.
func (s *SystemMap) Entity(e model.Entity) *EntityMap {
	for _, m := range s.Entities {
		if m.Entity == e {
			return m
		}
	}
	return nil
}

// Field returns the mapping of canonical field f, or nil.
func (m *EntityMap) Field(f string) *FieldMap {
	for i := range m.Fields {
		if m.Fields[i].Field == f {
			return &m.Fields[i]
		}
	}
	return nil
}

// Propose maps crm and erp and proposes the flows between them: accounts and
// contacts CRM -> ERP (owned by the CRM, except the ERP's finance fields),
// products ERP -> CRM (owned by the ERP). A flow moves the fields both sides
// map and the target can write.
func Propose(crm, erp System, opts Options) *Proposal {
	if opts.Currency == "" {
		opts.Currency = "USD"
	}
	p := &Proposal{Options: opts}
	c := mapSystem(crm, opts)
	e := mapSystem(erp, opts)
	p.Systems = []*SystemMap{c, e}
	for _, ent := range mappedEntities {
		cm, em := c.Entity(ent), e.Entity(ent)
		if cm == nil || em == nil {
			continue
		}
		src, dst, sm, dm := c, e, cm, em
		if ent == model.Product {
			src, dst, sm, dm = e, c, em, cm
		}
		f := Flow{Name: flowName(ent), Source: src.Name, Target: dst.Name, Entity: ent}
		for _, def := range model.Schema(ent) {
			sf, df := sm.Field(def.Name), dm.Field(def.Name)
			switch {
			case sf == nil && df == nil:
			case sf == nil || df == nil:
				f.Left = append(f.Left, def.Name)
			case df.ReadOnly || (ent == model.Account && src.Role == CRM && ownedByERP[def.Name]):
				f.Left = append(f.Left, def.Name)
			default:
				f.Fields = append(f.Fields, def.Name)
			}
		}
		if len(f.Fields) > 0 {
			p.Flows = append(p.Flows, f)
		}
	}
	// Entities without a flow stay in the systems' settings only when a flow
	// uses them; drop the others, naming them.
	for _, s := range p.Systems {
		var keep []*EntityMap
		for _, m := range s.Entities {
			if p.flow(m.Entity) != nil {
				keep = append(keep, m)
			} else {
				s.Others = append(s.Others, fmt.Sprintf("%s (%s: the other system has none)", m.Object, m.Entity))
			}
		}
		s.Entities = keep
	}
	return p
}

func (p *Proposal) flow(e model.Entity) *Flow {
	for i := range p.Flows {
		if p.Flows[i].Entity == e {
			return &p.Flows[i]
		}
	}
	return nil
}

func flowName(e model.Entity) string {
	switch e {
	case model.Account:
		return "customers"
	case model.Contact:
		return "contacts"
	case model.Product:
		return "products"
	}
	return string(e)
}

// objectName is an object's name as compared with the synonyms: a sql table's
// schema prefix is dropped, a Tryton model keeps its dot.
func objectName(connType, name string) string {
	if connType == ConnSQL {
		if i := strings.LastIndexByte(name, '.'); i >= 0 {
			return name[i+1:]
		}
	}
	return name
}

// mapSystem recognises s's objects and maps their fields.
func mapSystem(s System, opts Options) *SystemMap {
	sm := &SystemMap{System: s}
	if s.NotInspected != "" {
		return sm
	}
	if s.Connector == ConnOdoo {
		return mapOdoo(s, sm)
	}
	taken := map[string]bool{}
	for _, ent := range model.Entities {
		syn, ok := objectSynonyms[ent]
		if !ok {
			continue
		}
		type cand struct {
			o    *connector.Object
			rank int
		}
		var cands []cand
		for i := range s.Catalog.Objects {
			o := &s.Catalog.Objects[i]
			if taken[o.Name] {
				continue
			}
			if r := rank(syn, objectName(s.Connector, o.Name)); r >= 0 {
				cands = append(cands, cand{o, r})
			}
		}
		if len(cands) == 0 {
			continue
		}
		// Best synonym first; between equals, the one with more rows.
		slices.SortStableFunc(cands, func(a, b cand) int {
			if a.rank != b.rank {
				return a.rank - b.rank
			}
			return int(b.o.Rows - a.o.Rows)
		})
		best := cands[0].o
		taken[best.Name] = true
		if !slices.Contains(mappedEntities, ent) {
			sm.Others = append(sm.Others, fmt.Sprintf("%s (%s: map it by hand, see docs/flows.md)", best.Name, ent))
			continue
		}
		m := mapEntity(s, ent, best, opts)
		if m == nil {
			continue
		}
		for _, c := range cands[1:] {
			m.Candidates = append(m.Candidates, c.o.Name)
		}
		sm.Entities = append(sm.Entities, m)
	}
	return sm
}

// mapEntity maps object o as entity ent; nil when a sql table has no usable key.
func mapEntity(s System, ent model.Entity, o *connector.Object, opts Options) *EntityMap {
	m := &EntityMap{Entity: ent, Object: o.Name}
	if s.Connector == ConnTryton {
		// The Tryton connector maps its models itself (mapOdoo does Odoo's).
		for _, f := range trytonFields[ent] {
			m.Fields = append(m.Fields, FieldMap{Field: f, ReadOnly: trytonReadOnly[f]})
		}
		return m
	}
	used := map[string]bool{}
	if s.Connector == ConnSQL {
		if !sqlKeys(s, m, o) {
			return nil
		}
		used[m.ID] = true
		used[m.UpdatedAt] = true
		used[m.Link] = true
	}
	for _, def := range model.Schema(ent) {
		syn := fieldSynonyms[ent][def.Name]
		if len(syn) == 0 {
			continue
		}
		type cand struct {
			c    connector.Column
			rank int
			sure bool
		}
		var cands []cand
		for _, c := range o.Columns {
			if used[c.Name] {
				continue
			}
			r := rank(syn, c.Name)
			if r < 0 {
				continue
			}
			ok, sure := fits(def.Type, classify(c.Type))
			if s.Driver == driverSQLite && ok {
				// SQLite has type affinities, no types: the sql connector keeps
				// decimals as text and booleans as integers there.
				sure = true
			}
			if !ok {
				m.Unsure = append(m.Unsure, Unsure{Field: def.Name, Candidates: []string{c.Name}, Why: fmt.Sprintf("%s is %s, %s is %s", c.Name, c.Type, def.Name, def.Type)})
				continue
			}
			cands = append(cands, cand{c, r, sure})
		}
		if len(cands) == 0 {
			continue
		}
		slices.SortStableFunc(cands, func(a, b cand) int { return a.rank - b.rank })
		best := cands[0]
		var names []string
		for _, c := range cands {
			names = append(names, c.c.Name)
		}
		switch {
		case !best.sure:
			m.Unsure = append(m.Unsure, Unsure{Field: def.Name, Candidates: names, Why: fmt.Sprintf("%s is %s, check that it holds a %s", best.c.Name, best.c.Type, def.Type)})
			continue
		case len(cands) > 1 && cands[1].rank == best.rank:
			m.Unsure = append(m.Unsure, Unsure{Field: def.Name, Candidates: names, Why: "several candidates"})
			continue
		}
		used[best.c.Name] = true
		f := FieldMap{Field: def.Name, Column: best.c.Name, ReadOnly: best.c.ReadOnly}
		if def.Type == model.TypeMoney {
			f.Currency = opts.Currency
			if s.Connector == ConnSQL {
				for _, c := range o.Columns {
					if rank(currencyColumnNames, c.Name) >= 0 && classify(c.Type) == kindText {
						f.Currency, f.CurrencyColumn = "", c.Name
						break
					}
				}
			}
		}
		m.Fields = append(m.Fields, f)
	}
	return m
}

// trytonFields are the canonical fields the Tryton connector maps per entity
// (docs/connectors/tryton.md); trytonReadOnly the ones it computes.
var (
	trytonFields = map[model.Entity][]string{
		model.Account: {"name", "email", "phone", "domain", "street", "city", "zip", "country", "customer_number", "open_balance", "active"},
		model.Contact: {"first_name", "last_name", "email", "title", "account"},
		model.Product: {"sku", "name", "description", "list_price", "cost_price", "stock", "unit", "category", "active"},
	}
	trytonReadOnly = map[string]bool{"customer_number": true, "open_balance": true}
)

// odooModels are the models the Odoo connector maps per entity and
// odooFields the canonical fields it maps (docs/connectors/odoo.md);
// odooOthers the models of the entities init leaves to the reader.
var (
	odooModels = map[model.Entity]string{model.Account: "res.partner", model.Contact: "res.partner", model.Product: "product.product"}
	odooFields = map[model.Entity][]string{
		model.Account: {"name", "email", "phone", "street", "city", "zip", "country", "vat", "active", "open_balance"},
		model.Contact: {"first_name", "last_name", "email", "phone", "title", "account"},
		model.Product: {"sku", "name", "description", "list_price", "cost_price", "stock", "unit", "category", "active"},
	}
	odooReadOnly = map[string]bool{"stock": true, "category": true, "open_balance": true}
	odooOthers   = []struct {
		entity model.Entity
		model  string
	}{{model.Order, "sale.order"}, {model.Invoice, "account.move"}}
)

// mapOdoo maps the Odoo models the catalog holds: companies and persons are
// both res.partner, which the connector tells apart itself.
func mapOdoo(s System, sm *SystemMap) *SystemMap {
	has := map[string]bool{}
	for _, o := range s.Catalog.Objects {
		has[o.Name] = true
	}
	for _, ent := range mappedEntities {
		if !has[odooModels[ent]] {
			continue
		}
		m := &EntityMap{Entity: ent, Object: odooModels[ent]}
		for _, f := range odooFields[ent] {
			m.Fields = append(m.Fields, FieldMap{Field: f, ReadOnly: odooReadOnly[f]})
		}
		sm.Entities = append(sm.Entities, m)
	}
	for _, o := range odooOthers {
		if has[o.model] {
			sm.Others = append(sm.Others, fmt.Sprintf("%s (%s: see examples/hubspot-odoo/concord.yaml and docs/flows.md)", o.model, o.entity))
		}
	}
	return sm
}

// sqlKeys chooses the key, id_kind, updated_at and link columns of a sql
// table and the DDL it needs; false when the table has no one-column key.
func sqlKeys(s System, m *EntityMap, o *connector.Object) bool {
	if len(o.Key) != 1 {
		return false
	}
	m.ID = o.Key[0]
	key := catalogColumn(o, m.ID)
	auto := s.AutoIncrement != nil && s.AutoIncrement(*key)
	m.IDKind, m.IDNote = chooseIDKind(key, auto)
	other := "erp"
	if s.Role == ERP {
		other = "crm"
	}
	for _, n := range updatedAtNames {
		if c := catalogColumn(o, n); c != nil && (classify(c.Type) == kindTime || classify(c.Type) == kindText) {
			m.UpdatedAt = c.Name
			break
		}
	}
	m.Link = linkColumn(o, other)
	m.DDL = sqlDDL(s.Driver, o, m, other+"_id")
	return true
}

// linkColumn finds the column holding the other system's id: <other>_id,
// else a column named <other>_..._id or <other>_...id, a unique one first;
// empty when there is none.
func linkColumn(o *connector.Object, other string) string {
	if c := catalogColumn(o, other+"_id"); c != nil {
		return c.Name
	}
	found := ""
	for _, c := range o.Columns {
		n := norm(c.Name)
		if strings.HasPrefix(n, other+"_") && strings.HasSuffix(n, "id") && classify(c.Type) != kindInt {
			if c.Unique {
				return c.Name
			}
			if found == "" {
				found = c.Name
			}
		}
	}
	return found
}

// chooseIDKind picks how a created row gets its key: the database's own
// (auto), a UUID when the key is text long enough to hold one, else the other
// system's id (link; the link column is still mapped, so rows that were there
// before are not taken for rows the other system created). It never proposes
// auto for a key the database does not fill, so the first create does not fail.
func chooseIDKind(key *connector.Column, auto bool) (string, string) {
	if auto {
		return idAuto, ""
	}
	k := classify(key.Type)
	if k == kindText {
		if n := typeLength(key.Type); n == 0 || n >= 36 {
			return idUUID, fmt.Sprintf("the key %s (%s) is text the database does not fill: Concord gives new rows a UUID", key.Name, key.Type)
		}
		return idLink, fmt.Sprintf("the key %s (%s) is too short for a UUID: rows Concord creates take the other system's id as key (it must fit)", key.Name, key.Type)
	}
	return idLink, fmt.Sprintf("the database does not fill the key %s (%s): rows Concord creates take the other system's id as key (it must fit the type)", key.Name, key.Type)
}

// typeLength is n of "varchar(n)" / "character varying(n)", 0 when unbounded.
func typeLength(typ string) int {
	i := strings.IndexByte(typ, '(')
	j := strings.IndexByte(typ, ')')
	if i < 0 || j < i {
		return 0
	}
	n := 0
	for _, r := range typ[i+1 : j] {
		if r < '0' || r > '9' {
			return 0
		}
		n = n*10 + int(r-'0')
	}
	return n
}

func catalogColumn(o *connector.Object, name string) *connector.Column {
	for i := range o.Columns {
		if o.Columns[i].Name == name {
			return &o.Columns[i]
		}
	}
	return nil
}
