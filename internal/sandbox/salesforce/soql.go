package salesforce

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/shopspring/decimal"
)

// query is a parsed SOQL statement of the subset the sandbox understands:
//
//	SELECT field, ... | COUNT() FROM object
//	  [WHERE condition] [ORDER BY field [ASC|DESC] [NULLS FIRST|LAST], ...]
//	  [LIMIT n] [OFFSET n]
//
// where a condition combines `field op value` (=, !=, <>, <, <=, >, >=),
// `field [NOT] IN (value, ...)` and `field LIKE 'pattern'` with AND, OR, NOT
// and parentheses; values are 'strings', numbers, true, false, null, dates
// (2024-05-01) and datetimes (2024-05-01T10:00:00Z, fractional seconds and
// offsets allowed).
type query struct {
	obj    *objectDef
	fields []*fieldDef
	count  bool
	where  cond
	order  []orderBy
	limit  int // -1: none
	offset int
}

type orderBy struct {
	field      *fieldDef
	desc       bool
	nullsFirst bool
}

// cond is a WHERE condition.
type cond interface {
	match(r *record) bool
}

type andCond []cond
type orCond []cond
type notCond struct{ c cond }

func (a andCond) match(r *record) bool {
	for _, c := range a {
		if !c.match(r) {
			return false
		}
	}
	return true
}

func (o orCond) match(r *record) bool {
	for _, c := range o {
		if c.match(r) {
			return true
		}
	}
	return false
}

func (n notCond) match(r *record) bool { return !n.c.match(r) }

type cmpCond struct {
	field *fieldDef
	op    string
	vals  []any // one value, or the IN list
}

func (c cmpCond) match(r *record) bool {
	v := r.get(c.field)
	switch c.op {
	case "IN", "NOT IN":
		in := slices.ContainsFunc(c.vals, func(w any) bool { return compare(c.field, v, w) == 0 && (v == nil) == (w == nil) })
		return in == (c.op == "IN")
	case "LIKE":
		return like(str(v), str(c.vals[0]))
	}
	w := c.vals[0]
	if v == nil || w == nil {
		switch c.op {
		case "=":
			return v == nil && w == nil
		case "!=":
			return (v == nil) != (w == nil)
		}
		return false
	}
	n := compare(c.field, v, w)
	switch c.op {
	case "=":
		return n == 0
	case "!=":
		return n != 0
	case "<":
		return n < 0
	case "<=":
		return n <= 0
	case ">":
		return n > 0
	case ">=":
		return n >= 0
	}
	return false
}

// compare orders two values of field f; nil sorts first.
func compare(f *fieldDef, a, b any) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	switch f.Type {
	case tDouble, tCurrency, tPercent:
		return num(a).Cmp(num(b))
	case tBoolean:
		ab, bb := a == true, b == true
		switch {
		case ab == bb:
			return 0
		case !ab:
			return -1
		}
		return 1
	case tDateTime:
		ta, _ := parseTime(str(a))
		tb, _ := parseTime(str(b))
		return ta.Compare(tb)
	case tID, tReference:
		sa, sb := str(a), str(b)
		if len(sa) == 15 || len(sb) == 15 {
			sa, sb = sa[:min(15, len(sa))], sb[:min(15, len(sb))]
		}
		return strings.Compare(sa, sb)
	}
	return cmp.Compare(strings.ToLower(str(a)), strings.ToLower(str(b)))
}

// like matches SOQL's LIKE: % any run, _ one character, case-insensitive.
func like(s, pattern string) bool {
	s, pattern = strings.ToLower(s), strings.ToLower(pattern)
	if pattern == "" {
		return s == ""
	}
	switch pattern[0] {
	case '%':
		for i := 0; i <= len(s); i++ {
			if like(s[i:], pattern[1:]) {
				return true
			}
		}
		return false
	case '_':
		return s != "" && like(s[1:], pattern[1:])
	}
	return s != "" && s[0] == pattern[0] && like(s[1:], pattern[1:])
}

