package pipedrive

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/pipedrive/pipedrivehttp"
	"github.com/concord-sync/concord/internal/model"
)

var hundred = decimal.NewFromInt(100)

// records converts objs; for deals it reads their products (100 deals per
// call) when lines are mapped.
func (c *Conn) records(ctx context.Context, o *object, objs []pipedrivehttp.Object) ([]model.Record, error) {
	var lines map[string][]pipedrivehttp.Object
	if o.kind == "deals" && o.mapsStd("products") && len(objs) > 0 {
		ids := make([]string, 0, len(objs))
		for _, ob := range objs {
			ids = append(ids, ob.ID())
		}
		var err error
		if lines, err = c.dealProducts(ctx, ids); err != nil {
			return nil, err
		}
	}
	out := make([]model.Record, 0, len(objs))
	for _, ob := range objs {
		r, err := c.toRecord(o, ob, lines[ob.ID()])
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", singulars[o.kind], ob.ID(), err)
		}
		out = append(out, r)
	}
	return out, nil
}

// dealProducts returns the products of the deals by deal id.
func (c *Conn) dealProducts(ctx context.Context, dealIDs []string) (map[string][]pipedrivehttp.Object, error) {
	out := map[string][]pipedrivehttp.Object{}
	for start := 0; start < len(dealIDs); start += maxIDs {
		items, err := c.api.DealProducts(ctx, dealIDs[start:min(start+maxIDs, len(dealIDs))])
		if err != nil {
			return nil, fmt.Errorf("read deal products: %w", c.callErr(err))
		}
		for _, it := range items {
			id := pipedrivehttp.Str(it["deal_id"])
			out[id] = append(out[id], it)
		}
	}
	return out, nil
}

func (o *object) mapsStd(std string) bool {
	for _, f := range o.fields {
		if f.std == std {
			return true
		}
	}
	return false
}

func num(v any) (decimal.Decimal, bool) {
	s := pipedrivehttp.Str(v)
	if s == "" {
		return decimal.Zero, false
	}
	d, err := decimal.NewFromString(s)
	return d, err == nil
}

func jsonNum(d decimal.Decimal) json.Number { return json.Number(d.String()) }

func parseTime(v any) time.Time {
	t, _ := time.Parse(time.RFC3339, pipedrivehttp.Str(v))
	return t.UTC()
}

func textOrNull(v any) model.Value {
	s, ok := v.(string)
	if !ok || s == "" {
		return model.Null
	}
	return model.Text(s)
}

// primary returns the primary (else first) value of an emails or phones list.
func primary(v any) model.Value {
	list, _ := v.([]any)
	var first any
	for _, it := range list {
		m, _ := it.(map[string]any)
		if m == nil {
			continue
		}
		if first == nil {
			first = m["value"]
		}
		if m["primary"] == true {
			return textOrNull(m["value"])
		}
	}
	return textOrNull(first)
}

func priceEntry(v any, currency string) map[string]any {
	list, _ := v.([]any)
	for _, it := range list {
		if m, ok := it.(map[string]any); ok && strings.EqualFold(pipedrivehttp.Str(m["currency"]), currency) {
			return m
		}
	}
	return nil
}

func (c *Conn) toRecord(o *object, ob pipedrivehttp.Object, lines []pipedrivehttp.Object) (model.Record, error) {
	r := model.Record{Entity: o.entity, ID: ob.ID(), UpdatedAt: parseTime(ob["update_time"]),
		Archived: ob["is_deleted"] == true, Fields: model.Fields{}}
	custom, _ := ob["custom_fields"].(map[string]any)
	if o.linkKey != "" {
		r.LinkKey = pipedrivehttp.Str(custom[o.linkKey])
	}
	for _, f := range o.fields {
		v, err := c.readField(o, f, ob, custom, lines)
		if err != nil {
			return r, fmt.Errorf("field %s: %w", f.name, err)
		}
		r.Fields[f.name] = v
	}
	return r, nil
}

func (c *Conn) readField(o *object, f *field, ob pipedrivehttp.Object, custom map[string]any, lines []pipedrivehttp.Object) (model.Value, error) {
	if f.std == "" {
		return readCustom(f, custom[f.key])
	}
	root, sub, _ := strings.Cut(f.std, ".")
	switch root {
	case "address":
		addr, _ := ob["address"].(map[string]any)
		return textOrNull(addr[sub]), nil
	case "emails", "phones":
		return primary(ob[root]), nil
	case "org_id", "person_id":
		if id := pipedrivehttp.Str(ob[root]); id != "" {
			return model.Ref(f.ref, id), nil
		}
		return model.Null, nil
	case "value":
		d, ok := num(ob["value"])
		if !ok {
			return model.Null, nil
		}
		return model.Money(d, pipedrivehttp.Str(ob["currency"])), nil
	case "status":
		switch st := pipedrivehttp.Str(ob["status"]); st {
		case "won", "lost":
			return model.Text(st), nil
		}
		id, _ := strconv.Atoi(pipedrivehttp.Str(ob["stage_id"]))
		if canon, ok := c.cfg.stageFromID[id]; ok {
			return model.Text(canon), nil
		}
		return model.Null, nil
	case "expected_close_date":
		return readDate(ob[root])
	case "prices":
		d, ok := num(priceEntry(ob["prices"], f.currency)[sub])
		if !ok {
			return model.Null, nil
		}
		return model.Money(d, f.currency), nil
	case "products":
		cur := pipedrivehttp.Str(ob["currency"])
		recs := make([]model.Record, 0, len(lines))
		for _, l := range lines {
			recs = append(recs, lineRecord(l, cur))
		}
		return model.Lines(recs), nil
	}
	return textOrNull(ob[root]), nil
}

