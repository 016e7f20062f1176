package bench

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/shopspring/decimal"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/model"
)

// streamSource is a source of n accounts that holds nothing per record: the
// record at index i is generated from i when it is read, the cursor is the
// next index, and Get regenerates from the id. So the memory a run uses is
// the engine's, the store's and the queue's, not the test systems'.
type streamSource struct {
	n     int
	stamp time.Time
}

var _ connector.Connector = (*streamSource)(nil)

func newStreamSource(n int) *streamSource {
	return &streamSource{n: n, stamp: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

// record returns the i-th account, equal to records(n)[i].
func (s *streamSource) record(i int) model.Record {
	r := account(i)
	r.Version = "v1"
	r.UpdatedAt = s.stamp
	return r
}

func account(i int) model.Record {
	return model.Record{Entity: model.Account, ID: "c" + strconv.Itoa(i), Fields: model.Fields{
		"name":         model.Text(fmt.Sprintf("Company %d GmbH", i)),
		"email":        model.Text(fmt.Sprintf("buyer%d@example.com", i)),
		"phone":        model.Text(fmt.Sprintf("+4930%07d", i)),
		"city":         model.Text("Berlin"),
		"country":      model.Text("DE"),
		"credit_limit": model.Money(decimal.New(int64(i%1000)*100, 0), "EUR"),
	}}
}

func (s *streamSource) Entities() []connector.EntityInfo {
	return []connector.EntityInfo{{Entity: model.Account, Fields: benchFields}}
}

func (s *streamSource) Read(_ context.Context, req connector.ReadRequest) (connector.ReadResult, error) {
	from := 0
	if req.Cursor != "" {
		n, err := strconv.Atoi(req.Cursor)
		if err != nil {
			return connector.ReadResult{}, connector.Permanent("", fmt.Errorf("bench source: bad cursor %q", req.Cursor))
		}
		from = n
	}
	limit := req.Limit
	if limit <= 0 {
		limit = 1000
	}
	to := min(from+limit, s.n)
	out := make([]model.Record, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, s.record(i))
	}
	return connector.ReadResult{Records: out, Next: strconv.Itoa(to), Done: to >= s.n}, nil
}

func (s *streamSource) Get(_ context.Context, _ model.Entity, ids []string) (map[string]model.Record, error) {
	out := make(map[string]model.Record, len(ids))
	for _, id := range ids {
		if len(id) < 2 || id[0] != 'c' {
			continue
		}
		i, err := strconv.Atoi(id[1:])
		if err != nil || i < 0 || i >= s.n {
			continue
		}
		out[id] = s.record(i)
	}
	return out, nil
}

func (s *streamSource) Lookup(context.Context, model.Entity, []string) (map[string]model.Record, error) {
	return map[string]model.Record{}, nil
}

func (s *streamSource) Write(context.Context, model.Entity, []connector.Op) ([]connector.Result, error) {
	return nil, fmt.Errorf("bench source is read-only: %w", connector.ErrUnsupported)
}

func (s *streamSource) Close(context.Context) error { return nil }

// countingSink accepts every write and keeps only counts: a create gets the
// id "m" + the source id (link key), as the memory system would give it.
// Reads and lookups find nothing, so the engine creates each record once.
type countingSink struct {
	creates, updates atomic.Int64
	// onWrite, when set, is told the number of records written so far.
	onWrite func(total int64)
}

var _ connector.Connector = (*countingSink)(nil)

func (s *countingSink) Entities() []connector.EntityInfo {
	return []connector.EntityInfo{{Entity: model.Account, Fields: benchFields}}
}

func (s *countingSink) Read(context.Context, connector.ReadRequest) (connector.ReadResult, error) {
	return connector.ReadResult{Done: true}, nil
}

func (s *countingSink) Get(context.Context, model.Entity, []string) (map[string]model.Record, error) {
	return map[string]model.Record{}, nil
}

func (s *countingSink) Lookup(context.Context, model.Entity, []string) (map[string]model.Record, error) {
	return map[string]model.Record{}, nil
}

func (s *countingSink) Write(_ context.Context, _ model.Entity, ops []connector.Op) ([]connector.Result, error) {
	res := make([]connector.Result, len(ops))
	var created, updated int64
	for i, op := range ops {
		switch op.Kind {
		case connector.OpCreate:
			id := op.LinkKey
			if id == "" {
				id = strconv.FormatInt(s.creates.Load()+created, 10)
			}
			res[i] = connector.Result{ID: "m" + id, Version: "v1"}
			created++
		default:
			res[i] = connector.Result{ID: op.ID, Version: "v1"}
			updated++
		}
	}
	total := s.creates.Add(created) + s.updates.Add(updated)
	if s.onWrite != nil {
		s.onWrite(total)
	}
	return res, nil
}

func (s *countingSink) Close(context.Context) error { return nil }

// written is the number of records the sink accepted.
func (s *countingSink) written() int64 { return s.creates.Load() + s.updates.Load() }
