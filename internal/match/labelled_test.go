package match

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/northwind"
)

// The labelled sets are built from Northwind (Microsoft Public License; see
// internal/northwind) and from companies generated like them.

// northwindAccounts copies the 91 Northwind customers into a "CRM": 85% as
// corrupted copies, plus look-alikes of a third of them that are other
// companies; the ERP also holds look-alikes of a fifth of its customers.
func northwindAccounts(t testing.TB, seed uint64) labelled {
	d, err := northwind.Load()
	require.NoError(t, err)
	r := rand.New(rand.NewPCG(seed, 1))
	set := labelled{truth: map[string]string{}}
	for _, c := range d.Customers {
		rec := acct(c.ID, "name", c.CompanyName, "street", c.Address, "city", c.City, "zip", c.PostalCode, "country", c.Country, "phone", c.Phone, "customer_number", c.ID)
		for k, v := range rec.Fields {
			if v == "" {
				delete(rec.Fields, k)
			}
		}
		set.erp = append(set.erp, rec)
	}
	n := len(set.erp)
	for i := range n {
		rec := set.erp[i]
		if r.IntN(5) == 0 {
			set.erp = append(set.erp, lookAlike(r, rec, "erp-la-"+rec.ID))
		}
		if r.IntN(100) < 85 {
			id := "crm-" + rec.ID
			cp := corrupt(r, rec, id)
			if r.IntN(10) != 0 {
				delete(cp.Fields, "customer_number")
			}
			set.crm = append(set.crm, cp)
			set.truth[id] = rec.ID
		}
		if r.IntN(3) == 0 {
			la := lookAlike(r, rec, "crm-la-"+rec.ID)
			set.crm = append(set.crm, la)
		}
	}
	return set
}

// generatedAccounts builds a set of n generated ERP companies (plus
// look-alikes of 15% of them in the ERP), a CRM holding corrupted copies of
// 70% of them and look-alikes of 40% of them that are other companies.
func generatedAccounts(seed uint64, n int) labelled {
	r := rand.New(rand.NewPCG(seed, 2))
	set := labelled{truth: map[string]string{}}
	for i := range n {
		set.erp = append(set.erp, genCompany(r, fmt.Sprintf("E%06d", i)))
	}
	for i := range n {
		rec := set.erp[i]
		if r.IntN(100) < 15 {
			set.erp = append(set.erp, lookAlike(r, rec, "E-la-"+rec.ID))
		}
		if r.IntN(100) < 70 {
			id := "C-" + rec.ID
			set.crm = append(set.crm, corrupt(r, rec, id))
			set.truth[id] = rec.ID
		}
		if r.IntN(100) < 40 {
			set.crm = append(set.crm, lookAlike(r, rec, "C-la-"+rec.ID))
		}
	}
	return set
}

var foodWords = strings.Fields(`Sauce Spread Mix Tea Coffee Syrup Jam Marmalade Biscuits Crackers Cheese Chocolate Pasta Sausage Oil Vinegar
Mustard Ale Lager Soup Chutney Honey Cookies Crispbread Pie Cake Dressing Pepper Salsa Chips`)

// northwindProducts copies the 77 Northwind products twice into a "CRM"
// with corrupted names (a third with the SKU in another format) and adds a
// look-alike product per product: one word of the name changed or one
// added.
func northwindProducts(t testing.TB, seed uint64) labelled {
	d, err := northwind.Load()
	require.NoError(t, err)
	r := rand.New(rand.NewPCG(seed, 3))
	set := labelled{truth: map[string]string{}}
	for _, p := range d.Products {
		set.erp = append(set.erp, Record{ID: fmt.Sprint(p.ID), Fields: map[string]string{"name": p.Name, "sku": fmt.Sprintf("NW-%04d", p.ID)}})
	}
	for _, p := range set.erp {
		for copyN := range 2 {
			id := fmt.Sprintf("crm-%s-%d", p.ID, copyN)
			name := p.Fields["name"]
			for range 1 + r.IntN(2) {
				switch r.IntN(6) {
				case 0:
					name = typo(r, name)
				case 1:
					name = strings.ToLower(name)
				case 2:
					name = stripper.Replace(name)
				case 3:
					name = strings.NewReplacer("'", "", "&", "and", " and ", " & ").Replace(name)
				case 4:
					name = strings.ToUpper(name)
				default:
					name = strings.Join(strings.Fields(name), "  ")
				}
			}
			cp := Record{ID: id, Fields: map[string]string{"name": name}}
			if r.IntN(3) == 0 {
				cp.Fields["sku"] = strings.ToLower(strings.ReplaceAll(p.Fields["sku"], "-", " "))
			}
			set.crm = append(set.crm, cp)
			set.truth[id] = p.ID
		}
		ws := strings.Fields(p.Fields["name"])
		if r.IntN(2) == 0 || len(ws) < 2 {
			ws = append(ws, pick(r, foodWords))
		} else {
			ws[len(ws)-1] = pick(r, foodWords)
		}
		la := Record{ID: "crm-la-" + p.ID, Fields: map[string]string{"name": strings.Join(ws, " ")}}
		if r.IntN(3) == 0 {
			la.Fields["sku"] = fmt.Sprintf("XY-%04d", r.IntN(10000))
		}
		set.crm = append(set.crm, la)
	}
	return set
}

