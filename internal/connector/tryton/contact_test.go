package tryton

import (
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/model"
)

func contactOp(key, party, first, last, email string) connector.Op {
	return connector.Op{Kind: connector.OpCreate, LinkKey: key, Fields: model.Fields{
		"first_name": model.Text(first), "last_name": model.Text(last), "email": model.Text(email),
		"account": model.Ref(model.Account, party),
	}}
}

func TestSplitComment(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ comment, title, key string }{
		{"", "", ""},
		{"CFO", "CFO", ""},
		{"concord:hs-1", "", "hs-1"},
		{"Head of Accounts\nconcord:hs-10", "Head of Accounts", "hs-10"},
		{"line one\r\nline two\nconcord:x", "line one\nline two", "x"},
	} {
		title, key := splitComment(tc.comment)
		require.Equal(t, tc.title, title, tc.comment)
		require.Equal(t, tc.key, key, tc.comment)
		if back := joinComment(title, key); tc.comment != "" && tc.comment == title+"\n"+linkMarker+key {
			require.Equal(t, tc.comment, back)
		}
	}
	first, last := splitName("Mary Ann van Dyke")
	require.Equal(t, "Mary", first)
	require.Equal(t, "Ann van Dyke", last)
	require.Equal(t, "Mary Ann van Dyke", joinName(first, last))
}

