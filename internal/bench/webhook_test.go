package bench_test

import (
	"context"
	"io"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/bench"
)

// TestScenario_Webhook runs the webhook scenario small (200 deliveries at
// 500/s): both figures, each next to its baseline, every delivery answered
// and every announced company applied after the drain.
func TestScenario_Webhook(t *testing.T) {
	t.Parallel()
	s, ok := bench.Lookup("webhook")
	require.True(t, ok)
	figs, err := s.Run(context.Background(), bench.Env{Records: 200, Stores: []string{"sqlite"}, Dir: t.TempDir(), Progress: io.Discard})
	require.NoError(t, err)
	require.Len(t, figs, 2)
	require.Equal(t, "ms p99", figs[0].Unit)
	require.Positive(t, figs[0].Value)
	require.Positive(t, figs[0].Baseline)
	require.Equal(t, "jobs", figs[1].Unit)
	require.Equal(t, 100.0, figs[1].Baseline, "100 distinct companies")

	_, err = s.Run(context.Background(), bench.Env{Records: 10, Stores: []string{"postgres"}, Dir: t.TempDir(), Progress: io.Discard})
	require.ErrorIs(t, err, bench.ErrMissing)
}

// TestRunWebhook checks the run itself on each store: no delivery refused,
// the receiver counted them all, and the queue brought every announced
// company to the target.
func TestRunWebhook(t *testing.T) {
	t.Parallel()
	stores := []string{"sqlite"}
	if os.Getenv("TEST_DATABASE_URL") != "" {
		stores = append(stores, "postgres")
	}
	for _, s := range stores {
		t.Run(s, func(t *testing.T) {
			t.Parallel()
			r, err := bench.RunWebhook(context.Background(), bench.WebhookParams{Store: s, DSN: os.Getenv("TEST_DATABASE_URL"), Dir: t.TempDir(),
				Rate: 200, Duration: time.Second, Records: 30})
			require.NoError(t, err)
			require.Equal(t, 200, r.Concord.Sent)
			require.Zero(t, r.Concord.Errors, "%v", r.Concord.ErrorKinds)
			require.Zero(t, r.Minimal.Errors, "%v", r.Minimal.ErrorKinds)
			require.Equal(t, int64(205), r.Receiver.Deliveries, "200 and the 5 warm-up deliveries")
			require.Equal(t, int64(205), r.Receiver.Events)
			require.Equal(t, 30, r.Applied, "every announced company reached the target")
			require.LessOrEqual(t, r.JobsPending, 30)
			require.Positive(t, r.Concord.P99)
		})
	}
}
