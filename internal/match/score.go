package match

import (
	"cmp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/hbollon/go-edlib"
)

// kind is how a field is compared.
type kind uint8

const (
	kindText kind = iota
	kindName
	kindStreet
	kindCity
	kindZip
	kindCountry
	kindPhone
)

func fieldKind(field string) kind {
	switch field {
	case "name", "company", "company_name":
		return kindName
	case "street", "address":
		return kindStreet
	case "city":
		return kindCity
	case "zip", "postal_code", "postcode":
		return kindZip
	case "country":
		return kindCountry
	case "phone", "mobile", "fax":
		return kindPhone
	}
	return kindText
}

// defaultWeights are the similarity weights of fields whose rules set none;
// other fields weigh 1.
var defaultWeights = map[string]float64{
	"name": 4, "street": 1.5, "city": 1, "zip": 1, "country": 0.5, "phone": 2,
	"first_name": 1.5, "last_name": 2.5,
}

// The factors a conflict multiplies the score by.
const (
	strongKeyConflict = 0.5  // both have a VAT number (SKU...) and they differ
	weakKeyConflict   = 0.97 // both have an e-mail (domain) and they differ
	countryConflict   = 0.85 // both have a country and they differ
	phoneCCConflict   = 0.9  // both phones carry a calling code and they differ
	legalFormDiffers  = 0.95 // both names carry a legal form and they differ (name score)
	thinEvidence      = 0.5  // below this share of the rules' weight, a pair is at most reviewed
)

// compiled are Rules prepared for scoring.
type compiled struct {
	Rules
	kinds   []kind
	weights []float64
	total   float64
	strong  []bool
}

func compile(r Rules) *compiled {
	c := &compiled{Rules: r}
	for _, f := range r.Fields {
		c.kinds = append(c.kinds, fieldKind(f))
		w, ok := r.Weights[f]
		if !ok {
			w, ok = defaultWeights[f]
			if !ok {
				w = 1
			}
		}
		c.weights = append(c.weights, w)
		c.total += w
	}
	for _, k := range r.Keys {
		c.strong = append(c.strong, strongKey(k))
	}
	return c
}

// value is one field of a record prepared for comparison.
type value struct {
	ok     bool
	text   string // normalised text; the code for a country, the letters and digits for a zip
	name   *name
	street *street
	phone  phone
}

// features are a record's values prepared for comparison, computed once.
type features struct {
	rec    Record
	keys   []string // normalised key values in Rules.Keys order ("" none)
	keySrc []string // the field each key value came from
	values []value  // in Rules.Fields order
}

func (c *compiled) features(r Record) *features {
	f := &features{rec: r, keys: make([]string, len(c.Keys)), keySrc: make([]string, len(c.Keys)), values: make([]value, len(c.Fields))}
	for i, k := range c.Keys {
		f.keySrc[i] = k
		f.keys[i] = Key(k, r.Fields[k])
		if f.keys[i] == "" && k == "domain" {
			// A company's web domain may come from its web site or e-mail.
			for _, alt := range []string{"website", "email"} {
				if v := domainKey(r.Fields[alt]); v != "" {
					f.keys[i], f.keySrc[i] = v, alt
					break
				}
			}
		}
	}
	for i, fld := range c.Fields {
		s := strings.TrimSpace(r.Fields[fld])
		if s == "" {
			continue
		}
		v := value{}
		switch c.kinds[i] {
		case kindName:
			n := parseName(s)
			v.name, v.ok = &n, n.joined != ""
		case kindStreet:
			st := parseStreet(s)
			v.street, v.ok = &st, st.joined != "" || st.number != ""
		case kindZip:
			v.text = strings.ToUpper(alnum(s))
			v.ok = v.text != ""
		case kindCountry:
			v.text = countryCode(s)
			v.ok = v.text != ""
		case kindPhone:
			v.phone = parsePhone(s)
			v.ok = len(v.phone.digits) >= 6
		default:
			v.text = Normalise(s)
			v.ok = v.text != ""
		}
		f.values[i] = v
	}
	return f
}

