package hubspot_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/hubspot"
	sandbox "github.com/concord-sync/concord/internal/sandbox/hubspot"
)

func TestConn_Inspect(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sandbox.Config{})
	_, err := f.srv.DefineProperty("companies", sandbox.Property{Name: "vat_number", Label: "VAT", Type: "string", FieldType: "text", GroupName: "companyinformation", HasUniqueValue: true})
	require.NoError(t, err)
	c := f.open(t, f.with(map[string]any{"entities": map[string]any{}, "create_link_property": false}))
	require.Empty(t, c.Entities(), "opens with no entity mapped")

	cat, err := c.Inspect(context.Background())
	require.NoError(t, err)
	var names []string
	for _, o := range cat.Objects {
		names = append(names, o.Name)
	}
	require.Equal(t, []string{"companies", "contacts", "deals", "line_items", "products"}, names)
	companies := cat.Objects[0]
	require.Equal(t, "Companies", companies.Label)
	require.EqualValues(t, -1, companies.Rows)
	cols := map[string]connector.Column{}
	for _, col := range companies.Columns {
		cols[col.Name] = col
	}
	require.Equal(t, connector.Column{Name: "vat_number", Label: "VAT", Type: "string/text", Nullable: true, Unique: true}, cols["vat_number"])
	require.True(t, cols["hs_lastmodifieddate"].ReadOnly)
	require.False(t, cols["name"].Unique)
	require.Equal(t, "Company name", cols["name"].Label)

	require.NoError(t, c.Close(context.Background()))
	_, err = c.Inspect(context.Background())
	require.Error(t, err)
}

func TestConn_Diagnose(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, sandbox.Config{})
		c := f.open(t, nil) // create_link_property makes erp_id unique on open
		probs, err := c.Diagnose(context.Background())
		require.NoError(t, err)
		require.Empty(t, probs)
	})

	t.Run("ErrProblems", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, sandbox.Config{})
		// A link property made without "unique values", as people do by hand.
		_, err := f.srv.DefineProperty("companies", sandbox.Property{Name: "erp_id", Label: "ERP id", Type: "string", FieldType: "text", GroupName: "companyinformation"})
		require.NoError(t, err)
		f.srv.SetScopes([]string{"crm.objects.companies.read", "crm.objects.products.read"})
		c := f.open(t, f.with(map[string]any{"create_link_property": false, "entities": map[string]any{
			"account": map[string]any{"fields": map[string]any{
				"name":  "name",
				"phone": "phnoe",                                              // misspelt
				"city":  "hs_lastmodifieddate",                                // read-only, not marked
				"vat":   map[string]any{"property": "vat_id", "type": "text"}, // missing
			}},
			"product": map[string]any{"object": "widgets"},
		}}))
		probs, err := c.Diagnose(context.Background())
		require.NoError(t, err)
		type got struct {
			Setting string
			Msg     string
			Writes  bool
		}
		var all []got
		for _, p := range probs {
			require.NotEmpty(t, p.Msg)
			require.NotEmpty(t, p.Fix, p.Msg)
			all = append(all, got{p.Setting, p.Msg, p.Writes})
		}
		require.Equal(t, []got{
			{"entities.account.link_property", "link property companies.erp_id is not unique (hasUniqueValue is false): a retried create could make a duplicate, so creates of account fail", true},
			{"entities.account.fields.city", "property companies.hs_lastmodifieddate (field city of account) is read-only in HubSpot (calculated): writing it fails", true},
			{"entities.account.fields.phone", "property companies.phnoe (field phone of account) does not exist", false},
			{"entities.account.fields.vat", "property companies.vat_id (field vat of account) does not exist", false},
			{"token", "the token may not write companies (account): it lacks the scope crm.objects.companies.write", true},
			{"entities.product.object", "object type widgets (product) does not exist in the portal", false},
		}, all)
		require.Equal(t, "did you mean phone? (or create the property phnoe on companies)", probs[2].Fix)
	})

	t.Run("ErrMissingLinkProperty", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, sandbox.Config{})
		c := f.open(t, f.with(map[string]any{"create_link_property": false, "entities": map[string]any{"contact": map[string]any{}}}))
		probs, err := c.Diagnose(context.Background())
		require.NoError(t, err)
		require.Len(t, probs, 1)
		require.Equal(t, "entities.contact.link_property", probs[0].Setting)
		require.Contains(t, probs[0].Msg, "link property contacts.erp_id does not exist")
		require.Contains(t, probs[0].Fix, "create_link_property: true")
	})
}

func TestConn_Diagnose_ReadOnlyOpen(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sandbox.Config{}) // create_link_property: true
	c, err := hubspot.OpenWith(context.Background(), connector.OpenParams{System: "crm", Settings: f.settings, Logger: testLogger(t), ReadOnly: true}, hubspot.Options{})
	require.NoError(t, err)
	defer c.Close(context.Background())
	probs, err := c.Diagnose(context.Background())
	require.NoError(t, err)
	require.Len(t, probs, 2, "companies and products lack erp_id")
	for _, p := range probs {
		require.True(t, p.Warning, p.Msg)
		require.Contains(t, p.Msg, "does not exist yet; it is created when Concord opens the portal for a sync")
	}
	_, err = f.srv.DefineProperty("companies", sandbox.Property{Name: "erp_id", Label: "x", Type: "string", FieldType: "text", GroupName: "companyinformation"})
	require.NoError(t, err, "the read-only open created nothing")
}
