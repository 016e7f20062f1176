package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/concord-sync/concord/internal/model"
)

func (l *loader) flows(n *node) {
	names := map[string]int{}
	for i, item := range l.list(n, "flows") {
		where := fmt.Sprintf("flows[%d]", i)
		m := l.object(item, where, flowSchema)
		if item.kind != kindMap {
			continue
		}
		f := Flow{Line: item.line, Trigger: TriggerChange, Mode: ModeOneWay}
		source, _ := l.str(m["source"].v, where+".source")
		target, _ := l.str(m["target"].v, where+".target")
		entity, _ := l.str(m["entity"].v, where+".entity")
		f.Source, f.Target, f.Entity = source, target, model.Entity(entity)

		name, hasName := l.str(m["name"].v, where+".name")
		if hasName && !nameRe.MatchString(name) {
			l.add(m["name"].v, "flow name %q: use lower-case letters, digits, _ and -", name)
		}
		if !hasName && source != "" && target != "" && entity != "" {
			name = fmt.Sprintf("%s-%s-to-%s", entity, source, target)
		}
		f.Name = name
		label := "flow " + name
		if name == "" {
			label = "flow " + where
		}
		if name != "" {
			at := m["name"].v
			if at == nil {
				at = item
			}
			if first, dup := names[name]; dup {
				if hasName {
					l.add(at, "duplicate flow name %q (first at line %d)", name, first)
				} else {
					l.add(at, "duplicate flow name %q (first at line %d); give one of them a name", name, first)
				}
			} else {
				names[name] = item.line
			}
		}

		var missing []string
		for _, k := range []string{"source", "target", "entity"} {
			if _, ok := m[k]; !ok {
				missing = append(missing, k)
			}
		}
		if len(missing) > 0 {
			l.add(item, "%s has no %s", label, strings.Join(missing, ", "))
		}
		sourceOK := l.checkSystem(m["source"].v, label, "source", source)
		targetOK := l.checkSystem(m["target"].v, label, "target", target)
		if source != "" && source == target {
			l.add(m["target"].v, "%s reads from and writes to the same system %s", label, source)
			targetOK = false
		}

		var decl *Entity
		if entity != "" {
			switch {
			case !f.Entity.Valid():
				l.add(m["entity"].v, "%s: unknown entity %q; entities are %s", label, entity, orList(strEntities(model.Entities)))
			case l.cfg.Entities[f.Entity] == nil:
				l.add(m["entity"].v, "%s moves entity %s, which is not declared under entities; declare its fields and their owners there", label, entity)
			default:
				decl = l.cfg.Entities[f.Entity]
			}
		}

		if t, ok := l.enum(m["trigger"].v, label+": trigger", Triggers); ok {
			f.Trigger = t
		}
		if f.Trigger == TriggerDealWon && f.Entity.Valid() && !slices.Contains(DealWonEntities, f.Entity) {
			l.add(m["trigger"].v, "%s: trigger deal_won does not apply to entity %s; use it with %s", label, f.Entity, orList(strEntities(DealWonEntities)))
		}
		if v, ok := l.duration(m["every"].v, label+": every"); ok {
			f.Every = v
		}
		if f.Trigger == TriggerSchedule && m["every"].v == nil {
			l.add(m["trigger"].v, "%s: a schedule flow needs every (an interval such as 1h)", label)
		}

		if v, ok := l.enum(m["mode"].v, label+": mode", Modes); ok {
			f.Mode = v
		}
		conflict, hasConflict := l.enum(m["conflict"].v, label+": conflict", Conflicts)
		switch {
		case f.Mode == ModeTwoWay && m["conflict"].v == nil:
			at := m["mode"].v
			l.add(at, "two-way %s needs a conflict rule: %s", label, orList(Conflicts))
		case f.Mode == ModeOneWay && m["conflict"].v != nil:
			l.add(m["conflict"].k, "%s: conflict applies to two-way flows only; add mode: two-way or remove it", label)
		case hasConflict:
			f.Conflict = conflict
		}

		f.TargetEntity = f.Entity
		targetDecl := decl
		if te, ok := l.str(m["target_entity"].v, label+": target_entity"); ok {
			f.TargetEntity = model.Entity(te)
			switch {
			case !f.TargetEntity.Valid():
				l.add(m["target_entity"].v, "%s: unknown target_entity %q; entities are %s", label, te, orList(strEntities(model.Entities)))
				targetDecl = nil
			case l.cfg.Entities[f.TargetEntity] == nil:
				l.add(m["target_entity"].v, "%s writes entity %s, which is not declared under entities; declare its fields and their owners there", label, te)
				targetDecl = nil
			default:
				targetDecl = l.cfg.Entities[f.TargetEntity]
			}
			if f.Mode == ModeTwoWay {
				l.add(m["target_entity"].v, "%s: target_entity applies to one-way flows only", label)
			}
		}
		if mm := m["map"].v; mm != nil && mm.kind != kindNull {
			if mm.kind != kindMap {
				l.add(mm, "%s: map: want a mapping of source field -> target field, got %s", label, mm.describe())
			} else {
				f.Map = map[string]string{}
				for _, e := range mm.entries {
					t, ok := l.str(e.v, label+": map."+e.key)
					if ok {
						f.Map[e.key] = t
					}
				}
			}
		}
		if lb, ok := l.str(m["link_by"].v, label+": link_by"); ok {
			f.LinkBy = lb
			if d, std := model.LookupField(f.Entity, lb); f.Entity.Valid() && (!std || d.Type != model.TypeRef) {
				l.add(m["link_by"].v, "%s: link_by %s is not a reference field of %s", label, lb, f.Entity)
			}
		}

		if sf, ok := l.str(m["status_field"].v, label+": status_field"); ok {
			f.StatusField = sf
			if decl != nil && sourceOK && targetOK {
				fd, declared := decl.Fields[sf]
				switch {
				case !declared:
					l.add(m["status_field"].v, "%s: status_field %s.%s is not declared under entities.%s.fields; declare it with owner %s", label, f.Entity, sf, f.Entity, f.Target)
				case fd.Owner != f.Target:
					l.add(m["status_field"].v, "%s: status_field %s.%s must be owned by %s, which reports it, not %s", label, f.Entity, sf, f.Target, fd.Owner)
				case l.cfg.FieldDef(f.Entity, sf).Type != model.TypeText:
					l.add(m["status_field"].v, "%s: status_field %s.%s must be a text field", label, f.Entity, sf)
				}
			}
		}

		l.flowFields(&f, item, m["fields"], label, decl, sourceOK && targetOK)
		if v, ok := l.boolean(m["allow_returns"].v, label+": allow_returns"); ok {
			f.AllowReturns = v
			if v && !slices.ContainsFunc(f.Fields, func(name string) bool { return l.cfg.FieldDef(f.Entity, name).Type == model.TypeLines }) {
				l.add(m["allow_returns"].v, "%s: allow_returns applies to flows that move lines (order lines with a quantity); this flow moves none", label)
			}
		}
		f.DefaultCountry = l.country(m["default_country"].v, label+": default_country")
		l.flowTargets(&f, m, label, targetDecl, sourceOK && targetOK)
		l.flowUnlinked(&f, m, label)
		l.cfg.Flows = append(l.cfg.Flows, f)
	}
}