// lineRecord converts a deal product to an order line.
func lineRecord(l pipedrivehttp.Object, currency string) model.Record {
	fs := model.Fields{"product": model.Ref(model.Product, pipedrivehttp.Str(l["product_id"]))}
	if q, ok := num(l["quantity"]); ok {
		fs["quantity"] = model.Decimal(q)
	}
	if p, ok := num(l["item_price"]); ok {
		fs["unit_price"] = model.Money(p, currency)
	}
	if d, ok := num(l["discount"]); ok && pipedrivehttp.Str(l["discount_type"]) != "amount" {
		fs["discount"] = model.Decimal(d.Div(hundred))
	}
	if s, ok := num(l["sum"]); ok {
		fs["amount"] = model.Money(s, currency)
	}
	fs["description"] = textOrNull(l["comments"])
	return model.Record{Entity: model.OrderLine, ID: l.ID(), UpdatedAt: parseTime(l["update_time"]), Fields: fs}
}

func readDate(v any) (model.Value, error) {
	s := pipedrivehttp.Str(v)
	if s == "" {
		return model.Null, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return model.Null, fmt.Errorf("date %q: %w", s, err)
	}
	return model.Date(t), nil
}

func readCustom(f *field, v any) (model.Value, error) {
	if v == nil {
		return model.Null, nil
	}
	switch f.ctype {
	case "enum":
		id, _ := strconv.Atoi(pipedrivehttp.Str(v))
		l, ok := f.options[id]
		if !ok {
			return model.Null, fmt.Errorf("option %d is not an option of %s", id, f.custom)
		}
		if f.typ == model.TypeBool {
			b, known := boolLabel(l)
			if !known {
				return model.Null, fmt.Errorf("option %q of %s is not Yes or No", l, f.custom)
			}
			return model.Bool(b), nil
		}
		return model.Text(l), nil
	case "double":
		d, ok := num(v)
		if !ok {
			return model.Null, nil
		}
		if f.typ == model.TypeMoney {
			return model.Money(d, f.currency), nil
		}
		return model.Decimal(d), nil
	case "monetary":
		m, _ := v.(map[string]any)
		d, ok := num(m["value"])
		if !ok {
			return model.Null, nil
		}
		return model.Money(d, pipedrivehttp.Str(m["currency"])), nil
	case "date":
		return readDate(v)
	}
	return textOrNull(v), nil
}

// body builds the JSON body writing fs; cur is the record's current state
// (nil for a create), whose composite values (address, prices, emails,
// phones) the write keeps.
func (c *Conn) body(o *object, fs model.Fields, cur pipedrivehttp.Object) (map[string]any, error) {
	body := map[string]any{}
	custom := map[string]any{}
	for _, f := range o.fields {
		v, given := fs[f.name]
		if !given || f.std == "products" {
			continue
		}
		if f.std == "" {
			cv, err := writeCustom(f, v)
			if err != nil {
				return nil, connector.Permanent(f.name, err)
			}
			custom[f.key] = cv
			continue
		}
		if err := c.writeStd(f, v, body, cur); err != nil {
			return nil, connector.Permanent(f.name, err)
		}
	}
	if len(custom) > 0 {
		body["custom_fields"] = custom
	}
	return body, nil
}

func strOrNil(v model.Value) any {
	if v.IsNull() {
		return nil
	}
	return v.Str
}

func idOrNil(v model.Value) (any, error) {
	if v.IsNull() || v.Str == "" {
		return nil, nil
	}
	if !numeric(v.Str) {
		return nil, fmt.Errorf("%q is not a Pipedrive id", v.Str)
	}
	return json.Number(v.Str), nil
}

