package match

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/model"
)

func acct(id string, kv ...string) Record {
	r := Record{ID: id, Fields: map[string]string{}}
	for i := 0; i+1 < len(kv); i += 2 {
		r.Fields[kv[i]] = kv[i+1]
	}
	return r
}

func TestCompare(t *testing.T) {
	t.Parallel()
	rules, ok := DefaultRules(model.Account)
	require.True(t, ok)
	alfki := acct("ALFKI", "name", "Alfreds Futterkiste", "street", "Obere Str. 57", "city", "Berlin", "zip", "12209", "country", "Germany", "phone", "030-0074321")
	for _, tt := range []struct {
		name string
		a, b Record
		want Decision
	}{
		{"LegalFormAdded", alfki, acct("c1", "name", "alfreds futterkiste gmbh", "street", "Obere Straße 57", "city", "Berlin", "zip", "12209", "country", "DE", "phone", "+49 30 0074321"), Link},
		{"LegalFormAddedFewFields", alfki, acct("c1", "name", "alfreds futterkiste gmbh", "city", "Berlin", "country", "DE"), Link},
		{"AndLimited", acct("a", "name", "Smith & Sons Ltd", "city", "London", "country", "UK"), acct("b", "name", "Smith and Sons Limited", "city", "London", "country", "United Kingdom"), Link},
		{"Accents", acct("a", "name", "Müller GmbH", "city", "München", "zip", "80331"), acct("b", "name", "Muller", "city", "Munchen", "zip", "80331"), Link},
		{"WordOrder", acct("a", "name", "Futterkiste Alfreds", "city", "Berlin", "zip", "12209"), acct("b", "name", "Alfreds Futterkiste", "city", "Berlin", "zip", "12209"), Link},
		{"NameOnly", acct("a", "name", "Alfreds Futterkiste"), acct("b", "name", "Alfreds Futterkiste"), Review},
		{"WeakNameOnly", acct("a", "name", "Alfreds Futterkiste"), acct("b", "name", "Alfred Futterhaus"), Review},
		{"OtherNameOnly", acct("a", "name", "Alfreds Futterkiste"), acct("b", "name", "Alfreds Weinhandel"), Create},
		{"SameNameDifferentVAT", acct("a", "name", "Alfreds Futterkiste", "city", "Berlin", "zip", "12209", "vat", "DE111111111"), acct("b", "name", "Alfreds Futterkiste", "city", "Berlin", "zip", "12209", "vat", "DE222222222"), Create},
		{"SameVAT", acct("a", "name", "AF", "vat", "DE 111.111.111"), acct("b", "name", "Alfreds Futterkiste", "vat", "111111111"), Link},
		{"SameNameDifferentCountry", acct("a", "name", "Alfreds Futterkiste", "street", "Obere Str. 57", "city", "Berlin", "zip", "12209", "country", "Germany"), acct("b", "name", "Alfreds Futterkiste", "street", "Obere Str. 57", "city", "Berlin", "zip", "12209", "country", "Austria"), Review},
		{"LookAlikeOtherCity", alfki, acct("x", "name", "Alfred's Futterkiste", "street", "Hauptstraße 3", "city", "Hamburg", "zip", "20095", "country", "Germany", "phone", "040-551234"), Create},
		{"FreeMailNoKey", acct("a", "name", "Bob's Bikes", "email", "bob@gmail.com"), acct("b", "name", "Alice's Apples", "email", "alice@gmail.com"), Create},
		{"DomainFromEmail", acct("a", "name", "Bobs Bikes", "email", "bob@bobsbikes.com"), acct("b", "name", "Bob's Bicycles Ltd", "domain", "https://www.bobsbikes.com/"), Link},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := Compare(rules, tt.a, tt.b)
			require.Equal(t, tt.want, rules.Decide(c.Score), "score %.3f fields %+v", c.Score, c.Fields)
			require.Equal(t, tt.b.ID, c.ID)
		})
	}
}

func TestCompare_Fields(t *testing.T) {
	t.Parallel()
	rules, _ := DefaultRules(model.Account)
	t.Run("Key", func(t *testing.T) {
		t.Parallel()
		c := Compare(rules, acct("a", "name", "X", "vat", "DE1"), acct("b", "name", "Y", "vat", "de 1"))
		require.Equal(t, "vat", c.Key)
		require.Equal(t, 1.0, c.Score)
		require.Equal(t, FieldScore{Field: "vat", A: "DE1", B: "de 1", Score: 1}, c.Fields[0])
	})
	t.Run("ConflictFirst", func(t *testing.T) {
		t.Parallel()
		c := Compare(rules, acct("a", "name", "Acme", "city", "Berlin", "vat", "DE1"), acct("b", "name", "Acme", "city", "Berlin", "vat", "DE2"))
		require.Empty(t, c.Key)
		require.Equal(t, "vat", c.Fields[0].Field)
		require.Equal(t, 0.0, c.Fields[0].Score)
	})
	t.Run("MostDecisiveFirst", func(t *testing.T) {
		t.Parallel()
		c := Compare(rules, acct("a", "name", "Acme Corp", "city", "Berlin", "phone", "+49 30 1234567"), acct("b", "name", "Acme", "city", "Berln", "phone", "030 1234567"))
		require.Equal(t, []string{"name", "phone", "city"}, fieldNames(c.Fields))
	})
	t.Run("MissingFieldsDoNotCount", func(t *testing.T) {
		t.Parallel()
		full := Compare(rules, acct("a", "name", "Acme", "street", "Main St 1", "city", "Berlin", "zip", "10115", "country", "DE", "phone", "+49 30 1234567"), acct("b", "name", "Acme", "street", "Main Street 1", "city", "Berlin", "zip", "10115", "country", "DE", "phone", "030 1234567"))
		part := Compare(rules, acct("a", "name", "Acme", "street", "Main St 1", "city", "Berlin", "zip", "10115", "country", "DE", "phone", "+49 30 1234567"), acct("b", "name", "Acme", "city", "Berlin", "zip", "10115"))
		require.Equal(t, 1.0, full.Score)
		require.Equal(t, 1.0, part.Score)
	})
}

func fieldNames(fs []FieldScore) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Field)
	}
	return out
}
