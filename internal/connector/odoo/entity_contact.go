package odoo

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/concord-sync/concord/internal/connector/odoo/odoorpc"
	"github.com/concord-sync/concord/internal/model"
)

// contactDef maps contacts to res.partner persons: not companies, of type
// "contact", and not the partner of a user (Administrator, OdooBot, the
// integration user ...). Odoo keeps one name: "first_name last_name" is
// written, and read back the first word is first_name, the rest last_name.
func contactDef() *entityDef {
	return &entityDef{
		entity: model.Contact,
		model:  "res.partner",
		fields: []string{"first_name", "last_name", "email", "phone", "title", "account"},
		read:   []string{"name", "email", "phone", "function", "parent_id"},
		labels: map[string]string{"email": "email", "phone": "phone", "function": "title",
			"parent_id": "account", "name": "last_name"},
		messages:  map[string]string{"Contacts require a name": "last_name"},
		linkField: func(c *Conn) string { return c.partnerLink },
		domain: func(*Conn) odoorpc.Domain {
			return odoorpc.Domain{odoorpc.Leaf("is_company", "=", false), odoorpc.Leaf("type", "=", "contact"),
				odoorpc.Leaf("user_ids", "=", false)}
		},
		createExtra:  odoorpc.Values{"is_company": false, "type": "contact"},
		needsCurrent: true,
		toFields: func(_ *Conn, r odoorpc.Record) model.Fields {
			first, last := splitName(r.String("name"))
			f := model.Fields{
				"first_name": textValue(first), "last_name": textValue(last),
				"email": textOf(r, "email"), "phone": textOf(r, "phone"), "title": textOf(r, "function"),
				"account": model.Null,
			}
			if id := r.Int("parent_id"); id != 0 {
				f["account"] = model.Ref(model.Account, strconv.FormatInt(id, 10))
			}
			return f
		},
		values: func(_ *Conn, f, cur model.Fields) (odoorpc.Values, error) {
			v := odoorpc.Values{}
			for odoo, canon := range map[string]string{"email": "email", "phone": "phone", "function": "title"} {
				if val, ok := f[canon]; ok {
					v[odoo] = text(val)
				}
			}
			first, hasFirst := f["first_name"]
			last, hasLast := f["last_name"]
			if hasFirst || hasLast {
				if !hasFirst {
					first = cur["first_name"]
				}
				if !hasLast {
					last = cur["last_name"]
				}
				v["name"] = text(model.Text(joinName(first, last)))
			}
			if val, ok := f["account"]; ok {
				switch {
				case val.IsNull():
					v["parent_id"] = false
				case val.Kind == model.KindRef && val.Entity == model.Account:
					id, err := strconv.ParseInt(val.Str, 10, 64)
					if err != nil || id <= 0 {
						return nil, &fieldError{field: "account", msg: fmt.Sprintf("%q is not an Odoo partner id", val.Str)}
					}
					v["parent_id"] = id
				default:
					return nil, &fieldError{field: "account", msg: "want a reference to an account, got " + val.Kind.String()}
				}
			}
			return v, nil
		},
	}
}

func textValue(s string) model.Value {
	if s == "" {
		return model.Null
	}
	return model.Text(s)
}

// splitName splits a contact's name: the first word is the first name, the
// rest the last name.
func splitName(name string) (first, last string) {
	name = strings.TrimSpace(name)
	if i := strings.IndexByte(name, ' '); i >= 0 {
		return name[:i], strings.TrimSpace(name[i+1:])
	}
	return name, ""
}

func joinName(first, last model.Value) string {
	var parts []string
	for _, v := range []model.Value{first, last} {
		if !v.IsNull() {
			parts = append(parts, strings.TrimSpace(v.String()))
		}
	}
	return strings.Join(parts, " ")
}
