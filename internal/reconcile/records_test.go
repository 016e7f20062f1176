package reconcile_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/memory"
	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/match"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/reconcile"
	"github.com/concord-sync/concord/internal/store"
	"github.com/concord-sync/concord/internal/store/sqlitestore"
)

// captureQueue is an engine.Enqueuer that keeps batches in memory, so that a
// test runs them by hand.
type captureQueue struct {
	mu      sync.Mutex
	batches []engine.Batch
}

func (q *captureQueue) EnqueueTx(_ context.Context, _ store.Tx, bs []engine.Batch, _ time.Time) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.batches = append(q.batches, bs...)
	return nil
}

func (q *captureQueue) take() []engine.Batch {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.batches
	q.batches = nil
	return out
}

var accountOwners = map[string]string{"name": "crm", "email": "crm", "country": "crm", "phone": "crm", "credit_limit": "erp", "customer_number": "erp"}

var contactOwners = map[string]string{"first_name": "crm", "last_name": "crm", "email": "crm", "account": "crm"}

func defs(e model.Entity, fields ...string) map[string]model.FieldDef {
	out := map[string]model.FieldDef{}
	for _, f := range fields {
		d, ok := model.LookupField(e, f)
		if !ok {
			panic("no field " + f)
		}
		out[f] = d
	}
	return out
}

// customerLegs is a two-way flow: the CRM owns the name, e-mail and country,
// the ERP the credit limit and customer number.
func customerLegs(flow, reverseFlow string) []engine.Leg {
	fwd := engine.Leg{
		Name: flow, Flow: flow, Source: "crm", Target: "erp", Entity: model.Account,
		Fields: []string{"country", "email", "name"}, Trigger: engine.TriggerChange, Owners: accountOwners,
		Defs:  defs(model.Account, "name", "email", "country"),
		Clean: map[string][]string{"name": {"trim"}, "email": {"trim", "email"}, "country": {"country"}},
	}
	revName := flow + ":reverse"
	if reverseFlow != flow {
		revName = reverseFlow
	}
	rev := engine.Leg{
		Name: revName, Flow: reverseFlow, Source: "erp", Target: "crm", Entity: model.Account,
		Fields: []string{"credit_limit", "customer_number"}, Trigger: engine.TriggerChange, Owners: accountOwners,
		Defs: defs(model.Account, "credit_limit", "customer_number"), Unlinked: engine.UnlinkedUpdateOnly,
	}
	return []engine.Leg{fwd, rev}
}

func contactLeg() engine.Leg {
	return engine.Leg{
		Name: "contacts", Flow: "contacts", Source: "crm", Target: "erp", Entity: model.Contact,
		Fields: []string{"account", "email", "first_name", "last_name"}, Trigger: engine.TriggerChange, Owners: contactOwners,
		Defs:  defs(model.Contact, "first_name", "last_name", "email", "account"),
		Clean: map[string][]string{"email": {"trim", "email"}},
	}
}

type testBundle struct {
	ctx   context.Context
	st    store.Store
	crm   *memory.Conn
	erp   *memory.Conn
	queue *captureQueue
	eng   *engine.Engine
	src   reconcile.Sources
}

func testLogger(t *testing.T) *slog.Logger {
	level := slog.LevelInfo
	if os.Getenv("CONCORD_DEBUG") == "1" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: level}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

