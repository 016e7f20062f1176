package memory_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/memory"
	"github.com/concord-sync/concord/internal/model"
)

func create(name string) connector.Op {
	return connector.Op{Kind: connector.OpCreate, LinkKey: "L-" + name, Fields: model.Fields{"name": model.Text(name)}}
}

func TestConn_Write(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		c := memory.New("crm", model.Account)
		res, err := c.Write(ctx, model.Account, []connector.Op{create("a"), create("b")})
		require.NoError(t, err)
		require.Len(t, res, 2)
		require.NotEqual(t, res[0].ID, res[1].ID)
		require.True(t, res[1].UpdatedAt.After(res[0].UpdatedAt))
		require.Equal(t, 2, c.Count(model.Account))

		got, err := c.Lookup(ctx, model.Account, []string{"L-a", "L-zz"})
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.Equal(t, res[0].ID, got["L-a"].ID)
		require.Equal(t, "L-a", got["L-a"].LinkKey)
	})

	t.Run("CreateWithExistingLinkKeyUpdates", func(t *testing.T) {
		t.Parallel()
		c := memory.New("crm", model.Account)
		res, err := c.Write(ctx, model.Account, []connector.Op{create("a")})
		require.NoError(t, err)
		op := create("a")
		op.Fields["name"] = model.Text("a2")
		res2, err := c.Write(ctx, model.Account, []connector.Op{op})
		require.NoError(t, err)
		require.Equal(t, res[0].ID, res2[0].ID)
		require.Equal(t, 1, c.Count(model.Account))
		require.Equal(t, "a2", c.All(model.Account)[0].Fields.Get("name").Str)
	})

	t.Run("ErrUnsupportedEntity", func(t *testing.T) {
		t.Parallel()
		c := memory.New("crm", model.Account)
		res, err := c.Write(ctx, model.Invoice, []connector.Op{create("a")})
		require.NoError(t, err)
		require.ErrorIs(t, res[0].Err, connector.ErrUnsupported)
		require.True(t, connector.IsPermanent(res[0].Err))
	})

	t.Run("ErrConflict", func(t *testing.T) {
		t.Parallel()
		c := memory.New("crm", model.Account)
		res, err := c.Write(ctx, model.Account, []connector.Op{create("a")})
		require.NoError(t, err)
		upd := connector.Op{Kind: connector.OpUpdate, ID: res[0].ID, Version: "stale", Fields: model.Fields{"name": model.Text("x")}}
		res2, err := c.Write(ctx, model.Account, []connector.Op{upd})
		require.NoError(t, err)
		require.ErrorIs(t, res2[0].Err, connector.ErrConflict)
		upd.Version = res[0].Version
		res3, err := c.Write(ctx, model.Account, []connector.Op{upd})
		require.NoError(t, err)
		require.NoError(t, res3[0].Err)
	})

	t.Run("ErrWrongKind", func(t *testing.T) {
		t.Parallel()
		c := memory.New("crm", model.Account)
		op := create("a")
		op.Fields["credit_limit"] = model.Text("lots")
		res, err := c.Write(ctx, model.Account, []connector.Op{op})
		require.NoError(t, err)
		var perr *connector.PermanentError
		require.ErrorAs(t, res[0].Err, &perr)
		require.Equal(t, "credit_limit", perr.Field)
		require.Zero(t, c.Count(model.Account))
	})

	t.Run("FailFuncAndWriteErr", func(t *testing.T) {
		t.Parallel()
		c := memory.New("crm", model.Account)
		boom := errors.New("boom")
		c.SetFailFunc(func(op connector.Op) error {
			if op.LinkKey == "L-b" {
				return boom
			}
			return nil
		})
		res, err := c.Write(ctx, model.Account, []connector.Op{create("a"), create("b"), create("c")})
		require.NoError(t, err)
		require.NoError(t, res[0].Err)
		require.ErrorIs(t, res[1].Err, boom)
		require.NoError(t, res[2].Err)
		require.Equal(t, 2, c.Count(model.Account))

		c.SetWriteErr(boom)
		_, err = c.Write(ctx, model.Account, []connector.Op{create("d")})
		require.ErrorIs(t, err, boom)
		require.ErrorIs(t, c.Ping(ctx), boom)
		require.Equal(t, 2, c.Count(model.Account))
	})
}

