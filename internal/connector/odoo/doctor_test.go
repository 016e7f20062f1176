package odoo

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/odoo/odoorpc"
	"github.com/concord-sync/concord/internal/model"
)

func TestIntegrationConn_Diagnose(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, env := openTest(t)

	t.Run("OK", func(t *testing.T) {
		probs, err := c.Diagnose(ctx)
		require.NoError(t, err)
		require.Empty(t, probs, "the integration user scripts/odoo.sh makes has every right the mapping needs")
	})

	t.Run("ErrMissingFieldAndModel", func(t *testing.T) {
		acc := *entities[model.Account]
		acc.read = append([]string{"no_such_field"}, acc.read...)
		ghost := &entityDef{entity: model.Payment, model: "account.no_such_model"}
		probs, err := c.diagnose(ctx, []*entityDef{&acc, ghost})
		require.NoError(t, err)
		var msgs []string
		for _, p := range probs {
			require.NotEmpty(t, p.Fix)
			msgs = append(msgs, p.Msg)
		}
		require.Equal(t, []string{
			"field no_such_field of model res.partner (account) does not exist, or user " + env.User + " may not see it",
			"model account.no_such_model (payment) does not exist in database " + env.Database,
		}, msgs)
	})

	t.Run("ErrRights", func(t *testing.T) {
		// A user with Internal User only: it may read partners, not write
		// products, orders or invoices.
		admin := adminOf(t, env)
		groups, err := admin.SearchRead(ctx, "ir.model.data", odoorpc.Domain{odoorpc.Leaf("module", "=", "base"), odoorpc.Leaf("name", "=", "group_user")},
			[]string{"res_id"}, odoorpc.SearchOptions{})
		require.NoError(t, err)
		require.Len(t, groups, 1)
		_, err = admin.Create(ctx, "res.users", []odoorpc.Values{{"name": "Bare", "login": "bare", "password": "Bare-Pass-1",
			"groups_id": []any{odoorpc.Set(groups[0].Int("res_id"))}}}, nil)
		require.NoError(t, err)
		bare := openWith(t, env, func(s *Settings) { s.Username, s.Password = "bare", "Bare-Pass-1" })
		probs, err := bare.Diagnose(ctx)
		require.NoError(t, err)
		byModel := map[string]connector.Problem{}
		for _, p := range probs {
			require.Equal(t, SettingUsername, p.Setting, "%+v", p)
			require.Contains(t, p.Msg, "user bare may not")
			require.Contains(t, p.Fix, "give user bare the group")
			for _, m := range []string{"product.product", "sale.order ", "account.move "} {
				if strings.Contains(p.Msg+" ", " "+m) {
					byModel[m] = p
				}
			}
		}
		require.Contains(t, byModel, "product.product", "%v", probs)
		require.True(t, byModel["product.product"].Writes)
		require.Contains(t, byModel, "sale.order ", "%v", probs)
		require.Contains(t, byModel, "account.move ", "%v", probs)
	})
}

func TestIntegrationConn_Inspect(t *testing.T) {
	t.Parallel()
	c, _ := openTest(t)
	cat, err := c.Inspect(context.Background())
	require.NoError(t, err)
	objs := map[string]connector.Object{}
	for _, o := range cat.Objects {
		objs[o.Name] = o
	}
	for _, m := range []string{"res.partner", "product.product", "sale.order", "sale.order.line", "account.move"} {
		require.Contains(t, objs, m)
	}
	cols := map[string]connector.Column{}
	for _, col := range objs["sale.order"].Columns {
		cols[col.Name] = col
	}
	require.Equal(t, "Sales Order", objs["sale.order"].Label)
	require.Equal(t, "char", cols["client_order_ref"].Type)
	require.Equal(t, "many2one", cols["partner_id"].Type)
	require.Equal(t, "res.partner", cols["partner_id"].Ref)
	require.False(t, cols["partner_id"].Nullable)
	require.True(t, cols["id"].Unique)
}
