package reconcile

import (
	"cmp"
	"hash/maphash"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/concord-sync/concord/internal/clean"
	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/match"
	"github.com/concord-sync/concord/internal/model"
)

// Side is one of the two systems a Comparer compares.
type Side int

// The two sides of a comparison.
const (
	SideA Side = 0
	SideB Side = 1
)

// other returns the opposite side.
func (s Side) other() Side { return 1 - s }

// Field is one field a Comparer compares.
type Field struct {
	// Names are the field's canonical names on A and on B (a flow's map may
	// rename it; most often both are the same).
	Names [2]string
	// Clean are the clean rules applied to both sides' values before they
	// are compared.
	Clean []string
	// Owner is the side whose value is right.
	Owner Side
	// Flow and Leg carry the field from the owner to the other side.
	Flow, Leg string
	// Conflict is the leg's conflict rule: owner_unless_blank makes a blank
	// owner value no drift, newest_wins makes drift whose other side changed
	// later not fixable.
	Conflict string
}

// Spec is one comparison: the records of one entity between two systems.
type Spec struct {
	Entity model.Entity
	// Systems names side A and side B.
	Systems [2]string
	Fields  []Field
	// DefaultCountry per side is the country local phone numbers are read in
	// when a record has no country (the clean rules' option).
	DefaultCountry [2]string
	// Match, when not nil, finds candidates for the unlinked records of each
	// side among the unlinked records of the other.
	Match *match.Rules
}

// Comparer compares the records of one entity between two systems, fed in
// pages: first the links (Link), then each side's records (Add) as they are
// read, in any order and page size. Of a linked record it keeps only a
// 64-bit hash of the compared fields' values (the owner's cleaned by the
// clean rules, the other side's as read: what Concord wrote there) and its
// modification time; of an unlinked record its name and the fields matching
// compares. Result names the pairs whose hashes differ (Suspect); Diff
// compares such a pair, read again, field by field. It is not safe for
// concurrent use.
type Comparer struct {
	spec  Spec
	seed  maphash.Seed
	pairs []pair
	// ids holds the pairs' concord and record ids, and byID finds a pair by
	// the hash of a side's record id: pointer-free, so that a million pairs
	// cost the garbage collector nothing to scan. Ids whose hash another id
	// took are in coll.
	ids  []byte
	byID [2]map[uint64]int32
	coll [2]map[string]int32
	// ents hold the linked records seen, per side.
	ents  [2][]entry
	loose [2]map[string]*loose
}

// pair is one link: a concord id and the record ids on both sides.
type pair struct {
	cid span
	id  [2]span
	// ent is 1 + the index of the side's entry, 0 until the record is seen.
	ent [2]int32
}

// span is a string kept in the comparer's ids.
type span struct{ off, n uint32 }

// keep appends s to the ids and returns where it is.
func (c *Comparer) keep(s string) span {
	sp := span{off: uint32(len(c.ids)), n: uint32(len(s))}
	c.ids = append(c.ids, s...)
	return sp
}

// str returns a kept string (a copy).
func (c *Comparer) str(sp span) string { return string(c.ids[sp.off : sp.off+sp.n]) }

// is reports whether the kept string at sp is s.
func (c *Comparer) is(sp span, s string) bool { return string(c.ids[sp.off:sp.off+sp.n]) == s }

// find returns the pair side's record id belongs to.
func (c *Comparer) find(side Side, id string) (int32, bool) {
	if pi, ok := c.coll[side][id]; ok {
		return pi, true
	}
	pi, ok := c.byID[side][maphash.String(c.seed, id)]
	if ok && c.is(c.pairs[pi].id[side], id) {
		return pi, true
	}
	return 0, false
}

// entry is one linked record as kept.
type entry struct {
	hash    uint64
	updated int64
}

// loose is an unlinked record as kept.
type loose struct {
	name string
	rec  match.Record
}

// NewComparer returns an empty comparer for spec.
func NewComparer(spec Spec) *Comparer {
	c := &Comparer{spec: spec, seed: maphash.MakeSeed()}
	for s := range 2 {
		c.byID[s] = map[uint64]int32{}
		c.coll[s] = map[string]int32{}
		c.loose[s] = map[string]*loose{}
	}
	return c
}

