package engine

import (
	"fmt"

	"github.com/concord-sync/concord/internal/match"
	"github.com/concord-sync/concord/internal/model"
)

// Triggers a leg may have.
const (
	TriggerChange   = "change"   // every change of the source record
	TriggerDealWon  = "deal_won" // only deals/orders in the won stage
	TriggerSchedule = "schedule" // a full sweep each interval
)

// What a record with no link in the target may do (Leg.Unlinked).
const (
	UnlinkedCreate     = "create"      // create it
	UnlinkedMatch      = "match"       // look for it in the target first (match.go)
	UnlinkedUpdateOnly = "update_only" // never create: only linked records are updated
)

// Conflict rules of two-way flows. Each field still has exactly one owner and moves
// only from it; the rule says what the owner's write does to the other side.
const (
	ConflictOwnerWins        = "owner_wins"         // the owner's value always replaces the other side's
	ConflictOwnerUnlessBlank = "owner_unless_blank" // a blank owner value never erases a filled one
	ConflictNewestWins       = "newest_wins"        // the owner's value is written unless the target record changed more recently
)

// Leg is one direction of a flow: records of Entity move from Source to Target,
// carrying Fields, every one of them owned by Source.
type Leg struct {
	// Name identifies the leg: the flow name, plus ":reverse" for the second leg of
	// a two-way flow. Cursors, fingerprints and queue jobs are kept per leg.
	Name     string
	Flow     string
	Source   string
	Target   string
	Entity   model.Entity
	Fields   []string
	Trigger  string
	Conflict string
	// Owners maps every declared field of Entity to the one system that owns it.
	Owners map[string]string
	// Defs gives the type of every field in Fields.
	Defs map[string]model.FieldDef
	// Clean lists the clean rules per field.
	Clean map[string][]string
	// Required fields may not be blank.
	Required map[string]bool

	// TargetEntity is the entity written in the target when it differs from
	// Entity: a won deal becomes a sale order, an invoice's status lands on a deal.
	TargetEntity model.Entity
	// Map renames fields: source field -> target field; unmapped fields keep
	// their name.
	Map map[string]string
	// TargetOwners maps the declared fields of TargetEntity to their owners; it
	// must be set when TargetEntity differs from Entity.
	TargetOwners map[string]string
	// LinkBy names a reference field of the source record: the target record is
	// the counterpart of the record it references (an invoice's order is linked
	// to a CRM deal). Such legs update, never create.
	LinkBy string
	// StatusField, when set, is a text field of the source record that Concord
	// writes the outcome of each attempt into ("synced ...", "waiting: ...",
	// "failed: ..."), so the people who work in the source system see why a
	// record did not reach the target. It is owned by the target's side, never
	// by the source.
	StatusField string
	// AllowReturns lets order lines with a negative quantity through (returns);
	// without it such a record is quarantined before the write.
	AllowReturns bool
	// DefaultCountry is the country (ISO 3166-1 alpha-2) phone numbers without
	// an international prefix are read in when the record has no country field
	// (or a blank one).
	DefaultCountry string
	// Unlinked says what a record with no link in the target may do (found
	// neither by a stored link nor by a link key): UnlinkedCreate (also the
	// zero value), UnlinkedMatch or UnlinkedUpdateOnly.
	Unlinked string
	// Match are the rules UnlinkedMatch compares records with.
	Match match.Rules
	// Mapping describes what outside the leg decides the values it writes:
	// the source's and target's settings for the entities (column names,
	// properties, currencies), one entry per system. The engine only compares
	// it (the leg's mapping fingerprint, resync.go).
	Mapping map[string]string

	// shared is set by New when another leg pairs records of the same entities
	// between the same two systems, so links may race (see settleLinks).
	shared bool
	// sharedByFlows is set by New when a leg of another flow pairs them (see
	// createsUpsert): the reverse leg of a two-way flow adopts a target record
	// by the link key it holds, the same pairing this leg's create makes.
	sharedByFlows bool
}

// targetEntity is the entity the leg writes.
func (l *Leg) targetEntity() model.Entity {
	if l.TargetEntity == "" {
		return l.Entity
	}
	return l.TargetEntity
}

// targetField is the target's name of source field f.
func (l *Leg) targetField(f string) string {
	if t, ok := l.Map[f]; ok {
		return t
	}
	return f
}

// crossEntity reports whether the leg writes another entity than it reads.
func (l *Leg) crossEntity() bool { return l.targetEntity() != l.Entity }