// jw is the Jaro-Winkler similarity of two words or phrases.
func jw(a, b string) float64 {
	if a == b {
		return 1
	}
	if a == "" || b == "" {
		return 0
	}
	// edlib.JaroWinklerSimilarity, with the common prefix counted here so
	// that the words are converted to runes once, not twice.
	j := float64(edlib.JaroSimilarity(a, b))
	if j == 0 {
		return 0
	}
	prefix := 0
	for i := 0; i < len(a) && i < len(b) && prefix < 4; {
		ra, na := utf8.DecodeRuneInString(a[i:])
		rb, _ := utf8.DecodeRuneInString(b[i:])
		if ra != rb {
			break
		}
		prefix++
		i += na
	}
	return j + 0.1*float64(prefix)*(1-j)
}

// rescale maps similarities at or below floor to 0 and 1 to 1: Jaro-Winkler
// gives unrelated words about 0.5, which must not count as half a match.
func rescale(s, floor float64) float64 {
	if s <= floor {
		return 0
	}
	return (s - floor) / (1 - floor)
}

// tokenFloor is the Jaro-Winkler similarity under which two words count as
// different words: a typo keeps a word above it, another word falls below.
const tokenFloor = 0.84

// tokenSim compares two phrases word by word in any order: each word is
// paired with at most one word of the other phrase, best pairs first (pairs
// under tokenFloor do not pair), and the paired similarities are summed as a
// soft Dice coefficient, 2*sum/(len(x)+len(y)). Phrases equal but for spaces
// are equal.
func tokenSim(x, y []string, compactX, compactY string) float64 {
	if compactX == compactY {
		return 1
	}
	if len(x) == 0 || len(y) == 0 {
		return 0
	}
	type pair struct {
		s    float64
		i, j uint8
	}
	var buf [64]pair
	pairs := buf[:0]
	for i, a := range x {
		for j, b := range y {
			if i > 255 || j > 255 {
				break
			}
			if s := jw(a, b); s >= tokenFloor {
				pairs = append(pairs, pair{s, uint8(i), uint8(j)})
			}
		}
	}
	slices.SortFunc(pairs, func(a, b pair) int { return cmp.Compare(b.s, a.s) })
	var usedX, usedY [256]bool
	var sum float64
	for _, p := range pairs {
		if usedX[p.i] || usedY[p.j] {
			continue
		}
		usedX[p.i], usedY[p.j] = true, true
		sum += p.s
	}
	return 2 * sum / float64(len(x)+len(y))
}

func nameSim(a, b *name) float64 {
	s := rescale(tokenSim(a.tokens, b.tokens, a.compact, b.compact), 0.6)
	if a.legal != "" && b.legal != "" && a.legal != b.legal {
		s *= legalFormDiffers
	}
	return s
}

func streetSim(a, b *street) float64 {
	var s float64
	switch {
	case a.joined == "" && b.joined == "":
		s = 1
	case a.joined == "" || b.joined == "":
		s = 0.5
	default:
		s = rescale(tokenSim(a.tokens, b.tokens, a.compact, b.compact), 0.6)
	}
	switch {
	case a.number == "" || b.number == "":
		s *= 0.9
	case a.number != b.number:
		s *= 0.3
	}
	return s
}

func zipSim(a, b string) float64 {
	switch {
	case a == b:
		return 1
	case len(a) >= 3 && len(b) >= 3 && (strings.HasPrefix(a, b) || strings.HasPrefix(b, a)):
		return 0.8
	case len(a) >= 4 && len(a) == len(b) && edlib.LevenshteinDistance(a, b) == 1:
		return 0.5
	}
	return 0
}

func phoneSim(a, b phone) float64 {
	n := min(8, len(a.digits), len(b.digits))
	if a.suffix(n) == b.suffix(n) {
		return 1
	}
	return 0
}

// fieldSim compares field i of a and b, both present.
func (c *compiled) fieldSim(i int, a, b *value) float64 {
	switch c.kinds[i] {
	case kindName:
		return nameSim(a.name, b.name)
	case kindStreet:
		return streetSim(a.street, b.street)
	case kindCity:
		return rescale(jw(a.text, b.text), 0.8)
	case kindZip:
		return zipSim(a.text, b.text)
	case kindCountry:
		if a.text == b.text {
			return 1
		}
		return 0
	case kindPhone:
		return phoneSim(a.phone, b.phone)
	}
	return rescale(jw(a.text, b.text), 0.75)
}

