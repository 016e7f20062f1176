package sqlconn_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	sqlconn "github.com/concord-sync/concord/internal/connector/sql"
)

func validAccount() map[string]any {
	return map[string]any{
		"table": "customers", "id": "customer_id", "updated_at": "updated_at", "link": "crm_id",
		"fields": map[string]any{
			"name":         "company_name",
			"credit_limit": map[string]any{"column": "credit_limit", "currency": "USD"},
		},
	}
}

func validLines() map[string]any {
	return map[string]any{
		"table": "erp.sale_order_lines", "parent": "order_id", "id": "id", "position": "line_no",
		"fields": map[string]any{
			"product":    "product_id",
			"quantity":   "quantity",
			"unit_price": map[string]any{"column": "unit_price", "currency": "USD"},
			"amount":     map[string]any{"column": "amount", "currency_column": "amount_currency"},
			"lot":        map[string]any{"column": "lot", "type": "text"},
		},
	}
}

func orderWithLines(lines map[string]any) map[string]any {
	return map[string]any{
		"table": "sale_orders", "id": "id", "updated_at": "updated_at", "link": "crm_deal_id",
		"fields": map[string]any{
			"reference": "reference",
			"account":   "customer_id",
			"currency":  "currency",
			"total":     map[string]any{"column": "total", "currency_column": "currency"},
			"lines":     lines,
		},
	}
}

func validOrder() map[string]any { return orderWithLines(validLines()) }

func withOrder(order map[string]any) map[string]any {
	return map[string]any{"driver": "sqlite", "dsn": "erp.db", "entities": map[string]any{"order": order}}
}

func settingsWith(account map[string]any, kv ...any) map[string]any {
	s := map[string]any{"driver": "postgres", "dsn": "postgres://erp@db/erp", "entities": map[string]any{"account": account}}
	return clone(s, kv...)
}

