package tryton

import (
	"context"
	"slices"
	"strings"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/tryton/trytonrpc"
	"github.com/concord-sync/concord/internal/model"
)

// contactTypes maps canonical account fields to party contact mechanism types.
var contactTypes = map[string]string{"email": "email", "phone": "phone", "domain": "website"}

// addressFields maps canonical account fields to party.address fields.
var addressFields = map[string]string{"street": "street", "city": "city", "zip": "postal_code", "country": "country"}

var (
	accountFields   = []string{"name", "email", "phone", "domain", "street", "city", "zip", "country", "customer_number", "open_balance", "active"}
	accountReadOnly = []string{"customer_number", "open_balance"}
)

func accountDef() *entityDef {
	return &entityDef{
		entity:    model.Account,
		model:     "party.party",
		fields:    accountFields,
		readOnly:  accountReadOnly,
		hasActive: true,
		read: []string{"name", "code", "receivable",
			"addresses", "addresses.street", "addresses.city", "addresses.postal_code", "addresses.country", "addresses.sequence",
			"contact_mechanisms", "contact_mechanisms.type", "contact_mechanisms.value", "contact_mechanisms.name", "contact_mechanisms.comment",
			"identifiers", "identifiers.type", "identifiers.code"},
		children: []string{"addresses", "contact_mechanisms", "identifiers"},
		// A contact's change is not the account's (and must not make an
		// update planned against the account's version conflict).
		ignoreChild: func(child string, r trytonrpc.Record) bool {
			return child == "contact_mechanisms" && isContact(r)
		},
		stampExtra: []string{"contact_mechanisms.type", "contact_mechanisms.name", "contact_mechanisms.comment"},
		domain: func(c *Conn) trytonrpc.Domain {
			// The company's own party and the employees are not customers.
			return trytonrpc.Domain{trytonrpc.Leaf("id", "not in", c.excluded)}
		},
		linkDomain: func(c *Conn, keys []string) trytonrpc.Domain {
			return trytonrpc.Domain{
				trytonrpc.Leaf("identifiers.code", "in", keys),
				trytonrpc.Leaf("identifiers.type", "=", nullIfEmpty(c.linkType)),
			}
		},
		linkKey:  partyLinkKey,
		toFields: partyFields,
		create:   partyCreate,
		update:   partyUpdate,
		// A party is never written by Tryton after its create, so a create
		// can return createdVersion instead of reading the parties back.
		lazyVersion: true,
		labels: map[string]string{
			"Party.Name": "name", "Party.Active": "active",
			"Address.Street": "street", "Address.City": "city", "Address.Postal Code": "zip",
			"Address.Country": "country",
		},
	}
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func partyLinkKey(c *Conn, r trytonrpc.Record) string {
	for _, id := range r.RelatedList("identifiers") {
		if id.String("type") == c.linkType {
			return id.String("code")
		}
	}
	return ""
}

// firstContact returns the first contact mechanism of type typ, in Tryton's
// order (sequence, id), as party.email and party.phone do; the mechanisms that
// are contacts (entity contact) are not the party's own.
func firstContact(r trytonrpc.Record, typ string) trytonrpc.Record {
	for _, m := range r.RelatedList("contact_mechanisms") {
		if m.String("type") == typ && !isContact(m) {
			return m
		}
	}
	return nil
}

// firstAddress returns the party's first address in Tryton's order.
func firstAddress(r trytonrpc.Record) trytonrpc.Record {
	ids := r.IDs("addresses")
	list := r.RelatedList("addresses")
	if len(ids) == 0 || len(list) == 0 {
		return nil
	}
	for _, a := range list {
		if a.ID() == ids[0] {
			return a
		}
	}
	return list[0]
}

func textValue(s string) model.Value {
	if s == "" {
		return model.Null
	}
	return model.Text(s)
}

func partyFields(c *Conn, r trytonrpc.Record) model.Fields {
	f := model.Fields{
		"name":            textValue(r.String("name")),
		"customer_number": textValue(r.String("code")),
		"active":          model.Bool(r.Bool("active")),
	}
	for name, typ := range contactTypes {
		f[name] = textValue(firstContact(r, typ).String("value"))
	}
	if a := firstAddress(r); a != nil {
		f["street"] = textValue(a.String("street"))
		f["city"] = textValue(a.String("city"))
		f["zip"] = textValue(a.String("postal_code"))
		f["country"] = textValue(c.countryByID[a.Int("country")])
	} else {
		f["street"], f["city"], f["zip"], f["country"] = model.Null, model.Null, model.Null, model.Null
	}
	if d, ok := r.Decimal("receivable"); ok {
		f["open_balance"] = model.Money(d, c.currency)
	}
	return f
}

// text returns the string of a text field value; null is "".
func text(field string, v model.Value) (string, error) {
	if v.IsNull() {
		return "", nil
	}
	if v.Kind != model.KindText {
		return "", badField(field, "field %s: want text, got %s", field, v.Kind)
	}
	return strings.TrimSpace(v.Str), nil
}

// checkFields refuses fields the entity does not map or only reads.
func checkFields(entity model.Entity, fields, readOnly []string, f model.Fields) error {
	for _, name := range f.Names() {
		if !slices.Contains(fields, name) {
			return badField(name, "field %s is not mapped for tryton %s", name, entity)
		}
		if slices.Contains(readOnly, name) {
			return badField(name, "field %s is read-only in tryton %s", name, entity)
		}
	}
	return nil
}

func (c *Conn) addressValues(f model.Fields) (trytonrpc.Values, error) {
	vals := trytonrpc.Values{}
	for canon, native := range addressFields {
		v, ok := f[canon]
		if !ok {
			continue
		}
		s, err := text(canon, v)
		if err != nil {
			return nil, err
		}
		if canon == "country" {
			if s == "" {
				vals[native] = nil
				continue
			}
			id, ok := c.countryByCode[strings.ToUpper(s)]
			if !ok {
				return nil, badField("country", "field country: no country with code %q in tryton", s)
			}
			vals[native] = id
			continue
		}
		vals[native] = s
	}
	return vals, nil
}

func partyCreate(_ context.Context, c *Conn, op connector.Op) (trytonrpc.Values, error) {
	if err := checkFields(model.Account, accountFields, accountReadOnly, op.Fields); err != nil {
		return nil, err
	}
	name, err := text("name", op.Fields["name"])
	if err != nil {
		return nil, err
	}
	vals := trytonrpc.Values{"name": nullIfEmpty(name)}
	if v, ok := op.Fields["active"]; ok && !v.IsNull() {
		if v.Kind != model.KindBool {
			return nil, badField("active", "field active: want bool, got %s", v.Kind)
		}
		vals["active"] = v.Bool
	}
	addr, err := c.addressValues(op.Fields)
	if err != nil {
		return nil, err
	}
	if len(addr) > 0 {
		vals["addresses"] = []any{[]any{"create", []trytonrpc.Values{addr}}}
	}
	var mechs []trytonrpc.Values
	for _, canon := range []string{"email", "phone", "domain"} {
		s, err := text(canon, op.Fields[canon])
		if err != nil {
			return nil, err
		}
		if s != "" {
			mechs = append(mechs, trytonrpc.Values{"type": contactTypes[canon], "value": s})
		}
	}
	if len(mechs) > 0 {
		vals["contact_mechanisms"] = []any{[]any{"create", mechs}}
	}
	if op.LinkKey != "" {
		vals["identifiers"] = []any{[]any{"create", []trytonrpc.Values{{"type": nullIfEmpty(c.linkType), "code": op.LinkKey}}}}
	}
	return vals, nil
}

func partyUpdate(_ context.Context, c *Conn, op connector.Op, cur trytonrpc.Record) (trytonrpc.Values, error) {
	if err := checkFields(model.Account, accountFields, accountReadOnly, op.Fields); err != nil {
		return nil, err
	}
	vals := trytonrpc.Values{}
	if v, ok := op.Fields["name"]; ok {
		s, err := text("name", v)
		if err != nil {
			return nil, err
		}
		vals["name"] = nullIfEmpty(s)
	}
	if v, ok := op.Fields["active"]; ok && !v.IsNull() {
		if v.Kind != model.KindBool {
			return nil, badField("active", "field active: want bool, got %s", v.Kind)
		}
		vals["active"] = v.Bool
	}
	addr, err := c.addressValues(op.Fields)
	if err != nil {
		return nil, err
	}
	if len(addr) > 0 {
		if a := firstAddress(cur); a != nil {
			vals["addresses"] = []any{[]any{"write", []int64{a.ID()}, addr}}
		} else {
			vals["addresses"] = []any{[]any{"create", []trytonrpc.Values{addr}}}
		}
	}
	var mechOps []any
	for _, canon := range []string{"email", "phone", "domain"} {
		v, ok := op.Fields[canon]
		if !ok {
			continue
		}
		s, err := text(canon, v)
		if err != nil {
			return nil, err
		}
		existing := firstContact(cur, contactTypes[canon])
		switch {
		case existing != nil && s == "":
			mechOps = append(mechOps, []any{"delete", []int64{existing.ID()}})
		case existing != nil:
			if existing.String("value") != s {
				mechOps = append(mechOps, []any{"write", []int64{existing.ID()}, trytonrpc.Values{"value": s}})
			}
		case s != "":
			mechOps = append(mechOps, []any{"create", []trytonrpc.Values{{"type": contactTypes[canon], "value": s}}})
		}
	}
	if len(mechOps) > 0 {
		vals["contact_mechanisms"] = mechOps
	}
	if op.LinkKey != "" && partyLinkKey(c, cur) != op.LinkKey {
		vals["identifiers"] = []any{[]any{"create", []trytonrpc.Values{{"type": nullIfEmpty(c.linkType), "code": op.LinkKey}}}}
	}
	return vals, nil
}
