package tryton

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/model"
)

func TestIntegrationConn_Inspect(t *testing.T) {
	t.Parallel()
	c, _ := openTest(t)
	cat, err := c.Inspect(context.Background())
	require.NoError(t, err)
	var party *connector.Object
	for i := range cat.Objects {
		if cat.Objects[i].Name == "party.party" {
			party = &cat.Objects[i]
		}
	}
	require.NotNil(t, party, "party.party listed")
	require.Equal(t, "Party", party.Label)
	cols := map[string]connector.Column{}
	for _, col := range party.Columns {
		cols[col.Name] = col
	}
	require.Equal(t, "char", cols["name"].Type)
	require.Equal(t, "one2many", cols["identifiers"].Type)
	require.Equal(t, "party.identifier", cols["identifiers"].Ref)
	require.True(t, cols["id"].Unique)
}

func TestIntegrationConn_Diagnose(t *testing.T) {
	t.Parallel()
	c, env := openTest(t)
	ctx := context.Background()

	t.Run("OK", func(t *testing.T) {
		probs, err := c.Diagnose(ctx)
		require.NoError(t, err)
		require.Empty(t, probs)
	})

	t.Run("ErrMissingField", func(t *testing.T) {
		acc := *entities[model.Account]
		acc.read = append([]string{"vat_code", "addresses.no_such_field"}, acc.read...)
		ghost := &entityDef{entity: model.Invoice, model: "account.no_such_model"}
		probs, err := c.diagnose(ctx, []*entityDef{&acc, ghost})
		require.NoError(t, err)
		var msgs []string
		for _, p := range probs {
			require.NotEmpty(t, p.Fix)
			msgs = append(msgs, p.Msg)
		}
		require.Equal(t, []string{
			"field vat_code of model party.party (account reads vat_code) does not exist",
			"field no_such_field of model party.party (account reads addresses.no_such_field) does not exist",
			"model account.no_such_model (invoice) does not exist in database " + env.Database,
		}, msgs)
	})

	t.Run("ErrLinkIdentifierType", func(t *testing.T) {
		c2, err := Open(ctx, Settings{URL: env.URL, Database: env.Database, Username: env.User, Password: env.Password, LinkIdentifierType: "crm_nope"}, nil)
		require.NoError(t, err)
		defer c2.Close(ctx)
		probs, err := c2.Diagnose(ctx)
		require.NoError(t, err)
		require.Len(t, probs, 1)
		require.Equal(t, SettingLinkIdentifierType, probs[0].Setting)
		require.Contains(t, probs[0].Msg, `party identifier type "crm_nope" is not one Tryton knows`)
	})
}
