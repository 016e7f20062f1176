package assess

import (
	"errors"
	"slices"

	"github.com/concord-sync/concord/internal/clean"
	"github.com/concord-sync/concord/internal/match"
	"github.com/concord-sync/concord/internal/model"
)

// duplicates finds the clusters of likely duplicates of every matched entity
// inside each system.
func duplicates(in *Input) []Duplicates {
	out := []Duplicates{}
	for _, sys := range []*System{&in.CRM, &in.ERP} {
		for _, e := range model.Entities {
			recs := sys.Records[e]
			rules, ok := in.Rules[e]
			if !ok || len(recs) < 2 {
				continue
			}
			clusters := match.Within(rules, matchRecords(recs))
			d := Duplicates{System: sys.Name, Entity: e, Records: len(recs), Clusters: len(clusters), Examples: []match.Cluster{}}
			for _, c := range clusters {
				d.Extra += len(c.IDs) - 1
				if len(d.Examples) < maxExamples {
					d.Examples = append(d.Examples, c)
				}
			}
			out = append(out, d)
		}
	}
	return out
}

// validating are the rules that can refuse a value.
var validating = []string{"email", "phone", "country", "vat"}

// quality counts, per system, entity and field, the values cleaning would
// quarantine: a required field that is empty, a value a rule refuses. A
// field is checked in the system that owns it (or in both when the config
// names no owner), with the config's rules plus the check of the field's kind
// (see cleanRules).
func quality(in *Input) []Quality {
	out := []Quality{}
	for _, sys := range []*System{&in.CRM, &in.ERP} {
		for _, e := range model.Entities {
			fields := slices.Clone(sys.Fields[e])
			slices.Sort(fields)
			for _, f := range fields {
				if owner := in.Owners[e][f]; owner != "" && owner != sys.Name {
					continue
				}
				rules := in.cleanRules(e, f)
				required := in.Required[e][f]
				if !required && !slices.ContainsFunc(rules, func(r string) bool { return slices.Contains(validating, r) }) {
					continue
				}
				q := Quality{System: sys.Name, Entity: e, Field: f, Rules: rules, Examples: []QualityExample{}}
				if required {
					q.Rules = append([]string{"required"}, q.Rules...)
				}
				for _, r := range sys.Records[e] {
					v := r.Fields.Get(f)
					reason := ""
					switch {
					case v.IsNull() && required:
						reason = "is required and empty"
					case v.IsNull():
						continue
					default:
						q.Checked++
						if _, err := cleaned(r, f, rules, sys.DefaultCountry); err != nil {
							reason = err.Error()
							var ce *clean.Error
							if errors.As(err, &ce) {
								reason = ce.Rule + ": " + ce.Msg
							}
						}
					}
					if reason == "" {
						continue
					}
					if v.IsNull() {
						q.Checked++
					}
					q.Failed++
					if len(q.Examples) < maxExamples {
						q.Examples = append(q.Examples, QualityExample{ID: r.ID, Value: v.String(), Reason: reason})
					}
				}
				if q.Checked > 0 {
					out = append(out, q)
				}
			}
		}
	}
	return out
}