// token kinds.
const (
	tokIdent = iota
	tokString
	tokNumber
	tokDate
	tokPunct
	tokEOF
)

type token struct {
	kind int
	text string
	pos  int
}

func lex(q string) ([]token, error) {
	var out []token
	i := 0
	for i < len(q) {
		c := q[i]
		switch {
		case unicode.IsSpace(rune(c)):
			i++
		case c == '\'':
			var b strings.Builder
			j := i + 1
			for ; j < len(q) && q[j] != '\''; j++ {
				if q[j] == '\\' && j+1 < len(q) {
					j++
					switch q[j] {
					case 'n':
						b.WriteByte('\n')
					case 't':
						b.WriteByte('\t')
					default:
						b.WriteByte(q[j])
					}
					continue
				}
				b.WriteByte(q[j])
			}
			if j >= len(q) {
				return nil, fmt.Errorf("unterminated string at column %d", i+1)
			}
			out = append(out, token{tokString, b.String(), i})
			i = j + 1
		case c >= '0' && c <= '9' || c == '-' && i+1 < len(q) && q[i+1] >= '0' && q[i+1] <= '9':
			j := i + 1
			for j < len(q) && strings.IndexByte("0123456789.-:+TZ", q[j]) >= 0 {
				j++
			}
			text := q[i:j]
			kind := tokNumber
			if _, err := strconv.ParseFloat(text, 64); err != nil {
				kind = tokDate
			}
			out = append(out, token{kind, text, i})
			i = j
		case c == '_' || unicode.IsLetter(rune(c)):
			j := i
			for j < len(q) && (q[j] == '_' || q[j] == '.' || unicode.IsLetter(rune(q[j])) || unicode.IsDigit(rune(q[j]))) {
				j++
			}
			out = append(out, token{tokIdent, q[i:j], i})
			i = j
		default:
			for _, p := range []string{"!=", "<>", "<=", ">=", "=", "<", ">", "(", ")", ","} {
				if strings.HasPrefix(q[i:], p) {
					out = append(out, token{tokPunct, p, i})
					i += len(p)
					goto next
				}
			}
			return nil, fmt.Errorf("unexpected character %q at column %d", c, i+1)
		next:
		}
	}
	return append(out, token{kind: tokEOF, pos: len(q)}), nil
}

