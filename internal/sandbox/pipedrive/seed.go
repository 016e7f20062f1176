package pipedrive

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/concord-sync/concord/internal/northwind"
)

// NorthwindIDField is the custom field (varchar) Seed stores the Northwind
// key in (customer code on organizations, product id on products), for
// traceability only.
const NorthwindIDField = "Northwind ID"

// Seed fills the company from the Northwind data: an organization per
// customer (Northwind ID: its customer code), a person per customer contact in its organization, a product per
// Northwind product (code "NW-001", one USD price, Northwind ID: its id), and deals deals built
// from Northwind orders drawn with rnd, spread over the default pipeline's
// stages and the won and lost statuses, each with one deal product per order
// line and a value equal to the sum of its products. Seeding sends no
// webhooks. The same rnd seed gives the same company.
func (s *Server) Seed(data *northwind.Data, deals int, rnd *rand.Rand) error {
	if data == nil || deals < 0 || (deals > 0 && (rnd == nil || len(data.Orders) == 0)) {
		return errors.New("seed: need data, a non-negative deal count and a random source")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	nwKey := map[string]string{}
	for _, k := range []string{Organizations, Products} {
		f := s.st.fieldByName(k, NorthwindIDField)
		if f == nil {
			var aerr *apiError
			if f, aerr = s.st.defineField(k, CustomField{Name: NorthwindIDField, FieldType: "varchar"}); aerr != nil {
				return aerr
			}
		}
		nwKey[k] = f.Key
	}
	create := func(kindName string, body map[string]any) (*record, error) {
		r, aerr := s.st.apply(kinds[kindName], nil, body, now)
		if aerr != nil {
			return nil, aerr
		}
		s.st.objects[kindName][r.id] = r
		return r, nil
	}
	num := func(d decimal.Decimal) json.Number { return json.Number(d.String()) }
	orgOf, personOf := map[string]int{}, map[string]int{}
	for _, c := range data.Customers {
		org, err := create(Organizations, map[string]any{"name": c.CompanyName, "custom_fields": map[string]any{nwKey[Organizations]: c.ID}, "address": map[string]any{
			"value": strings.TrimSpace(c.Address + ", " + c.City), "route": c.Address, "locality": c.City,
			"admin_area_level_1": c.Region, "postal_code": c.PostalCode, "country": c.Country}})
		if err != nil {
			return fmt.Errorf("seed organization %s: %w", c.ID, err)
		}
		orgOf[c.ID] = org.id
		if c.ContactName == "" {
			continue
		}
		first, last, _ := strings.Cut(c.ContactName, " ")
		domain := strings.ToLower(strings.Join(strings.Fields(c.CompanyName), "")) + ".example"
		p, err := create(Persons, map[string]any{"first_name": first, "last_name": last, "job_title": c.ContactTitle,
			"org_id": json.Number(strconv.Itoa(org.id)),
			"emails": []any{map[string]any{"value": strings.ToLower(first) + "@" + domain, "primary": true, "label": "work"}},
			"phones": []any{map[string]any{"value": c.Phone, "primary": true, "label": "work"}}})
		if err != nil {
			return fmt.Errorf("seed person %s: %w", c.ID, err)
		}
		personOf[c.ID] = p.id
	}
	productOf := map[int]int{}
	for _, p := range data.Products {
		r, err := create(Products, map[string]any{"name": p.Name, "code": fmt.Sprintf("NW-%03d", p.ID), "unit": p.QuantityPerUnit,
			"custom_fields": map[string]any{nwKey[Products]: strconv.Itoa(p.ID)},
			"prices":        []any{map[string]any{"currency": "USD", "price": num(p.UnitPrice), "cost": json.Number("0")}}})
		if err != nil {
			return fmt.Errorf("seed product %d: %w", p.ID, err)
		}
		productOf[p.ID] = r.id
	}
	lines := data.DetailsByOrder()
	statuses := []string{"open", "open", "open", "won", "lost"}
	for i := range deals {
		o := data.Orders[rnd.IntN(len(data.Orders))]
		c, _ := data.Customer(o.CustomerID)
		status := statuses[rnd.IntN(len(statuses))]
		body := map[string]any{"title": fmt.Sprintf("%s order %d", c.CompanyName, o.ID), "currency": "USD", "status": status,
			"stage_id":            json.Number(strconv.Itoa(DefaultStages[rnd.IntN(len(DefaultStages))].ID)),
			"expected_close_date": o.RequiredDate.Format("2006-01-02")}
		if id, ok := orgOf[o.CustomerID]; ok {
			body["org_id"] = json.Number(strconv.Itoa(id))
		}
		if id, ok := personOf[o.CustomerID]; ok {
			body["person_id"] = json.Number(strconv.Itoa(id))
		}
		total := decimal.Zero
		var dps []map[string]any
		for _, l := range lines[o.ID] {
			dp := map[string]any{"product_id": json.Number(strconv.Itoa(productOf[l.ProductID])), "item_price": num(l.UnitPrice),
				"quantity": json.Number(strconv.Itoa(l.Quantity)), "discount": num(l.Discount.Mul(decimal.NewFromInt(100))),
				"discount_type": "percentage"}
			dps = append(dps, dp)
			sum, _ := decimal.NewFromString(dealProductSum(dp).String())
			total = total.Add(sum)
		}
		body["value"] = num(total)
		d, err := create(Deals, body)
		if err != nil {
			return fmt.Errorf("seed deal %d: %w", i, err)
		}
		for _, dp := range dps {
			p, err := create(dealProducts, dp)
			if err != nil {
				return fmt.Errorf("seed deal %d product: %w", i, err)
			}
			p.dealID = d.id
		}
	}
	return nil
}
