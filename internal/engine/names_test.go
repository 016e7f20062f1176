package engine_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/engine"
)

func TestFlowOf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ leg, flow, direction string }{
		{"customers", "customers", "forward"},
		{"customers:reverse", "customers", "reverse"},
		{"a:b", "a:b", "forward"},
		{"", "", "forward"},
	} {
		f, d := engine.FlowOf(tc.leg)
		require.Equal(t, tc.flow, f, tc.leg)
		require.Equal(t, tc.direction, d, tc.leg)
	}
}
