package assess

import (
	"fmt"
	"slices"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/concord-sync/concord/internal/model"
)

// Recommend is the first flow to switch on: the one relieving the most
// weekly cost, with its minimal fields, the flows it needs, and a config
// snippet to paste under the config's flows.
type Recommend struct {
	Flow   string       `json:"flow"`
	Source string       `json:"source"`
	Target string       `json:"target"`
	Entity model.Entity `json:"entity"`
	// TargetEntity is the entity written, when another than Entity.
	TargetEntity model.Entity      `json:"target_entity,omitempty"`
	Fields       []string          `json:"fields"`
	Map          map[string]string `json:"map,omitempty"`
	// Needs are the flows it cannot work without, in the snippet too.
	Needs []string `json:"needs,omitempty"`
	// CostPerWeek is the weekly cost of the pains it relieves.
	CostPerWeek decimal.Decimal `json:"cost_per_week"`
	Currency    string          `json:"currency"`
	Why         string          `json:"why"`
	// Before are the clean-ups to do in the systems first (merge
	// duplicates, fix values cleaning would quarantine).
	Before []string `json:"before,omitempty"`
	// Snippet is a YAML fragment: a flows list to put in the config.
	Snippet string `json:"snippet"`
	// Compact is the same snippet in YAML flow style, one line a flow, for
	// the HTML report (where indentation would not survive).
	Compact []string `json:"-"`
}

// flowDef is one flow of a snippet.
type flowDef struct {
	name, source, target, comment string
	entity, targetEntity          model.Entity
	trigger, linkBy               string
	fields                        []string
	rename                        map[string]string
}

// recommend picks the flow relieving the most weekly cost among those the
// systems and the config can carry, and writes its snippet. nil when no pain
// maps to a flow that can be built.
func recommend(in *Input, a Assumptions, r *Report) *Recommend {
	cost := map[string]decimal.Decimal{}
	var reasons = map[string][]string{}
	var before []string
	for _, p := range r.Pains {
		if p.Flow == "" {
			before = append(before, fmt.Sprintf("%s: %d (%s %s a week)", p.Title, p.Count, p.CostPerWeek.StringFixed(2), p.Currency))
			continue
		}
		cost[p.Flow] = cost[p.Flow].Add(p.CostPerWeek)
		reasons[p.Flow] = append(reasons[p.Flow], p.Title)
	}
	customers := customersFlow(in, r.Drift)
	orders := ordersFlow(in)
	payments := paymentsFlow(in)
	type option struct {
		flow  string
		defs  []*flowDef
		needs []string
	}
	var options []option
	if customers != nil {
		options = append(options, option{FlowCustomers, []*flowDef{customers}, nil})
	}
	if orders != nil && customers != nil {
		c := *customers
		c.trigger, c.comment = "deal_won", "moves a customer once one of its deals is won: the order handoff pulls it"
		options = append(options, option{FlowOrders, []*flowDef{&c, orders}, []string{FlowCustomers}})
		if payments != nil {
			options = append(options, option{FlowPayments, []*flowDef{&c, orders, payments}, []string{FlowCustomers, FlowOrders}})
		}
	}
	// The order of options breaks ties: customers, then orders, then
	// payments.
	best := -1
	for i, o := range options {
		if cost[o.flow].IsPositive() && (best < 0 || cost[o.flow].GreaterThan(cost[options[best].flow])) {
			best = i
		}
	}
	if best < 0 {
		return nil
	}
	o := options[best]
	main := o.defs[len(o.defs)-1]
	rec := &Recommend{Flow: o.flow, Source: main.source, Target: main.target, Entity: main.entity, TargetEntity: main.targetEntity,
		Fields: main.fields, Map: main.rename, Needs: o.needs, CostPerWeek: cost[o.flow].Round(2), Currency: a.Currency, Before: before,
		Why: fmt.Sprintf("relieves %s %s a week: %s", cost[o.flow].StringFixed(2), a.Currency, strings.Join(reasons[o.flow], "; "))}
	rec.Snippet, rec.Compact = snippet(o.defs), compact(o.defs)
	return rec
}

// owned returns the fields of cands that both systems map and the config
// declares owned by owner.
func (in *Input) owned(e model.Entity, owner string, cands []string) []string {
	var out []string
	for _, f := range cands {
		if in.CRM.Maps(e, f) && in.ERP.Maps(e, f) && in.Owners[e][f] == owner {
			out = append(out, f)
		}
	}
	return out
}

