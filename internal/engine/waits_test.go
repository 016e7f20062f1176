package engine_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/store"
)

// TestEngine_Waits: a record that needs another is parked, not failed, and is
// applied when the other lands, however many retry windows that takes.
func TestEngine_Waits(t *testing.T) {
	t.Parallel()

	// The case of the review: the orders leg has written the sale to the ERP
	// but not recorded it yet (a long batch), the ERP invoices it, and the
	// payments leg reads the invoice first.
	t.Run("InvoiceWaitsForItsOrder", func(t *testing.T) {
		t.Parallel()
		accounts, _, handoff, payments := o2cLegs()
		b := setup(t, accounts, handoff, payments)
		b.crm.Put(account("c1", "Alfreds", ""))
		b.run(t, "customers")
		won := deal("d1", "Chai", "won", "c1")
		won.Fields["lines"] = model.Lines(nil)
		b.crm.Put(won)
		// Pull the account, so the handoff plan is ready to write.
		b.run(t, "orders")
		orders := b.erp.All(model.Order)
		require.Len(t, orders, 1)
		// Forget the handoff's link, as if its recording were still to come.
		_, err := b.st.DB().ExecContext(b.ctx, `DELETE FROM concord_link WHERE entity IN ('deal', 'order')`)
		require.NoError(t, err)
		_, err = b.st.DB().ExecContext(b.ctx, `DELETE FROM concord_fingerprint WHERE flow = 'orders'`)
		require.NoError(t, err)

		b.erp.Put(model.Record{Entity: model.Invoice, ID: "INV-1", Fields: model.Fields{"number": model.Text("2026/0001"),
			"state": model.Text("paid"), "order": model.Ref(model.Order, orders[0].ID), "amount_due": model.Money(decimal.Zero, "EUR")}})
		// Many retry windows pass: the invoice is parked, never dead-lettered.
		for range 10 {
			outs := b.run(t, "payments")
			if len(outs) > 0 {
				require.Equal(t, store.OutcomeWaiting, outs[0].Outcome)
			}
			res, err := b.eng.Tick(b.ctx)
			require.NoError(t, err)
			require.Zero(t, res.Expired)
		}
		dls, err := b.st.ListDeadLetters(b.ctx, nil)
		require.NoError(t, err)
		require.Empty(t, dls)

		// The orders leg records its sale (it adopts the order it wrote): the
		// invoice is woken in the same transaction and lands on the deal.
		require.NoError(t, b.st.SetCursor(b.ctx, &store.SetCursorParams{CursorKey: store.CursorKey{Flow: "orders", System: "crm", Entity: model.Deal}}))
		outs := b.run(t, "orders")
		got := countOutcomes(outs)
		require.Equal(t, 1, got[store.OutcomeCreated], "the adopted sale: %+v", outs)
		require.Equal(t, 1, got[store.OutcomeUpdated], "the woken invoice, onto the deal: %+v", outs)
		deals, err := b.crm.Get(b.ctx, model.Deal, []string{"d1"})
		require.NoError(t, err)
		require.Equal(t, "paid", deals["d1"].Fields["invoice_state"].Str)
		n, err := b.st.CountWaits(b.ctx, "")
		require.NoError(t, err)
		require.Zero(t, n)
		require.Equal(t, 1, b.erp.Count(model.Order))
	})

	// A wake the engine did not see (the link was recorded by another node) is
	// found by Tick.
	t.Run("TickWakesWhatWasMissed", func(t *testing.T) {
		t.Parallel()
		b := setup(t, dealLeg())
		b.crm.Put(account("c1", "Alfreds", ""))
		b.crm.Put(deal("d1", "Big deal", "won", "c1"))
		require.Equal(t, map[store.Outcome]int{store.OutcomeWaiting: 1}, countOutcomes(b.run(t, "deals")))
		erpAcc := b.erp.Put(model.Record{Entity: model.Account, ID: "E1", Fields: model.Fields{"name": model.Text("Alfreds")}})
		require.NoError(t, b.st.PutLinks(b.ctx, &store.PutLinksParams{Links: []store.Link{
			{Entity: model.Account, ConcordID: "x1", System: "crm", ExternalID: "c1"},
			{Entity: model.Account, ConcordID: "x1", System: "erp", ExternalID: erpAcc.ID},
		}}))
		res, err := b.eng.Tick(b.ctx)
		require.NoError(t, err)
		require.Equal(t, 1, res.Woken)
		batches := b.queue.take()
		require.Len(t, batches, 1)
		require.True(t, batches[0].Wake)
		outs, err := b.eng.Process(b.ctx, batches[0], engine.ProcessOptions{})
		require.NoError(t, err)
		require.Equal(t, map[store.Outcome]int{store.OutcomeCreated: 1}, countOutcomes(outs))
		require.Equal(t, erpAcc.ID, b.erp.All(model.Deal)[0].Fields["account"].Str)
		res, err = b.eng.Tick(b.ctx)
		require.NoError(t, err)
		require.Equal(t, engine.TickResult{}, res)
	})

	// The awaited record is linked between the waiting record's plan and its
	// recording (another leg's batch committed in between): parking sees the
	// link and wakes the record at once, instead of leaving it to Tick.
	t.Run("LinkedWhileParking", func(t *testing.T) {
		t.Parallel()
		b := setup(t, dealLeg())
		b.crm.Put(account("c1", "Alfreds", ""))
		b.crm.Put(deal("d1", "Big deal", "won", "c1"))
		_, err := b.eng.Poll(b.ctx, "deals")
		require.NoError(t, err)
		batch := b.queue.take()[0]
		bp, err := b.eng.Plan(b.ctx, batch)
		require.NoError(t, err)
		require.Equal(t, engine.ActionWait, bp.Records[0].Action)
		erpAcc := b.erp.Put(model.Record{Entity: model.Account, ID: "E1", Fields: model.Fields{"name": model.Text("Alfreds")}})
		require.NoError(t, b.st.PutLinks(b.ctx, &store.PutLinksParams{Links: []store.Link{
			{Entity: model.Account, ConcordID: "x1", System: "crm", ExternalID: "c1"},
			{Entity: model.Account, ConcordID: "x1", System: "erp", ExternalID: erpAcc.ID},
		}}))
		outs, err := b.eng.Execute(b.ctx, bp)
		require.NoError(t, err)
		require.Equal(t, store.OutcomeWaiting, outs[0].Outcome)
		woken := b.queue.take()
		require.Len(t, woken, 1, "woken in the parking transaction")
		require.True(t, woken[0].Wake)
		outs, err = b.eng.Process(b.ctx, woken[0], engine.ProcessOptions{})
		require.NoError(t, err)
		require.Equal(t, store.OutcomeCreated, outs[0].Outcome)
		n, err := b.st.CountWaits(b.ctx, "")
		require.NoError(t, err)
		require.Zero(t, n)
	})

	// A record read again while it still waits keeps the time it started
	// waiting: the wait limit counts from then.
	t.Run("WaitingAgainKeepsItsStart", func(t *testing.T) {
		t.Parallel()
		b := setup(t, dealLeg())
		b.crm.Put(account("c1", "Alfreds", ""))
		b.crm.Put(deal("d1", "Big deal", "won", "c1"))
		require.Equal(t, map[store.Outcome]int{store.OutcomeWaiting: 1}, countOutcomes(b.run(t, "deals")))
		first, err := b.st.ListWaits(b.ctx, nil)
		require.NoError(t, err)
		require.Len(t, first, 1)
		time.Sleep(10 * time.Millisecond)
		b.crm.Put(deal("d1", "Big deal, renamed", "won", "c1"))
		require.Equal(t, map[store.Outcome]int{store.OutcomeWaiting: 1}, countOutcomes(b.run(t, "deals")))
		again, err := b.st.ListWaits(b.ctx, nil)
		require.NoError(t, err)
		require.Len(t, again, 1)
		require.Equal(t, first[0].Since, again[0].Since)
		require.Equal(t, first[0].Deadline, again[0].Deadline)
		require.True(t, again[0].UpdatedAt.After(first[0].UpdatedAt))
	})

	// Past the wait limit the record becomes a dead letter that says what it
	// waited for, and the record's status field says so too.
	t.Run("ExpiresAfterTheLimit", func(t *testing.T) {
		t.Parallel()
		leg := dealLeg()
		leg.StatusField = "erp_sync_status"
		leg.Owners["erp_sync_status"] = "erp"
		b := setupWith(t, func(p *engine.Params) { p.WaitLimit = time.Millisecond }, leg)
		b.crm.Put(account("c1", "Alfreds", ""))
		b.crm.Put(deal("d1", "Big deal", "won", "c1"))
		require.Equal(t, map[store.Outcome]int{store.OutcomeWaiting: 1}, countOutcomes(b.run(t, "deals")))
		time.Sleep(5 * time.Millisecond)
		res, err := b.eng.Tick(b.ctx)
		require.NoError(t, err)
		require.Equal(t, 1, res.Expired)
		dls, err := b.st.ListDeadLetters(b.ctx, nil)
		require.NoError(t, err)
		require.Len(t, dls, 1)
		require.Equal(t, "d1", dls[0].ExternalID)
		require.Contains(t, dls[0].Reason, "for crm account c1 to be linked in erp, then gave up")
		require.False(t, dls[0].Retryable, "a person must sync the account")
		n, err := b.st.CountWaits(b.ctx, "")
		require.NoError(t, err)
		require.Zero(t, n)
		got, err := b.crm.Get(b.ctx, model.Deal, []string{"d1"})
		require.NoError(t, err)
		require.Contains(t, got["d1"].Fields["erp_sync_status"].Str, "failed: waited")
	})
}

