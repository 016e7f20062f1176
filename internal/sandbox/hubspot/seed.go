package hubspot

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/concord-sync/concord/internal/northwind"
)

// NorthwindIDProperty is the custom property Seed stores the Northwind key
// in (customer code on companies, product id on products), for
// traceability only: it is not unique and nothing syncs on it.
const NorthwindIDProperty = "northwind_id"

// Seed fills the CRM from the Northwind data: a company per customer
// (northwind_id = customer code), a contact per customer contact associated
// with its company, a product per Northwind product (hs_sku "NW-001",
// price), and deals deals, each built from a Northwind order drawn with rnd:
// spread over the default pipeline's stages (closedwon included), with one
// line item per order line (linked to its product) and associated with the
// order's company, contact and line items. Deal amounts are the exact sum
// of line item amounts. Seeding sends no webhooks and the seeded records
// are searchable at once. rnd is a math/rand/v2 source; the same seed gives
// the same CRM. It fails if data is nil or deals is negative.
func (s *Server) Seed(data *northwind.Data, deals int, rnd *rand.Rand) error {
	if data == nil || deals < 0 || (deals > 0 && (rnd == nil || len(data.Orders) == 0)) {
		return errors.New("seed: need data, a non-negative deal count and a random source")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hooks.suppress = true
	defer func() { s.hooks.suppress = false }()

	var created []*record
	create := func(t string, props map[string]string) (*record, error) {
		r, e := s.createLocked(lookupType(t), props, SourceCRMUI)
		if e != nil {
			return nil, e
		}
		created = append(created, r)
		return r, nil
	}
	for _, t := range []string{Companies, Products} {
		if _, ok := s.defs[t][NorthwindIDProperty]; !ok {
			if _, e := s.definePropertyLocked(lookupType(t), Property{
				Name: NorthwindIDProperty, Label: "Northwind ID", Type: "string", FieldType: "text",
				GroupName: lookupType(t).singular + "information", Description: "Key of the Northwind record this was seeded from.",
			}); e != nil {
				return fmt.Errorf("seed: define %s: %w", NorthwindIDProperty, e)
			}
		}
	}

	companyOf := map[string]*record{}
	contactOf := map[string]*record{}
	for _, c := range data.Customers {
		domain := slug(c.CompanyName) + ".example"
		co, err := create(Companies, map[string]string{
			"name": c.CompanyName, "domain": domain, "phone": c.Phone, "address": c.Address,
			"city": c.City, "state": c.Region, "zip": c.PostalCode, "country": c.Country,
			NorthwindIDProperty: c.ID,
		})
		if err != nil {
			return fmt.Errorf("seed company %s: %w", c.ID, err)
		}
		companyOf[c.ID] = co
		if c.ContactName == "" {
			continue
		}
		first, last, _ := strings.Cut(c.ContactName, " ")
		ct, err := create(Contacts, map[string]string{
			"firstname": first, "lastname": last, "email": slug(first) + "." + slug(last) + "@" + domain,
			"jobtitle": c.ContactTitle, "phone": c.Phone, "company": c.CompanyName,
			"address": c.Address, "city": c.City, "zip": c.PostalCode, "country": c.Country,
		})
		if err != nil {
			return fmt.Errorf("seed contact of %s: %w", c.ID, err)
		}
		s.linkLocked(ct.typ, ct.id, co.typ, co.id, nil)
		contactOf[c.ID] = ct
	}

	productOf := map[int]*record{}
	for _, p := range data.Products {
		pr, err := create(Products, map[string]string{
			"name": p.Name, "price": p.UnitPrice.StringFixed(2), "hs_sku": fmt.Sprintf("NW-%03d", p.ID),
			"description": p.QuantityPerUnit, NorthwindIDProperty: strconv.Itoa(p.ID),
		})
		if err != nil {
			return fmt.Errorf("seed product %d: %w", p.ID, err)
		}
		productOf[p.ID] = pr
	}

	lines := data.DetailsByOrder()
	for range deals {
		o := data.Orders[rnd.IntN(len(data.Orders))]
		stage := defaultStages[rnd.IntN(len(defaultStages))]
		company := companyOf[o.CustomerID]
		name := o.ShipName
		if company != nil {
			name = company.props["name"]
		}
		closeDate := o.RequiredDate
		if stage.closed && !o.ShippedDate.IsZero() {
			closeDate = o.ShippedDate
		}
		total := decimal.Zero
		for _, od := range lines[o.ID] {
			total = total.Add(od.Net())
		}
		deal, err := create(Deals, map[string]string{
			"dealname": fmt.Sprintf("%s - order %d", name, o.ID), "amount": total.String(),
			"dealstage": stage.id, "pipeline": defaultPipelineID, "closedate": formatTime(closeDate),
			"deal_currency_code": "USD",
		})
		if err != nil {
			return fmt.Errorf("seed deal for order %d: %w", o.ID, err)
		}
		if company != nil {
			s.linkLocked(deal.typ, deal.id, company.typ, company.id, nil)
		}
		if ct := contactOf[o.CustomerID]; ct != nil {
			s.linkLocked(deal.typ, deal.id, ct.typ, ct.id, nil)
		}
		for _, od := range lines[o.ID] {
			props := map[string]string{
				"quantity": strconv.Itoa(od.Quantity), "price": od.UnitPrice.StringFixed(2),
				"hs_discount_percentage": od.Discount.Mul(decimal.NewFromInt(100)).String(),
			}
			if p := productOf[od.ProductID]; p != nil {
				props["hs_product_id"] = strconv.FormatInt(p.id, 10)
			}
			li, err := create(LineItems, props)
			if err != nil {
				return fmt.Errorf("seed line item %d/%d: %w", o.ID, od.ProductID, err)
			}
			s.linkLocked(deal.typ, deal.id, li.typ, li.id, nil)
		}
	}
	// Seeded data is already indexed.
	for _, r := range created {
		for i := range r.versions {
			r.versions[i].at = r.versions[i].at.Add(-s.cfg.SearchDelay)
		}
	}
	return nil
}

var fold = strings.NewReplacer(
	"á", "a", "à", "a", "â", "a", "ä", "ae", "ã", "a", "å", "aa", "æ", "ae",
	"é", "e", "è", "e", "ê", "e", "ë", "e", "í", "i", "ì", "i", "î", "i", "ï", "i",
	"ó", "o", "ò", "o", "ô", "o", "ö", "oe", "õ", "o", "ø", "oe",
	"ú", "u", "ù", "u", "û", "u", "ü", "ue", "ç", "c", "ñ", "n", "ß", "ss", "ÿ", "y",
)

// slug lowercases s, folds common accents and joins the ASCII letters and
// digits of its words with "-".
func slug(s string) string {
	s = fold.Replace(strings.ToLower(s))
	var b strings.Builder
	dash := false
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
		} else {
			dash = true
		}
	}
	return b.String()
}
