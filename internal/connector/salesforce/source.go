package salesforce

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/salesforce/sfhttp"
)

// cursor is the position of Read. A poll is a sweep over queryAll by keyset
// on (SystemModstamp, Id), from the high-water mark of the last finished
// sweep minus the overlap.
type cursor struct {
	// Since is the newest SystemModstamp a finished sweep delivered (epoch ms).
	Since int64 `json:"s,omitempty"`
	// Sweep is true while a sweep runs: the next page starts after the record
	// (Pos, PosID), and Max is the newest SystemModstamp it delivered.
	Sweep bool   `json:"w,omitempty"`
	Pos   int64  `json:"p,omitempty"`
	PosID string `json:"i,omitempty"`
	Max   int64  `json:"m,omitempty"`
}

const cursorPrefix = "sf1:"

func decodeCursor(s string) (cursor, error) {
	var c cursor
	if s == "" {
		return c, nil
	}
	rest, ok := strings.CutPrefix(s, cursorPrefix)
	if !ok {
		return c, connector.Permanent("", fmt.Errorf("cursor %q is not a salesforce cursor", s))
	}
	if err := json.Unmarshal([]byte(rest), &c); err != nil {
		return c, connector.Permanent("", fmt.Errorf("decode cursor: %w", err))
	}
	return c, nil
}

func (c cursor) String() string {
	b, _ := json.Marshal(c) // a struct of plain fields always marshals
	return cursorPrefix + string(b)
}

// maxPage is the most records one Read returns (a query's largest batch).
const maxPage = 2000

// Read implements connector.Connector. It returns the records changed since
// the cursor, oldest first, re-delivering those of the overlap window.
// Records in the recycle bin come with Archived set.
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
	if limit <= 0 || limit > maxPage {
		limit = maxPage
	}
	if !cur.Sweep {
		cur = cursor{Since: cur.Since, Sweep: true, Pos: max(0, cur.Since-c.cfg.overlap.Milliseconds()), Max: cur.Since}
	}
	soql := "SELECT " + strings.Join(o.selectFields(c.noLink[o.entity] == ""), ", ") + " FROM " + o.name
	at := soqlTime(time.UnixMilli(cur.Pos))
	switch {
	case cur.PosID != "":
		soql += fmt.Sprintf(" WHERE (SystemModstamp > %s OR (SystemModstamp = %s AND Id > %s))", at, at, sfhttp.Quote(cur.PosID))
	case cur.Pos > 0:
		soql += " WHERE SystemModstamp >= " + at
	}
	soql += fmt.Sprintf(" ORDER BY SystemModstamp ASC, Id ASC LIMIT %d", limit)
	page, err := c.api.Query(ctx, soql, true, 0)
	if err != nil {
		return connector.ReadResult{}, fmt.Errorf("read %s: %w", req.Entity, callErr(err))
	}
	for _, r := range page.Records {
		t := modstamp(r).UnixMilli()
		cur.Pos, cur.PosID, cur.Max = t, r.ID(), max(cur.Max, t)
	}
	recs, err := c.records(ctx, o, page.Records, req.Fields)
	if err != nil {
		return connector.ReadResult{}, fmt.Errorf("read %s: %w", req.Entity, err)
	}
	done := len(page.Records) < limit
	if done {
		cur = cursor{Since: cur.Max}
	}
	return connector.ReadResult{Records: recs, Next: cur.String(), Done: done}, nil
}
