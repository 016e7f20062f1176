package reconcile

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"hash/maphash"
	"runtime"
	"slices"
	"strings"
	"sync"
	"unsafe"

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
// read, in any order and page size; Result compares. Of a linked record it
// keeps only its id, a 64-bit hash of the compared fields' normalised values
// and those values packed in one buffer per side; of an unlinked record its
// name and the fields matching compares. It is not safe for concurrent use.
type Comparer struct {
	spec  Spec
	seed  maphash.Seed
	pairs []pair
	byID  [2]map[string]int32
	// ents and arena hold the linked records seen, per side.
	ents  [2][]entry
	arena [2][]byte
	loose [2]map[string]*loose
	// phone is set when a field has the phone rule, which reads local
	// numbers in the record's country.
	phone bool
}

// pair is one link: a concord id and the record ids on both sides.
type pair struct {
	cid string
	id  [2]string
	// ent is 1 + the index of the side's entry, 0 until the record is seen.
	ent [2]int32
}

// entry is one linked record as kept: where its values are in the side's
// arena, their hash, and its modification time.
type entry struct {
	off, n  uint32
	hash    uint64
	updated int64
	// country is the record's country for the phone rule, zero when none.
	country [2]byte
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
		c.byID[s] = map[string]int32{}
		c.loose[s] = map[string]*loose{}
	}
	for _, f := range spec.Fields {
		c.phone = c.phone || slices.Contains(f.Clean, "phone")
	}
	return c
}

// Grow reserves room for n links, to spare the maps' growth.
func (c *Comparer) Grow(n int) {
	if len(c.pairs) == 0 {
		c.pairs = make([]pair, 0, n)
		for s := range 2 {
			c.byID[s] = make(map[string]int32, n)
			c.ents[s] = make([]entry, 0, n)
		}
	}
}

// Link records that record idA of side A and idB of side B share concordID.
// Links must all be given before the first Add.
func (c *Comparer) Link(concordID, idA, idB string) {
	i := int32(len(c.pairs))
	c.pairs = append(c.pairs, pair{cid: concordID, id: [2]string{idA, idB}})
	c.byID[SideA][idA] = i
	c.byID[SideB][idB] = i
}

// Add takes a page of side's records. refs translates the side's ids of
// referenced records to concord ids, per entity (the links of the records the
// page's reference fields point at); an untranslated reference compares as
// unlinked. Archived records are left out. A record given twice replaces the
// first (an overlapping read).
func (c *Comparer) Add(side Side, recs []model.Record, refs map[model.Entity]map[string]string) {
	for i := range recs {
		r := &recs[i]
		if r.Archived {
			continue
		}
		pi, linked := c.byID[side][r.ID]
		if !linked {
			c.addLoose(side, r)
			continue
		}
		c.addLinked(side, &c.pairs[pi], r, refs)
	}
}

// addLinked packs a linked record's values into the side's arena, as read:
// the clean rules run only when the two sides differ (Result). Per field: a
// kind byte, the compared text and the displayed text (empty when it is the
// compared one), each after its length as a uvarint.
func (c *Comparer) addLinked(side Side, p *pair, r *model.Record, refs map[model.Entity]map[string]string) {
	arena := c.arena[side]
	off := len(arena)
	var h maphash.Hash
	h.SetSeed(c.seed)
	for _, f := range c.spec.Fields {
		kind, cmpText, disp := pack(r.Fields[f.Names[side]], refs)
		arena = append(arena, kind)
		arena = binary.AppendUvarint(arena, uint64(len(cmpText)))
		arena = append(arena, cmpText...)
		arena = binary.AppendUvarint(arena, uint64(len(disp)))
		arena = append(arena, disp...)
		h.WriteByte(kind)
		h.WriteString(cmpText)
		h.WriteByte(0)
	}
	c.arena[side] = arena
	e := entry{off: uint32(off), n: uint32(len(arena) - off), hash: h.Sum64(), updated: r.UpdatedAt.UnixNano()}
	if c.phone {
		e.country = c.countryOf(side, r)
	}
	if p.ent[side] > 0 {
		c.ents[side][p.ent[side]-1] = e
		return
	}
	c.ents[side] = append(c.ents[side], e)
	p.ent[side] = int32(len(c.ents[side]))
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
	var out [2]byte
	copy(out[:], code)
	return out
}

// pack returns what a value compares as before the clean rules: its kind,
// its text (decimals without trailing zeros, money with its currency,
// references as the concord id they are linked to), and the text to show
// when that differs (a reference's own id).
func pack(v model.Value, refs map[model.Entity]map[string]string) (kind byte, cmpText, disp string) {
	if v.IsNull() || v.Kind == model.KindLines {
		return byte(model.KindNull), "", ""
	}
	switch v.Kind {
	case model.KindText:
		return byte(model.KindText), v.Str, ""
	case model.KindRef:
		if cid, ok := refs[v.Entity][v.Str]; ok {
			return byte(model.KindRef), string(v.Entity) + ":" + cid, v.String()
		}
		// Not linked: never equal to the other side's reference.
		return byte(model.KindRef), string(v.Entity) + ":?" + v.Str, v.String()
	}
	return byte(v.Kind), v.String(), ""
}

