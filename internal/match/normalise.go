package match

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// Normalise returns s lower-cased, without accents, with punctuation turned
// into spaces and runs of spaces collapsed: "Müller-Lüdenscheidt GmbH." becomes
// "muller ludenscheidt gmbh". Apostrophes are dropped ("Anton's" is "antons")
// and "&" becomes the word "and". Runs of single letters are joined, so
// "S.A.", "B. V." and "A/S" become "sa", "bv" and "as". It is safe for
// concurrent use.
func Normalise(s string) string {
	return strings.Join(words(s), " ")
}

// words returns the normalised words of s (see Normalise).
func words(s string) []string {
	s = fold(s)
	var out []string
	var b strings.Builder
	flush := func() {
		if b.Len() > 0 {
			out = append(out, b.String())
			b.Reset()
		}
	}
	for _, r := range s {
		switch {
		case r == '\'' || r == '`' || r == '\u2019':
			// Dropped: "anton's" is one word.
		case r == '&':
			flush()
			out = append(out, "and")
		case isWordRune(r):
			b.WriteRune(r)
		default:
			flush()
		}
	}
	flush()
	return joinLetters(out)
}

// joinLetters joins runs of two or more single-letter words: "s a" is "sa".
func joinLetters(ws []string) []string {
	out := ws[:0]
	for i := 0; i < len(ws); {
		if len(ws[i]) == 1 && i+1 < len(ws) && len(ws[i+1]) == 1 {
			j := i
			var b strings.Builder
			for j < len(ws) && len(ws[j]) == 1 {
				b.WriteString(ws[j])
				j++
			}
			out = append(out, b.String())
			i = j
			continue
		}
		out = append(out, ws[i])
		i++
	}
	return out
}

func isWordRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 127 && (unicode.IsLetter(r) || unicode.IsDigit(r))
}

// specialFolds are letters that Unicode does not decompose into a base
// letter and a mark.
var specialFolds = strings.NewReplacer(
	"ß", "ss", "æ", "ae", "ø", "o", "œ", "oe", "ł", "l", "đ", "d", "ð", "d",
	"þ", "th", "ı", "i", "ŀ", "l", "ħ", "h",
)

// fold lower-cases s and strips its accents.
func fold(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToLower(s)
	}
	s = strings.ToLower(s)
	t := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	if r, _, err := transform.String(t, s); err == nil {
		s = r
	}
	return specialFolds.Replace(s)
}

// nameAbbrev maps words of names to one spelling each.
var nameAbbrev = map[string]string{
	"und": "and", "et": "and", "y": "and", "en": "and", "og": "and", "och": "and",
	"intl": "international", "internacional": "international", "internationale": "international",
	"bros": "brothers", "mfg": "manufacturing", "assoc": "associates", "association": "associates",
	"ctr": "center", "centre": "center", "centro": "center", "zentrum": "center",
	"dept": "department", "svc": "services", "svcs": "services", "service": "services",
	"mkt": "market", "mkts": "markets", "ind": "industries", "industry": "industries",
	"tech": "technologies", "technology": "technologies", "sys": "systems",
	"hldgs": "holdings", "holding": "holdings", "grp": "group", "gruppe": "group", "groupe": "group",
	"st": "saint", "sankt": "saint", "san": "saint", "santa": "saint", "sainte": "saint",
	"mt": "mount", "no": "number", "nr": "number",
}

// legalForms maps the words of legal forms (after Normalise) to one spelling.
var legalForms = map[string]string{
	"gmbh": "gmbh", "mbh": "gmbh", "ag": "ag", "kg": "kg", "kgaa": "kgaa", "ohg": "ohg", "ug": "ug",
	"ek": "ek", "ev": "ev", "gbr": "gbr",
	"ltd": "ltd", "limited": "ltd", "plc": "plc", "llp": "llp", "lp": "lp",
	"inc": "inc", "incorporated": "inc", "corp": "corp", "corporation": "corp", "llc": "llc",
	"co": "co", "company": "co", "cie": "co", "cia": "co", "compagnie": "co", "compania": "co",
	"sa": "sa", "sas": "sas", "sasu": "sas", "sarl": "sarl", "eurl": "eurl", "snc": "snc",
	"spa": "spa", "srl": "srl", "sl": "sl", "slu": "sl", "sau": "sa", "sac": "sac",
	"bv": "bv", "bvba": "bvba", "nv": "nv", "vof": "vof",
	"as": "as", "asa": "asa", "aps": "aps", "ab": "ab", "hb": "hb", "kb": "kb", "oy": "oy", "oyj": "oyj",
	"kft": "kft", "sro": "sro", "zoo": "zoo", "sp": "sp", "ltda": "ltda", "lda": "lda",
	"pty": "pty", "pte": "pte", "bhd": "bhd", "sdn": "sdn", "kk": "kk",
}