// Validate checks the leg's own consistency, including the ownership promise: every
// field it moves is owned by its source and none by its target.
func (l *Leg) Validate() error {
	if l.Name == "" || l.Source == "" || l.Target == "" || l.Source == l.Target {
		return fmt.Errorf("leg %q: needs a name and distinct source and target", l.Name)
	}
	if !l.Entity.Valid() {
		return fmt.Errorf("leg %s: unknown entity %q", l.Name, l.Entity)
	}
	if len(l.Fields) == 0 {
		return fmt.Errorf("leg %s: no fields", l.Name)
	}
	if l.StatusField != "" && (l.Owners[l.StatusField] == "" || l.Owners[l.StatusField] == l.Source) {
		return &OwnershipError{Leg: l.Name, Entity: l.Entity, Field: l.StatusField, Msg: "is the status field, so it must be owned by " + l.Target + ", not " + l.Owners[l.StatusField]}
	}
	if !l.targetEntity().Valid() {
		return fmt.Errorf("leg %s: unknown target entity %q", l.Name, l.TargetEntity)
	}
	switch l.Unlinked {
	case "", UnlinkedCreate, UnlinkedUpdateOnly:
	case UnlinkedMatch:
		if len(l.Match.Keys) == 0 && len(l.Match.Fields) == 0 {
			return fmt.Errorf("leg %s: matching needs keys or fields to compare", l.Name)
		}
		if !(l.Match.Review > 0 && l.Match.Review <= l.Match.AutoLink && l.Match.AutoLink <= 1) {
			return fmt.Errorf("leg %s: match thresholds need 0 < review (%g) <= auto_link (%g) <= 1", l.Name, l.Match.Review, l.Match.AutoLink)
		}
		if l.crossEntity() || l.LinkBy != "" {
			return fmt.Errorf("leg %s: matching compares records of one entity; this leg writes another", l.Name)
		}
	default:
		return fmt.Errorf("leg %s: unknown unlinked mode %q", l.Name, l.Unlinked)
	}
	for _, f := range l.Fields {
		if err := l.checkOwner(f); err != nil {
			return err
		}
		if err := l.checkTargetOwner(l.targetField(f)); err != nil {
			return err
		}
		if _, ok := l.Defs[f]; !ok {
			return fmt.Errorf("leg %s: field %s has no type", l.Name, f)
		}
	}
	return nil
}

// checkTargetOwner enforces ownership on the target's side of a cross-entity leg:
// the target field is owned by the leg's source, never by its target.
func (l *Leg) checkTargetOwner(field string) error {
	if !l.crossEntity() {
		return nil
	}
	owner := l.TargetOwners[field]
	e := l.targetEntity()
	switch {
	case owner == "":
		return &OwnershipError{Leg: l.Name, Entity: e, Field: field, Msg: "has no owner"}
	case owner == l.Target:
		return &OwnershipError{Leg: l.Name, Entity: e, Field: field, Msg: "is owned by " + owner + ", the target: it is never written there"}
	case owner != l.Source:
		return &OwnershipError{Leg: l.Name, Entity: e, Field: field, Msg: "is owned by " + owner + ", not by the source " + l.Source}
	}
	return nil
}

// sourceField is the source field that target field t comes from, or "".
func (l *Leg) sourceField(t string) string {
	for _, f := range l.Fields {
		if l.targetField(f) == t {
			return f
		}
	}
	return ""
}

// checkOwner enforces the ownership promise for one field.
func (l *Leg) checkOwner(field string) error {
	owner := l.Owners[field]
	switch {
	case owner == "":
		return &OwnershipError{Leg: l.Name, Entity: l.Entity, Field: field, Msg: "has no owner"}
	case owner == l.Target:
		return &OwnershipError{Leg: l.Name, Entity: l.Entity, Field: field, Msg: "is owned by " + owner + ", the target: it is never written there"}
	case owner != l.Source:
		return &OwnershipError{Leg: l.Name, Entity: l.Entity, Field: field, Msg: "is owned by " + owner + ", not by the source " + l.Source}
	}
	return nil
}

// OwnershipError is a write refused because it would touch a field in a system
// that does not own it, or from a system that does not own it.
type OwnershipError struct {
	Leg    string
	Entity model.Entity
	Field  string
	Msg    string
}

// Error implements error.
func (e *OwnershipError) Error() string {
	return fmt.Sprintf("ownership: leg %s: field %s.%s %s", e.Leg, e.Entity, e.Field, e.Msg)
}
