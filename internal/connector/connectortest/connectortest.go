package connectortest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/model"
)

// Features are the optional behaviours a connector claims. The subtests of
// unclaimed features are skipped.
type Features struct {
	// PartialFailure: the system refuses Harness.Invalid fields per record while
	// the rest of the batch lands.
	PartialFailure bool
	// OptimisticConcurrency: an update whose Op.Version is not the record's
	// current version is refused with an error wrapping connector.ErrConflict.
	OptimisticConcurrency bool
	// Archive: the connector implements connector.Archiver.
	Archive bool
}

// Harness tells Run how to exercise one connector on one entity.
type Harness struct {
	// Open returns a fresh, empty system. Run calls it from parallel subtests, so
	// each call must be independent (own tables, own schema). Run closes it.
	Open func(t *testing.T) connector.Connector
	// Entity is the canonical entity the suite writes.
	Entity model.Entity
	// NewFields returns valid fields for a create, unique per i.
	NewFields func(i int) model.Fields
	// Change returns a valid modification of f: at least one field differs and at
	// least one is left as it was.
	Change func(f model.Fields) model.Fields
	// Invalid returns fields the system refuses; nil when PartialFailure is not
	// claimed.
	Invalid func() model.Fields
	// AbsentID is an id no record has, in a form the system accepts; "999999999"
	// when empty.
	AbsentID string
	// Features are the claimed optional features.
	Features Features
}

// Run runs the conformance suite against h. Subtests run in parallel.
func Run(t *testing.T, h Harness) {
	t.Helper()
	require.NotNil(t, h.Open, "harness needs Open")
	require.NotNil(t, h.NewFields, "harness needs NewFields")
	require.NotNil(t, h.Change, "harness needs Change")
	require.NotEmpty(t, h.Entity, "harness needs Entity")
	if h.AbsentID == "" {
		h.AbsentID = "999999999"
	}
	s := &suite{h: h}
	t.Run("Entities", s.testEntities)
	t.Run("CreateBatch", s.testCreateBatch)
	t.Run("Read", s.testRead)
	t.Run("ReadAfterUpdate", s.testReadAfterUpdate)
	t.Run("Lookup", s.testLookup)
	t.Run("UpdateOnlyGivenFields", s.testUpdateOnlyGivenFields)
	t.Run("PartialFailure", s.testPartialFailure)
	t.Run("OptimisticConcurrency", s.testOptimisticConcurrency)
	t.Run("Archive", s.testArchive)
	t.Run("CloseTwice", s.testCloseTwice)
	t.Run("ConcurrentWrites", s.testConcurrentWrites)
}

type suite struct{ h Harness }

// maxPages bounds every paging loop so a connector that never says Done fails
// instead of hanging.
const maxPages = 1000

