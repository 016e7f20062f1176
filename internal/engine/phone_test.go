package engine_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/store"
)

// TestEngine_PhoneCountry: a phone number typed in local format is read in the
// record's own country, else in the leg's default country; only a number that
// still cannot be read is quarantined.
func TestEngine_PhoneCountry(t *testing.T) {
	t.Parallel()
	leg := forwardLeg()
	leg.Fields = append(leg.Fields, "phone")
	leg.Defs = accountDefs("name", "email", "country", "phone")
	leg.Clean["phone"] = []string{"trim", "phone"}
	leg.DefaultCountry = "FR"
	leg.Owners = map[string]string{"phone": "crm"}
	for f, o := range owners {
		leg.Owners[f] = o
	}
	b := setup(t, leg)

	uk := account("uk", "Around the Horn", "")
	uk.Fields["country"], uk.Fields["phone"] = model.Text("UK"), model.Text("020 7946 0958")
	b.crm.Put(uk)
	noCountry := account("fr", "Bon app'", "")
	noCountry.Fields["country"], noCountry.Fields["phone"] = model.Null, model.Text("01 42 68 53 00")
	b.crm.Put(noCountry)
	intl := account("us", "Great Lakes", "")
	intl.Fields["phone"] = model.Text("+1 (503) 555-7555") // country Germany: the prefix wins
	b.crm.Put(intl)
	bad := account("bad", "Too Short", "")
	bad.Fields["country"], bad.Fields["phone"] = model.Text("GB"), model.Text("020 79") // too few digits
	b.crm.Put(bad)

	outs := b.run(t, "customers")
	require.Equal(t, map[store.Outcome]int{store.OutcomeCreated: 3, store.OutcomeQuarantined: 1}, countOutcomes(outs))
	require.Equal(t, "+442079460958", byLinkKey(t, b.erp, "uk").Fields["phone"].Str)
	require.Equal(t, "+33142685300", byLinkKey(t, b.erp, "fr").Fields["phone"].Str)
	require.Equal(t, "+15035557555", byLinkKey(t, b.erp, "us").Fields["phone"].Str)
	q, err := b.st.ListQuarantine(b.ctx, &store.ListQuarantineParams{Flow: "customers"})
	require.NoError(t, err)
	require.Len(t, q, 1)
	require.Equal(t, "phone", q[0].Field)
	require.Contains(t, q[0].Reason, "not a phone number of GB")
}
