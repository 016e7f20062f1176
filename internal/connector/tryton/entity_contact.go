package tryton

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/tryton/trytonrpc"
	"github.com/concord-sync/concord/internal/model"
)

var (
	contactFields   = []string{"first_name", "last_name", "email", "title", "account"}
	contactReadOnly = []string{}
)

// linkMarker prefixes the CRM id of a contact, stored as the last line of the
// contact mechanism's comment: "concord:<link key>".
const linkMarker = "concord:"

// contactDef maps contact <-> the e-mail party.contact_mechanism of the
// contact's account party (Tryton 6.0 has no person-under-company model; a
// sale's billing contact is such a mechanism). A contact is an e-mail
// mechanism with a name or with a Concord link marker; the other e-mail
// mechanisms are the party's own (the account's email).
//
// name = "first_name last_name" (read back: the first word is first_name,
// the rest last_name); value = email (required); party = account; comment =
// title, then the line "concord:<CRM id>" (the link key, found by Lookup with
// comment ilike). Phone is not mapped.
func contactDef() *entityDef {
	return &entityDef{
		entity:    model.Contact,
		model:     "party.contact_mechanism",
		fields:    contactFields,
		readOnly:  contactReadOnly,
		hasActive: true,
		read:      []string{"type", "value", "name", "comment", "party"},
		domain: func(c *Conn) trytonrpc.Domain {
			return trytonrpc.Domain{
				trytonrpc.Leaf("type", "=", "email"),
				trytonrpc.Leaf("party", "not in", c.excluded),
				[]any{"OR", trytonrpc.Leaf("name", "!=", nil), trytonrpc.Leaf("comment", "ilike", "%"+linkMarker+"%")},
			}
		},
		linkDomain: func(_ *Conn, keys []string) trytonrpc.Domain {
			// The marker is the comment's last line; the exact match is made
			// on the records read (Lookup compares LinkKey).
			or := []any{"OR"}
			for _, k := range keys {
				or = append(or, trytonrpc.Leaf("comment", "ilike", "%"+linkMarker+k))
			}
			return trytonrpc.Domain{or}
		},
		linkKey:  func(_ *Conn, r trytonrpc.Record) string { _, key := splitComment(r.String("comment")); return key },
		toFields: contactToFields,
		create:   contactCreate,
		update:   contactUpdate,
		labels: map[string]string{
			"Contact Mechanism.Value": "email", "Contact Mechanism.E-Mail": "email",
			"Contact Mechanism.Party": "account", "Contact Mechanism.Name": "first_name",
			"Contact Mechanism.Comment": "title",
		},
	}
}

// isContact reports whether a party's contact mechanism is a contact (an
// e-mail with a name or a link marker) rather than the party's own e-mail.
func isContact(m trytonrpc.Record) bool {
	if m.String("type") != "email" {
		return false
	}
	if m.String("name") != "" {
		return true
	}
	_, key := splitComment(m.String("comment"))
	return key != ""
}

// splitComment separates a contact comment into the title (every line but the
// marker) and the link key (the last "concord:" line).
func splitComment(comment string) (title, key string) {
	lines := strings.Split(strings.ReplaceAll(comment, "\r\n", "\n"), "\n")
	var keep []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, linkMarker) {
			key = strings.TrimSpace(strings.TrimPrefix(t, linkMarker))
			continue
		}
		keep = append(keep, l)
	}
	return strings.TrimSpace(strings.Join(keep, "\n")), key
}

// joinComment is the inverse of splitComment.
func joinComment(title, key string) any {
	var parts []string
	if title != "" {
		parts = append(parts, title)
	}
	if key != "" {
		parts = append(parts, linkMarker+key)
	}
	if len(parts) == 0 {
		return nil
	}
	return strings.Join(parts, "\n")
}

// splitName splits a contact's name: the first word is the first name, the
// rest the last name.
func splitName(name string) (first, last string) {
	name = strings.TrimSpace(name)
	if i := strings.IndexAny(name, " \t"); i >= 0 {
		return name[:i], strings.TrimSpace(name[i+1:])
	}
	return name, ""
}

func joinName(first, last string) string {
	return strings.TrimSpace(strings.TrimSpace(first) + " " + strings.TrimSpace(last))
}

