package match

import (
	"cmp"
	"hash/maphash"
	"slices"
	"strings"
	"sync/atomic"
)

// Blocking parameters.
const (
	// defaultBlockCap is the size above which a block (the records sharing
	// one blocking key) is too common to say anything and is no longer used.
	defaultBlockCap = 400
	// scored is how many of the records sharing the most blocks with a
	// query are scored.
	scored = 24
)

// stopTokens are name words too common to block on.
var stopTokens = map[string]bool{
	"the": true, "and": true, "of": true, "for": true, "shop": true, "store": true, "trading": true,
	"grp": true, "svc": true, "intl": true, "ctr": true, "mkt": true, "bros": true, "saint": true,
	"de": true, "la": true, "le": true, "du": true, "des": true, "del": true, "der": true, "die": true,
	"das": true, "von": true, "van": true, "den": true, "los": true, "las": true, "el": true, "il": true,
	"company": true, "co": true, "ltd": true, "inc": true,
}

// block is the records sharing one blocking key.
type block struct {
	slots  []int32
	n      int  // members, also when common
	common bool // over the cap: slots dropped, never used again
}

// Index holds one side's records for matching, blocked so that Candidates
// compares a record only with the records sharing a blocking key with it: a
// key value, a word of the name (its first four letters or its sound key), the
// postcode, the phone number's last seven digits, the house number with the
// street. Blocks grown over a cap (400) are too common to tell records apart
// and are dropped for good. An Index is not safe for concurrent use.
type Index struct {
	rules     *compiled
	slots     []*features // nil when free
	blockKeys [][]uint64  // per slot
	byID      map[string]int32
	free      []int32
	blocks    map[uint64]*block
	blockCap  int
	sc        scratch

	comparisons atomic.Int64 // pairs scored, for tests
}

// NewIndex returns an empty index for rules.
func NewIndex(rules Rules) *Index {
	return &Index{rules: compile(rules), byID: map[string]int32{}, blocks: map[uint64]*block{}, blockCap: defaultBlockCap}
}

// Add adds r, replacing a record with the same ID.
func (ix *Index) Add(r Record) { ix.add(ix.rules.features(r)) }

func (ix *Index) add(f *features) {
	if _, ok := ix.byID[f.rec.ID]; ok {
		ix.Remove(f.rec.ID)
	}
	var slot int32
	if n := len(ix.free); n > 0 {
		slot = ix.free[n-1]
		ix.free = ix.free[:n-1]
		ix.slots[slot] = f
	} else {
		slot = int32(len(ix.slots))
		ix.slots = append(ix.slots, f)
		ix.blockKeys = append(ix.blockKeys, nil)
	}
	ix.byID[f.rec.ID] = slot
	keys := ix.rules.blockKeys(f)
	ix.blockKeys[slot] = keys
	for _, k := range keys {
		b := ix.blocks[k]
		if b == nil {
			b = &block{}
			ix.blocks[k] = b
		}
		b.n++
		if b.common {
			continue
		}
		if b.n > ix.blockCap {
			b.common, b.slots = true, nil
			continue
		}
		b.slots = append(b.slots, slot)
	}
}

// Remove removes the record with id; an unknown id is ignored.
func (ix *Index) Remove(id string) {
	slot, ok := ix.byID[id]
	if !ok {
		return
	}
	for _, k := range ix.blockKeys[slot] {
		b := ix.blocks[k]
		b.n--
		if b.n == 0 {
			delete(ix.blocks, k)
			continue
		}
		if i := slices.Index(b.slots, slot); i >= 0 {
			b.slots = slices.Delete(b.slots, i, i+1)
		}
	}
	delete(ix.byID, id)
	ix.slots[slot], ix.blockKeys[slot] = nil, nil
	ix.free = append(ix.free, slot)
}

// Len returns the number of records.
func (ix *Index) Len() int { return len(ix.byID) }

// Candidates returns up to n candidates for r, best first (equal scores by
// id), skipping ids for which skip returns true (nil skips none). Candidates
// scoring below the rules' Review threshold are not returned. Only records
// sharing a blocking key with r are compared, and of those the ones sharing
// the most keys.
func (ix *Index) Candidates(r Record, n int, skip func(id string) bool) []Candidate {
	return ix.candidates(ix.rules.features(r), n, skip, &ix.sc)
}

