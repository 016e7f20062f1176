// Package match finds the same real-world thing in two systems (or twice in
// one). It knows nothing of the engine or the store: it compares Records,
// maps of canonical field names to text.
//
// Deterministic keys come first. Each field named in Rules.Keys is reduced
// to a key (see Key): a VAT number without its country prefix, spaces and
// dots; an e-mail address lower-cased without its "+tag"; a web domain
// without scheme, "www." and path (for the "domain" key also taken from the
// website or e-mail field, but never from a free-mail domain like gmail.com);
// a SKU without case and dashes; a customer number without leading zeros.
// Equal keys score 1. Different values of a strong key (anything but e-mail
// and domain) halve the similarity score: two companies with the same name
// and different VAT numbers are two companies.
//
// Otherwise the score is a weighted mean of field similarities over the
// fields of Rules.Fields that are present on both sides (a missing field is
// no mismatch; weights in Rules.Weights or DefaultWeight). Names are
// normalised (Normalise: lower case, no accents or punctuation), have their
// abbreviations spelled one way ("&", "und", "et" are "and" and then
// ignored; "Intl" is "international") and their trailing legal form (GmbH,
// Ltd, Inc., S.A., A/S, also with a typo) set apart: two different legal
// forms cost 5% of the name score. Name words are paired one to one in any
// order by Jaro-Winkler similarity (github.com/hbollon/go-edlib), words under
// 0.84 staying unpaired, and summed as a soft Dice coefficient. Streets are
// compared the same way with "Str."/"Straße"/"Street" and the like spelled
// one way, a different house number cutting the score to 30%. Cities use
// Jaro-Winkler, postcodes compare their letters and digits, countries their
// ISO code (names in several languages are known), phones the last eight
// national digits. Similarities are rescaled so that unrelated text scores 0,
// not the 0.5 Jaro-Winkler gives it. Conflicts then lower the mean: another
// country (x0.85), another phone country code (x0.9), another e-mail or
// domain (x0.97). When the fields present on both sides weigh less than half
// of the rules' fields (a name and nothing else), the score stays halfway
// between Review and AutoLink at most: a person decides.
//
// Candidate.Fields lists the key and fields compared, the most decisive
// first (weight times distance from an even 0.5).
//
// Blocking keeps matching far from comparing all pairs. An Index files each
// record under hashed blocking keys: its key values, each name word's first
// four letters and its sound key (phonetic), the postcode, the phone's last
// seven digits, the house number with the street's longest word. Candidates
// collects the records sharing a block with the query, keeps the 24 sharing
// the most blocks and scores only those. A block grown past 400 records says
// nothing and is dropped for good. Add and Remove update the blocks in place,
// so the engine keeps one Index per leg. Within and MatchAll use the same
// index: Within joins records into clusters of likely duplicates, MatchAll
// matches two whole sides on every CPU.
//
// A score is in [0,1]. Rules.Decide turns it into what the engine does with
// an unlinked record: link it (at or above AutoLink), ask a person (at or
// above Review), or create it. DefaultRules favour precision: a wrong link
// mixes two customers' money, a missed one leaves a duplicate someone can
// merge. TestLabelledSet measures them on Northwind's customers and products
// copied into a "CRM" with typos, abbreviations, legal forms, reordered
// words, missing fields, other phone formats and stripped accents, plus
// look-alike companies that are not the same.
package match