// Grow reserves room for n links, to spare the maps' growth.
func (c *Comparer) Grow(n int) {
	if len(c.pairs) == 0 {
		c.pairs = make([]pair, 0, n)
		for s := range 2 {
			c.byID[s] = make(map[uint64]int32, n)
			c.ents[s] = make([]entry, 0, n)
		}
	}
}

// Link records that record idA of side A and idB of side B share concordID.
// Links must all be given before the first Add.
func (c *Comparer) Link(concordID, idA, idB string) {
	i := int32(len(c.pairs))
	c.pairs = append(c.pairs, pair{cid: c.keep(concordID), id: [2]span{c.keep(idA), c.keep(idB)}})
	for s, id := range [2]string{idA, idB} {
		h := maphash.String(c.seed, id)
		if pi, taken := c.byID[s][h]; taken && !c.is(c.pairs[pi].id[s], id) {
			c.coll[s][id] = i
			continue
		}
		c.byID[s][h] = i
	}
}

// Add takes a page of side's records. refs translates the side's ids of
// referenced records to concord ids, per entity (the links of the records the
// page's reference fields point at); an untranslated reference compares as
// unlinked. Archived records are left out. A record given twice replaces the
// first (an overlapping read). The clean rules of a large page run on every
// CPU.
func (c *Comparer) Add(side Side, recs []model.Record, refs map[model.Entity]map[string]string) {
	hashes := make([]uint64, len(recs))
	linked := make([]int32, len(recs))
	for i := range recs {
		linked[i] = -1
		if recs[i].Archived {
			continue
		}
		if pi, ok := c.find(side, recs[i].ID); ok {
			linked[i] = pi
			continue
		}
		c.addLoose(side, &recs[i])
	}
	parallel(len(recs), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			if linked[i] >= 0 {
				hashes[i] = c.hash(side, &recs[i], refs)
			}
		}
	})
	for i, pi := range linked {
		if pi < 0 {
			continue
		}
		p := &c.pairs[pi]
		e := entry{hash: hashes[i], updated: recs[i].UpdatedAt.UnixNano()}
		if p.ent[side] > 0 {
			c.ents[side][p.ent[side]-1] = e
			continue
		}
		c.ents[side] = append(c.ents[side], e)
		p.ent[side] = int32(len(c.ents[side]))
	}
}

// parallel calls fn on chunks of [0,n) on every CPU (one chunk when n is
// small).
func parallel(n int, fn func(lo, hi int)) {
	workers := max(1, min(runtime.GOMAXPROCS(0), n/256))
	if workers == 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() { fn(w*n/workers, (w+1)*n/workers) })
	}
	wg.Wait()
}

// hash is the hash of a linked record's compared values: the fields side
// owns after their clean rules, the others as read.
func (c *Comparer) hash(side Side, r *model.Record, refs map[model.Entity]map[string]string) uint64 {
	var h maphash.Hash
	h.SetSeed(c.seed)
	country := [2]byte{}
	for _, f := range c.spec.Fields {
		v := pack(r.Fields[f.Names[side]], refs)
		if f.Owner == side && len(f.Clean) > 0 && v.kind == byte(model.KindText) {
			if country == [2]byte{} {
				country = c.countryOf(side, r)
			}
			v = cleaned(v, f.Clean, country)
		}
		h.WriteByte(v.kind)
		h.WriteString(v.cmp)
		h.WriteByte(0)
	}
	return h.Sum64()
}

// countryOf is the country a record's local phone numbers are read in: its
// own country, else the side's default (as the engine's clean step does).
func (c *Comparer) countryOf(side Side, r *model.Record) [2]byte {
	code := c.spec.DefaultCountry[side]
	if v := r.Fields["country"]; v.Kind == model.KindText && v.Str != "" {
		if cc, err := clean.Country(v.Str); err == nil {
			code = cc
		}
	}
	out := [2]byte{'-', '-'}
	copy(out[:], code)
	return out
}

