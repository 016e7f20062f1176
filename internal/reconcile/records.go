package reconcile

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/match"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/store"
)

// Store is what the records comparison reads from Concord's store (the links
// pairing records across systems) and, for Fix, the transaction the
// corrections are queued in. store.Store satisfies it.
type Store interface {
	ListLinked(ctx context.Context, p *store.ListLinkedParams) ([]string, error)
	GetLinks(ctx context.Context, p *store.GetLinksParams) (map[string]store.Link, error)
	GetLinksByConcordID(ctx context.Context, p *store.GetLinksByConcordIDParams) (map[string]store.Link, error)
	InTx(ctx context.Context, fn func(tx store.Tx) error) error
}

// Sources is what Records compares: the opened systems, the store's links,
// and the config's flows as engine legs (cmd/concord Legs(cfg)), which say the
// fields compared, their clean rules and their owners.
type Sources struct {
	Store Store
	// Conns are the opened systems by name.
	Conns map[string]connector.Connector
	// Legs are the config's flows, one leg per direction.
	Legs []engine.Leg
	// Match are the match rules per entity (config MatchRules); entities
	// absent here get no candidates for their unlinked records.
	Match map[model.Entity]match.Rules
	// PageSize is the most records per Read and ids per store query; 0 means
	// 1000.
	PageSize int
	// Logger receives progress at debug level; nil logs nothing.
	Logger *slog.Logger
}

// Records compares, for every flow between two systems that moves scalar
// fields of one entity, every linked pair of records field by field, read in
// full from both live systems (connector.Read, paged); values are compared
// after the flow's clean rules, money and decimals exactly, references
// through the links. It returns the fields that differ (the owner's value is
// right, the other side drifted), the records of either side without a
// linked counterpart (with candidates when the entity has match rules), and
// the number of linked pairs compared per flow. It writes nothing. ctx
// cancels the reads.
func Records(ctx context.Context, src Sources) (drift []Drift, unlinked []Unlinked, compared map[string]int, err error) {
	compared = map[string]int{}
	for _, g := range groups(src.Legs) {
		if src.Conns[g.spec.Systems[SideA]] == nil || src.Conns[g.spec.Systems[SideB]] == nil {
			continue
		}
		if rules, ok := src.Match[g.spec.Entity]; ok {
			g.spec.Match = &rules
		}
		d, u, n, err := compareGroup(ctx, src, g.spec)
		if err != nil {
			return nil, nil, nil, err
		}
		drift, unlinked = append(drift, d...), append(unlinked, u...)
		for _, f := range g.flows {
			compared[f] += n
		}
	}
	return drift, unlinked, compared, nil
}

// group is the legs comparing one entity between two systems.
type group struct {
	spec  Spec
	flows []string
}

// groups turns legs into comparisons: one per entity and pair of systems,
// over the scalar fields the legs move between them (legs that write another
// entity, or update the record a reference points at, have no pairs of their
// own to compare and are left out). Side A is the first leg's source.
func groups(legs []engine.Leg) []*group {
	var out []*group
	find := func(l *engine.Leg) *group {
		for _, g := range out {
			sys := g.spec.Systems
			if g.spec.Entity == l.Entity && (sys == [2]string{l.Source, l.Target} || sys == [2]string{l.Target, l.Source}) {
				return g
			}
		}
		g := &group{spec: Spec{Entity: l.Entity, Systems: [2]string{l.Source, l.Target}}}
		out = append(out, g)
		return g
	}
	for i := range legs {
		l := &legs[i]
		if (l.TargetEntity != "" && l.TargetEntity != l.Entity) || l.LinkBy != "" {
			continue
		}
		g := find(l)
		from := SideA
		if g.spec.Systems[SideA] != l.Source {
			from = SideB
		}
		if g.spec.DefaultCountry[from] == "" {
			g.spec.DefaultCountry[from] = l.DefaultCountry
		}
		if !slices.Contains(g.flows, l.Flow) {
			g.flows = append(g.flows, l.Flow)
		}
		for _, f := range l.Fields {
			if l.Defs[f].Type == model.TypeLines || f == l.StatusField {
				continue
			}
			var names [2]string
			names[from] = f
			names[from.other()] = f
			if t, ok := l.Map[f]; ok {
				names[from.other()] = t
			}
			if slices.ContainsFunc(g.spec.Fields, func(x Field) bool { return x.Names == names }) {
				continue
			}
			g.spec.Fields = append(g.spec.Fields, Field{Names: names, Clean: l.Clean[f], Owner: from, Flow: l.Flow, Leg: l.Name, Conflict: l.Conflict})
		}
	}
	for _, g := range out {
		slices.SortFunc(g.spec.Fields, func(x, y Field) int { return strings.Compare(x.Names[SideA], y.Names[SideA]) })
	}
	return out
}