// cleaned applies a field's clean rules to a packed text value; a value the
// rules refuse stays as it is (the engine would quarantine it).
func cleaned(v fieldValue, rules []string, country [2]byte) fieldValue {
	if len(rules) == 0 || v.kind != byte(model.KindText) {
		return v
	}
	opt := clean.Options{}
	if country[0] != 0 {
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

// Result compares every linked pair both sides hold and returns the fields
// that differ, the records without a counterpart on the other side (with
// candidates when the spec has match rules; a linked record whose
// counterpart is gone names it in LinkedTo), and the number of pairs
// compared. Drift is in concord id and field order, unlinked records in side
// and id order.
func (c *Comparer) Result() (drift []Drift, unlinked []Unlinked, compared int) {
	workers := max(1, min(runtime.GOMAXPROCS(0), len(c.pairs)/4096))
	parts := make([][]Drift, workers)
	counts := make([]int, workers)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*len(c.pairs)/workers, (w+1)*len(c.pairs)/workers
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				p := &c.pairs[i]
				if p.ent[SideA] == 0 || p.ent[SideB] == 0 {
					continue
				}
				counts[w]++
				ea, eb := c.ents[SideA][p.ent[SideA]-1], c.ents[SideB][p.ent[SideB]-1]
				if ea.hash == eb.hash && bytes.Equal(c.arena[SideA][ea.off:ea.off+ea.n], c.arena[SideB][eb.off:eb.off+eb.n]) {
					continue
				}
				parts[w] = c.diff(p, [2]entry{ea, eb}, parts[w])
			}
		})
	}
	wg.Wait()
	for w := range workers {
		compared += counts[w]
		drift = append(drift, parts[w]...)
	}
	slices.SortFunc(drift, func(x, y Drift) int {
		return cmp.Or(cmp.Compare(x.ConcordID, y.ConcordID), cmp.Compare(x.Field, y.Field))
	})
	for s := range Side(2) {
		for i := range c.pairs {
			p := &c.pairs[i]
			if p.ent[s] > 0 && p.ent[s.other()] == 0 {
				unlinked = append(unlinked, Unlinked{System: c.spec.Systems[s], Entity: string(c.spec.Entity), ID: p.id[s], Other: c.spec.Systems[s.other()], LinkedTo: p.id[s.other()]})
			}
		}
	}
	unlinked = append(unlinked, c.unlinkedLoose()...)
	slices.SortFunc(unlinked, func(x, y Unlinked) int {
		return cmp.Or(cmp.Compare(x.System, y.System), cmp.Compare(x.ID, y.ID))
	})
	return drift, unlinked, compared
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

// diff compares a pair whose values differ field by field.
func (c *Comparer) diff(p *pair, e [2]entry, out []Drift) []Drift {
	var buf [2][16]fieldValue
	var vals [2][]fieldValue
	for s := range Side(2) {
		vals[s] = buf[s][:0]
		if n := len(c.spec.Fields); n > len(buf[s]) {
			vals[s] = make([]fieldValue, n)
		} else {
			vals[s] = buf[s][:n]
		}
		decode(c.arena[s][e[s].off:e[s].off+e[s].n], vals[s])
	}
	for i, f := range c.spec.Fields {
		own, oth := vals[f.Owner][i], vals[f.Owner.other()][i]
		if own.same(oth) {
			continue
		}
		// The clean rules run now, on the owner's value first: the other
		// side most often holds what Concord wrote, the owner's value
		// cleaned.
		own = cleaned(own, f.Clean, e[f.Owner].country)
		if own.same(oth) {
			continue
		}
		if oth = cleaned(oth, f.Clean, e[f.Owner.other()].country); own.same(oth) {
			continue
		}
		if f.Conflict == engine.ConflictOwnerUnlessBlank && own.kind == byte(model.KindNull) {
			continue // the config lets a blank owner value keep the other side's
		}
		fixable := true
		if f.Conflict == engine.ConflictNewestWins && e[f.Owner.other()].updated > e[f.Owner].updated {
			fixable = false // the engine keeps the newer value: --fix cannot write it
		}
		out = append(out, Drift{
			Flow: f.Flow, Entity: string(c.spec.Entity), ConcordID: p.cid, Field: f.Names[f.Owner],
			Owner: c.spec.Systems[f.Owner], OwnerID: p.id[f.Owner], OwnerValue: own.show(),
			Other: c.spec.Systems[f.Owner.other()], OtherID: p.id[f.Owner.other()], OtherValue: oth.show(),
			Fixable: fixable,
		})
	}
	return out
}

// fieldValue is one decoded field of a packed record.
type fieldValue struct {
	kind      byte
	cmp, disp string
}

// same reports whether two values compare equal.
func (v fieldValue) same(w fieldValue) bool { return v.kind == w.kind && v.cmp == w.cmp }

// show is the text a report shows.
func (v fieldValue) show() string {
	if v.disp != "" {
		return strings.Clone(v.disp)
	}
	return strings.Clone(v.cmp)
}

// decode unpacks n fields packed by addLinked into out. The strings share
// b's memory: b must not change while they are used, and what outlives the
// comparison is cloned (show).
func decode(b []byte, out []fieldValue) {
	next := func() string {
		l, k := binary.Uvarint(b)
		var s string
		if l > 0 {
			s = unsafe.String(&b[k], int(l))
		}
		b = b[k+int(l):]
		return s
	}
	for i := range out {
		out[i].kind = b[0]
		b = b[1:]
		out[i].cmp = next()
		out[i].disp = next()
	}
}