func (s *suite) open(t *testing.T) connector.Connector {
	t.Helper()
	c := s.h.Open(t)
	require.NotNil(t, c)
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

func linkKey(i int) string { return fmt.Sprintf("lk-%d", i) }

// create writes n records (i from first) in one batch and returns their ids.
func (s *suite) create(t *testing.T, c connector.Connector, first, n int) []string {
	t.Helper()
	ops := make([]connector.Op, n)
	for j := range n {
		ops[j] = connector.Op{Kind: connector.OpCreate, LinkKey: linkKey(first + j), Fields: s.h.NewFields(first + j)}
	}
	res, err := c.Write(context.Background(), s.h.Entity, ops)
	require.NoError(t, err)
	require.Len(t, res, n, "one result per op")
	ids := make([]string, n)
	for j, r := range res {
		require.NoError(t, r.Err, "create %d", first+j)
		require.NotEmpty(t, r.ID, "create %d returned no id", first+j)
		ids[j] = r.ID
	}
	return ids
}

// requireFields checks that got holds want's values for want's fields.
func requireFields(t *testing.T, want, got model.Fields, msgAndArgs ...any) {
	t.Helper()
	only := got.Only(want.Names())
	require.True(t, want.Equal(only), "%s\nwant: %s\ngot:  %s", fmt.Sprint(msgAndArgs...), want, only)
}

// delivery is one record as Read returned it.
type delivery struct {
	rec  model.Record
	page int
}

// readAll reads from cursor until Done with the given limit and returns every
// record delivered, in order, and the final cursor.
func readAll(t *testing.T, c connector.Connector, entity model.Entity, cursor string, limit int) ([]delivery, string) {
	t.Helper()
	var out []delivery
	for page := range maxPages {
		res, err := c.Read(context.Background(), connector.ReadRequest{Entity: entity, Cursor: cursor, Limit: limit})
		require.NoError(t, err)
		if limit > 0 {
			require.LessOrEqual(t, len(res.Records), limit, "page %d exceeds the limit", page)
		}
		for _, r := range res.Records {
			out = append(out, delivery{rec: r, page: page})
		}
		if res.Done {
			return out, res.Next
		}
		require.NotEmpty(t, res.Records, "page %d: not done but returned nothing", page)
		cursor = res.Next
	}
	require.FailNow(t, "read never reported Done", "after %d pages", maxPages)
	return nil, ""
}

// latest folds deliveries into the latest delivery per id, failing when an id is
// re-delivered with an older version than one already seen.
func latest(t *testing.T, ds []delivery) map[string]model.Record {
	t.Helper()
	out := map[string]model.Record{}
	for _, d := range ds {
		prev, ok := out[d.rec.ID]
		if ok {
			require.False(t, d.rec.UpdatedAt.Before(prev.UpdatedAt),
				"record %s re-delivered older (%s) than before (%s)", d.rec.ID, d.rec.UpdatedAt, prev.UpdatedAt)
		}
		out[d.rec.ID] = d.rec
	}
	return out
}

func (s *suite) testEntities(t *testing.T) {
	t.Parallel()
	c := s.open(t)
	infos := c.Entities()
	i := slices.IndexFunc(infos, func(e connector.EntityInfo) bool { return e.Entity == s.h.Entity })
	require.GreaterOrEqual(t, i, 0, "Entities does not list %s", s.h.Entity)
	for _, name := range s.h.NewFields(0).Names() {
		require.Contains(t, infos[i].Fields, name, "written field not listed in Entities")
	}
}

func (s *suite) testCreateBatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := s.open(t)
	const n = 5
	ids := s.create(t, c, 0, n)
	distinct := map[string]bool{}
	for _, id := range ids {
		distinct[id] = true
	}
	require.Len(t, distinct, n, "ids must be distinct: %v", ids)

	got, err := c.Get(ctx, s.h.Entity, append(slices.Clone(ids), s.h.AbsentID))
	require.NoError(t, err)
	require.Len(t, got, n, "absent ids must be absent")
	for i, id := range ids {
		r, ok := got[id]
		require.True(t, ok, "Get misses %s", id)
		require.Equal(t, id, r.ID)
		require.Equal(t, s.h.Entity, r.Entity)
		requireFields(t, s.h.NewFields(i), r.Fields, "record ", i)
	}

	none, err := c.Get(ctx, s.h.Entity, []string{s.h.AbsentID})
	require.NoError(t, err)
	require.Empty(t, none)
}

func (s *suite) testRead(t *testing.T) {
	t.Parallel()
	c := s.open(t)
	const n = 5
	ids := s.create(t, c, 0, n)

	t.Run("All", func(t *testing.T) {
		ds, _ := readAll(t, c, s.h.Entity, "", 0)
		recs := latest(t, ds)
		require.Len(t, recs, n)
		for i, id := range ids {
			r, ok := recs[id]
			require.True(t, ok, "Read misses %s", id)
			require.Equal(t, linkKey(i), r.LinkKey, "Read must return the link key")
			require.False(t, r.UpdatedAt.IsZero(), "Read must set UpdatedAt")
			requireFields(t, s.h.NewFields(i), r.Fields, "record ", i)
		}
	})

	t.Run("Paged", func(t *testing.T) {
		ds, cursor := readAll(t, c, s.h.Entity, "", 2)
		seen := map[string]model.Record{}
		for _, d := range ds {
			if prev, ok := seen[d.rec.ID]; ok {
				// Overlap windows may re-deliver, but only the same version.
				require.True(t, prev.UpdatedAt.Equal(d.rec.UpdatedAt) && prev.Version == d.rec.Version,
					"record %s delivered twice with different versions", d.rec.ID)
			}
			seen[d.rec.ID] = d.rec
		}
		require.Len(t, seen, n)
		for _, id := range ids {
			require.Contains(t, seen, id)
		}

		// Reading again from the final cursor terminates and brings nothing new.
		again, _ := readAll(t, c, s.h.Entity, cursor, 2)
		for _, d := range again {
			prev, ok := seen[d.rec.ID]
			require.True(t, ok, "unexpected record %s", d.rec.ID)
			require.True(t, prev.UpdatedAt.Equal(d.rec.UpdatedAt), "record %s changed without a write", d.rec.ID)
		}
	})
}

