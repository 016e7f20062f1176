package clean

import (
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"

	"github.com/concord-sync/concord/internal/model"
)

// Rules lists the rule names a field may declare in the config, in the order they
// are documented.
var Rules = []string{"trim", "lower", "upper", "email", "phone", "country", "vat"}

// Error is a value a rule refused.
type Error struct {
	Rule  string
	Value string
	Msg   string
}

// Error implements error.
func (e *Error) Error() string { return fmt.Sprintf("%s: %q %s", e.Rule, e.Value, e.Msg) }

// Options carry what a rule needs beyond the value itself.
type Options struct {
	// Country is the ISO 3166-1 alpha-2 country a phone number without an
	// international prefix is read in: the record's own country, else the
	// flow's or system's default_country. Empty refuses such numbers.
	Country string
}

// Apply runs rules over v in order and returns the cleaned value. Null values pass
// every rule unchanged (use required to refuse them). Rules apply to text values;
// a rule on a non-text value is an error.
func Apply(rules []string, v model.Value) (model.Value, error) {
	return ApplyWith(rules, v, Options{})
}

// ApplyWith is Apply with options (the country phone numbers are read in).
func ApplyWith(rules []string, v model.Value, opt Options) (model.Value, error) {
	if v.IsNull() || len(rules) == 0 {
		return v, nil
	}
	if v.Kind != model.KindText {
		return v, &Error{Rule: rules[0], Value: v.String(), Msg: "is not text"}
	}
	s := v.Str
	for _, r := range rules {
		var err error
		s, err = apply(r, s, opt)
		if err != nil {
			return v, err
		}
	}
	return model.Text(s), nil
}

func apply(rule, s string, opt Options) (string, error) {
	switch rule {
	case "trim":
		return strings.Join(strings.Fields(s), " "), nil
	case "lower":
		return strings.ToLower(s), nil
	case "upper":
		return strings.ToUpper(s), nil
	case "email":
		return Email(s)
	case "phone":
		return Phone(s, opt.Country)
	case "country":
		return Country(s)
	case "vat":
		return VAT(s)
	}
	return s, &Error{Rule: rule, Value: s, Msg: "is an unknown rule"}
}

// Email lower-cases the address and checks it has one local part, one @ and a
// dotted domain. (Local parts are case-sensitive in theory; no mail system in use
// treats them so, and a CRM and an ERP holding "Maria@" and "maria@" must agree.)
func Email(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s {
		return s, &Error{Rule: "email", Value: s, Msg: "is not an e-mail address"}
	}
	domain := s[strings.LastIndexByte(s, '@')+1:]
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") {
		return s, &Error{Rule: "email", Value: s, Msg: "has no valid domain"}
	}
	return s, nil
}

var phoneJunk = strings.NewReplacer(" ", "", "-", "", ".", "", "(", "", ")", "", "/", "")

// Phone returns s in E.164 (+ then the country code and number), parsed with
// libphonenumber's rules (github.com/nyaruka/phonenumbers). A number written
// with an international prefix (+49, 0049) is read as such; a national number
// ("020 7946 0958", "030-0074321") is read in country, an ISO 3166-1 alpha-2
// code: the record's country or the configured default_country. Without a
// country, a national number is refused. A number whose length cannot be a
// number of its country is refused; one that is possible but not in a range
// known to be assigned is kept (numbering plans change faster than the library).
func Phone(s, country string) (string, error) {
	raw := s
	t := strings.TrimSpace(s)
	if strings.HasPrefix(phoneJunk.Replace(t), "00") && !strings.HasPrefix(t, "+") {
		t = "+" + strings.TrimPrefix(phoneJunk.Replace(t), "00")
	}
	region := strings.ToUpper(country)
	if !strings.HasPrefix(t, "+") {
		if region == "" {
			return raw, &Error{Rule: "phone", Value: raw, Msg: "has no international prefix (+CC) and the record has no country; set the record's country or default_country"}
		}
		if phonenumbers.GetCountryCodeForRegion(region) == 0 {
			return raw, &Error{Rule: "phone", Value: raw, Msg: fmt.Sprintf("has no international prefix (+CC) and %q is not a country phone numbers are known for", country)}
		}
	}
	if strings.IndexFunc(t, unicode.IsLetter) >= 0 {
		return raw, &Error{Rule: "phone", Value: raw, Msg: "holds letters; write the number in digits (E.164 has no room for an extension)"}
	}
	num, err := phonenumbers.Parse(t, region)
	if err != nil {
		return raw, &Error{Rule: "phone", Value: raw, Msg: "is not a phone number"}
	}
	if phonenumbers.IsPossibleNumberWithReason(num) != phonenumbers.IS_POSSIBLE {
		where := ""
		if !strings.HasPrefix(t, "+") {
			where = " of " + region
		}
		return raw, &Error{Rule: "phone", Value: raw, Msg: fmt.Sprintf("is not a phone number%s (wrong number of digits)", where)}
	}
	return phonenumbers.Format(num, phonenumbers.E164), nil
}

// Country returns the ISO 3166-1 alpha-2 code of s, which may be a code (any case)
// or an English country name.
func Country(s string) (string, error) {
	t := strings.TrimSpace(s)
	if len(t) == 2 {
		up := strings.ToUpper(t)
		if _, ok := countryNames[up]; ok {
			return up, nil
		}
	}
	if code, ok := countryCodes[strings.ToLower(t)]; ok {
		return code, nil
	}
	return s, &Error{Rule: "country", Value: s, Msg: "is not an ISO 3166 country code or known country name"}
}

var vatShape = regexp.MustCompile(`^[A-Z]{2}[0-9A-Z]{2,13}$`)

// VAT upper-cases s, removes spaces, dots and dashes, and checks the EU VAT shape:
// a two-letter country prefix and 2 to 13 letters or digits.
func VAT(s string) (string, error) {
	t := strings.ToUpper(phoneJunk.Replace(strings.TrimSpace(s)))
	if !vatShape.MatchString(t) {
		return s, &Error{Rule: "vat", Value: s, Msg: "is not a VAT number (CC + 2 to 13 letters or digits)"}
	}
	return t, nil
}

// ControlChar returns the byte offset and the rune of the first character of s
// that no system should store in a text value: NUL, the other C0 control
// characters except tab, line feed and carriage return, DEL, the C1 controls
// (U+0080 to U+009F), and bytes that are not valid UTF-8 (returned as
// utf8.RuneError). ok is false when s has none.
func ControlChar(s string) (offset int, r rune, ok bool) {
	for i, c := range s {
		switch {
		case c == utf8.RuneError:
			if _, size := utf8.DecodeRuneInString(s[i:]); size <= 1 {
				return i, c, true
			}
		case c == '\t' || c == '\n' || c == '\r':
		case c < 0x20, c == 0x7f, c >= 0x80 && c <= 0x9f:
			return i, c, true
		}
	}
	return 0, 0, false
}

// CheckText refuses a text value holding a character ControlChar finds, with
// an error that names the character and where it is ("NUL at byte 7").
func CheckText(s string) error {
	i, r, ok := ControlChar(s)
	if !ok {
		return nil
	}
	return &Error{Rule: "text", Value: s, Msg: fmt.Sprintf("holds %s at byte %d; control characters are not stored", charName(r), i)}
}

// charName names a control character for people: NUL, U+001B, invalid UTF-8.
func charName(r rune) string {
	switch r {
	case 0:
		return "a NUL byte"
	case utf8.RuneError:
		return "a byte that is not UTF-8"
	}
	return fmt.Sprintf("the control character %U", r)
}