// paths returns the SettingError paths of errs, sorted.
func paths(t *testing.T, errs []error) []string {
	t.Helper()
	var out []string
	for _, err := range errs {
		var se *connector.SettingError
		require.True(t, errors.As(err, &se), "%v is not a SettingError", err)
		out = append(out, se.Path)
	}
	slices.Sort(out)
	return out
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		settings map[string]any
		want     []string
	}{
		{"OK", settingsWith(validAccount()), nil},
		{"OKSQLitePath", map[string]any{"driver": "sqlite", "path": "./crm.db", "entities": map[string]any{"account": validAccount()}}, nil},
		{"OKIDKindLinkWithoutLink", settingsWith(clone(validAccount(), "id_kind", "link", "link", "")), nil},
		{"OKSchemaTable", settingsWith(clone(validAccount(), "table", "erp.customers")), nil},
		{"ErrDriver", settingsWith(validAccount(), "driver", "oracle"), []string{"driver"}},
		{"ErrNoDriverNoDSN", settingsWith(validAccount(), "driver", "", "dsn", ""), []string{"driver", "dsn"}},
		{"ErrOverlap", settingsWith(validAccount(), "overlap", "soon"), []string{"overlap"}},
		{"ErrSQLitePassword", map[string]any{"driver": "sqlite", "dsn": "x.db", "password": "pw", "entities": map[string]any{"account": validAccount()}}, []string{"password"}},
		{"ErrUnknownEntity", map[string]any{"driver": "mysql", "dsn": "u@tcp(h)/d", "entities": map[string]any{"widget": validAccount()}}, []string{"entities.widget"}},
		{"ErrNoEntities", settingsWith(validAccount(), "entities", map[string]any{}), []string{"entities"}},
		{"ErrMissingColumns", settingsWith(clone(validAccount(), "table", "", "id", "", "updated_at", "", "link", "")),
			[]string{"entities.account.id", "entities.account.link", "entities.account.table", "entities.account.updated_at"}},
		{"ErrIDKind", settingsWith(clone(validAccount(), "id_kind", "serial")), []string{"entities.account.id_kind"}},
		{"ErrBadIdentifiers", settingsWith(clone(validAccount(), "table", `customers"; DROP TABLE x; --`, "id", "id`", "archived", "a\x00")),
			[]string{"entities.account.archived", "entities.account.id", "entities.account.table"}},
		{"ErrFields", settingsWith(clone(validAccount(), "fields", map[string]any{
			"credit_limit": "credit_limit",                                     // money without currency
			"open_balance": map[string]any{"column": "ob", "currency": "EURO"}, // bad code
			"shoe_size":    "shoe",                                             // custom without type
			"fav":          map[string]any{"column": "fav", "type": "colour"},  // unknown type
			"name":         map[string]any{"column": "n", "type": "bool"},      // wrong type for a standard field
			"email":        map[string]any{"column": "e`x"},                    // bad identifier
			"vat":          map[string]any{"column": "vat", "currency": "EUR"}, // currency on text
		})), []string{
			"entities.account.fields.credit_limit",
			"entities.account.fields.email.column",
			"entities.account.fields.fav.type",
			"entities.account.fields.name.type",
			"entities.account.fields.open_balance.currency",
			"entities.account.fields.shoe_size",
			"entities.account.fields.vat",
		}},
		{"ErrLines", map[string]any{"driver": "sqlite", "dsn": "x.db", "entities": map[string]any{"order": map[string]any{
			"table": "orders", "id": "id", "updated_at": "u", "link": "l", "fields": map[string]any{"lines": "lines"},
		}}}, []string{"entities.order.fields.lines"}},
		{"ErrUnknownSetting", settingsWith(validAccount(), "colour", "blue"), []string{"colour"}},
		{"OKLines", withOrder(validOrder()), nil},
		{"OKLinesUUIDWithPosition", withOrder(orderWithLines(clone(validLines(), "id_kind", "uuid"))), nil},
		{"OKCustomRef", settingsWith(clone(validAccount(), "fields", map[string]any{
			"name":      "company_name",
			"parent":    map[string]any{"column": "parent_id", "type": "ref", "ref": "account"},
			"sales_rep": map[string]any{"column": "rep_id", "type": "ref", "ref": "contact"},
		})), nil},
		{"ErrLinesMissing", withOrder(orderWithLines(map[string]any{"position": "line_no"})), []string{
			"entities.order.fields.lines.fields",
			"entities.order.fields.lines.id",
			"entities.order.fields.lines.parent",
			"entities.order.fields.lines.table",
		}},
		{"ErrLinesIDKind", withOrder(orderWithLines(clone(validLines(), "id_kind", "link"))), []string{"entities.order.fields.lines.id_kind"}},
		{"ErrLinesUUIDWithoutPosition", withOrder(orderWithLines(clone(validLines(), "id_kind", "uuid", "position", ""))), []string{"entities.order.fields.lines.position"}},
		{"ErrLinesBadTable", withOrder(orderWithLines(clone(validLines(), "table", "erp..lines"))), []string{"entities.order.fields.lines.table"}},
		{"ErrLinesColumnAndCurrency", withOrder(orderWithLines(clone(validLines(), "column", "lines", "currency", "USD"))), []string{
			"entities.order.fields.lines", "entities.order.fields.lines",
		}},
		{"ErrLineFields", withOrder(orderWithLines(clone(validLines(), "fields", map[string]any{
			"quantity":   map[string]any{"column": "qty", "type": "money", "currency": "USD"}, // standard decimal
			"unit_price": "unit_price",                                                        // money without currency
			"amount":     map[string]any{"column": "amount", "currency": "DOLLARS"},           // bad code
			"discount":   map[string]any{"column": "discount", "currency": "USD"},             // currency on a decimal
			"colour":     "colour",                                                            // custom without type
			"sub":        map[string]any{"type": "lines", "table": "x", "parent": "p", "id": "id", "fields": map[string]any{"quantity": "q"}},
			"product":    map[string]any{"column": "product_id", "ref": "account"}, // standard ref to product
		}))), []string{
			"entities.order.fields.lines.fields.amount.currency",
			"entities.order.fields.lines.fields.colour",
			"entities.order.fields.lines.fields.discount",
			"entities.order.fields.lines.fields.product.ref",
			"entities.order.fields.lines.fields.quantity", // and so its currency is out of place
			"entities.order.fields.lines.fields.quantity.type",
			"entities.order.fields.lines.fields.sub",
			"entities.order.fields.lines.fields.unit_price",
		}},
		{"ErrLinesKeysOnScalar", settingsWith(clone(validAccount(), "fields", map[string]any{
			"name": map[string]any{"column": "company_name", "table": "t", "parent": "p"},
		})), []string{"entities.account.fields.name"}},
		{"ErrCustomRef", settingsWith(clone(validAccount(), "fields", map[string]any{
			"parent":  map[string]any{"column": "parent_id", "type": "ref"},
			"partner": map[string]any{"column": "partner_id", "type": "ref", "ref": "widget"},
			"code":    map[string]any{"column": "code", "type": "text", "ref": "account"},
		})), []string{"entities.account.fields.code.ref", "entities.account.fields.parent.ref", "entities.account.fields.partner.ref"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, paths(t, sqlconn.Validate(tt.settings)))
		})
	}
}

func TestSpec(t *testing.T) {
	t.Parallel()
	spec := sqlconn.Spec()
	for _, name := range []string{"driver", "dsn", "path", "password", "overlap", "entities"} {
		require.True(t, spec.HasField(name), name)
	}
	for _, f := range spec.Fields {
		require.Equal(t, f.Name == "password", f.Secret, f.Name)
	}
}
