package store_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/syncloop/syncloop/connectors"
	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/store"
)

// BenchmarkProcessBatch measures ProcessBatch alone (staging is not timed)
// over 10,000 staged records in batches of 2,000, the activity's default,
// and reports records/s. Run with
//
//	go test ./store/ -run '^$' -bench ProcessBatch -benchtime 5x
func BenchmarkProcessBatch(b *testing.B) {
	const records, batch, pageSize = 10_000, 2_000, 500

	cases := []struct {
		name string
		// version returns the payload version of iteration i; -1 makes
		// every iteration insert (records are emptied before it).
		version func(i int) int
		want    func(r store.BatchResult) bool
	}{
		{"new", func(int) int { return -1 }, func(r store.BatchResult) bool { return r.New == records }},
		{"changed", func(i int) int { return i + 1 }, func(r store.BatchResult) bool { return r.Changed == records }},
		{"unchanged", func(int) int { return 0 }, func(r store.BatchResult) bool { return r.Unchanged == records }},
	}
	for ci, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			s, ctx := newStore(b)
			o := addObject(b, s, fmt.Sprintf("bench%d", ci))
			pages := func(version int) [][]connectors.Record {
				out := make([][]connectors.Record, 0, records/pageSize)
				for p := 0; p < records/pageSize; p++ {
					page := make([]connectors.Record, pageSize)
					for j := range page {
						n := p*pageSize + j
						page[j] = connectors.Record{
							ExternalID: fmt.Sprintf("rec-%06d", n),
							ModifiedAt: t0.Add(time.Duration(n) * time.Second),
							Data: []byte(fmt.Sprintf(`{"id":"rec-%06d","name":"Record %d","version":%d,"tags":["a","b"],"owner":{"id":%d}}`,
								n, n, max(version, 0), n%97)),
						}
					}
					out = append(out, page)
				}
				return out
			}
			// Existing rows for the changed and unchanged cases.
			syncCycle(b, s, o.Key, "seed", pages(0)[0]...) // warm up the statements
			if bc.version(0) >= 0 {
				c := startCycle(b, s, o.Key, "seed-all")
				stagePages(b, s, c.CycleID, pages(0)...)
				processAll(b, s, c.CycleID, batch, nil)
				finish(b, s, c.CycleID, model.StatusCompleted)
			}

			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				v := bc.version(i)
				if v < 0 {
					if _, err := s.Pool.Exec(ctx, `DELETE FROM records WHERE object_id = $1`, o.ID); err != nil {
						b.Fatal(err)
					}
				}
				c := startCycle(b, s, o.Key, fmt.Sprintf("bench-%d", i))
				stagePages(b, s, c.CycleID, pages(v)...)
				cursor := t0.Add(records * time.Second)
				b.StartTimer()

				r := processAll(b, s, c.CycleID, batch, &cursor)

				b.StopTimer()
				if r.Staged != records || !bc.want(r) || !r.CursorMoved {
					b.Fatalf("iteration %d: %+v", i, r)
				}
				finish(b, s, c.CycleID, model.StatusCompleted)
				b.StartTimer()
			}
			b.ReportMetric(float64(records*b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
