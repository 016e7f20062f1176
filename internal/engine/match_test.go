package engine_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/match"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/store"
)

// company is an account with an address.
func company(id, name, street, zip, city, country, phone, vat string) model.Record {
	f := model.Fields{"name": model.Text(name), "street": model.Text(street), "zip": model.Text(zip), "city": model.Text(city), "country": model.Text(country), "phone": model.Text(phone)}
	if vat != "" {
		f["vat"] = model.Text(vat)
	}
	return model.Record{Entity: model.Account, ID: id, Fields: f}
}

func matchLeg(rules match.Rules) engine.Leg {
	l := forwardLeg()
	l.Unlinked, l.Match = engine.UnlinkedMatch, rules
	return l
}

func defaultAccountRules() match.Rules {
	r, _ := match.DefaultRules(model.Account)
	return r
}

// pairOf returns the target id linked to a source record, or "".
func (b *testBundle) pairOf(t *testing.T, crmID string) string {
	t.Helper()
	src, err := b.st.GetLinks(b.ctx, &store.GetLinksParams{System: "crm", Entity: model.Account, ExternalIDs: []string{crmID}})
	require.NoError(t, err)
	lk, ok := src[crmID]
	if !ok {
		return ""
	}
	tgt, err := b.st.GetLinksByConcordID(b.ctx, &store.GetLinksByConcordIDParams{System: "erp", Entity: model.Account, ConcordIDs: []string{lk.ConcordID}})
	require.NoError(t, err)
	return tgt[lk.ConcordID].ExternalID
}