// flowTargets checks the target side of a flow that writes another entity or
// renames fields: every map key is a moved field, every target field is declared
// in the target entity with the flow's source as its owner (never the target),
// and has the source field's type.
func (l *loader) flowTargets(f *Flow, m map[string]entry, label string, targetDecl *Entity, systemsOK bool) {
	for src := range f.Map {
		if !slices.Contains(f.Fields, src) {
			l.add(m["map"].v, "%s: map renames %s, which the flow does not move; list it in fields", label, src)
		}
	}
	if f.TargetEntity == f.Entity && len(f.Map) == 0 {
		return
	}
	if targetDecl == nil || !systemsOK {
		return
	}
	at := m["fields"].v
	if at == nil {
		at = m["entity"].v
	}
	for _, name := range f.Fields {
		t := f.TargetField(name)
		full := fmt.Sprintf("%s.%s", f.TargetEntity, t)
		fd, ok := targetDecl.Fields[t]
		if !ok {
			l.add(at, "%s writes %s.%s into %s, which is not declared under entities.%s.fields; declare it with its owner", label, f.Entity, name, full, f.TargetEntity)
			continue
		}
		switch {
		case fd.Owner == f.Target:
			l.add(at, "%s writes %s into %s, which owns it", label, full, f.Target)
		case fd.Owner != f.Source:
			l.add(at, "%s writes %s from %s, but %s owns it", label, full, f.Source, fd.Owner)
		}
		if src := l.cfg.FieldDef(f.Entity, name); src.Type != "" && fd.Type != "" && src.Type.Kind() != fd.Type.Kind() {
			l.add(at, "%s writes %s.%s (%s) into %s (%s): the types differ", label, f.Entity, name, src.Type, full, fd.Type)
		}
	}
}