// pack returns what a value compares as before the clean rules: its kind,
// its text (decimals without trailing zeros, money with its currency,
// references as the concord id they are linked to), and the text to show
// when that differs (a reference's own id).
func pack(v model.Value, refs map[model.Entity]map[string]string) fieldValue {
	if v.IsNull() || v.Kind == model.KindLines {
		return fieldValue{kind: byte(model.KindNull)}
	}
	switch v.Kind {
	case model.KindText:
		return fieldValue{kind: byte(model.KindText), cmp: v.Str}
	case model.KindRef:
		if cid, ok := refs[v.Entity][v.Str]; ok {
			return fieldValue{kind: byte(model.KindRef), cmp: string(v.Entity) + ":" + cid, disp: v.String()}
		}
		// Not linked: never equal to the other side's reference.
		return fieldValue{kind: byte(model.KindRef), cmp: string(v.Entity) + ":?" + v.Str, disp: v.String()}
	}
	return fieldValue{kind: byte(v.Kind), cmp: v.String()}
}

// cleaned applies a field's clean rules to a text value, local phone numbers
// read in country ("--" for none); a value the rules refuse stays as it is
// (the engine would quarantine it).
func cleaned(v fieldValue, rules []string, country [2]byte) fieldValue {
	if len(rules) == 0 || v.kind != byte(model.KindText) {
		return v
	}
	opt := clean.Options{}
	if country != [2]byte{'-', '-'} && country != [2]byte{} {
		opt.Country = string(country[:])
	}
	cv, err := clean.ApplyWith(rules, model.Text(v.cmp), opt)
	if err != nil {
		return v
	}
	if cv.IsNull() {
		return fieldValue{kind: byte(model.KindNull)}
	}
	return fieldValue{kind: v.kind, cmp: cv.Str}
}

// addLoose keeps what an unlinked record is reported with.
func (c *Comparer) addLoose(side Side, r *model.Record) {
	l := &loose{name: displayName(r)}
	if c.spec.Match != nil {
		l.rec = match.Record{ID: r.ID, Fields: map[string]string{}}
		for _, names := range [][]string{c.spec.Match.Keys, c.spec.Match.Fields} {
			for _, f := range names {
				if v := r.Fields[f]; !v.IsNull() && v.Kind != model.KindLines {
					l.rec.Fields[f] = v.String()
				}
			}
		}
	}
	c.loose[side][r.ID] = l
}

// displayName is what a record is called in a report: its name, a
// contact's full name, a product's sku, a document's number, or "".
func displayName(r *model.Record) string {
	get := func(f string) string { return strings.TrimSpace(r.Fields[f].String()) }
	if n := get("name"); n != "" {
		return n
	}
	if n := strings.TrimSpace(get("first_name") + " " + get("last_name")); n != "" {
		return n
	}
	for _, f := range []string{"email", "sku", "number", "reference"} {
		if n := get(f); n != "" {
			return n
		}
	}
	return ""
}

// Suspect is a linked pair whose values differ as read: Diff tells, from
// the two records read again, which fields drifted (if any: the other side
// may hold a value the clean rules make equal).
type Suspect struct {
	ConcordID string
	IDs       [2]string
}

// Result compares the hashes of every linked pair both sides hold and
// returns the pairs that differ, the records without a counterpart on the
// other side (with candidates when the spec has match rules; a linked record
// whose counterpart is gone names it in LinkedTo), and the number of pairs
// compared. Suspects are in concord id order, unlinked records in side and
// id order.
func (c *Comparer) Result() (suspects []Suspect, unlinked []Unlinked, compared int) {
	for i := range c.pairs {
		p := &c.pairs[i]
		if p.ent[SideA] == 0 || p.ent[SideB] == 0 {
			continue
		}
		compared++
		if c.ents[SideA][p.ent[SideA]-1].hash != c.ents[SideB][p.ent[SideB]-1].hash {
			suspects = append(suspects, Suspect{ConcordID: c.str(p.cid), IDs: [2]string{c.str(p.id[SideA]), c.str(p.id[SideB])}})
		}
	}
	slices.SortFunc(suspects, func(x, y Suspect) int { return cmp.Compare(x.ConcordID, y.ConcordID) })
	for s := range Side(2) {
		for i := range c.pairs {
			p := &c.pairs[i]
			if p.ent[s] > 0 && p.ent[s.other()] == 0 {
				unlinked = append(unlinked, Unlinked{System: c.spec.Systems[s], Entity: string(c.spec.Entity), ID: c.str(p.id[s]), Other: c.spec.Systems[s.other()], LinkedTo: c.str(p.id[s.other()])})
			}
		}
	}
	unlinked = append(unlinked, c.unlinkedLoose()...)
	slices.SortFunc(unlinked, func(x, y Unlinked) int {
		return cmp.Or(cmp.Compare(x.System, y.System), cmp.Compare(x.ID, y.ID))
	})
	return suspects, unlinked, compared
}