// result is a scored pair before it becomes a Candidate.
type result struct {
	score    float64
	key      int // index of the matching key, -1 for none
	conflict int // index of a conflicting strong key, -1 for none
}

// score compares a with b. With prune, a pair that cannot reach Review may
// stop early with a score of 0.
func (c *compiled) score(a, b *features, prune bool) result {
	res := result{key: -1, conflict: -1}
	weakConflict := false
	for i := range c.Keys {
		ka, kb := a.keys[i], b.keys[i]
		if ka == "" || kb == "" {
			continue
		}
		if ka == kb {
			if res.key < 0 {
				res.key = i
			}
			continue
		}
		if c.strong[i] {
			if res.conflict < 0 {
				res.conflict = i
			}
		} else {
			weakConflict = true
		}
	}
	if res.key >= 0 && res.conflict < 0 {
		res.score = 1
		return res
	}
	var sum, present, rest float64
	for i := range c.Fields {
		if a.values[i].ok && b.values[i].ok {
			rest += c.weights[i]
		}
	}
	factor := 1.0
	for i := range c.Fields {
		va, vb := &a.values[i], &b.values[i]
		if !va.ok || !vb.ok {
			continue
		}
		// Stop when even equal remaining fields cannot reach Review (the
		// caller drops such pairs).
		if prune && present > 0 && (sum+rest)/(present+rest)*factor < c.Review {
			return res
		}
		rest -= c.weights[i]
		s := c.fieldSim(i, va, vb)
		sum += c.weights[i] * s
		present += c.weights[i]
		switch c.kinds[i] {
		case kindCountry:
			if s == 0 {
				factor *= countryConflict
			}
		case kindPhone:
			if va.phone.cc != "" && vb.phone.cc != "" && va.phone.cc != vb.phone.cc {
				factor *= phoneCCConflict
			}
		}
	}
	if present == 0 {
		return res
	}
	score := sum / present * factor
	if res.conflict >= 0 {
		score *= strongKeyConflict
	}
	if weakConflict {
		score *= weakKeyConflict
	}
	if len(c.Fields) > 1 && present < thinEvidence*c.total && c.AutoLink > 0 {
		score = min(score, c.Review+(c.AutoLink-c.Review)/2)
	}
	res.score = score
	return res
}

// candidate turns a scored pair into a Candidate with the fields that
// decided it, most decisive first: the matching or conflicting key, then
// the compared fields by weight times distance from an even score.
func (c *compiled) candidate(a, b *features, res result) Candidate {
	cand := Candidate{ID: b.rec.ID, Score: res.score}
	if res.key >= 0 && res.conflict < 0 {
		cand.Key = c.Keys[res.key]
		cand.Fields = append(cand.Fields, FieldScore{Field: c.Keys[res.key], A: a.rec.Fields[a.keySrc[res.key]], B: b.rec.Fields[b.keySrc[res.key]], Score: 1})
	}
	if res.conflict >= 0 {
		k := res.conflict
		cand.Fields = append(cand.Fields, FieldScore{Field: c.Keys[k], A: a.rec.Fields[a.keySrc[k]], B: b.rec.Fields[b.keySrc[k]], Score: 0})
	}
	type ranked struct {
		fs  FieldScore
		dec float64
		i   int
	}
	var rs []ranked
	for i, f := range c.Fields {
		va, vb := &a.values[i], &b.values[i]
		if !va.ok || !vb.ok {
			continue
		}
		s := c.fieldSim(i, va, vb)
		d := 2*s - 1
		if d < 0 {
			d = -d
		}
		rs = append(rs, ranked{FieldScore{Field: f, A: a.rec.Fields[f], B: b.rec.Fields[f], Score: round3(s)}, c.weights[i] * d, i})
	}
	slices.SortStableFunc(rs, func(x, y ranked) int { return cmp.Compare(y.dec, x.dec) })
	for _, r := range rs {
		cand.Fields = append(cand.Fields, r.fs)
	}
	return cand
}

func round3(f float64) float64 {
	return float64(int64(f*1000+0.5)) / 1000
}