func TestEngine_Match(t *testing.T) {
	t.Parallel()

	// A first sync between two systems that share 70% of their customers,
	// typed differently on each side, creates none of the shared ones again.
	t.Run("FirstSyncNoDuplicates", func(t *testing.T) {
		t.Parallel()
		b := setup(t, matchLeg(defaultAccountRules()))
		type pair struct{ erp, crm model.Record }
		shared := []pair{
			{company("", "Alfreds Futterkiste", "Obere Str. 57", "12209", "Berlin", "DE", "+49 30 0074321", "DE811234567"),
				company("c01", "Alfreds Futterkiste GmbH", "Obere Strasse 57", "12209", "Berlin", "Germany", "030 0074321", "DE 811 234 567")},
			{company("", "Ernst Handel", "Kirchgasse 6", "8010", "Graz", "AT", "+43 7675 3425", ""),
				company("c02", "ERNST HANDEL", "Kirchgasse 6", "8010", "Graz", "Austria", "+43 7675 3425", "")},
			{company("", "Blondel père et fils", "24, place Kléber", "67000", "Strasbourg", "FR", "+33 88 60 15 31", ""),
				company("c03", "Blondel pere et fils", "24 place Kleber", "67000", "Strasbourg", "France", "+33 88601531", "")},
			{company("", "Königlich Essen", "Maubelstr. 90", "14776", "Brandenburg", "DE", "+49 555 09876", ""),
				company("c04", "Koniglich Essen", "Maubelstr. 90", "14776", "Brandenburg", "Germany", "0555 09876", "")},
			{company("", "Around the Horn", "120 Hanover Sq.", "WA1 1DP", "London", "GB", "+44 171 555 7788", "GB123456789"),
				company("c05", "Around The Horn Ltd", "120 Hanover Square", "WA1 1DP", "London", "United Kingdom", "(171) 555-7788", "GB 123 456 789")},
			{company("", "Frankenversand", "Berliner Platz 43", "80805", "München", "DE", "+49 89 0877310", ""),
				company("c06", "Frankenversand", "Berliner Platz 43", "80805", "Muenchen", "Germany", "+49 89 0877310", "")},
			{company("", "Lehmanns Marktstand", "Magazinweg 7", "60528", "Frankfurt a.M.", "DE", "+49 69 0245984", "DE998877665"),
				company("c07", "Lehmanns Marktstand KG", "Magazinweg 7", "60528", "Frankfurt", "Germany", "069-0245984", "DE998877665")},
			{company("", "Ottilies Käseladen", "Mehrheimerstr. 369", "50739", "Köln", "DE", "+49 221 0644327", ""),
				company("c08", "OTTILIES KÄSELADEN", "Mehrheimerstr. 369", "50739", "Köln", "Germany", "+49 221 0644327", "")},
			{company("", "Seven Seas Imports", "90 Wadhurst Rd.", "OX15 4NB", "London", "GB", "+44 171 555 1717", ""),
				company("c09", "Seven Seas Imports", "90 Wadhurst Rd.", "OX15 4NB", "London", "United Kingdom", "+44 171 555 1717", "")},
			{company("", "Wartian Herkku", "Torikatu 38", "90110", "Oulu", "FI", "+358 981 443655", "FI12345678"),
				company("c10", "Wartian Herkku Oy", "Torikatu 38", "90110", "Oulu", "Finland", "981-443655", "FI 1234 5678")},
			{company("", "Bottom-Dollar Markets", "23 Tsawassen Blvd.", "T2F 8M4", "Tsawassen", "CA", "+1 604 555 4729", ""),
				company("c11", "Bottom Dollar Markets", "23 Tsawassen Blvd.", "T2F 8M4", "Tsawassen", "Canada", "+1 604 555 4729", "")},
			{company("", "Hungry Owl All-Night Grocers", "8 Johnstown Road", "", "Cork", "IE", "+353 2967 542", "IE6388047V"),
				company("c12", "Hungry Owl All Night Grocers Ltd.", "8 Johnstown Rd", "", "Cork", "Ireland", "2967 542", "IE 6388047 V")},
			{company("", "Folk och fä HB", "Åkergatan 24", "S-844 67", "Bräcke", "SE", "+46 695 34 67 21", ""),
				company("c13", "Folk och fa HB", "Akergatan 24", "S-844 67", "Bracke", "Sweden", "+46 695 34 67 21", "")},
			{company("", "Santé Gourmet", "Erling Skakkes gate 78", "4110", "Stavern", "NO", "+47 07 98 3259", ""),
				company("c14", "Sante Gourmet", "Erling Skakkes gate 78", "4110", "Stavern", "Norway", "+47 07 98 3259", "")},
		}
		only := []model.Record{
			company("", "Island Trading", "Garden House Crowther Way", "PO31 7PJ", "Cowes", "GB", "+44 1983 555 2222", ""),
			company("", "Vaffeljernet", "Smagsløget 45", "8200", "Århus", "DK", "+45 8612 3456", ""),
			company("", "Rattlesnake Canyon Grocery", "2817 Milton Dr.", "87110", "Albuquerque", "US", "+1 505 555 5939", ""),
		}
		newOnes := []model.Record{
			company("c15", "Nordlicht Feinkost GmbH", "Hafenstrasse 3", "20457", "Hamburg", "Germany", "+49 40 3344556", "DE300400500"),
			company("c16", "Bäckerei Sonnenschein", "Lindenallee 12", "04109", "Leipzig", "Germany", "+49 341 998877", ""),
			company("c17", "Atlantic Seafood Ltd", "5 Harbour Road", "BT1 3AA", "Belfast", "United Kingdom", "+44 28 9012 3456", ""),
			company("c18", "Pâtisserie Lumière", "3 rue de la Paix", "75002", "Paris", "France", "+33 1 42 60 11 22", ""),
			company("c19", "Vinos del Sur SL", "Calle Mayor 8", "41001", "Sevilla", "Spain", "+34 954 112233", ""),
			company("c20", "Alpine Outfitters AG", "Bahnhofstrasse 21", "8001", "Zürich", "Switzerland", "+41 44 221 3344", ""),
		}
		erpIDs := map[string]string{}
		for _, p := range shared {
			erpIDs[p.crm.ID] = b.erp.Put(p.erp).ID
		}
		for _, r := range only {
			b.erp.Put(r)
		}
		for _, p := range shared {
			b.crm.Put(p.crm)
		}
		for _, r := range newOnes {
			b.crm.Put(r)
		}
		erpBefore := b.erp.Count(model.Account)

		outs := b.run(t, "customers")
		got := countOutcomes(outs)
		require.Equal(t, len(newOnes), got[store.OutcomeCreated], "only the new customers are created: %v", got)
		require.Equal(t, erpBefore+len(newOnes), b.erp.Count(model.Account), "no duplicate of a shared customer")
		require.Zero(t, got[store.OutcomeReview], "every shared customer is linked without review: %v", got)
		for _, p := range shared {
			require.Equal(t, erpIDs[p.crm.ID], b.pairOf(t, p.crm.ID), "%s is linked to its ERP counterpart", p.crm.Fields["name"].Str)
		}
		// The adopted record now carries the CRM's values; its event says why.
		rec, err := b.erp.Get(b.ctx, model.Account, []string{erpIDs["c01"]})
		require.NoError(t, err)
		require.Equal(t, "Alfreds Futterkiste GmbH", rec[erpIDs["c01"]].Fields["name"].Str)
		evs, err := b.st.ListEvents(b.ctx, &store.ListEventsParams{Flow: "customers", SourceID: "c01"})
		require.NoError(t, err)
		require.Len(t, evs, 1)
		var plan struct {
			Adopted bool             `json:"adopted"`
			Match   *match.Candidate `json:"match"`
		}
		require.NoError(t, json.Unmarshal(evs[0].Plan, &plan))
		require.True(t, plan.Adopted)
		require.NotNil(t, plan.Match)
		require.Equal(t, "vat", plan.Match.Key, "c01 shares a VAT id with its ERP record")

		// Nothing new: a second pass writes nothing.
		require.Empty(t, b.run(t, "customers"))
	})

	// An in-between pair waits for a person: nothing is written, a review row
	// holds the pair; accepting links the two and updates the target; rejecting
	// creates the record.
	t.Run("ReviewAcceptReject", func(t *testing.T) {
		t.Parallel()
		rules := match.Rules{Fields: []string{"name", "city"}, AutoLink: 0.99, Review: 0.3}
		b := setup(t, matchLeg(rules))
		e1 := b.erp.Put(company("", "Müller Maschinenbau", "Hauptstr. 1", "70173", "Stuttgart", "DE", "", "")).ID
		e2 := b.erp.Put(company("", "Schmidt Logistik", "Ring 2", "28195", "Bremen", "DE", "", "")).ID
		b.crm.Put(company("c1", "Müller Maschinenbau", "Nebenweg 9", "80331", "München", "Germany", "", ""))
		b.crm.Put(company("c2", "Schmidt Logistik", "Allee 5", "10115", "Berlin", "Germany", "", ""))

		outs := b.run(t, "customers")
		require.Equal(t, map[store.Outcome]int{store.OutcomeReview: 2}, countOutcomes(outs))
		require.Equal(t, 2, b.erp.Count(model.Account), "nothing written")
		for _, o := range outs {
			require.Contains(t, o.Reason, "possibly the same as erp account")
		}
		reviews, err := b.st.ListReviews(b.ctx, &store.ListReviewsParams{Flow: "customers"})
		require.NoError(t, err)
		require.Len(t, reviews, 2)
		byRec := map[string]store.Review{}
		for _, r := range reviews {
			byRec[r.ExternalID] = r
		}
		require.Equal(t, e1, byRec["c1"].TargetID)
		require.Equal(t, e2, byRec["c2"].TargetID)
		require.Greater(t, byRec["c1"].Score, 0.3)
		require.Less(t, byRec["c1"].Score, 0.99)
		require.NotEmpty(t, byRec["c1"].Fields)
		require.Contains(t, string(byRec["c1"].Target), "Stuttgart", "the target side is kept for the side-by-side view")
		n, err := b.st.CountReviews(b.ctx, "")
		require.NoError(t, err)
		require.Equal(t, 2, n)

		// A record with a pending review is not matched again.
		rec := b.crm.All(model.Account)[0]
		require.Equal(t, "c1", rec.ID)
		rec.Fields["email"] = model.Text("info@mueller.example")
		b.crm.Put(rec)
		outs = b.run(t, "customers")
		require.Equal(t, map[store.Outcome]int{store.OutcomeReview: 1}, countOutcomes(outs))
		reviews, err = b.st.ListReviews(b.ctx, &store.ListReviewsParams{})
		require.NoError(t, err)
		require.Len(t, reviews, 2, "no second review for the same record")

		// Accept c1: linked, then updated from the CRM.
		k, err := b.eng.AcceptReviews(b.ctx, []int64{byRec["c1"].ID})
		require.NoError(t, err)
		require.Equal(t, 1, k)
		require.Equal(t, e1, b.pairOf(t, "c1"))
		outs = b.drain(t)
		require.Equal(t, map[store.Outcome]int{store.OutcomeUpdated: 1}, countOutcomes(outs))
		got, err := b.erp.Get(b.ctx, model.Account, []string{e1})
		require.NoError(t, err)
		require.Equal(t, "info@mueller.example", got[e1].Fields["email"].Str)
		require.Equal(t, 2, b.erp.Count(model.Account))

		// Reject c2: created, and the rejected pair is never offered again.
		k, err = b.eng.RejectReviews(b.ctx, []int64{byRec["c2"].ID})
		require.NoError(t, err)
		require.Equal(t, 1, k)
		outs = b.drain(t)
		require.Equal(t, map[store.Outcome]int{store.OutcomeCreated: 1}, countOutcomes(outs))
		require.Equal(t, 3, b.erp.Count(model.Account))
		require.NotEqual(t, e2, b.pairOf(t, "c2"))

		// Deciding again is refused, and nothing is pending.
		_, err = b.eng.AcceptReviews(b.ctx, []int64{byRec["c2"].ID, 999})
		require.ErrorIs(t, err, engine.ErrReviewDecided)
		require.ErrorContains(t, err, "no review 999")
		n, err = b.st.CountReviews(b.ctx, "")
		require.NoError(t, err)
		require.Zero(t, n)
	})

	// A target record already linked to another record of the source is never
	// offered, not even to an identical record.
	t.Run("LinkedElsewhereNeverOffered", func(t *testing.T) {
		t.Parallel()
		b := setup(t, matchLeg(defaultAccountRules()))
		b.crm.Put(company("c1", "Alfreds Futterkiste", "Obere Str. 57", "12209", "Berlin", "Germany", "+49 30 0074321", "DE811234567"))
		require.Equal(t, map[store.Outcome]int{store.OutcomeCreated: 1}, countOutcomes(b.run(t, "customers")))
		first := b.pairOf(t, "c1")
		require.NotEmpty(t, first)

		// A duplicate in the CRM, identical to c1 and to its ERP record.
		b.crm.Put(company("c2", "Alfreds Futterkiste", "Obere Str. 57", "12209", "Berlin", "Germany", "+49 30 0074321", "DE811234567"))
		outs := b.run(t, "customers")
		require.Equal(t, map[store.Outcome]int{store.OutcomeCreated: 1}, countOutcomes(outs))
		require.NotEqual(t, first, b.pairOf(t, "c2"))
		require.Equal(t, first, b.pairOf(t, "c1"))
		require.Equal(t, 2, b.erp.Count(model.Account))

		// Two identical new records in one batch: one ERP record each.
		b.erp.Put(company("", "Ernst Handel", "Kirchgasse 6", "8010", "Graz", "AT", "+43 7675 3425", "ATU12345678"))
		b.crm.Put(company("c3", "Ernst Handel", "Kirchgasse 6", "8010", "Graz", "Austria", "+43 7675 3425", "ATU12345678"))
		b.crm.Put(company("c4", "Ernst Handel", "Kirchgasse 6", "8010", "Graz", "Austria", "+43 7675 3425", "ATU12345678"))
		outs = b.run(t, "customers")
		require.Equal(t, 1, countOutcomes(outs)[store.OutcomeCreated], "one adopted, the other created")
		require.NotEqual(t, b.pairOf(t, "c3"), b.pairOf(t, "c4"))
	})

	// update_only creates nothing, dead-letters nothing, and does not plan the
	// same unlinked record again until it changes.
	t.Run("UpdateOnly", func(t *testing.T) {
		t.Parallel()
		l := forwardLeg()
		l.Unlinked = engine.UnlinkedUpdateOnly
		b := setup(t, l)
		for i := range 5 {
			b.crm.Put(account(fmt.Sprintf("c%d", i), fmt.Sprintf("Company %d", i), ""))
		}
		outs := b.run(t, "customers")
		require.Equal(t, map[store.Outcome]int{store.OutcomeNotCreated: 5}, countOutcomes(outs))
		require.Contains(t, outs[0].Reason, "unlinked: update_only")
		require.Zero(t, b.erp.Count(model.Account))
		letters, err := b.st.ListDeadLetters(b.ctx, nil)
		require.NoError(t, err)
		require.Empty(t, letters)
		require.Empty(t, b.queue.take(), "no retry")

		// Read again unchanged (an overlap re-read): skipped.
		recs := b.crm.All(model.Account)
		outs, err = b.eng.Process(b.ctx, engine.Batch{Leg: "customers", Records: recs, Attempt: 1}, engine.ProcessOptions{})
		require.NoError(t, err)
		require.Equal(t, map[store.Outcome]int{"": 5}, countOutcomes(outs), "skipped")

		// A linked record is updated.
		id := b.erp.Put(model.Record{Entity: model.Account, Fields: model.Fields{"name": model.Text("old")}}).ID
		require.NoError(t, b.st.PutLinks(b.ctx, &store.PutLinksParams{Links: []store.Link{
			{Entity: model.Account, ConcordID: "cid-1", System: "crm", ExternalID: "c1"},
			{Entity: model.Account, ConcordID: "cid-1", System: "erp", ExternalID: id},
		}}))
		rec := recs[1]
		rec.Fields["name"] = model.Text("Company 1 renamed")
		b.crm.Put(rec)
		outs = b.run(t, "customers")
		require.Equal(t, map[store.Outcome]int{store.OutcomeUpdated: 1}, countOutcomes(outs))
		require.Equal(t, 1, b.erp.Count(model.Account))
	})

	t.Run("ErrRules", func(t *testing.T) {
		t.Parallel()
		for _, rules := range []match.Rules{{}, {Fields: []string{"name"}, AutoLink: 0.5, Review: 0.8}, {Keys: []string{"vat"}, AutoLink: 1.2, Review: 0.8}} {
			_, err := engine.New(engine.Params{Store: openStore(t), Queue: &captureQueue{}, Legs: []engine.Leg{matchLeg(rules)}})
			require.Error(t, err)
		}
	})
}

// drain processes every queued batch until the queue is empty.
func (b *testBundle) drain(t *testing.T) []engine.Outcome {
	t.Helper()
	var outs []engine.Outcome
	for batches := b.queue.take(); len(batches) > 0; batches = b.queue.take() {
		for _, batch := range batches {
			o, err := b.eng.Process(b.ctx, batch, engine.ProcessOptions{})
			require.NoError(t, err)
			outs = append(outs, o...)
		}
	}
	return outs
}