// TestEngine_DeadLetters: one letter per record and cause, closed when the
// record syncs, retried by reading the source again, and retried by itself when
// the cause was passing.
func TestEngine_DeadLetters(t *testing.T) {
	t.Parallel()

	t.Run("EditAtTheSourceAndRetry", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.erp.SetFailFunc(func(op connector.Op) error {
			if len(op.Fields["name"].Str) > 10 {
				return connector.Permanent("name", errors.New("name is longer than 10 characters"))
			}
			return nil
		})
		b.crm.Put(account("c1", "A name far too long", ""))
		require.Equal(t, map[store.Outcome]int{store.OutcomeFailed: 1}, countOutcomes(b.run(t, "customers")))
		dls, err := b.st.ListDeadLetters(b.ctx, nil)
		require.NoError(t, err)
		require.Len(t, dls, 1)

		// A retry of the unchanged record fails again: still one letter.
		_, err = b.eng.RetryDeadLetters(b.ctx, dls, nil)
		require.NoError(t, err)
		require.Equal(t, map[store.Outcome]int{store.OutcomeFailed: 1}, countOutcomes(b.run(t, "customers")))
		again, err := b.st.ListDeadLetters(b.ctx, nil)
		require.NoError(t, err)
		require.Len(t, again, 1, "one letter per record and cause")
		require.Equal(t, dls[0].ID, again[0].ID)
		require.Equal(t, 2, again[0].Attempts)

		// Fixed at the source: the retry reads the record again and lands.
		rec := b.crm.All(model.Account)[0]
		rec.Fields["name"] = model.Text("Alfreds")
		b.crm.Put(rec)
		_, err = b.eng.RetryDeadLetters(b.ctx, again, nil)
		require.NoError(t, err)
		for _, batch := range b.queue.take() {
			outs, err := b.eng.Process(b.ctx, batch, engine.ProcessOptions{})
			require.NoError(t, err)
			require.Equal(t, map[store.Outcome]int{store.OutcomeCreated: 1}, countOutcomes(outs))
		}
		require.Equal(t, "Alfreds", byLinkKey(t, b.erp, "c1").Fields["name"].Str)
		open, err := b.st.ListDeadLetters(b.ctx, nil)
		require.NoError(t, err)
		require.Empty(t, open, "the letter closed when the record synced")
		all, err := b.st.ListDeadLetters(b.ctx, &store.ListDeadLettersParams{IncludeClosed: true})
		require.NoError(t, err)
		require.Len(t, all, 1)
		require.Equal(t, "synced", all[0].Resolution)
	})

	t.Run("OverrideInTheRetry", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.erp.SetFailFunc(func(op connector.Op) error {
			if len(op.Fields["name"].Str) > 10 {
				return connector.Permanent("name", errors.New("name is longer than 10 characters"))
			}
			return nil
		})
		b.crm.Put(account("c1", "A name far too long", ""))
		b.run(t, "customers")
		dls, err := b.st.ListDeadLetters(b.ctx, nil)
		require.NoError(t, err)
		f, v, err := b.eng.ParseOverride("customers", "name=Short Co")
		require.NoError(t, err)
		_, _, err = b.eng.ParseOverride("customers", "credit_limit=5")
		require.ErrorContains(t, err, `does not move field "credit_limit"`)
		_, err = b.eng.RetryDeadLetters(b.ctx, dls, model.Fields{f: v})
		require.NoError(t, err)
		b.run(t, "customers")
		require.Equal(t, "Short Co", byLinkKey(t, b.erp, "c1").Fields["name"].Str)
		open, err := b.st.ListDeadLetters(b.ctx, nil)
		require.NoError(t, err)
		require.Empty(t, open)
	})

	t.Run("RetriedAutomaticallyWhenTheSystemIsBack", func(t *testing.T) {
		t.Parallel()
		var mu sync.Mutex
		clock := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
		advance := func(d time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			clock = clock.Add(d)
		}
		b := setupWith(t, func(p *engine.Params) {
			p.LetterRetry = engine.RetryPolicy{Backoff: time.Minute, MaxBackoff: time.Hour}
			p.Now = func() time.Time {
				mu.Lock()
				defer mu.Unlock()
				return clock
			}
		})
		down := true
		b.erp.SetFailFunc(func(connector.Op) error {
			if down {
				return errors.New("503 service unavailable")
			}
			return nil
		})
		b.crm.Put(account("c1", "Alfreds", ""))
		b.run(t, "customers") // three tries, then a letter
		dls, err := b.st.ListDeadLetters(b.ctx, nil)
		require.NoError(t, err)
		require.Len(t, dls, 1)
		require.True(t, dls[0].Retryable)
		require.Equal(t, 3, dls[0].Attempts)

		advance(59 * time.Second)
		res, err := b.eng.Tick(b.ctx)
		require.NoError(t, err)
		require.Zero(t, res.Retried, "not before its backoff")
		advance(time.Second)
		res, err = b.eng.Tick(b.ctx)
		require.NoError(t, err)
		require.Equal(t, 1, res.Retried)
		res, err = b.eng.Tick(b.ctx)
		require.NoError(t, err)
		require.Zero(t, res.Retried, "not again while its retry is queued")
		b.run(t, "customers") // still down: the same letter, more attempts
		dls, err = b.st.ListDeadLetters(b.ctx, nil)
		require.NoError(t, err)
		require.Len(t, dls, 1)
		require.Equal(t, 6, dls[0].Attempts)
		require.Equal(t, 1, dls[0].AutoRetries)

		down = false
		advance(time.Minute)
		res, err = b.eng.Tick(b.ctx)
		require.NoError(t, err)
		require.Zero(t, res.Retried, "the backoff doubled")
		advance(time.Minute)
		res, err = b.eng.Tick(b.ctx)
		require.NoError(t, err)
		require.Equal(t, 1, res.Retried)
		b.run(t, "customers")
		require.Equal(t, 1, b.erp.Count(model.Account))
		dls, err = b.st.ListDeadLetters(b.ctx, nil)
		require.NoError(t, err)
		require.Empty(t, dls)
	})
}

