package match

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/model"
)

func TestIndex_Candidates(t *testing.T) {
	t.Parallel()
	rules, _ := DefaultRules(model.Account)

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		ix := NewIndex(rules)
		ix.Add(acct("ALFKI", "name", "Alfreds Futterkiste", "street", "Obere Str. 57", "city", "Berlin", "zip", "12209", "country", "Germany", "phone", "030-0074321"))
		ix.Add(acct("ANATR", "name", "Ana Trujillo Emparedados y helados", "street", "Avda. de la Constitución 2222", "city", "México D.F.", "zip", "05021", "country", "Mexico"))
		got := ix.Candidates(acct("c1", "name", "ALFREDS FUTTERKISTE GMBH", "street", "Obere Straße 57", "city", "Berlin", "country", "DE"), 5, nil)
		require.Len(t, got, 1)
		require.Equal(t, "ALFKI", got[0].ID)
		require.Equal(t, Link, rules.Decide(got[0].Score))
		require.Equal(t, "name", got[0].Fields[0].Field)
	})

	t.Run("AddReplacesRemoveForgets", func(t *testing.T) {
		t.Parallel()
		ix := NewIndex(rules)
		q := acct("q", "name", "Alfreds Futterkiste", "city", "Berlin", "zip", "12209", "phone", "030-0074321")
		ix.Add(acct("A", "name", "Alfreds Futterkiste", "city", "Berlin", "zip", "12209", "phone", "030-0074321"))
		require.Equal(t, 1, ix.Len())
		require.Len(t, ix.Candidates(q, 5, nil), 1)
		ix.Add(acct("A", "name", "Blauer See Delikatessen", "city", "Mannheim", "zip", "68306"))
		require.Equal(t, 1, ix.Len())
		require.Empty(t, ix.Candidates(q, 5, nil))
		ix.Add(acct("B", "name", "Alfreds Futterkiste", "city", "Berlin", "zip", "12209", "phone", "030-0074321"))
		require.Len(t, ix.Candidates(q, 5, func(id string) bool { return id == "B" }), 0)
		ix.Remove("B")
		ix.Remove("unknown")
		require.Equal(t, 1, ix.Len())
		require.Empty(t, ix.Candidates(q, 5, nil))
	})

	t.Run("ComparesOnlyItsBlocks", func(t *testing.T) {
		t.Parallel()
		set := generatedAccounts(3, 5000)
		ix := NewIndex(rules)
		for _, r := range set.erp {
			ix.Add(r)
		}
		found := 0
		for _, q := range set.crm[:500] {
			if c := ix.Candidates(q, 1, nil); len(c) > 0 && c[0].ID == set.truth[q.ID] {
				found++
			}
		}
		perQuery := float64(ix.comparisons.Load()) / 500
		t.Logf("%d records: %.1f comparisons per query", ix.Len(), perQuery)
		require.LessOrEqual(t, perQuery, float64(scored))
		require.Greater(t, found, 250)
	})

	t.Run("CommonBlocksAreDropped", func(t *testing.T) {
		t.Parallel()
		ix := NewIndex(Rules{Fields: []string{"name"}, AutoLink: 0.9, Review: 0.5})
		ix.blockCap = 10
		r := rand.New(rand.NewPCG(1, 1))
		for i := range 100 {
			ix.Add(Record{ID: fmt.Sprint(i), Fields: map[string]string{"name": "Pantry " + typo(r, "Northwind Traders")}})
		}
		ix.comparisons.Store(0)
		ix.Candidates(Record{ID: "q", Fields: map[string]string{"name": "Pantry"}}, 5, nil)
		require.Zero(t, ix.comparisons.Load(), "a block of 100 over a cap of 10 is not used")
	})
}

func TestWithin(t *testing.T) {
	t.Parallel()
	rules, _ := DefaultRules(model.Account)
	recs := []Record{
		acct("1", "name", "Alfreds Futterkiste", "city", "Berlin", "zip", "12209", "phone", "030-0074321"),
		acct("2", "name", "Ana Trujillo Emparedados", "city", "México D.F.", "zip", "05021", "phone", "(5) 555-4729"),
		acct("3", "name", "alfreds futterkiste gmbh", "city", "Berlin", "zip", "12209", "phone", "+49 30 0074321"),
		acct("4", "name", "Around the Horn", "city", "London", "zip", "WA1 1DP", "phone", "(171) 555-7788"),
		acct("5", "name", "Alfred's Futterkiste", "city", "Berlin", "zip", "12209"),
		acct("6", "name", "Around the Horn Ltd", "city", "London", "zip", "WA1 1DP", "phone", "+44 171 555 7788"),
		acct("7", "name", "Alfreds Futterkiste", "city", "Hamburg", "zip", "20095", "phone", "040-123456"),
	}
	got := Within(rules, recs)
	require.Len(t, got, 2)
	require.Equal(t, []string{"1", "3", "5"}, got[0].IDs)
	require.Equal(t, []string{"4", "6"}, got[1].IDs)
	for _, cl := range got {
		for _, p := range cl.Pairs {
			require.Less(t, p.A, p.ID)
			require.GreaterOrEqual(t, p.Score, rules.Review)
		}
	}
	require.Empty(t, Within(rules, nil))
}

func TestMatchAll(t *testing.T) {
	t.Parallel()
	rules, _ := DefaultRules(model.Account)
	left := []Record{
		acct("c1", "name", "ALFREDS FUTTERKISTE", "city", "Berlin", "zip", "12209"),
		acct("c2", "name", "Nobody Here", "city", "Oslo"),
	}
	right := []Record{acct("ALFKI", "name", "Alfreds Futterkiste GmbH", "city", "Berlin", "zip", "12209")}
	got := MatchAll(rules, left, right)
	require.Len(t, got, 1)
	require.Equal(t, "c1", got[0].A)
	require.Equal(t, "ALFKI", got[0].ID)
}
