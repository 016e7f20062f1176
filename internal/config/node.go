package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// kind is the shape of a node.
type kind int

const (
	kindNull kind = iota
	kindScalar
	kindMap
	kindSeq
)

func (k kind) String() string {
	switch k {
	case kindNull:
		return "nothing"
	case kindScalar:
		return "a value"
	case kindMap:
		return "a mapping"
	case kindSeq:
		return "a list"
	}
	return "unknown"
}

// node is a YAML node with its position, simplified from goccy's AST: anchors,
// aliases, tags and merge keys are resolved, and every node keeps the line and
// column it came from so that any problem can point at it.
type node struct {
	kind      kind
	line, col int
	// value is the scalar's decoded value: string, int64, uint64, float64 or bool.
	value any
	// entries are a mapping's key/value pairs in file order, duplicates included.
	entries []entry
	// items are a sequence's elements.
	items []*node
	// size counts the nodes below and including this one, with aliases
	// expanded, to refuse alias bombs before anything walks the tree.
	size int
}

// maxNodes bounds the size of a config with its aliases expanded.
const maxNodes = 1_000_000

// entry is one key/value pair of a mapping.
type entry struct {
	key string
	// k is the key node, for positions.
	k *node
	v *node
}

// str returns the scalar's value as a string and whether it is one.
func (n *node) str() (string, bool) {
	s, ok := n.value.(string)
	return s, ok && n.kind == kindScalar
}

// text renders a scalar for messages; callers never pass secrets here.
func (n *node) text() string {
	switch v := n.value.(type) {
	case nil:
		return "null"
	case string:
		return v
	default:
		return fmt.Sprint(v)
	}
}

// describe names the node's type for "want X, got Y" messages.
func (n *node) describe() string {
	switch n.value.(type) {
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int64, uint64:
		return "an integer"
	case float64:
		return "a number"
	default:
		return n.kind.String()
	}
}

// parseYAML parses data into a node tree. Syntax errors come back as a Problem
// at goccy's position.
func parseYAML(file string, data []byte) (*node, *Problem) {
	f, err := parser.ParseBytes(data, 0, parser.AllowDuplicateMapKey())
	if err != nil {
		return nil, syntaxProblem(file, err)
	}
	if len(f.Docs) == 0 || f.Docs[0].Body == nil {
		return &node{kind: kindNull, line: 1, col: 1}, nil
	}
	if len(f.Docs) > 1 {
		d := f.Docs[1]
		line, col := 1, 1
		if d.Start != nil {
			line, col = d.Start.Position.Line, d.Start.Position.Column
		} else if d.Body != nil {
			line, col = pos(d.Body)
		}
		return nil, &Problem{File: file, Line: line, Col: col, Msg: "a config file holds one YAML document; remove the second"}
	}
	c := converter{anchors: map[string]*node{}}
	n, err := c.convert(f.Docs[0].Body)
	if err != nil {
		var p *Problem
		if errors.As(err, &p) {
			p.File = file
			return nil, p
		}
		return nil, &Problem{File: file, Line: 1, Col: 1, Msg: err.Error()}
	}
	return n, nil
}

// Error lets a *Problem travel as an error inside the converter.
func (p *Problem) Error() string { return p.Msg }

func syntaxProblem(file string, err error) *Problem {
	var ye yaml.Error
	if errors.As(err, &ye) && ye.GetToken() != nil {
		tk := ye.GetToken()
		return &Problem{File: file, Line: tk.Position.Line, Col: tk.Position.Column, Msg: "yaml: " + ye.GetMessage()}
	}
	return &Problem{File: file, Line: 1, Col: 1, Msg: "yaml: " + err.Error()}
}

func pos(n ast.Node) (int, int) {
	tk := n.GetToken()
	if tk == nil || tk.Position == nil {
		return 0, 0
	}
	return tk.Position.Line, tk.Position.Column
}

type converter struct {
	anchors map[string]*node
	depth   int
}

func (c *converter) errAt(n ast.Node, format string, args ...any) error {
	line, col := pos(n)
	return &Problem{Line: line, Col: col, Msg: fmt.Sprintf(format, args...)}
}