// scratch is the per-caller state of a candidates call.
type scratch struct {
	counts  []uint8
	touched []int32
	hist    [256]int32
	res     []scored1
}

type scored1 struct {
	slot int32
	res  result
}

func (ix *Index) candidates(f *features, n int, skip func(id string) bool, sc *scratch) []Candidate {
	if n <= 0 {
		return nil
	}
	if len(sc.counts) < len(ix.slots) {
		sc.counts = make([]uint8, len(ix.slots)+len(ix.slots)/4)
	}
	sc.touched = sc.touched[:0]
	for _, k := range ix.rules.blockKeys(f) {
		b := ix.blocks[k]
		if b == nil || b.common {
			continue
		}
		for _, s := range b.slots {
			if sc.counts[s] == 0 {
				sc.touched = append(sc.touched, s)
			}
			if sc.counts[s] < 255 {
				sc.counts[s]++
			}
		}
	}
	// Keep the records sharing the most blocks: find the smallest count
	// that still leaves at most `scored` records above it.
	clear(sc.hist[:])
	for _, s := range sc.touched {
		sc.hist[sc.counts[s]]++
	}
	threshold, above := 1, 0
	for c := 255; c >= 1; c-- {
		if above+int(sc.hist[c]) > scored {
			threshold = c + 1
			break
		}
		above += int(sc.hist[c])
	}
	budget := scored - above // records taken at count threshold-1, in block order
	sc.res = sc.res[:0]
	for _, s := range sc.touched {
		c := int(sc.counts[s])
		sc.counts[s] = 0
		if c < threshold {
			if c != threshold-1 || budget <= 0 {
				continue
			}
			budget--
		}
		g := ix.slots[s]
		if skip != nil && skip(g.rec.ID) {
			continue
		}
		ix.comparisons.Add(1)
		res := ix.rules.score(f, g, true)
		if res.score >= ix.rules.Review {
			sc.res = append(sc.res, scored1{s, res})
		}
	}
	slices.SortFunc(sc.res, func(a, b scored1) int {
		if c := cmp.Compare(b.res.score, a.res.score); c != 0 {
			return c
		}
		return strings.Compare(ix.slots[a.slot].rec.ID, ix.slots[b.slot].rec.ID)
	})
	if len(sc.res) > n {
		sc.res = sc.res[:n]
	}
	out := make([]Candidate, 0, len(sc.res))
	for _, r := range sc.res {
		out = append(out, ix.rules.candidate(f, ix.slots[r.slot], r.res))
	}
	return out
}

// blockKeys returns the distinct blocking keys of f, hashed: a collision
// only adds a record to compare.
func (c *compiled) blockKeys(f *features) []uint64 {
	var h maphash.Hash
	h.SetSeed(blockSeed)
	keys := make([]uint64, 0, 16)
	add := func(kind string, parts ...string) {
		h.Reset()
		h.WriteString(kind)
		for _, p := range parts {
			h.WriteByte(0)
			h.WriteString(p)
		}
		keys = append(keys, h.Sum64())
	}
	for i, k := range f.keys {
		if k != "" {
			add("k", c.Keys[i], k)
		}
	}
	for i := range c.Fields {
		v := &f.values[i]
		if !v.ok {
			continue
		}
		switch c.kinds[i] {
		case kindName:
			for _, t := range v.name.tokens {
				if len(t) < 3 || stopTokens[t] {
					continue
				}
				add("t", t[:min(4, len(t))])
				if p := phonetic(t); len(p) >= 2 {
					add("p", p)
				}
			}
		case kindZip:
			add("z", v.text)
		case kindPhone:
			add("ph", v.phone.suffix(7))
		case kindStreet:
			if v.street.number != "" && v.street.joined != "" {
				longest := ""
				for _, t := range v.street.tokens {
					if len(t) > len(longest) {
						longest = t
					}
				}
				add("s", v.street.number, phonetic(longest))
			}
		case kindText:
			for _, t := range strings.Fields(v.text) {
				if p := phonetic(t); len(p) >= 2 {
					add("x", c.Fields[i], p)
				}
			}
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// blockSeed makes block hashes the same in every index of a process.
var blockSeed = maphash.MakeSeed()