// TestEngine_Pieces: a long batch is recorded piece by piece; stopped (or
// killed) between pieces, what was recorded stays and the rest resumes.
func TestEngine_Pieces(t *testing.T) {
	t.Parallel()
	b := setupWith(t, func(p *engine.Params) { p.BatchSize = 500 })
	for i := range 200 {
		b.crm.Put(account(fmt.Sprintf("c%03d", i), fmt.Sprintf("Company %d", i), ""))
	}
	_, err := b.eng.Poll(b.ctx, "customers")
	require.NoError(t, err)
	batches := b.queue.take()
	require.Len(t, batches, 1)
	require.Len(t, batches[0].Records, 200)

	var rest engine.Batch
	checkpoints := 0
	opt := engine.ProcessOptions{
		Checkpoint: func(_ context.Context, _ store.Tx, r engine.Batch) error {
			checkpoints++
			rest = r
			return nil
		},
		Stop: func() bool { return true }, // shutting down
	}
	outs, err := b.eng.Process(b.ctx, batches[0], opt)
	require.ErrorIs(t, err, engine.ErrStopped)
	done := len(outs)
	require.Positive(t, done)
	require.Less(t, done, 200, "stopped after the first piece")
	require.Equal(t, 1, checkpoints)
	require.Len(t, rest.Records, 200-done)
	evs, err := b.st.ListEvents(b.ctx, &store.ListEventsParams{Limit: 1000})
	require.NoError(t, err)
	require.Len(t, evs, done, "the finished piece is recorded")

	// The next start runs the rest, and only the rest.
	outs, err = b.eng.Process(b.ctx, rest, engine.ProcessOptions{})
	require.NoError(t, err)
	require.Len(t, outs, 200-done)
	require.Equal(t, map[store.Outcome]int{store.OutcomeCreated: 200 - done}, countOutcomes(outs))
	require.Equal(t, 200, b.erp.Count(model.Account))
}

