package config

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// decoder turns nodes into values, collecting every problem instead of stopping
// at the first one.
type decoder struct {
	file     string
	problems []Problem
}

// add records a problem at n's position.
func (d *decoder) add(n *node, format string, args ...any) {
	line, col := 0, 0
	if n != nil {
		line, col = n.line, n.col
	}
	if line == 0 {
		line, col = 1, 1
	}
	d.problems = append(d.problems, Problem{File: d.file, Line: line, Col: col, Msg: fmt.Sprintf(format, args...)})
}

// object checks that n is a mapping whose keys are the properties of s, and
// returns its entries by key (the first of duplicates). Unknown and duplicate
// keys are reported. A null node gives an empty result and no problem; where
// names the mapping in messages ("store", "flows[0]").
func (d *decoder) object(n *node, where string, s *jsonSchema) map[string]entry {
	out := map[string]entry{}
	if n == nil || n.kind == kindNull {
		return out
	}
	if n.kind != kindMap {
		d.add(n, "%s: want a mapping, got %s", where, n.describe())
		return out
	}
	for _, e := range n.entries {
		if _, known := s.Properties[e.key]; !known {
			d.add(e.k, "unknown key %q in %s%s", e.key, where, suggest(e.key, s.propertyNames()))
			continue
		}
		if first, dup := out[e.key]; dup {
			d.add(e.k, "duplicate key %q in %s (first at line %d)", e.key, where, first.k.line)
			continue
		}
		out[e.key] = e
	}
	return out
}

// suggest returns "; did you mean X?" for a near miss, or the list of known keys.
func suggest(got string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if dist := editDistance(strings.ToLower(got), k); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	if best != "" {
		return fmt.Sprintf("; did you mean %q?", best)
	}
	return "; known keys: " + strings.Join(known, ", ")
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// str decodes a string. A missing or null node gives "", false and no problem.
func (d *decoder) str(n *node, where string) (string, bool) {
	if n == nil || n.kind == kindNull {
		return "", false
	}
	s, ok := n.str()
	if !ok {
		d.add(n, "%s: want a string, got %s", where, n.describe())
		return "", false
	}
	return s, true
}

// enum decodes a string that must be one of allowed.
func (d *decoder) enum(n *node, where string, allowed []string) (string, bool) {
	s, ok := d.str(n, where)
	if !ok {
		return "", false
	}
	if !slices.Contains(allowed, s) {
		d.add(n, "%s: unknown value %q; want %s", where, s, orList(allowed))
		return "", false
	}
	return s, true
}

// integer decodes an integer of at least lo.
func (d *decoder) integer(n *node, where string, lo int) (int, bool) {
	if n == nil || n.kind == kindNull {
		return 0, false
	}
	var v int64
	switch x := n.value.(type) {
	case int64:
		v = x
	case uint64:
		if x > 1<<31 {
			d.add(n, "%s: %d is too large", where, x)
			return 0, false
		}
		v = int64(x)
	default:
		d.add(n, "%s: want an integer, got %s", where, n.describe())
		return 0, false
	}
	if v < int64(lo) || v > 1<<31 {
		d.add(n, "%s: %d is out of range; want at least %d", where, v, lo)
		return 0, false
	}
	return int(v), true
}

// boolean decodes true or false.
func (d *decoder) boolean(n *node, where string) (bool, bool) {
	if n == nil || n.kind == kindNull {
		return false, false
	}
	b, ok := n.value.(bool)
	if !ok {
		d.add(n, "%s: want true or false, got %s", where, n.describe())
		return false, false
	}
	return b, true
}

// duration decodes a positive Go duration such as 30s, 5m or 1h30m.
func (d *decoder) duration(n *node, where string) (time.Duration, bool) {
	if n == nil || n.kind == kindNull {
		return 0, false
	}
	s, ok := n.str()
	if !ok {
		d.add(n, "%s: want a duration such as 30s or 5m, got %s", where, n.describe())
		return 0, false
	}
	v, err := time.ParseDuration(s)
	if err != nil || v <= 0 {
		d.add(n, "%s: %q is not a positive duration such as 30s or 5m", where, s)
		return 0, false
	}
	return v, true
}

// list returns the items of a sequence. A missing or null node gives nil.
func (d *decoder) list(n *node, where string) []*node {
	if n == nil || n.kind == kindNull {
		return nil
	}
	if n.kind != kindSeq {
		d.add(n, "%s: want a list, got %s", where, n.describe())
		return nil
	}
	return n.items
}

// orList renders ["a","b","c"] as "a, b or c".
func orList(items []string) string {
	switch len(items) {
	case 0:
		return "nothing"
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}
