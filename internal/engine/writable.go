package engine

import (
	"fmt"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/concord-sync/concord/internal/clean"
	"github.com/concord-sync/concord/internal/model"
)

// Limiter is implemented by connectors whose fields hold numbers of bounded
// size: a numeric(12,2) column, Tryton's digits. FieldDigits returns, for an
// entity the connector writes, the digits of each bounded field by the
// connector's field name; a field of lines is named "lines.unit_price". Fields
// not listed hold any number. It is called once per batch and does no I/O.
type Limiter interface {
	FieldDigits(entity model.Entity) map[string]model.Digits
}

// totalFields names, per entity, the money field that states the total of the
// entity's lines: the ERP's total must equal it to the cent.
var totalFields = map[model.Entity]string{model.Deal: "amount", model.Order: "untaxed"}

// checkWritable runs on the translated records just before the diff: it
// rounds line amounts with the money rule (model.RoundMoney) and refuses, by
// quarantine with the field and the reason, values the target must not store:
// text with control characters or NUL, a negative quantity on an order line
// unless the leg allows returns, a number with more digits than the target's
// field holds. When a record's lines, each rounded, do not add up to the total
// the record states to the cent (a deal's amount computed with another rule),
// the write goes ahead and the plan's reason says by how many cents and which
// lines.
func (e *Engine) checkWritable(bp *BatchPlan) {
	l := bp.Leg
	var digits map[string]model.Digits
	if lim, ok := e.conns[l.Target].(Limiter); ok {
		digits = lim.FieldDigits(l.targetEntity())
	}
	for _, p := range bp.live() {
		roundLines(l, p)
		if field, reason := l.refusal(p.Source, digits); field != "" {
			p.Action, p.Field, p.Reason = ActionQuarantine, field, reason
		}
	}
}

// refusal returns the first field of rec the leg must not write, and why.
func (l *Leg) refusal(rec model.Record, digits map[string]model.Digits) (field, reason string) {
	for _, f := range l.Fields {
		v := rec.Fields[f]
		t := l.targetField(f)
		if v.Kind != model.KindLines {
			if why := refuseValue(v, l.Target, t, digits); why != "" {
				return f, why
			}
			continue
		}
		for i, line := range v.Lines {
			for _, lf := range line.Fields.Names() {
				lv := line.Fields[lf]
				why := refuseValue(lv, l.Target, t+"."+lf, digits)
				if why == "" && lf == "quantity" && lv.Kind == model.KindDecimal && lv.Num.IsNegative() && !l.AllowReturns {
					why = fmt.Sprintf("quantity %s is negative (a return); set allow_returns: true on flow %s to send returns", lv.Num, l.Flow)
				}
				if why != "" {
					return f + "." + lf, fmt.Sprintf("line %d: %s", i+1, why)
				}
			}
		}
	}
	return "", ""
}

// refuseValue returns why v cannot be written into field of the system
// target, or "".
func refuseValue(v model.Value, target, field string, digits map[string]model.Digits) string {
	switch v.Kind {
	case model.KindText:
		if err := clean.CheckText(v.Str); err != nil {
			return err.Error()
		}
	case model.KindDecimal, model.KindMoney:
		if d, ok := digits[field]; ok {
			if err := d.Check(v.Num); err != nil {
				return fmt.Sprintf("%s %s cannot hold %s (%s): %v", target, field, v.Num, d, err)
			}
		}
	}
	return ""
}

// roundLines rounds each line amount of p with the money rule, from quantity x
// unit price x (1 - discount) when the line has a unit price, else from the
// amount it states; and compares the sum of the rounded lines with the total
// the record states, if any.
func roundLines(l *Leg, p *RecordPlan) {
	for _, f := range l.Fields {
		v := p.Source.Fields[f]
		if v.Kind != model.KindLines || len(v.Lines) == 0 {
			continue
		}
		lines := make([]model.Record, len(v.Lines))
		sum, currency, known := decimal.Zero, "", true
		var moved []string
		for i, line := range v.Lines {
			exact, cur, ok := lineAmount(line.Fields)
			lines[i] = line
			if !ok {
				known = false
				continue
			}
			rounded := model.RoundMoney(exact, cur)
			if a := line.Fields["amount"]; a.Kind == model.KindMoney && !a.Num.Equal(rounded) {
				lines[i] = line.Clone()
				lines[i].Fields["amount"] = model.Money(rounded, cur)
			}
			if !exact.Equal(rounded) {
				moved = append(moved, fmt.Sprintf("line %d %s -> %s", i+1, exact, rounded))
			}
			sum, currency = sum.Add(rounded), cur
		}
		p.Source = p.Source.Clone()
		p.Source.Fields[f] = model.Lines(lines)
		total := p.Source.Fields[totalFields[l.Entity]]
		if !known || total.Kind != model.KindMoney || (currency != "" && total.Currency != currency) {
			continue
		}
		// The total to the cent is matched; an amount that ends in exactly
		// half a cent is matched by either neighbouring cent (105.645 is
		// 105.64 half to even, 105.65 as most screens show it).
		half := decimal.New(5, -model.CurrencyDigits(total.Currency)-1)
		if sum.Sub(total.Num).Abs().LessThanOrEqual(half) {
			continue
		}
		want := model.RoundMoney(total.Num, total.Currency)
		detail := ""
		if len(moved) > 0 {
			detail = " (" + strings.Join(moved, ", ") + ")"
		}
		more := "more"
		if sum.LessThan(want) {
			more = "less"
		}
		p.Reason = fmt.Sprintf("%s %s %s: amount %s is %s to the cent, but its lines, each rounded half to even as %s does, add up to %s, %s %s%s",
			l.Source, l.Entity, p.Source.ID, total.Num, want, l.Target, sum, model.Cents(sum.Sub(want).Abs(), total.Currency), more, detail)
	}
}

// lineAmount returns the exact amount of a line and its currency: quantity
// (1 when blank) x unit price x (1 - discount) when the line has a unit
// price, else the amount it states. ok is false when neither is known.
func lineAmount(f model.Fields) (exact decimal.Decimal, currency string, ok bool) {
	price := f["unit_price"]
	if price.Kind != model.KindMoney {
		if a := f["amount"]; a.Kind == model.KindMoney {
			return a.Num, a.Currency, true
		}
		return decimal.Zero, "", false
	}
	qty := decimal.NewFromInt(1)
	if q := f["quantity"]; q.Kind == model.KindDecimal {
		qty = q.Num
	}
	disc := decimal.Zero
	if d := f["discount"]; d.Kind == model.KindDecimal {
		disc = d.Num
	}
	return model.LineAmount(qty, price.Num, disc), price.Currency, true
}