func TestIntegrationConn_Contact(t *testing.T) {
	t.Parallel()
	c, _ := openTest(t)
	ctx := context.Background()
	party := createCustomer(t, c, "crm-acc-c1")

	t.Run("CreateReadUpdate", func(t *testing.T) {
		op := contactOp("hs-c-1", party, "Mary Ann", "van Dyke", "mary@acme.example")
		op.Fields["title"] = model.Text("Head of Accounts")
		res, err := c.Write(ctx, model.Contact, []connector.Op{op})
		require.NoError(t, err)
		require.NoError(t, res[0].Err)
		id := res[0].ID

		got, err := c.Get(ctx, model.Contact, []string{id})
		require.NoError(t, err)
		r := got[id]
		require.Equal(t, "hs-c-1", r.LinkKey)
		// The name is stored whole and split on the first space.
		require.Equal(t, model.Text("Mary"), r.Fields["first_name"])
		require.Equal(t, model.Text("Ann van Dyke"), r.Fields["last_name"])
		require.Equal(t, model.Text("mary@acme.example"), r.Fields["email"])
		require.Equal(t, model.Text("Head of Accounts"), r.Fields["title"])
		require.Equal(t, model.Ref(model.Account, party), r.Fields["account"])

		// The contact is not the party's own e-mail.
		acc, err := c.Get(ctx, model.Account, []string{party})
		require.NoError(t, err)
		require.True(t, acc[party].Fields["email"].IsNull(), "a contact's e-mail is not the account's: %v", acc[party].Fields["email"])

		first, err := c.Read(ctx, connector.ReadRequest{Entity: model.Contact})
		require.NoError(t, err)
		require.True(t, first.Done)
		require.Len(t, first.Records, 1)

		upd := connector.Op{Kind: connector.OpUpdate, ID: id, Version: res[0].Version, LinkKey: "hs-c-1", Fields: model.Fields{
			"last_name": model.Text("Smith"), "title": model.Text("CFO"),
		}}
		ures, err := c.Write(ctx, model.Contact, []connector.Op{upd})
		require.NoError(t, err)
		require.NoError(t, ures[0].Err)
		got, err = c.Get(ctx, model.Contact, []string{id})
		require.NoError(t, err)
		r = got[id]
		require.Equal(t, model.Text("Mary"), r.Fields["first_name"], "first word kept as the first name")
		require.Equal(t, model.Text("Smith"), r.Fields["last_name"])
		require.Equal(t, model.Text("CFO"), r.Fields["title"])
		require.Equal(t, "hs-c-1", r.LinkKey, "the link marker survives a title change")

		next, err := c.Read(ctx, connector.ReadRequest{Entity: model.Contact, Cursor: first.Next})
		require.NoError(t, err)
		require.Len(t, next.Records, 1, "an update is a change the incremental read returns")
		require.Equal(t, id, next.Records[0].ID)

		// An update planned against the old version conflicts.
		stale, err := c.Write(ctx, model.Contact, []connector.Op{{Kind: connector.OpUpdate, ID: id, Version: res[0].Version,
			Fields: model.Fields{"title": model.Text("CEO")}}})
		require.NoError(t, err)
		require.ErrorIs(t, stale[0].Err, connector.ErrConflict)
	})

	t.Run("LookupAfterCrash", func(t *testing.T) {
		// Created, then the result is lost: the link key finds it again,
		// exactly (hs-c-2 is not hs-c-20).
		res, err := c.Write(ctx, model.Contact, []connector.Op{
			contactOp("hs-c-20", party, "Bob", "Twenty", "bob20@acme.example"),
			contactOp("hs-c-2", party, "Bob", "Two", "bob2@acme.example"),
		})
		require.NoError(t, err)
		require.NoError(t, res[0].Err)
		require.NoError(t, res[1].Err)
		want := res[1].ID
		res = nil //nolint:ineffassign,wastedassign // the crash: the result is gone

		found, err := c.Lookup(ctx, model.Contact, []string{"hs-c-2", "hs-c-none"})
		require.NoError(t, err)
		require.Len(t, found, 1)
		require.Equal(t, want, found["hs-c-2"].ID)
		require.Equal(t, model.Text("Two"), found["hs-c-2"].Fields["last_name"])
	})

	t.Run("ErrPermanent", func(t *testing.T) {
		noMail := contactOp("hs-c-bad-1", party, "No", "Mail", "")
		noParty := contactOp("hs-c-bad-2", "999999", "No", "Party", "np@acme.example")
		company := contactOp("hs-c-bad-3", strconv.FormatInt(c.excluded[0], 10), "Our", "Company", "us@acme.example")
		res, err := c.Write(ctx, model.Contact, []connector.Op{
			noMail, contactOp("hs-c-ok", party, "Ok", "Person", "ok@acme.example"), noParty, company,
		})
		require.NoError(t, err)
		require.Len(t, res, 4)
		require.NoError(t, res[1].Err)
		for i, field := range map[int]string{0: "email", 2: "account", 3: "account"} {
			require.Error(t, res[i].Err)
			var pe *connector.PermanentError
			require.True(t, errors.As(res[i].Err, &pe), "op %d: %v", i, res[i].Err)
			require.Equal(t, field, pe.Field, "op %d: %v", i, res[i].Err)
		}
		found, err := c.Lookup(ctx, model.Contact, []string{"hs-c-ok", "hs-c-bad-1", "hs-c-bad-2", "hs-c-bad-3"})
		require.NoError(t, err)
		require.Len(t, found, 1)
		require.Contains(t, found, "hs-c-ok")
	})

	t.Run("AccountVersionIgnoresContacts", func(t *testing.T) {
		// An account created with the lazy "created" version stays updatable
		// after a contact is added to it: a contact is not the account's change.
		ares, err := c.Write(ctx, model.Account, []connector.Op{{Kind: connector.OpCreate, LinkKey: "crm-acc-c2", Fields: model.Fields{
			"name": model.Text("Globex"), "email": model.Text("ap@globex.example"),
		}}})
		require.NoError(t, err)
		require.NoError(t, ares[0].Err)
		acc := ares[0].ID
		cres, err := c.Write(ctx, model.Contact, []connector.Op{contactOp("hs-c-g", acc, "Hank", "Scorpio", "hank@globex.example")})
		require.NoError(t, err)
		require.NoError(t, cres[0].Err)

		upd, err := c.Write(ctx, model.Account, []connector.Op{{Kind: connector.OpUpdate, ID: acc, Version: ares[0].Version, Fields: model.Fields{
			"name": model.Text("Globex Corp"), "email": model.Null,
		}}})
		require.NoError(t, err)
		require.NoError(t, upd[0].Err)
		got, err := c.Get(ctx, model.Account, []string{acc})
		require.NoError(t, err)
		require.True(t, got[acc].Fields["email"].IsNull())
		// Clearing the account's e-mail left the contact alone.
		cs, err := c.Get(ctx, model.Contact, []string{cres[0].ID})
		require.NoError(t, err)
		require.Equal(t, model.Text("hank@globex.example"), cs[cres[0].ID].Fields["email"])
	})
}

