package config

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/concord-sync/concord/internal/clean"
	"github.com/concord-sync/concord/internal/connector"
)

var nameRe = regexp.MustCompile(namePattern)

func (l *loader) systems(n *node) {
	l.systemLines = map[string]int{}
	items := l.list(n, "systems")
	if n != nil && n.kind == kindSeq && len(items) == 0 {
		l.add(n, "systems is empty; configure at least one system to connect")
	}
	for i, item := range items {
		where := fmt.Sprintf("systems[%d]", i)
		m := l.object(item, where, systemSchema)
		if item.kind != kindMap {
			continue
		}
		sys := System{Line: item.line}
		name, _ := l.str(m["name"].v, where+".name")
		switch {
		case name == "":
			l.add(item, "%s has no name", where)
		case !nameRe.MatchString(name):
			l.add(m["name"].v, "system name %q: use lower-case letters, digits, _ and -", name)
		default:
			if first, dup := l.systemLines[name]; dup {
				l.add(m["name"].v, "duplicate system name %q (first at line %d)", name, first)
			} else {
				l.systemLines[name] = item.line
			}
		}
		sys.Name = name
		label := "system " + name
		if name == "" {
			label = where
		}

		connName, _ := l.str(m["connector"].v, label+": connector")
		var spec connector.Spec
		var known bool
		if connName == "" {
			l.add(item, "%s has no connector; known connectors: %s", label, knownConnectors(l.reg))
		} else if spec, known = l.reg.Lookup(connName); !known {
			l.add(m["connector"].v, "unknown connector %q; known connectors: %s", connName, knownConnectors(l.reg))
		}
		sys.Connector = connName
		sys.DefaultCountry = l.country(m["default_country"].v, label+": default_country")
		if v, ok := l.integer(m["max_concurrency"].v, label+": max_concurrency", 1); ok {
			sys.MaxConcurrency = v
		}

		before := len(l.problems)
		settingsNode := m["settings"].v
		if settingsNode != nil && settingsNode.kind != kindMap && settingsNode.kind != kindNull {
			l.add(settingsNode, "%s: settings: want a mapping, got %s", label, settingsNode.describe())
			settingsNode = nil
		}
		settings := l.settings(settingsNode, spec, label)
		sys.Settings = settings
		sys.settings = settingsNode
		if e, ok := m["settings"]; ok {
			sys.settingsKey = e.k
		}
		if known && len(l.problems) == before && spec.Validate != nil {
			at := settingsNode
			if at == nil {
				at = item
			}
			for _, err := range explained(flatten(spec.Validate(settings))) {
				l.settingError(at, label, err)
			}
		}
		l.cfg.Systems = append(l.cfg.Systems, sys)
	}
}

func knownConnectors(reg *connector.Registry) string {
	names := reg.Names()
	if len(names) == 0 {
		return "none registered"
	}
	return strings.Join(names, ", ")
}

// flatten expands errors.Join trees into their leaves.
func flatten(errs []error) []error {
	var out []error
	for _, err := range errs {
		if err == nil {
			continue
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			out = append(out, flatten(j.Unwrap())...)
			continue
		}
		out = append(out, err)
	}
	return out
}

// explained leaves out the problems about a missing key that a misspelling of
// it explains: "table: required" next to "tabel: unknown key; did you mean
// table?".
func explained(errs []error) []error {
	meant := map[string]bool{}
	for _, err := range errs {
		var se *connector.SettingError
		if errors.As(err, &se) && se.Meant != "" {
			parent := ""
			if i := strings.LastIndex(se.Path, "."); i >= 0 {
				parent = se.Path[:i+1]
			}
			meant[parent+se.Meant] = true
		}
	}
	if len(meant) == 0 {
		return errs
	}
	out := errs[:0:0]
	for _, err := range errs {
		var se *connector.SettingError
		if errors.As(err, &se) && meant[se.Path] {
			continue
		}
		out = append(out, err)
	}
	return out
}

// settingError reports one error of a connector's Validate at the node its
// path names, or at the closest existing parent.
func (l *loader) settingError(settings *node, label string, err error) {
	var se *connector.SettingError
	if !errors.As(err, &se) {
		l.add(settings, "%s: settings: %s", label, err.Error())
		return
	}
	if se.Path == "" {
		l.add(settings, "%s: settings: %s", label, se.Msg)
		return
	}
	at := lookupPath(settings, se.Path)
	if se.Key {
		if k, _ := lookupEntry(settings, se.Path); k != nil {
			at = k
		}
	}
	l.add(at, "%s: settings.%s: %s", label, se.Path, se.Msg)
}

