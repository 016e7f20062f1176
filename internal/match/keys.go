package match

import (
	"strings"
)

// Key returns the normalised value of a deterministic key field, "" when the
// value gives no key. Known kinds:
//
//   - vat, tax_id: letters and digits upper-cased, the two-letter country
//     prefix dropped ("DE 123.456.789" and "123456789" are equal);
//   - email: lower-cased, a "+tag" after the local part dropped;
//   - domain, website: lower-cased, without scheme, "www.", port and path; a
//     free-mail domain (gmail.com, outlook.com...) gives no key;
//   - sku: letters and digits upper-cased (dashes, dots and spaces dropped);
//   - customer_number: letters and digits upper-cased, leading zeros of the
//     number dropped ("C-00042" and "c42" are equal).
//
// Any other field compares its letters and digits lower-cased. It is safe
// for concurrent use.
func Key(field, value string) string {
	value = strings.TrimSpace(value)
	if value == "" {
		return ""
	}
	switch field {
	case "vat", "tax_id":
		v := strings.ToUpper(alnum(value))
		if len(v) > 2 && isLetter(v[0]) && isLetter(v[1]) && hasDigit(v[2:]) {
			v = v[2:]
		}
		return v
	case "email":
		return emailKey(value)
	case "domain", "website":
		return domainKey(value)
	case "sku":
		return strings.ToUpper(alnum(value))
	case "customer_number":
		v := strings.ToUpper(alnum(value))
		i := 0
		for i < len(v) && isLetter(v[i]) {
			i++
		}
		num := strings.TrimLeft(v[i:], "0")
		if num == "" && i < len(v) {
			num = "0"
		}
		return v[:i] + num
	}
	return alnum(value)
}

