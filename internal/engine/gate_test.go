package engine_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/store"
)

// countingGate counts the write slots asked for per system, and checks
// each is given back.
type countingGate struct {
	mu      sync.Mutex
	entered map[string]int
	inside  int
}

func (g *countingGate) Enter(_ context.Context, system string) (func(), error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.entered[system]++
	g.inside++
	return func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		g.inside--
	}, nil
}

// TestEngine_WritesThroughTheGate: every batch written into a system goes
// through the gate (max_concurrency across nodes, internal/gate), and the
// slot is given back after the write.
func TestEngine_WritesThroughTheGate(t *testing.T) {
	t.Parallel()
	g := &countingGate{entered: map[string]int{}}
	b := setupWith(t, func(p *engine.Params) { p.Gate = g })
	for i := range 120 {
		b.crm.Put(account(fmt.Sprintf("c%d", i), fmt.Sprintf("Company %d", i), fmt.Sprintf("buyer%d@example.com", i)))
	}
	outs := b.run(t, "customers")
	require.Equal(t, 120, countOutcomes(outs)[store.OutcomeCreated])
	g.mu.Lock()
	defer g.mu.Unlock()
	require.Len(t, g.entered, 1, "only the ERP is written: %v", g.entered)
	require.GreaterOrEqual(t, g.entered["erp"], 3, "120 records in batches of 50: every write into the ERP asks for a slot")
	require.Zero(t, g.inside, "every slot given back")
}
