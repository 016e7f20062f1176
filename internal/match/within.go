package match

import (
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// Within returns the clusters of likely duplicates among recs: records joined
// by a pair scoring at or above the rules' Review threshold, each record
// compared only with the records it shares a blocking key with (see Index).
// Clusters are in the order of their first record in recs, their IDs sorted.
// It is safe for concurrent use.
func Within(rules Rules, recs []Record) []Cluster {
	ix := NewIndex(rules)
	feats := ix.rules.featuresAll(recs)
	for _, f := range feats {
		ix.add(f)
	}
	parent := map[string]string{}
	var find func(string) string
	find = func(x string) string {
		if p, ok := parent[x]; ok && p != x {
			root := find(p)
			parent[x] = root
			return root
		}
		return x
	}
	var pairs []Pair
	for i, r := range recs {
		for _, c := range ix.candidates(feats[i], 5, func(id string) bool { return id <= r.ID }, &ix.sc) {
			pairs = append(pairs, Pair{A: r.ID, Candidate: c})
			ra, rb := find(r.ID), find(c.ID)
			if ra != rb {
				parent[rb] = ra
			}
		}
	}
	byRoot := map[string]*Cluster{}
	var roots []string
	for _, p := range pairs {
		root := find(p.A)
		cl, ok := byRoot[root]
		if !ok {
			cl = &Cluster{}
			byRoot[root] = cl
			roots = append(roots, root)
		}
		cl.Pairs = append(cl.Pairs, p)
		for _, id := range []string{p.A, p.ID} {
			if !slices.Contains(cl.IDs, id) {
				cl.IDs = append(cl.IDs, id)
			}
		}
	}
	out := make([]Cluster, 0, len(roots))
	for _, root := range roots {
		cl := byRoot[root]
		slices.Sort(cl.IDs)
		out = append(out, *cl)
	}
	return out
}

// MatchAll returns, for each record of left in order, its best candidate
// among right as a Pair (A is the left record's id), leaving out left records
// with no candidate at or above the rules' Review threshold. Pairs are not
// made one-to-one: two left records may name the same right one. It uses
// every CPU (GOMAXPROCS) and is safe for concurrent use.
func MatchAll(rules Rules, left, right []Record) []Pair {
	ix := NewIndex(rules)
	for _, f := range ix.rules.featuresAll(right) {
		ix.add(f)
	}
	best := make([]Candidate, len(left))
	found := make([]bool, len(left))
	parallel(len(left), func(lo, hi int, sc *scratch) {
		for i := lo; i < hi; i++ {
			if c := ix.candidates(ix.rules.features(left[i]), 1, nil, sc); len(c) > 0 {
				best[i], found[i] = c[0], true
			}
		}
	})
	var out []Pair
	for i, ok := range found {
		if ok {
			out = append(out, Pair{A: left[i].ID, Candidate: best[i]})
		}
	}
	return out
}

// featuresAll prepares recs for comparison on every CPU.
func (c *compiled) featuresAll(recs []Record) []*features {
	out := make([]*features, len(recs))
	parallel(len(recs), func(lo, hi int, _ *scratch) {
		for i := lo; i < hi; i++ {
			out[i] = c.features(recs[i])
		}
	})
	return out
}

// parallel calls fn on chunks of [0,n) from GOMAXPROCS goroutines, each with
// its own scratch.
func parallel(n int, fn func(lo, hi int, sc *scratch)) {
	const chunk = 256
	workers := min(runtime.GOMAXPROCS(0), (n+chunk-1)/chunk)
	if workers <= 1 {
		fn(0, n, &scratch{})
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			sc := &scratch{}
			for {
				lo := int(next.Add(chunk)) - chunk
				if lo >= n {
					return
				}
				fn(lo, min(lo+chunk, n), sc)
			}
		})
	}
	wg.Wait()
}
