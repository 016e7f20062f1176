package config

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/concord-sync/concord/internal/model"
)

func (l *loader) entities(n *node) {
	if n == nil || n.kind == kindNull {
		return
	}
	if n.kind != kindMap {
		l.add(n, "entities: want a mapping of entity name to its fields, got %s", n.describe())
		return
	}
	seen := map[model.Entity]int{}
	for _, e := range n.entries {
		ent := model.Entity(e.key)
		if !ent.Valid() {
			l.add(e.k, "unknown entity %q; entities are %s", e.key, orList(strEntities(model.Entities)))
			continue
		}
		if first, dup := seen[ent]; dup {
			l.add(e.k, "entity %s declared twice (first at line %d)", ent, first)
			continue
		}
		seen[ent] = e.k.line
		m := l.object(e.v, "entities."+e.key, entitySchema)
		decl := &Entity{Name: ent, Fields: map[string]*Field{}}
		l.cfg.Entities[ent] = decl
		fields, ok := m["fields"]
		if !ok || fields.v.kind == kindNull {
			if e.v.kind == kindMap || e.v.kind == kindNull {
				l.add(e.k, "entity %s declares no fields; list them under entities.%s.fields with their owners", ent, ent)
			}
			continue
		}
		if fields.v.kind != kindMap {
			l.add(fields.v, "entities.%s.fields: want a mapping of field name to {owner: SYSTEM}, got %s", ent, fields.v.describe())
			continue
		}
		l.fields(decl, fields.v)
		l.entityMatch(decl, m["match"])
	}
}

func strEntities(es []model.Entity) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = string(e)
	}
	return out
}

// fields decodes the fields of one entity. A field declared twice is an
// ownership problem: either two owners, or a repeated declaration.
func (l *loader) fields(decl *Entity, n *node) {
	ent := decl.Name
	firstLine := map[string]int{}
	for _, e := range n.entries {
		full := fmt.Sprintf("%s.%s", ent, e.key)
		f, owners := l.field(ent, e)
		if f == nil {
			continue
		}
		if prev, dup := decl.Fields[e.key]; dup {
			switch {
			case prev.Owner != "" && len(owners) == 1 && owners[0] != prev.Owner:
				l.add(e.k, "field %s owned by two systems (%s, %s); a field has exactly one owner", full, prev.Owner, owners[0])
			default:
				l.add(e.k, "field %s declared twice (first at line %d)", full, firstLine[e.key])
			}
			continue
		}
		firstLine[e.key] = e.k.line
		decl.Fields[e.key] = f
	}
}

// field decodes one field declaration. It returns nil when the entry is not
// even a mapping; owners lists the owner names given, valid or not.
func (l *loader) field(ent model.Entity, e entry) (*Field, []string) {
	full := fmt.Sprintf("%s.%s", ent, e.key)
	noOwner := fmt.Sprintf("field %s has no owner; every synced field needs exactly one owner system, declared as owner: SYSTEM", full)
	if e.v.kind == kindNull {
		l.add(e.k, "%s", noOwner)
		return &Field{Name: e.key}, nil
	}
	if e.v.kind != kindMap {
		l.add(e.v, "field %s: want a mapping such as {owner: crm}, got %s", full, e.v.describe())
		return nil, nil
	}
	m := l.object(e.v, "field "+full, fieldSchema)
	f := &Field{Name: e.key}

	var owners []string
	ownerEntry, hasOwner := m["owner"]
	switch {
	case !hasOwner || ownerEntry.v.kind == kindNull:
		l.add(e.k, "%s", noOwner)
	case ownerEntry.v.kind == kindSeq:
		for _, it := range ownerEntry.v.items {
			if s, ok := it.str(); ok {
				owners = append(owners, s)
			}
		}
		switch len(owners) {
		case 0, 1:
			l.add(ownerEntry.v, "field %s: owner is one system name, not a list", full)
		default:
			l.add(ownerEntry.v, "field %s owned by %s (%s); a field has exactly one owner", full, countSystems(len(owners)), strings.Join(owners, ", "))
		}
		owners = nil
	default:
		if s, ok := l.str(ownerEntry.v, "field "+full+": owner"); ok {
			owners = []string{s}
			if _, known := l.systemLines[s]; !known {
				l.add(ownerEntry.v, "field %s is owned by %q, which is not a configured system; systems: %s", full, s, l.systemNames())
			} else {
				f.Owner = s
			}
		}
	}

	std, isStd := model.LookupField(ent, e.key)
	typeNode := m["type"].v
	declared, hasType := l.str(typeNode, "field "+full+": type")
	switch {
	case isStd:
		f.Type = std.Type
		if hasType && model.FieldType(declared) != std.Type {
			l.add(typeNode, "field %s is a standard %s field; remove type: %s, or give the custom field another name", full, std.Type, declared)
		}
	case !hasType:
		if typeNode == nil {
			l.add(e.k, "unknown field %s: not a standard field of %s; to add a custom field, declare its type (%s)", full, ent, strings.Join(strFieldTypes(), ", "))
		}
	case !slices.Contains(model.FieldTypes, model.FieldType(declared)):
		l.add(typeNode, "field %s: unknown type %q; want %s", full, declared, orList(strFieldTypes()))
	default:
		f.Type = model.FieldType(declared)
		f.Custom = true
	}

	if v, ok := l.boolean(m["required"].v, "field "+full+": required"); ok {
		f.Required = v
	}
	for _, it := range l.list(m["clean"].v, "field "+full+": clean") {
		rule, ok := l.str(it, "field "+full+": clean")
		if !ok {
			continue
		}
		if !slices.Contains(CleanRules, rule) {
			l.add(it, "field %s: unknown clean rule %q; known rules: %s", full, rule, strings.Join(CleanRules, ", "))
			continue
		}
		if slices.Contains(f.Clean, rule) {
			l.add(it, "field %s: clean rule %s listed twice", full, rule)
			continue
		}
		f.Clean = append(f.Clean, rule)
	}
	return f, owners
}

func countSystems(n int) string {
	if n == 2 {
		return "two systems"
	}
	return fmt.Sprintf("%d systems", n)
}

func strFieldTypes() []string {
	out := make([]string, len(model.FieldTypes))
	for i, t := range model.FieldTypes {
		out[i] = string(t)
	}
	return out
}

// systemNames lists the configured system names for messages.
func (l *loader) systemNames() string {
	names := make([]string, 0, len(l.systemLines))
	for n := range l.systemLines {
		names = append(names, n)
	}
	if len(names) == 0 {
		return "none configured"
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