func TestConn_Read(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("PagesAndChanges", func(t *testing.T) {
		t.Parallel()
		c := memory.New("crm", model.Account)
		var ids []string
		for i := range 5 {
			r := c.Put(model.Record{Entity: model.Account, Fields: model.Fields{"name": model.Text(fmt.Sprint(i))}})
			ids = append(ids, r.ID)
		}
		var seen []string
		cursor := ""
		for {
			res, err := c.Read(ctx, connector.ReadRequest{Entity: model.Account, Cursor: cursor, Limit: 2})
			require.NoError(t, err)
			for _, r := range res.Records {
				seen = append(seen, r.ID)
			}
			cursor = res.Next
			if res.Done {
				break
			}
		}
		require.Equal(t, ids, seen)

		// A change moves the record to the end of the log, once.
		r := c.All(model.Account)[1]
		r.Fields["name"] = model.Text("changed")
		c.Put(r)
		res, err := c.Read(ctx, connector.ReadRequest{Entity: model.Account, Cursor: cursor})
		require.NoError(t, err)
		require.True(t, res.Done)
		require.Len(t, res.Records, 1)
		require.Equal(t, ids[1], res.Records[0].ID)
		require.Equal(t, "changed", res.Records[0].Fields.Get("name").Str)

		all, err := c.Read(ctx, connector.ReadRequest{Entity: model.Account})
		require.NoError(t, err)
		require.Len(t, all.Records, 5)
	})

	t.Run("CompactsLog", func(t *testing.T) {
		t.Parallel()
		c := memory.New("crm", model.Product)
		r := c.Put(model.Record{Entity: model.Product, Fields: model.Fields{"stock": model.Decimal(decimal.Zero)}})
		for i := range 5000 {
			r.Fields["stock"] = model.Decimal(decimal.NewFromInt(int64(i)))
			r = c.Put(r)
		}
		res, err := c.Read(ctx, connector.ReadRequest{Entity: model.Product})
		require.NoError(t, err)
		require.Len(t, res.Records, 1)
		require.Equal(t, "4999", res.Records[0].Fields.Get("stock").Num.String())
	})

	t.Run("ErrBadCursor", func(t *testing.T) {
		t.Parallel()
		c := memory.New("crm", model.Account)
		_, err := c.Read(ctx, connector.ReadRequest{Entity: model.Account, Cursor: "x"})
		require.Error(t, err)
	})
}

func TestConn_Archive(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := memory.New("erp", model.Invoice)
	r := c.Put(model.Record{Entity: model.Invoice, Fields: model.Fields{"number": model.Text("INV1")}})
	res, err := c.Archive(ctx, model.Invoice, []string{r.ID, "nope"})
	require.NoError(t, err)
	require.NoError(t, res[0].Err)
	require.ErrorIs(t, res[1].Err, connector.ErrNotFound)
	got, err := c.Get(ctx, model.Invoice, []string{r.ID})
	require.NoError(t, err)
	require.True(t, got[r.ID].Archived)
	require.Equal(t, "INV1", got[r.ID].Fields.Get("number").Str)
}

func TestRegister(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg := connector.NewRegistry()
	hub := memory.NewHub()
	memory.Register(reg, hub)
	spec, ok := reg.Lookup(memory.Name)
	require.True(t, ok)

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		settings := map[string]any{"entities": []any{"account", "product"}}
		require.Empty(t, spec.Validate(settings))
		a, err := spec.Open(ctx, connector.OpenParams{System: "crm", Settings: settings, Logger: slog.New(slog.DiscardHandler)})
		require.NoError(t, err)
		b, err := spec.Open(ctx, connector.OpenParams{System: "crm", Settings: settings, Logger: slog.New(slog.DiscardHandler)})
		require.NoError(t, err)
		_, err = a.Write(ctx, model.Account, []connector.Op{create("x")})
		require.NoError(t, err)
		c, ok := hub.Lookup("crm")
		require.True(t, ok)
		require.Equal(t, 1, c.Count(model.Account))
		res, err := b.Read(ctx, connector.ReadRequest{Entity: model.Account})
		require.NoError(t, err)
		require.Len(t, res.Records, 1)
		require.Len(t, b.Entities(), 2)
		require.NoError(t, a.Close(ctx))
		require.NoError(t, a.Close(ctx))
	})

	t.Run("ErrSettings", func(t *testing.T) {
		t.Parallel()
		errs := spec.Validate(map[string]any{"entities": []any{"account", "widget"}})
		require.Len(t, errs, 1)
		var se *connector.SettingError
		require.ErrorAs(t, errs[0], &se)
		require.Equal(t, "entities.1", se.Path)
		require.NotEmpty(t, spec.Validate(map[string]any{"bogus": 1}))
		require.NotEmpty(t, spec.Validate(map[string]any{}))
	})
}