// metrics are precision, recall and F1 of the decisions on a set.
type metrics struct {
	tp, fp, fn  int
	p, r, f1    float64
	worst       float64 // the highest score of a wrong best candidate
	queries, cp int     // CRM records, of which with a counterpart
}

func (m metrics) String() string {
	return fmt.Sprintf("precision %.4f recall %.4f F1 %.4f (tp %d fp %d fn %d; %d records, %d with a counterpart; best wrong candidate scored %.3f)", m.p, m.r, m.f1, m.tp, m.fp, m.fn, m.queries, m.cp, m.worst)
}

// evaluate matches set.crm against set.erp and scores the decisions at
// auto_link (linked) and at review (linked or sent to review).
func evaluate(rules Rules, set labelled) (atLink, atReview metrics, wrong []string) {
	best := map[string]Pair{}
	low := rules
	low.Review = 0.3 // see the wrong candidates below the review threshold too
	for _, p := range MatchAll(low, set.crm, set.erp) {
		best[p.A] = p
	}
	count := func(positive func(Decision) bool) metrics {
		var m metrics
		m.queries, m.cp = len(set.crm), len(set.truth)
		for _, q := range set.crm {
			want, has := set.truth[q.ID]
			p, ok := best[q.ID]
			if ok && (!has || p.ID != want) {
				m.worst = max(m.worst, p.Score)
			}
			if ok && positive(rules.Decide(p.Score)) {
				if has && p.ID == want {
					m.tp++
					continue
				}
				m.fp++
			}
			if has {
				m.fn++
			}
		}
		if m.tp+m.fp > 0 {
			m.p = float64(m.tp) / float64(m.tp+m.fp)
		} else {
			m.p = 1
		}
		if m.cp > 0 {
			m.r = float64(m.tp) / float64(m.cp)
		}
		if m.p+m.r > 0 {
			m.f1 = 2 * m.p * m.r / (m.p + m.r)
		}
		return m
	}
	atLink = count(func(d Decision) bool { return d == Link })
	atReview = count(func(d Decision) bool { return d != Create })
	byID := map[string]Record{}
	for _, e := range set.erp {
		byID[e.ID] = e
	}
	for _, q := range set.crm {
		want, has := set.truth[q.ID]
		p, ok := best[q.ID]
		got := ""
		if ok && rules.Decide(p.Score) == Link {
			got = p.ID
		}
		if got != want || (ok && !has && rules.Decide(p.Score) != Create) || (has && got != want) {
			line := fmt.Sprintf("%s -> got %q (%.3f) want %q\n   crm %v", q.ID, p.ID, p.Score, want, q.Fields)
			if ok {
				line += fmt.Sprintf("\n   cand %v", byID[p.ID].Fields)
			}
			if has {
				line += fmt.Sprintf("\n   want %v", byID[want].Fields)
			}
			wrong = append(wrong, line)
		}
	}
	return atLink, atReview, wrong
}

func TestLabelledSet(t *testing.T) {
	t.Parallel()
	accounts, _ := DefaultRules(model.Account)
	products, _ := DefaultRules(model.Product)
	for _, tt := range []struct {
		name  string
		rules Rules
		set   func(t testing.TB) labelled
	}{
		{"NorthwindCustomers", accounts, func(t testing.TB) labelled { return northwindAccounts(t, 9) }},
		{"GeneratedAccounts", accounts, func(testing.TB) labelled { return generatedAccounts(9, 2000) }},
		{"NorthwindProducts", products, func(t testing.TB) labelled { return northwindProducts(t, 9) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			set := tt.set(t)
			link, review, wrong := evaluate(tt.rules, set)
			t.Logf("auto_link %.2f: %v", tt.rules.AutoLink, link)
			t.Logf("review    %.2f: %v", tt.rules.Review, review)
			if testing.Verbose() {
				for _, w := range wrong {
					t.Log(w)
				}
			}
			require.GreaterOrEqual(t, link.p, 0.99, "precision at auto_link")
			require.GreaterOrEqual(t, link.f1, 0.95, "F1 at auto_link")
		})
	}
}
