package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestIntegrationKillOrderHandoff runs the real binary over a few dozen won
// deals, each becoming a Tryton sale, kills it with SIGKILL at random points
// (while sales reps keep winning deals between runs), restarts it until a run
// completes, and requires every won deal to be exactly one confirmed Tryton
// sale: no duplicate sale, no lost deal.
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
				require.Failf(t, "run failed", "run %d exit %d:\n%s", round, exit.ExitCode(), out.String())
			}
			require.NoError(t, err)
			completed = true
			t.Logf("run %d completed", round)
		case <-time.After(delay):
			require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
			<-exited
			kills++
			t.Logf("run %d killed after %s; %d sales so far", round, delay, len(w.sales("")))
		}
	}
	require.True(t, completed, "a run completed")
	require.Positive(t, kills, "no run was killed: the test proved nothing")
	t.Logf("killed %d runs; %d won deals", kills, len(won))
	w.syncOK() // and a last one finds nothing left to do

	all := w.sales("")
	byRef := map[string][]sale{}
	for _, s := range all {
		byRef[s.Reference] = append(byRef[s.Reference], s)
	}
	for _, d := range won {
		require.Len(t, byRef[d], 1, "deal %s is exactly one Tryton sale", d)
		require.Equal(t, "processing", byRef[d][0].State, "deal %s: confirmed and invoiced", d)
		require.Len(t, byRef[d][0].Invoices, 1, "deal %s: one invoice", d)
		require.Len(t, byRef[d][0].Lines, 2, "deal %s: both lines", d)
	}
	require.Len(t, all, len(won), "no other sale")
	dead := w.deadLetters()
	require.Empty(t, dead, "nothing dead-lettered")
}