func (s *suite) testReadAfterUpdate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := s.open(t)
	ids := s.create(t, c, 0, 3)
	ds, cursor := readAll(t, c, s.h.Entity, "", 0)
	before := latest(t, ds)[ids[1]]

	changed := s.h.Change(s.h.NewFields(1))
	res, err := c.Write(ctx, s.h.Entity, []connector.Op{{Kind: connector.OpUpdate, ID: ids[1], Fields: changed}})
	require.NoError(t, err)
	require.Len(t, res, 1)
	require.NoError(t, res[0].Err)
	require.Equal(t, ids[1], res[0].ID)

	ds, _ = readAll(t, c, s.h.Entity, cursor, 0)
	recs := latest(t, ds)
	r, ok := recs[ids[1]]
	require.True(t, ok, "Read from the last cursor misses the updated record")
	requireFields(t, changed, r.Fields)
	require.False(t, r.UpdatedAt.Before(before.UpdatedAt), "UpdatedAt went back: %s < %s", r.UpdatedAt, before.UpdatedAt)
	require.Equal(t, linkKey(1), r.LinkKey, "update must keep the link key")
}

func (s *suite) testLookup(t *testing.T) {
	t.Parallel()
	c := s.open(t)
	ids := s.create(t, c, 0, 3)
	keys := []string{linkKey(0), linkKey(1), linkKey(2), "no-such-link-key"}
	got, err := c.Lookup(context.Background(), s.h.Entity, keys)
	require.NoError(t, err)
	require.Len(t, got, 3)
	for i, id := range ids {
		r, ok := got[linkKey(i)]
		require.True(t, ok, "Lookup misses %s", linkKey(i))
		require.Equal(t, id, r.ID)
		require.Equal(t, linkKey(i), r.LinkKey)
		requireFields(t, s.h.NewFields(i), r.Fields)
	}
	none, err := c.Lookup(context.Background(), s.h.Entity, []string{"no-such-link-key"})
	require.NoError(t, err)
	require.Empty(t, none)
}

func (s *suite) testUpdateOnlyGivenFields(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := s.open(t)
	ids := s.create(t, c, 0, 2)
	orig := s.h.NewFields(0)
	changed := s.h.Change(orig)
	diff := model.Fields{}
	for name, v := range changed {
		if !v.Equal(orig[name]) {
			diff[name] = v
		}
	}
	require.NotEmpty(t, diff, "Harness.Change must change a field")
	require.Less(t, len(diff), len(orig), "Harness.Change must leave a field unchanged")

	res, err := c.Write(ctx, s.h.Entity, []connector.Op{{Kind: connector.OpUpdate, ID: ids[0], Fields: diff}})
	require.NoError(t, err)
	require.Len(t, res, 1)
	require.NoError(t, res[0].Err)

	want := model.Fields{}
	for name, v := range orig {
		want[name] = v
	}
	for name, v := range diff {
		want[name] = v
	}
	got, err := c.Get(ctx, s.h.Entity, ids)
	require.NoError(t, err)
	requireFields(t, want, got[ids[0]].Fields, "updated record")
	requireFields(t, s.h.NewFields(1), got[ids[1]].Fields, "untouched record")
}

func (s *suite) testPartialFailure(t *testing.T) {
	t.Parallel()
	if !s.h.Features.PartialFailure {
		t.Skip("feature PartialFailure not claimed")
	}
	require.NotNil(t, s.h.Invalid, "PartialFailure needs Harness.Invalid")
	ctx := context.Background()
	c := s.open(t)
	invalid := s.h.Invalid()
	ops := []connector.Op{
		{Kind: connector.OpCreate, LinkKey: linkKey(0), Fields: s.h.NewFields(0)},
		{Kind: connector.OpCreate, LinkKey: linkKey(1), Fields: invalid},
		{Kind: connector.OpCreate, LinkKey: linkKey(2), Fields: s.h.NewFields(2)},
	}
	res, err := c.Write(ctx, s.h.Entity, ops)
	require.NoError(t, err, "a refused record is not a whole-call failure")
	require.Len(t, res, 3)
	require.NoError(t, res[0].Err)
	require.NoError(t, res[2].Err)
	require.Error(t, res[1].Err)
	require.True(t, connector.IsPermanent(res[1].Err), "refusal must be permanent: %v", res[1].Err)
	var perr *connector.PermanentError
	require.True(t, errors.As(res[1].Err, &perr))
	if perr.Field != "" {
		require.Contains(t, invalid, perr.Field, "error names a field the op did not write")
	} else {
		t.Logf("refusal does not name the field: %v", res[1].Err)
	}

	got, err := c.Get(ctx, s.h.Entity, []string{res[0].ID, res[2].ID})
	require.NoError(t, err)
	require.Len(t, got, 2, "the valid records must land")
	requireFields(t, s.h.NewFields(0), got[res[0].ID].Fields)
	requireFields(t, s.h.NewFields(2), got[res[2].ID].Fields)
	found, err := c.Lookup(ctx, s.h.Entity, []string{linkKey(1)})
	require.NoError(t, err)
	require.Empty(t, found, "the refused record must not land")
}

