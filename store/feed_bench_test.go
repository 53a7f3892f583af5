package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/syncloop/syncloop/connectors"
	"github.com/syncloop/syncloop/internal/testenv"
	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/store"
)

// BenchmarkApplyChanges measures the upsert path, which the change feed
// touches most (change_xid is set again on every real change, and the feed
// index is updated with it): 50,000 records loaded by a first full sync,
// then an incremental cycle in which every record changed, then one in
// which none did (pages of 1000, 5 per transaction, as in
// BenchmarkApplyVsCopy).
func BenchmarkApplyChanges(b *testing.B) {
	ctx := context.Background()
	const n, pageSize, perTx = 50000, 1000, 5
	now := time.Now().UTC().Truncate(time.Microsecond)
	version := func(v int) []connectors.Record {
		recs := make([]connectors.Record, n)
		for i := range recs {
			id := fmt.Sprintf("acc_%07d", i)
			recs[i] = connectors.Record{ExternalID: id, ModifiedAt: now.Add(time.Duration(v) * time.Minute),
				Data: fmt.Appendf(nil, `{"id":%q,"name":"Company %d","industry":"Software","employees":%d,"website":"https://example%d.com","version":%d,"owner_id":"usr_%03d","notes":"lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor"}`, id, i, i%5000, i, v, i%100)}
		}
		return recs
	}
	v1, v2 := version(1), version(2)
	apply := func(s *store.Store, k model.ObjectKey, cycleKey string, recs []connectors.Record) time.Duration {
		c, err := s.StartCycle(ctx, store.StartCycleParams{Object: k, Key: cycleKey, Trigger: model.TriggerManual})
		if err != nil {
			b.Fatal(err)
		}
		took := applyInPages(ctx, b, s, c.CycleID, recs, pageSize, perTx, now)
		if _, err := s.FinishCycle(ctx, store.FinishCycleParams{CycleID: c.CycleID, Status: model.StatusCompleted}); err != nil {
			b.Fatal(err)
		}
		return took
	}
	for i := 0; i < b.N; i++ {
		s, drop, err := testenv.NewSchemaStore(ctx)
		if err != nil {
			b.Fatal(err)
		}
		k := model.ObjectKey{Tenant: "b", Provider: "demo", ObjectType: "accounts"}
		if _, _, err := s.AddObject(ctx, store.NewObject{Key: k, Interval: time.Hour}); err != nil {
			b.Fatal(err)
		}
		fresh := apply(s, k, "k1", v1)
		changed := apply(s, k, "k2", v2)
		unchanged := apply(s, k, "k3", v2)
		b.ReportMetric(float64(n)/fresh.Seconds(), "fresh-rec/s")
		b.ReportMetric(float64(n)/changed.Seconds(), "changed-rec/s")
		b.ReportMetric(float64(n)/unchanged.Seconds(), "unchanged-rec/s")
		drop()
	}
}
