package hubspot

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/hubspot/hubspothttp"
	"github.com/concord-sync/concord/internal/model"
)

// Properties HubSpot maintains on every object.
const (
	propID       = "hs_object_id"
	propModified = "hs_lastmodifieddate"
)

// parseTime reads HubSpot's time values: epoch milliseconds, RFC 3339 or a
// bare date.
func parseTime(v string) (time.Time, bool) {
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.UnixMilli(ms).UTC(), true
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC(), true
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, true
	}
	return time.Time{}, false
}

// modified returns the object's last modification time.
func modified(ob hubspothttp.Object) time.Time {
	if t, ok := parseTime(ob.Value(propModified)); ok {
		return t
	}
	return ob.UpdatedAt.UTC()
}

// fromProperty converts one property value to a canonical value. A value that
// does not parse as the field's type is returned as text, so that the engine's
// validation quarantines the record naming the field.
func (c *Conn) fromProperty(f *field, ob hubspothttp.Object) model.Value {
	raw := strings.TrimSpace(ob.Value(f.property))
	if raw == "" {
		return model.Null
	}
	switch f.typ {
	case model.TypeText:
		return model.Text(raw)
	case model.TypeEnum:
		if f.name == "stage" {
			if canon, ok := c.cfg.stageFromHS[raw]; ok {
				return model.Text(canon)
			}
		}
		return model.Text(raw)
	case model.TypeDecimal:
		d, err := decimal.NewFromString(raw)
		if err != nil {
			return model.Text(raw)
		}
		if f.percent {
			d = d.Div(decimal.NewFromInt(100))
		}
		return model.Decimal(d)
	case model.TypeMoney:
		d, err := decimal.NewFromString(raw)
		if err != nil {
			return model.Text(raw)
		}
		cur := f.currency
		if f.currencyProp != "" {
			if v := strings.TrimSpace(ob.Value(f.currencyProp)); v != "" {
				cur = strings.ToUpper(v)
			}
		}
		return model.Money(d, cur)
	case model.TypeDate:
		if t, ok := parseTime(raw); ok {
			return model.Date(t)
		}
	case model.TypeDateTime:
		if t, ok := parseTime(raw); ok {
			return model.Time(t)
		}
	case model.TypeBool:
		switch strings.ToLower(raw) {
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

// toProperty converts a canonical value to a property value; nil clears it.
func (c *Conn) toProperty(f *field, v model.Value) (*string, error) {
	if v.IsNull() {
		return nil, nil
	}
	str := func(s string) (*string, error) { return &s, nil }
	want := f.typ.Kind()
	if v.Kind != want {
		return nil, connector.Permanent(f.name, fmt.Errorf("want %s, got %s", f.typ, v.Kind))
	}
	switch f.typ {
	case model.TypeText:
		return str(v.Str)
	case model.TypeEnum:
		if f.name == "stage" {
			hs, ok := c.cfg.stageToHS[v.Str]
			if !ok {
				return nil, connector.Permanent(f.name, fmt.Errorf("stage %q has no pipeline stage in setting %s", v.Str, SettingStages))
			}
			return str(hs)
		}
		return str(v.Str)
	case model.TypeDecimal:
		d := v.Num
		if f.percent {
			d = d.Mul(decimal.NewFromInt(100))
		}
		return str(d.String())
	case model.TypeMoney:
		if f.currencyProp == "" && v.Currency != f.currency {
			return nil, connector.Permanent(f.name, fmt.Errorf("amount in %s, but property %s holds %s", v.Currency, f.property, f.currency))
		}
		return str(v.Num.String())
	case model.TypeDate:
		return str(strconv.FormatInt(v.Time.UnixMilli(), 10))
	case model.TypeDateTime:
		return str(v.Time.UTC().Format("2006-01-02T15:04:05.000Z"))
	case model.TypeBool:
		return str(strconv.FormatBool(v.Bool))
	case model.TypeRef:
		return str(v.Str)
	}
	return nil, connector.Permanent(f.name, fmt.Errorf("type %s cannot be written to a property", f.typ))
}

// properties converts fields to an input's properties. Association fields are
// left out; read-only fields are refused.
func (c *Conn) inputProperties(o *object, fields model.Fields) (map[string]*string, error) {
	props := map[string]*string{}
	for _, name := range fields.Names() {
		f, ok := o.byName[name]
		if !ok {
			return nil, connector.Permanent(name, fmt.Errorf("field %s of %s is not mapped in hubspot system %s", name, o.entity, c.system))
		}
		if f.association != "" {
			continue
		}
		if f.readOnly {
			return nil, connector.Permanent(name, fmt.Errorf("property %s is computed by HubSpot and cannot be written", f.property))
		}
		v := fields[name]
		p, err := c.toProperty(f, v)
		if err != nil {
			return nil, err
		}
		props[f.property] = p
		if f.typ == model.TypeMoney && f.currencyProp != "" && !v.IsNull() {
			cur := v.Currency
			props[f.currencyProp] = &cur
		}
	}
	return props, nil
}

// records converts objects to canonical records, in id order, reading the
// associations of ref and lines fields. want restricts the fields (nil: all).
func (c *Conn) records(ctx context.Context, o *object, objs []hubspothttp.Object, want []string) ([]model.Record, error) {
	slices.SortFunc(objs, func(a, b hubspothttp.Object) int { return compareIDs(a.ID, b.ID) })
	out := make([]model.Record, len(objs))
	for i, ob := range objs {
		r := model.Record{Entity: o.entity, ID: ob.ID, UpdatedAt: modified(ob), LinkKey: ob.Value(o.link),
			Archived: ob.Archived, Fields: model.Fields{}}
		for _, f := range o.fields {
			if f.association == "" && wanted(want, f.name) {
				r.Fields[f.name] = c.fromProperty(f, ob)
			}
		}
		out[i] = r
	}
	if err := c.readAssociations(ctx, o, out, want); err != nil {
		return nil, err
	}
	return out, nil
}

func wanted(want []string, name string) bool { return want == nil || slices.Contains(want, name) }

// compareIDs orders numeric ids numerically.
func compareIDs(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	return strings.Compare(a, b)
}

// readAssociations fills the ref and lines fields mapped to associations.
func (c *Conn) readAssociations(ctx context.Context, o *object, recs []model.Record, want []string) error {
	var live []string
	for _, r := range recs {
		if !r.Archived {
			live = append(live, r.ID)
		}
	}
	for _, f := range o.fields {
		if f.association == "" || !wanted(want, f.name) {
			continue
		}
		assoc := map[string][]string{}
		for start := 0; start < len(live); start += hubspothttp.MaxBatch {
			chunk := live[start:min(start+hubspothttp.MaxBatch, len(live))]
			m, err := c.api.BatchReadAssociations(ctx, o.name, f.association, chunk)
			if err != nil {
				return fmt.Errorf("read %s associations: %w", f.association, c.callErr(err))
			}
			for k, v := range m {
				slices.SortFunc(v, compareIDs)
				assoc[k] = v
			}
		}
		if f.typ == model.TypeRef {
			for i := range recs {
				if ids := assoc[recs[i].ID]; len(ids) > 0 {
					recs[i].Fields[f.name] = model.Ref(f.ref, ids[0])
				} else {
					recs[i].Fields[f.name] = model.Null
				}
			}
			continue
		}
		// Lines: read the associated line items with the order_line mapping.
		var lineIDs []string
		for _, ids := range assoc {
			lineIDs = append(lineIDs, ids...)
		}
		lines, err := c.batchRead(ctx, o.lines, lineIDs, "", false)
		if err != nil {
			return fmt.Errorf("read %s: %w", f.association, err)
		}
		for i := range recs {
			var objs []hubspothttp.Object
			for _, id := range assoc[recs[i].ID] {
				if ob, ok := lines[id]; ok {
					objs = append(objs, ob)
				}
			}
			lineRecs, err := c.records(ctx, o.lines, objs, nil)
			if err != nil {
				return err
			}
			recs[i].Fields[f.name] = model.Lines(lineRecs)
		}
	}
	return nil
}