// parser reads tokens; its errors are *apiError with MALFORMED_QUERY,
// INVALID_FIELD or INVALID_TYPE.
type parser struct {
	toks []token
	i    int
	s    *store
	obj  *objectDef
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token { t := p.toks[p.i]; p.i++; return t }

func (p *parser) keyword(kw string) bool {
	t := p.peek()
	if t.kind == tokIdent && strings.EqualFold(t.text, kw) {
		p.i++
		return true
	}
	return false
}

func (p *parser) punct(s string) bool {
	if t := p.peek(); t.kind == tokPunct && t.text == s {
		p.i++
		return true
	}
	return false
}

func malformed(format string, args ...any) *apiError {
	return errf("MALFORMED_QUERY", nil, format, args...)
}

// parseQuery parses SOQL against the store's objects.
func (s *store) parseQuery(q string) (*query, *apiError) {
	toks, err := lex(q)
	if err != nil {
		return nil, malformed("%s", err)
	}
	p := &parser{toks: toks, s: s}
	if !p.keyword("SELECT") {
		return nil, malformed("unexpected token: '%s'", p.peek().text)
	}
	var names []token
	count := false
	if t := p.peek(); t.kind == tokIdent && strings.EqualFold(t.text, "COUNT") && p.toks[p.i+1].text == "(" {
		p.i += 2
		if !p.punct(")") {
			return nil, malformed("COUNT() takes no field")
		}
		count = true
	} else {
		for {
			t := p.next()
			if t.kind != tokIdent {
				return nil, malformed("unexpected token: '%s'", t.text)
			}
			names = append(names, t)
			if !p.punct(",") {
				break
			}
		}
	}
	if !p.keyword("FROM") {
		return nil, malformed("unexpected token: '%s'", p.peek().text)
	}
	ot := p.next()
	p.obj = s.object(ot.text)
	if ot.kind != tokIdent || p.obj == nil {
		return nil, errf("INVALID_TYPE", nil, "sObject type '%s' is not supported.", ot.text)
	}
	qu := &query{obj: p.obj, count: count, limit: -1}
	seen := map[string]bool{}
	for _, t := range names {
		f, aerr := p.field(t)
		if aerr != nil {
			return nil, aerr
		}
		if !seen[f.Name] {
			seen[f.Name] = true
			qu.fields = append(qu.fields, f)
		}
	}
	if p.keyword("WHERE") {
		c, aerr := p.or()
		if aerr != nil {
			return nil, aerr
		}
		qu.where = c
	}
	if p.keyword("ORDER") {
		if !p.keyword("BY") {
			return nil, malformed("expecting BY after ORDER")
		}
		for {
			f, aerr := p.field(p.next())
			if aerr != nil {
				return nil, aerr
			}
			o := orderBy{field: f}
			if p.keyword("DESC") {
				o.desc, o.nullsFirst = true, false
			} else {
				p.keyword("ASC")
				o.nullsFirst = true
			}
			if p.keyword("NULLS") {
				switch {
				case p.keyword("FIRST"):
					o.nullsFirst = true
				case p.keyword("LAST"):
					o.nullsFirst = false
				default:
					return nil, malformed("expecting FIRST or LAST after NULLS")
				}
			}
			qu.order = append(qu.order, o)
			if !p.punct(",") {
				break
			}
		}
	}
	if p.keyword("LIMIT") {
		t := p.next()
		n, err := strconv.Atoi(t.text)
		if t.kind != tokNumber || err != nil || n < 0 {
			return nil, malformed("LIMIT must be a non-negative integer")
		}
		qu.limit = n
	}
	if p.keyword("OFFSET") {
		t := p.next()
		n, err := strconv.Atoi(t.text)
		if t.kind != tokNumber || err != nil || n < 0 || n > 2000 {
			return nil, errf("NUMBER_OUTSIDE_VALID_RANGE", nil, "Maximum SOQL offset allowed is 2000")
		}
		qu.offset = n
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, malformed("unexpected token: '%s' at column %d", t.text, t.pos+1)
	}
	return qu, nil
}

func (p *parser) field(t token) (*fieldDef, *apiError) {
	if t.kind != tokIdent {
		return nil, malformed("unexpected token: '%s'", t.text)
	}
	f := p.obj.field(t.text)
	if f == nil {
		return nil, errf("INVALID_FIELD", nil,
			"No such column '%s' on entity '%s'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.",
			t.text, p.obj.Name)
	}
	return f, nil
}

func (p *parser) or() (cond, *apiError) {
	var cs orCond
	for {
		c, aerr := p.and()
		if aerr != nil {
			return nil, aerr
		}
		cs = append(cs, c)
		if !p.keyword("OR") {
			break
		}
	}
	if len(cs) == 1 {
		return cs[0], nil
	}
	return cs, nil
}

func (p *parser) and() (cond, *apiError) {
	var cs andCond
	for {
		c, aerr := p.factor()
		if aerr != nil {
			return nil, aerr
		}
		cs = append(cs, c)
		if !p.keyword("AND") {
			break
		}
	}
	if len(cs) == 1 {
		return cs[0], nil
	}
	return cs, nil
}

func (p *parser) factor() (cond, *apiError) {
	if p.keyword("NOT") {
		c, aerr := p.factor()
		if aerr != nil {
			return nil, aerr
		}
		return notCond{c}, nil
	}
	if p.punct("(") {
		c, aerr := p.or()
		if aerr != nil {
			return nil, aerr
		}
		if !p.punct(")") {
			return nil, malformed("expecting ')'")
		}
		return c, nil
	}
	f, aerr := p.field(p.next())
	if aerr != nil {
		return nil, aerr
	}
	c := cmpCond{field: f}
	switch t := p.peek(); {
	case p.keyword("IN"):
		c.op = "IN"
	case p.keyword("NOT"):
		if !p.keyword("IN") {
			return nil, malformed("expecting IN after NOT")
		}
		c.op = "NOT IN"
	case p.keyword("LIKE"):
		c.op = "LIKE"
	case t.kind == tokPunct && strings.Contains("= != <> < <= > >=", t.text) && t.text != "(" && t.text != ")" && t.text != ",":
		p.i++
		c.op = t.text
		if c.op == "<>" {
			c.op = "!="
		}
	default:
		return nil, malformed("unexpected token: '%s' at column %d", t.text, t.pos+1)
	}
	if c.op == "IN" || c.op == "NOT IN" {
		if !p.punct("(") {
			return nil, malformed("expecting '(' after IN")
		}
		for {
			v, aerr := p.value(f)
			if aerr != nil {
				return nil, aerr
			}
			c.vals = append(c.vals, v)
			if p.punct(")") {
				break
			}
			if !p.punct(",") {
				return nil, malformed("expecting ',' or ')' in IN list")
			}
		}
		return c, nil
	}
	v, aerr := p.value(f)
	if aerr != nil {
		return nil, aerr
	}
	c.vals = []any{v}
	return c, nil
}

// value reads a literal and converts it to the stored form of f's values.
func (p *parser) value(f *fieldDef) (any, *apiError) {
	t := p.next()
	bad := func() (any, *apiError) {
		return nil, errf("INVALID_QUERY_FILTER_OPERATOR", nil, "value of filter criterion for field '%s' must be of type %s and should not be enclosed in quotes", f.Name, f.Type)
	}
	switch t.kind {
	case tokIdent:
		switch strings.ToLower(t.text) {
		case "null":
			return nil, nil
		case "true", "false":
			if f.Type != tBoolean {
				return bad()
			}
			return strings.EqualFold(t.text, "true"), nil
		}
	case tokString:
		switch f.Type {
		case tDouble, tCurrency, tPercent, tBoolean, tDate, tDateTime:
			return bad()
		}
		return t.text, nil
	case tokNumber:
		switch f.Type {
		case tDouble, tCurrency, tPercent:
			d, err := decimal.NewFromString(t.text)
			if err != nil {
				return bad()
			}
			return json.Number(d.String()), nil
		}
		return bad()
	case tokDate:
		switch f.Type {
		case tDate:
			if _, err := time.Parse(time.DateOnly, t.text); err == nil {
				return t.text, nil
			}
		case tDateTime:
			for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.000-0700", "2006-01-02T15:04:05-0700"} {
				if tm, err := time.Parse(layout, t.text); err == nil {
					return formatTime(tm), nil
				}
			}
		}
		return nil, malformed("line 1:%d no viable alternative at character '%s'", t.pos+1, t.text)
	}
	return nil, malformed("unexpected token: '%s' at column %d", t.text, t.pos+1)
}

// run returns the ids of the matching records, in order. all includes
// records in the recycle bin (queryAll).
func (s *store) run(q *query, all bool) []*record {
	var out []*record
	for _, r := range s.records {
		if r.obj != q.obj || (r.deleted && !all) {
			continue
		}
		if q.where != nil && !q.where.match(r) {
			continue
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b *record) int {
		for _, o := range q.order {
			va, vb := a.get(o.field), b.get(o.field)
			if (va == nil) != (vb == nil) {
				if (va == nil) == o.nullsFirst {
					return -1
				}
				return 1
			}
			n := compare(o.field, va, vb)
			if o.desc {
				n = -n
			}
			if n != 0 {
				return n
			}
		}
		return strings.Compare(a.id, b.id)
	})
	if q.offset > 0 {
		out = out[min(q.offset, len(out)):]
	}
	if q.limit >= 0 && len(out) > q.limit {
		out = out[:q.limit]
	}
	return out
}