// customersFlow is the CRM -> ERP account flow with its minimal fields: the
// required ones, the drifted ones and the name, among the fields both
// systems map and the CRM owns; all of those when none of these is.
func customersFlow(in *Input, drifted []FieldDrift) *flowDef {
	cands := in.owned(model.Account, in.CRM.Name, in.driftFields())
	if len(cands) == 0 {
		return nil
	}
	var fields []string
	for _, f := range cands {
		if f == "name" || in.Required[model.Account][f] {
			fields = append(fields, f)
		}
	}
	for _, d := range drifted {
		if slices.Contains(cands, d.Field) {
			fields = append(fields, d.Field)
		}
	}
	if len(fields) == 0 {
		fields = cands
	}
	slices.Sort(fields)
	fields = slices.Compact(fields)
	return &flowDef{name: FlowCustomers, source: in.CRM.Name, target: in.ERP.Name, entity: model.Account, fields: fields}
}

// ordersFlow is the won deal -> ERP order handoff: the customer and the
// lines, when both systems map them and the CRM owns them on both entities.
func ordersFlow(in *Input) *flowDef {
	var fields []string
	for _, f := range []string{"account", "lines"} {
		if in.CRM.Maps(model.Deal, f) && in.ERP.Maps(model.Order, f) &&
			in.Owners[model.Deal][f] == in.CRM.Name && in.Owners[model.Order][f] == in.CRM.Name {
			fields = append(fields, f)
		}
	}
	if len(fields) < 2 {
		return nil
	}
	return &flowDef{name: FlowOrders, source: in.CRM.Name, target: in.ERP.Name, entity: model.Deal, targetEntity: model.Order,
		trigger: "deal_won", fields: fields, comment: "a won deal becomes an ERP order with its lines"}
}

// paymentsFlow carries the invoice's state back onto the deal of its order.
func paymentsFlow(in *Input) *flowDef {
	if !in.ERP.Maps(model.Invoice, "order") {
		return nil
	}
	rename := map[string]string{"number": "invoice_number", "state": "invoice_state"}
	var fields []string
	out := map[string]string{}
	for _, f := range []string{"number", "state", "amount_due", "paid_date", "overdue"} {
		t := f
		if n, ok := rename[f]; ok {
			t = n
		}
		if in.ERP.Maps(model.Invoice, f) && in.Owners[model.Invoice][f] == in.ERP.Name &&
			in.CRM.Maps(model.Deal, t) && in.Owners[model.Deal][t] == in.ERP.Name {
			fields = append(fields, f)
			if t != f {
				out[f] = t
			}
		}
	}
	if len(fields) == 0 {
		return nil
	}
	return &flowDef{name: FlowPayments, source: in.ERP.Name, target: in.CRM.Name, entity: model.Invoice, targetEntity: model.Deal,
		linkBy: "order", fields: fields, rename: out, comment: "the invoice of the order lands on the deal"}
}

// snippet writes defs as a YAML flows list.
func snippet(defs []*flowDef) string {
	var b strings.Builder
	b.WriteString("# Recommended by concord assess: paste under the config's flows, then run\n# concord validate, concord doctor and concord plan.\nflows:\n")
	for _, f := range defs {
		if f.comment != "" {
			fmt.Fprintf(&b, "  # %s\n", f.comment)
		}
		fmt.Fprintf(&b, "  - name: %s\n    source: %s\n    target: %s\n    entity: %s\n", f.name, f.source, f.target, f.entity)
		if f.targetEntity != "" {
			fmt.Fprintf(&b, "    target_entity: %s\n", f.targetEntity)
		}
		if f.trigger != "" {
			fmt.Fprintf(&b, "    trigger: %s\n", f.trigger)
		}
		if f.linkBy != "" {
			fmt.Fprintf(&b, "    link_by: %s\n", f.linkBy)
		}
		fmt.Fprintf(&b, "    fields: [%s]\n", strings.Join(f.fields, ", "))
		if m := renames(f.rename); m != "" {
			fmt.Fprintf(&b, "    map: {%s}\n", m)
		}
	}
	return b.String()
}

// compact writes defs as YAML lines without indentation: "flows:" then one
// flow-style mapping a line.
func compact(defs []*flowDef) []string {
	out := []string{"flows:"}
	for _, f := range defs {
		parts := []string{"name: " + f.name, "source: " + f.source, "target: " + f.target, "entity: " + string(f.entity)}
		if f.targetEntity != "" {
			parts = append(parts, "target_entity: "+string(f.targetEntity))
		}
		if f.trigger != "" {
			parts = append(parts, "trigger: "+f.trigger)
		}
		if f.linkBy != "" {
			parts = append(parts, "link_by: "+f.linkBy)
		}
		parts = append(parts, "fields: ["+strings.Join(f.fields, ", ")+"]")
		if m := renames(f.rename); m != "" {
			parts = append(parts, "map: {"+m+"}")
		}
		out = append(out, "- {"+strings.Join(parts, ", ")+"}")
	}
	return out
}

// renames writes a map as "a: b, c: d" in key order.
func renames(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ": " + m[k]
	}
	return strings.Join(parts, ", ")
}