// compareGroup reads the links and both sides of one comparison and compares
// them.
func compareGroup(ctx context.Context, src Sources, spec Spec) ([]Drift, []Unlinked, int, error) {
	page := src.PageSize
	if page <= 0 {
		page = 1000
	}
	log := src.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := NewComparer(spec)
	a, b := spec.Systems[SideA], spec.Systems[SideB]
	links := 0
	params := store.ListLinkedParams{System: a, Entity: spec.Entity, TargetSystem: b, TargetEntity: spec.Entity, Limit: page}
	for {
		ids, err := src.Store.ListLinked(ctx, &params)
		if err != nil {
			return nil, nil, 0, fmt.Errorf("reconcile %s between %s and %s: %w", spec.Entity, a, b, err)
		}
		if len(ids) == 0 {
			break
		}
		params.After = ids[len(ids)-1]
		la, err := src.Store.GetLinks(ctx, &store.GetLinksParams{System: a, Entity: spec.Entity, ExternalIDs: ids})
		if err != nil {
			return nil, nil, 0, fmt.Errorf("reconcile %s: links in %s: %w", spec.Entity, a, err)
		}
		cids := make([]string, 0, len(la))
		for _, lk := range la {
			cids = append(cids, lk.ConcordID)
		}
		lb, err := src.Store.GetLinksByConcordID(ctx, &store.GetLinksByConcordIDParams{System: b, Entity: spec.Entity, ConcordIDs: cids})
		if err != nil {
			return nil, nil, 0, fmt.Errorf("reconcile %s: links in %s: %w", spec.Entity, b, err)
		}
		for _, id := range ids {
			if lk, ok := la[id]; ok {
				if other, ok := lb[lk.ConcordID]; ok {
					c.Link(lk.ConcordID, id, other.ExternalID)
					links++
				}
			}
		}
	}
	for s := range Side(2) {
		n, err := readAll(ctx, src, spec, s, page, c)
		if err != nil {
			return nil, nil, 0, err
		}
		log.DebugContext(ctx, "reconcile read", "system", spec.Systems[s], "entity", spec.Entity, "records", n, "links", links)
	}
	suspects, unlinked, n := c.Result()
	drift, err := diffSuspects(ctx, src, spec, c, suspects, page)
	if err != nil {
		return nil, nil, 0, err
	}
	log.DebugContext(ctx, "reconcile compared", "entity", spec.Entity, "pairs", n, "differing", len(suspects), "drift", len(drift), "unlinked", len(unlinked))
	return drift, unlinked, n, nil
}

// diffSuspects reads the pairs whose values differ again from both systems,
// by id in pages (connector.Get), and compares them field by field. A pair
// one side no longer has is left out: it changed since it was read.
func diffSuspects(ctx context.Context, src Sources, spec Spec, c *Comparer, suspects []Suspect, page int) ([]Drift, error) {
	var out []Drift
	for start := 0; start < len(suspects); start += page {
		part := suspects[start:min(start+page, len(suspects))]
		var recs [2]map[string]model.Record
		var refs [2]map[model.Entity]map[string]string
		for s := range Side(2) {
			sys := spec.Systems[s]
			ids := make([]string, len(part))
			for i, p := range part {
				ids[i] = p.IDs[s]
			}
			got, err := src.Conns[sys].Get(ctx, spec.Entity, ids)
			if err != nil {
				return nil, fmt.Errorf("reconcile: get %d %s records from %s: %w", len(ids), spec.Entity, sys, err)
			}
			list := make([]model.Record, 0, len(got))
			for _, r := range got {
				list = append(list, r)
			}
			if refs[s], err = resolveRefs(ctx, src.Store, sys, spec, s, list); err != nil {
				return nil, err
			}
			recs[s] = got
		}
		for _, p := range part {
			a, okA := recs[SideA][p.IDs[SideA]]
			b, okB := recs[SideB][p.IDs[SideB]]
			if !okA || !okB || a.Archived || b.Archived {
				continue
			}
			out = append(out, c.Diff(p, [2]*model.Record{&a, &b}, refs)...)
		}
	}
	return out, nil
}

// readAll reads every record of one side, page by page from an empty
// cursor (each connector's bulk path), resolves the page's references
// through the store's links, and feeds the comparer. It returns the number
// of records read.
func readAll(ctx context.Context, src Sources, spec Spec, side Side, page int, c *Comparer) (int, error) {
	sys := spec.Systems[side]
	conn := src.Conns[sys]
	cursor, n := "", 0
	for {
		res, err := conn.Read(ctx, connector.ReadRequest{Entity: spec.Entity, Cursor: cursor, Limit: page})
		if err != nil {
			return n, fmt.Errorf("reconcile: read %s from %s after %d records: %w", spec.Entity, sys, n, err)
		}
		n += len(res.Records)
		refs, err := resolveRefs(ctx, src.Store, sys, spec, side, res.Records)
		if err != nil {
			return n, err
		}
		c.Add(side, res.Records, refs)
		if res.Done || len(res.Records) == 0 || res.Next == cursor {
			return n, nil
		}
		cursor = res.Next
	}
}

// resolveRefs maps the ids the page's compared reference fields point at to
// their concord ids, one store query per referenced entity.
func resolveRefs(ctx context.Context, st Store, sys string, spec Spec, side Side, recs []model.Record) (map[model.Entity]map[string]string, error) {
	want := map[model.Entity][]string{}
	for i := range recs {
		for _, f := range spec.Fields {
			if v := recs[i].Fields[f.Names[side]]; v.Kind == model.KindRef && v.Str != "" {
				want[v.Entity] = append(want[v.Entity], v.Str)
			}
		}
	}
	if len(want) == 0 {
		return nil, nil
	}
	out := make(map[model.Entity]map[string]string, len(want))
	for ent, ids := range want {
		slices.Sort(ids)
		links, err := st.GetLinks(ctx, &store.GetLinksParams{System: sys, Entity: ent, ExternalIDs: slices.Compact(ids)})
		if err != nil {
			return nil, fmt.Errorf("reconcile %s: %s links in %s: %w", spec.Entity, ent, sys, err)
		}
		m := make(map[string]string, len(links))
		for id, lk := range links {
			m[id] = lk.ConcordID
		}
		out[ent] = m
	}
	return out, nil
}