func (c *Conn) writeStd(f *field, v model.Value, body map[string]any, cur pipedrivehttp.Object) error {
	root, sub, _ := strings.Cut(f.std, ".")
	switch root {
	case "address":
		addr, ok := body["address"].(map[string]any)
		if !ok {
			prev, _ := cur["address"].(map[string]any)
			addr = maps.Clone(prev)
			if addr == nil {
				addr = map[string]any{}
			}
			body["address"] = addr
		}
		addr[sub] = strOrNil(v)
	case "emails", "phones":
		list := []any{}
		if prev, ok := cur[root].([]any); ok {
			for _, it := range prev {
				if m, ok := it.(map[string]any); ok && m["primary"] != true {
					list = append(list, map[string]any{"value": m["value"], "primary": false, "label": m["label"]})
				}
			}
		}
		if !v.IsNull() {
			list = append([]any{map[string]any{"value": v.Str, "primary": true, "label": "work"}}, list...)
		}
		body[root] = list
	case "org_id", "person_id":
		id, err := idOrNil(v)
		if err != nil {
			return err
		}
		body[root] = id
	case "value":
		if v.IsNull() {
			body["value"] = json.Number("0")
			return nil
		}
		body["value"], body["currency"] = jsonNum(v.Num), v.Currency
	case "status":
		switch {
		case v.IsNull():
		case v.Str == "won" || v.Str == "lost":
			body["status"] = v.Str
		default:
			id, ok := c.cfg.stageToID[v.Str]
			if !ok {
				return fmt.Errorf("stage %q has no Pipedrive stage (set %s.%s)", v.Str, SettingStages, v.Str)
			}
			body["status"], body["stage_id"] = "open", id
		}
	case "expected_close_date":
		if v.IsNull() {
			body[root] = nil
		} else {
			body[root] = v.Time.Format(time.DateOnly)
		}
	case "prices":
		prices, ok := body["prices"].([]any)
		if !ok {
			prev, _ := cur["prices"].([]any)
			for _, it := range prev {
				if m, ok := it.(map[string]any); ok {
					prices = append(prices, maps.Clone(m))
				}
			}
		}
		entry := priceEntry(prices, f.currency)
		if entry == nil {
			entry = map[string]any{"currency": f.currency, "price": json.Number("0"), "cost": json.Number("0")}
			prices = append(prices, entry)
		}
		if v.IsNull() {
			entry[sub] = json.Number("0")
		} else {
			if v.Kind == model.KindMoney && !strings.EqualFold(v.Currency, f.currency) {
				return fmt.Errorf("price in %s, but products are priced in %s", v.Currency, f.currency)
			}
			entry[sub] = jsonNum(v.Num)
		}
		body["prices"] = prices
	default:
		body[root] = strOrNil(v)
	}
	return nil
}

func writeCustom(f *field, v model.Value) (any, error) {
	if v.IsNull() {
		return nil, nil
	}
	switch f.ctype {
	case "enum":
		for id, l := range f.options {
			if b, known := boolLabel(l); f.typ == model.TypeBool && known && b == v.Bool || f.typ != model.TypeBool && l == v.Str {
				return id, nil
			}
		}
		if f.typ == model.TypeBool {
			return nil, fmt.Errorf("custom field %q has no %s option (Yes/No)", f.custom, map[bool]string{true: "Yes", false: "No"}[v.Bool])
		}
		return nil, fmt.Errorf("%q is not an option of custom field %q", v.Str, f.custom)
	case "double":
		return jsonNum(v.Num), nil
	case "monetary":
		return map[string]any{"value": jsonNum(v.Num), "currency": v.Currency}, nil
	case "date":
		return v.Time.Format(time.DateOnly), nil
	}
	return v.Str, nil
}

// boolLabel reads a Yes/No option of an enum custom field holding a bool.
func boolLabel(l string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(l)) {
	case "yes", "true":
		return true, true
	case "no", "false":
		return false, true
	}
	return false, false
}

// lineBody builds a deal product from an order line.
func lineBody(l model.Record) (map[string]any, error) {
	b := map[string]any{"discount_type": "percentage", "discount": json.Number("0")}
	id, err := idOrNil(l.Fields.Get("product"))
	if err != nil || id == nil {
		return nil, connector.Permanent("lines", fmt.Errorf("line without a Pipedrive product: %v", err))
	}
	b["product_id"] = id
	q := l.Fields.Get("quantity")
	if q.IsNull() {
		return nil, connector.Permanent("lines", fmt.Errorf("line without a quantity"))
	}
	b["quantity"] = jsonNum(q.Num)
	b["item_price"] = jsonNum(l.Fields.Get("unit_price").Num)
	if d := l.Fields.Get("discount"); !d.IsNull() {
		b["discount"] = jsonNum(d.Num.Mul(hundred))
	}
	b["comments"] = strOrNil(l.Fields.Get("description"))
	return b, nil
}

// fieldOf names the canonical field a refusal message is about, "" when it
// names none.
func (o *object) fieldOf(msg string) string {
	for _, f := range o.fields {
		if f.key != "" && strings.Contains(msg, f.key) {
			return f.name
		}
	}
	for _, f := range o.fields {
		root, _, _ := strings.Cut(f.std, ".")
		if root != "" && strings.Contains(msg, "'"+root) {
			return f.name
		}
	}
	return ""
}
