package hubspot

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/hubspot/hubspothttp"
	"github.com/concord-sync/concord/internal/model"
)

// cursor is the position of Read. A poll is a sweep over HubSpot's search
// index from the high-water mark minus the overlap, by keyset on
// hs_lastmodifieddate (never by offset, so the 10,000-result ceiling of one
// search query is never reached), then, with read_archived, a listing of the
// archived records.
type cursor struct {
	// Since is the newest modification time delivered by a finished sweep
	// (epoch ms): the next sweep starts at Since minus the overlap.
	Since int64 `json:"s,omitempty"`
	// Sweep is true while a sweep runs; Pos is its inclusive lower bound (ms)
	// and Max the newest modification time it delivered.
	Sweep bool  `json:"w,omitempty"`
	Pos   int64 `json:"p,omitempty"`
	Max   int64 `json:"m,omitempty"`
	// Tie is true when more records share the modification time Pos than fit
	// in a page: they are read by hs_object_id, after TieID.
	Tie   bool   `json:"t,omitempty"`
	TieID string `json:"ti,omitempty"`
	// Archived is true while archived records are listed, from page AAfter;
	// ASince is the newest archive time delivered by a finished listing, AMax
	// the newest of the running one.
	Archived bool   `json:"a,omitempty"`
	AAfter   string `json:"aa,omitempty"`
	ASince   int64  `json:"as,omitempty"`
	AMax     int64  `json:"am,omitempty"`
}

const cursorPrefix = "hs1:"

func decodeCursor(s string) (cursor, error) {
	var c cursor
	if s == "" {
		return c, nil
	}
	if len(s) < len(cursorPrefix) || s[:len(cursorPrefix)] != cursorPrefix {
		return c, connector.Permanent("", fmt.Errorf("cursor %q is not a hubspot cursor", s))
	}
	if err := json.Unmarshal([]byte(s[len(cursorPrefix):]), &c); err != nil {
		return c, connector.Permanent("", fmt.Errorf("decode cursor: %w", err))
	}
	return c, nil
}

func (c cursor) String() string {
	b, _ := json.Marshal(c) // a struct of plain fields always marshals
	return cursorPrefix + string(b)
}

// maxReadSteps bounds the calls of one Read that finds only empty pages.
const maxReadSteps = 1000

