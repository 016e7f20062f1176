package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/store"
)

// BatchSize is the number of records per transaction in BenchInsertBatch.
const BatchSize = 1000

// BenchInsertBatch measures the engine's write path: per iteration one
// transaction with InsertEvents, PutLinks and PutFingerprints for BatchSize new
// records. It reports records/s. With lookups set, each iteration first reads
// GetLinks and GetFingerprints for the batch, as the engine does.
func BenchInsertBatch(b *testing.B, s store.Store, lookups bool) {
	ctx := b.Context()
	snapshot := []byte(`{"entity":"contact","id":"h000000","fields":{"email":"ada@example.com",` +
		`"first_name":"Ada","last_name":"Lovelace","phone":"+44 20 7946 0000","company":"Analytical Engines Ltd",` +
		`"lifecycle":"customer","updated_at":"2025-03-14T15:09:26.535Z"}}`)
	plan := []byte(`{"create":true,"set":{"email":"ada@example.com","name":"Ada Lovelace"}}`)
	events := make([]store.Event, BatchSize)
	links := make([]store.Link, BatchSize)
	fps := make([]store.Fingerprint, BatchSize)
	ids := make([]string, BatchSize)
	start := time.Now().UTC()

	b.ResetTimer()
	for n := range b.N {
		for i := range BatchSize {
			id := fmt.Sprintf("h%d-%d", n, i)
			ids[i] = id
			events[i] = store.Event{Flow: "contacts", Entity: model.Contact, SourceSystem: "hubspot", SourceID: id,
				TargetSystem: "tryton", TargetID: "t" + id, ConcordID: "c" + id, ConfigVersion: "v1",
				Snapshot: snapshot, Plan: plan, Outcome: store.OutcomeCreated, Attempt: 1,
				StartedAt: start, Duration: time.Millisecond}
			links[i] = store.Link{Entity: model.Contact, ConcordID: "c" + id, System: "tryton", ExternalID: "t" + id}
			fps[i] = store.Fingerprint{Flow: "contacts", System: "hubspot", Entity: model.Contact, ExternalID: id,
				Hash: "6f1ed002ab5595859014ebf0951522d9", Version: "2025-03-14T15:09:26.535Z"}
		}
		err := s.InTx(ctx, func(tx store.Tx) error {
			if lookups {
				if _, err := tx.GetLinks(ctx, &store.GetLinksParams{System: "tryton", Entity: model.Contact, ExternalIDs: ids}); err != nil {
					return err
				}
				if _, err := tx.GetFingerprints(ctx, &store.GetFingerprintsParams{Flow: "contacts", System: "hubspot",
					Entity: model.Contact, ExternalIDs: ids}); err != nil {
					return err
				}
			}
			if _, err := tx.InsertEvents(ctx, events); err != nil {
				return err
			}
			if err := tx.PutLinks(ctx, &store.PutLinksParams{Links: links}); err != nil {
				return err
			}
			return tx.PutFingerprints(ctx, fps)
		})
		require.NoError(b, err)
	}
	b.ReportMetric(float64(b.N*BatchSize)/b.Elapsed().Seconds(), "records/s")
}