func isLetter(c byte) bool { return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' }

func hasDigit(s string) bool { return strings.ContainsAny(s, "0123456789") }

func emailKey(v string) string {
	v = strings.ToLower(strings.TrimSpace(v))
	v = strings.TrimPrefix(v, "mailto:")
	at := strings.LastIndexByte(v, '@')
	if at <= 0 || at == len(v)-1 {
		return ""
	}
	local, dom := v[:at], v[at+1:]
	if plus := strings.IndexByte(local, '+'); plus > 0 {
		local = local[:plus]
	}
	return local + "@" + strings.TrimSuffix(dom, ".")
}

// domainKey returns the company domain of a web address or e-mail address,
// "" for free-mail domains.
func domainKey(v string) string {
	v = strings.ToLower(strings.TrimSpace(v))
	if at := strings.LastIndexByte(v, '@'); at >= 0 {
		v = v[at+1:]
	}
	if i := strings.Index(v, "://"); i >= 0 {
		v = v[i+3:]
	}
	if i := strings.IndexAny(v, "/?#"); i >= 0 {
		v = v[:i]
	}
	if i := strings.IndexByte(v, ':'); i >= 0 {
		v = v[:i]
	}
	v = strings.TrimSuffix(strings.TrimPrefix(v, "www."), ".")
	if !strings.Contains(v, ".") || freeMail(v) {
		return ""
	}
	return v
}

// freeMailDomains are mail providers whose domain says nothing about a
// company. Country variants of yahoo, hotmail, live and gmx are matched by
// their first label.
var freeMailDomains = map[string]bool{
	"gmail.com": true, "googlemail.com": true, "outlook.com": true, "msn.com": true,
	"aol.com": true, "icloud.com": true, "me.com": true, "mac.com": true, "mail.com": true,
	"protonmail.com": true, "proton.me": true, "pm.me": true, "zoho.com": true, "yandex.com": true,
	"yandex.ru": true, "mail.ru": true, "qq.com": true, "163.com": true, "126.com": true,
	"web.de": true, "t-online.de": true, "freenet.de": true, "posteo.de": true, "arcor.de": true,
	"orange.fr": true, "free.fr": true, "wanadoo.fr": true, "laposte.net": true, "sfr.fr": true,
	"libero.it": true, "virgilio.it": true, "tiscali.it": true, "btinternet.com": true,
	"comcast.net": true, "verizon.net": true, "att.net": true, "sbcglobal.net": true,
	"bluewin.ch": true, "telenet.be": true, "skynet.be": true, "terra.com.br": true, "uol.com.br": true,
	"bol.com.br": true, "seznam.cz": true, "wp.pl": true, "o2.pl": true, "onet.pl": true, "inbox.lv": true,
	"hushmail.com": true, "fastmail.com": true, "tutanota.com": true, "tuta.io": true,
}

var freeMailLabels = map[string]bool{"yahoo": true, "hotmail": true, "live": true, "gmx": true, "ymail": true, "rocketmail": true}

func freeMail(d string) bool {
	if freeMailDomains[d] {
		return true
	}
	first, _, _ := strings.Cut(d, ".")
	return freeMailLabels[first]
}

// strongKey reports whether two different values of the key field mean two
// different things (a VAT number, a SKU). E-mail addresses and domains are
// weak: one company has several.
func strongKey(field string) bool {
	switch field {
	case "email", "domain", "website":
		return false
	}
	return true
}

// countries maps country names and codes (after Normalise, spaces removed)
// to ISO 3166-1 alpha-2 codes.
var countries = buildCountries()

func buildCountries() map[string]string {
	m := map[string]string{}
	for code, names := range map[string]string{
		"ar": "argentina arg", "at": "austria osterreich aut", "au": "australia aus",
		"be": "belgium belgique belgie bel", "br": "brazil brasil bra", "ca": "canada can",
		"ch": "switzerland schweiz suisse svizzera che", "cn": "china chn", "cz": "czechia czechrepublic cze",
		"de": "germany deutschland deu ger", "dk": "denmark danmark dnk", "es": "spain espana esp",
		"fi": "finland suomi fin", "fr": "france fra", "gb": "unitedkingdom uk greatbritain england scotland wales gbr britain",
		"gr": "greece grc", "hu": "hungary hun", "ie": "ireland eire irl", "in": "india ind",
		"it": "italy italia ita", "jp": "japan jpn", "mx": "mexico mex", "nl": "netherlands nederland thenetherlands nld holland",
		"no": "norway norge nor", "nz": "newzealand nzl", "pl": "poland polska pol", "pt": "portugal prt",
		"ru": "russia rus", "se": "sweden sverige swe", "us": "usa unitedstates unitedstatesofamerica america",
		"ve": "venezuela ven", "za": "southafrica zaf", "tr": "turkey turkiye tur", "ro": "romania rou",
		"lu": "luxembourg lux", "sk": "slovakia svk", "si": "slovenia svn", "hr": "croatia hrv",
	} {
		m[code] = code
		for n := range strings.FieldsSeq(names) {
			m[n] = code
		}
	}
	return m
}

// countryCode returns the ISO code of a country name or code, or the
// normalised text when it is unknown.
func countryCode(s string) string {
	k := strings.ReplaceAll(Normalise(s), " ", "")
	if c, ok := countries[k]; ok {
		return c
	}
	return k
}

// phone is a phone number reduced to what compares.
type phone struct {
	cc     string // country calling code when the number carried one (+44, 0044)
	digits string // the national digits, without the trunk 0
}

// parsePhone reduces a phone number to its calling code (when written) and
// national digits.
func parsePhone(s string) phone {
	s = strings.TrimSpace(s)
	d := digits(s)
	var p phone
	switch {
	case strings.HasPrefix(s, "+"):
	case strings.HasPrefix(d, "00") && len(d) > 9:
		d = d[2:]
	default:
		p.digits = strings.TrimLeft(d, "0")
		return p
	}
	n := callingCodeLen(d)
	if n == 0 || len(d) <= n {
		p.digits = d
		return p
	}
	p.cc, p.digits = d[:n], strings.TrimLeft(d[n:], "0")
	return p
}

// callingCodeLen returns the length of the ITU calling code d starts with.
func callingCodeLen(d string) int {
	if d == "" {
		return 0
	}
	switch d[0] {
	case '1', '7':
		return 1
	}
	if len(d) < 2 {
		return 0
	}
	switch d[:2] {
	case "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46", "47", "48", "49",
		"51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63", "64", "65", "66",
		"81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98":
		return 2
	}
	return 3
}

// suffix returns the last n digits of the national number (all of them when
// shorter).
func (p phone) suffix(n int) string {
	if len(p.digits) <= n {
		return p.digits
	}
	return p.digits[len(p.digits)-n:]
}
