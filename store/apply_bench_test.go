package store_test

import (
	"context"
	"crypto/md5"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/syncloop/syncloop/connectors"
	"github.com/syncloop/syncloop/internal/testenv"
	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/store"
)

// BenchmarkApplyVsCopy applies 100,000 records with ApplyPages (pages of
// 1000, 5 per transaction) and, side by side, COPYs the same rows into a
// table shaped like records: the ratio is the pipeline's database share
// of the ceiling.
func BenchmarkApplyVsCopy(b *testing.B) {
	ctx := context.Background()
	const n, pageSize, perTx = 100000, 1000, 5
	recs := make([]connectors.Record, n)
	now := time.Now().UTC().Truncate(time.Microsecond)
	for i := range recs {
		id := fmt.Sprintf("acc_%07d", i)
		recs[i] = connectors.Record{ExternalID: id, ModifiedAt: now,
			Data: []byte(fmt.Sprintf(`{"id":%q,"name":"Company %d","industry":"Software","employees":%d,"website":"https://example%d.com","modified_at":%q,"owner_id":"usr_%03d","notes":"lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor"}`, id, i, i%5000, i, now.Format(time.RFC3339Nano), i%100))}
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
		c, err := s.StartCycle(ctx, store.StartCycleParams{Object: k, Key: "k", Trigger: model.TriggerManual})
		if err != nil {
			b.Fatal(err)
		}
		apply := applyInPages(ctx, b, s, c.CycleID, recs, pageSize, perTx, now)
		if _, err := s.Pool.Exec(ctx, `CREATE TABLE bench_copy (LIKE records INCLUDING DEFAULTS INCLUDING INDEXES)`); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if _, err := s.Pool.CopyFrom(ctx, pgx.Identifier{"bench_copy"}, []string{"object_id", "external_id", "data", "hash", "modified_at", "cycle_seq"},
			pgx.CopyFromSlice(n, func(i int) ([]any, error) {
				h := md5.Sum(recs[i].Data)
				return []any{int64(1), recs[i].ExternalID, []byte(recs[i].Data), h[:], now, 1}, nil
			})); err != nil {
			b.Fatal(err)
		}
		cp := time.Since(start)
		b.ReportMetric(float64(n)/apply.Seconds(), "apply-rec/s")
		b.ReportMetric(float64(n)/cp.Seconds(), "copy-rec/s")
		b.ReportMetric(cp.Seconds()/apply.Seconds(), "apply/copy")
		drop()
	}
}

// applyInPages applies recs to a cycle as a listing would, pages of
// pageSize records, perTx pages a transaction, and returns how long it
// took.
func applyInPages(ctx context.Context, b *testing.B, s *store.Store, cycleID int64, recs []connectors.Record, pageSize, perTx int, cursor time.Time) time.Duration {
	b.Helper()
	n := len(recs)
	start := time.Now()
	pages := 0
	for off := 0; off < n; off += pageSize * perTx {
		var batch []connectors.Page
		for p := off; p < min(off+pageSize*perTx, n); p += pageSize {
			next := "more"
			if p+pageSize >= n {
				next = ""
			}
			batch = append(batch, connectors.Page{Records: recs[p:min(p+pageSize, n)], NextPageToken: next, Cursor: cursor})
		}
		if _, err := s.ApplyPages(ctx, cycleID, pages, batch); err != nil {
			b.Fatal(err)
		}
		pages += len(batch)
	}
	return time.Since(start)
}