// TestEngine_StatusKeepsTransportErrorsInTheLog: a transient error's text
// (addresses, database names) goes to the event log, not onto the record the
// people in the source system see.
func TestEngine_StatusKeepsTransportErrorsInTheLog(t *testing.T) {
	t.Parallel()
	leg := dealLeg()
	leg.StatusField = "erp_sync_status"
	leg.Owners["erp_sync_status"] = "erp"
	accounts := forwardLeg()
	accounts.Trigger = engine.TriggerDealWon
	b := setup(t, accounts, leg)
	b.erp.SetFailFunc(func(op connector.Op) error {
		if op.Kind == connector.OpCreate && op.Fields["account"].Str != "" {
			return errors.New(`post "http://10.1.2.3:8000/tryton_prod/": connection reset by peer`)
		}
		return nil
	})
	b.crm.Put(account("c1", "Alfreds", ""))
	b.crm.Put(deal("d1", "Big deal", "won", "c1"))
	outs := b.run(t, "deals")
	require.Equal(t, 1, countOutcomes(outs)[store.OutcomeDead], "%+v", outs)
	got, err := b.crm.Get(b.ctx, model.Deal, []string{"d1"})
	require.NoError(t, err)
	status := got["d1"].Fields["erp_sync_status"].Str
	require.Contains(t, status, "erp did not answer")
	require.NotContains(t, status, "tryton_prod")
	require.NotContains(t, status, "10.1.2.3")
	evs, err := b.st.ListEvents(b.ctx, &store.ListEventsParams{Flow: "deals", Outcome: store.OutcomeDead})
	require.NoError(t, err)
	require.Len(t, evs, 1)
	require.Contains(t, evs[0].Error, "tryton_prod", "the event keeps the whole error")
}
