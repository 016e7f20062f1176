package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/tryton/trytonrpc"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/sandbox/hubspot"
)

// TestIntegrationKillOrderHandoff runs the real binary over a few dozen won
// deals, each becoming a Tryton sale, kills it with SIGKILL at random points
// (while sales reps keep winning deals between runs), restarts it until a run
// completes, and requires every won deal to be exactly one confirmed Tryton
// sale: no duplicate sale, no lost deal. A run that ends on its own completes
// the loop whatever its exit code: a handoff interrupted between Tryton's
// create and Concord's record currently fails on the retry (see
// TestIntegrationKill_InterruptedHandoffIsAdopted), which this test logs
// but does not judge.
func TestIntegrationKillOrderHandoff(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	var items []string
	erp := []string{w.product("KIL-1", "Kill widget", "12.5"), w.product("KIL-2", "Kill gadget", "80"), w.product("KIL-3", "Kill service", "150")}
	w.syncOK()
	for _, e := range erp {
		items = append(items, w.crmProductOf(e).ID)
	}
	var companies []string
	for i := range 4 {
		companies = append(companies, w.company(fmt.Sprintf("Kill Co %d", i), "Austin", "US"))
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(seed, 2))
	var won []string
	newDeals := func(n int) {
		for range n {
			i := len(won)
			d, _ := w.deal(fmt.Sprintf("Kill deal %d", i), companies[i%len(companies)],
				lineSpec{items[rnd.IntN(len(items))], fmt.Sprint(1 + rnd.IntN(9)), "12.5", ""},
				lineSpec{items[rnd.IntN(len(items))], fmt.Sprint(1 + rnd.IntN(3)), "80", fmt.Sprint(rnd.IntN(20))})
			w.win(d)
			won = append(won, d)
		}
	}
	newDeals(20)

	kills, completed := 0, false
	for round := 0; round < 20 && !completed; round++ {
		if round > 0 && round <= 5 {
			newDeals(2) // sales keep winning deals between runs
		}
		cmd := exec.Command(concordBin, "sync", "--once", "--progress", "off", "--config", w.cfg)
		cmd.Dir = w.dir
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		require.NoError(t, cmd.Start())
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		delay := time.Duration(300+rnd.IntN(3000)) * time.Millisecond
		if round >= 12 {
			delay = time.Hour // enough kills: let it finish
		}
		select {
		case err := <-exited:
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				require.Equal(t, 1, exit.ExitCode(), "run %d: only 'changes failed' is an acceptable exit:\n%s", round, out.String())
				t.Logf("run %d completed with failed changes:\n%s", round, out.String())
			} else {
				require.NoError(t, err)
				t.Logf("run %d completed", round)
			}
			completed = true
		case <-time.After(delay):
			require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
			<-exited
			kills++
			n, err := w.rpc().SearchCount(context.Background(), "sale.sale", trytonrpc.Domain{}, nil)
			require.NoError(t, err)
			t.Logf("run %d killed after %s; %d sales so far", round, delay, n)
		}
	}
	require.True(t, completed, "a run completed")
	require.Positive(t, kills, "no run was killed: the test proved nothing")
	t.Logf("killed %d runs; %d won deals", kills, len(won))
	if out, code := w.sync(); code != 0 { // and a last one
		t.Logf("last run exit %d: %s", code, out)
		for _, dl := range w.deadLetters() {
			t.Logf("dead letter %d %s %s: %s", dl.ID, dl.Flow, dl.ExternalID, dl.Reason)
		}
	}

	all := w.sales("")
	byRef := map[string][]sale{}
	for _, s := range all {
		byRef[s.Reference] = append(byRef[s.Reference], s)
	}
	for _, d := range won {
		require.Len(t, byRef[d], 1, "deal %s is exactly one Tryton sale", d)
		// A kill between a sale's create and its quote/confirm leaves a draft;
		// the retry adopts it and finishes the workflow.
		s := byRef[d][0]
		require.Equal(t, "processing", s.State, "deal %s: sale %d confirmed", d, s.ID)
		require.Len(t, s.Invoices, 1, "deal %s: sale %d invoiced", d, s.ID)
	}
	require.Len(t, all, len(won), "no other sale")
}

// TestIntegrationKill_InterruptedHandoffIsAdopted reproduces, without
// randomness, the window the kill test falls into: the process dies after
// Tryton created and confirmed the sale of a won deal and before Concord
// recorded it. The next run must find the sale by its reference (the deal
// id) and adopt it: no second sale, the deal linked and marked synced, and
// the invoice's status reaching the deal.
//
// The adopted sale is compared the way the connector writes it (the discount
// folded into the unit price), so the retry finds nothing to change and links it.
func TestIntegrationKill_InterruptedHandoffIsAdopted(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	erpID := w.product("ADO-1", "Adopted gadget", "80")
	w.syncOK()
	item := w.crmProductOf(erpID).ID
	company := w.company("Adopt Inc", "Austin", "US")
	first, _ := w.deal("First deal", company, lineSpec{item, "1", "80", ""})
	w.win(first)
	w.syncOK() // the customer is in Tryton now, through a normal handoff
	party, err := w.erp.Lookup(ctx, model.Account, []string{company})
	require.NoError(t, err)
	require.Contains(t, party, company, "the customer is in Tryton")

	deal, _ := w.deal("Interrupted deal", company, lineSpec{item, "2", "80", "7"}, lineSpec{item, "1", "80", ""})
	// What the interrupted attempt wrote: the sale, quoted and confirmed, with the deal's lines.
	line := func(qty, disc string) model.Record {
		f := model.Fields{"product": model.Ref(model.Product, erpID), "quantity": model.Decimal(decimal.RequireFromString(qty)),
			"unit_price": model.Money(decimal.NewFromInt(80), "USD")}
		if disc != "" {
			f["discount"] = model.Decimal(decimal.RequireFromString(disc))
		}
		return model.Record{Entity: model.OrderLine, Fields: f}
	}
	res, err := w.erp.Write(ctx, model.Order, []connector.Op{{Kind: connector.OpCreate, LinkKey: deal, Fields: model.Fields{
		"account": model.Ref(model.Account, party[company].ID), "lines": model.Lines([]model.Record{line("2", "0.07"), line("1", "")}),
	}}})
	require.NoError(t, err)
	require.NoError(t, res[0].Err)
	w.win(deal)
	s := w.oneSale(deal)

	w.sync()
	w.sync()
	require.Len(t, w.sales(deal), 1, "no second sale")
	evs := w.events("--flow", "orders", "--source-id", deal)
	require.NotEmpty(t, evs)
	require.NotContains(t, []string{"failed", "dead", "retrying"}, evs[0].Outcome, "the retry adopts the sale: %s", evs[0].Error)
	require.Equal(t, itoa(s.ID), evs[0].TargetID)
	require.Contains(t, prop(w.get(hubspot.Deals, deal), "erp_sync_status"), fmt.Sprintf("synced to erp order %d", s.ID))
	require.Equal(t, "draft", prop(w.get(hubspot.Deals, deal), "erp_invoice_state"), "the invoice reaches the deal")
}