// unlinkedLoose reports the records no link pairs, each with its best
// candidates among the other side's unlinked records.
func (c *Comparer) unlinkedLoose() []Unlinked {
	var out []Unlinked
	var ix [2]*match.Index
	if c.spec.Match != nil {
		for s := range Side(2) {
			if len(c.loose[s.other()]) == 0 {
				continue
			}
			ix[s] = match.NewIndex(*c.spec.Match)
			for _, l := range c.loose[s] {
				ix[s].Add(l.rec)
			}
		}
	}
	for s := range Side(2) {
		for id, l := range c.loose[s] {
			u := Unlinked{System: c.spec.Systems[s], Entity: string(c.spec.Entity), ID: id, Name: l.name, Other: c.spec.Systems[s.other()]}
			if other := ix[s.other()]; other != nil {
				u.Candidates = other.Candidates(l.rec, maxCandidates, nil)
			}
			out = append(out, u)
		}
	}
	return out
}

// maxCandidates is how many candidates an unlinked record is shown with.
const maxCandidates = 3

// Diff compares a suspect pair field by field: recs are its records of
// side A and B read again, refs each side's reference translation (as for
// Add). Each field differs after the clean rules (the owner's value first,
// then the other side's) is a Drift, in field order.
func (c *Comparer) Diff(s Suspect, recs [2]*model.Record, refs [2]map[model.Entity]map[string]string) []Drift {
	var out []Drift
	var country [2][2]byte
	for side := range Side(2) {
		country[side] = c.countryOf(side, recs[side])
	}
	for _, f := range c.spec.Fields {
		o, t := f.Owner, f.Owner.other()
		own, oth := pack(recs[o].Fields[f.Names[o]], refs[o]), pack(recs[t].Fields[f.Names[t]], refs[t])
		if own.same(oth) {
			continue
		}
		if own = cleaned(own, f.Clean, country[o]); own.same(oth) {
			continue
		}
		if oth = cleaned(oth, f.Clean, country[t]); own.same(oth) {
			continue
		}
		if f.Conflict == engine.ConflictOwnerUnlessBlank && own.kind == byte(model.KindNull) {
			continue // the config lets a blank owner value keep the other side's
		}
		// newest_wins keeps the newer value: --fix cannot write the owner's.
		fixable := f.Conflict != engine.ConflictNewestWins || !recs[t].UpdatedAt.After(recs[o].UpdatedAt)
		out = append(out, Drift{
			Flow: f.Flow, Entity: string(c.spec.Entity), ConcordID: s.ConcordID, Field: f.Names[o],
			Owner: c.spec.Systems[o], OwnerID: s.IDs[o], OwnerValue: own.show(),
			Other: c.spec.Systems[t], OtherID: s.IDs[t], OtherValue: oth.show(),
			Fixable: fixable,
		})
	}
	return out
}

// fieldValue is one field's value as compared.
type fieldValue struct {
	kind      byte
	cmp, disp string
}

// same reports whether two values compare equal.
func (v fieldValue) same(w fieldValue) bool { return v.kind == w.kind && v.cmp == w.cmp }

// show is the text a report shows.
func (v fieldValue) show() string {
	if v.disp != "" {
		return v.disp
	}
	return v.cmp
}
