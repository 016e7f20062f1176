package engine

import (
	"encoding/json"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/match"
	"github.com/concord-sync/concord/internal/model"
)

// TestPlanJSON pins the hand-written plan encoding to encoding/json's.
func TestPlanJSON(t *testing.T) {
	t.Parallel()
	for _, p := range []*RecordPlan{
		{Action: ActionNone},
		{Action: ActionCreate, Changes: []Change{{Field: "name", To: model.Text("Alfreds \"Futterkiste\"")}}},
		{Action: ActionUpdate, Adopted: true, Changes: []Change{
			{Field: "credit_limit", From: model.Money(decimal.RequireFromString("10"), "EUR"), To: model.Money(decimal.RequireFromString("12.5"), "EUR")},
			{Field: "city", From: model.Text("Berlin"), To: model.Null},
		}},
		{Action: ActionUpdate, Adopted: true, Match: &match.Candidate{ID: "E1", Score: 0.97, Key: "vat", Fields: []match.FieldScore{{Field: "vat", A: "DE 1", B: "DE1", Score: 1}}}},
	} {
		want, err := json.Marshal(struct {
			Action  Action           `json:"action"`
			Adopted bool             `json:"adopted,omitempty"`
			Match   *match.Candidate `json:"match,omitempty"`
			Changes []Change         `json:"changes,omitempty"`
		}{p.Action, p.Adopted, p.Match, p.Changes})
		require.NoError(t, err)
		require.JSONEq(t, string(want), string(planJSON(p)))
	}
}

// TestResponseJSON pins the hand-written encoding of the target's answer to
// encoding/json's, escapes included.
func TestResponseJSON(t *testing.T) {
	t.Parallel()
	require.Nil(t, responseJSON(response{}))
	for _, r := range []response{{ID: "42"}, {ID: "42", Version: "7"}, {Error: "refused: \"name\" <blank>\n"}, {Version: "v"}, {ID: "é", Version: "1", Error: "x"}} {
		want, err := json.Marshal(r)
		require.NoError(t, err)
		require.Equal(t, string(want), string(responseJSON(r)))
	}
}

// TestBatch_MarshalJSON round-trips a batch through the hand-written encoder.
func TestBatch_MarshalJSON(t *testing.T) {
	t.Parallel()
	in := Batch{Leg: "orders:reverse", Attempt: 3, Force: true, ReplayOf: 42, Live: true, Pull: true, Resync: true, Fetch: []string{"a", "b\"c"},
		Records: []model.Record{{Entity: model.Deal, ID: "d1", LinkKey: "E9", Fields: model.Fields{"name": model.Text("x"), "amount": model.Money(decimal.RequireFromString("1.5"), "USD")}}}}
	b, err := json.Marshal(in)
	require.NoError(t, err)
	var out Batch
	require.NoError(t, json.Unmarshal(b, &out))
	require.Equal(t, in.Leg, out.Leg)
	require.Equal(t, in.Attempt, out.Attempt)
	require.Equal(t, in.Fetch, out.Fetch)
	require.True(t, out.Force && out.Live && out.Pull && out.Resync)
	require.Equal(t, in.ReplayOf, out.ReplayOf)
	require.Len(t, out.Records, 1)
	require.True(t, in.Records[0].Fields.Equal(out.Records[0].Fields))
	require.Equal(t, "E9", out.Records[0].LinkKey)

	var empty Batch
	b, err = json.Marshal(Batch{Leg: "x", Attempt: 1})
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &empty))
	require.Equal(t, "x", empty.Leg)
}