// lookupEntry follows a dotted path like lookupPath and returns the key node
// and the value node of the deepest mapping entry it reaches; both are nil when
// not even the first key exists.
func lookupEntry(n *node, path string) (key, val *node) {
	path = strings.NewReplacer("[", ".", "]", "").Replace(path)
	cur := n
	for seg := range strings.SplitSeq(path, ".") {
		if seg == "" || cur == nil {
			continue
		}
		switch cur.kind {
		case kindMap:
			var found bool
			for i := len(cur.entries) - 1; i >= 0; i-- {
				if e := cur.entries[i]; e.key == seg {
					key, val, found = e.k, e.v, true
					break
				}
			}
			if !found {
				return key, val
			}
			cur = val
		case kindSeq:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(cur.items) {
				return key, val
			}
			key, val = cur.items[i], cur.items[i]
			cur = val
		default:
			return key, val
		}
	}
	return key, val
}

// SettingLine returns the line and column in the config file of the setting
// at path, a dotted path below the system's settings
// ("entities.account.fields.phone", "tables[2]"): the position of its key.
// When the path is not in the file (a default the connector filled in), it
// is the position of the deepest key it names that is, else the system's
// settings, else the system's entry.
func (s *System) SettingLine(path string) (line, col int) {
	if k, _ := lookupEntry(s.settings, path); k != nil && k.line > 0 {
		return k.line, k.col
	}
	if s.settingsKey != nil && s.settingsKey.line > 0 {
		return s.settingsKey.line, s.settingsKey.col
	}
	return s.Line, 1
}

// lookupPath follows a dotted path ("entities.account.table", "tables[2].name",
// "tables.2.name") from n and returns the deepest node it reaches.
func lookupPath(n *node, path string) *node {
	path = strings.NewReplacer("[", ".", "]", "").Replace(path)
	cur := n
	for seg := range strings.SplitSeq(path, ".") {
		if seg == "" {
			continue
		}
		var next *node
		switch cur.kind {
		case kindMap:
			next = cur.get(seg)
		case kindSeq:
			if i, err := strconv.Atoi(seg); err == nil && i >= 0 && i < len(cur.items) {
				next = cur.items[i]
			}
		}
		if next == nil || next.line == 0 {
			return cur
		}
		cur = next
	}
	return cur
}

// settings converts a system's settings to plain values, checking secrets:
// settings the spec marks Secret and settings whose names say they are secret
// must be env:NAME or file:PATH references, and no string may be a connection
// string with an inline password. References are replaced by their values.
func (l *loader) settings(n *node, spec connector.Spec, label string) map[string]any {
	out := map[string]any{}
	if n == nil || n.kind != kindMap {
		return out
	}
	secretField := map[string]bool{}
	for _, f := range spec.Fields {
		if f.Secret {
			secretField[f.Name] = true
		}
	}
	seen := map[string]int{}
	for _, e := range n.entries {
		if first, dup := seen[e.key]; dup {
			l.add(e.k, "duplicate key %q in %s settings (first at line %d)", e.key, label, first)
			continue
		}
		seen[e.key] = e.k.line
		out[e.key] = l.settingValue(e.v, "settings."+e.key, label, secretField[e.key] || isSecretKey(e.key))
	}
	return out
}

func (l *loader) settingValue(n *node, path, label string, secret bool) any {
	what := label + " " + path
	switch n.kind {
	case kindMap:
		m := make(map[string]any, len(n.entries))
		seen := map[string]int{}
		for _, e := range n.entries {
			if first, dup := seen[e.key]; dup {
				l.add(e.k, "duplicate key %q in %s (first at line %d)", e.key, what, first)
				continue
			}
			seen[e.key] = e.k.line
			m[e.key] = l.settingValue(e.v, path+"."+e.key, label, secret || isSecretKey(e.key))
		}
		return m
	case kindSeq:
		s := make([]any, len(n.items))
		for i, it := range n.items {
			s[i] = l.settingValue(it, fmt.Sprintf("%s[%d]", path, i), label, secret)
		}
		return s
	case kindNull:
		return nil
	}
	if _, isBool := n.value.(bool); isBool {
		return n.value
	}
	if secret {
		v, ok := l.secretValue(l.res, n, what)
		if !ok {
			return nil
		}
		return v
	}
	if _, isStr := n.str(); isStr {
		v, ok := l.maybeSecret(l.res, n, what, false)
		if !ok {
			return nil
		}
		return v
	}
	return n.value
}

// country reads an optional country setting as an ISO 3166-1 alpha-2 code.
func (l *loader) country(n *node, label string) string {
	s, ok := l.str(n, label)
	if !ok {
		return ""
	}
	code, err := clean.Country(s)
	if err != nil {
		l.add(n, "%s: %q is not an ISO 3166 country code or a known country name (GB, DE, FR, US, ...)", label, s)
		return ""
	}
	return code
}
