package config

import (
	"fmt"
	"slices"

	"github.com/concord-sync/concord/internal/match"
	"github.com/concord-sync/concord/internal/model"
)

// What a record with no link in the target may do (Flow.Unlinked).
const (
	// UnlinkedMatch looks for the same record in the target first: a sure
	// match is linked, a likely one waits for a person (concord match), and
	// only a record with no likely match is created.
	UnlinkedMatch = "match"
	// UnlinkedCreate creates every record with no link.
	UnlinkedCreate = "create"
	// UnlinkedUpdateOnly never creates: only linked records are updated.
	UnlinkedUpdateOnly = "update_only"
)

// UnlinkedModes lists the accepted values of unlinked and reverse_unlinked, in
// documentation order. Do not modify.
var UnlinkedModes = []string{UnlinkedMatch, UnlinkedCreate, UnlinkedUpdateOnly}

// Default thresholds of a match block for an entity match.DefaultRules does
// not know.
const (
	defaultAutoLink = 0.95
	defaultReview   = 0.8
)

// Match says how records of one entity are matched across systems (the
// entity's match block); fields not set in the file take match.DefaultRules'.
type Match struct {
	// Keys are fields whose equal normalised values identify the same record.
	Keys []string
	// Fields are the fields the similarity score compares.
	Fields []string
	// AutoLink is the score at or above which a pair is linked without review.
	AutoLink float64
	// Review is the score at or above which a pair waits for a person.
	Review float64
	// Line is the line of the match block in the file.
	Line int
}

// Rules returns the matcher's rules.
func (m *Match) Rules() match.Rules {
	return match.Rules{Keys: slices.Clone(m.Keys), Fields: slices.Clone(m.Fields), AutoLink: m.AutoLink, Review: m.Review}
}

// MatchRules returns the rules records of entity e are matched with: its match
// block, else match.DefaultRules. ok is false for entities with neither.
func (c *Config) MatchRules(e model.Entity) (match.Rules, bool) {
	if ent, ok := c.Entities[e]; ok && ent.Match != nil {
		return ent.Match.Rules(), true
	}
	return match.DefaultRules(e)
}

// entityMatch decodes an entity's match block, after its fields.
func (l *loader) entityMatch(decl *Entity, e entry) {
	if e.v == nil || e.v.kind == kindNull {
		return
	}
	ent := decl.Name
	where := fmt.Sprintf("entities.%s.match", ent)
	m := l.object(e.v, where, matchSchema)
	if e.v.kind != kindMap {
		return
	}
	def, known := match.DefaultRules(ent)
	if !known {
		def = match.Rules{AutoLink: defaultAutoLink, Review: defaultReview}
	}
	mt := &Match{Keys: def.Keys, Fields: def.Fields, AutoLink: def.AutoLink, Review: def.Review, Line: e.k.line}
	fieldList := func(key string) ([]string, bool) {
		en, ok := m[key]
		if !ok || en.v.kind == kindNull {
			return nil, false
		}
		var out []string
		for _, it := range l.list(en.v, where+"."+key) {
			name, ok := l.str(it, where+"."+key)
			if !ok {
				continue
			}
			if _, std := model.LookupField(ent, name); !std && decl.Fields[name] == nil {
				l.add(it, "%s.%s: %s is not a field of %s; use a standard field or one declared under entities.%s.fields", where, key, name, ent, ent)
				continue
			}
			if slices.Contains(out, name) {
				l.add(it, "%s.%s lists %s twice", where, key, name)
				continue
			}
			out = append(out, name)
		}
		return out, true
	}
	if keys, ok := fieldList("keys"); ok {
		mt.Keys = keys
	}
	if fields, ok := fieldList("fields"); ok {
		mt.Fields = fields
	}
	if len(mt.Keys) == 0 && len(mt.Fields) == 0 {
		l.add(e.k, "%s: give keys or fields to compare; %s has no default", where, ent)
	}
	auto, autoOK := l.score(m["auto_link"].v, where+".auto_link")
	if autoOK {
		mt.AutoLink = auto
	}
	rev, revOK := l.score(m["review"].v, where+".review")
	if revOK {
		mt.Review = rev
	}
	if mt.Review > mt.AutoLink {
		at := m["review"].v
		if at == nil {
			at = m["auto_link"].v
		}
		l.add(at, "%s: review (%g) must not be above auto_link (%g): pairs between the two wait for a person", where, mt.Review, mt.AutoLink)
	}
	decl.Match = mt
}

// score decodes a threshold: a number in (0, 1].
func (l *loader) score(n *node, where string) (float64, bool) {
	v, ok := l.number(n, where, "a number between 0 and 1")
	if ok && (v <= 0 || v > 1) {
		l.add(n, "%s: %g is out of range; want a score above 0 and at most 1", where, v)
		return 0, false
	}
	return v, ok
}

// flowUnlinked decodes what a flow's unlinked records may do: unlinked for
// the flow (its forward leg) and reverse_unlinked for the reverse leg of a
// two-way flow. The defaults: match for entities with match rules, create for
// others; the reverse leg never creates (update_only).
func (l *loader) flowUnlinked(f *Flow, m map[string]entry, label string) {
	_, hasRules := l.cfg.MatchRules(f.Entity)
	f.Unlinked = UnlinkedCreate
	if hasRules && f.TargetEntity == f.Entity && f.LinkBy == "" {
		f.Unlinked = UnlinkedMatch
	}
	check := func(key, mode string) bool {
		n := m[key].v
		switch {
		case mode == UnlinkedMatch && !hasRules && f.Entity.Valid():
			l.add(n, "%s: %s: match needs match rules for %s; declare entities.%s.match with keys or fields", label, key, f.Entity, f.Entity)
		case mode == UnlinkedMatch && f.TargetEntity != f.Entity:
			l.add(n, "%s: %s: match compares records of one entity; a flow that writes %s from %s creates or updates only", label, key, f.TargetEntity, f.Entity)
		default:
			return true
		}
		return false
	}
	if v, ok := l.enum(m["unlinked"].v, label+": unlinked", UnlinkedModes); ok {
		if f.LinkBy != "" {
			l.add(m["unlinked"].k, "%s: unlinked does not apply to a link_by flow, which only updates", label)
		} else if check("unlinked", v) {
			f.Unlinked = v
		}
	}
	if f.Mode == ModeTwoWay {
		f.ReverseUnlinked = UnlinkedUpdateOnly
	}
	if v, ok := l.enum(m["reverse_unlinked"].v, label+": reverse_unlinked", UnlinkedModes); ok {
		if f.Mode != ModeTwoWay {
			l.add(m["reverse_unlinked"].k, "%s: reverse_unlinked applies to two-way flows only; use unlinked", label)
		} else if check("reverse_unlinked", v) {
			f.ReverseUnlinked = v
		}
	}
}
