package model_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/model"
)

func sample() model.Record {
	return model.Record{
		Entity: model.Deal, ID: "d-1", Version: "v\"7", UpdatedAt: time.Date(2026, 3, 4, 5, 6, 7, 891000000, time.UTC),
		LinkKey: "erp<42>&", Archived: true,
		Fields: model.Fields{
			"name":       model.Text("Quote \"A\" \\ tab\t nl\n \x01 é 中 \u2028 bad:\xff"),
			"amount":     model.Money(decimal.RequireFromString("1234567.8901"), "eur"),
			"discount":   model.Decimal(decimal.RequireFromString("0.10")),
			"close_date": model.Date(time.Date(2026, 5, 1, 13, 0, 0, 0, time.UTC)),
			"seen":       model.Time(time.Date(2026, 5, 1, 13, 0, 0, 5, time.UTC)),
			"overdue":    model.Bool(true),
			"paid":       model.Bool(false),
			"account":    model.Ref(model.Account, "c1"),
			"empty":      model.Null,
			"lines": model.Lines([]model.Record{{Entity: model.OrderLine, ID: "l1", Fields: model.Fields{
				"quantity": model.Decimal(decimal.NewFromInt(3)), "product": model.Ref(model.Product, "p9")}}}),
		},
	}
}

// TestRecord_MarshalJSON pins the hand-written encoder to encoding/json's output
// and checks the round trip.
func TestRecord_MarshalJSON(t *testing.T) {
	t.Parallel()
	rec := sample()
	got, err := json.Marshal(rec)
	require.NoError(t, err)
	require.True(t, json.Valid(got), "%s", got)

	// encoding/json's view of the same document, re-encoded, must be identical.
	var generic any
	require.NoError(t, json.Unmarshal(got, &generic))
	want, err := json.Marshal(generic)
	require.NoError(t, err)
	var regot any
	require.NoError(t, json.Unmarshal(want, &regot))
	require.Equal(t, generic, regot)

	var back model.Record
	require.NoError(t, json.Unmarshal(got, &back))
	require.Equal(t, rec.ID, back.ID)
	require.Equal(t, rec.LinkKey, back.LinkKey)
	require.True(t, rec.UpdatedAt.Equal(back.UpdatedAt))
	name := back.Fields["name"]
	back.Fields["name"] = rec.Fields["name"] // invalid UTF-8 comes back as U+FFFD, checked below
	require.True(t, rec.Fields.Equal(back.Fields), "round trip: %s", got)
	back.Fields["name"] = name
	require.Equal(t, "1234567.8901 EUR", back.Fields["amount"].String())
	require.Equal(t, "Quote \"A\" \\ tab\t nl\n \x01 é 中 \u2028 bad:\ufffd", back.Fields["name"].Str)
}

func FuzzValueJSON(f *testing.F) {
	f.Add("hello", "12.5", true)
	f.Add("\xff\u2028<>&\"", "-0.0001", false)
	f.Fuzz(func(t *testing.T, s, num string, flag bool) {
		d, err := decimal.NewFromString(num)
		if err != nil {
			d = decimal.Zero
		}
		f := model.Fields{"s": model.Text(s), "n": model.Money(d, "usd"), "b": model.Bool(flag)}
		b, err := json.Marshal(f)
		require.NoError(t, err)
		require.True(t, json.Valid(b), "%q", b)
		var back model.Fields
		require.NoError(t, json.Unmarshal(b, &back))
		require.True(t, back["n"].Equal(f["n"]))
		require.Equal(t, f["b"].Bool, back["b"].Bool)
	})
}