func TestIntegrationConn_OrderContact(t *testing.T) {
	t.Parallel()
	c, _ := openTest(t)
	ctx := context.Background()
	party := createCustomer(t, c, "crm-acc-o1")
	other := createCustomer(t, c, "crm-acc-o2")
	widget := createProduct(t, c, "crm-prod-c1", "WID-C1", 25)
	cres, err := c.Write(ctx, model.Contact, []connector.Op{
		contactOp("hs-c-o1", party, "Ada", "Billing", "ada@acme.example"),
		contactOp("hs-c-o2", other, "Eve", "Elsewhere", "eve@other.example"),
	})
	require.NoError(t, err)
	require.NoError(t, cres[0].Err)
	require.NoError(t, cres[1].Err)
	billing, foreign := cres[0].ID, cres[1].ID

	ok := orderOp("deal-c-1", party, line(widget, "2", "25"))
	ok.Fields["contact"] = model.Ref(model.Contact, billing)
	wrong := orderOp("deal-c-2", party, line(widget, "1", "25"))
	wrong.Fields["contact"] = model.Ref(model.Contact, foreign)
	missing := orderOp("deal-c-3", party, line(widget, "1", "25"))
	missing.Fields["contact"] = model.Ref(model.Contact, "999999")
	res, err := c.Write(ctx, model.Order, []connector.Op{ok, wrong, missing})
	require.NoError(t, err)
	require.NoError(t, res[0].Err)
	for i, msg := range map[int]string{1: "belongs to party", 2: "no tryton contact 999999"} {
		var pe *connector.PermanentError
		require.True(t, errors.As(res[i].Err, &pe), "op %d: %v", i, res[i].Err)
		require.Equal(t, "contact", pe.Field)
		require.Contains(t, res[i].Err.Error(), msg)
	}

	found, err := c.Lookup(ctx, model.Order, []string{"deal-c-1", "deal-c-2", "deal-c-3"})
	require.NoError(t, err)
	require.Len(t, found, 1, "refused sales are not created")
	sale := found["deal-c-1"]
	require.Equal(t, model.Ref(model.Contact, billing), sale.Fields["contact"])
	require.Equal(t, "processing", sale.Fields["state"].Str)

	// The handoff retried after a crash: the confirmed sale already holds what
	// is asked (contact included), so the update succeeds without writing ...
	again := orderOp("deal-c-1", party, line(widget, "2", "25"))
	again.Kind, again.ID = connector.OpUpdate, sale.ID
	again.Fields["contact"] = model.Ref(model.Contact, billing)
	ures, err := c.Write(ctx, model.Order, []connector.Op{again})
	require.NoError(t, err)
	require.NoError(t, ures[0].Err)
	// ... while another contact is a change Tryton no longer accepts.
	changed := orderOp("deal-c-1", party, line(widget, "2", "25"))
	changed.Kind, changed.ID = connector.OpUpdate, sale.ID
	changed.Fields["contact"] = model.Null
	ures, err = c.Write(ctx, model.Order, []connector.Op{changed})
	require.NoError(t, err)
	require.Error(t, ures[0].Err)
	require.Contains(t, ures[0].Err.Error(), "draft sales only")
}