// checkSystem reports a flow's source or target that is not a configured system.
func (l *loader) checkSystem(n *node, label, role, name string) bool {
	if name == "" {
		return false
	}
	if _, ok := l.systemLines[name]; !ok {
		l.add(n, "%s: unknown %s system %q; systems: %s", label, role, name, l.systemNames())
		return false
	}
	return true
}

// flowFields decodes a flow's field list and checks ownership: a flow never
// writes a field into the system that owns it, a one-way flow moves only
// fields its source owns, and a two-way flow only fields one of its two systems
// owns.
func (l *loader) flowFields(f *Flow, item *node, e entry, label string, decl *Entity, systemsOK bool) {
	if e.v == nil || e.v.kind == kindNull {
		at := e.k
		if at == nil {
			at = item
		}
		l.add(at, "%s has no fields; list the fields it moves", label)
		return
	}
	items := l.list(e.v, label+": fields")
	if e.v.kind == kindSeq && len(items) == 0 {
		l.add(e.v, "%s has no fields; list the fields it moves", label)
	}
	f.Owners = map[string]string{}
	for _, it := range items {
		name, ok := l.str(it, label+": fields")
		if !ok {
			continue
		}
		if slices.Contains(f.Fields, name) {
			l.add(it, "%s lists field %s twice", label, name)
			continue
		}
		f.Fields = append(f.Fields, name)
		if decl == nil {
			continue
		}
		full := fmt.Sprintf("%s.%s", f.Entity, name)
		fd, declared := decl.Fields[name]
		if !declared {
			if _, std := model.LookupField(f.Entity, name); std {
				l.add(it, "field %s has no owner; every synced field needs exactly one owner system, declared under entities.%s.fields", full, f.Entity)
			} else {
				l.add(it, "%s: unknown field %s; declare it under entities.%s.fields", label, full, f.Entity)
			}
			continue
		}
		if fd.Owner == "" || !systemsOK {
			continue // already reported
		}
		f.Owners[name] = fd.Owner
		switch {
		case f.Mode == ModeTwoWay && fd.Owner != f.Source && fd.Owner != f.Target:
			l.add(it, "%s moves %s between %s and %s, but %s owns it", label, full, f.Source, f.Target, fd.Owner)
		case f.Mode == ModeTwoWay:
		case fd.Owner == f.Target:
			l.add(it, "%s writes %s into %s, which owns it", label, full, f.Target)
		case fd.Owner != f.Source:
			l.add(it, "%s copies %s from %s to %s, but %s owns it", label, full, f.Source, f.Target, fd.Owner)
		}
	}
}