func (s *suite) testOptimisticConcurrency(t *testing.T) {
	t.Parallel()
	if !s.h.Features.OptimisticConcurrency {
		t.Skip("feature OptimisticConcurrency not claimed")
	}
	ctx := context.Background()
	c := s.open(t)
	ops := []connector.Op{{Kind: connector.OpCreate, LinkKey: linkKey(0), Fields: s.h.NewFields(0)}}
	res, err := c.Write(ctx, s.h.Entity, ops)
	require.NoError(t, err)
	require.NoError(t, res[0].Err)
	require.NotEmpty(t, res[0].Version, "optimistic concurrency needs a version")
	id, version := res[0].ID, res[0].Version

	// Someone else changes the record.
	res, err = c.Write(ctx, s.h.Entity, []connector.Op{{Kind: connector.OpUpdate, ID: id, Version: version, Fields: s.h.Change(s.h.NewFields(0))}})
	require.NoError(t, err)
	require.NoError(t, res[0].Err)
	require.NotEqual(t, version, res[0].Version, "a write must change the version")

	// A write planned against the old version is refused.
	res, err = c.Write(ctx, s.h.Entity, []connector.Op{{Kind: connector.OpUpdate, ID: id, Version: version, Fields: s.h.NewFields(0)}})
	require.NoError(t, err)
	require.ErrorIs(t, res[0].Err, connector.ErrConflict)
	got, err := c.Get(ctx, s.h.Entity, []string{id})
	require.NoError(t, err)
	requireFields(t, s.h.Change(s.h.NewFields(0)), got[id].Fields, "conflicting write must not land")
}

func (s *suite) testArchive(t *testing.T) {
	t.Parallel()
	if !s.h.Features.Archive {
		t.Skip("feature Archive not claimed")
	}
	ctx := context.Background()
	c := s.open(t)
	a, ok := c.(connector.Archiver)
	require.True(t, ok, "Archive claimed but connector.Archiver not implemented")
	ids := s.create(t, c, 0, 2)
	_, cursor := readAll(t, c, s.h.Entity, "", 0)

	res, err := a.Archive(ctx, s.h.Entity, ids[:1])
	require.NoError(t, err)
	require.Len(t, res, 1)
	require.NoError(t, res[0].Err)

	got, err := c.Get(ctx, s.h.Entity, ids)
	require.NoError(t, err)
	require.True(t, got[ids[0]].Archived, "archived record must say so")
	require.False(t, got[ids[1]].Archived)

	ds, _ := readAll(t, c, s.h.Entity, cursor, 0)
	r, ok := latest(t, ds)[ids[0]]
	require.True(t, ok, "an archive is a change Read must return")
	require.True(t, r.Archived)
}

func (s *suite) testCloseTwice(t *testing.T) {
	t.Parallel()
	c := s.h.Open(t)
	require.NoError(t, c.Close(context.Background()))
	require.NoError(t, c.Close(context.Background()))
}

func (s *suite) testConcurrentWrites(t *testing.T) {
	t.Parallel()
	c := s.open(t)
	const workers, batches, per = 4, 3, 3
	var wg sync.WaitGroup
	errs := make(chan error, workers*batches*per)
	ids := make(chan string, workers*batches*per)
	for w := range workers {
		wg.Go(func() {
			for b := range batches {
				ops := make([]connector.Op, per)
				for j := range per {
					i := w*100 + b*10 + j
					ops[j] = connector.Op{Kind: connector.OpCreate, LinkKey: linkKey(i), Fields: s.h.NewFields(i)}
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				res, err := c.Write(ctx, s.h.Entity, ops)
				cancel()
				if err != nil {
					errs <- err
					continue
				}
				for _, r := range res {
					if r.Err != nil {
						errs <- r.Err
						continue
					}
					ids <- r.ID
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	close(ids)
	for err := range errs {
		require.NoError(t, err)
	}
	distinct := map[string]bool{}
	for id := range ids {
		distinct[id] = true
	}
	require.Len(t, distinct, workers*batches*per)

	var keys []string
	for w := range workers {
		for b := range batches {
			for j := range per {
				keys = append(keys, linkKey(w*100+b*10+j))
			}
		}
	}
	got, err := c.Lookup(context.Background(), s.h.Entity, keys)
	require.NoError(t, err)
	require.Len(t, got, len(keys), "every concurrent write must land")
	ds, _ := readAll(t, c, s.h.Entity, "", 7)
	require.Len(t, latest(t, ds), len(keys))
}
