package assess

import (
	"cmp"
	"slices"

	"github.com/concord-sync/concord/internal/clean"
	"github.com/concord-sync/concord/internal/match"
	"github.com/concord-sync/concord/internal/model"
)

// candidatesPerRecord is how many ERP candidates each CRM customer keeps
// before the pairs are made one to one.
const candidatesPerRecord = 3

// matchRecords turns records into the matcher's records: every field that is
// neither a reference nor lines, as text.
func matchRecords(recs []model.Record) []match.Record {
	out := make([]match.Record, 0, len(recs))
	for _, r := range recs {
		fields := make(map[string]string, len(r.Fields))
		for f, v := range r.Fields {
			if v.IsNull() || v.Kind == model.KindLines || v.Kind == model.KindRef {
				continue
			}
			if v.Kind == model.KindMoney {
				fields[f] = v.Num.String()
				continue
			}
			fields[f] = v.String()
		}
		out = append(out, match.Record{ID: r.ID, Fields: fields})
	}
	return out
}

// pairCustomers matches the CRM's accounts with the ERP's, one to one, best
// score first: each CRM account keeps its best candidates at or above the
// review threshold, and a pair is taken when neither side is taken yet.
func pairCustomers(in *Input) (Customers, map[string]string) {
	crm, erp := in.CRM.Records[model.Account], in.ERP.Records[model.Account]
	out := Customers{CRM: len(crm), ERP: len(erp), Pairs: []CustomerPair{}}
	rules, ok := in.Rules[model.Account]
	byCRM := map[string]string{}
	if !ok || len(crm) == 0 || len(erp) == 0 {
		out.OnlyCRM, out.OnlyERP = len(crm), len(erp)
		return out, byCRM
	}
	ix := match.NewIndex(rules)
	for _, r := range matchRecords(erp) {
		ix.Add(r)
	}
	type scored struct {
		crm string
		c   match.Candidate
	}
	var all []scored
	for _, r := range matchRecords(crm) {
		for _, c := range ix.Candidates(r, candidatesPerRecord, nil) {
			if c.Score >= rules.Review {
				all = append(all, scored{r.ID, c})
			}
		}
	}
	slices.SortStableFunc(all, func(a, b scored) int {
		return cmp.Or(cmp.Compare(b.c.Score, a.c.Score), cmp.Compare(a.crm, b.crm), cmp.Compare(a.c.ID, b.c.ID))
	})
	names := func(recs []model.Record) map[string]string {
		m := make(map[string]string, len(recs))
		for _, r := range recs {
			m[r.ID] = r.Fields.Get("name").String()
		}
		return m
	}
	crmNames, erpNames := names(crm), names(erp)
	takenERP := map[string]bool{}
	for _, s := range all {
		if byCRM[s.crm] != "" || takenERP[s.c.ID] {
			continue
		}
		byCRM[s.crm], takenERP[s.c.ID] = s.c.ID, true
		likely := s.c.Score < rules.AutoLink
		if likely {
			out.Likely++
		} else {
			out.Matched++
		}
		out.Pairs = append(out.Pairs, CustomerPair{CRMID: s.crm, ERPID: s.c.ID, CRMName: crmNames[s.crm], ERPName: erpNames[s.c.ID],
			Score: s.c.Score, Key: s.c.Key, Likely: likely})
	}
	out.OnlyCRM = len(crm) - len(byCRM)
	out.OnlyERP = len(erp) - len(byCRM)
	return out, byCRM
}

// cleanRules returns the rules cleaning would apply to field of e: the
// config's, plus the check of the field's kind (e-mail, phone, country, VAT)
// when the config's rules do not already validate it.
func (in *Input) cleanRules(e model.Entity, field string) []string {
	rules := slices.Clone(in.Clean[e][field])
	if kind := defaultRule(field); kind != "" && !slices.Contains(rules, kind) {
		rules = append(rules, kind)
	}
	return rules
}

// defaultRule is the validating rule of a field by its name, "" for fields
// no rule checks.
func defaultRule(field string) string {
	switch field {
	case "email", "phone", "country", "vat":
		return field
	}
	return ""
}

// cleaned applies rules to field of r, reading phones in the record's
// country (else def); the error is the rule's refusal.
func cleaned(r model.Record, field string, rules []string, def string) (model.Value, error) {
	v := r.Fields.Get(field)
	return clean.ApplyWith(rules, v, clean.Options{Country: recordCountry(r, def)})
}

// recordCountry is the ISO code of the record's country, else def.
func recordCountry(r model.Record, def string) string {
	if c := r.Fields.Get("country"); c.Kind == model.KindText && c.Str != "" {
		if code, err := clean.Country(c.Str); err == nil {
			return code
		}
	}
	return def
}

// same reports whether two values of one field in two systems agree: equal
// values, or equal numbers when one side has no currency, or equal text.
func same(a, b model.Value) bool {
	if a.IsNull() || b.IsNull() {
		return a.IsNull() && b.IsNull()
	}
	if a.Kind == b.Kind {
		return a.Equal(b)
	}
	numeric := func(v model.Value) bool { return v.Kind == model.KindMoney || v.Kind == model.KindDecimal }
	if numeric(a) && numeric(b) {
		return a.Num.Equal(b.Num)
	}
	return a.String() == b.String()
}

// driftFields are the account fields both systems map that can be compared
// (no references, no lines), sorted.
func (in *Input) driftFields() []string {
	var out []string
	for _, f := range in.CRM.Fields[model.Account] {
		if !in.ERP.Maps(model.Account, f) {
			continue
		}
		if def, ok := model.LookupField(model.Account, f); ok && (def.Type == model.TypeRef || def.Type == model.TypeLines) {
			continue
		}
		out = append(out, f)
	}
	slices.Sort(out)
	return out
}

// drift compares the customers both systems hold (matched and likely pairs)
// field by field, after cleaning.
func drift(in *Input, pairs []CustomerPair) []FieldDrift {
	crm := byID(in.CRM.Records[model.Account])
	erp := byID(in.ERP.Records[model.Account])
	out := []FieldDrift{}
	for _, f := range in.driftFields() {
		rules := in.cleanRules(model.Account, f)
		d := FieldDrift{Field: f, Owner: in.Owners[model.Account][f], Examples: []DriftExample{}}
		for _, p := range pairs {
			a, b := crm[p.CRMID], erp[p.ERPID]
			// Both phones are read in the pair's country: either record's,
			// else the system's default.
			country := cmp.Or(recordCountry(a, ""), recordCountry(b, ""))
			va, err := cleaned(a, f, rules, cmp.Or(country, in.CRM.DefaultCountry))
			if err != nil {
				va = a.Fields.Get(f)
			}
			vb, err := cleaned(b, f, rules, cmp.Or(country, in.ERP.DefaultCountry))
			if err != nil {
				vb = b.Fields.Get(f)
			}
			if same(va, vb) {
				continue
			}
			d.Pairs++
			if len(d.Examples) < maxExamples {
				d.Examples = append(d.Examples, DriftExample{CRMID: p.CRMID, ERPID: p.ERPID, CRMValue: a.Fields.Get(f).String(), ERPValue: b.Fields.Get(f).String()})
			}
		}
		if d.Pairs > 0 {
			out = append(out, d)
		}
	}
	slices.SortStableFunc(out, func(a, b FieldDrift) int { return cmp.Compare(b.Pairs, a.Pairs) })
	return out
}

func byID(recs []model.Record) map[string]model.Record {
	m := make(map[string]model.Record, len(recs))
	for _, r := range recs {
		m[r.ID] = r
	}
	return m
}