// legalFormOf returns the legal form w spells, also with a typo when w is a
// legal form of four letters or more ("limted", "gmhb").
func legalFormOf(w string) (string, bool) {
	if l, ok := legalForms[w]; ok {
		return l, true
	}
	if len(w) < 4 {
		return "", false
	}
	for _, f := range longLegalForms {
		if f[0] == w[0] && len(f)-len(w) <= 2 && len(w)-len(f) <= 2 && jw(w, f) >= 0.9 {
			return legalForms[f], true
		}
	}
	return "", false
}

// longLegalForms are the legal forms of four letters or more, sorted.
var longLegalForms = func() []string {
	var out []string
	for f := range legalForms {
		if len(f) >= 4 {
			out = append(out, f)
		}
	}
	sortStrings(out)
	return out
}()

// name is a normalised company or product name.
type name struct {
	tokens  []string // words without the legal form and "and", abbreviations spelled one way
	joined  string   // tokens joined by spaces
	compact string   // tokens joined without spaces
	legal   string   // the legal form's words, one spelling, or ""
}

// parseName normalises a name: see Normalise, then abbreviations spelled one
// way, a leading "the" and trailing legal forms removed (the legal form is
// kept apart).
func parseName(s string) name {
	ws := words(s)
	for i, w := range ws {
		if a, ok := nameAbbrev[w]; ok {
			ws[i] = a
		}
	}
	if len(ws) > 1 && (ws[0] == "the" || ws[0] == "die" || ws[0] == "der" || ws[0] == "la" || ws[0] == "le" || ws[0] == "el") {
		ws = ws[1:]
	}
	end := len(ws)
	for end > 1 {
		w := ws[end-1]
		if l, ok := legalFormOf(w); ok {
			ws[end-1] = l
			end--
			continue
		}
		if w == "and" && end < len(ws) {
			end--
			continue
		}
		break
	}
	// "Smith & Co": a dangling "and" belongs to the legal form.
	for end > 1 && ws[end-1] == "and" {
		end--
	}
	var legal []string
	for _, w := range ws[end:] {
		if l, ok := legalForms[w]; ok {
			legal = append(legal, l)
		}
	}
	n := name{legal: strings.Join(legal, " ")}
	for _, w := range ws[:end] {
		if w != "and" {
			n.tokens = append(n.tokens, w)
		}
	}
	if len(n.tokens) == 0 {
		n.tokens = ws[:end:end]
	}
	n.joined = strings.Join(n.tokens, " ")
	n.compact = strings.Join(n.tokens, "")
	return n
}

// streetAbbrev maps words of street addresses to one spelling.
var streetAbbrev = map[string]string{
	"str": "street", "st": "street", "strasse": "street", "strase": "street", "straat": "street",
	"ave": "avenue", "av": "avenue", "avda": "avenue", "avenida": "avenue",
	"rd": "road", "blvd": "boulevard", "bd": "boulevard", "bvd": "boulevard",
	"c": "calle", "r": "rua", "rue": "rua",
	"pl": "place", "plaza": "place", "platz": "place", "plz": "place", "praca": "place", "plein": "place",
	"sq": "square", "dr": "drive", "ln": "lane", "ct": "court",
	"n": "north", "s": "south", "e": "east", "w": "west",
	"ste": "suite", "fl": "floor", "nr": "number", "no": "number", "num": "number",
}

// street is a normalised street address.
type street struct {
	tokens  []string // words other than numbers, abbreviations spelled one way
	joined  string
	compact string
	number  string // the first number in the address, or ""
}

func parseStreet(s string) street {
	var st street
	for _, w := range words(s) {
		if isNumber(w) {
			if st.number == "" {
				st.number = strings.TrimLeft(w, "0")
			}
			continue
		}
		// Compounds: "hauptstrasse" is "haupt st", "obere str" stays two words.
		for _, suf := range []string{"strasse", "str", "straat", "street"} {
			if len(w) > len(suf)+2 && strings.HasSuffix(w, suf) {
				st.tokens = append(st.tokens, w[:len(w)-len(suf)])
				w = suf
				break
			}
		}
		if a, ok := streetAbbrev[w]; ok {
			w = a
		}
		st.tokens = append(st.tokens, w)
	}
	st.joined = strings.Join(st.tokens, " ")
	st.compact = strings.Join(st.tokens, "")
	return st
}

// isNumber reports whether w starts with a digit (house numbers like 12a).
func isNumber(w string) bool { return w != "" && w[0] >= '0' && w[0] <= '9' }

func sortStrings(s []string) {
	// Insertion sort: names have a handful of words.
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// alnum returns the letters and digits of s, folded and lower-cased.
func alnum(s string) string {
	s = fold(s)
	var b strings.Builder
	for _, r := range s {
		if isWordRune(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// digits returns the digits of s.
func digits(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
