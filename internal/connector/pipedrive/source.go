package pipedrive

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/pipedrive/pipedrivehttp"
)

// cursor is the position of Read: a sweep lists records by update_time from
// Pos (the last finished sweep's newest update_time minus the overlap), page
// by page with Pipedrive's cursor; when it ends, Since becomes the newest
// update_time it delivered.
type cursor struct {
	Since int64  `json:"s,omitempty"` // unix seconds
	Sweep bool   `json:"w,omitempty"`
	Pos   int64  `json:"p,omitempty"`
	Max   int64  `json:"m,omitempty"`
	Page  string `json:"c,omitempty"` // Pipedrive's next_cursor within the sweep
}

const cursorPrefix = "pd1:"

func decodeCursor(s string) (cursor, error) {
	var c cursor
	if s == "" {
		return c, nil
	}
	if len(s) < len(cursorPrefix) || s[:len(cursorPrefix)] != cursorPrefix {
		return c, connector.Permanent("", fmt.Errorf("cursor %q is not a pipedrive cursor", s))
	}
	if err := json.Unmarshal([]byte(s[len(cursorPrefix):]), &c); err != nil {
		return c, connector.Permanent("", fmt.Errorf("decode cursor: %w", err))
	}
	return c, nil
}

func (c cursor) String() string {
	b, _ := json.Marshal(c) // plain fields always marshal
	return cursorPrefix + string(b)
}

// Read implements connector.Connector: one page of GET /api/v2/{kind} with
// updated_since, sorted by update_time, oldest first. Records changed in the
// overlap window before the cursor are delivered again. Deleted records are
// not listed by Pipedrive and so not read; a webhook announces them.
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
	maxLimit := 500
	if o.kind == "deals" {
		maxLimit = 100 // one deal products call per page
	}
	if limit <= 0 || limit > maxLimit {
		limit = maxLimit
	}
	if !cur.Sweep {
		pos := cur.Since - int64(c.cfg.overlap/time.Second)
		if cur.Since == 0 {
			pos = 0
		}
		cur = cursor{Since: cur.Since, Sweep: true, Pos: max(0, pos), Max: cur.Since}
	}
	p := pipedrivehttp.ListParams{Cursor: cur.Page, Limit: limit, SortBy: "update_time", SortDirection: "asc"}
	if cur.Pos > 0 {
		p.UpdatedSince = time.Unix(cur.Pos, 0)
	}
	pg, err := c.api.List(ctx, o.kind, p)
	if err != nil {
		return connector.ReadResult{}, fmt.Errorf("read %s: %w", req.Entity, c.callErr(err))
	}
	recs, err := c.records(ctx, o, pg.Items)
	if err != nil {
		return connector.ReadResult{}, fmt.Errorf("read %s: %w", req.Entity, err)
	}
	for _, r := range recs {
		cur.Max = max(cur.Max, r.UpdatedAt.Unix())
	}
	if pg.Next != "" {
		cur.Page = pg.Next
		return connector.ReadResult{Records: recs, Next: cur.String()}, nil
	}
	next := cursor{Since: cur.Max}
	return connector.ReadResult{Records: recs, Next: next.String(), Done: true}, nil
}