// Read implements connector.Connector. It returns records changed since the
// cursor, oldest first, re-delivering those of the overlap window. Records
// archived in HubSpot come last in a poll, with Archived set (search never
// returns them). Changes become visible only once HubSpot's search index has
// them; the overlap re-reads that window on the next poll.
func (c *Conn) Read(ctx context.Context, req connector.ReadRequest) (connector.ReadResult, error) {
	o, err := c.object(req.Entity)
	if err != nil {
		return connector.ReadResult{}, err
	}
	cur, err := decodeCursor(req.Cursor)
	if err != nil {
		return connector.ReadResult{}, err
	}
	limit := req.Limit
	if limit <= 0 || limit > hubspothttp.MaxSearchLimit {
		limit = hubspothttp.MaxSearchLimit
	}
	if !cur.Sweep && !cur.Archived {
		cur.Sweep, cur.Pos, cur.Max = true, max(0, cur.Since-c.cfg.overlap.Milliseconds()), cur.Since
	}
	props := o.properties()
	for range maxReadSteps {
		var objs []hubspothttp.Object
		done := false
		switch {
		case cur.Sweep && cur.Tie:
			page, err := c.api.Search(ctx, o.name, hubspothttp.SearchRequest{
				FilterGroups: []hubspothttp.FilterGroup{{Filters: []hubspothttp.Filter{
					{PropertyName: propModified, Operator: "EQ", Value: strconv.FormatInt(cur.Pos, 10)},
					{PropertyName: propID, Operator: "GT", Value: cur.TieID},
				}}},
				Sorts:      []hubspothttp.Sort{{PropertyName: propID, Direction: "ASCENDING"}},
				Properties: props, Limit: limit,
			})
			if err != nil {
				return connector.ReadResult{}, fmt.Errorf("read %s: search: %w", req.Entity, c.callErr(err))
			}
			objs = page.Results
			if len(objs) == limit {
				cur.TieID = objs[len(objs)-1].ID
			} else {
				cur.Tie, cur.TieID, cur.Pos = false, "", cur.Pos+1
			}
		case cur.Sweep:
			page, err := c.api.Search(ctx, o.name, hubspothttp.SearchRequest{
				FilterGroups: []hubspothttp.FilterGroup{{Filters: []hubspothttp.Filter{
					{PropertyName: propModified, Operator: "GTE", Value: strconv.FormatInt(cur.Pos, 10)},
				}}},
				Sorts:      []hubspothttp.Sort{{PropertyName: propModified, Direction: "ASCENDING"}},
				Properties: props, Limit: limit,
			})
			if err != nil {
				return connector.ReadResult{}, fmt.Errorf("read %s: search: %w", req.Entity, c.callErr(err))
			}
			objs = page.Results
			if len(objs) < limit {
				// The sweep is complete.
				for _, ob := range objs {
					cur.Max = max(cur.Max, modified(ob).UnixMilli())
				}
				cur.Since, cur.Sweep, cur.Pos, cur.Max = cur.Max, false, 0, 0
				if c.cfg.readArchived {
					cur.Archived, cur.AAfter, cur.AMax = true, "", cur.ASince
				} else {
					done = true
				}
				break
			}
			first, last := modified(objs[0]).UnixMilli(), modified(objs[len(objs)-1]).UnixMilli()
			if first == last {
				// A whole page shares one time: page through it by id.
				cur.Pos, cur.Tie, cur.TieID = first, true, "0"
				objs = nil
				break
			}
			// Deliver what is older than the page's last time; the records at
			// that time are read again from there.
			n := len(objs)
			for n > 0 && modified(objs[n-1]).UnixMilli() == last {
				n--
			}
			objs, cur.Pos = objs[:n], last
		default: // archived listing
			page, err := c.api.List(ctx, o.name, cur.AAfter, min(limit, hubspothttp.MaxBatch), props, true)
			if err != nil {
				return connector.ReadResult{}, fmt.Errorf("read archived %s: %w", req.Entity, c.callErr(err))
			}
			from := cur.ASince - c.cfg.overlap.Milliseconds()
			for _, ob := range page.Results {
				at := archivedAt(ob)
				if cur.ASince == 0 || at >= from {
					objs = append(objs, ob)
				}
				cur.AMax = max(cur.AMax, at)
			}
			if next := page.NextAfter(); next != "" {
				cur.AAfter = next
			} else {
				cur.Archived, cur.AAfter, cur.ASince, cur.AMax = false, "", cur.AMax, 0
				done = true
			}
		}
		for _, ob := range objs {
			if cur.Sweep {
				cur.Max = max(cur.Max, modified(ob).UnixMilli())
			}
		}
		if len(objs) > 0 || done {
			recs, err := c.records(ctx, o, objs, req.Fields)
			if err != nil {
				return connector.ReadResult{}, fmt.Errorf("read %s: %w", req.Entity, err)
			}
			sortByTime(recs)
			return connector.ReadResult{Records: recs, Next: cur.String(), Done: done}, nil
		}
	}
	return connector.ReadResult{}, fmt.Errorf("read %s: no progress after %d calls", req.Entity, maxReadSteps)
}

func archivedAt(ob hubspothttp.Object) int64 {
	if ob.ArchivedAt != nil {
		return ob.ArchivedAt.UnixMilli()
	}
	return modified(ob).UnixMilli()
}

// sortByTime orders records oldest first, by id within one time.
func sortByTime(recs []model.Record) {
	slices.SortStableFunc(recs, func(a, b model.Record) int {
		if c := a.UpdatedAt.Compare(b.UpdatedAt); c != 0 {
			return c
		}
		return compareIDs(a.ID, b.ID)
	})
}