func setup(t *testing.T, legs ...engine.Leg) *testBundle {
	t.Helper()
	if len(legs) == 0 {
		legs = append(customerLegs("customers", "customers"), contactLeg())
	}
	st, err := sqlitestore.Open(context.Background(), t.TempDir()+"/concord.db", nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	b := &testBundle{ctx: context.Background(), st: st, crm: memory.New("crm", model.Entities...), erp: memory.New("erp", model.Entities...), queue: &captureQueue{}}
	conns := map[string]connector.Connector{"crm": b.crm, "erp": b.erp}
	b.eng, err = engine.New(engine.Params{Store: st, Connectors: conns, Legs: legs, ConfigVersion: "test", Queue: b.queue, BatchSize: 50})
	require.NoError(t, err)
	rules, _ := match.DefaultRules(model.Account)
	b.src = reconcile.Sources{Store: st, Conns: conns, Legs: legs, Match: map[model.Entity]match.Rules{model.Account: rules}, PageSize: 7, Logger: testLogger(t)}
	return b
}

// sync polls every leg until drained and processes the queue until empty.
func (b *testBundle) sync(t *testing.T) {
	t.Helper()
	for _, leg := range b.eng.Legs() {
		for {
			res, err := b.eng.Poll(b.ctx, leg)
			require.NoError(t, err)
			if res.Done {
				break
			}
		}
	}
	b.drain(t)
}

// drain processes queued batches until none are left.
func (b *testBundle) drain(t *testing.T) {
	t.Helper()
	for batches := b.queue.take(); len(batches) > 0; batches = b.queue.take() {
		for _, batch := range batches {
			_, err := b.eng.Process(b.ctx, batch, engine.ProcessOptions{})
			require.NoError(t, err)
		}
	}
}

func money(s, cur string) model.Value { return model.Money(decimal.RequireFromString(s), cur) }

func company(id, name, email, country string) model.Record {
	return model.Record{Entity: model.Account, ID: id, Fields: model.Fields{"name": model.Text(name), "email": model.Text(email), "country": model.Text(country)}}
}

// erpOf returns the ERP record linked to a CRM record.
func (b *testBundle) erpOf(t *testing.T, e model.Entity, crmID string) model.Record {
	t.Helper()
	src, err := b.st.GetLinks(b.ctx, &store.GetLinksParams{System: "crm", Entity: e, ExternalIDs: []string{crmID}})
	require.NoError(t, err)
	require.Contains(t, src, crmID)
	tgt, err := b.st.GetLinksByConcordID(b.ctx, &store.GetLinksByConcordIDParams{System: "erp", Entity: e, ConcordIDs: []string{src[crmID].ConcordID}})
	require.NoError(t, err)
	got, err := b.erp.Get(b.ctx, e, []string{tgt[src[crmID].ConcordID].ExternalID})
	require.NoError(t, err)
	return got[tgt[src[crmID].ConcordID].ExternalID]
}

// edit changes fields of a record by hand, as a user in that system would.
func edit(t *testing.T, c *memory.Conn, rec model.Record, set model.Fields) model.Record {
	t.Helper()
	got, err := c.Get(context.Background(), rec.Entity, []string{rec.ID})
	require.NoError(t, err)
	r := got[rec.ID]
	for f, v := range set {
		r.Fields[f] = v
	}
	return c.Put(r)
}

// world is three companies and two contacts, synced both ways, with the
// ERP's credit limits and numbers copied back to the CRM.
func world(t *testing.T, b *testBundle) {
	t.Helper()
	b.crm.Put(company("c1", "Alfreds Futterkiste", "info@alfreds.de", "Germany"))
	b.crm.Put(company("c2", "Berglunds snabbköp", "order@berglunds.se", "Sweden"))
	b.crm.Put(company("c3", "Chop-suey Chinese", "chop@suey.ch", "Switzerland"))
	b.crm.Put(model.Record{Entity: model.Contact, ID: "p1", Fields: model.Fields{"first_name": model.Text("Maria"), "last_name": model.Text("Anders"), "email": model.Text("maria@alfreds.de"), "account": model.Ref(model.Account, "c1")}})
	b.crm.Put(model.Record{Entity: model.Contact, ID: "p2", Fields: model.Fields{"first_name": model.Text("Christina"), "last_name": model.Text("Berglund"), "account": model.Ref(model.Account, "c2")}})
	b.sync(t)
	for i, id := range []string{"c1", "c2", "c3"} {
		edit(t, b.erp, b.erpOf(t, model.Account, id), model.Fields{"credit_limit": money(fmt.Sprintf("%d000.50", i+1), "EUR"), "customer_number": model.Text(fmt.Sprintf("K-%d", i+1))})
	}
	b.sync(t)
	got, err := b.crm.Get(b.ctx, model.Account, []string{"c3"})
	require.NoError(t, err)
	require.Equal(t, "K-3", got["c3"].Fields["customer_number"].Str, "the world is synced both ways")
}

func TestRecords(t *testing.T) {
	t.Parallel()

	t.Run("OKInAgreement", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		world(t, b)
		drift, unlinked, compared, err := reconcile.Records(b.ctx, b.src)
		require.NoError(t, err)
		require.Empty(t, drift)
		require.Empty(t, unlinked)
		require.Equal(t, map[string]int{"customers": 3, "contacts": 2}, compared, "a two-way flow counts each pair once")
	})

	t.Run("DriftBothWaysPerOwnership", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		world(t, b)
		e1 := b.erpOf(t, model.Account, "c1")
		edit(t, b.erp, e1, model.Fields{"name": model.Text("Alfreds Futterkiste GmbH")}) // the CRM owns it
		edit(t, b.crm, model.Record{Entity: model.Account, ID: "c2"}, model.Fields{"customer_number": model.Text("K-99")})
		drift, unlinked, _, err := reconcile.Records(b.ctx, b.src)
		require.NoError(t, err)
		require.Empty(t, unlinked)
		require.Len(t, drift, 2)
		byField := map[string]reconcile.Drift{}
		for _, d := range drift {
			byField[d.Field] = d
		}
		name := byField["name"]
		require.Equal(t, reconcile.Drift{
			Flow: "customers", Entity: "account", ConcordID: name.ConcordID, Field: "name",
			Owner: "crm", OwnerID: "c1", OwnerValue: "Alfreds Futterkiste",
			Other: "erp", OtherID: e1.ID, OtherValue: "Alfreds Futterkiste GmbH", Fixable: true,
		}, name)
		num := byField["customer_number"]
		require.Equal(t, "erp", num.Owner, "the ERP owns the customer number: the CRM drifted")
		require.Equal(t, "crm", num.Other)
		require.Equal(t, "c2", num.OtherID)
		require.Equal(t, "K-2", num.OwnerValue)
		require.Equal(t, "K-99", num.OtherValue)
		require.True(t, num.Fixable)
	})

	t.Run("CleanRulesNormaliseNoDrift", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		world(t, b)
		// What the clean rules make equal is no drift: spaces (trim), the
		// e-mail's case (email), a country's name for its code (country).
		edit(t, b.erp, b.erpOf(t, model.Account, "c1"), model.Fields{"name": model.Text("  Alfreds   Futterkiste "), "email": model.Text(" INFO@Alfreds.DE"), "country": model.Text("DE")})
		edit(t, b.crm, model.Record{Entity: model.Account, ID: "c2"}, model.Fields{"country": model.Text("SE")})
		drift, _, _, err := reconcile.Records(b.ctx, b.src)
		require.NoError(t, err)
		require.Empty(t, drift)
		// A field without clean rules compares as it is.
		edit(t, b.crm, model.Record{Entity: model.Account, ID: "c3"}, model.Fields{"customer_number": model.Text(" K-3")})
		drift, _, _, err = reconcile.Records(b.ctx, b.src)
		require.NoError(t, err)
		require.Len(t, drift, 1)
		require.Equal(t, "customer_number", drift[0].Field)
	})

	t.Run("MoneyExact", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		world(t, b)
		// 1000.50 and 1000.5 are the same amount; a cent or a currency is not.
		edit(t, b.crm, model.Record{Entity: model.Account, ID: "c1"}, model.Fields{"credit_limit": money("1000.5000", "EUR")})
		edit(t, b.crm, model.Record{Entity: model.Account, ID: "c2"}, model.Fields{"credit_limit": money("2000.51", "EUR")})
		edit(t, b.crm, model.Record{Entity: model.Account, ID: "c3"}, model.Fields{"credit_limit": money("3000.50", "USD")})
		drift, _, _, err := reconcile.Records(b.ctx, b.src)
		require.NoError(t, err)
		require.Len(t, drift, 2)
		got := map[string][2]string{}
		for _, d := range drift {
			require.Equal(t, "credit_limit", d.Field)
			got[d.OtherID] = [2]string{d.OwnerValue, d.OtherValue}
		}
		require.Equal(t, map[string][2]string{"c2": {"2000.5 EUR", "2000.51 EUR"}, "c3": {"3000.5 EUR", "3000.5 USD"}}, got)
	})

	t.Run("RefsTranslated", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		world(t, b)
		// The ERP contact points at the ERP's own id of the same company: no
		// drift. Pointed at another company, it drifted.
		e2 := b.erpOf(t, model.Contact, "p2")
		require.NotEqual(t, "c2", e2.Fields["account"].Str, "references hold each system's own ids")
		drift, _, _, err := reconcile.Records(b.ctx, b.src)
		require.NoError(t, err)
		require.Empty(t, drift)
		e3 := b.erpOf(t, model.Account, "c3")
		edit(t, b.erp, e2, model.Fields{"account": model.Ref(model.Account, e3.ID)})
		drift, _, _, err = reconcile.Records(b.ctx, b.src)
		require.NoError(t, err)
		require.Len(t, drift, 1)
		require.Equal(t, "account", drift[0].Field)
		require.Equal(t, "contacts", drift[0].Flow)
		require.Equal(t, "account:c2", drift[0].OwnerValue)
		require.Equal(t, "account:"+e3.ID, drift[0].OtherValue)
		require.True(t, drift[0].Fixable)
	})

	t.Run("UnlinkedWithCandidates", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		world(t, b)
		// The same company typed into both systems by hand, never linked; and
		// one that is only in the ERP.
		b.crm.Put(model.Record{Entity: model.Account, ID: "c9", Fields: model.Fields{"name": model.Text("Ernst Handel"), "street": model.Text("Kirchgasse 6"), "zip": model.Text("8010"), "city": model.Text("Graz"), "country": model.Text("Austria"), "phone": model.Text("7675-3425")}})
		erp := b.erp.Put(model.Record{Entity: model.Account, Fields: model.Fields{"name": model.Text("Ernst Handel GmbH"), "street": model.Text("Kirchgasse 6"), "zip": model.Text("8010"), "city": model.Text("Graz"), "country": model.Text("AT"), "phone": model.Text("7675-3425")}})
		lonely := b.erp.Put(model.Record{Entity: model.Account, Fields: model.Fields{"name": model.Text("Wolski Zajazd"), "city": model.Text("Warszawa"), "country": model.Text("PL")}})
		drift, unlinked, compared, err := reconcile.Records(b.ctx, b.src)
		require.NoError(t, err)
		require.Empty(t, drift)
		require.Equal(t, 3, compared["customers"])
		require.Len(t, unlinked, 3)
		by := map[string]reconcile.Unlinked{}
		for _, u := range unlinked {
			by[u.System+"/"+u.ID] = u
		}
		crm := by["crm/c9"]
		require.Equal(t, "Ernst Handel", crm.Name)
		require.Equal(t, "erp", crm.Other)
		require.NotEmpty(t, crm.Candidates)
		require.Equal(t, erp.ID, crm.Candidates[0].ID)
		back := by["erp/"+erp.ID]
		require.NotEmpty(t, back.Candidates)
		require.Equal(t, "c9", back.Candidates[0].ID)
		require.Empty(t, by["erp/"+lonely.ID].Candidates)
		require.Equal(t, "Wolski Zajazd", by["erp/"+lonely.ID].Name)
	})

	t.Run("LinkedCounterpartGone", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		world(t, b)
		e3 := b.erpOf(t, model.Account, "c3")
		e3.Archived = true
		b.erp.Put(e3)
		drift, unlinked, compared, err := reconcile.Records(b.ctx, b.src)
		require.NoError(t, err)
		require.Empty(t, drift)
		require.Equal(t, 2, compared["customers"])
		require.Len(t, unlinked, 1)
		require.Equal(t, reconcile.Unlinked{System: "crm", Entity: "account", ID: "c3", Other: "erp", LinkedTo: e3.ID}, unlinked[0])
	})

	t.Run("SeparateFlowsCountEach", func(t *testing.T) {
		t.Parallel()
		b := setup(t, customerLegs("customers", "credit")...)
		b.crm.Put(company("c1", "Alfreds Futterkiste", "info@alfreds.de", "Germany"))
		b.sync(t)
		edit(t, b.erp, b.erpOf(t, model.Account, "c1"), model.Fields{"credit_limit": money("10", "EUR")})
		_, _, compared, err := reconcile.Records(b.ctx, b.src)
		require.NoError(t, err)
		require.Equal(t, map[string]int{"customers": 1, "credit": 1}, compared)
		drift, _, _, err := reconcile.Records(b.ctx, b.src)
		require.NoError(t, err)
		require.Len(t, drift, 1)
		require.Equal(t, "credit", drift[0].Flow)
		require.Equal(t, "erp", drift[0].Owner)
	})

	t.Run("OwnerUnlessBlankAndNewestWins", func(t *testing.T) {
		t.Parallel()
		legs := customerLegs("customers", "customers")
		legs[0].Conflict = engine.ConflictOwnerUnlessBlank
		legs[1].Conflict = engine.ConflictNewestWins
		b := setup(t, legs...)
		world(t, b)
		// The CRM's e-mail blanked: the config keeps the ERP's, so no drift.
		edit(t, b.crm, model.Record{Entity: model.Account, ID: "c1"}, model.Fields{"email": model.Null})
		// The CRM's customer number edited after the ERP's: newest wins, so
		// --fix cannot put the ERP's back.
		edit(t, b.crm, model.Record{Entity: model.Account, ID: "c2"}, model.Fields{"customer_number": model.Text("K-77")})
		drift, _, _, err := reconcile.Records(b.ctx, b.src)
		require.NoError(t, err)
		require.Len(t, drift, 1)
		require.Equal(t, "customer_number", drift[0].Field)
		require.False(t, drift[0].Fixable)
	})
}