func contactToFields(_ *Conn, r trytonrpc.Record) model.Fields {
	first, last := splitName(r.String("name"))
	title, _ := splitComment(r.String("comment"))
	f := model.Fields{
		"first_name": textValue(first),
		"last_name":  textValue(last),
		"email":      textValue(r.String("value")),
		"title":      textValue(title),
		"account":    model.Null,
	}
	if p := r.Int("party"); p != 0 {
		f["account"] = model.Ref(model.Account, fmt.Sprint(p))
	}
	return f
}

// contactParty checks the account of a contact: a Tryton party that is a
// customer (not the company nor an employee).
func (c *Conn) contactParty(ctx context.Context, v model.Value) (int64, error) {
	party, err := refID("account", model.Account, v)
	if err != nil {
		return 0, err
	}
	if party == 0 {
		return 0, badField("account", "field account: a contact needs an account (a tryton party)")
	}
	if slices.Contains(c.excluded, party) {
		return 0, badField("account", "field account: tryton party %d is the company or an employee, not a customer", party)
	}
	ids, err := c.rpc.Search(ctx, "party.party", trytonrpc.Domain{trytonrpc.Leaf("id", "=", party)},
		trytonrpc.SearchOptions{Context: trytonrpc.Context{"active_test": false}})
	if err != nil {
		return 0, fmt.Errorf("read party %d: %w", party, err)
	}
	if len(ids) == 0 {
		return 0, badField("account", "field account: no tryton party %d", party)
	}
	return party, nil
}

func contactEmail(v model.Value) (string, error) {
	s, err := text("email", v)
	if err != nil {
		return "", err
	}
	if s == "" {
		return "", badField("email", "field email: a tryton contact needs an e-mail address")
	}
	return s, nil
}

func contactCreate(ctx context.Context, c *Conn, op connector.Op) (trytonrpc.Values, error) {
	if err := checkFields(model.Contact, contactFields, contactReadOnly, op.Fields); err != nil {
		return nil, err
	}
	email, err := contactEmail(op.Fields["email"])
	if err != nil {
		return nil, err
	}
	party, err := c.contactParty(ctx, op.Fields["account"])
	if err != nil {
		return nil, err
	}
	var names [3]string
	for i, f := range []string{"first_name", "last_name", "title"} {
		if names[i], err = text(f, op.Fields[f]); err != nil {
			return nil, err
		}
	}
	return trytonrpc.Values{
		"type":    "email",
		"value":   email,
		"party":   party,
		"name":    nullIfEmpty(joinName(names[0], names[1])),
		"comment": joinComment(names[2], op.LinkKey),
	}, nil
}

func contactUpdate(ctx context.Context, c *Conn, op connector.Op, cur trytonrpc.Record) (trytonrpc.Values, error) {
	if err := checkFields(model.Contact, contactFields, contactReadOnly, op.Fields); err != nil {
		return nil, err
	}
	vals := trytonrpc.Values{}
	if v, ok := op.Fields["email"]; ok {
		email, err := contactEmail(v)
		if err != nil {
			return nil, err
		}
		if email != cur.String("value") {
			vals["value"] = email
		}
	}
	if v, ok := op.Fields["account"]; ok {
		party, err := c.contactParty(ctx, v)
		if err != nil {
			return nil, err
		}
		if party != cur.Int("party") {
			// Tryton refuses to move a contact mechanism to another party.
			return nil, badField("account", "field account: a tryton contact cannot move from party %d to party %d", cur.Int("party"), party)
		}
	}
	first, last := splitName(cur.String("name"))
	_, hasFirst := op.Fields["first_name"]
	_, hasLast := op.Fields["last_name"]
	if hasFirst || hasLast {
		var err error
		if hasFirst {
			if first, err = text("first_name", op.Fields["first_name"]); err != nil {
				return nil, err
			}
		}
		if hasLast {
			if last, err = text("last_name", op.Fields["last_name"]); err != nil {
				return nil, err
			}
		}
		if name := joinName(first, last); name != cur.String("name") {
			vals["name"] = nullIfEmpty(name)
		}
	}
	title, key := splitComment(cur.String("comment"))
	if v, ok := op.Fields["title"]; ok {
		s, err := text("title", v)
		if err != nil {
			return nil, err
		}
		title = s
	}
	if op.LinkKey != "" {
		key = op.LinkKey
	}
	if comment := joinComment(title, key); comment != nullIfEmpty(cur.String("comment")) {
		vals["comment"] = comment
	}
	return vals, nil
}