func (c *converter) convert(an ast.Node) (*node, error) {
	c.depth++
	defer func() { c.depth-- }()
	if c.depth > 100 {
		return nil, c.errAt(an, "yaml: nesting too deep")
	}
	line, col := pos(an)
	n := &node{kind: kindScalar, line: line, col: col, size: 1}
	switch v := an.(type) {
	case nil:
		return &node{kind: kindNull, size: 1}, nil
	case *ast.NullNode:
		n.kind = kindNull
	case *ast.StringNode:
		n.value = v.Value
	case *ast.LiteralNode:
		n.value = v.Value.Value
	case *ast.IntegerNode:
		n.value = v.Value
		if u, ok := v.Value.(uint64); ok && u <= math.MaxInt64 {
			n.value = int64(u)
		}
	case *ast.FloatNode:
		n.value = v.Value
	case *ast.InfinityNode:
		n.value = v.Value
	case *ast.NanNode:
		n.value = v.GetValue()
	case *ast.BoolNode:
		n.value = v.Value
	case *ast.TagNode:
		return c.convert(v.Value)
	case *ast.AnchorNode:
		inner, err := c.convert(v.Value)
		if err != nil {
			return nil, err
		}
		c.anchors[v.Name.GetToken().Value] = inner
		return inner, nil
	case *ast.AliasNode:
		name := v.Value.GetToken().Value
		target, ok := c.anchors[name]
		if !ok {
			return nil, c.errAt(an, "yaml: unknown alias *%s", name)
		}
		return target, nil
	case *ast.MappingValueNode:
		if err := c.mapping(n, []*ast.MappingValueNode{v}); err != nil {
			return nil, err
		}
	case *ast.MappingNode:
		if err := c.mapping(n, v.Values); err != nil {
			return nil, err
		}
	case *ast.SequenceNode:
		n.kind = kindSeq
		for _, item := range v.Values {
			in, err := c.convert(item)
			if err != nil {
				return nil, err
			}
			n.items = append(n.items, in)
			n.size += in.size
		}
	case *ast.CommentNode, *ast.CommentGroupNode:
		n.kind = kindNull
	default:
		return nil, c.errAt(an, "yaml: unsupported node %s", an.Type())
	}
	if n.size > maxNodes {
		return nil, c.errAt(an, "yaml: more than %d values once aliases are expanded", maxNodes)
	}
	return n, nil
}

// mapping fills n with the entries of a mapping. Entries brought in by merge
// keys (<<: *anchor) come after the explicit ones and only where no explicit
// entry has the same key.
func (c *converter) mapping(n *node, values []*ast.MappingValueNode) error {
	n.kind = kindMap
	if len(values) > 0 {
		n.line, n.col = pos(values[0].Key)
	}
	var merged []entry
	for _, mv := range values {
		v, err := c.convert(mv.Value)
		if err != nil {
			return err
		}
		if v.line == 0 {
			// An empty value ("key:") takes the key's position, not 0:0.
			cp := *v
			cp.line, cp.col = pos(mv.Key)
			v = &cp
		}
		if mv.Key.IsMergeKey() {
			if v.kind != kindMap {
				return c.errAt(mv.Key, "yaml: merge key << needs a mapping")
			}
			merged = append(merged, v.entries...)
			continue
		}
		k, err := c.convert(mv.Key)
		if err != nil {
			return err
		}
		if k.kind != kindScalar && k.kind != kindNull {
			return c.errAt(mv.Key, "yaml: a key must be a plain value")
		}
		key := k.text()
		if b, ok := k.value.(bool); ok {
			key = strconv.FormatBool(b)
		}
		n.entries = append(n.entries, entry{key: strings.TrimSpace(key), k: k, v: v})
		n.size += v.size
	}
	for _, e := range merged {
		if !hasKey(n, e.key) {
			n.entries = append(n.entries, e)
			n.size += e.v.size
		}
	}
	return nil
}

func hasKey(m *node, key string) bool {
	for _, e := range m.entries {
		if e.key == key {
			return true
		}
	}
	return false
}

// get returns the last value for key in a mapping, or nil.
func (n *node) get(key string) *node {
	if n == nil || n.kind != kindMap {
		return nil
	}
	for i := len(n.entries) - 1; i >= 0; i-- {
		if n.entries[i].key == key {
			return n.entries[i].v
		}
	}
	return nil
}

// plain converts a node to plain Go values (map[string]any, []any, scalars), the
// shape connectors receive their settings in. Integers become int64 (uint64 when
// too large), so that JSON-based decoding works.
func (n *node) plain() any {
	if n == nil {
		return nil
	}
	switch n.kind {
	case kindMap:
		m := make(map[string]any, len(n.entries))
		for _, e := range n.entries {
			m[e.key] = e.v.plain()
		}
		return m
	case kindSeq:
		s := make([]any, len(n.items))
		for i, it := range n.items {
			s[i] = it.plain()
		}
		return s
	case kindNull:
		return nil
	}
	return n.value
}

// number decodes a plain number (an integer or a float); want says what is
// expected in the error ("a number between 0 and 1").
func (l *loader) number(n *node, where, want string) (float64, bool) {
	if n == nil || n.kind == kindNull {
		return 0, false
	}
	switch x := n.value.(type) {
	case float64:
		return x, true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	}
	l.add(n, "%s: want %s, got %s", where, want, n.describe())
	return 0, false
}
