package salesforce

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/salesforce/sfhttp"
	"github.com/concord-sync/concord/internal/model"
)

// parseTime reads the REST API's datetimes ("2024-05-01T10:00:00.000+0000").
func parseTime(s string) (time.Time, bool) {
	for _, layout := range []string{"2006-01-02T15:04:05.000-0700", "2006-01-02T15:04:05-0700", time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// soqlTime formats t as a SOQL datetime literal, to the millisecond.
func soqlTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func modstamp(r sfhttp.Record) time.Time {
	t, _ := parseTime(r.String("SystemModstamp"))
	return t
}

// fromSF converts one field value to a canonical value. A value that does
// not parse as the field's type is returned as text, so that the engine's
// validation quarantines the record naming the field.
func (c *Conn) fromSF(f *field, r sfhttp.Record) model.Value {
	if f.typ == model.TypeEnum && f.name == "stage" {
		switch {
		case r["IsWon"] == true:
			return model.Text("won")
		case r["IsClosed"] == true:
			return model.Text("lost")
		}
	}
	raw := strings.TrimSpace(r.String(f.sf))
	if raw == "" {
		return model.Null
	}
	switch f.typ {
	case model.TypeText:
		return model.Text(raw)
	case model.TypeEnum:
		if f.name == "stage" {
			if canon, ok := c.cfg.stageFromSF[raw]; ok {
				return model.Text(canon)
			}
		}
		return model.Text(raw)
	case model.TypeDecimal, model.TypeMoney:
		d, err := decimal.NewFromString(raw)
		if err != nil {
			return model.Text(raw)
		}
		if f.percent {
			d = d.Div(decimal.NewFromInt(100))
		}
		if f.typ == model.TypeMoney {
			return model.Money(d, c.cfg.currency)
		}
		return model.Decimal(d)
	case model.TypeDate:
		if t, err := time.Parse(time.DateOnly, raw); err == nil {
			return model.Date(t)
		}
	case model.TypeDateTime:
		if t, ok := parseTime(raw); ok {
			return model.Time(t)
		}
	case model.TypeBool:
		switch raw {
		case "true":
			return model.Bool(true)
		case "false":
			return model.Bool(false)
		}
	case model.TypeRef:
		return model.Ref(f.ref, raw)
	}
	return model.Text(raw)
}

// toSF converts a canonical value to a field value; nil clears the field.
func (c *Conn) toSF(f *field, v model.Value) (any, error) {
	if v.IsNull() {
		return nil, nil
	}
	if v.Kind != f.typ.Kind() {
		return nil, connector.Permanent(f.name, fmt.Errorf("want %s, got %s", f.typ, v.Kind))
	}
	switch f.typ {
	case model.TypeText:
		return v.Str, nil
	case model.TypeEnum:
		if f.name == "stage" {
			sf, ok := c.cfg.stageToSF[v.Str]
			if !ok {
				return nil, connector.Permanent(f.name, fmt.Errorf("stage %q has no StageName in setting %s", v.Str, SettingStages))
			}
			return sf, nil
		}
		return v.Str, nil
	case model.TypeDecimal:
		d := v.Num
		if f.percent {
			d = d.Mul(decimal.NewFromInt(100))
		}
		return json.Number(d.String()), nil
	case model.TypeMoney:
		if v.Currency != c.cfg.currency {
			return nil, connector.Permanent(f.name, fmt.Errorf("amount in %s, but the org's currency is %s", v.Currency, c.cfg.currency))
		}
		return json.Number(v.Num.String()), nil
	case model.TypeDate:
		return v.Time.Format(time.DateOnly), nil
	case model.TypeDateTime:
		return soqlTime(v.Time), nil
	case model.TypeBool:
		return v.Bool, nil
	case model.TypeRef:
		return v.Str, nil
	}
	return nil, connector.Permanent(f.name, fmt.Errorf("type %s cannot be written to a field", f.typ))
}

// input converts fields to an sObject's field values. Lines and the standard
// price are left out (written after the record); read-only fields are
// refused.
func (c *Conn) input(o *object, fields model.Fields) (sfhttp.Record, error) {
	out := sfhttp.Record{}
	for _, name := range fields.Names() {
		f, ok := o.byName[name]
		if !ok {
			return nil, connector.Permanent(name, fmt.Errorf("field %s of %s is not mapped in salesforce system %s", name, o.entity, c.system))
		}
		if f.typ == model.TypeLines || f.stdPrice {
			continue
		}
		if f.readOnly {
			return nil, connector.Permanent(name, fmt.Errorf("field %s is computed by Salesforce and cannot be written", f.sf))
		}
		v, err := c.toSF(f, fields[name])
		if err != nil {
			return nil, err
		}
		out[f.sf] = v
	}
	return out, nil
}

// records converts sObjects to canonical records, reading the line items of
// a lines field and the standard price of a product. want restricts the
// fields (nil: all).
func (c *Conn) records(ctx context.Context, o *object, raw []sfhttp.Record, want []string) ([]model.Record, error) {
	out := make([]model.Record, len(raw))
	for i, r := range raw {
		rec := model.Record{Entity: o.entity, ID: r.ID(), UpdatedAt: modstamp(r), LinkKey: r.String(o.link),
			Archived: r["IsDeleted"] == true, Fields: model.Fields{}}
		for _, f := range o.fields {
			if f.sf != "" && f.typ != model.TypeLines && wanted(want, f.name) {
				rec.Fields[f.name] = c.fromSF(f, r)
			}
		}
		out[i] = rec
	}
	var live []string
	for _, r := range out {
		if !r.Archived {
			live = append(live, r.ID)
		}
	}
	for _, f := range o.fields {
		if !wanted(want, f.name) {
			continue
		}
		switch {
		case f.typ == model.TypeLines:
			lines, err := c.readLines(ctx, o.lines, live)
			if err != nil {
				return nil, err
			}
			for i := range out {
				if !out[i].Archived {
					out[i].Fields[f.name] = model.Lines(lines[out[i].ID])
				}
			}
		case f.stdPrice:
			prices, err := c.standardPrices(ctx, live)
			if err != nil {
				return nil, err
			}
			for i := range out {
				if p, ok := prices[out[i].ID]; ok {
					out[i].Fields[f.name] = model.Money(num(p.String("UnitPrice")), c.cfg.currency)
				} else {
					out[i].Fields[f.name] = model.Null
				}
			}
		}
	}
	return out, nil
}

func wanted(want []string, name string) bool { return want == nil || slices.Contains(want, name) }

func num(s string) decimal.Decimal {
	d, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.Zero
	}
	return d
}

// readLines returns the line items of the given opportunities, in creation
// order, with the order_line mapping.
func (c *Conn) readLines(ctx context.Context, lo *object, opps []string) (map[string][]model.Record, error) {
	out := map[string][]model.Record{}
	cols := []string{"Id", "OpportunityId", "SystemModstamp"}
	for _, f := range lo.fields {
		if f.sf != "" && !slices.Contains(cols, f.sf) {
			cols = append(cols, f.sf)
		}
	}
	for start := 0; start < len(opps); start += chunkSize {
		chunk := opps[start:min(start+chunkSize, len(opps))]
		soql := "SELECT " + strings.Join(cols, ", ") + " FROM OpportunityLineItem WHERE OpportunityId IN " + inList(chunk) + " ORDER BY Id"
		if err := c.api.QueryEach(ctx, soql, false, func(r sfhttp.Record) error {
			rec := model.Record{Entity: model.OrderLine, ID: r.ID(), UpdatedAt: modstamp(r), Fields: model.Fields{}}
			for _, f := range lo.fields {
				if f.sf != "" {
					rec.Fields[f.name] = c.fromSF(f, r)
				}
			}
			opp := r.String("OpportunityId")
			out[opp] = append(out[opp], rec)
			return nil
		}); err != nil {
			return nil, fmt.Errorf("read line items: %w", callErr(err))
		}
	}
	return out, nil
}

// standardBook returns the id of the org's standard price book.
func (c *Conn) standardBook(ctx context.Context) (string, error) {
	c.bookMu.Lock()
	defer c.bookMu.Unlock()
	if c.stdBook != "" {
		return c.stdBook, nil
	}
	page, err := c.api.Query(ctx, "SELECT Id FROM Pricebook2 WHERE IsStandard = true LIMIT 1", false, 0)
	if err != nil {
		return "", fmt.Errorf("find the standard price book: %w", callErr(err))
	}
	if len(page.Records) == 0 {
		return "", connector.Permanent("", fmt.Errorf("the org has no standard price book"))
	}
	c.stdBook = page.Records[0].ID()
	return c.stdBook, nil
}

// standardPrices returns the standard price book entries of products, by
// product id.
func (c *Conn) standardPrices(ctx context.Context, products []string) (map[string]sfhttp.Record, error) {
	out := map[string]sfhttp.Record{}
	if len(products) == 0 {
		return out, nil
	}
	book, err := c.standardBook(ctx)
	if err != nil {
		return nil, err
	}
	for start := 0; start < len(products); start += chunkSize {
		chunk := products[start:min(start+chunkSize, len(products))]
		soql := "SELECT Id, Product2Id, UnitPrice, IsActive FROM PricebookEntry WHERE Pricebook2Id = " + sfhttp.Quote(book) +
			" AND Product2Id IN " + inList(chunk)
		if err := c.api.QueryEach(ctx, soql, false, func(r sfhttp.Record) error {
			out[r.String("Product2Id")] = r
			return nil
		}); err != nil {
			return nil, fmt.Errorf("read standard prices: %w", callErr(err))
		}
	}
	return out, nil
}
