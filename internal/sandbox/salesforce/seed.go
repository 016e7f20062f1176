package salesforce

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/concord-sync/concord/internal/northwind"
)

// Seed fills the org from the Northwind data: an Account per customer
// (AccountNumber = customer code), a Contact per customer contact on its
// account, a Product2 per Northwind product (ProductCode "NW-001", active)
// with its price in the standard price book, and deals Opportunities, each
// built from a Northwind order drawn with rnd: spread over the default
// stages (Closed Won included), on the order's account and contact, with one
// OpportunityLineItem per order line; the opportunity's Amount is the sum of
// its lines, as Salesforce computes it. The same rnd seed gives the same org.
// It fails if data is nil or deals is negative.
func (s *Server) Seed(data *northwind.Data, deals int, rnd *rand.Rand) error {
	if data == nil || deals < 0 || (deals > 0 && (rnd == nil || len(data.Orders) == 0)) {
		return errors.New("seed: need data, a non-negative deal count and a random source")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	create := func(obj string, vals map[string]any) (string, error) {
		for k, v := range vals {
			if v == "" {
				delete(vals, k)
			}
		}
		id, aerr := st.create(st.object(obj), vals)
		if aerr != nil {
			return "", fmt.Errorf("%s: %s", aerr.ErrorCode, aerr.Message)
		}
		return id, nil
	}
	accountOf, contactOf, nameOf := map[string]string{}, map[string]string{}, map[string]string{}
	for _, c := range data.Customers {
		domain := slug(c.CompanyName) + ".example"
		id, err := create("Account", map[string]any{
			"Name": c.CompanyName, "AccountNumber": c.ID, "Website": domain, "Phone": c.Phone,
			"BillingStreet": c.Address, "BillingCity": c.City, "BillingState": c.Region,
			"BillingPostalCode": c.PostalCode, "BillingCountry": c.Country,
		})
		if err != nil {
			return fmt.Errorf("seed account %s: %w", c.ID, err)
		}
		accountOf[c.ID], nameOf[c.ID] = id, c.CompanyName
		if c.ContactName == "" {
			continue
		}
		first, last, _ := strings.Cut(c.ContactName, " ")
		if last == "" {
			first, last = "", first
		}
		cid, err := create("Contact", map[string]any{
			"FirstName": first, "LastName": last, "Email": slug(first) + "." + slug(last) + "@" + domain,
			"Title": c.ContactTitle, "Phone": c.Phone, "AccountId": id,
		})
		if err != nil {
			return fmt.Errorf("seed contact of %s: %w", c.ID, err)
		}
		contactOf[c.ID] = cid
	}
	entryOf := map[int]string{}
	for _, p := range data.Products {
		pid, err := create("Product2", map[string]any{
			"Name": p.Name, "ProductCode": fmt.Sprintf("NW-%03d", p.ID), "Description": p.QuantityPerUnit, "IsActive": true,
		})
		if err != nil {
			return fmt.Errorf("seed product %d: %w", p.ID, err)
		}
		eid, err := create("PricebookEntry", map[string]any{
			"Pricebook2Id": st.stdBook, "Product2Id": pid, "UnitPrice": json.Number(p.UnitPrice.StringFixed(2)), "IsActive": true,
		})
		if err != nil {
			return fmt.Errorf("seed price of product %d: %w", p.ID, err)
		}
		entryOf[p.ID] = eid
	}
	lines := data.DetailsByOrder()
	for range deals {
		o := data.Orders[rnd.IntN(len(data.Orders))]
		stg := stages[rnd.IntN(len(stages))]
		name := o.ShipName
		if n, ok := nameOf[o.CustomerID]; ok {
			name = n
		}
		closeDate := o.RequiredDate
		if stg.IsClosed && !o.ShippedDate.IsZero() {
			closeDate = o.ShippedDate
		}
		oid, err := create("Opportunity", map[string]any{
			"Name": fmt.Sprintf("%s - order %d", name, o.ID), "StageName": stg.Label,
			"CloseDate": closeDate.Format("2006-01-02"), "AccountId": accountOf[o.CustomerID],
			"ContactId": contactOf[o.CustomerID],
		})
		if err != nil {
			return fmt.Errorf("seed opportunity for order %d: %w", o.ID, err)
		}
		for _, od := range lines[o.ID] {
			eid, ok := entryOf[od.ProductID]
			if !ok {
				continue
			}
			if _, err := create("OpportunityLineItem", map[string]any{
				"OpportunityId": oid, "PricebookEntryId": eid, "Quantity": json.Number(fmt.Sprint(od.Quantity)),
				"UnitPrice": json.Number(od.UnitPrice.StringFixed(2)),
				"Discount":  json.Number(od.Discount.Mul(decimal.NewFromInt(100)).String()),
			}); err != nil {
				return fmt.Errorf("seed line of order %d, product %d: %w", o.ID, od.ProductID, err)
			}
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
